//! What the async side holds of a session thread: a [`Handle`] to send
//! [`Request`]s on, each with its own reply channel, and the [`Setup`]
//! messages that come while the thread connects.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::remote::{Chunk, ConnectError, ExitStatus, Question, Stdin, TransportError};

/// What the async side asks of the session thread.
pub enum Request {
    Exec {
        id: u64,
        command: String,
        pty: bool,
        /// What to write to its standard input; see `Transport::exec_with_input`.
        input: mpsc::UnboundedReceiver<Stdin>,
        output: mpsc::Sender<Chunk>,
        /// Set when `output` was full, so the taker wakes the thread on taking.
        starved: Arc<AtomicBool>,
        reply: oneshot::Sender<Result<ExitStatus, TransportError>>,
        /// Told the command's process group once the wrapper printed it.
        started: Option<oneshot::Sender<u32>>,
    },
    /// End command `id` (its process group) and close its channel.
    Cancel { id: u64 },
    Sftp {
        op: SftpOp,
        reply: oneshot::Sender<Result<SftpValue, TransportError>>,
    },
    Tunnel {
        host: String,
        port: u16,
        socket: UnixStream,
        reply: oneshot::Sender<Result<(), TransportError>>,
    },
}

pub enum SftpOp {
    Exists(PathBuf),
    Read(PathBuf),
    Write(PathBuf, Vec<u8>),
    RemoveFile(PathBuf),
    CreateDir(PathBuf),
    RemoveDir(PathBuf),
}

#[derive(Debug)]
pub enum SftpValue {
    Bool(bool),
    Bytes(Vec<u8>),
    Unit,
}

/// Messages from the thread while it connects.
pub enum Setup {
    Ask(Question, std::sync::mpsc::Sender<Option<String>>),
    Ready(Handle),
    Failed(ConnectError),
}

/// The async side's end: cloneable, every request carries its own reply.
#[derive(Clone)]
pub struct Handle {
    pub(super) requests: std::sync::mpsc::Sender<Request>,
    pub(super) wake: Arc<UnixStream>,
    /// Why the connection ended, once it has.
    pub(super) ended: Arc<Mutex<Option<String>>>,
    /// Told why, when the connection ends by itself (not when it is closed
    /// because every handle is gone); taken by the one who watches.
    pub(super) loss: Arc<Mutex<Option<oneshot::Receiver<String>>>>,
    /// The host has no SFTP subsystem: file operations must go another way.
    pub(super) sftp_missing: Arc<AtomicBool>,
}

impl Handle {
    /// Queue a request and wake the thread; `false` when the thread is gone.
    pub fn send(&self, request: Request) -> bool {
        if self.requests.send(request).is_err() {
            return false;
        }
        self.wake();
        true
    }

    /// Ring the thread, e.g. after taking output it was waiting to hand over.
    pub fn wake(&self) {
        // A full wake socket already holds a wake-up; nothing is lost.
        let _ = (&*self.wake).write(&[1]);
    }

    pub fn has_ended(&self) -> bool {
        self.ended.lock().map_or(true, |r| r.is_some())
    }

    /// Why the connection ended by itself, once it does; `None` after the
    /// first call.
    pub fn take_loss(&self) -> Option<oneshot::Receiver<String>> {
        self.loss.lock().ok().and_then(|mut l| l.take())
    }

    /// The host refused the SFTP subsystem (not merely for a while).
    pub fn sftp_missing(&self) -> bool {
        self.sftp_missing.load(Ordering::Relaxed)
    }

    pub fn end_reason(&self) -> String {
        self.ended
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .unwrap_or_else(|| "the connection ended".into())
    }
}
