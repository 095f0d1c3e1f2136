//! Where a host's connection goes: the address, port and login after
//! `~/.ssh/config` filled in what the runbook left open, and the way there —
//! straight, through a `ProxyCommand`, or through jump hosts, each of which
//! is reached the same way in turn.
//!
//! As with `ssh -J`, the runbook's settings (`user`, `port`, `identity`)
//! are the destination's; a jump host takes its own from the hop as written
//! (`admin@bastion:2222`), then `~/.ssh/config` for that name, then the
//! defaults. Of the hops, only the first may have its own `ProxyJump` /
//! `ProxyCommand` from `~/.ssh/config`; each later one goes through the one
//! before it. Resolving reads files: call it off the async runtime.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::config::{self, ConfigError, HostConfig, ProxySetting};
use super::known_hosts;
use crate::runbook::jump::{Jump, JumpHop};
use crate::runbook::{Host, HostKeyPolicy};

/// Seconds between keepalives when `~/.ssh/config` sets no `ServerAliveInterval`.
pub const KEEPALIVE_SECS: u32 = 15;
/// Keepalives without an answer before the connection counts as dead, when
/// `~/.ssh/config` sets no `ServerAliveCountMax` (ssh's default too).
const KEEPALIVE_COUNT: u32 = 3;
/// Jump hosts reached through their own `ProxyJump`, nested deeper than
/// this, are a loop in `~/.ssh/config`.
const MAX_NESTING: usize = 8;

/// Where and how to log in, with what each value's source was.
#[derive(Debug, Clone)]
pub struct Target {
    /// For messages: the runbook's host name, or `jump host NAME`.
    pub name: String,
    pub hostname: String,
    pub user: String,
    pub port: u16,
    pub identity: Option<PathBuf>,
    pub config_identities: Vec<PathBuf>,
    /// `IdentitiesOnly`: no agent, and only the keys named.
    pub identities_only: bool,
    /// Checked first, and where a trusted key is written.
    pub known_hosts: PathBuf,
    /// `UserKnownHostsFile`'s other files, read after the first.
    pub more_known_hosts: Vec<PathBuf>,
    pub policy: HostKeyPolicy,
    pub timeout: Duration,
    pub keepalive_secs: u32,
    pub keepalive_count: u32,
    /// A jump host: it runs no commands.
    pub is_hop: bool,
    /// The values `~/.ssh/config` gave, as "port 2222", for messages.
    pub from_config: Vec<String>,
}

/// How a [`Target`] is reached.
#[derive(Debug, Clone)]
pub enum Via {
    Direct,
    /// A `ProxyCommand`, tokens expanded: its standard input and output are the connection.
    Command(String),
    /// A TCP connection opened by the jump host of this route.
    Hop(Box<Route>),
}

#[derive(Debug, Clone)]
pub struct Route {
    pub target: Target,
    pub via: Via,
}

impl Target {
    /// How long the server may stay silent before the connection counts as
    /// gone: as ssh does, once `ServerAliveCountMax` keepalives went
    /// unanswered, which is when the next one is due. libssh2 sends them
    /// every `ServerAliveInterval` seconds, but never more often than every 2.
    /// The kernel's TCP user timeout is set to the same.
    pub fn no_answer_after(&self) -> std::time::Duration {
        let interval = u64::from(self.keepalive_secs.max(2));
        std::time::Duration::from_secs(interval * (u64::from(self.keepalive_count.max(1)) + 1))
    }

    /// `user@host:port` (`user@[::1]:port` for an IPv6 address).
    pub fn login(&self) -> String {
        if self.hostname.contains(':') {
            format!("{}@[{}]:{}", self.user, self.hostname, self.port)
        } else {
            format!("{}@{}:{}", self.user, self.hostname, self.port)
        }
    }

    /// " (user root and port 2222 from ~/.ssh/config)", or nothing.
    pub fn provenance(&self) -> String {
        match self.from_config.as_slice() {
            [] => String::new(),
            [one] => format!(" ({one} from ~/.ssh/config)"),
            [rest @ .., last] => format!(" ({} and {last} from ~/.ssh/config)", rest.join(", ")),
        }
    }
}

impl Route {
    /// The hops in the order they are connected, the first one first.
    pub fn hops(&self) -> Vec<&Route> {
        let mut out = Vec::new();
        let mut via = &self.via;
        while let Via::Hop(hop) = via {
            out.push(hop.as_ref());
            via = &hop.via;
        }
        out.reverse();
        out
    }

    /// The way there, as "via admin@gw:22, ops@inner:22" or "via ProxyCommand `...`";
    /// empty for a direct connection.
    pub fn way(&self) -> String {
        let hops = self.hops();
        let first = hops.first().copied().unwrap_or(self);
        let mut out = String::new();
        if let Via::Command(command) = &first.via {
            let _ = write!(out, " via ProxyCommand `{command}`");
        }
        if !hops.is_empty() {
            let names: Vec<String> = hops.iter().map(|h| h.target.login()).collect();
            let _ = write!(
                out,
                "{} {}",
                if out.is_empty() { " via" } else { ", then" },
                names.join(", ")
            );
        }
        out
    }

    /// "root@10.0.0.5:2222 via admin@gw:22 (port 2222 from ~/.ssh/config)":
    /// every value actually used, and where the ones not from the runbook came from.
    pub fn describe(&self) -> String {
        format!(
            "{}{}{}",
            self.target.login(),
            self.way(),
            self.target.provenance()
        )
    }

    /// What makes two hops the same connection: where, as whom, with which
    /// keys and host-key policy, and through what.
    pub fn key(&self) -> String {
        let t = &self.target;
        let via = match &self.via {
            Via::Direct => String::new(),
            Via::Command(c) => format!("command {c}"),
            Via::Hop(hop) => hop.key(),
        };
        format!(
            "{}|{:?}|{:?}|{}|{:?}|{:?}|{}|[{via}]",
            t.login(),
            t.identity,
            t.config_identities,
            t.identities_only,
            t.known_hosts,
            t.policy,
            t.keepalive_secs,
        )
    }
}

/// The route to `host`, as the runbook and `~/.ssh/config` say.
pub fn resolve(host: &Host) -> Result<Route, ConfigError> {
    let cfg = config::lookup(&host.address)?;
    let mut target = target_for(
        host,
        host.name.clone(),
        &host.address,
        &cfg,
        Given {
            user: host.user_given.then(|| host.user.clone()),
            port: host.port_given.then_some(host.port),
            identity: host.identity.as_deref().map(crate::remote::expand_home),
        },
    );
    let via = match &host.jump {
        Some(Jump::Direct) => Via::Direct,
        Some(Jump::Via(hops)) => through(hops, host, 0)?,
        None => {
            let via = via_config(&cfg, &target, &host.address, host, 0)?;
            if !matches!(via, Via::Direct) {
                target.from_config.push(match &via {
                    Via::Command(_) => "ProxyCommand".into(),
                    _ => "ProxyJump".into(),
                });
            }
            via
        }
    };
    Ok(Route { target, via })
}

/// What the runbook (or the hop as written) fixes, over `~/.ssh/config`.
struct Given {
    user: Option<String>,
    port: Option<u16>,
    identity: Option<PathBuf>,
}

fn target_for(host: &Host, name: String, alias: &str, cfg: &HostConfig, given: Given) -> Target {
    let mut from_config = Vec::new();
    let hostname = match &cfg.host_name {
        Some(h) => {
            let h = h.replace("%h", alias).replace("%%", "%");
            if h != alias {
                from_config.push(format!("HostName {h}"));
            }
            h
        }
        None => alias.to_string(),
    };
    let user = match (given.user, &cfg.user) {
        (Some(u), _) => u,
        (None, Some(u)) => {
            from_config.push(format!("user {u}"));
            u.clone()
        }
        (None, None) => whoami::username(),
    };
    let port = match (given.port, cfg.port) {
        (Some(p), _) => p,
        (None, Some(p)) => {
            from_config.push(format!("port {p}"));
            p
        }
        (None, None) => 22,
    };
    let expand = |path: &str| config::expand_path(path, &hostname, &user);
    let config_identities = cfg
        .identity_files
        .iter()
        .map(|f| expand(&f.to_string_lossy()))
        .collect();
    let mut config_known_hosts = cfg
        .known_hosts_files
        .iter()
        .map(|f| {
            if f.eq_ignore_ascii_case("none") {
                PathBuf::from("/dev/null")
            } else {
                expand(f)
            }
        })
        .collect::<Vec<_>>()
        .into_iter();
    let (known_hosts, more_known_hosts) = match (&host.known_hosts, config_known_hosts.next()) {
        (Some(given), _) => (known_hosts::path_for(Some(given)), Vec::new()),
        (None, Some(first)) => (first, config_known_hosts.collect()),
        (None, None) => (known_hosts::path_for(None), Vec::new()),
    };
    Target {
        name,
        hostname,
        user,
        port,
        identity: given.identity,
        config_identities,
        identities_only: cfg.identities_only.unwrap_or(false),
        known_hosts,
        more_known_hosts,
        policy: host.host_keys,
        timeout: host.connect_timeout,
        keepalive_secs: cfg
            .server_alive_interval
            .and_then(|d| u32::try_from(d.as_secs()).ok())
            .filter(|s| *s > 0)
            .unwrap_or(KEEPALIVE_SECS),
        keepalive_count: cfg
            .server_alive_count_max
            .filter(|n| *n > 0)
            .unwrap_or(KEEPALIVE_COUNT),
        is_hop: false,
        from_config,
    }
}

/// The way `~/.ssh/config` gives for a target: its ProxyJump or ProxyCommand.
fn via_config(
    cfg: &HostConfig,
    target: &Target,
    alias: &str,
    host: &Host,
    depth: usize,
) -> Result<Via, ConfigError> {
    Ok(match &cfg.proxy {
        None | Some(ProxySetting::Jump(Jump::Direct)) => Via::Direct,
        Some(ProxySetting::Jump(Jump::Via(hops))) => through(hops, host, depth + 1)?,
        Some(ProxySetting::Command(command)) => Via::Command(config::expand_command(
            command,
            &target.hostname,
            target.port,
            &target.user,
            alias,
        )),
    })
}

/// The way through `hops`, the first connected first.
fn through(hops: &[JumpHop], host: &Host, depth: usize) -> Result<Via, ConfigError> {
    if depth > MAX_NESTING {
        return Err(ConfigError {
            path: crate::remote::expand_home("~/.ssh/config"),
            reason: format!(
                "jump hosts nest deeper than {MAX_NESTING} (a ProxyJump that leads back to itself?)"
            ),
        });
    }
    let mut via: Option<Via> = None;
    for hop in hops {
        let cfg = config::lookup(&hop.host)?;
        let mut target = target_for(
            host,
            format!("jump host {hop}"),
            &hop.host,
            &cfg,
            Given {
                user: hop.user.clone(),
                port: hop.port,
                identity: None,
            },
        );
        target.is_hop = true;
        // ssh would not offer the destination's key to a jump host; many a
        // runbook has one key for both, so it comes after the hop's own.
        if let Some(identity) = &host.identity {
            target
                .config_identities
                .push(crate::remote::expand_home(identity));
        }
        let hop_via = match via.take() {
            Some(earlier) => earlier,
            None => via_config(&cfg, &target, &hop.host, host, depth)?,
        };
        via = Some(Via::Hop(Box::new(Route {
            target,
            via: hop_via,
        })));
    }
    Ok(via.unwrap_or(Via::Direct))
}
