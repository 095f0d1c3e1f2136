//! The few `~/.ssh/config` settings drydock honours: `HostName`, `User`,
//! `Port`, `IdentityFile`, found the way ssh finds them (first value wins,
//! `IdentityFile` accumulates, `Host` patterns with `*`, `?` and `!`).
//! `Match` blocks are not evaluated; their settings are ignored, which errs
//! toward the runbook's own values. `Include` is followed (relative to
//! `~/.ssh`, wildcards in the last component).

use std::path::{Path, PathBuf};

use super::known_hosts::wildcard_match;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostConfig {
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<String>,
}

/// Includes nested deeper than this are ignored (ssh's own limit is 16).
const MAX_DEPTH: usize = 8;

/// What `~/.ssh/config` says for `alias`; an absent or unreadable file says nothing.
pub fn lookup(alias: &str) -> HostConfig {
    let path = crate::remote::expand_home("~/.ssh/config");
    let mut out = HostConfig::default();
    if let Ok(text) = std::fs::read_to_string(&path) {
        apply(&text, alias, &mut out, 0);
    }
    out
}

fn host_matches(patterns: &[&str], alias: &str) -> bool {
    let mut hit = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard_match(neg, alias) {
                return false;
            }
        } else if wildcard_match(p, alias) {
            hit = true;
        }
    }
    hit
}

fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (key, rest) = match line.find(|c: char| c.is_whitespace() || c == '=') {
        Some(i) => (
            &line[..i],
            line[i..].trim_start_matches(|c: char| c.is_whitespace() || c == '='),
        ),
        None => (line, ""),
    };
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut arg = String::new();
        if c == '"' {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                arg.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                arg.push(c);
                chars.next();
            }
        }
        args.push(arg);
    }
    Some((key.to_ascii_lowercase(), args))
}

fn apply(text: &str, alias: &str, out: &mut HostConfig, depth: usize) {
    // Settings before the first Host line apply to every host.
    let mut active = true;
    for line in text.lines() {
        let Some((key, args)) = split_line(line) else {
            continue;
        };
        match key.as_str() {
            "host" => {
                let pats: Vec<&str> = args.iter().map(String::as_str).collect();
                active = host_matches(&pats, alias);
            }
            "match" => active = false,
            _ if !active => {}
            "include" if depth < MAX_DEPTH => {
                for file in args.iter().flat_map(|a| include_files(a)) {
                    if let Ok(t) = std::fs::read_to_string(&file) {
                        apply(&t, alias, out, depth + 1);
                    }
                }
            }
            "hostname" if out.host_name.is_none() => {
                out.host_name = args
                    .first()
                    .map(|h| h.replace("%h", alias).replace("%%", "%"));
            }
            "user" if out.user.is_none() => out.user = args.first().cloned(),
            "port" if out.port.is_none() => out.port = args.first().and_then(|p| p.parse().ok()),
            "identityfile" => {
                if let Some(f) = args.first() {
                    out.identity_files.push(f.clone());
                }
            }
            _ => {}
        }
    }
}

fn include_files(arg: &str) -> Vec<PathBuf> {
    let path = if arg.starts_with('~') || arg.starts_with('/') {
        crate::remote::expand_home(arg)
    } else {
        crate::remote::expand_home("~/.ssh").join(arg)
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![path];
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Expand `~`, `%d` (home), `%u` (local user), `%h` (host) and `%r` (remote user) in an `IdentityFile`.
pub fn expand_identity(path: &str, host: &str, user: &str) -> PathBuf {
    let home = crate::remote::expand_home("~").display().to_string();
    let p = path
        .replace("%d", &home)
        .replace("%u", &whoami::username())
        .replace("%h", host)
        .replace("%r", user)
        .replace("%%", "%");
    crate::remote::expand_home(&p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_identity_accumulates() {
        let text = "\
# top
IdentityFile ~/.ssh/global
Host web* !web-bad
  HostName 10.0.0.5
  User=deploy
  Port 2222
  IdentityFile \"~/.ssh/web key\"
Match host foo
  User matched
Host *
  User fallback
  Port 22
";
        let mut c = HostConfig::default();
        apply(text, "web1", &mut c, 0);
        assert_eq!(c.host_name.as_deref(), Some("10.0.0.5"));
        assert_eq!(c.user.as_deref(), Some("deploy"));
        assert_eq!(c.port, Some(2222));
        assert_eq!(
            c.identity_files,
            vec!["~/.ssh/global".to_string(), "~/.ssh/web key".to_string()]
        );

        let mut c = HostConfig::default();
        apply(text, "web-bad", &mut c, 0);
        assert_eq!(
            (c.host_name, c.user.as_deref(), c.port),
            (None, Some("fallback"), Some(22))
        );
    }
}
