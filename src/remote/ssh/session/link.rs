//! What a session's SSH bytes travel over: a TCP connection of its own, a
//! socket pair whose other end a jump host's session relays through a
//! `direct-tcpip` channel, or a socket pair whose other end is a
//! `ProxyCommand`'s standard input and output.

use std::any::Any;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

use crate::remote::ConnectError;
use crate::remote::ssh::route::Target;

/// Lines of a ProxyCommand's standard error kept for the error message.
const STDERR_TAIL: usize = 5;
/// How long a ProxyCommand may take to go after SIGHUP before SIGKILL.
const PROXY_GRACE: Duration = Duration::from_secs(2);

/// How to reach the server, decided before the session thread starts.
pub enum LinkPlan {
    Direct,
    Command(String),
    /// Our end of a socket pair a jump host relays; `keep` holds that jump
    /// host's connection open for as long as this one uses it.
    Tunnel {
        socket: UnixStream,
        keep: Arc<dyn Any + Send + Sync>,
    },
}

pub(super) enum Link {
    Tcp(TcpStream),
    Tunnel {
        socket: UnixStream,
        _keep: Arc<dyn Any + Send + Sync>,
    },
    Command {
        socket: UnixStream,
        proxy: ProxyCommand,
    },
}

impl Link {
    /// Open the way to `target`'s server, blocking (on the session thread).
    pub fn open(plan: LinkPlan, target: &Target) -> Result<Self, ConnectError> {
        match plan {
            LinkPlan::Direct => connect_tcp(target).map(Link::Tcp),
            LinkPlan::Tunnel { socket, keep } => Ok(Link::Tunnel {
                socket,
                _keep: keep,
            }),
            LinkPlan::Command(command) => {
                let (socket, proxy) =
                    ProxyCommand::spawn(&command).map_err(|e| ConnectError::Unreachable {
                        host: target.name.clone(),
                        address: target.login(),
                        reason: format!("cannot start the ProxyCommand `{command}`: {e}"),
                    })?;
                tracing::debug!(host = %target.name, %command, pid = proxy.child.id(), "ProxyCommand started");
                Ok(Link::Command { socket, proxy })
            }
        }
    }

    /// What stands between us and the server, when something does: a loss
    /// may be its doing rather than the server's.
    pub fn relay(&self) -> Option<&'static str> {
        match self {
            Link::Tcp(_) => None,
            Link::Tunnel { .. } => Some("a jump host"),
            Link::Command { .. } => Some("its ProxyCommand"),
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Link::Tcp(s) => s.as_fd(),
            Link::Tunnel { socket, .. } | Link::Command { socket, .. } => socket.as_fd(),
        }
    }

    /// A second descriptor of the same socket, for libssh2 to own.
    pub fn for_session(&self) -> std::io::Result<OwnedFd> {
        self.fd().try_clone_to_owned()
    }

    pub fn set_nonblocking(&self) -> std::io::Result<()> {
        match self {
            Link::Tcp(s) => s.set_nonblocking(true),
            Link::Tunnel { socket, .. } | Link::Command { socket, .. } => {
                socket.set_nonblocking(true)
            }
        }
    }

    /// What a ProxyCommand said or how it ended, to add to a failure's reason.
    pub fn proxy_story(&mut self) -> Option<String> {
        let Link::Command { proxy, .. } = self else {
            return None;
        };
        // The command may need a moment to print its last word and exit.
        std::thread::sleep(Duration::from_millis(100));
        let mut story = Vec::new();
        match proxy.peek_exit() {
            Some(WaitStatus::Exited(_, code)) => {
                story.push(format!("the ProxyCommand exited with status {code}"));
            }
            Some(WaitStatus::Signaled(_, signal, _)) => {
                story.push(format!("the ProxyCommand was killed by {signal}"));
            }
            _ => {}
        }
        let said: Vec<String> = proxy
            .stderr_tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        if !said.is_empty() {
            story.push(format!("it said: {}", said.join(" / ")));
        }
        (!story.is_empty()).then(|| story.join("; "))
    }
}

fn connect_tcp(target: &Target) -> Result<TcpStream, ConnectError> {
    let unreachable = |reason: String| ConnectError::Unreachable {
        host: target.name.clone(),
        address: format!("{}{}", target.login(), target.provenance()),
        reason,
    };
    let addrs: Vec<_> = (target.hostname.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve the name: {e}")))?
        .collect();
    let mut last = String::from("the name has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, target.timeout) {
            Ok(tcp) => {
                tracing::debug!(host = %target.name, %addr, "TCP connected");
                // Small requests (a trivial command's exec) must not wait for Nagle.
                let _ = tcp.set_nodelay(true);
                // A network that silently drops everything never resets the
                // socket; with keepalives in flight, this makes the kernel
                // give up on it instead of retrying for a quarter of an hour.
                let _ = nix::sys::socket::setsockopt(
                    &tcp,
                    nix::sys::socket::sockopt::TcpUserTimeout,
                    &u32::try_from(target.no_answer_after().as_millis()).unwrap_or(u32::MAX),
                );
                return Ok(tcp);
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
    Err(unreachable(last))
}

/// A running `ProxyCommand`: in a process group of its own, so that what it
/// starts goes with it; hung up and reaped when the connection ends.
pub(super) struct ProxyCommand {
    child: Child,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl ProxyCommand {
    fn spawn(command: &str) -> std::io::Result<(UnixStream, Self)> {
        let (ours, theirs) = UnixStream::pair()?;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::from(OwnedFd::from(theirs.try_clone()?)))
            .stdout(Stdio::from(OwnedFd::from(theirs)))
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = stderr_tail.clone();
            // Ends at the command's end of output; never shown on the screen.
            let _ = std::thread::Builder::new()
                .name("proxy-stderr".into())
                .spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        tracing::debug!(%line, "ProxyCommand stderr");
                        if let Ok(mut t) = tail.lock() {
                            if t.len() == STDERR_TAIL {
                                t.pop_front();
                            }
                            t.push_back(line);
                        }
                    }
                });
        }
        Ok((ours, Self { child, stderr_tail }))
    }
}

impl ProxyCommand {
    /// How the command ended, if it has, without reaping it: until it is
    /// reaped its process group id cannot be taken by another process, so
    /// the group kill in `drop` hits only its own.
    fn peek_exit(&self) -> Option<WaitStatus> {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).ok()?);
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) | Err(_) => None,
            Ok(status) => Some(status),
        }
    }
}

impl Drop for ProxyCommand {
    fn drop(&mut self) {
        let Ok(pid) = i32::try_from(self.child.id()) else {
            return;
        };
        let group = Pid::from_raw(-pid);
        // As ssh does: a hang-up first, so it can close its own connection.
        let _ = kill(group, Signal::SIGHUP);
        let deadline = Instant::now() + PROXY_GRACE;
        while self.peek_exit().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // What it started may still hold on; the group goes too.
        let _ = kill(group, Signal::SIGKILL);
        let _ = self.child.wait();
        tracing::debug!(pid, "ProxyCommand ended");
    }
}
