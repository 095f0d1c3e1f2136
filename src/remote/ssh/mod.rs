//! The `ssh` transport: one SSH connection per host, on the ssh2 crate.
//!
//! [`SshTransport`] is a cheap handle; the session itself lives on a thread of
//! its own (see `session`), which every call reaches through a request with
//! its own reply channel.

pub mod auth;
pub mod config;
mod hops;
pub mod known_hosts;
mod plain;
pub mod route;
mod session;
pub mod wrap;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{
    BoxedIo, Chunk, ConnectError, ConnectionChange, ExecRequest, ExitStatus, Prompter, Stdin,
    Stream, Transport, TransportError,
};
use crate::runbook::Host;
use session::{Handle, Request, Setup, SftpOp, SftpValue};

/// How long a cancelled command may take to be ended on the host before we
/// stop waiting and report it cancelled anyway.
const CANCEL_WAIT: Duration = Duration::from_secs(15);
/// Output chunks in flight between the session thread and the caller (1 MiB
/// of [`super::MAX_CHUNK`]s); past that the thread stops reading and the
/// SSH window fills.
const RELAY_DEPTH: usize = (1024 * 1024) / super::MAX_CHUNK;

/// A path on the host: SFTP starts in the login directory, so `~/x` is `x`.
fn remote_path(path: &str) -> PathBuf {
    if path == "~" {
        PathBuf::from(".")
    } else if let Some(rest) = path.strip_prefix("~/") {
        PathBuf::from(rest)
    } else {
        PathBuf::from(path)
    }
}

/// A connection to one host. After the connection was lost, the next call
/// connects again (host key check and all), so a retry can work once the
/// server is back.
pub struct SshTransport {
    name: String,
    host: Host,
    prompter: Arc<dyn Prompter>,
    handle: tokio::sync::Mutex<Handle>,
    next_id: AtomicU64,
    /// Who is told of changes to the connection (see [`Transport::watch`]).
    watcher: Arc<Watcher>,
    /// The host has no SFTP subsystem: files go through plain commands.
    no_sftp: AtomicBool,
}

/// Where the changes of a connection are told, once someone watches.
type Watcher = Mutex<Option<mpsc::UnboundedSender<ConnectionChange>>>;

fn tell(watcher: &Watcher, change: ConnectionChange) {
    tracing::debug!(?change, "connection change");
    if let Ok(sink) = watcher.lock()
        && let Some(sink) = sink.as_ref()
    {
        let _ = sink.send(change);
    }
}

/// Tell `watcher` when the session of `handle` ends by itself, while the
/// transport that watches is still there.
fn watch_for_loss(handle: &Handle, watcher: Weak<Watcher>) {
    let Some(loss) = handle.take_loss() else {
        return;
    };
    tokio::spawn(async move {
        // A session closed because the transport went sends nothing.
        if let Ok(reason) = loss.await
            && let Some(watcher) = watcher.upgrade()
        {
            tell(&watcher, ConnectionChange::Lost(reason));
        }
    });
}

/// Connect, check the host key and authenticate; questions go to `prompter`.
/// The way there (jump hosts, a ProxyCommand) is the runbook's `jump`, else
/// `~/.ssh/config`'s; jump hosts are connected first, or shared.
pub async fn connect(
    host: &Host,
    prompter: Arc<dyn Prompter>,
) -> Result<SshTransport, ConnectError> {
    let handle = open_session(host, &prompter).await?;
    let watcher = Arc::new(Mutex::new(None));
    watch_for_loss(&handle, Arc::downgrade(&watcher));
    Ok(SshTransport {
        name: host.name.clone(),
        host: host.clone(),
        prompter,
        handle: tokio::sync::Mutex::new(handle),
        next_id: AtomicU64::new(1),
        watcher,
        no_sftp: AtomicBool::new(false),
    })
}

/// The route to `host` (see [`route`]), read off the async runtime: it
/// reads `~/.ssh/config`, which may be slow to answer (a FIFO, a network home).
pub async fn resolve(host: &Host) -> Result<route::Route, ConnectError> {
    let for_thread = host.clone();
    let resolved = tokio::task::spawn_blocking(move || route::resolve(&for_thread)).await;
    let other = |reason: String| ConnectError::Other {
        host: host.name.clone(),
        reason,
    };
    match resolved {
        Ok(Ok(route)) => Ok(route),
        Ok(Err(e)) => Err(other(e.to_string())),
        Err(e) => Err(other(format!("reading ~/.ssh/config failed: {e}"))),
    }
}

async fn open_session(host: &Host, prompter: &Arc<dyn Prompter>) -> Result<Handle, ConnectError> {
    let route = resolve(host).await?;
    tracing::info!(host = %host.name, route = %route.describe(), "route");
    let link = hops::link_for(&route, prompter).await?;
    start(route.target, link, prompter.as_ref()).await
}

/// Start `target`'s session thread over `link` and answer its questions
/// until it is ready.
async fn start(
    target: route::Target,
    link: session::link::LinkPlan,
    prompter: &dyn Prompter,
) -> Result<Handle, ConnectError> {
    let name = target.name.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    session::spawn(target, link, tx);
    while let Some(msg) = rx.recv().await {
        match msg {
            Setup::Ask(question, answer) => {
                let reply = prompter.ask(question).await;
                let _ = answer.send(reply);
            }
            Setup::Ready(handle) => return Ok(handle),
            Setup::Failed(e) => return Err(e),
        }
    }
    Err(ConnectError::Other {
        host: name,
        reason: "the connection thread ended without a word".into(),
    })
}

/// The command that follows a log file, for the log pane.
pub fn tail_command(path: &str) -> String {
    format!("tail -n 200 -F {}", wrap::quote(path))
}

impl SshTransport {
    fn lost(&self, handle: &Handle) -> TransportError {
        TransportError::Lost {
            host: self.name.clone(),
            reason: handle.end_reason(),
        }
    }

    /// The live session, connecting again first if the last one ended.
    async fn live(&self) -> Result<Handle, TransportError> {
        let mut current = self.handle.lock().await;
        if current.has_ended() {
            tracing::info!(host = %self.name, reason = %current.end_reason(), "reconnecting");
            match open_session(&self.host, &self.prompter).await {
                Ok(fresh) => {
                    tracing::info!(host = %self.name, "reconnected");
                    watch_for_loss(&fresh, Arc::downgrade(&self.watcher));
                    *current = fresh;
                    tell(&self.watcher, ConnectionChange::Reconnected);
                }
                Err(e) => {
                    tracing::info!(host = %self.name, error = %e, "reconnecting failed");
                    tell(&self.watcher, ConnectionChange::ReconnectFailed(e.cause()));
                    return Err(TransportError::Lost {
                        host: self.name.clone(),
                        reason: format!(
                            "{}, and connecting again failed: {e}",
                            current.end_reason()
                        ),
                    });
                }
            }
        }
        Ok(current.clone())
    }

    /// A file operation over SFTP; `Ok(None)` when the host has no SFTP
    /// subsystem, and the operation must be made with a plain command.
    async fn sftp(&self, op: SftpOp) -> Result<Option<SftpValue>, TransportError> {
        if self.no_sftp.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let handle = self.live().await?;
        let (reply, rx) = oneshot::channel();
        if !handle.send(Request::Sftp { op, reply }) {
            return Err(self.lost(&handle));
        }
        let answer = rx.await.unwrap_or_else(|_| Err(self.lost(&handle)));
        if answer.is_err() && handle.sftp_missing() {
            if !self.no_sftp.swap(true, Ordering::Relaxed) {
                tracing::info!(host = %self.name, "no SFTP subsystem; files go through plain commands");
                tell(
                    &self.watcher,
                    ConnectionChange::FallingBack(
                        "the host has no SFTP subsystem: the lock, the banner, file guards \
                         and log tails use plain commands over the same connection"
                            .into(),
                    ),
                );
            }
            return Ok(None);
        }
        answer.map(Some)
    }

    /// Run one of drydock's own commands (a file operation without SFTP)
    /// and gather its output: stdout whole, stderr for the error.
    async fn plain(&self, command: String) -> Result<(ExitStatus, Vec<u8>), TransportError> {
        let (tx, mut rx) = mpsc::channel(RELAY_DEPTH);
        let request = ExecRequest {
            command,
            pty: false,
        };
        let exec = self.exec(request, tx, CancellationToken::new());
        let gather = async {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            while let Some(chunk) = rx.recv().await {
                match chunk.stream {
                    Stream::Stdout => out.extend_from_slice(&chunk.data),
                    Stream::Stderr => err.extend_from_slice(&chunk.data),
                }
            }
            (out, err)
        };
        let (status, (out, err)) = tokio::join!(exec, gather);
        let status = status?;
        if !status.success() {
            let why = String::from_utf8_lossy(&err).trim().to_string();
            let why = if why.is_empty() {
                status.to_string()
            } else {
                why
            };
            return Err(TransportError::Failed(why));
        }
        Ok((status, out))
    }

    /// [`SshTransport::plain`] for a command that answers one word.
    async fn plain_word(&self, command: String) -> Result<String, TransportError> {
        let (_, out) = self.plain(command).await?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// Follow `path` on the host (`tail -F`); see [`crate::remote::tail`].
    pub async fn tail(
        &self,
        path: &str,
        output: mpsc::Sender<Chunk>,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, TransportError> {
        super::tail(self, path, output, cancel).await
    }
}

/// Ends command `id` on its host when the future of `exec` is dropped before
/// the command's answer came (the engine drops it on a timeout, a superseded
/// guard poll, an override or an abort), as an explicit cancel does.
struct CancelOnDrop<'a> {
    handle: &'a Handle,
    id: u64,
    armed: bool,
}

impl CancelOnDrop<'_> {
    /// The command's answer came: nothing is left to end.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            tracing::debug!(
                job = self.id,
                "command dropped before it finished; cancelling it"
            );
            self.handle.send(Request::Cancel { id: self.id });
        }
    }
}

/// A plain command's failure, said as SFTP's would be; a lost connection
/// stays lost.
fn failed_to(what: &str, path: &str, e: TransportError) -> TransportError {
    match e {
        TransportError::Failed(why) => {
            TransportError::Failed(format!("cannot {what} {path}: {why}"))
        }
        other => other,
    }
}

fn unexpected(what: &str) -> TransportError {
    TransportError::Failed(format!("unexpected answer to {what}"))
}

#[async_trait]
impl Transport for SshTransport {
    fn watch(&self, sink: mpsc::UnboundedSender<ConnectionChange>) {
        if let Ok(mut watcher) = self.watcher.lock() {
            *watcher = Some(sink);
        }
    }

    async fn exec_with_input(
        &self,
        request: ExecRequest,
        mut input: mpsc::Receiver<Stdin>,
        output: mpsc::Sender<Chunk>,
        cancel: CancellationToken,
        started: Option<oneshot::Sender<u32>>,
    ) -> Result<ExitStatus, TransportError> {
        let handle = self.live().await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, mut rx) = oneshot::channel();
        // The thread hands output to this channel, and we pass it on: that
        // way we know when room was made and can wake the thread at once.
        let (relay, mut relayed) = mpsc::channel::<Chunk>(RELAY_DEPTH);
        // And the other way: what is typed is passed on with a wake-up.
        let (typed, typed_rx) = mpsc::unbounded_channel();
        let starved = Arc::new(AtomicBool::new(false));
        let sent = handle.send(Request::Exec {
            id,
            command: request.command,
            pty: request.pty,
            input: typed_rx,
            output: relay,
            starved: starved.clone(),
            reply,
            started,
        });
        if !sent {
            return Err(self.lost(&handle));
        }
        let guard = CancelOnDrop {
            handle: &handle,
            id,
            armed: true,
        };
        let forward = async {
            while let Some(chunk) = relayed.recv().await {
                if starved.swap(false, Ordering::SeqCst) {
                    handle.wake();
                }
                // A caller that stopped listening still gets its status.
                let _ = output.send(chunk).await;
            }
        };
        let outcome = async {
            let mut typed = Some(typed);
            loop {
                tokio::select! {
                    r = &mut rx => break r.unwrap_or_else(|_| Err(self.lost(&handle))),
                    () = cancel.cancelled() => {
                        handle.send(Request::Cancel { id });
                        break match tokio::time::timeout(CANCEL_WAIT, &mut rx).await {
                            Ok(Ok(Err(e @ TransportError::Lost { .. }))) => Err(e),
                            _ => Err(TransportError::Cancelled),
                        };
                    }
                    msg = input.recv(), if typed.is_some() => {
                        match (msg, &typed) {
                            (Some(msg), Some(to_thread)) => {
                                // A thread that has finished the job takes nothing more.
                                let _ = to_thread.send(msg);
                            }
                            // The input closed: the thread sees its end.
                            _ => typed = None,
                        }
                        handle.wake();
                    }
                }
            }
        };
        let ((), result) = tokio::join!(forward, outcome);
        guard.disarm();
        result
    }

    async fn exists(&self, path: &str) -> Result<bool, TransportError> {
        match self.sftp(SftpOp::Exists(remote_path(path))).await? {
            Some(SftpValue::Bool(b)) => Ok(b),
            Some(_) => Err(unexpected("exists")),
            None => Ok(self.plain_word(plain::exists(path)).await? == "present"),
        }
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, TransportError> {
        match self.sftp(SftpOp::Read(remote_path(path))).await? {
            Some(SftpValue::Bytes(b)) => Ok(b),
            Some(_) => Err(unexpected("read")),
            None => self
                .plain(plain::read(path))
                .await
                .map(|(_, out)| out)
                .map_err(|e| failed_to("read", path, e)),
        }
    }

    async fn write_atomic(&self, path: &str, data: &[u8]) -> Result<(), TransportError> {
        match self
            .sftp(SftpOp::Write(remote_path(path), data.to_vec()))
            .await?
        {
            Some(_) => Ok(()),
            None => self
                .plain(plain::write_atomic(path, data))
                .await
                .map(drop)
                .map_err(|e| failed_to("write", path, e)),
        }
    }

    async fn remove_file(&self, path: &str) -> Result<(), TransportError> {
        match self.sftp(SftpOp::RemoveFile(remote_path(path))).await? {
            Some(_) => Ok(()),
            None => self
                .plain(plain::remove_file(path))
                .await
                .map(drop)
                .map_err(|e| failed_to("remove", path, e)),
        }
    }

    async fn create_dir(&self, path: &str) -> Result<bool, TransportError> {
        match self.sftp(SftpOp::CreateDir(remote_path(path))).await? {
            Some(SftpValue::Bool(b)) => Ok(b),
            Some(_) => Err(unexpected("mkdir")),
            None => self
                .plain_word(plain::create_dir(path))
                .await
                .map(|word| word == "created")
                .map_err(|e| failed_to("create directory", path, e)),
        }
    }

    async fn remove_dir(&self, path: &str) -> Result<(), TransportError> {
        match self.sftp(SftpOp::RemoveDir(remote_path(path))).await? {
            Some(_) => Ok(()),
            None => self
                .plain(plain::remove_dir(path))
                .await
                .map(drop)
                .map_err(|e| failed_to("remove the directory", path, e)),
        }
    }

    async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxedIo, TransportError> {
        // A socket pair: the session thread polls its end like any fd, and
        // tokio drives ours.
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| TransportError::Failed(format!("cannot create a socket pair: {e}")))?;
        ours.set_nonblocking(true)
            .and_then(|()| theirs.set_nonblocking(true))
            .map_err(|e| TransportError::Failed(format!("socket pair: {e}")))?;
        let ours = tokio::net::UnixStream::from_std(ours)
            .map_err(|e| TransportError::Failed(format!("socket pair: {e}")))?;
        let handle = self.live().await?;
        let (reply, rx) = oneshot::channel();
        let sent = handle.send(Request::Tunnel {
            host: host.to_string(),
            port,
            socket: theirs,
            reply,
        });
        if !sent {
            return Err(self.lost(&handle));
        }
        rx.await.unwrap_or_else(|_| Err(self.lost(&handle)))?;
        Ok(Box::new(ours))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths() {
        assert_eq!(
            remote_path("~/.drydock.lock"),
            PathBuf::from(".drydock.lock")
        );
        assert_eq!(remote_path("/srv/x"), PathBuf::from("/srv/x"));
        assert_eq!(remote_path("~"), PathBuf::from("."));
    }
}
