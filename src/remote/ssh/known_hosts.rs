//! OpenSSH `known_hosts` files: plain and hashed (`|1|salt|hash`) host
//! patterns, `[host]:port` entries, negations and wildcards.
//!
//! We match entries ourselves rather than through libssh2's knownhost API:
//! libssh2 stops reading a file at the first line it cannot parse, and compares
//! keys of different types as a mismatch, which would call a host "changed"
//! when it merely offered another key type. Here an entry counts only when its
//! key type is the one the server presented, and every verdict carries the
//! line numbers the admin needs.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Digest;

/// What the known_hosts file says about a server's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Match,
    /// No entry for this host and key type.
    NotFound,
    /// The host is known with a different key of this type; the lines to look at.
    Changed {
        lines: Vec<usize>,
    },
    /// The key is marked `@revoked`.
    Revoked {
        line: usize,
    },
}

/// The host name as known_hosts spells it: `host`, or `[host]:port` off port 22.
pub fn host_token(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// `SHA256:...` as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &[u8]) -> String {
    format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(sha2::Sha256::digest(key))
    )
}

/// The key type named inside a public key blob (`ssh-ed25519`, `ssh-rsa`, ...).
pub fn key_type(key: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(key.get(..4)?.try_into().ok()?) as usize;
    let name = key.get(4..4 + len)?;
    String::from_utf8(name.to_vec()).ok()
}

struct Entry {
    line: usize,
    marker: Option<String>,
    patterns: String,
    key_type: String,
    key: Vec<u8>,
}

fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next();
        let marker = match first {
            Some(m) if m.starts_with('@') => {
                let m = m.to_string();
                first = fields.next();
                Some(m)
            }
            _ => None,
        };
        let (Some(patterns), Some(kt), Some(key)) = (first, fields.next(), fields.next()) else {
            continue;
        };
        let Ok(key) = STANDARD.decode(key) else {
            continue;
        };
        out.push(Entry {
            line: i + 1,
            marker,
            patterns: patterns.to_string(),
            key_type: kt.to_string(),
            key,
        });
    }
    out
}

/// `*` and `?` wildcards, as ssh uses them in host patterns.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn hashed_match(entry: &str, token: &str) -> bool {
    let mut parts = entry.split('|');
    let (Some(""), Some("1"), Some(salt), Some(hash)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(token.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Whether a comma-separated pattern list names `token`; a matching `!pattern` vetoes.
fn patterns_match(patterns: &str, token: &str) -> bool {
    if patterns.starts_with("|1|") {
        return hashed_match(patterns, token);
    }
    let mut hit = false;
    for p in patterns.split(',') {
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard_match(neg, token) {
                return false;
            }
        } else if wildcard_match(p, token) {
            hit = true;
        }
    }
    hit
}

/// Check `key` for `host:port` against known_hosts text.
pub fn check(text: &str, host: &str, port: u16, key: &[u8]) -> Verdict {
    let token = host_token(host, port);
    let Some(kt) = key_type(key) else {
        return Verdict::NotFound;
    };
    let mut changed = Vec::new();
    let mut matched = false;
    for e in parse(text) {
        if !patterns_match(&e.patterns, &token) {
            continue;
        }
        match e.marker.as_deref() {
            Some("@revoked") if e.key == key => return Verdict::Revoked { line: e.line },
            // Certificate authorities and unknown markers do not vouch for plain keys.
            Some(_) => {}
            None if e.key_type != kt => {}
            None if e.key == key => matched = true,
            None => changed.push(e.line),
        }
    }
    if matched {
        Verdict::Match
    } else if changed.is_empty() {
        Verdict::NotFound
    } else {
        Verdict::Changed { lines: changed }
    }
}

/// Key types known for `host:port`, so the handshake can prefer them as ssh does.
pub fn known_types(text: &str, host: &str, port: u16) -> Vec<String> {
    let token = host_token(host, port);
    let mut out: Vec<String> = Vec::new();
    for e in parse(text) {
        if e.marker.is_none() && patterns_match(&e.patterns, &token) && !out.contains(&e.key_type) {
            out.push(e.key_type);
        }
    }
    out
}

/// Append a plain entry for `host:port`, creating the file (and its directory) if needed.
pub fn append(path: &Path, host: &str, port: u16, key: &[u8]) -> std::io::Result<()> {
    let kt = key_type(key).ok_or_else(|| std::io::Error::other("the server's key has no type"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let needs_newline = std::fs::read(path).is_ok_and(|b| b.last().is_some_and(|&c| c != b'\n'));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if needs_newline {
        f.write_all(b"\n")?;
    }
    writeln!(
        f,
        "{} {kt} {}",
        host_token(host, port),
        STANDARD.encode(key)
    )
}

/// The known_hosts file a host uses: the runbook's, else `~/.ssh/known_hosts`.
pub fn path_for(configured: Option<&str>) -> PathBuf {
    crate::remote::expand_home(configured.unwrap_or("~/.ssh/known_hosts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(kt: &str, body: &[u8]) -> Vec<u8> {
        let mut v = (kt.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kt.as_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn matches_plain_bracketed_and_wildcards() {
        let k = blob("ssh-ed25519", b"one");
        let line = format!(
            "[127.0.0.1]:2222,other ssh-ed25519 {}\n",
            STANDARD.encode(&k)
        );
        assert_eq!(check(&line, "127.0.0.1", 2222, &k), Verdict::Match);
        assert_eq!(check(&line, "127.0.0.1", 22, &k), Verdict::NotFound);
        let wild = format!(
            "*.example.org,!bad.example.org ssh-ed25519 {}\n",
            STANDARD.encode(&k)
        );
        assert_eq!(check(&wild, "web.example.org", 22, &k), Verdict::Match);
        assert_eq!(check(&wild, "bad.example.org", 22, &k), Verdict::NotFound);
    }

    #[test]
    fn changed_names_the_line_and_other_types_do_not_count() {
        let known = blob("ssh-ed25519", b"old");
        let now = blob("ssh-ed25519", b"new");
        let rsa = blob("ssh-rsa", b"rsa");
        let text = format!(
            "# comment\n\nh ssh-rsa {}\nh ssh-ed25519 {}\n",
            STANDARD.encode(&rsa),
            STANDARD.encode(&known)
        );
        assert_eq!(
            check(&text, "h", 22, &now),
            Verdict::Changed { lines: vec![4] }
        );
        assert_eq!(check(&text, "h", 22, &rsa), Verdict::Match);
        assert_eq!(
            check(&text, "h", 22, &blob("ecdsa-sha2-nistp256", b"x")),
            Verdict::NotFound
        );
        assert_eq!(
            known_types(&text, "h", 22),
            vec!["ssh-rsa".to_string(), "ssh-ed25519".to_string()]
        );
    }

    #[test]
    fn hashed_entries() {
        // `ssh-keygen -H` form: HMAC-SHA1 of the host token keyed by the salt.
        let k = blob("ssh-ed25519", b"k");
        let salt = b"0123456789abcdefghij";
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(salt).expect("any key length");
        mac.update(b"[10.1.2.3]:2200");
        let hash = mac.finalize().into_bytes();
        let line = format!(
            "|1|{}|{} ssh-ed25519 {}",
            STANDARD.encode(salt),
            STANDARD.encode(hash),
            STANDARD.encode(&k)
        );
        assert_eq!(check(&line, "10.1.2.3", 2200, &k), Verdict::Match);
        assert_eq!(check(&line, "10.1.2.3", 22, &k), Verdict::NotFound);
    }

    #[test]
    fn revoked_and_garbage_lines() {
        let k = blob("ssh-ed25519", b"k");
        let text = format!(
            "garbage\nh ssh-ed25519 !!!\n@revoked h ssh-ed25519 {}\n",
            STANDARD.encode(&k)
        );
        assert_eq!(check(&text, "h", 22, &k), Verdict::Revoked { line: 3 });
    }

    #[test]
    fn fingerprint_format() {
        let f = fingerprint(b"abc");
        assert!(f.starts_with("SHA256:") && !f.ends_with('='));
    }
}
