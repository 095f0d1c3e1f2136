//! `~/.ssh/config`, read by the ssh2-config crate the way ssh reads it:
//! settings before the first `Host` apply to every host, `Host` patterns
//! with `*`, `?` and `!`, `Include` (relative to `~/.ssh`, wildcards), the
//! first value of a key wins and `IdentityFile` accumulates.
//!
//! `Match` is honoured in part. ssh2-config does not know it, so before the
//! crate reads the file each `Match` line becomes the `Host` line that means
//! the same where it can: `all`, `host` / `originalhost` (both matched
//! against the name the runbook gives, as `Host` is) and `localuser`. A
//! `Match` with any other criterion (`exec`, `user`, `canonical`, ...)
//! applies to no host, which errs toward the runbook's own values. A `Match`
//! in an included file cannot be rewritten; the block that holds it is left
//! out, with a warning in the log.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh2_config::{HostParams, ParseRule, SshConfig};

use crate::runbook::jump::{self, Jump};

/// Where `~/.ssh/config` says to go through, when it says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxySetting {
    /// `ProxyJump` (or `ProxyCommand none` / `ProxyJump none`: `Jump::Direct`).
    Jump(Jump),
    /// `ProxyCommand`, its `%` tokens not yet expanded.
    Command(String),
}

/// What `~/.ssh/config` says for one host name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostConfig {
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// `~` already expanded; `%` tokens not yet.
    pub identity_files: Vec<PathBuf>,
    pub proxy: Option<ProxySetting>,
    pub identities_only: Option<bool>,
    /// `UserKnownHostsFile`: the first is written, all are read.
    pub known_hosts_files: Vec<String>,
    pub server_alive_interval: Option<Duration>,
    pub server_alive_count_max: Option<u32>,
}

/// `~/.ssh/config` could not be read, or holds what ssh would refuse.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    pub reason: String,
}

/// What `~/.ssh/config` says for `alias`. An absent file says nothing; one
/// that cannot be read or parsed is an error, as it is for ssh.
pub fn lookup(alias: &str) -> Result<HostConfig, ConfigError> {
    let path = crate::remote::expand_home("~/.ssh/config");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HostConfig::default()),
        Err(e) => {
            return Err(ConfigError {
                path,
                reason: format!("cannot be read: {e}"),
            });
        }
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    lookup_in(&text, home.as_deref(), alias).map_err(|reason| ConfigError { path, reason })
}

fn lookup_in(text: &str, home: Option<&Path>, alias: &str) -> Result<HostConfig, String> {
    let rewritten = rewrite_match(text, &whoami::username());
    let mut config = SshConfig::default();
    if let Some(home) = home {
        config = config.home_dir(home);
    }
    let config = config
        .parse(
            &mut BufReader::new(rewritten.as_bytes()),
            ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
        )
        .map_err(|e| e.to_string())?;
    let mut merged = HostParams::new(&Default::default());
    // The first of ProxyJump and ProxyCommand that applies wins over the
    // other, as in ssh; ssh2-config keeps them apart, so it is found here.
    let mut proxy = None;
    for block in config.intersecting_hosts(alias) {
        if block.params.ignored_fields.contains_key("match") {
            tracing::warn!(
                host = alias,
                block = ?block.pattern,
                "~/.ssh/config: a Match line in an included file; its block is left out"
            );
            continue;
        }
        if proxy.is_none() {
            proxy = proxy_of(&block.params)?;
        }
        merged.overwrite_if_none(&block.params);
    }
    let raw = |key: &str| merged.unsupported_fields.get(key);
    let yes_no = |key: &str| {
        raw(key)
            .and_then(|args| args.first())
            .map(|v| v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true"))
    };
    Ok(HostConfig {
        host_name: merged.host_name,
        user: merged.user,
        port: merged.port,
        identity_files: merged.identity_file.unwrap_or_default(),
        proxy,
        identities_only: yes_no("identitiesonly"),
        known_hosts_files: raw("userknownhostsfile").cloned().unwrap_or_default(),
        server_alive_interval: merged.server_alive_interval,
        server_alive_count_max: raw("serveralivecountmax")
            .and_then(|args| args.first())
            .and_then(|v| v.parse().ok()),
    })
}

/// The proxy one block sets, if any. Within one block ssh would take the
/// line that comes first; the crate has lost that order, so `ProxyJump`
/// is taken (a block that sets both is rare, and a jump is the safer read).
fn proxy_of(params: &HostParams) -> Result<Option<ProxySetting>, String> {
    if let Some(hops) = &params.proxy_jump {
        let written = hops.join(",");
        return jump::parse(&written)
            .map(|j| Some(ProxySetting::Jump(j)))
            .map_err(|why| format!("ProxyJump '{written}': {why}"));
    }
    Ok(params
        .unsupported_fields
        .get("proxycommand")
        .map(|args| args.join(" "))
        .map(|command| {
            if command.trim().eq_ignore_ascii_case("none") {
                ProxySetting::Jump(Jump::Direct)
            } else {
                ProxySetting::Command(command)
            }
        }))
}

/// Each `Match` line as the `Host` line that selects the same hosts, where
/// one can (see the module's comment); every other line as it is.
fn rewrite_match(text: &str, local_user: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let keyword_end = trimmed
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(trimmed.len());
        if trimmed[..keyword_end].eq_ignore_ascii_case("match") {
            let criteria =
                trimmed[keyword_end..].trim_start_matches(|c: char| c.is_whitespace() || c == '=');
            let patterns = match_as_host_patterns(criteria, local_user);
            tracing::debug!(line, ?patterns, "~/.ssh/config: Match read as Host");
            out.push_str("Host ");
            out.push_str(&patterns.unwrap_or_else(|| "!*".into()));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The `Host` patterns equal to `Match CRITERIA`, or `None` when it cannot
/// be said (or never holds).
fn match_as_host_patterns(criteria: &str, local_user: &str) -> Option<String> {
    let words: Vec<&str> = criteria.split_whitespace().collect();
    let mut hosts: Option<String> = None;
    let mut i = 0;
    while i < words.len() {
        let criterion = words[i].to_ascii_lowercase();
        let argument = words.get(i + 1).map(|a| a.trim_matches('"'));
        match (criterion.as_str(), argument) {
            ("all", _) => i += 1,
            ("host" | "originalhost", Some(list)) => {
                // Two host criteria would need both to hold; one is enough here.
                if hosts.is_some() {
                    return None;
                }
                hosts = Some(list.split(',').collect::<Vec<_>>().join(" "));
                i += 2;
            }
            ("localuser", Some(list)) => {
                if !pattern_list_matches(list, local_user) {
                    return None;
                }
                i += 2;
            }
            _ => return None,
        }
    }
    Some(hosts.unwrap_or_else(|| "*".into()))
}

/// An ssh pattern list (`a*,!b`): some pattern matches and no negated one does.
fn pattern_list_matches(list: &str, text: &str) -> bool {
    let mut hit = false;
    for pattern in list.split(',') {
        match pattern.strip_prefix('!') {
            Some(negated) if super::known_hosts::wildcard_match(negated, text) => return false,
            Some(_) => {}
            None => hit |= super::known_hosts::wildcard_match(pattern, text),
        }
    }
    hit
}

/// Expand `~`, `%d` (home), `%u` (local user), `%h` (host) and `%r` (remote
/// user) in a path from `~/.ssh/config` (`IdentityFile`, `UserKnownHostsFile`).
pub fn expand_path(path: &str, host: &str, user: &str) -> PathBuf {
    let home = crate::remote::expand_home("~").display().to_string();
    let p = path
        .replace("%d", &home)
        .replace("%u", &whoami::username())
        .replace("%h", host)
        .replace("%r", user)
        .replace("%%", "%");
    crate::remote::expand_home(&p)
}

/// A `ProxyCommand` with its tokens expanded: `%h` host, `%p` port, `%r`
/// remote user, `%n` the name as given, `%%` a percent sign.
pub fn expand_command(command: &str, host: &str, port: u16, user: &str, alias: &str) -> String {
    let mut out = String::with_capacity(command.len());
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(host),
            Some('p') => out.push_str(&port.to_string()),
            Some('r') => out.push_str(user),
            Some('n') => out.push_str(alias),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(text: &str, alias: &str) -> HostConfig {
        lookup_in(text, Some(Path::new("/home/me")), alias).expect("parses")
    }

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
        let c = look(text, "web1");
        assert_eq!(c.host_name.as_deref(), Some("10.0.0.5"));
        assert_eq!(c.user.as_deref(), Some("deploy"));
        assert_eq!(c.port, Some(2222));
        assert_eq!(
            c.identity_files,
            vec![
                PathBuf::from("/home/me/.ssh/global"),
                PathBuf::from("/home/me/.ssh/web key")
            ]
        );
        let c = look(text, "web-bad");
        assert_eq!(
            (c.host_name, c.user.as_deref(), c.port),
            (None, Some("fallback"), Some(22))
        );
        assert_eq!(look(text, "foo").user.as_deref(), Some("matched"));
    }

    #[test]
    fn match_blocks_apply_where_they_can_be_read() {
        let me = whoami::username();
        let text = format!(
            "\
Host web
  Port 2201
Match exec \"true\"
  User from-exec
Match host db*,!db-old
  User dbadmin
Match localuser {me} host cache
  User cacher
Match localuser nobody-here
  ProxyJump nowhere
Match all
  User everyone
"
        );
        let c = look(&text, "web");
        assert_eq!((c.port, c.user.as_deref()), (Some(2201), Some("everyone")));
        assert_eq!(c.proxy, None);
        assert_eq!(look(&text, "db1").user.as_deref(), Some("dbadmin"));
        assert_eq!(look(&text, "db-old").user.as_deref(), Some("everyone"));
        assert_eq!(look(&text, "cache").user.as_deref(), Some("cacher"));
    }

    #[test]
    fn proxies_and_the_keys_drydock_honours() {
        let text = "\
Host a
  ProxyCommand ssh -W %h:%p gw
Host a
  ProxyJump ignored-because-later
Host both
  ProxyCommand nc %h %p
  ProxyJump gw
Host b
  ProxyJump admin@gw:2222,inner
  IdentitiesOnly yes
  UserKnownHostsFile ~/.ssh/kh_b /etc/kh
  ServerAliveInterval 20
  ServerAliveCountMax 4
Host c
  ProxyJump none
Host *
  ProxyCommand nc %h %p
";
        assert_eq!(
            look(text, "a").proxy,
            Some(ProxySetting::Command("ssh -W %h:%p gw".into()))
        );
        let b = look(text, "b");
        assert_eq!(
            b.proxy.map(|p| match p {
                ProxySetting::Jump(j) => j.to_string(),
                ProxySetting::Command(c) => c,
            }),
            Some("admin@gw:2222,inner".into())
        );
        assert_eq!(b.identities_only, Some(true));
        assert_eq!(b.known_hosts_files, vec!["~/.ssh/kh_b", "/etc/kh"]);
        assert_eq!(b.server_alive_interval, Some(Duration::from_secs(20)));
        assert_eq!(b.server_alive_count_max, Some(4));
        assert_eq!(
            look(text, "c").proxy,
            Some(ProxySetting::Jump(Jump::Direct))
        );
        assert!(matches!(
            look(text, "both").proxy,
            Some(ProxySetting::Jump(_))
        ));
        assert_eq!(
            look(text, "d").proxy,
            Some(ProxySetting::Command("nc %h %p".into()))
        );
    }

    #[test]
    fn a_bad_file_is_an_error() {
        let e = lookup_in("Host x\n  Port not-a-port\n", None, "x").expect_err("refused");
        assert!(!e.is_empty());
        let e = lookup_in("Host x\n  ProxyJump a@\n", None, "x").expect_err("refused");
        assert!(e.contains("ProxyJump 'a@'"), "{e}");
    }

    #[test]
    fn proxy_command_tokens() {
        assert_eq!(
            expand_command("ssh -W %h:%p -l %r %n %% %x", "10.0.0.5", 22, "root", "web"),
            "ssh -W 10.0.0.5:22 -l root web % %x"
        );
    }
}
