//! The thread that owns one host's `ssh2::Session`.
//!
//! libssh2 is not thread-safe per session, so one OS thread owns it: it
//! connects, checks the host key and authenticates blocking (`connect`), then
//! switches to non-blocking mode and runs one loop, the [`Pump`], that turns
//! every job (commands in `exec`, TCP tunnels in `tunnel`, file operations
//! in `sftp`, the spare channel in `reaper`), takes requests from the async
//! side (`handle`) and sleeps in `poll` on the socket in the direction
//! libssh2 asks for, plus a wake socket that requests ring. libssh2's error
//! codes are named and classified in `error`.

mod connect;
mod ctx;
pub(super) mod error;
mod exec;
mod handle;
pub(super) mod link;
mod reaper;
mod sftp;
mod tunnel;

use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use ssh2::{BlockDirections, Session, Sftp};
use tokio::sync::mpsc;

use super::route::Target;
use super::wrap;
use crate::remote::{ConnectError, TransportError};
use ctx::{Ctx, RefusedOpen, Turn};
use error::{Fatal, would_block};
use exec::ExecJob;
pub use handle::{Handle, Request, Setup, SftpOp, SftpValue};
use link::{Link, LinkPlan};
use reaper::Reaper;
use sftp::SftpJob;
use tunnel::TunnelJob;

/// Reading stops after this much per channel and pass, so one busy channel
/// cannot starve the others.
const READ_BUDGET: usize = 256 * 1024;
/// Poll interval while some output waits for room; only a safety net, as the
/// taker wakes the thread when it makes room.
const BACKPRESSURE_POLL: Duration = Duration::from_millis(50);
/// Poll interval while a job waits for the server's answer to a request:
/// libssh2 may already have read it while serving another channel, and then
/// the socket does not wake us (without this, only the next keepalive did).
const REPLY_POLL: Duration = Duration::from_millis(10);
/// Poll interval while a cancelled command winds down, to notice its grace ending.
const CANCEL_POLL: Duration = Duration::from_millis(500);
/// Blocking libssh2 calls after setup (dropping SFTP handles) give up after this.
const BLOCKING_TIMEOUT_MS: u32 = 10_000;
/// The id the SFTP subsystem holds the open slot under.
const SFTP_OPENER: u64 = 0;

/// Start the thread for `target`; it opens the way there (`link`), reports
/// through `setup` and then serves requests. Everything that reads files
/// (known_hosts, keys) happens on that thread, never on the caller's.
pub fn spawn(target: Target, link: LinkPlan, setup: mpsc::UnboundedSender<Setup>) {
    let fallback = setup.clone();
    let host_name = target.name.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("ssh-{}", target.name))
        .spawn(move || run(&target, link, setup));
    if let Err(e) = spawned {
        let _ = fallback.send(Setup::Failed(ConnectError::Other {
            host: host_name,
            reason: format!("cannot start a thread for the connection: {e}"),
        }));
    }
}

fn run(target: &Target, link: LinkPlan, setup: mpsc::UnboundedSender<Setup>) {
    tracing::info!(host = %target.name, to = %target.login(), "connecting");
    let opened = Link::open(link, target)
        .and_then(|mut link| connect::establish(target, &mut link, &setup).map(|s| (s, link)));
    let (established, link) = match opened {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(host = %target.name, error = %e, "connection failed");
            let _ = setup.send(Setup::Failed(e));
            return;
        }
    };
    let (wake_tx, wake_rx) = match wake_pair() {
        Ok(pair) => pair,
        Err(e) => {
            let _ = setup.send(Setup::Failed(ConnectError::Other {
                host: target.name.clone(),
                reason: format!("cannot set up the wake socket: {e}"),
            }));
            return;
        }
    };
    let (req_tx, req_rx) = std::sync::mpsc::channel();
    let ended = Arc::new(Mutex::new(None));
    let wake_tx = Arc::new(wake_tx);
    let (loss_tx, loss_rx) = tokio::sync::oneshot::channel();
    let sftp_missing = Arc::new(AtomicBool::new(false));
    let handle = Handle {
        requests: req_tx,
        wake: wake_tx.clone(),
        ended: ended.clone(),
        loss: Arc::new(Mutex::new(Some(loss_rx))),
        sftp_missing: sftp_missing.clone(),
    };
    if setup.send(Setup::Ready(handle)).is_err() {
        return;
    }
    drop(setup);
    tracing::info!(host = %target.name, "connected");
    error::set_no_answer_secs(target.no_answer_after().as_secs());
    let mut pump = Pump {
        host: target.name.clone(),
        session: established.session,
        link,
        requests: req_rx,
        wake: wake_rx,
        _wake_keep: wake_tx,
        reaper: established.spare.map(Reaper::new),
        jobs: Vec::new(),
        sftp: None,
        sftp_queue: VecDeque::new(),
        open_slot: None,
        sftp_refused: None,
        closed: 0,
        next_id: u64::MAX / 2,
        closed_by_us: false,
        sftp_missing,
        next_keepalive: Instant::now() + Duration::from_secs(u64::from(target.keepalive_secs)),
        last_heard: Instant::now(),
        no_answer_after: target.no_answer_after(),
    };
    let mut reason = pump.run();
    if !pump.closed_by_us
        && let Some(relay) = pump.link.relay()
    {
        reason = format!("{reason} (it went through {relay}, which may be what went away)");
    }
    tracing::info!(host = %target.name, %reason, closed_by_us = pump.closed_by_us, "connection ended");
    if let Ok(mut slot) = ended.lock() {
        *slot = Some(reason.clone());
    }
    if !pump.closed_by_us {
        let _ = loss_tx.send(reason.clone());
    }
    pump.fail_all(&reason);
}

fn wake_pair() -> std::io::Result<(UnixStream, UnixStream)> {
    let (tx, rx) = UnixStream::pair()?;
    tx.set_nonblocking(true)?;
    rx.set_nonblocking(true)?;
    Ok((tx, rx))
}

enum Job {
    Exec(Box<ExecJob>),
    Tunnel(Box<TunnelJob>),
}

struct Pump {
    host: String,
    session: Session,
    /// Declared after `session`, so it goes after it (a ProxyCommand is hung up last).
    link: Link,
    requests: std::sync::mpsc::Receiver<Request>,
    wake: UnixStream,
    /// Our own handle on the wake socket's other end, so that it never reads
    /// as closed (and keeps `poll` from spinning) once every handle is dropped.
    _wake_keep: Arc<UnixStream>,
    reaper: Option<Reaper>,
    jobs: Vec<Job>,
    sftp: Option<Sftp>,
    sftp_queue: VecDeque<SftpJob>,
    open_slot: Option<u64>,
    /// SFTP could not be opened yet (see [`RefusedOpen`]).
    sftp_refused: Option<RefusedOpen>,
    /// Channels closed so far, for [`RefusedOpen`].
    closed: u64,
    next_id: u64,
    next_keepalive: Instant,
    /// The connection ended because every handle was dropped, not by itself.
    closed_by_us: bool,
    /// Set once the host refused the SFTP subsystem.
    sftp_missing: Arc<AtomicBool>,
    /// When the server last sent anything. It answers every keepalive, so
    /// a server silent for `no_answer_after` (see
    /// [`Target::no_answer_after`]) has stopped answering: a hung host, or a
    /// network that drops everything while the kernel still thinks the
    /// connection alive.
    last_heard: Instant,
    no_answer_after: Duration,
}

impl Pump {
    /// Serve until the connection ends or the transport is dropped; returns why it ended.
    fn run(&mut self) -> String {
        let mut dropped = false;
        loop {
            // What errno holds after a failed read or write names the
            // cause of a lost connection (see `error::describe_loss`).
            nix::errno::Errno::clear();
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
            let reaper_idle = self.reaper.as_ref().is_none_or(Reaper::is_idle);
            if dropped && self.jobs.is_empty() && self.sftp_queue.is_empty() && reaper_idle {
                self.sftp = None;
                let _ = self.session.disconnect(None, "drydock is done", None);
                self.closed_by_us = true;
                return "the connection was closed".into();
            }
            let backpressure = match self.turn() {
                Ok(b) => b,
                Err(Fatal(reason)) => return reason,
            };
            if self.last_heard.elapsed() > self.no_answer_after {
                return format!("no answer for {} s", self.no_answer_after.as_secs());
            }
            if Instant::now() >= self.next_keepalive {
                match self.session.keepalive_send() {
                    Ok(secs) => {
                        self.next_keepalive =
                            Instant::now() + Duration::from_secs(u64::from(secs.max(1)));
                    }
                    Err(e) if would_block(&e) => {
                        self.next_keepalive = Instant::now() + Duration::from_secs(1);
                    }
                    Err(e) => return error::describe_loss(&e),
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
                input,
                output,
                starved,
                reply,
                started,
            } => {
                tracing::debug!(host = %self.host, job = id, pty, "command requested");
                let mut job = ExecJob::requested(id, &command, pty, input, output, starved, reply);
                job.started = started;
                self.jobs.push(Job::Exec(Box::new(job)));
            }
            Request::Cancel { id } => {
                for job in &mut self.jobs {
                    if let Job::Exec(e) = job
                        && e.id == id
                    {
                        e.cancel();
                    }
                }
            }
            Request::Sftp { op, reply } => self.sftp_queue.push_back(SftpJob::new(op, reply)),
            Request::Tunnel {
                host,
                port,
                socket,
                reply,
            } => {
                self.next_id += 1;
                let job = TunnelJob::new(self.next_id, host, port, socket, reply);
                self.jobs.push(Job::Tunnel(Box::new(job)));
            }
        }
    }

    /// Advance every job until none can; returns whether output waits for room.
    fn turn(&mut self) -> Result<bool, Fatal> {
        loop {
            let mut progressed = false;
            let mut backpressure = false;
            let mut groups_to_end = Vec::new();
            let closing = self
                .jobs
                .iter()
                .filter(|j| matches!(j, Job::Exec(e) if e.is_closing()))
                .count();
            let sessions = self
                .jobs
                .iter()
                .filter(|j| matches!(j, Job::Exec(e) if e.has_channel()))
                .count()
                + usize::from(self.sftp.is_some())
                + usize::from(self.reaper.is_some());
            let mut ctx = Ctx {
                session: &self.session,
                open_slot: &mut self.open_slot,
                groups_to_end: &mut groups_to_end,
                backpressure: &mut backpressure,
                closing,
                closed: self.closed,
                sessions,
                refused: false,
            };
            let mut i = 0;
            while i < self.jobs.len() {
                let turn = match &mut self.jobs[i] {
                    Job::Exec(e) => e.poll(&mut ctx)?,
                    Job::Tunnel(t) => t.poll(&mut ctx)?,
                };
                if turn == Turn::Done {
                    self.jobs.swap_remove(i);
                    self.closed += 1;
                    ctx.closed = self.closed;
                    progressed = true;
                } else {
                    progressed |= turn == Turn::Progress;
                    i += 1;
                }
            }
            if !self.sftp_queue.is_empty() {
                progressed |= turn_sftp(
                    &self.host,
                    &mut self.sftp,
                    &mut self.sftp_refused,
                    &mut self.sftp_queue,
                    &mut ctx,
                    &self.sftp_missing,
                )?;
            }
            let refused = ctx.refused;
            if !groups_to_end.is_empty() {
                self.end_groups(&groups_to_end);
                progressed = true;
            }
            if let Some(reaper) = self.reaper.as_mut() {
                // Only for a refusal no closing channel of ours will end: the
                // spare is what ends cancelled commands without a new channel.
                if refused && closing == 0 && reaper.give_up() {
                    tracing::debug!(host = %self.host, "a channel was refused: the spare one is given up");
                }
                match reaper.pump(&self.session)? {
                    Turn::Idle => {}
                    Turn::Progress => progressed = true,
                    Turn::Done => {
                        let unsent = self.reaper.take().map(Reaper::unsent).unwrap_or_default();
                        // A refused open tries again as soon as this one is gone.
                        self.closed += 1;
                        self.end_groups(&unsent);
                        progressed = true;
                    }
                }
            }
            if !progressed {
                return Ok(backpressure);
            }
        }
    }

    /// End cancelled commands' process groups: through the reaper, or,
    /// without one, with a command on a channel of its own.
    fn end_groups(&mut self, pgids: &[u32]) {
        if pgids.is_empty() {
            return;
        }
        if let Some(reaper) = self.reaper.as_mut() {
            reaper.end(pgids);
            return;
        }
        self.next_id += 1;
        tracing::debug!(host = %self.host, groups = ?pgids, job = self.next_id, "ending process groups");
        let job = ExecJob::internal(self.next_id, &wrap::kill_groups(pgids));
        self.jobs.push(Job::Exec(Box::new(job)));
    }

    /// Sleep until the socket, a tunnel or a request needs us.
    fn wait(&mut self, backpressure: bool) -> Result<(), String> {
        let busy = !self.jobs.is_empty() || !self.sftp_queue.is_empty() || self.reaper.is_some();
        let mut net = PollFlags::empty();
        if busy {
            net |= PollFlags::POLLIN;
        } else {
            // Not listening: nothing reads what the server says, so its
            // silence cannot be told either.
            self.last_heard = Instant::now();
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
        if let Some(retry) = self.next_refused_retry() {
            timeout = timeout.min(retry.saturating_duration_since(Instant::now()));
        }
        if self.awaits_reply() {
            timeout = timeout.min(REPLY_POLL);
        }
        if !backpressure && self.has_unread() {
            timeout = Duration::ZERO;
        }
        if self
            .jobs
            .iter()
            .any(|j| matches!(j, Job::Exec(e) if e.cancelled_at.is_some()))
        {
            timeout = timeout.min(CANCEL_POLL);
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
                PollFd::new(self.link.fd(), net),
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
        if revents.contains(PollFlags::POLLIN) {
            self.last_heard = Instant::now();
        }
        if revents.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
            return Err(error::describe_socket_end(self.link.fd()));
        }
        let mut sink = [0u8; 64];
        while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
        Ok(())
    }

    /// Some job waits for an answer of the server that libssh2 may already
    /// hold (see [`REPLY_POLL`]).
    fn awaits_reply(&self) -> bool {
        let sftp_waits = !self.sftp_queue.is_empty() && self.sftp_refused.is_none();
        sftp_waits
            || self.jobs.iter().any(|j| match j {
                Job::Exec(e) => e.awaits_reply(),
                Job::Tunnel(t) => t.awaits_reply(),
            })
    }

    /// Some channel has data libssh2 read already and its job has not taken.
    fn has_unread(&self) -> bool {
        self.jobs.iter().any(|j| match j {
            Job::Exec(e) => e.has_unread(),
            Job::Tunnel(t) => t.has_unread(),
        })
    }

    /// When the earliest refused channel open is to be tried again, so that
    /// the poll wakes for it.
    fn next_refused_retry(&self) -> Option<Instant> {
        let execs = self.jobs.iter().filter_map(|j| match j {
            Job::Exec(e) => e.refused_open,
            Job::Tunnel(_) => None,
        });
        self.sftp_refused
            .into_iter()
            .chain(execs)
            .map(RefusedOpen::retry_at)
            .min()
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

/// Open the SFTP subsystem if need be, then advance the first SFTP job.
fn turn_sftp(
    host: &str,
    sftp: &mut Option<Sftp>,
    refused: &mut Option<RefusedOpen>,
    queue: &mut VecDeque<SftpJob>,
    ctx: &mut Ctx<'_>,
    missing: &AtomicBool,
) -> Result<bool, Fatal> {
    let mut progressed = false;
    let may_open = refused.is_none_or(|r| r.may_retry(ctx));
    if sftp.is_none()
        && may_open
        && let Some(r) = ctx.open(SFTP_OPENER, Session::sftp)
    {
        match r {
            Ok(s) => {
                tracing::debug!(host, "SFTP channel opened");
                *sftp = Some(s);
                *refused = None;
                progressed = true;
            }
            Err(e) => {
                *refused = ctx.wait_after_refusal(&e, *refused);
                if refused.is_some() {
                    tracing::debug!(host, "SFTP channel refused; trying again");
                    return Ok(progressed);
                }
                let msg = ctx.open_failure(&e)?;
                tracing::debug!(host, error = %msg, "no SFTP");
                let why = if error::is_missing_subsystem(&e) {
                    missing.store(true, std::sync::atomic::Ordering::Relaxed);
                    format!("SFTP is not available on the host: {msg}")
                } else {
                    format!("cannot open an SFTP channel: {msg}")
                };
                for mut job in queue.drain(..) {
                    job.reply(Err(TransportError::Failed(why.clone())));
                }
            }
        }
    }
    if let (Some(sftp), Some(job)) = (sftp.as_ref(), queue.front_mut()) {
        match job.poll(sftp, ctx)? {
            Turn::Done => {
                queue.pop_front();
                progressed = true;
            }
            Turn::Progress => progressed = true,
            Turn::Idle => {}
        }
    }
    Ok(progressed)
}
