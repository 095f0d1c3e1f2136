//! The validated, resolved form of a runbook that the engine runs.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

pub use super::schema::{BannerSwitch, HostCount, HostKeyPolicy, OnFailure, TransportKind};
use super::template::{RenderError, Template};

/// Variables whose value is only known once a run is under way.
pub const RUNTIME_VARS: &[&str] = &["run_id", "now", "starts_at"];
/// Variables drydock defines for every host.
pub const HOST_VARS: &[&str] = &["host", "address", "user"];

#[derive(Debug, Clone)]
pub struct Plan {
    pub path: PathBuf,
    pub sha256: String,
    pub name: String,
    pub description: Option<String>,
    pub theme: Option<String>,
    /// `[runbook] secrets`: variables secret whatever their names.
    pub secrets: Vec<String>,
    pub lock: Template,
    /// `[vars]`, already overlaid with `--var`.
    pub vars: BTreeMap<String, String>,
    /// `--var` values, which win over host vars too.
    pub overrides: BTreeMap<String, String>,
    /// `[env]`: exported for every command; a host's and a step's win.
    pub env: BTreeMap<String, Template>,
    pub hosts: Vec<Host>,
    pub logs: Vec<LogSpec>,
    pub banner: Option<Banner>,
    /// `[notify]`: told of questions, failures and the end of the run.
    pub notify: Option<Notify>,
    pub steps: Vec<Step>,
    /// What `check` warns of: the runbook runs, but perhaps not as meant.
    pub warnings: Vec<super::diag::Located>,
}

/// A command run on this machine (`sh -c`) at the run's moments, with
/// `DRYDOCK_EVENT` and the rest in its environment.
#[derive(Debug, Clone)]
pub struct Notify {
    pub command: String,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub transport: TransportKind,
    pub address: String,
    pub user: String,
    pub port: u16,
    pub identity: Option<String>,
    pub known_hosts: Option<String>,
    pub host_keys: HostKeyPolicy,
    pub connect_timeout: Duration,
    pub roles: Vec<String>,
    pub vars: BTreeMap<String, String>,
    /// Exported for every command on this host; over `[env]`, under a step's.
    pub env: BTreeMap<String, Template>,
    /// Whether `user` / `port` were given by the runbook (else ~/.ssh/config may say).
    pub user_given: bool,
    pub port_given: bool,
    /// The runbook's `jump` (the host's, else `[ssh]`'s); `None` leaves the
    /// route to `~/.ssh/config`'s `ProxyJump` / `ProxyCommand`.
    pub jump: Option<super::jump::Jump>,
}

#[derive(Debug, Clone)]
pub struct LogSpec {
    pub name: String,
    pub host: usize,
    pub path: Template,
    pub highlight: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Banner {
    pub hosts: Vec<usize>,
    pub path: Template,
    pub message: Template,
    pub content: Option<Template>,
    pub lead: Duration,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub notes: Option<String>,
    pub hosts: Vec<usize>,
    pub action: Action,
    pub confirm: bool,
    pub preview: Option<Template>,
    pub when: Option<Template>,
    pub timeout: Option<Duration>,
    pub retries: u32,
    pub on_failure: OnFailure,
    pub undo: Option<Template>,
    pub always: bool,
    pub rolling: Option<String>,
    /// Hosts of the rolling block at once; the block's steps agree on it.
    pub batch: Option<HostCount>,
    /// Failed hosts the rolling block tolerates; the block's steps agree on it.
    pub max_fail: Option<HostCount>,
    pub pty: bool,
    /// Run the command and the undo through sudo, answering its prompt.
    pub sudo: Option<Sudo>,
    /// Exported for this step's commands; over the host's and `[env]`.
    pub env: BTreeMap<String, Template>,
    /// The variable this step's trimmed stdout becomes on each host.
    pub capture: Option<String>,
}

/// Whom a `sudo` step's commands run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sudo {
    /// sudo's default target user, root.
    Root,
    User(String),
}

impl Sudo {
    /// The `-u` argument, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            Sudo::Root => None,
            Sudo::User(u) => Some(u),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Action {
    Run(Template),
    Guard(Guard),
    Banner(BannerSwitch),
    Wait(WaitFor),
    Manual(Template),
    Http(HttpCheck),
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Run(_) => "run",
            Action::Guard(_) => "guard",
            Action::Banner(_) => "banner",
            Action::Wait(_) => "wait",
            Action::Manual(_) => "manual",
            Action::Http(_) => "http",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Guard {
    pub check: GuardCheck,
    pub poll: Duration,
    /// How long one check may take before it counts as not holding.
    pub check_timeout: Duration,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub enum GuardCheck {
    FileAbsent(Template),
    FilePresent(Template),
    Command(Template),
    Http(HttpCheck),
}

#[derive(Debug, Clone)]
pub struct HttpCheck {
    pub url: Template,
    pub status: u16,
    pub contains: Option<Template>,
    pub via: Option<Via>,
}

/// Which host's SSH connection an HTTP check travels through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Host(usize),
    /// `via = "{{host}}"`: the host the step runs on (each node checks itself).
    Itself,
}

impl HttpCheck {
    /// The host the request goes through when the step runs on `host`.
    pub fn via_for(&self, host: usize) -> Option<usize> {
        match self.via {
            Some(Via::Host(h)) => Some(h),
            Some(Via::Itself) => Some(host),
            None => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum WaitFor {
    Banner,
    For(Duration),
}

/// Values known only during a run.
#[derive(Debug, Clone, Default)]
pub struct RunVars {
    pub run_id: Option<String>,
    pub starts_at: Option<String>,
    /// Captured values: variable, then host, then value.
    pub captured: HashMap<String, HashMap<usize, String>>,
}

impl Plan {
    /// Look a variable up for `host`: `--var`, then the host's vars, then
    /// `[vars]`, then the built-ins.
    pub fn lookup(&self, name: &str, host: usize, run: &RunVars) -> Result<String, RenderError> {
        self.lookup_nested(name, host, run, 0)
    }

    /// Whether `name` has a value on `host` (now or once the run is under way).
    pub fn is_defined(&self, name: &str, host: usize) -> bool {
        self.overrides.contains_key(name)
            || self.hosts[host].vars.contains_key(name)
            || self.vars.contains_key(name)
            || HOST_VARS.contains(&name)
            || RUNTIME_VARS.contains(&name)
    }

    /// A variable's value may itself use variables (`node_out = "drain {{host}}"`).
    fn lookup_nested(
        &self,
        name: &str,
        host: usize,
        run: &RunVars,
        depth: usize,
    ) -> Result<String, RenderError> {
        const MAX_DEPTH: usize = 8;
        let value = self.lookup_flat(name, host, run)?;
        if !value.contains("{{") {
            return Ok(value);
        }
        if depth >= MAX_DEPTH {
            return Err(RenderError {
                name: name.to_string(),
                reason: Some("variables refer to each other in a loop".into()),
            });
        }
        match Template::parse(&value, &value, 0) {
            Ok(t) => t.render(&|inner| self.lookup_nested(inner, host, run, depth + 1)),
            // Braces that are not a variable are kept as written.
            Err(_) => Ok(value),
        }
    }

    fn lookup_flat(&self, name: &str, host: usize, run: &RunVars) -> Result<String, RenderError> {
        let missing = |reason: &str| RenderError {
            name: name.to_string(),
            reason: Some(reason.to_string()),
        };
        if let Some(v) = self.overrides.get(name) {
            return Ok(v.clone());
        }
        let h = &self.hosts[host];
        if let Some(v) = h.vars.get(name).or_else(|| self.vars.get(name)) {
            return Ok(v.clone());
        }
        match name {
            "host" => Ok(h.name.clone()),
            "address" => Ok(h.address.clone()),
            "user" => Ok(h.user.clone()),
            "now" => Ok(crate::clock::now_rfc3339()),
            "run_id" => run.run_id.clone().ok_or_else(|| missing("no run yet")),
            "starts_at" => run
                .starts_at
                .clone()
                .ok_or_else(|| missing("the banner has not gone up yet")),
            _ => {
                if let Some(value) = run.captured.get(name).and_then(|on| on.get(&host)) {
                    return Ok(value.clone());
                }
                match self
                    .steps
                    .iter()
                    .find(|s| s.capture.as_deref() == Some(name))
                {
                    Some(step) => Err(missing(&format!(
                        "captured when step '{}' runs on this host",
                        step.id
                    ))),
                    None => Err(RenderError {
                        name: name.to_string(),
                        reason: None,
                    }),
                }
            }
        }
    }

    pub fn render(
        &self,
        template: &Template,
        host: usize,
        run: &RunVars,
    ) -> Result<String, RenderError> {
        template.render(&|name| self.lookup(name, host, run))
    }

    /// Render banner text, where `{{message}}` is also known.
    pub fn render_banner(
        &self,
        template: &Template,
        host: usize,
        run: &RunVars,
        message: &str,
    ) -> Result<String, RenderError> {
        template.render(&|name| {
            if name == "message" {
                Ok(message.to_string())
            } else {
                self.lookup(name, host, run)
            }
        })
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// Whether the variable (or environment variable) `name` holds a
    /// secret: its name says so, or `[runbook] secrets` lists it.
    pub fn is_secret(&self, name: &str) -> bool {
        is_secret_name(name) || self.secrets.iter().any(|s| s == name)
    }

    /// Values that must never reach the journal, a screen or a log: those of
    /// secret variables, and of secret environment variables.
    pub fn secret_values(&self) -> Vec<String> {
        let mut values: Vec<String> = self
            .vars
            .iter()
            .chain(self.overrides.iter())
            .chain(self.hosts.iter().flat_map(|h| h.vars.iter()))
            .filter(|(k, v)| self.is_secret(k) && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect();
        values.extend(self.secret_env_values());
        values.retain(|v| !v.is_empty());
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        values
    }
}

/// Whether a variable (or environment variable) of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "private_key",
    ]
    .iter()
    .any(|s| n.contains(s))
}
