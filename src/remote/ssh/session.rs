//! The thread that owns one host's `ssh2::Session`.
//!
//! libssh2 is not thread-safe per session, so one OS thread owns it: it
//! connects, checks the host key and authenticates blocking, then switches to
//! non-blocking mode and runs one loop that pumps every channel (commands,
//! SFTP, tunnels), takes requests from the async side and sleeps in `poll` on
//! the socket in the direction libssh2 asks for, plus a wake socket that
//! requests ring. Requests carry their own reply channels.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use ssh2::{BlockDirections, Channel, ErrorCode, OpenFlags, OpenType, Session, Sftp};
use tokio::sync::{mpsc, oneshot};

use super::known_hosts::{self, Verdict};
use super::{Target, auth, wrap};
use crate::remote::{Chunk, ConnectError, ExitStatus, Question, Stream, TransportError};
use crate::runbook::HostKeyPolicy;

const EAGAIN: i32 = -37;
const GLOBAL_KNOWN_HOSTS: &str = "/etc/ssh/ssh_known_hosts";
/// Seconds between keepalives; a dead peer is noticed within about two of them.
const KEEPALIVE_SECS: u32 = 15;
/// How long a cancelled command may take to end before its channel is closed anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(10);
/// Reading stops after this much per channel and pass, so one busy channel
/// cannot starve the others.
const READ_BUDGET: usize = 256 * 1024;
/// Poll interval while some output waits for room; only a safety net, as the
/// taker wakes the thread when it makes room.
const BACKPRESSURE_POLL: Duration = Duration::from_millis(50);
/// Blocking libssh2 calls after setup (dropping SFTP handles) give up after this.
const BLOCKING_TIMEOUT_MS: u32 = 10_000;

/// What the async side asks of the session thread.
pub enum Request {
    Exec {
        id: u64,
        command: String,
        pty: bool,
        output: mpsc::Sender<Chunk>,
        /// Set when `output` was full, so the taker wakes the thread on taking.
        starved: Arc<AtomicBool>,
        reply: oneshot::Sender<Result<ExitStatus, TransportError>>,
    },
    Cancel {
        id: u64,
    },
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
    requests: std::sync::mpsc::Sender<Request>,
    wake: Arc<UnixStream>,
    /// Why the connection ended, once it has.
    pub ended: Arc<Mutex<Option<String>>>,
}

impl Handle {
    /// Queue a request and wake the thread; `false` when the thread is gone.
    pub fn send(&self, request: Request) -> bool {
        if self.requests.send(request).is_err() {
            return false;
        }
        // A full wake socket already holds a wake-up; nothing is lost.
        let _ = (&*self.wake).write(&[1]);
        true
    }

    /// Ring the thread, e.g. after taking output it was waiting to hand over.
    pub fn wake(&self) {
        let _ = (&*self.wake).write(&[1]);
    }

    pub fn has_ended(&self) -> bool {
        self.ended.lock().map_or(true, |r| r.is_some())
    }

    pub fn end_reason(&self) -> String {
        self.ended
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .unwrap_or_else(|| "the connection ended".into())
    }
}

/// Start the thread for `target`; it reports through `setup` and then serves requests.
pub fn spawn(target: Target, setup: mpsc::UnboundedSender<Setup>) {
    let name = format!("ssh-{}", target.name);
    let fallback = setup.clone();
    let host = target.name.clone();
    let spawned = std::thread::Builder::new()
        .name(name)
        .spawn(move || run(target, setup));
    if let Err(e) = spawned {
        let _ = fallback.send(Setup::Failed(ConnectError::Other {
            host,
            reason: format!("cannot start a thread for the connection: {e}"),
        }));
    }
}

fn run(target: Target, setup: mpsc::UnboundedSender<Setup>) {
    let (session, tcp, idle) = match establish(&target, &setup) {
        Ok(s) => s,
        Err(e) => {
            let _ = setup.send(Setup::Failed(e));
            return;
        }
    };
    let other = |reason: String| ConnectError::Other {
        host: target.name.clone(),
        reason,
    };
    let (wake_tx, wake_rx) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => {
            let _ = setup.send(Setup::Failed(other(format!(
                "cannot create a wake socket: {e}"
            ))));
            return;
        }
    };
    if let Err(e) = wake_tx
        .set_nonblocking(true)
        .and_then(|()| wake_rx.set_nonblocking(true))
    {
        let _ = setup.send(Setup::Failed(other(format!(
            "cannot set up the wake socket: {e}"
        ))));
        return;
    }
    let (req_tx, req_rx) = std::sync::mpsc::channel();
    let ended = Arc::new(Mutex::new(None));
    let wake_tx = Arc::new(wake_tx);
    let handle = Handle {
        requests: req_tx,
        wake: wake_tx.clone(),
        ended: ended.clone(),
    };
    if setup.send(Setup::Ready(handle)).is_err() {
        return;
    }
    drop(setup);
    let mut pump = Pump {
        host: target.name.clone(),
        session,
        tcp,
        requests: req_rx,
        wake: wake_rx,
        _wake_keep: wake_tx,
        idle,
        jobs: Vec::new(),
        sftp: None,
        sftp_queue: VecDeque::new(),
        open_slot: None,
        next_id: u64::MAX / 2,
        next_keepalive: Instant::now() + Duration::from_secs(u64::from(KEEPALIVE_SECS)),
    };
    let reason = pump.run();
    if let Ok(mut slot) = ended.lock() {
        *slot = Some(reason.clone());
    }
    pump.fail_all(&reason);
}

fn code(e: &ssh2::Error) -> i32 {
    match e.code() {
        ErrorCode::Session(c) => c,
        ErrorCode::SFTP(_) => 0,
    }
}

fn would_block(e: &ssh2::Error) -> bool {
    code(e) == EAGAIN
}

/// Errors after which the whole connection is unusable.
fn is_fatal(c: i32) -> bool {
    matches!(
        c,
        -1 | -2 | -4 | -5 | -7 | -8 | -9 | -12 | -13 | -14 | -30 | -43 | -44 | -45
    )
}

/// Why a connection ended, in words for the admin (libssh2 names only the
/// operation that noticed).
fn describe_loss(e: &ssh2::Error) -> String {
    match code(e) {
        -13 => "the server closed the connection".into(),
        -43 => "the connection broke: reading from the server failed".into(),
        -7 => "the connection broke: sending to the server failed".into(),
        -9 | -30 => "the server stopped answering".into(),
        _ => format!("the connection failed ({})", e.message()),
    }
}

fn establish(
    target: &Target,
    setup: &mpsc::UnboundedSender<Setup>,
) -> Result<(Session, TcpStream, Option<Channel>), ConnectError> {
    let address = format!("{}:{}", target.hostname, target.port);
    let unreachable = |reason: String| ConnectError::Unreachable {
        host: target.name.clone(),
        address: address.clone(),
        reason,
    };
    let addrs: Vec<_> = (target.hostname.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve the name: {e}")))?
        .collect();
    let mut last = String::from("the name has no address");
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, target.timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                last = format!(
                    "no answer within {}",
                    crate::runbook::duration::short(target.timeout)
                );
            }
            Err(e) => last = e.to_string(),
        }
    }
    let tcp = tcp.ok_or_else(|| unreachable(last))?;
    // Small requests (a trivial command's exec) must not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    // A network that silently drops everything never resets the socket; with
    // keepalives in flight, this makes the kernel give up on it instead of
    // retrying for a quarter of an hour.
    let _ = nix::sys::socket::setsockopt(
        &tcp,
        nix::sys::socket::sockopt::TcpUserTimeout,
        &(3 * KEEPALIVE_SECS * 1000),
    );
    let other = |reason: String| ConnectError::Other {
        host: target.name.clone(),
        reason,
    };
    let for_session = tcp.try_clone().map_err(|e| other(format!("socket: {e}")))?;
    let mut session =
        Session::new().map_err(|e| other(format!("cannot start an SSH session: {e}")))?;
    session.set_tcp_stream(for_session);
    session.set_timeout(u32::try_from(target.timeout.as_millis()).unwrap_or(u32::MAX));

    let known_text = std::fs::read_to_string(&target.known_hosts).unwrap_or_default();
    prefer_known_key_types(&session, &known_text, &target.hostname, target.port);
    prefer_fast_ciphers(&session);
    session.handshake().map_err(|e| {
        unreachable(format!(
            "the SSH handshake failed ({}); is an SSH server listening there?",
            e.message()
        ))
    })?;

    check_host_key(target, &session, &known_text, setup)?;

    let ask = |q: Question| -> Option<String> {
        let (tx, rx) = std::sync::mpsc::channel();
        setup.send(Setup::Ask(q, tx)).ok()?;
        rx.recv().ok().flatten()
    };
    let files = auth::candidate_files(target.identity.as_deref(), &target.config_identities);
    auth::authenticate(&session, &target.name, &target.user, &files, &ask).map_err(|reason| {
        ConnectError::Auth {
            host: target.name.clone(),
            user: target.user.clone(),
            reason,
        }
    })?;

    // A server that allows fewer sessions only loses the idle reader.
    let idle = session.channel_session().ok();
    session.set_keepalive(true, KEEPALIVE_SECS);
    session.set_timeout(BLOCKING_TIMEOUT_MS);
    session.set_blocking(false);
    tcp.set_nonblocking(true)
        .map_err(|e| other(format!("socket: {e}")))?;
    Ok((session, tcp, idle))
}

/// Offer first the key types known_hosts has for this host, as ssh does, so a
/// host known by its RSA key is not asked for a new ed25519 one.
/// AES-GCM first where this libssh2 has it: with the CPU's AES instructions
/// it costs the server and us far less per byte than ChaCha20 (a step that
/// prints millions of lines), and it is as sound. The rest stay as fallbacks.
fn prefer_fast_ciphers(session: &Session) {
    const FIRST: &[&str] = &["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"];
    for method in [ssh2::MethodType::CryptCs, ssh2::MethodType::CryptSc] {
        let Ok(supported) = session.supported_algs(method) else {
            continue;
        };
        let mut prefs: Vec<&str> = FIRST
            .iter()
            .copied()
            .filter(|c| supported.contains(c))
            .collect();
        if prefs.is_empty() {
            continue;
        }
        prefs.extend(supported.iter().copied().filter(|c| !FIRST.contains(c)));
        // A refused preference leaves libssh2's own order, which works too.
        let _ = session.method_pref(method, &prefs.join(","));
    }
}

fn prefer_known_key_types(session: &Session, known: &str, host: &str, port: u16) {
    let types = known_hosts::known_types(known, host, port);
    if types.is_empty() {
        return;
    }
    let Ok(supported) = session.supported_algs(ssh2::MethodType::HostKey) else {
        return;
    };
    let mut prefs: Vec<&str> = Vec::new();
    for t in &types {
        let methods: &[&str] = if t == "ssh-rsa" {
            &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        } else {
            &[t.as_str()]
        };
        for m in methods {
            if supported.contains(m) && !prefs.contains(m) {
                prefs.push(m);
            }
        }
    }
    for m in &supported {
        if !prefs.contains(m) {
            prefs.push(m);
        }
    }
    let _ = session.method_pref(ssh2::MethodType::HostKey, &prefs.join(","));
}

fn check_host_key(
    target: &Target,
    session: &Session,
    known_text: &str,
    setup: &mpsc::UnboundedSender<Setup>,
) -> Result<(), ConnectError> {
    let refuse = |reason: String| ConnectError::HostKey {
        host: target.name.clone(),
        reason,
    };
    let (key, _) = session
        .host_key()
        .ok_or_else(|| refuse("the server sent no host key".into()))?;
    let key_type = known_hosts::key_type(key).unwrap_or_else(|| "unknown".into());
    let fingerprint = known_hosts::fingerprint(key);
    let mut file = target.known_hosts.display().to_string();
    let token = known_hosts::host_token(&target.hostname, target.port);
    let mut verdict = known_hosts::check(known_text, &target.hostname, target.port, key);
    if verdict == Verdict::NotFound {
        // As ssh does, the system-wide file vouches too (it is never written).
        if let Ok(text) = std::fs::read_to_string(GLOBAL_KNOWN_HOSTS) {
            let global = known_hosts::check(&text, &target.hostname, target.port, key);
            if global != Verdict::NotFound {
                verdict = global;
                file = GLOBAL_KNOWN_HOSTS.to_string();
            }
        }
    }
    match verdict {
        Verdict::Match => Ok(()),
        Verdict::Revoked { line } => Err(refuse(format!(
            "its {key_type} key {fingerprint} is marked @revoked in {file} line {line}"
        ))),
        Verdict::Changed { lines } => {
            let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
            Err(refuse(format!(
                "WARNING: the host key of {token} has CHANGED; it is now {key_type} {fingerprint}. \
                 Someone may be intercepting the connection, or the server was reinstalled. \
                 The known key is in {file} line {}; if the change is expected, remove that line \
                 (ssh-keygen -R '{token}' -f {file}) and connect again",
                lines.join(", ")
            )))
        }
        Verdict::NotFound => {
            let trusted = match target.policy {
                HostKeyPolicy::AcceptNew => true,
                HostKeyPolicy::Strict => {
                    let (tx, rx) = std::sync::mpsc::channel();
                    let question = Question::TrustHostKey {
                        host: target.name.clone(),
                        key_type: key_type.clone(),
                        fingerprint: fingerprint.clone(),
                    };
                    setup.send(Setup::Ask(question, tx)).is_ok()
                        && rx.recv().ok().flatten().is_some()
                }
            };
            if !trusted {
                return Err(refuse(format!(
                    "{token} is not in {file}; it offered the {key_type} key {fingerprint}, and \
                     host_keys = \"strict\" refuses unknown keys. If that fingerprint is the server's \
                     (check it on the server: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), add it to {file} \
                     (ssh-keyscan -p {} {} >> {file}), trust it in the TUI, or set host_keys = \"accept-new\"",
                    target.port, target.hostname
                )));
            }
            known_hosts::append(&target.known_hosts, &target.hostname, target.port, key).map_err(
                |e| {
                    refuse(format!(
                        "the key {fingerprint} was trusted but {file} cannot be written: {e}"
                    ))
                },
            )
        }
    }
}

/// The result of one turn of a job.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    Idle,
    Progress,
    Done,
}

/// A connection-ending failure, with the reason.
struct Fatal(String);

struct Ctx<'a> {
    session: &'a Session,
    open_slot: &'a mut Option<u64>,
    /// Commands to start on behalf of a job (the kill of a cancelled group).
    spawn: &'a mut Vec<String>,
    /// Some job waits for the engine to take output.
    backpressure: &'a mut bool,
}

impl Ctx<'_> {
    /// Classify a failure: fatal for the connection, or this job's own.
    fn error(&self, e: &ssh2::Error) -> Result<String, Fatal> {
        let c = code(e);
        if is_fatal(c) {
            return Err(Fatal(describe_loss(e)));
        }
        Ok(e.message().to_string())
    }

    fn io_error(&self, e: &std::io::Error) -> Result<String, Fatal> {
        if let Some(last) = ssh2::Error::last_session_error(self.session) {
            if is_fatal(code(&last)) {
                return Err(Fatal(describe_loss(&last)));
            }
        }
        Ok(e.to_string())
    }

    /// Try to open a channel with `open`, holding the session's one open slot
    /// while libssh2 is in the middle of it.
    fn open<T>(
        &mut self,
        id: u64,
        open: impl FnOnce(&Session) -> Result<T, ssh2::Error>,
    ) -> Option<Result<T, ssh2::Error>> {
        if self.open_slot.is_some_and(|o| o != id) {
            return None;
        }
        match open(self.session) {
            Err(e) if would_block(&e) => {
                *self.open_slot = Some(id);
                None
            }
            r => {
                *self.open_slot = None;
                Some(r)
            }
        }
    }
}

enum ExecStage {
    Open,
    Pty,
    Exec,
    SendEof,
    Read,
    Close,
    WaitClose,
}

struct ExecJob {
    id: u64,
    command: String,
    pty: bool,
    stage: ExecStage,
    channel: Option<Channel>,
    /// None for internal commands and once the engine stopped listening.
    output: Option<mpsc::Sender<Chunk>>,
    starved: Arc<AtomicBool>,
    reply: Option<oneshot::Sender<Result<ExitStatus, TransportError>>>,
    held: VecDeque<Chunk>,
    filter: wrap::PgidFilter,
    out_eof: bool,
    err_eof: bool,
    cancelled_at: Option<Instant>,
    kill_sent: bool,
}

impl ExecJob {
    fn new(
        id: u64,
        command: &str,
        pty: bool,
        output: Option<mpsc::Sender<Chunk>>,
        reply: Option<oneshot::Sender<Result<ExitStatus, TransportError>>>,
    ) -> Self {
        let internal = output.is_none();
        Self {
            id,
            command: if internal {
                command.to_string()
            } else {
                wrap::wrap(command, pty)
            },
            pty,
            stage: ExecStage::Open,
            channel: None,
            output,
            starved: Arc::new(AtomicBool::new(false)),
            reply,
            held: VecDeque::new(),
            filter: if pty || internal {
                wrap::PgidFilter::passthrough()
            } else {
                wrap::PgidFilter::default()
            },
            out_eof: false,
            err_eof: false,
            cancelled_at: None,
            kill_sent: false,
        }
    }

    fn finish(&mut self, result: Result<ExitStatus, TransportError>) -> Turn {
        if let Some(reply) = self.reply.take() {
            let result = if self.cancelled_at.is_some() {
                Err(TransportError::Cancelled)
            } else {
                result
            };
            let _ = reply.send(result);
        }
        Turn::Done
    }

    fn cancel(&mut self) {
        if self.cancelled_at.is_none() {
            self.cancelled_at = Some(Instant::now());
            self.output = None;
            self.held.clear();
        }
    }

    fn deliver(&mut self, stream: Stream, data: &[u8]) {
        let data = if stream == Stream::Stdout {
            self.filter.push(data)
        } else {
            data.to_vec()
        };
        if data.is_empty() || self.output.is_none() {
            return;
        }
        self.held.push_back(Chunk {
            stream,
            data: Bytes::from(data),
        });
    }

    /// Hand held output to the engine; false while it has no room.
    fn flush(&mut self) -> bool {
        while let Some(chunk) = self.held.pop_front() {
            let Some(out) = &self.output else {
                self.held.clear();
                return true;
            };
            let mut attempt = out.try_send(chunk);
            if let Err(mpsc::error::TrySendError::Full(chunk)) = attempt {
                // Flag first, then try again: a taker that emptied the channel
                // in between is caught by the retry, a later one sees the flag.
                self.starved.store(true, Ordering::SeqCst);
                attempt = out.try_send(chunk);
            }
            match attempt {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(chunk)) => {
                    self.held.push_front(chunk);
                    return false;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.output = None;
                    self.held.clear();
                }
            }
        }
        true
    }

    fn poll(&mut self, ctx: &mut Ctx<'_>) -> Result<Turn, Fatal> {
        if let Some(at) = self.cancelled_at {
            if !self.kill_sent && matches!(self.stage, ExecStage::Read | ExecStage::SendEof) {
                match self.filter.pgid {
                    Some(pgid) if !self.pty => {
                        ctx.spawn.push(wrap::kill_group(pgid));
                        self.kill_sent = true;
                    }
                    // With a pty, closing it hangs up its process group.
                    _ if self.pty => {
                        self.kill_sent = true;
                        self.stage = ExecStage::Close;
                    }
                    _ => {}
                }
            }
            if at.elapsed() > CANCEL_GRACE
                && matches!(self.stage, ExecStage::Read | ExecStage::SendEof)
            {
                self.stage = ExecStage::Close;
            }
        }
        let mut turn = Turn::Idle;
        loop {
            match self.stage {
                ExecStage::Open => {
                    let Some(r) = ctx.open(self.id, Session::channel_session) else {
                        return Ok(turn);
                    };
                    match r {
                        Ok(ch) => {
                            self.channel = Some(ch);
                            self.stage = if self.pty {
                                ExecStage::Pty
                            } else {
                                ExecStage::Exec
                            };
                        }
                        Err(e) => {
                            let msg = ctx.error(&e)?;
                            return Ok(self.finish(Err(TransportError::Failed(format!(
                                "cannot open a channel: {msg}"
                            )))));
                        }
                    }
                }
                ExecStage::Pty => {
                    let Some(ch) = self.channel.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    match ch.request_pty("xterm", None, Some((200, 50, 0, 0))) {
                        Ok(()) => self.stage = ExecStage::Exec,
                        Err(e) if would_block(&e) => return Ok(turn),
                        Err(e) => {
                            let msg = ctx.error(&e)?;
                            return Ok(self.finish(Err(TransportError::Failed(format!(
                                "the server refused a pty: {msg}"
                            )))));
                        }
                    }
                }
                ExecStage::Exec => {
                    if self.cancelled_at.is_some() {
                        // Cancelled before it started: never start it.
                        self.stage = ExecStage::Close;
                        continue;
                    }
                    let Some(ch) = self.channel.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    match ch.exec(&self.command) {
                        Ok(()) => {
                            self.stage = if self.pty {
                                ExecStage::Read
                            } else {
                                ExecStage::SendEof
                            }
                        }
                        Err(e) if would_block(&e) => return Ok(turn),
                        Err(e) => {
                            let msg = ctx.error(&e)?;
                            return Ok(self.finish(Err(TransportError::Failed(format!(
                                "the server refused to run the command: {msg}"
                            )))));
                        }
                    }
                }
                ExecStage::SendEof => {
                    let Some(ch) = self.channel.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    // The command's stdin is empty, as with the local transport.
                    match ch.send_eof() {
                        Err(e) if would_block(&e) => return Ok(turn),
                        Err(e) => {
                            ctx.error(&e)?;
                            self.stage = ExecStage::Read;
                        }
                        Ok(()) => self.stage = ExecStage::Read,
                    }
                }
                ExecStage::Read => return self.read(ctx),
                ExecStage::Close => {
                    let Some(ch) = self.channel.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    match ch.close() {
                        Err(e) if would_block(&e) => return Ok(turn),
                        Err(e) => {
                            ctx.error(&e)?;
                            self.stage = ExecStage::WaitClose;
                        }
                        Ok(()) => self.stage = ExecStage::WaitClose,
                    }
                }
                ExecStage::WaitClose => {
                    let Some(ch) = self.channel.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    match ch.wait_close() {
                        Err(e) if would_block(&e) => return Ok(turn),
                        Err(e) => {
                            ctx.error(&e)?;
                        }
                        Ok(()) => {}
                    }
                    // The signal first: a signalled command has no meaningful status.
                    let signal = ch
                        .exit_signal()
                        .ok()
                        .and_then(|s| s.exit_signal)
                        .map(|s| format!("SIG{s}"));
                    let code = if signal.is_some() {
                        None
                    } else {
                        ch.exit_status().ok()
                    };
                    return Ok(self.finish(Ok(ExitStatus { code, signal })));
                }
            }
            turn = Turn::Progress;
        }
    }

    fn read(&mut self, ctx: &mut Ctx<'_>) -> Result<Turn, Fatal> {
        if !self.flush() {
            *ctx.backpressure = true;
            return Ok(Turn::Idle);
        }
        let mut turn = Turn::Idle;
        let mut buf = [0u8; 32 * 1024];
        let mut budget = READ_BUDGET;
        for (stream, id) in [(Stream::Stdout, 0), (Stream::Stderr, 1)] {
            loop {
                if (id == 0 && self.out_eof) || (id == 1 && self.err_eof) || budget == 0 {
                    break;
                }
                let Some(ch) = self.channel.as_mut() else {
                    return Ok(Turn::Done);
                };
                let r = ch.stream(id).read(&mut buf);
                match r {
                    Ok(0) => {
                        if id == 0 {
                            self.out_eof = true;
                        } else {
                            self.err_eof = true;
                        }
                        turn = Turn::Progress;
                    }
                    Ok(n) => {
                        budget = budget.saturating_sub(n);
                        turn = Turn::Progress;
                        self.deliver(stream, &buf[..n]);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        ctx.io_error(&e)?;
                        self.out_eof = true;
                        self.err_eof = true;
                    }
                }
            }
        }
        if !(self.out_eof && self.err_eof) {
            let Some(ch) = self.channel.as_ref() else {
                return Ok(Turn::Done);
            };
            if ch.eof() && turn == Turn::Idle {
                self.out_eof = true;
                self.err_eof = true;
            }
        }
        if self.out_eof && self.err_eof {
            let rest = self.filter.finish();
            if !rest.is_empty() && self.output.is_some() {
                self.held.push_back(Chunk {
                    stream: Stream::Stdout,
                    data: Bytes::from(rest),
                });
            }
            if !self.flush() {
                *ctx.backpressure = true;
                return Ok(Turn::Progress);
            }
            self.stage = ExecStage::Close;
            return self.poll(ctx);
        }
        if !self.flush() {
            *ctx.backpressure = true;
        }
        Ok(turn)
    }
}

enum TunnelStage {
    Open,
    Pump,
    Close,
}

struct TunnelJob {
    id: u64,
    host: String,
    port: u16,
    stage: TunnelStage,
    channel: Option<Channel>,
    socket: UnixStream,
    reply: Option<oneshot::Sender<Result<(), TransportError>>>,
    to_channel: Vec<u8>,
    to_socket: Vec<u8>,
    socket_eof: bool,
    channel_eof: bool,
    eof_sent: bool,
    write_shut: bool,
}

impl TunnelJob {
    fn poll(&mut self, ctx: &mut Ctx<'_>) -> Result<Turn, Fatal> {
        match self.stage {
            TunnelStage::Open => {
                let (host, port) = (self.host.clone(), self.port);
                let Some(r) = ctx.open(self.id, |s| s.channel_direct_tcpip(&host, port, None))
                else {
                    return Ok(Turn::Idle);
                };
                match r {
                    Ok(ch) => {
                        self.channel = Some(ch);
                        self.stage = TunnelStage::Pump;
                        if let Some(reply) = self.reply.take() {
                            let _ = reply.send(Ok(()));
                        }
                        self.pump(ctx)
                    }
                    Err(e) => {
                        let msg = ctx.error(&e)?;
                        if let Some(reply) = self.reply.take() {
                            let _ = reply.send(Err(TransportError::Failed(format!(
                                "the host could not open {}:{}: {msg}",
                                self.host, self.port
                            ))));
                        }
                        Ok(Turn::Done)
                    }
                }
            }
            TunnelStage::Pump => self.pump(ctx),
            TunnelStage::Close => {
                let Some(ch) = self.channel.as_mut() else {
                    return Ok(Turn::Done);
                };
                match ch.close() {
                    Err(e) if would_block(&e) => Ok(Turn::Idle),
                    Err(e) => {
                        ctx.error(&e)?;
                        Ok(Turn::Done)
                    }
                    Ok(()) => Ok(Turn::Done),
                }
            }
        }
    }

    fn pump(&mut self, ctx: &mut Ctx<'_>) -> Result<Turn, Fatal> {
        let Some(ch) = self.channel.as_mut() else {
            return Ok(Turn::Done);
        };
        let mut turn = Turn::Idle;
        let mut buf = [0u8; 32 * 1024];
        // Channel to socket.
        while !self.channel_eof && self.to_socket.len() < 256 * 1024 {
            match ch.read(&mut buf) {
                Ok(0) => {
                    self.channel_eof = true;
                    turn = Turn::Progress;
                }
                Ok(n) => {
                    self.to_socket.extend_from_slice(&buf[..n]);
                    turn = Turn::Progress;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    ctx.io_error(&e)?;
                    self.channel_eof = true;
                }
            }
        }
        while !self.to_socket.is_empty() {
            match self.socket.write(&self.to_socket) {
                Ok(n) => {
                    self.to_socket.drain(..n);
                    turn = Turn::Progress;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // The async side dropped its end: nobody wants the data.
                Err(_) => {
                    self.to_socket.clear();
                    self.socket_eof = true;
                    self.channel_eof = true;
                }
            }
        }
        if self.channel_eof && self.to_socket.is_empty() && !self.write_shut {
            let _ = self.socket.shutdown(Shutdown::Write);
            self.write_shut = true;
        }
        // Socket to channel.
        loop {
            if self.to_channel.is_empty() && !self.socket_eof {
                match self.socket.read(&mut buf) {
                    Ok(0) => self.socket_eof = true,
                    Ok(n) => self.to_channel.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => self.socket_eof = true,
                }
            }
            if self.to_channel.is_empty() {
                break;
            }
            match ch.write(&self.to_channel) {
                Ok(n) => {
                    self.to_channel.drain(..n);
                    turn = Turn::Progress;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    ctx.io_error(&e)?;
                    self.to_channel.clear();
                    self.socket_eof = true;
                }
            }
        }
        if self.socket_eof && self.to_channel.is_empty() && !self.eof_sent {
            match ch.send_eof() {
                Err(e) if would_block(&e) => {}
                _ => {
                    self.eof_sent = true;
                    turn = Turn::Progress;
                }
            }
        }
        if self.eof_sent && self.channel_eof && self.to_socket.is_empty() {
            self.stage = TunnelStage::Close;
            return self.poll(ctx);
        }
        Ok(turn)
    }

    fn interest(&self) -> PollFlags {
        let mut f = PollFlags::empty();
        if !matches!(self.stage, TunnelStage::Pump) {
            return f;
        }
        if self.to_channel.is_empty() && !self.socket_eof {
            f |= PollFlags::POLLIN;
        }
        if !self.to_socket.is_empty() {
            f |= PollFlags::POLLOUT;
        }
        f
    }
}

enum Job {
    Exec(Box<ExecJob>),
    Tunnel(Box<TunnelJob>),
}

/// One SFTP operation, in steps that each may have to be repeated when
/// libssh2 says it would block.
struct SftpJob {
    op: SftpOp,
    step: u8,
    file: Option<ssh2::File>,
    data: Vec<u8>,
    done: usize,
    reply: Option<oneshot::Sender<Result<SftpValue, TransportError>>>,
    error: Option<String>,
}

fn temp_path(path: &std::path::Path) -> PathBuf {
    let mut t = path.as_os_str().to_owned();
    t.push(format!(".drydock-{}.tmp", std::process::id()));
    PathBuf::from(t)
}

fn sftp_status(e: &ssh2::Error) -> Option<i32> {
    match e.code() {
        ErrorCode::SFTP(c) => Some(c),
        ErrorCode::Session(_) => None,
    }
}

const FX_NO_SUCH_FILE: i32 = 2;

/// What a step of an SFTP job came to.
enum Step<T> {
    Again,
    Ok(T),
    Err(ssh2::Error),
}

fn step<T>(r: Result<T, ssh2::Error>) -> Step<T> {
    match r {
        Ok(v) => Step::Ok(v),
        Err(e) if would_block(&e) => Step::Again,
        Err(e) => Step::Err(e),
    }
}

impl SftpJob {
    fn reply(&mut self, r: Result<SftpValue, TransportError>) -> Turn {
        if let Some(tx) = self.reply.take() {
            let _ = tx.send(r);
        }
        Turn::Done
    }

    fn fail(
        &mut self,
        ctx: &Ctx<'_>,
        what: &str,
        path: &std::path::Path,
        e: &ssh2::Error,
    ) -> Result<Turn, Fatal> {
        let msg = ctx.error(e)?;
        Ok(self.reply(Err(TransportError::Failed(format!(
            "cannot {what} {}: {msg}",
            path.display()
        )))))
    }

    fn poll(&mut self, sftp: &Sftp, ctx: &Ctx<'_>) -> Result<Turn, Fatal> {
        match &self.op {
            SftpOp::Exists(p) => {
                let p = p.clone();
                match step(sftp.stat(&p)) {
                    Step::Again => Ok(Turn::Idle),
                    Step::Ok(_) => Ok(self.reply(Ok(SftpValue::Bool(true)))),
                    Step::Err(e) if sftp_status(&e) == Some(FX_NO_SUCH_FILE) => {
                        Ok(self.reply(Ok(SftpValue::Bool(false))))
                    }
                    Step::Err(e) => self.fail(ctx, "check", &p, &e),
                }
            }
            SftpOp::RemoveFile(p) => {
                let p = p.clone();
                match step(sftp.unlink(&p)) {
                    Step::Again => Ok(Turn::Idle),
                    Step::Ok(()) => Ok(self.reply(Ok(SftpValue::Unit))),
                    Step::Err(e) if sftp_status(&e) == Some(FX_NO_SUCH_FILE) => {
                        Ok(self.reply(Ok(SftpValue::Unit)))
                    }
                    Step::Err(e) => self.fail(ctx, "remove", &p, &e),
                }
            }
            SftpOp::RemoveDir(p) => {
                let p = p.clone();
                match step(sftp.rmdir(&p)) {
                    Step::Again => Ok(Turn::Idle),
                    Step::Ok(()) => Ok(self.reply(Ok(SftpValue::Unit))),
                    Step::Err(e) if sftp_status(&e) == Some(FX_NO_SUCH_FILE) => {
                        Ok(self.reply(Ok(SftpValue::Unit)))
                    }
                    Step::Err(e) => self.fail(ctx, "remove the directory", &p, &e),
                }
            }
            SftpOp::CreateDir(p) => {
                let p = p.clone();
                if self.step == 0 {
                    match step(sftp.mkdir(&p, 0o755)) {
                        Step::Again => return Ok(Turn::Idle),
                        Step::Ok(()) => return Ok(self.reply(Ok(SftpValue::Bool(true)))),
                        Step::Err(e) => {
                            // SFTP v3 reports "exists" as a plain failure; look.
                            self.error = Some(ctx.error(&e)?);
                            self.step = 1;
                        }
                    }
                }
                match step(sftp.stat(&p)) {
                    Step::Again => Ok(Turn::Idle),
                    Step::Ok(_) => Ok(self.reply(Ok(SftpValue::Bool(false)))),
                    Step::Err(e) => {
                        ctx.error(&e)?;
                        let msg = self.error.take().unwrap_or_default();
                        Ok(self.reply(Err(TransportError::Failed(format!(
                            "cannot create directory {}: {msg}",
                            p.display()
                        )))))
                    }
                }
            }
            SftpOp::Read(p) => {
                let p = p.clone();
                self.poll_read(sftp, ctx, &p)
            }
            SftpOp::Write(p, _) => {
                let p = p.clone();
                self.poll_write(sftp, ctx, &p)
            }
        }
    }

    fn poll_read(
        &mut self,
        sftp: &Sftp,
        ctx: &Ctx<'_>,
        p: &std::path::Path,
    ) -> Result<Turn, Fatal> {
        loop {
            match self.step {
                0 => match step(sftp.open(p)) {
                    Step::Again => return Ok(Turn::Idle),
                    Step::Ok(f) => {
                        self.file = Some(f);
                        self.step = 1;
                    }
                    Step::Err(e) => return self.fail(ctx, "read", p, &e),
                },
                1 => {
                    let Some(f) = self.file.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    let mut buf = [0u8; 32 * 1024];
                    match f.read(&mut buf) {
                        Ok(0) => self.step = 2,
                        Ok(n) => self.data.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Turn::Idle),
                        Err(e) => {
                            let msg = ctx.io_error(&e)?;
                            self.error = Some(msg);
                            self.step = 2;
                        }
                    }
                }
                _ => {
                    if let Some(f) = self.file.as_mut() {
                        match step(f.close()) {
                            Step::Again => return Ok(Turn::Idle),
                            Step::Ok(()) => {}
                            Step::Err(e) => {
                                ctx.error(&e)?;
                            }
                        }
                        self.file = None;
                    }
                    let r = match self.error.take() {
                        Some(msg) => Err(TransportError::Failed(format!(
                            "cannot read {}: {msg}",
                            p.display()
                        ))),
                        None => Ok(SftpValue::Bytes(std::mem::take(&mut self.data))),
                    };
                    return Ok(self.reply(r));
                }
            }
        }
    }

    /// Write a temporary file beside the target, then rename it over the
    /// target. OpenSSH's SFTP rename refuses an existing target, so then the
    /// target is removed and the rename repeated: readers may briefly find no
    /// file, never half of one.
    fn poll_write(
        &mut self,
        sftp: &Sftp,
        ctx: &Ctx<'_>,
        p: &std::path::Path,
    ) -> Result<Turn, Fatal> {
        let tmp = temp_path(p);
        loop {
            match self.step {
                0 => {
                    let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
                    match step(sftp.open_mode(&tmp, flags, 0o644, OpenType::File)) {
                        Step::Again => return Ok(Turn::Idle),
                        Step::Ok(f) => {
                            self.file = Some(f);
                            self.step = 1;
                        }
                        Step::Err(e) => return self.fail(ctx, "write", p, &e),
                    }
                }
                1 => {
                    let SftpOp::Write(_, data) = &self.op else {
                        return Ok(Turn::Done);
                    };
                    let Some(f) = self.file.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    if self.done >= data.len() {
                        self.step = 2;
                        continue;
                    }
                    match f.write(&data[self.done..]) {
                        Ok(n) => self.done += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Turn::Idle),
                        Err(e) => {
                            self.error = Some(ctx.io_error(&e)?);
                            self.step = 2;
                        }
                    }
                }
                2 => {
                    if let Some(f) = self.file.as_mut() {
                        match step(f.close()) {
                            Step::Again => return Ok(Turn::Idle),
                            Step::Ok(()) => {}
                            Step::Err(e) => self.error = Some(ctx.error(&e)?),
                        }
                        self.file = None;
                    }
                    self.step = if self.error.is_some() { 6 } else { 3 };
                }
                3 => match step(sftp.rename(&tmp, p, None)) {
                    Step::Again => return Ok(Turn::Idle),
                    Step::Ok(()) => return Ok(self.reply(Ok(SftpValue::Unit))),
                    Step::Err(e) => {
                        self.error = Some(ctx.error(&e)?);
                        self.step = 4;
                    }
                },
                4 => match step(sftp.unlink(p)) {
                    Step::Again => return Ok(Turn::Idle),
                    Step::Ok(()) => self.step = 5,
                    Step::Err(e) => {
                        ctx.error(&e)?;
                        self.step = 6;
                    }
                },
                5 => match step(sftp.rename(&tmp, p, None)) {
                    Step::Again => return Ok(Turn::Idle),
                    Step::Ok(()) => return Ok(self.reply(Ok(SftpValue::Unit))),
                    Step::Err(e) => {
                        self.error = Some(ctx.error(&e)?);
                        self.step = 6;
                    }
                },
                _ => {
                    match step(sftp.unlink(&tmp)) {
                        Step::Again => return Ok(Turn::Idle),
                        Step::Ok(()) => {}
                        Step::Err(e) => {
                            ctx.error(&e)?;
                        }
                    }
                    let msg = self.error.take().unwrap_or_default();
                    return Ok(self.reply(Err(TransportError::Failed(format!(
                        "cannot write {}: {msg}",
                        p.display()
                    )))));
                }
            }
        }
    }
}

/// The id the SFTP subsystem holds the open slot under.
const SFTP_OPENER: u64 = 0;

struct Pump {
    host: String,
    session: Session,
    tcp: TcpStream,
    requests: std::sync::mpsc::Receiver<Request>,
    wake: UnixStream,
    /// Our own handle on the wake socket's other end, so that it never reads
    /// as closed (and keeps `poll` from spinning) once every handle is dropped.
    _wake_keep: Arc<UnixStream>,
    /// A channel that runs nothing: reading it makes libssh2 read the socket
    /// while nothing else does, so the server's keepalives are answered and a
    /// closed connection is noticed even between steps.
    idle: Option<Channel>,
    jobs: Vec<Job>,
    sftp: Option<Sftp>,
    sftp_queue: VecDeque<SftpJob>,
    open_slot: Option<u64>,
    next_id: u64,
    next_keepalive: Instant,
}

impl Pump {
    /// Serve until the connection ends or the transport is dropped; returns why it ended.
    fn run(&mut self) -> String {
        let mut dropped = false;
        loop {
            loop {
                match self.requests.try_recv() {
                    Ok(r) => self.accept(r),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        dropped = true;
                        break;
                    }
                }
            }
            if dropped && self.jobs.is_empty() && self.sftp_queue.is_empty() {
                self.sftp = None;
                let _ = self.session.disconnect(None, "drydock is done", None);
                return "the connection was closed".into();
            }
            let backpressure = match self.turn() {
                Ok(b) => b,
                Err(Fatal(reason)) => return reason,
            };
            if Instant::now() >= self.next_keepalive {
                match self.session.keepalive_send() {
                    Ok(secs) => {
                        self.next_keepalive =
                            Instant::now() + Duration::from_secs(u64::from(secs.max(1)))
                    }
                    Err(e) if would_block(&e) => {
                        self.next_keepalive = Instant::now() + Duration::from_secs(1)
                    }
                    Err(e) => return describe_loss(&e),
                }
            }
            if let Err(reason) = self.wait(backpressure) {
                return reason;
            }
        }
    }

    fn accept(&mut self, request: Request) {
        match request {
            Request::Exec {
                id,
                command,
                pty,
                output,
                starved,
                reply,
            } => {
                let mut job = ExecJob::new(id, &command, pty, Some(output), Some(reply));
                job.starved = starved;
                self.jobs.push(Job::Exec(Box::new(job)));
            }
            Request::Cancel { id } => {
                for job in &mut self.jobs {
                    if let Job::Exec(e) = job {
                        if e.id == id {
                            e.cancel();
                        }
                    }
                }
            }
            Request::Sftp { op, reply } => self.sftp_queue.push_back(SftpJob {
                op,
                step: 0,
                file: None,
                data: Vec::new(),
                done: 0,
                reply: Some(reply),
                error: None,
            }),
            Request::Tunnel {
                host,
                port,
                socket,
                reply,
            } => {
                self.next_id += 1;
                self.jobs.push(Job::Tunnel(Box::new(TunnelJob {
                    id: self.next_id,
                    host,
                    port,
                    stage: TunnelStage::Open,
                    channel: None,
                    socket,
                    reply: Some(reply),
                    to_channel: Vec::new(),
                    to_socket: Vec::new(),
                    socket_eof: false,
                    channel_eof: false,
                    eof_sent: false,
                    write_shut: false,
                })));
            }
        }
    }

    /// Advance every job until none can; returns whether output waits for room.
    fn turn(&mut self) -> Result<bool, Fatal> {
        if let Some(idle) = self.idle.as_mut() {
            let mut byte = [0u8; 1];
            match idle.read(&mut byte) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => {
                    if let Some(last) = ssh2::Error::last_session_error(&self.session) {
                        if is_fatal(code(&last)) {
                            return Err(Fatal(describe_loss(&last)));
                        }
                    }
                    // Not fatal: the server closed only this channel.
                    let _ = e;
                    self.idle = None;
                }
            }
        }
        loop {
            let mut progressed = false;
            let mut backpressure = false;
            let mut spawn = Vec::new();
            let mut ctx = Ctx {
                session: &self.session,
                open_slot: &mut self.open_slot,
                spawn: &mut spawn,
                backpressure: &mut backpressure,
            };
            let mut i = 0;
            while i < self.jobs.len() {
                let turn = match &mut self.jobs[i] {
                    Job::Exec(e) => e.poll(&mut ctx)?,
                    Job::Tunnel(t) => t.poll(&mut ctx)?,
                };
                if turn == Turn::Done {
                    self.jobs.swap_remove(i);
                    progressed = true;
                } else {
                    progressed |= turn == Turn::Progress;
                    i += 1;
                }
            }
            if !self.sftp_queue.is_empty() {
                if self.sftp.is_none() {
                    if let Some(r) = ctx.open(SFTP_OPENER, Session::sftp) {
                        match r {
                            Ok(s) => {
                                self.sftp = Some(s);
                                progressed = true;
                            }
                            Err(e) => {
                                let msg = ctx.error(&e)?;
                                for mut job in self.sftp_queue.drain(..) {
                                    job.reply(Err(TransportError::Failed(format!(
                                        "SFTP is not available on the host: {msg}"
                                    ))));
                                }
                            }
                        }
                    }
                }
                if let (Some(sftp), Some(job)) = (&self.sftp, self.sftp_queue.front_mut()) {
                    match job.poll(sftp, &ctx)? {
                        Turn::Done => {
                            self.sftp_queue.pop_front();
                            progressed = true;
                        }
                        Turn::Progress => progressed = true,
                        Turn::Idle => {}
                    }
                }
            }
            for command in spawn {
                self.next_id += 1;
                self.jobs.push(Job::Exec(Box::new(ExecJob::new(
                    self.next_id,
                    &command,
                    false,
                    None,
                    None,
                ))));
                progressed = true;
            }
            if !progressed {
                return Ok(backpressure);
            }
        }
    }

    /// Sleep until the socket, a tunnel or a request needs us.
    fn wait(&mut self, backpressure: bool) -> Result<(), String> {
        let busy = !self.jobs.is_empty() || !self.sftp_queue.is_empty() || self.idle.is_some();
        let mut net = PollFlags::empty();
        if busy {
            net |= PollFlags::POLLIN;
        }
        if matches!(
            self.session.block_directions(),
            BlockDirections::Outbound | BlockDirections::Both
        ) {
            net |= PollFlags::POLLOUT;
        }
        let mut timeout = self
            .next_keepalive
            .saturating_duration_since(Instant::now());
        if backpressure {
            timeout = timeout.min(BACKPRESSURE_POLL);
        }
        if self
            .jobs
            .iter()
            .any(|j| matches!(j, Job::Exec(e) if e.cancelled_at.is_some()))
        {
            timeout = timeout.min(Duration::from_millis(500));
        }
        let ms = u16::try_from(timeout.as_millis())
            .unwrap_or(u16::MAX)
            .max(1);
        let tunnels: Vec<(usize, PollFlags)> = self
            .jobs
            .iter()
            .enumerate()
            .filter_map(|(i, j)| match j {
                Job::Tunnel(t) => Some((i, t.interest())),
                Job::Exec(_) => None,
            })
            .collect();
        let revents = {
            let mut fds = vec![
                PollFd::new(self.tcp.as_fd(), net),
                PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
            ];
            for (i, flags) in &tunnels {
                if let Job::Tunnel(t) = &self.jobs[*i] {
                    fds.push(PollFd::new(t.socket.as_fd(), *flags));
                }
            }
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(format!("poll failed: {e}")),
            }
            fds[0].revents().unwrap_or(PollFlags::empty())
        };
        if revents.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
            return Err("the server closed the connection".into());
        }
        let mut sink = [0u8; 64];
        while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
        Ok(())
    }

    fn fail_all(&mut self, reason: &str) {
        let lost = || TransportError::Lost {
            host: self.host.clone(),
            reason: reason.to_string(),
        };
        for job in self.jobs.drain(..) {
            match job {
                Job::Exec(mut e) => {
                    if let Some(r) = e.reply.take() {
                        let _ = r.send(Err(lost()));
                    }
                }
                Job::Tunnel(mut t) => {
                    if let Some(r) = t.reply.take() {
                        let _ = r.send(Err(lost()));
                    }
                }
            }
        }
        for mut job in self.sftp_queue.drain(..) {
            job.reply(Err(lost()));
        }
        // Requests that arrived after the end get the same answer.
        while let Ok(r) = self.requests.try_recv() {
            match r {
                Request::Exec { reply, .. } => {
                    let _ = reply.send(Err(lost()));
                }
                Request::Sftp { reply, .. } => {
                    let _ = reply.send(Err(lost()));
                }
                Request::Tunnel { reply, .. } => {
                    let _ = reply.send(Err(lost()));
                }
                Request::Cancel { .. } => {}
            }
        }
    }
}
