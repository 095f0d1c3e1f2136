//! From runbook text to a [`Plan`], with every problem placed in the source.
//!
//! `read` turns the TOML into the schema's sections, leniently, so that one
//! bad key hides nothing else; then each part of the plan is resolved and
//! checked by its own module: variables and templates (`vars`), hosts, the
//! banner and logs (`hosts`), environment variables (`env`), the steps in
//! order (`steps`) and what each step does (`actions`). Every error is collected; a plan comes out only when
//! there is none.

mod actions;
mod env;
mod hosts;
mod read;
mod steps;
mod sudo;
mod vars;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use toml::de::DeTable;

use super::diag::{Diagnostic, RunbookErrors};
use super::duration;
use super::plan::*;
use super::schema::Text;
use super::template::Template;
use read::{Raw, is_placeholder};
use vars::Scope;

/// Why a runbook could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read runbook {}: {source}", crate::sanitize::line(&path.display().to_string()))]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: the runbook is not UTF-8 text (first bad byte at offset {offset}); save it as UTF-8", crate::sanitize::line(&path.display().to_string()))]
    NotUtf8 {
        path: PathBuf,
        offset: usize,
        line: usize,
        column: usize,
    },
    #[error("{0}")]
    Invalid(RunbookErrors),
    /// A `--var` for a variable the runbook never mentions: mistyped, most
    /// likely, and it would change nothing.
    #[error(
        "--var {name}: the runbook has no variable '{name}' (it never mentions it); {}",
        if known.is_empty() { "it has none".to_string() } else { format!("its variables are {}", known.join(", ")) }
    )]
    UnknownVar { name: String, known: Vec<String> },
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
    let mut loader = Loader::new(source);
    let plan = loader.load(path, overrides);
    match plan {
        Some(mut plan) if loader.diags.is_empty() => {
            if let Some((name, _)) = overrides.iter().find(|(name, _)| !mentions(source, name)) {
                let mut known: Vec<String> = plan
                    .vars
                    .keys()
                    .chain(plan.hosts.iter().flat_map(|h| h.vars.keys()))
                    .filter(|v| mentions(source, v))
                    .cloned()
                    .collect();
                known.sort();
                known.dedup();
                return Err(LoadError::UnknownVar {
                    name: name.clone(),
                    known,
                });
            }
            plan.warnings = RunbookErrors::locate(path, source, loader.warnings).errors;
            tracing::debug!(
                runbook = %path.display(),
                steps = plan.steps.len(),
                hosts = plan.hosts.len(),
                "runbook loaded"
            );
            Ok(plan)
        }
        _ => {
            tracing::debug!(
                runbook = %path.display(),
                errors = loader.diags.len(),
                "runbook refused"
            );
            Err(LoadError::Invalid(RunbookErrors::locate(
                path,
                source,
                loader.diags,
            )))
        }
    }
}

/// Whether `source` names `var` as a whole word anywhere (declared or used):
/// a variable the runbook never names is one no template can use.
fn mentions(source: &str, var: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    source.match_indices(var).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + var.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

const ID_RULE: &str =
    "ids are lowercase letters, digits, '-' and '_', starting with a letter or digit";

struct Loader<'s> {
    source: &'s str,
    diags: Vec<Diagnostic>,
    /// What `check` warns of; the runbook is loaded all the same.
    warnings: Vec<Diagnostic>,
    /// Hosts whose table could not be read at all (reported): naming them is
    /// not another error.
    broken_hosts: Vec<String>,
    /// `[banner]` was written (perhaps with errors, reported): what needs a
    /// banner has one.
    banner_written: bool,
    /// Every `capture` of the runbook: the variable, and the first step that
    /// captures it.
    captures: BTreeMap<String, String>,
    /// The captures of the steps read so far: the variable, its step and the
    /// hosts where it has a value.
    captured: BTreeMap<String, (String, Vec<usize>)>,
}

impl<'s> Loader<'s> {
    fn new(source: &'s str) -> Self {
        Self {
            source,
            diags: Vec::new(),
            warnings: Vec::new(),
            broken_hosts: Vec::new(),
            banner_written: false,
            captures: BTreeMap::new(),
            captured: BTreeMap::new(),
        }
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, message));
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

    /// A timeout or poll interval: zero would never wait, or never stop polling.
    fn nonzero_duration(&mut self, text: &Text, what: &str) -> Option<Duration> {
        let d = self.duration(text)?;
        if d.is_zero() {
            self.error(
                text.span(),
                format!(
                    "{what} '{}' is zero; give it a length, like \"30s\"",
                    text.get_ref()
                ),
            );
            return None;
        }
        Some(d)
    }

    fn load(&mut self, path: &Path, overrides: &[(String, String)]) -> Option<Plan> {
        let table = match DeTable::parse(self.source) {
            Ok(t) => t,
            Err(e) => {
                self.toml_error(&e, 0..0);
                return None;
            }
        };
        let raw = self.read_sections(table.get_ref());
        Some(self.resolve(path, &raw, overrides))
    }

    fn resolve(&mut self, path: &Path, raw: &Raw, overrides: &[(String, String)]) -> Plan {
        self.check_runbook_table(raw);
        let runbook = raw.runbook.as_ref();
        let overrides: BTreeMap<String, String> = overrides.iter().cloned().collect();
        let mut vars = self.var_names(&raw.vars, "[vars]");
        vars.extend(overrides.clone());
        let hosts = self.hosts(raw);
        let mut plan = Plan {
            path: path.to_path_buf(),
            sha256: sha256_hex(self.source.as_bytes()),
            name: runbook
                .map(|r| r.name.get_ref().clone())
                .unwrap_or_default(),
            description: runbook.and_then(|r| r.description.clone()),
            theme: runbook
                .and_then(|r| r.theme.as_ref())
                .map(|t| t.get_ref().clone()),
            secrets: runbook
                .map(|r| r.secrets.iter().map(|s| s.get_ref().clone()).collect())
                .unwrap_or_default(),
            lock: Template::literal("~/.drydock.lock"),
            vars,
            overrides,
            env: BTreeMap::new(),
            hosts,
            logs: Vec::new(),
            banner: None,
            notify: None,
            steps: Vec::new(),
            warnings: Vec::new(),
        };
        self.check_var_values(raw, &plan);
        self.runbook_and_host_env(raw, &mut plan);
        let all_hosts: Vec<usize> = (0..plan.hosts.len()).collect();
        if let Some(lock) = runbook.and_then(|r| r.lock.as_ref()) {
            plan.lock = self.checked_template(lock, &plan, Scope::Hosts(&all_hosts));
        }
        plan.banner = self.banner(raw, &plan);
        plan.logs = self.logs(raw, &plan);
        plan.notify = self.notify(raw);
        plan.steps = self.steps(raw, &plan);
        plan
    }

    /// `[notify]`'s command runs as written: it reads the run's moments from
    /// its environment, not from templates.
    fn notify(&mut self, raw: &Raw) -> Option<Notify> {
        let command = &raw.notify.as_ref()?.command;
        if command.get_ref().trim().is_empty() {
            if !is_placeholder(command) {
                self.error(
                    command.span(),
                    "[notify]'s command cannot be empty; remove [notify] to be told of nothing",
                );
            }
            return None;
        }
        Some(Notify {
            command: command.get_ref().clone(),
        })
    }

    /// Without a usable `[runbook]` the rest is still checked, so that every
    /// error is reported at once.
    fn check_runbook_table(&mut self, raw: &Raw) {
        match &raw.runbook {
            None if !raw.runbook_present => self.error(
                0..0,
                "missing [runbook] table; start the file with [runbook] and name = \"...\"",
            ),
            Some(r) if r.name.get_ref().trim().is_empty() && !is_placeholder(&r.name) => {
                self.error(r.name.span(), "the runbook's name cannot be empty");
            }
            _ => {}
        }
    }
}

/// Whether `id` may name a step or a host: `[a-z0-9][a-z0-9_-]*`.
pub fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The SHA-256 of a runbook file's bytes, in hex, as the journal records it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(src: &str) -> Vec<(usize, usize, String)> {
        match load_str(Path::new("r.toml"), src, &[]) {
            Err(LoadError::Invalid(errors)) => errors
                .errors
                .into_iter()
                .map(|e| (e.line, e.column, e.message))
                .collect(),
            Err(other) => panic!("not a runbook error: {other}"),
            Ok(_) => panic!("the runbook is accepted"),
        }
    }

    fn positions(src: &str) -> Vec<(usize, usize)> {
        errors(src).into_iter().map(|(l, c, _)| (l, c)).collect()
    }

    const HEAD: &str = "[runbook]\nname = \"x\"\n[hosts.web]\ntransport = \"local\"\n";

    #[test]
    fn a_var_the_runbook_never_names_is_refused_and_the_ones_it_has_are_listed() {
        let src = format!(
            "{HEAD}[vars]\nsite = \"/srv/www\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nrun = \"ls {{{{site}}}} {{{{extra}}}}\"\n"
        );
        // `extra` is only used: it must come from the command line.
        let set = |name: &str| {
            vec![
                ("extra".to_string(), "-l".to_string()),
                (name.to_string(), "/srv/staging".to_string()),
            ]
        };
        match load_str(Path::new("r.toml"), &src, &set("sit")) {
            Err(e @ LoadError::UnknownVar { .. }) => assert_eq!(
                e.to_string(),
                "--var sit: the runbook has no variable 'sit' (it never mentions it); its variables are extra, site"
            ),
            other => panic!("a mistyped --var is not refused: {other:?}"),
        }
        // Declared, or only used: both are the runbook's.
        for name in ["site", "extra"] {
            let plan = load_str(Path::new("r.toml"), &src, &set(name));
            assert!(plan.is_ok(), "--var {name}: {:?}", plan.err());
        }
    }

    #[test]
    fn a_bad_runbook_table_does_not_hide_the_other_errors() {
        let src = "[runbook]\nname = \"x\"\nowner = \"ops\"\n[hosts.web]\ntransport = \"local\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nrun = \"{{nope}}\"\n";
        assert_eq!(positions(src), vec![(3, 1), (9, 8)]);
    }

    #[test]
    fn a_step_with_a_schema_error_still_has_its_variables_and_id_checked() {
        let src = format!(
            "{HEAD}[[steps]]\nid = \"Bad Id\"\ntitle = \"A\"\nrun = \"echo {{{{nope}}}}\"\non_failure = \"explode\"\nretry = 3\n"
        );
        let found = errors(&src);
        let at: Vec<(usize, usize)> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(at, vec![(6, 6), (8, 13), (9, 14), (10, 1)], "{found:?}");
    }

    #[test]
    fn a_refused_action_is_not_also_a_missing_action() {
        let src = format!("{HEAD}[[steps]]\nid = \"a\"\ntitle = \"A\"\nbanner = \"sideways\"\n");
        assert_eq!(positions(&src), vec![(8, 10)]);
        let src =
            format!("{HEAD}[[steps]]\nid = \"a\"\ntitle = \"A\"\nguard = {{ command = 5 }}\n");
        assert_eq!(positions(&src), vec![(8, 21)]);
    }

    #[test]
    fn a_missing_id_does_not_stop_the_other_checks() {
        let src = format!("{HEAD}[[steps]]\ntitle = \"\"\nrun = \"{{{{nope}}}}\"\n");
        let found = errors(&src);
        let messages: Vec<&str> = found.iter().map(|(_, _, m)| m.as_str()).collect();
        assert_eq!(messages.len(), 3, "{found:?}");
        assert!(messages[0].contains("missing key 'id'"), "{found:?}");
        assert!(messages[1].contains("needs a title"), "{found:?}");
        assert!(messages[2].contains("unknown variable 'nope'"), "{found:?}");
    }

    #[test]
    fn zero_timeouts_and_polls_are_errors() {
        let src = format!(
            "{HEAD}[[steps]]\nid = \"a\"\ntitle = \"A\"\nrun = \"true\"\ntimeout = \"0s\"\n[[steps]]\nid = \"b\"\ntitle = \"B\"\nguard = {{ command = \"true\", poll = \"0ms\", timeout = \"0m\" }}\n"
        );
        let found = errors(&src);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found.iter().all(|(_, _, m)| m.contains("is zero")),
            "{found:?}"
        );
    }
}
