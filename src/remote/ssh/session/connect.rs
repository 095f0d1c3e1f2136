//! Connecting: resolve where to go (with `~/.ssh/config`), open the TCP
//! connection, hand-shake with the ciphers we prefer, check the host key
//! against known_hosts, authenticate. All of it runs blocking on the session
//! thread, file reads included, so the async side never waits on the disk.

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use ssh2::{Channel, Session};
use tokio::sync::mpsc;

use super::super::known_hosts::{self, Verdict};
use super::super::{auth, config};
use super::{BLOCKING_TIMEOUT_MS, KEEPALIVE_SECS, NO_ANSWER_SECS, Setup};
use crate::remote::{ConnectError, Question, expand_home};
use crate::runbook::{Host, HostKeyPolicy};

const GLOBAL_KNOWN_HOSTS: &str = "/etc/ssh/ssh_known_hosts";

/// Where and how to connect, after `~/.ssh/config` filled in what the runbook left open.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub hostname: String,
    pub user: String,
    pub port: u16,
    pub identity: Option<PathBuf>,
    pub config_identities: Vec<PathBuf>,
    pub known_hosts: PathBuf,
    pub policy: HostKeyPolicy,
    pub timeout: Duration,
}

impl Target {
    /// Reads `~/.ssh/config`: call it on the session thread.
    pub fn resolve(host: &Host) -> Self {
        let cfg = config::lookup(&host.address);
        let user = match (&cfg.user, host.user_given) {
            (Some(u), false) => u.clone(),
            _ => host.user.clone(),
        };
        let port = match (cfg.port, host.port_given) {
            (Some(p), false) => p,
            _ => host.port,
        };
        let hostname = cfg
            .host_name
            .clone()
            .unwrap_or_else(|| host.address.clone());
        let config_identities = cfg
            .identity_files
            .iter()
            .map(|f| config::expand_identity(f, &hostname, &user))
            .collect();
        Self {
            name: host.name.clone(),
            hostname,
            user,
            port,
            identity: host.identity.as_deref().map(expand_home),
            config_identities,
            known_hosts: known_hosts::path_for(host.known_hosts.as_deref()),
            policy: host.host_keys,
            timeout: host.connect_timeout,
        }
    }
}

/// A session ready for the pump: authenticated, non-blocking.
pub(super) struct Established {
    pub session: Session,
    pub tcp: TcpStream,
    /// A session channel that runs nothing yet (see `reaper`), when the
    /// server allowed one.
    pub spare: Option<Channel>,
}

pub(super) fn establish(
    target: &Target,
    setup: &mpsc::UnboundedSender<Setup>,
) -> Result<Established, ConnectError> {
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
    tracing::debug!(host = %target.name, %address, "TCP connected");
    // Small requests (a trivial command's exec) must not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    // A network that silently drops everything never resets the socket; with
    // keepalives in flight, this makes the kernel give up on it instead of
    // retrying for a quarter of an hour.
    let _ = nix::sys::socket::setsockopt(
        &tcp,
        nix::sys::socket::sockopt::TcpUserTimeout,
        &(NO_ANSWER_SECS * 1000),
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
    tracing::debug!(host = %target.name, "SSH handshake done");

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
    tracing::info!(host = %target.name, user = %target.user, "authenticated");

    // A server that allows fewer sessions only loses the spare channel.
    let spare = session.channel_session().ok();
    session.set_keepalive(true, KEEPALIVE_SECS);
    session.set_timeout(BLOCKING_TIMEOUT_MS);
    session.set_blocking(false);
    tcp.set_nonblocking(true)
        .map_err(|e| other(format!("socket: {e}")))?;
    Ok(Established {
        session,
        tcp,
        spare,
    })
}

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

/// Offer first the key types known_hosts has for this host, as ssh does, so a
/// host known by its RSA key is not asked for a new ed25519 one.
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
    tracing::debug!(host = %target.name, ?verdict, %key_type, %fingerprint, "host key checked");
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
