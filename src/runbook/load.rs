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
    #[error("{}:{line}:{column}: the runbook is not UTF-8 text (first bad byte at offset {offset}); save it as UTF-8", path.display())]
    NotUtf8 {
        path: PathBuf,
        offset: usize,
        line: usize,
        column: usize,
    },
    #[error("{0}")]
    Invalid(RunbookErrors),
}

pub fn load(path: &Path, overrides: &[(String, String)]) -> Result<Plan, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let source = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        // The bytes before the bad one are valid UTF-8, so they place it.
        let valid = std::str::from_utf8(&e.as_bytes()[..offset]).unwrap_or_default();
        let (line, column) = super::diag::line_col(valid, offset);
        LoadError::NotUtf8 {
            path: path.to_path_buf(),
            offset,
            line,
            column,
        }
    })?;
    load_str(path, &source, overrides)
}

pub fn load_str(
    path: &Path,
    source: &str,
    overrides: &[(String, String)],
) -> Result<Plan, LoadError> {
    let mut loader = Loader {
        source,
        diags: Vec::new(),
        broken_hosts: Vec::new(),
        broken_host_vars: HashSet::new(),
        banner_broken: false,
    };
    let plan = loader.load(path, overrides);
    match plan {
        Some(plan) if loader.diags.is_empty() => Ok(plan),
        _ => Err(LoadError::Invalid(RunbookErrors::locate(
            path,
            source,
            loader.diags,
        ))),
    }
}

const TOP_LEVEL: &[&str] = &["runbook", "vars", "ssh", "hosts", "logs", "banner", "steps"];
const ID_RULE: &str =
    "ids are lowercase letters, digits, '-' and '_', starting with a letter or digit";

struct Loader<'s> {
    source: &'s str,
    diags: Vec<Diagnostic>,
    /// Hosts whose table had an error already reported: naming them is not
    /// another error, and the variables they define are not unknown.
    broken_hosts: Vec<String>,
    broken_host_vars: HashSet<String>,
    /// `[banner]` was written but had an error already reported.
    banner_broken: bool,
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
    steps: Vec<RawStep>,
    steps_span: Option<Range<usize>>,
}

enum RawStep {
    Ok(Box<Spanned<schema::StepSection>>),
    /// A step whose table had an error already reported; what could be read
    /// of it keeps later checks (duplicate ids, banner order, rolling blocks)
    /// from reporting errors that are not there.
    Broken {
        id: Option<Text>,
        banner_on: bool,
        rolling: Option<String>,
    },
}

/// A string value of a table written in the runbook, if it has one.
fn str_field(table: &DeTable<'_>, key: &str) -> Option<Text> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .and_then(|(_, v)| match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            _ => None,
        })
}

/// serde's wording, in the runbook's terms: keys rather than fields, values
/// quoted with '...', numbers described rather than named by Rust type.
fn humanize(message: &str, source: &str, span: &Range<usize>) -> String {
    let mut m = message.trim().replace('\n', " ");
    if m == "duplicate key" {
        if let Some(key) = source
            .get(span.clone())
            .filter(|k| !k.is_empty() && !k.contains('\n'))
        {
            return format!("duplicate key '{}'", key.trim().trim_matches('"'));
        }
    }
    for (from, to) in [
        ("unknown field", "unknown key"),
        ("missing field", "missing key"),
        ("unknown variant", "unknown value"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
    ] {
        m = m.replace(from, to);
    }
    m = m.replace('`', "'");
    if let Some((value, tail)) = m
        .strip_prefix("invalid type: string \"")
        .and_then(|r| r.split_once("\", "))
    {
        return format!("'{value}' is a string, {tail}; write it without quotes");
    }
    if m.starts_with("invalid type: ") && m.ends_with("expected a string") {
        m.push_str("; put it in quotes");
    }
    m
}

impl<'s> Loader<'s> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, message));
    }

    fn toml_error(&mut self, err: toml::de::Error, fallback: Range<usize>) {
        let span = err.span().unwrap_or(fallback);
        let message = humanize(err.message(), self.source, &span);
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
                "vars" => raw.vars = self.vars_section(value),
                "ssh" => raw.ssh = self.section(value).unwrap_or_default(),
                "banner" => {
                    raw.banner = self.section(value).map(|b| (value.span(), b));
                    self.banner_broken = raw.banner.is_none();
                }
                "hosts" | "logs" => {
                    let DeValue::Table(entries) = value.get_ref() else {
                        self.error(
                            value.span(),
                            format!(
                                "'{}' must be a table of tables, like [{}.NAME]",
                                key.get_ref(),
                                key.get_ref()
                            ),
                        );
                        continue;
                    };
                    for (name, entry) in entries.iter() {
                        let name_text = Spanned::new(name.span(), name.get_ref().to_string());
                        if key.get_ref() == "hosts" {
                            if let Some(h) = self.section(entry) {
                                raw.hosts.push((name_text, h));
                            } else {
                                self.broken_hosts.push(name.get_ref().to_string());
                                if let DeValue::Table(host) = entry.get_ref() {
                                    if let Some(DeValue::Table(vars)) =
                                        host.get("vars").map(|v| v.get_ref())
                                    {
                                        self.broken_host_vars.extend(
                                            vars.iter().map(|(k, _)| k.get_ref().to_string()),
                                        );
                                    }
                                }
                            }
                        } else if let Some(l) = self.section(entry) {
                            raw.logs.push((name_text, l));
                        }
                    }
                }
                "steps" => {
                    raw.steps_span = Some(value.span());
                    let DeValue::Array(items) = value.get_ref() else {
                        self.error(
                            value.span(),
                            "'steps' must be an array of tables, written [[steps]]",
                        );
                        continue;
                    };
                    for item in items.iter() {
                        if let Some(step) = self.section::<schema::StepSection>(item) {
                            raw.steps
                                .push(RawStep::Ok(Box::new(Spanned::new(item.span(), step))));
                        } else if let DeValue::Table(t) = item.get_ref() {
                            raw.steps.push(RawStep::Broken {
                                id: str_field(t, "id"),
                                banner_on: str_field(t, "banner")
                                    .is_some_and(|b| b.get_ref() == "on"),
                                rolling: str_field(t, "rolling").map(|r| r.get_ref().clone()),
                            });
                        }
                    }
                }
                other => {
                    self.error(
                        key.span(),
                        format!(
                            "unknown key '{other}'; expected one of {}",
                            TOP_LEVEL.join(", ")
                        ),
                    );
                }
            }
        }
        raw
    }

    /// `[vars]`, one entry at a time, so that one value that is not a string
    /// does not make every use of the others an unknown variable.
    fn vars_section(&mut self, value: &Spanned<DeValue<'s>>) -> schema::VarsSection {
        let mut vars = BTreeMap::new();
        let DeValue::Table(entries) = value.get_ref() else {
            self.error(
                value.span(),
                "'vars' must be a table of strings, written [vars]",
            );
            return vars;
        };
        for (k, v) in entries.iter() {
            let name = k.get_ref().to_string();
            let text = match v.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Table(_) | DeValue::Array(_) => {
                    self.error(
                        v.span(),
                        format!("variable '{name}' must be a string, like {name} = \"...\""),
                    );
                    String::new()
                }
                _ => {
                    let raw = self.source.get(v.span()).unwrap_or("").trim().to_string();
                    self.error(
                        v.span(),
                        format!("variable '{name}' must be a string: write {name} = \"{raw}\""),
                    );
                    raw
                }
            };
            vars.insert(Spanned::new(k.span(), name), Spanned::new(v.span(), text));
        }
        vars
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
                if var.name == "starts_at" && plan.banner.is_none() && !self.banner_broken {
                    self.error(var.span.clone(), "'{{starts_at}}' needs a [banner] section: it is the time the banner announces");
                }
                continue;
            }
            if hosts.is_empty() {
                // No host to look on (none written, or none that exists; that
                // is reported on its own): the variable is known if it is
                // defined anywhere.
                let defined = HOST_VARS.contains(&var.name)
                    || plan.vars.contains_key(var.name)
                    || plan.hosts.iter().any(|h| h.vars.contains_key(var.name))
                    || self.broken_host_vars.contains(var.name);
                if !defined {
                    self.error(
                        var.span.clone(),
                        format!(
                            "unknown variable '{}'; define it in [vars], in a host's vars, or with --var {}=VALUE",
                            var.name, var.name
                        ),
                    );
                }
                continue;
            }
            let missing: Vec<&str> = hosts
                .iter()
                .filter(|&&h| !plan.is_defined(var.name, h))
                .map(|&h| plan.hosts[h].name.as_str())
                .collect();
            if missing.len() == hosts.len() && self.broken_host_vars.contains(var.name) {
                // Defined by a host whose table has an error already reported.
            } else if missing.len() == hosts.len() {
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

    /// Variables used inside variable values must exist somewhere.
    fn check_nested_vars(&mut self, raw: &Raw, plan: &Plan) {
        let host_sections = raw
            .hosts
            .iter()
            .map(|(name, h)| (plan.host_index(name.get_ref()), &h.vars));
        let sections = std::iter::once((None, &raw.vars)).chain(host_sections);
        for (host, section) in sections {
            for value in section.values() {
                if !value.get_ref().contains("{{") {
                    continue;
                }
                let template = self.template(value);
                for var in template.vars() {
                    let defined = match host {
                        Some(h) => plan.is_defined(var.name, h),
                        None => {
                            (0..plan.hosts.len()).any(|h| plan.is_defined(var.name, h))
                                || plan.hosts.is_empty()
                        }
                    };
                    if !defined && !self.broken_host_vars.contains(var.name) {
                        self.error(
                            var.span.clone(),
                            format!("unknown variable '{}'; define it in [vars], in a host's vars, or with --var {}=VALUE", var.name, var.name),
                        );
                    }
                }
            }
        }
    }

    fn vars(&mut self, section: &schema::VarsSection, what: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in section {
            let name = k.get_ref();
            if HOST_VARS.contains(&name.as_str()) || RUNTIME_VARS.contains(&name.as_str()) {
                self.error(
                    k.span(),
                    format!("'{name}' is a built-in variable and cannot be set in {what}"),
                );
            } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || name.is_empty()
            {
                self.error(
                    k.span(),
                    format!("'{name}' is not a valid variable name; use letters, digits and '_'"),
                );
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
                if matching.is_empty() && self.broken_hosts.is_empty() {
                    let known: BTreeMap<&str, ()> = hosts
                        .iter()
                        .flat_map(|h| h.roles.iter())
                        .map(|r| (r.as_str(), ()))
                        .collect();
                    let known: Vec<&str> = known.keys().copied().collect();
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

    fn host_ref(&mut self, name: &Text, hosts: &[Host]) -> Option<usize> {
        let found = hosts.iter().position(|h| &h.name == name.get_ref());
        if found.is_none() && !self.broken_hosts.contains(name.get_ref()) {
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

    fn resolve(&mut self, path: &Path, raw: Raw, overrides: &[(String, String)]) -> Option<Plan> {
        // Without a usable [runbook] the rest is still checked, so that every
        // error is reported at once.
        let runbook = raw.runbook.as_ref();
        match runbook {
            None if !raw.runbook_present => {
                self.error(
                    0..0,
                    "missing [runbook] table; start the file with [runbook] and name = \"...\"",
                );
            }
            None => {}
            Some(r) if r.name.get_ref().trim().is_empty() => {
                self.error(r.name.span(), "the runbook's name cannot be empty");
            }
            Some(_) => {}
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
                self.error(
                    name.span(),
                    format!("host name '{}' is not valid; {ID_RULE}", name.get_ref()),
                );
            }
            let transport = h
                .transport
                .as_ref()
                .map_or(schema::TransportKind::Ssh, |t| *t.get_ref());
            let address = match (&h.address, transport) {
                (Some(a), _) => a.get_ref().clone(),
                (None, schema::TransportKind::Local) => "localhost".to_string(),
                (None, schema::TransportKind::Ssh) => {
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
                vars: host_vars,
            });
        }
        if hosts.is_empty() && self.broken_hosts.is_empty() {
            self.error(
                0..0,
                "the runbook has no hosts; add one, e.g. [hosts.web] with address = \"...\"",
            );
        }

        let mut plan = Plan {
            path: path.to_path_buf(),
            sha256: hex(&Sha256::digest(self.source.as_bytes())),
            name: runbook
                .map(|r| r.name.get_ref().clone())
                .unwrap_or_default(),
            description: runbook.and_then(|r| r.description.clone()),
            theme: runbook
                .and_then(|r| r.theme.as_ref())
                .map(|t| t.get_ref().clone()),
            lock: Template::literal("~/.drydock.lock"),
            vars,
            overrides,
            hosts,
            logs: Vec::new(),
            banner: None,
            steps: Vec::new(),
        };
        let all_hosts: Vec<usize> = (0..plan.hosts.len()).collect();
        self.check_nested_vars(&raw, &plan);

        if let Some(lock) = runbook.and_then(|r| r.lock.as_ref()) {
            plan.lock = self.checked_template(lock, &plan, Scope::Hosts(&all_hosts));
        }

        // Banner.
        if let Some((_, b)) = &raw.banner {
            let hosts = match &b.hosts {
                Some(names) => self.select_hosts(names, &plan.hosts),
                None => all_hosts.clone(),
            };
            let lead = b
                .lead
                .as_ref()
                .and_then(|l| self.duration(l))
                .unwrap_or(Duration::ZERO);
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
            let Some(host) = self.host_ref(&l.host, &plan.hosts) else {
                continue;
            };
            let path_t = self.checked_template(&l.path, &plan, Scope::Hosts(&[host]));
            plan.logs.push(LogSpec {
                name: name.get_ref().clone(),
                host,
                path: path_t,
                highlight: l.highlight.clone(),
            });
        }

        // Steps.
        if raw.steps.is_empty() && raw.steps_span.is_none() {
            self.error(
                0..0,
                "the runbook has no steps; add at least one [[steps]] table",
            );
        }
        let mut seen_ids: HashMap<String, Range<usize>> = HashMap::new();
        let mut closed_rolling: HashSet<String> = HashSet::new();
        let mut current_rolling: Option<String> = None;
        let mut banner_on_seen = false;
        for step in &raw.steps {
            let step = match step {
                RawStep::Ok(step) => step,
                RawStep::Broken {
                    id,
                    banner_on,
                    rolling,
                } => {
                    if let Some(id) = id {
                        if let Some(first) = seen_ids.get(id.get_ref()) {
                            let (line, _) = super::diag::line_col(self.source, first.start);
                            self.error(
                                id.span(),
                                format!(
                                    "duplicate step id '{}' (first used on line {line})",
                                    id.get_ref()
                                ),
                            );
                        } else {
                            seen_ids.insert(id.get_ref().clone(), id.span());
                        }
                    }
                    banner_on_seen |= banner_on;
                    if current_rolling != *rolling {
                        if let Some(prev) = current_rolling.take() {
                            closed_rolling.insert(prev);
                        }
                        current_rolling = rolling.clone();
                    }
                    continue;
                }
            };
            let span = step.span();
            let s = step.get_ref();
            let id = s.id.get_ref().clone();
            if !valid_id(&id) {
                self.error(
                    s.id.span(),
                    format!("step id '{id}' is not valid; {ID_RULE}"),
                );
            }
            if seen_ids.contains_key(&id) {
                let (line, _) = super::diag::line_col(self.source, seen_ids[&id].start);
                self.error(
                    s.id.span(),
                    format!("duplicate step id '{id}' (first used on line {line})"),
                );
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
                None if is_banner => plan
                    .banner
                    .as_ref()
                    .map_or(all_hosts.clone(), |b| b.hosts.clone()),
                None => all_hosts.clone(),
            };

            // Exactly one action.
            let mut actions: Vec<(&str, Range<usize>)> = Vec::new();
            if let Some(t) = &s.run {
                actions.push(("run", t.span()))
            }
            if let Some(t) = &s.guard {
                actions.push(("guard", t.span()))
            }
            if let Some(t) = &s.banner {
                actions.push(("banner", t.span()))
            }
            if let Some(t) = &s.wait {
                actions.push(("wait", t.span()))
            }
            if let Some(t) = &s.manual {
                actions.push(("manual", t.span()))
            }
            if let Some(t) = &s.http {
                actions.push(("http", t.span()))
            }
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
                    format!(
                        "step '{id}' has {} actions ({}); a step does exactly one thing",
                        names.len(),
                        names.join(", ")
                    ),
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
                if plan.banner.is_none() && !self.banner_broken {
                    self.error(
                        b.span(),
                        "a banner step needs a [banner] section saying where and what to write",
                    );
                }
                if *b.get_ref() == BannerSwitch::On {
                    banner_on_seen = true;
                }
                Action::Banner(*b.get_ref())
            } else if let Some(w) = &s.wait {
                if w.get_ref() == "banner" {
                    if plan.banner.is_none() {
                        if !self.banner_broken {
                            self.error(w.span(), "wait = \"banner\" needs a [banner] section");
                        }
                    } else if !banner_on_seen {
                        self.error(
                            w.span(),
                            "wait = \"banner\" must come after a step with banner = \"on\"",
                        );
                    }
                    Action::Wait(WaitFor::Banner)
                } else {
                    match duration::parse(w.get_ref()) {
                        Ok(d) => Action::Wait(WaitFor::For(d)),
                        Err(msg) => {
                            self.error(
                                w.span(),
                                format!("wait must be \"banner\" or a duration: {msg}"),
                            );
                            continue;
                        }
                    }
                }
            } else if let Some(m) = &s.manual {
                Action::Manual(self.checked_template(m, &plan, scope))
            } else if let Some(h) = &s.http {
                let h = h.get_ref();
                Action::Http(self.http(
                    &h.url,
                    h.status.as_ref(),
                    h.contains.as_ref(),
                    h.via.as_ref(),
                    &plan,
                    &hosts,
                ))
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
            let preview = s
                .preview
                .as_ref()
                .map(|t| self.checked_template(t, &plan, scope));
            let when = s
                .when
                .as_ref()
                .map(|t| self.checked_template(t, &plan, scope));
            let undo = s
                .undo
                .as_ref()
                .map(|t| self.checked_template(t, &plan, scope));
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
                on_failure: s
                    .on_failure
                    .as_ref()
                    .map_or(OnFailure::Pause, |o| *o.get_ref()),
                undo,
                always: s.always.unwrap_or(false),
                rolling,
                pty: s.pty.unwrap_or(false),
            });
        }
        Some(plan)
    }

    fn guard(
        &mut self,
        g: &Spanned<schema::GuardSection>,
        plan: &Plan,
        hosts: &[usize],
    ) -> Option<Guard> {
        let gs = g.get_ref();
        let scope = Scope::Hosts(hosts);
        let mut kinds: Vec<(&str, Range<usize>)> = Vec::new();
        if let Some(t) = &gs.file_absent {
            kinds.push(("file_absent", t.span()))
        }
        if let Some(t) = &gs.file_present {
            kinds.push(("file_present", t.span()))
        }
        if let Some(t) = &gs.command {
            kinds.push(("command", t.span()))
        }
        if let Some(t) = &gs.http {
            kinds.push(("http", t.span()))
        }
        kinds.sort_by_key(|(_, s)| s.start);
        if kinds.len() != 1 {
            let span = kinds.get(1).map_or(g.span(), |k| k.1.clone());
            self.error(
                span,
                "a guard checks exactly one of file_absent, file_present, command, http",
            );
            return None;
        }
        if gs.http.is_none() {
            for (key, span) in [
                ("status", gs.status.as_ref().map(|s| s.span())),
                ("contains", gs.contains.as_ref().map(|s| s.span())),
                ("via", gs.via.as_ref().map(|s| s.span())),
            ] {
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
            GuardCheck::Http(self.http(
                t,
                gs.status.as_ref(),
                gs.contains.as_ref(),
                gs.via.as_ref(),
                plan,
                hosts,
            ))
        } else {
            return None;
        };
        let poll = gs
            .poll
            .as_ref()
            .and_then(|p| self.duration(p))
            .unwrap_or(Duration::from_secs(10));
        if poll.is_zero() {
            if let Some(p) = &gs.poll {
                self.error(p.span(), "poll must be longer than zero");
            }
        }
        let timeout = gs.timeout.as_ref().and_then(|t| self.duration(t));
        Some(Guard {
            check,
            poll,
            timeout,
        })
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
        let via = via.and_then(|v| {
            if v.get_ref().trim() == "{{host}}" {
                Some(Via::Itself)
            } else {
                self.host_ref(v, &plan.hosts).map(Via::Host)
            }
        });
        let scope_hosts: Vec<usize> = match via {
            Some(Via::Host(v)) => vec![v],
            _ => hosts.to_vec(),
        };
        let url_t = self.checked_template(url, plan, Scope::Hosts(&scope_hosts));
        // A URL that starts with a variable is checked once rendered.
        if !url.get_ref().starts_with("http://") && !url.get_ref().starts_with("{{") {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_wording_is_put_in_the_runbook_terms() {
        let src = "run = \"a\"\nrun = \"b\"\n";
        assert_eq!(
            humanize("duplicate key", src, &(10..13)),
            "duplicate key 'run'"
        );
        assert_eq!(
            humanize("unknown field `retry`, expected `retries`", "", &(0..0)),
            "unknown key 'retry', expected 'retries'"
        );
        assert_eq!(
            humanize("invalid type: string \"3\", expected u32", "", &(0..0)),
            "'3' is a string, expected a whole number; write it without quotes"
        );
        assert_eq!(
            humanize("invalid type: integer `5`, expected a string", "", &(0..0)),
            "invalid type: integer '5', expected a string; put it in quotes"
        );
    }

    #[test]
    fn a_bad_runbook_table_does_not_hide_the_other_errors() {
        let src = "[runbook]\nname = \"x\"\nowner = \"ops\"\n[hosts.web]\ntransport = \"local\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nrun = \"{{nope}}\"\n";
        let Err(LoadError::Invalid(errors)) = load_str(Path::new("r.toml"), src, &[]) else {
            panic!("the runbook is refused");
        };
        let at: Vec<(usize, usize)> = errors.errors.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(at, vec![(3, 1), (9, 8)], "{errors}");
    }
}
