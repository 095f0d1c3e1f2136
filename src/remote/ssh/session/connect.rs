//! Connecting: over the link to the server (see `link`), hand-shake with the
//! ciphers we prefer, check the host key against known_hosts, authenticate.
//! All of it runs blocking on the session thread, file reads included, so
//! the async side never waits on the disk.

use ssh2::{Channel, Session};
use tokio::sync::mpsc;

use super::super::auth;
use super::super::known_hosts::{self, Verdict};
use super::super::route::Target;
use super::link::Link;
use super::{BLOCKING_TIMEOUT_MS, Setup};
use crate::remote::{ConnectError, Question};
use crate::runbook::HostKeyPolicy;

const GLOBAL_KNOWN_HOSTS: &str = "/etc/ssh/ssh_known_hosts";

/// A session ready for the pump: authenticated, non-blocking.
pub(super) struct Established {
    pub session: Session,
    /// A session channel that runs nothing yet (see `reaper`), when the
    /// server allowed one.
    pub spare: Option<Channel>,
}

pub(super) fn establish(
    target: &Target,
    link: &mut Link,
    setup: &mpsc::UnboundedSender<Setup>,
) -> Result<Established, ConnectError> {
    let other = |reason: String| ConnectError::Other {
        host: target.name.clone(),
        reason,
    };
    let for_session = link
        .for_session()
        .map_err(|e| other(format!("socket: {e}")))?;
    let mut session =
        Session::new().map_err(|e| other(format!("cannot start an SSH session: {e}")))?;
    session.set_tcp_stream(for_session);
    session.set_timeout(u32::try_from(target.timeout.as_millis()).unwrap_or(u32::MAX));

    let known_text = std::fs::read_to_string(&target.known_hosts).unwrap_or_default();
    prefer_known_key_types(&session, &known_text, &target.hostname, target.port);
    prefer_fast_ciphers(&session);
    if let Err(e) = session.handshake() {
        let mut reason = format!(
            "the SSH handshake failed ({}); is an SSH server listening there?",
            e.message()
        );
        if let Some(story) = link.proxy_story() {
            reason = format!("{reason} ({story})");
        }
        return Err(ConnectError::Unreachable {
            host: target.name.clone(),
            address: format!("{}{}", target.login(), target.provenance()),
            reason,
        });
    }
    tracing::debug!(host = %target.name, "SSH handshake done");

    check_host_key(target, &session, &known_text, setup)?;

    let ask = |q: Question| -> Option<String> {
        let (tx, rx) = std::sync::mpsc::channel();
        setup.send(Setup::Ask(q, tx)).ok()?;
        rx.recv().ok().flatten()
    };
    let files = auth::candidate_files(
        target.identity.as_deref(),
        &target.config_identities,
        target.identities_only,
    );
    let use_agent = !target.identities_only;
    auth::authenticate(
        &session,
        &target.name,
        &target.user,
        &files,
        use_agent,
        &ask,
    )
    .map_err(|reason| ConnectError::Auth {
        host: target.name.clone(),
        user: target.user.clone(),
        reason,
    })?;
    tracing::info!(host = %target.name, user = %target.user, "authenticated");

    // A server that allows fewer sessions only loses the spare channel; a
    // jump host runs no commands and needs none.
    let spare = if target.is_hop {
        None
    } else {
        session.channel_session().ok()
    };
    session.set_keepalive(true, target.keepalive_secs);
    session.set_timeout(BLOCKING_TIMEOUT_MS);
    session.set_blocking(false);
    link.set_nonblocking()
        .map_err(|e| other(format!("socket: {e}")))?;
    Ok(Established { session, spare })
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
    // As ssh does, the other files vouch too: UserKnownHostsFile's others,
    // then the system-wide file (none of them is ever written).
    let others = target
        .more_known_hosts
        .iter()
        .cloned()
        .chain(std::iter::once(GLOBAL_KNOWN_HOSTS.into()));
    for other in others {
        if verdict != Verdict::NotFound {
            break;
        }
        if let Ok(text) = std::fs::read_to_string(&other) {
            let found = known_hosts::check(&text, &target.hostname, target.port, key);
            if found != Verdict::NotFound {
                verdict = found;
                file = other.display().to_string();
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
                        address: token.clone(),
                        key_type: key_type.clone(),
                        fingerprint: fingerprint.clone(),
                        known_hosts: file.clone(),
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
