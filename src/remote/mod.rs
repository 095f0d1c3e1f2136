//! How commands and files reach a host. The engine talks to every host through
//! the [`Transport`] trait; `local` runs `sh -c` here, `ssh` uses one SSH
//! connection per host.

pub mod local;
pub mod ssh;
pub mod sudo;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
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

/// What is written to a running command's standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdin {
    Data(Bytes),
    /// End of input: the channel's EOF, or on a pty the end-of-file character
    /// (^D) that the terminal turns into one.
    End,
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
        "cannot reach host '{host}' at {address}: {reason}. Check that address and port (the runbook's, unless it says they came from ~/.ssh/config), and that sshd runs there"
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
    /// A jump host on the way could not be connected (or refused its part).
    #[error("cannot reach host '{host}' through the jump host {hop}: {source}")]
    Hop {
        host: String,
        /// `user@host:port` of the hop that failed.
        hop: String,
        source: Box<ConnectError>,
    },
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
            ConnectError::Hop { hop, source, .. } => {
                format!("jump host {hop}: {}", source.cause())
            }
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
        /// How known_hosts names it: `name`, or `[name]:port` off port 22.
        address: String,
        key_type: String,
        fingerprint: String,
        /// The file the key is added to when trusted.
        known_hosts: String,
    },
    Passphrase {
        host: String,
        key_path: String,
    },
}

/// sudo asks for a password on a host while a step's command waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SudoQuestion {
    pub host: String,
    pub address: String,
    /// Whose password sudo wants (as sudo named it).
    pub user: String,
    /// 1 for the first try; more after sudo refused a password.
    pub attempt: u32,
}

/// The admin's answer to a [`SudoQuestion`].
#[derive(Clone)]
pub struct SudoAnswer {
    pub password: String,
    /// Use it for every host of the run that asks, not only this one.
    pub every_host: bool,
}

/// Never the password, even in a debug print.
impl std::fmt::Debug for SudoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SudoAnswer")
            .field("password", &"********")
            .field("every_host", &self.every_host)
            .finish()
    }
}

/// Answers questions for a transport; `None` means the admin declined.
#[async_trait]
pub trait Prompter: Send + Sync {
    async fn ask(&self, question: Question) -> Option<String>;

    /// sudo's password for a host; `Err` says why there is none.
    async fn sudo_password(&self, question: SudoQuestion) -> Result<SudoAnswer, String> {
        Err(format!(
            "nobody can give the sudo password for {}@{} here",
            question.user, question.host
        ))
    }
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
    /// Its standard input is empty (on a pty: nothing is ever typed).
    async fn exec(
        &self,
        request: ExecRequest,
        output: mpsc::Sender<Chunk>,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, TransportError> {
        let (_, nothing) = mpsc::channel(1);
        self.exec_with_input(request, nothing, output, cancel, None)
            .await
    }

    /// [`Transport::exec`], with what comes on `input` written to the
    /// command's standard input as it comes. `Stdin::End` ends the input.
    /// When `input` closes without it, a command without a pty gets end of
    /// input too (as `exec`'s does at once), while a pty stays open: a
    /// terminal's input ends only when someone types ^D. `started`, when
    /// given, is told the command's process group on the host as soon as it
    /// is known, so that it can be journaled and looked at after drydock
    /// itself is gone; a transport that cannot tell drops it.
    async fn exec_with_input(
        &self,
        request: ExecRequest,
        input: mpsc::Receiver<Stdin>,
        output: mpsc::Sender<Chunk>,
        cancel: CancellationToken,
        started: Option<oneshot::Sender<u32>>,
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
    } else if let Some(rest) = path.strip_prefix("~/")
        && let Some(h) = home()
    {
        return h.join(rest);
    }
    PathBuf::from(path)
}

/// Where connecting to `host` goes, for the progress line: for SSH the
/// values actually used (user, address, port, jump hosts or ProxyCommand)
/// and which came from `~/.ssh/config`.
pub async fn destination(host: &Host) -> String {
    match host.transport {
        TransportKind::Local => "this machine".into(),
        TransportKind::Ssh => match ssh::resolve(host).await {
            Ok(route) => route.describe(),
            // Connecting says why in full; here, what the runbook says.
            Err(_) => format!("{}@{}:{}", host.user, host.address, host.port),
        },
    }
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
