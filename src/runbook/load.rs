use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diag::{Diagnostic, RunbookErrors};
use super::duration;
use super::plan::*;
use super::schema::{self, Text};
use super::template::Template;

/// Why a runbook could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read runbook {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the runbook is not UTF-8 text (first bad byte at offset {offset}); save it as UTF-8", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{0}")]
    Invalid(RunbookErrors),
}

pub fn load(path: &Path, overrides: &[(String, String)]) -> Result<Plan, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let source = String::from_utf8(bytes).map_err(|e| LoadError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    load_str(path, &source, overrides)
}

pub fn load_str(path: &Path, source: &str, overrides: &[(String, String)]) -> Result<Plan, LoadError> {
    let mut loader = Loader {
        source,
        diags: Vec::new(),
    };
    let plan = loader.load(path, overrides);
    match plan {
        Some(plan) if loader.diags.is_empty() => Ok(plan),
        _ => Err(LoadError::Invalid(RunbookErrors::locate(path, source, loader.diags))),
    }
}

const TOP_LEVEL: &[&str] = &["runbook", "vars", "ssh", "hosts", "logs", "banner", "steps"];
const ID_RULE: &str = "ids are lowercase letters, digits, '-' and '_', starting with a letter or digit";

struct Loader<'s> {
    source: &'s str,
    diags: Vec<Diagnostic>,
}

/// Where a template's variables may be resolved.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// On these hosts.
    Hosts(&'a [usize]),
    /// On these hosts, where `{{message}}` is known too (banner content).
    BannerContent(&'a [usize]),
}

struct Raw {
    runbook: Option<schema::RunbookSection>,
    runbook_present: bool,
    vars: schema::VarsSection,
    ssh: schema::SshSection,
    hosts: Vec<(Text, schema::HostSection)>,
    logs: Vec<(Text, schema::LogSection)>,
    banner: Option<(Range<usize>, schema::BannerSection)>,
    steps: Vec<Spanned<schema::StepSection>>,
    steps_span: Option<Range<usize>>,
}

impl<'s> Loader<'s> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, message));
    }

    fn toml_error(&mut self, err: toml::de::Error, fallback: Range<usize>) {
        let span = err.span().unwrap_or(fallback);
        let message = err.message().trim().replace('\n', " ");
        self.error(span, message);
    }

    fn section<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue<'s>>) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(v),
            Err(e) => {
                self.toml_error(e, value.span());
                None
            }
        }
    }

    fn load(&mut self, path: &Path, overrides: &[(String, String)]) -> Option<Plan> {
        let table = match DeTable::parse(self.source) {
            Ok(t) => t,
            Err(e) => {
                self.toml_error(e, 0..0);
                return None;
            }
        };
        let raw = self.read_sections(table.get_ref());
        self.resolve(path, raw, overrides)
    }

    fn read_sections(&mut self, table: &DeTable<'s>) -> Raw {
        let mut raw = Raw {
            runbook: None,
            runbook_present: false,
            vars: BTreeMap::new(),
            ssh: schema::SshSection::default(),
            hosts: Vec::new(),
            logs: Vec::new(),
            banner: None,
            steps: Vec::new(),
            steps_span: None,
        };
        for (key, value) in table.iter() {
            match key.get_ref().as_ref() {
                "runbook" => {
                    raw.runbook_present = true;
                    raw.runbook = self.section(value);
                }
                "vars" => raw.vars = self.section(value).unwrap_or_default(),
                "ssh" => raw.ssh = self.section(value).unwrap_or_default(),
                "banner" => raw.banner = self.section(value).map(|b| (value.span(), b)),
                "hosts" | "logs" => {
                    let DeValue::Table(entries) = value.get_ref() else {
                        self.error(value.span(), format!("'{}' must be a table of tables, like [{}.NAME]", key.get_ref(), key.get_ref()));
                        continue;
                    };
                    for (name, entry) in entries.iter() {
                        let name_text = Spanned::new(name.span(), name.get_ref().to_string());
                        if key.get_ref() == "hosts" {
                            if let Some(h) = self.section(entry) {
                                raw.hosts.push((name_text, h));
                            }
                        } else if let Some(l) = self.section(entry) {
                            raw.logs.push((name_text, l));
                        }
                    }
                }
                "steps" => {
                    raw.steps_span = Some(value.span());
                    let DeValue::Array(items) = value.get_ref() else {
                        self.error(value.span(), "'steps' must be an array of tables, written [[steps]]");
                        continue;
                    };
                    for item in items.iter() {
                        if let Some(step) = self.section::<schema::StepSection>(item) {
                            raw.steps.push(Spanned::new(item.span(), step));
                        }
                    }
                }
                other => {
                    self.error(
                        key.span(),
                        format!("unknown key '{other}'; expected one of {}", TOP_LEVEL.join(", ")),
                    );
                }
            }
        }
        raw
    }

    fn duration(&mut self, text: &Text) -> Option<Duration> {
        match duration::parse(text.get_ref()) {
            Ok(d) => Some(d),
            Err(msg) => {
                self.error(text.span(), msg);
                None
            }
        }
    }

    fn template(&mut self, text: &Text) -> Template {
        let span = text.span();
        let raw = self.source.get(span.clone()).unwrap_or("");
        match Template::parse(text.get_ref(), raw, span.start) {
            Ok(t) => t,
            Err(e) => {
                self.error(e.span, e.message);
                Template::literal(text.get_ref())
            }
        }
    }

    /// Parse a template and check that every variable resolves in `scope`.
    fn checked_template(&mut self, text: &Text, plan: &Plan, scope: Scope<'_>) -> Template {
        let template = self.template(text);
        let (hosts, message_known) = match scope {
            Scope::Hosts(h) => (h, false),
            Scope::BannerContent(h) => (h, true),
        };
        for var in template.vars() {
            if message_known && var.name == "message" {
                continue;
            }
            if RUNTIME_VARS.contains(&var.name) {
                if var.name == "starts_at" && plan.banner.is_none() {
                    self.error(var.span.clone(), "'{{starts_at}}' needs a [banner] section: it is the time the banner announces");
                }
                continue;
            }
            let missing: Vec<&str> = hosts
                .iter()
                .filter(|&&h| plan.lookup(var.name, h, &RunVars::default()).is_err())
                .map(|&h| plan.hosts[h].name.as_str())
                .collect();
            if missing.len() == hosts.len() || hosts.is_empty() {
                self.error(
                    var.span.clone(),
                    format!(
                        "unknown variable '{}'; define it in [vars], in a host's vars, or with --var {}=VALUE",
                        var.name, var.name
                    ),
                );
            } else if !missing.is_empty() {
                self.error(
                    var.span.clone(),
                    format!(
                        "variable '{}' has no value on host {}; define it in [vars] or in that host's vars",
                        var.name,
                        missing.join(", ")
                    ),
                );
            }
        }
        template
    }

    fn vars(&mut self, section: &schema::VarsSection, what: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in section {
            let name = k.get_ref();
            if HOST_VARS.contains(&name.as_str()) || RUNTIME_VARS.contains(&name.as_str()) {
                self.error(k.span(), format!("'{name}' is a built-in variable and cannot be set in {what}"));
            } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
                self.error(k.span(), format!("'{name}' is not a valid variable name; use letters, digits and '_'"));
            }
            out.insert(name.clone(), v.get_ref().clone());
        }
        out
    }

    /// Resolve host names and `role:NAME` selectors to host indices.
    fn select_hosts(&mut self, names: &[Text], hosts: &[Host]) -> Vec<usize> {
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
                if matching.is_empty() {
                    let known: BTreeMap<&str, ()> = hosts.iter().flat_map(|h| h.roles.iter()).map(|r| (r.as_str(), ())).collect();
                    let known: Vec<&str> = known.keys().copied().collect();
                    self.error(
                        name.span(),
                        format!(
                            "no host has role '{role}'{}",
                            if known.is_empty() { String::new() } else { format!("; roles are: {}", known.join(", ")) }
                        ),
                    );
                }
                picked.extend(matching);
            } else if let Some(i) = hosts.iter().position(|h| &h.name == n) {
                picked.push(i);
            } else {
                let known: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
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

    fn host_ref(&mut self, name: &Text, hosts: &[Host]) -> Option<usize> {
        let found = hosts.iter().position(|h| &h.name == name.get_ref());
        if found.is_none() {
            let known: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            self.error(name.span(), format!("unknown host '{}'; hosts are: {}", name.get_ref(), known.join(", ")));
        }
        found
    }

    fn resolve(&mut self, path: &Path, raw: Raw, overrides: &[(String, String)]) -> Option<Plan> {
        let Some(runbook) = raw.runbook else {
            if !raw.runbook_present {
                self.error(0..0, "missing [runbook] table; start the file with [runbook] and name = \"...\"");
            }
            return None;
        };
        if runbook.name.get_ref().trim().is_empty() {
            self.error(runbook.name.span(), "the runbook's name cannot be empty");
        }
        let mut vars = self.vars(&raw.vars, "[vars]");
        let overrides: BTreeMap<String, String> = overrides.iter().cloned().collect();
        for (k, v) in &overrides {
            vars.insert(k.clone(), v.clone());
        }

        // Hosts.
        let ssh = &raw.ssh;
        let default_timeout = ssh
            .connect_timeout
            .as_ref()
            .and_then(|t| self.duration(t))
            .unwrap_or(Duration::from_secs(10));
        let local_user = whoami::username();
        let mut hosts = Vec::new();
        for (name, h) in &raw.hosts {
            if !valid_id(name.get_ref()) {
                self.error(name.span(), format!("host name '{}' is not valid; {ID_RULE}", name.get_ref()));
            }
            let transport = h.transport.as_ref().map_or(schema::TransportKind::Ssh, |t| *t.get_ref());
            let address = match (&h.address, transport) {
                (Some(a), _) => a.get_ref().clone(),
                (None, schema::TransportKind::Local) => "localhost".to_string(),
                (None, schema::TransportKind::Ssh) => {
                    self.error(name.span(), format!("host '{}' needs an address (or transport = \"local\")", name.get_ref()));
                    String::new()
                }
            };
            let connect_timeout = match &h.connect_timeout {
                Some(t) => self.duration(t).unwrap_or(default_timeout),
                None => default_timeout,
            };
            let user = h.user.as_ref().or(ssh.user.as_ref());
            let port = h.port.as_ref().or(ssh.port.as_ref());
            let host_vars = self.vars(&h.vars, "a host's vars");
            hosts.push(Host {
                name: name.get_ref().clone(),
                transport,
                address,
                user: match (transport, user) {
                    (schema::TransportKind::Local, _) => local_user.clone(),
                    (_, Some(u)) => u.get_ref().clone(),
                    (_, None) => local_user.clone(),
                },
                user_given: user.is_some(),
                port: port.map_or(22, |p| *p.get_ref()),
                port_given: port.is_some(),
                identity: h.identity.as_ref().or(ssh.identity.as_ref()).map(|t| t.get_ref().clone()),
                known_hosts: h.known_hosts.as_ref().or(ssh.known_hosts.as_ref()).map(|t| t.get_ref().clone()),
                host_keys: h
                    .host_keys
                    .as_ref()
                    .or(ssh.host_keys.as_ref())
                    .map_or(HostKeyPolicy::Strict, |p| *p.get_ref()),
                connect_timeout,
                roles: h.roles.iter().map(|r| r.get_ref().clone()).collect(),
                vars: host_vars,
            });
        }
        if hosts.is_empty() {
            self.error(0..0, "the runbook has no hosts; add one, e.g. [hosts.web] with address = \"...\"");
        }

        let mut plan = Plan {
            path: path.to_path_buf(),
            sha256: hex(&Sha256::digest(self.source.as_bytes())),
            name: runbook.name.get_ref().clone(),
            description: runbook.description.clone(),
            theme: runbook.theme.as_ref().map(|t| t.get_ref().clone()),
            lock: Template::literal("~/.drydock.lock"),
            vars,
            overrides,
            hosts,
            logs: Vec::new(),
            banner: None,
            steps: Vec::new(),
        };
        let all_hosts: Vec<usize> = (0..plan.hosts.len()).collect();

        if let Some(lock) = &runbook.lock {
            plan.lock = self.checked_template(lock, &plan, Scope::Hosts(&all_hosts));
        }

        // Banner.
        if let Some((_, b)) = &raw.banner {
            let hosts = match &b.hosts {
                Some(names) => self.select_hosts(names, &plan.hosts),
                None => all_hosts.clone(),
            };
            let lead = b.lead.as_ref().and_then(|l| self.duration(l)).unwrap_or(Duration::ZERO);
            // A placeholder so that `{{starts_at}}` in the banner itself is accepted.
            plan.banner = Some(Banner {
                hosts: hosts.clone(),
                path: Template::literal(""),
                message: Template::literal(""),
                content: None,
                lead,
            });
            let path_t = self.checked_template(&b.path, &plan, Scope::Hosts(&hosts));
            let message = self.checked_template(&b.message, &plan, Scope::Hosts(&hosts));
            let content = b
                .content
                .as_ref()
                .map(|c| self.checked_template(c, &plan, Scope::BannerContent(&hosts)));
            plan.banner = Some(Banner {
                hosts,
                path: path_t,
                message,
                content,
                lead,
            });
        }

        // Logs.
        for (name, l) in &raw.logs {
            let Some(host) = self.host_ref(&l.host, &plan.hosts) else { continue };
            let path_t = self.checked_template(&l.path, &plan, Scope::Hosts(&[host]));
            plan.logs.push(LogSpec {
                name: name.get_ref().clone(),
                host,
                path: path_t,
                highlight: l.highlight.clone(),
            });
        }

        // Steps.
        if raw.steps.is_empty() && raw.steps_span.is_none() && self.diags.is_empty() {
            self.error(0..0, "the runbook has no steps; add at least one [[steps]] table");
        }
        let mut seen_ids: HashMap<String, Range<usize>> = HashMap::new();
        let mut closed_rolling: HashSet<String> = HashSet::new();
        let mut current_rolling: Option<String> = None;
        let mut banner_on_seen = false;
        for step in &raw.steps {
            let span = step.span();
            let s = step.get_ref();
            let id = s.id.get_ref().clone();
            if !valid_id(&id) {
                self.error(s.id.span(), format!("step id '{id}' is not valid; {ID_RULE}"));
            }
            if seen_ids.contains_key(&id) {
                let (line, _) = super::diag::line_col(self.source, seen_ids[&id].start);
                self.error(s.id.span(), format!("duplicate step id '{id}' (first used on line {line})"));
            } else {
                seen_ids.insert(id.clone(), s.id.span());
            }
            if s.title.get_ref().trim().is_empty() {
                self.error(s.title.span(), format!("step '{id}' needs a title"));
            }
            let is_banner = s.banner.is_some();
            let hosts = match &s.hosts {
                Some(names) => {
                    if names.is_empty() {
                        self.error(span.clone(), format!("step '{id}' has an empty hosts list"));
                    }
                    self.select_hosts(names, &plan.hosts)
                }
                None if is_banner => plan.banner.as_ref().map_or(all_hosts.clone(), |b| b.hosts.clone()),
                None => all_hosts.clone(),
            };

            // Exactly one action.
            let mut actions: Vec<(&str, Range<usize>)> = Vec::new();
            if let Some(t) = &s.run { actions.push(("run", t.span())) }
            if let Some(t) = &s.guard { actions.push(("guard", t.span())) }
            if let Some(t) = &s.banner { actions.push(("banner", t.span())) }
            if let Some(t) = &s.wait { actions.push(("wait", t.span())) }
            if let Some(t) = &s.manual { actions.push(("manual", t.span())) }
            if let Some(t) = &s.http { actions.push(("http", t.span())) }
            actions.sort_by_key(|(_, sp)| sp.start);
            if actions.is_empty() {
                self.error(
                    s.id.span(),
                    format!("step '{id}' has no action; give it one of run, guard, banner, wait, manual, http"),
                );
                continue;
            }
            if actions.len() > 1 {
                let names: Vec<&str> = actions.iter().map(|(n, _)| *n).collect();
                self.error(
                    actions[1].1.clone(),
                    format!("step '{id}' has {} actions ({}); a step does exactly one thing", names.len(), names.join(", ")),
                );
                continue;
            }
            let scope = Scope::Hosts(&hosts);
            let action = if let Some(run) = &s.run {
                Action::Run(self.checked_template(run, &plan, scope))
            } else if let Some(g) = &s.guard {
                match self.guard(g, &plan, &hosts) {
                    Some(g) => Action::Guard(g),
                    None => continue,
                }
            } else if let Some(b) = &s.banner {
                if plan.banner.is_none() {
                    self.error(b.span(), "a banner step needs a [banner] section saying where and what to write");
                }
                if *b.get_ref() == BannerSwitch::On {
                    banner_on_seen = true;
                }
                Action::Banner(*b.get_ref())
            } else if let Some(w) = &s.wait {
                if w.get_ref() == "banner" {
                    if plan.banner.is_none() {
                        self.error(w.span(), "wait = \"banner\" needs a [banner] section");
                    } else if !banner_on_seen {
                        self.error(w.span(), "wait = \"banner\" must come after a step with banner = \"on\"");
                    }
                    Action::Wait(WaitFor::Banner)
                } else {
                    match duration::parse(w.get_ref()) {
                        Ok(d) => Action::Wait(WaitFor::For(d)),
                        Err(msg) => {
                            self.error(w.span(), format!("wait must be \"banner\" or a duration: {msg}"));
                            continue;
                        }
                    }
                }
            } else if let Some(m) = &s.manual {
                Action::Manual(self.checked_template(m, &plan, scope))
            } else if let Some(h) = &s.http {
                let h = h.get_ref();
                Action::Http(self.http(&h.url, h.status.as_ref(), h.contains.as_ref(), h.via.as_ref(), &plan, &hosts))
            } else {
                continue;
            };

            // Rolling blocks are consecutive.
            let rolling = s.rolling.as_ref().map(|r| r.get_ref().clone());
            if current_rolling != rolling {
                if let Some(prev) = current_rolling.take() {
                    closed_rolling.insert(prev);
                }
                if let (Some(label), Some(text)) = (&rolling, &s.rolling) {
                    if closed_rolling.contains(label) {
                        self.error(
                            text.span(),
                            format!("rolling block '{label}' was already closed by other steps; the steps of a rolling block must be consecutive"),
                        );
                    }
                }
                current_rolling = rolling.clone();
            }

            let timeout = s.timeout.as_ref().and_then(|t| self.duration(t));
            let preview = s.preview.as_ref().map(|t| self.checked_template(t, &plan, scope));
            let when = s.when.as_ref().map(|t| self.checked_template(t, &plan, scope));
            let undo = s.undo.as_ref().map(|t| self.checked_template(t, &plan, scope));
            plan.steps.push(Step {
                id,
                title: s.title.get_ref().clone(),
                notes: s.notes.clone(),
                hosts,
                action,
                confirm: s.confirm.unwrap_or(false),
                preview,
                when,
                timeout,
                retries: s.retries.as_ref().map_or(0, |r| *r.get_ref()),
                on_failure: s.on_failure.as_ref().map_or(OnFailure::Pause, |o| *o.get_ref()),
                undo,
                always: s.always.unwrap_or(false),
                rolling,
                pty: s.pty.unwrap_or(false),
            });
        }
        Some(plan)
    }

    fn guard(&mut self, g: &Spanned<schema::GuardSection>, plan: &Plan, hosts: &[usize]) -> Option<Guard> {
        let gs = g.get_ref();
        let scope = Scope::Hosts(hosts);
        let mut kinds: Vec<(&str, Range<usize>)> = Vec::new();
        if let Some(t) = &gs.file_absent { kinds.push(("file_absent", t.span())) }
        if let Some(t) = &gs.file_present { kinds.push(("file_present", t.span())) }
        if let Some(t) = &gs.command { kinds.push(("command", t.span())) }
        if let Some(t) = &gs.http { kinds.push(("http", t.span())) }
        kinds.sort_by_key(|(_, s)| s.start);
        if kinds.len() != 1 {
            let span = kinds.get(1).map_or(g.span(), |k| k.1.clone());
            self.error(span, "a guard checks exactly one of file_absent, file_present, command, http");
            return None;
        }
        if gs.http.is_none() {
            for (key, span) in [("status", gs.status.as_ref().map(|s| s.span())), ("contains", gs.contains.as_ref().map(|s| s.span())), ("via", gs.via.as_ref().map(|s| s.span()))] {
                if let Some(span) = span {
                    self.error(span, format!("'{key}' belongs to an http guard"));
                }
            }
        }
        let check = if let Some(t) = &gs.file_absent {
            GuardCheck::FileAbsent(self.checked_template(t, plan, scope))
        } else if let Some(t) = &gs.file_present {
            GuardCheck::FilePresent(self.checked_template(t, plan, scope))
        } else if let Some(t) = &gs.command {
            GuardCheck::Command(self.checked_template(t, plan, scope))
        } else if let Some(t) = &gs.http {
            GuardCheck::Http(self.http(t, gs.status.as_ref(), gs.contains.as_ref(), gs.via.as_ref(), plan, hosts))
        } else {
            return None;
        };
        let poll = gs.poll.as_ref().and_then(|p| self.duration(p)).unwrap_or(Duration::from_secs(10));
        if poll.is_zero() {
            if let Some(p) = &gs.poll {
                self.error(p.span(), "poll must be longer than zero");
            }
        }
        let timeout = gs.timeout.as_ref().and_then(|t| self.duration(t));
        Some(Guard { check, poll, timeout })
    }

    fn http(
        &mut self,
        url: &Text,
        status: Option<&Spanned<u16>>,
        contains: Option<&Text>,
        via: Option<&Text>,
        plan: &Plan,
        hosts: &[usize],
    ) -> HttpCheck {
        let via = via.and_then(|v| self.host_ref(v, &plan.hosts));
        let scope_hosts: Vec<usize> = via.map_or_else(|| hosts.to_vec(), |v| vec![v]);
        let url_t = self.checked_template(url, plan, Scope::Hosts(&scope_hosts));
        if !url.get_ref().starts_with("http://") {
            self.error(url.span(), format!("'{}' is not an http:// URL (https is not supported: check the server's own port)", url.get_ref()));
        }
        if let Some(s) = status {
            if !(100..=599).contains(s.get_ref()) {
                self.error(s.span(), format!("'{}' is not an HTTP status", s.get_ref()));
            }
        }
        HttpCheck {
            url: url_t,
            status: status.map_or(200, |s| *s.get_ref()),
            contains: contains.map(|c| self.checked_template(c, plan, Scope::Hosts(&scope_hosts))),
            via,
        }
    }
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
