//! The hosts, and the sections that name them: `[banner]` and `[logs]`.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use super::read::{Raw, is_placeholder};
use super::vars::Scope;
use super::{ID_RULE, Loader, valid_id};
use crate::runbook::jump::{self, Jump};
use crate::runbook::plan::{Banner, Host, HostKeyPolicy, LogSpec, Plan, TransportKind};
use crate::runbook::schema::{self, Text};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl<'s> Loader<'s> {
    /// `[hosts.NAME]`, each completed from `[ssh]`.
    pub(super) fn hosts(&mut self, raw: &Raw) -> Vec<Host> {
        let ssh = &raw.ssh;
        let default_timeout = ssh
            .connect_timeout
            .as_ref()
            .and_then(|t| self.nonzero_duration(t, "connect_timeout"))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let local_user = whoami::username();
        // Checked once, whether or not a host takes it.
        let default_jump = ssh.jump.as_ref().and_then(|t| self.jump(t));
        let mut hosts = Vec::new();
        for (name, h) in &raw.hosts {
            let jump = match &h.jump {
                Some(own) => self.jump(own),
                None => default_jump.clone(),
            };
            hosts.push(self.host(name, h, ssh, default_timeout, &local_user, jump));
        }
        if hosts.is_empty() && self.broken_hosts.is_empty() {
            self.error(
                0..0,
                "the runbook has no hosts; add one, e.g. [hosts.web] with address = \"...\"",
            );
        }
        hosts
    }

    fn host(
        &mut self,
        name: &Text,
        h: &schema::HostSection,
        ssh: &schema::SshSection,
        default_timeout: Duration,
        local_user: &str,
        jump: Option<Jump>,
    ) -> Host {
        if !valid_id(name.get_ref()) {
            self.error(
                name.span(),
                format!("host name '{}' is not valid; {ID_RULE}", name.get_ref()),
            );
        }
        let transport = h
            .transport
            .as_ref()
            .map_or(TransportKind::Ssh, |t| *t.get_ref());
        let address = match (&h.address, transport) {
            (Some(a), TransportKind::Ssh)
                if a.get_ref().trim().is_empty() || a.get_ref().contains(char::is_whitespace) =>
            {
                self.error(
                    a.span(),
                    format!(
                        "host '{}' has no usable address ({:?}): give its DNS name or IP, without spaces",
                        name.get_ref(),
                        a.get_ref()
                    ),
                );
                String::new()
            }
            (Some(a), _) => a.get_ref().clone(),
            (None, TransportKind::Local) => "localhost".to_string(),
            (None, TransportKind::Ssh) => {
                self.error(
                    name.span(),
                    format!(
                        "host '{}' needs an address (or transport = \"local\")",
                        name.get_ref()
                    ),
                );
                String::new()
            }
        };
        let connect_timeout = h
            .connect_timeout
            .as_ref()
            .and_then(|t| self.nonzero_duration(t, "connect_timeout"))
            .unwrap_or(default_timeout);
        let user = h.user.as_ref().or(ssh.user.as_ref());
        let port = h.port.as_ref().or(ssh.port.as_ref());
        let vars = self.var_names(&h.vars, "a host's vars");
        Host {
            name: name.get_ref().clone(),
            transport,
            address,
            user: match (transport, user) {
                (TransportKind::Ssh, Some(u)) => u.get_ref().clone(),
                _ => local_user.to_string(),
            },
            user_given: user.is_some(),
            port: port.map_or(22, |p| *p.get_ref()),
            port_given: port.is_some(),
            identity: h
                .identity
                .as_ref()
                .or(ssh.identity.as_ref())
                .map(|t| t.get_ref().clone()),
            known_hosts: h
                .known_hosts
                .as_ref()
                .or(ssh.known_hosts.as_ref())
                .map(|t| t.get_ref().clone()),
            host_keys: h
                .host_keys
                .as_ref()
                .or(ssh.host_keys.as_ref())
                .map_or(HostKeyPolicy::Strict, |p| *p.get_ref()),
            connect_timeout,
            roles: h.roles.iter().map(|r| r.get_ref().clone()).collect(),
            vars,
            jump,
            // Its values are checked once every host is known.
            env: Default::default(),
        }
    }

    /// A `jump` value; what is wrong with it is an error at its place.
    fn jump(&mut self, text: &Text) -> Option<Jump> {
        jump::parse(text.get_ref())
            .map_err(|why| self.error(text.span(), format!("jump '{}': {why}", text.get_ref())))
            .ok()
    }

    /// Resolve host names and `role:NAME` selectors to host indices.
    pub(super) fn select_hosts(&mut self, names: &[Text], hosts: &[Host]) -> Vec<usize> {
        let mut picked = Vec::new();
        for name in names {
            let n = name.get_ref();
            if let Some(role) = n.strip_prefix("role:") {
                let matching: Vec<usize> = hosts
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| h.roles.iter().any(|r| r == role))
                    .map(|(i, _)| i)
                    .collect();
                if matching.is_empty() && self.broken_hosts.is_empty() {
                    let known: BTreeSet<&str> = hosts
                        .iter()
                        .flat_map(|h| h.roles.iter())
                        .map(String::as_str)
                        .collect();
                    let known: Vec<&str> = known.into_iter().collect();
                    self.error(
                        name.span(),
                        format!(
                            "no host has role '{role}'{}",
                            if known.is_empty() {
                                String::new()
                            } else {
                                format!("; roles are: {}", known.join(", "))
                            }
                        ),
                    );
                }
                picked.extend(matching);
            } else if let Some(i) = hosts.iter().position(|h| &h.name == n) {
                picked.push(i);
            } else if !self.broken_hosts.contains(n) {
                let known = self.known_hosts(hosts);
                self.error(
                    name.span(),
                    format!("unknown host '{n}'; hosts are: {}", known.join(", ")),
                );
            }
        }
        let mut seen = HashSet::new();
        picked.retain(|i| seen.insert(*i));
        picked
    }

    /// Every host name written in the runbook, for "hosts are: ..." hints.
    fn known_hosts(&self, hosts: &[Host]) -> Vec<String> {
        hosts
            .iter()
            .map(|h| h.name.clone())
            .chain(self.broken_hosts.iter().cloned())
            .collect()
    }

    pub(super) fn host_ref(&mut self, name: &Text, hosts: &[Host]) -> Option<usize> {
        let found = hosts.iter().position(|h| &h.name == name.get_ref());
        if found.is_none() && !self.broken_hosts.contains(name.get_ref()) && !is_placeholder(name) {
            let known = self.known_hosts(hosts);
            self.error(
                name.span(),
                format!(
                    "unknown host '{}'; hosts are: {}",
                    name.get_ref(),
                    known.join(", ")
                ),
            );
        }
        found
    }

    pub(super) fn banner(&mut self, raw: &Raw, plan: &Plan) -> Option<Banner> {
        let b = &raw.banner.as_ref()?.value;
        let hosts = match &b.hosts {
            Some(names) => self.select_hosts(names, &plan.hosts),
            None => (0..plan.hosts.len()).collect(),
        };
        let lead = b
            .lead
            .as_ref()
            .and_then(|l| self.duration(l))
            .unwrap_or(Duration::ZERO);
        let path = self.checked_template(&b.path, plan, Scope::Hosts(&hosts));
        let message = self.checked_template(&b.message, plan, Scope::Hosts(&hosts));
        let content = b
            .content
            .as_ref()
            .map(|c| self.checked_template(c, plan, Scope::BannerContent(&hosts)));
        Some(Banner {
            hosts,
            path,
            message,
            content,
            lead,
        })
    }

    pub(super) fn logs(&mut self, raw: &Raw, plan: &Plan) -> Vec<LogSpec> {
        let mut logs = Vec::new();
        for (name, l) in &raw.logs {
            let Some(host) = self.host_ref(&l.host, &plan.hosts) else {
                continue;
            };
            let path = self.checked_template(&l.path, plan, Scope::Hosts(&[host]));
            logs.push(LogSpec {
                name: name.get_ref().clone(),
                host,
                path,
                highlight: l.highlight.clone(),
            });
        }
        logs
    }
}
