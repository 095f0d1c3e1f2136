//! How commands and files reach a host. The engine talks to every host through
//! the [`Transport`] trait; `local` runs `sh -c` here, `ssh` uses one SSH
//! connection per host.

pub mod local;
pub mod ssh;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::runbook::{Host, TransportKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The most a [`Chunk`] holds: transports read output in pieces this big.
pub const MAX_CHUNK: usize = 32 * 1024;

/// A piece of a command's output as it arrived, at most [`MAX_CHUNK`] bytes.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub stream: Stream,
    pub data: Bytes,
}

#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub command: String,
    pub pty: bool,
}

/// How a command ended: its exit code, or the signal that ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: Option<i32>,
    pub signal: Option<String>,
}

impl ExitStatus {
    pub fn code(code: i32) -> Self {
        Self {
            code: Some(code),
            signal: None,
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, &self.signal) {
            (_, Some(sig)) => write!(f, "killed by {sig}"),
            (Some(c), None) => write!(f, "exit status {c}"),
            (None, None) => write!(f, "no exit status"),
        }
    }
}

/// A failure of an operation on a host that is already connected.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// The connection is gone; the outcome of what was running is unknown.
    #[error("connection to {host} lost: {reason}")]
    Lost { host: String, reason: String },
    /// The operation was cancelled before it finished.
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

/// Why a host could not be connected. Each says which host and what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "cannot reach host '{host}' at {address}: {reason}. Check the address and port in the runbook, and that sshd runs there"
    )]
    Unreachable {
        host: String,
        address: String,
        reason: String,
    },
    #[error("host key of '{host}' refused: {reason}")]
    HostKey { host: String, reason: String },
    #[error("authentication to '{host}' as '{user}' failed: {reason}")]
    Auth {
        host: String,
        user: String,
        reason: String,
    },
    #[error("host '{host}': {reason}")]
    Other { host: String, reason: String },
}

impl ConnectError {
    /// The cause in a few words, for a line that names the host already
    /// (the TUI's host line): the whole message says what to do about it.
    pub fn cause(&self) -> String {
        match self {
            ConnectError::Unreachable { reason, .. } | ConnectError::Other { reason, .. } => {
                reason.clone()
            }
            ConnectError::HostKey { .. } => "host key refused".into(),
            ConnectError::Auth { .. } => "authentication failed".into(),
        }
    }
}

pub trait AsyncIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncIo for T {}
pub type BoxedIo = Box<dyn AsyncIo>;

/// A question a transport must put to the admin while connecting.
#[derive(Debug, Clone)]
pub enum Question {
    TrustHostKey {
        host: String,
        key_type: String,
        fingerprint: String,
    },
    Passphrase {
        host: String,
        key_path: String,
    },
}

/// Answers questions for a transport; `None` means the admin declined.
#[async_trait]
pub trait Prompter: Send + Sync {
    async fn ask(&self, question: Question) -> Option<String>;
}

/// A prompter for runs nobody can answer: it declines everything.
pub struct Declining;

#[async_trait]
impl Prompter for Declining {
    async fn ask(&self, _question: Question) -> Option<String> {
        None
    }
}

/// What a transport tells of its connection after it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionChange {
    /// The connection ended by itself, for this reason; the next operation
    /// connects again.
    Lost(String),
    /// Connected again after a loss.
    Reconnected,
    /// Connecting again after a loss failed, for this reason.
    ReconnectFailed(String),
    /// The host lacks something the transport uses, and it does without, as
    /// this says (a host without SFTP). Told once.
    FallingBack(String),
}

#[async_trait]
pub trait Transport: Send + Sync {
    /// Tell `sink` of every later change of the connection. A transport
    /// whose connection cannot change (`local`) tells nothing.
    fn watch(&self, sink: mpsc::UnboundedSender<ConnectionChange>) {
        drop(sink);
    }

    /// Run `sh -c COMMAND`, sending its output as it arrives. On `cancel` the
    /// command and everything it started are ended and `Cancelled` returned.
    async fn exec(
        &self,
        request: ExecRequest,
        output: mpsc::Sender<Chunk>,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, TransportError>;

    async fn exists(&self, path: &str) -> Result<bool, TransportError>;
    async fn read_file(&self, path: &str) -> Result<Vec<u8>, TransportError>;
    /// Write through a temporary file and a rename, so readers never see half a file.
    async fn write_atomic(&self, path: &str, data: &[u8]) -> Result<(), TransportError>;
    /// Remove a file; a file that is already gone is not an error.
    async fn remove_file(&self, path: &str) -> Result<(), TransportError>;
    /// Create a directory; `Ok(false)` when it already existed (the atomic lock).
    async fn create_dir(&self, path: &str) -> Result<bool, TransportError>;
    async fn remove_dir(&self, path: &str) -> Result<(), TransportError>;
    /// A TCP connection to `host:port` as seen from the host (through it, for SSH).
    async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxedIo, TransportError>;
}

/// `~` and `~/...` on this machine: the home directory (`$HOME`). Any other
/// path, and any path while `$HOME` is unset, is taken as it is.
pub fn expand_home(path: &str) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    if path == "~" {
        if let Some(h) = home() {
            return h;
        }
    } else if let Some(rest) = path.strip_prefix("~/") {
        if let Some(h) = home() {
            return h.join(rest);
        }
    }
    PathBuf::from(path)
}

/// Connect to a host as its runbook entry says.
pub async fn connect(
    host: &Host,
    prompter: Arc<dyn Prompter>,
) -> Result<Arc<dyn Transport>, ConnectError> {
    match host.transport {
        TransportKind::Local => Ok(Arc::new(local::LocalTransport::new(&host.name))),
        TransportKind::Ssh => Ok(Arc::new(ssh::connect(host, prompter).await?)),
    }
}

/// Follow a log file on a host (`tail -n 200 -F PATH`), sending what it prints
/// to `output` until `cancel`. Works on any transport; after a lost SSH
/// connection, calling it again reconnects and restarts the tail.
pub async fn tail(
    transport: &dyn Transport,
    path: &str,
    output: mpsc::Sender<Chunk>,
    cancel: CancellationToken,
) -> Result<ExitStatus, TransportError> {
    let request = ExecRequest {
        command: ssh::tail_command(path),
        pty: false,
    };
    transport.exec(request, output, cancel).await
}
