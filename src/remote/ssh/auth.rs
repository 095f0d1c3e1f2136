//! Public key authentication in the order DESIGN.md fixes: the ssh-agent, the
//! runbook's `identity` (or `~/.ssh/config`'s `IdentityFile`), then
//! `~/.ssh/id_ed25519` and `~/.ssh/id_rsa`. With `IdentitiesOnly` (in
//! `~/.ssh/config`) the agent is left out, and so are the default files
//! when keys are named. Runs blocking, during connect.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::session::error::{code, session_code};
use crate::remote::Question;

/// How many times a wrong passphrase may be typed for one key, as ssh allows.
const PASSPHRASE_TRIES: usize = 3;

/// Whether a private key file needs a passphrase.
pub fn is_encrypted(text: &str) -> bool {
    if text.contains("Proc-Type: 4,ENCRYPTED") || text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        return true;
    }
    if !text.contains("BEGIN OPENSSH PRIVATE KEY") {
        return false;
    }
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let Ok(bytes) = STANDARD.decode(body) else {
        return false;
    };
    // "openssh-key-v1\0", then the cipher name as an SSH string.
    let Some(rest) = bytes.strip_prefix(b"openssh-key-v1\0") else {
        return false;
    };
    let Some(len) = rest.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
        return false;
    };
    let len = u32::from_be_bytes(len) as usize;
    rest.get(4..4 + len).is_some_and(|cipher| cipher != b"none")
}

/// The key files to try, in order, without duplicates; missing files are left out.
pub fn candidate_files(
    identity: Option<&Path>,
    from_config: &[PathBuf],
    identities_only: bool,
) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let explicit: Vec<PathBuf> = match identity {
        Some(p) => vec![p.to_path_buf()],
        None => from_config.to_vec(),
    };
    let defaults = [
        crate::remote::expand_home("~/.ssh/id_ed25519"),
        crate::remote::expand_home("~/.ssh/id_rsa"),
    ];
    let defaults = if identities_only && !explicit.is_empty() {
        Vec::new()
    } else {
        defaults.to_vec()
    };
    for p in explicit.into_iter().chain(defaults) {
        if p.is_file() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Try every way in turn; `Err` says what was tried, for the admin.
pub fn authenticate(
    session: &ssh2::Session,
    host: &str,
    user: &str,
    files: &[PathBuf],
    use_agent: bool,
    ask: &dyn Fn(Question) -> Option<String>,
) -> Result<(), String> {
    let mut tried: Vec<String> = Vec::new();
    if use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match try_agent(session, user) {
            Ok(true) => return Ok(()),
            Ok(false) => tried.push("the ssh-agent's keys (none accepted)".into()),
            Err(e) => tried.push(format!("the ssh-agent ({e})")),
        }
    }
    for file in files {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !is_encrypted(&text) {
            match session.userauth_pubkey_file(user, None, file, None) {
                Ok(()) if session.authenticated() => return Ok(()),
                Ok(()) => tried.push(format!("{shown} (not accepted)")),
                Err(e) => tried.push(format!("{shown} ({})", e.message())),
            }
            continue;
        }
        let mut outcome = format!("{shown} (encrypted; no passphrase given)");
        for _ in 0..PASSPHRASE_TRIES {
            let Some(passphrase) = ask(Question::Passphrase {
                host: host.to_string(),
                key_path: shown.clone(),
            }) else {
                break;
            };
            let result = session.userauth_pubkey_file(user, None, file, Some(&passphrase));
            drop(passphrase);
            match result {
                Ok(()) if session.authenticated() => return Ok(()),
                Ok(()) => {
                    outcome = format!("{shown} (not accepted)");
                    break;
                }
                // libssh2 reports a wrong passphrase as a file error; ask again.
                Err(e)
                    if matches!(
                        session_code(&e),
                        Some(code::FILE | code::KEYFILE_AUTH_FAILED)
                    ) =>
                {
                    outcome = format!("{shown} (wrong passphrase)");
                }
                Err(e) => {
                    outcome = format!("{shown} ({})", e.message());
                    break;
                }
            }
        }
        tried.push(outcome);
    }
    if tried.is_empty() {
        return Err("no ssh-agent and no key file found; set `identity` in the runbook".into());
    }
    Err(format!(
        "tried {}. Check `identity` in the runbook and that its public key is in the server's authorized_keys",
        tried.join(", ")
    ))
}

fn try_agent(session: &ssh2::Session, user: &str) -> Result<bool, ssh2::Error> {
    let mut agent = session.agent()?;
    agent.connect()?;
    agent.list_identities()?;
    for identity in agent.identities()? {
        if agent.userauth(user, &identity).is_ok() && session.authenticated() {
            let _ = agent.disconnect();
            return Ok(true);
        }
    }
    let _ = agent.disconnect();
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssh_key(cipher: &str) -> String {
        let mut b = b"openssh-key-v1\0".to_vec();
        b.extend_from_slice(&(cipher.len() as u32).to_be_bytes());
        b.extend_from_slice(cipher.as_bytes());
        format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            STANDARD.encode(b)
        )
    }

    #[test]
    fn detects_encryption() {
        assert!(!is_encrypted(&openssh_key("none")));
        assert!(is_encrypted(&openssh_key("aes256-ctr")));
        assert!(is_encrypted(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
        ));
        assert!(!is_encrypted("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"));
    }
}
