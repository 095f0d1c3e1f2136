//! Variables and the templates that use them: names, values that use other
//! variables (and loops among them), and the check that every `{{name}}`
//! has a value where it is used.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::Loader;
use super::read::Raw;
use crate::runbook::plan::{HOST_VARS, Plan, RUNTIME_VARS};
use crate::runbook::schema::{self, Text};
use crate::runbook::template::{RenderError, Template};

/// Where a template's variables may be resolved.
#[derive(Clone, Copy)]
pub(super) enum Scope<'a> {
    /// On these hosts.
    Hosts(&'a [usize]),
    /// On these hosts, where `{{message}}` is known too (banner content).
    BannerContent(&'a [usize]),
}

fn unknown_variable(name: &str) -> String {
    format!(
        "unknown variable '{name}'; define it in [vars], in a host's vars, or with --var {name}=VALUE"
    )
}

/// One variable's value as a template, and whether it was written in the
/// runbook (its spans point into it) or given with `--var`.
struct Definition {
    template: Template,
    in_file: bool,
}

/// Why text shown once for all of a step's hosts cannot use a variable.
enum NotShared {
    Unknown,
    PerHost(String),
    RunTime(String),
}

impl<'s> Loader<'s> {
    pub(super) fn template(&mut self, text: &Text) -> Template {
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

    /// Names of `[vars]` or a host's vars, checked.
    pub(super) fn var_names(
        &mut self,
        section: &schema::VarsSection,
        what: &str,
    ) -> BTreeMap<String, String> {
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

    /// Parse a template and check that every variable resolves in `scope`.
    pub(super) fn checked_template(
        &mut self,
        text: &Text,
        plan: &Plan,
        scope: Scope<'_>,
    ) -> Template {
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
                if var.name == "starts_at" && !self.banner_written {
                    self.error(var.span.clone(), "'{{starts_at}}' needs a [banner] section: it is the time the banner announces");
                }
                continue;
            }
            if let Some(problem) = self.captured_use(var.name, plan, hosts) {
                if let Err(message) = problem {
                    self.error(var.span.clone(), message);
                }
                continue;
            }
            if hosts.is_empty() {
                // No host to look on (none written, or none that exists; that
                // is reported on its own): the variable is known if it is
                // defined anywhere.
                if !defined_anywhere(plan, var.name) {
                    self.error(var.span.clone(), unknown_variable(var.name));
                }
                continue;
            }
            let missing: Vec<&str> = hosts
                .iter()
                .filter(|&&h| !plan.is_defined(var.name, h))
                .map(|&h| plan.hosts[h].name.as_str())
                .collect();
            if missing.len() == hosts.len() {
                self.error(var.span.clone(), unknown_variable(var.name));
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

    /// Text shown once for all of a step's `hosts` (a title, notes): its
    /// variables are those of the run (`[vars]`, `--var`); one that differs
    /// from host to host or is known only during the run is an error.
    /// Returns the text with its variables' values. `what` names the text
    /// with its verb: "a step's title is".
    pub(super) fn shared_text(
        &mut self,
        text: &Text,
        plan: &Plan,
        hosts: &[usize],
        what: &str,
    ) -> String {
        let template = self.template(text);
        let mut problems: Vec<(Range<usize>, String)> = Vec::new();
        for var in template.vars() {
            if self.captured_use(var.name, plan, hosts).is_some() {
                problems.push((
                    var.span.clone(),
                    format!(
                        "{what} written before the run starts, and '{{{{{}}}}}' is captured during the run; use it in a command",
                        var.name
                    ),
                ));
                continue;
            }
            let message = match shared_value(plan, hosts, var.name, 0) {
                Ok(_) => continue,
                Err(NotShared::Unknown) => unknown_variable(var.name),
                Err(NotShared::PerHost(culprit)) => format!(
                    "{what} shown once for all its hosts, and '{{{{{culprit}}}}}'{} differs from host to host; use it in a command, or give the value in [vars] or with --var",
                    via(var.name, &culprit)
                ),
                Err(NotShared::RunTime(culprit)) => format!(
                    "{what} written before the run starts, and '{{{{{culprit}}}}}'{} is known only during the run; use it in a command",
                    via(var.name, &culprit)
                ),
            };
            problems.push((var.span, message));
        }
        if !problems.is_empty() {
            for (span, message) in problems {
                self.error(span, message);
            }
            return text.get_ref().clone();
        }
        template
            .render(&|name| {
                shared_value(plan, hosts, name, 0).map_err(|_| RenderError {
                    name: name.to_string(),
                    reason: None,
                })
            })
            .unwrap_or_else(|_| text.get_ref().clone())
    }

    /// Variables used inside variable values must exist, and no variable
    /// may refer to itself, directly or through others.
    pub(super) fn check_var_values(&mut self, raw: &Raw, plan: &Plan) {
        let global = self.definitions(&raw.vars);
        let per_host: Vec<(Option<usize>, BTreeMap<String, Definition>)> = raw
            .hosts
            .iter()
            .map(|(name, h)| (plan.host_index(name.get_ref()), self.definitions(&h.vars)))
            .collect();
        let overrides: BTreeMap<String, Definition> = plan
            .overrides
            .iter()
            .map(|(name, value)| {
                let template =
                    Template::parse(value, value, 0).unwrap_or_else(|_| Template::literal(value));
                let definition = Definition {
                    template,
                    in_file: false,
                };
                (name.clone(), definition)
            })
            .collect();

        let sections =
            std::iter::once((None, &global)).chain(per_host.iter().map(|(h, d)| (*h, d)));
        for (host, section) in sections {
            for definition in section.values() {
                for var in definition.template.vars() {
                    let defined = match host {
                        Some(h) => plan.is_defined(var.name, h),
                        None => {
                            defined_anywhere(plan, var.name)
                                || RUNTIME_VARS.contains(&var.name)
                                || plan.hosts.is_empty()
                        }
                    };
                    if !defined {
                        self.error(var.span.clone(), unknown_variable(var.name));
                    }
                }
            }
        }

        // Which definition a name has depends on the host: look for loops
        // on each, and without hosts among the run's variables alone.
        let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
        let mut scopes = vec![run_scope(&global, None, &overrides)];
        scopes.extend(
            per_host
                .iter()
                .map(|(_, defs)| run_scope(&global, Some(defs), &overrides)),
        );
        for scope in &scopes {
            for cycle in cycles(scope) {
                let mut key = cycle.clone();
                key.sort();
                if reported.insert(key) {
                    self.report_loop(&cycle, scope);
                }
            }
        }
    }

    /// Whether `name` used on `hosts` at this point of the runbook is a
    /// captured variable: `None` when it is not one, else whether it has a
    /// value there (captured by a step before, on each of these hosts).
    fn captured_use(&self, name: &str, plan: &Plan, hosts: &[usize]) -> Option<Result<(), String>> {
        let first = self.captures.get(name)?;
        if defined_anywhere(plan, name) || plan.overrides.contains_key(name) {
            return None;
        }
        let Some((step, on)) = self.captured.get(name) else {
            return Some(Err(format!(
                "captured variable '{name}' is used before step '{first}' captures it"
            )));
        };
        let missing: Vec<&str> = hosts
            .iter()
            .filter(|h| !on.contains(h))
            .map(|&h| plan.hosts[h].name.as_str())
            .collect();
        if missing.is_empty() {
            Some(Ok(()))
        } else {
            Some(Err(format!(
                "variable '{name}' is captured by step '{step}', which does not run on host {}",
                missing.join(", ")
            )))
        }
    }

    fn definitions(&mut self, section: &schema::VarsSection) -> BTreeMap<String, Definition> {
        section
            .iter()
            .map(|(name, value)| {
                let template = if value.get_ref().contains("{{") {
                    self.template(value)
                } else {
                    Template::literal(value.get_ref())
                };
                let definition = Definition {
                    template,
                    in_file: true,
                };
                (name.get_ref().clone(), definition)
            })
            .collect()
    }

    /// A loop, at the first of its references written in the runbook, named
    /// from the variable that reference is in.
    fn report_loop(&mut self, cycle: &[String], scope: &BTreeMap<&str, &Definition>) {
        let mut at: Option<(usize, Range<usize>)> = None;
        for (i, name) in cycle.iter().enumerate() {
            let next = &cycle[(i + 1) % cycle.len()];
            let Some(definition) = scope.get(name.as_str()).filter(|d| d.in_file) else {
                continue;
            };
            if let Some(var) = definition.template.vars().find(|v| v.name == next)
                && at.as_ref().is_none_or(|(_, a)| var.span.start < a.start)
            {
                at = Some((i, var.span));
            }
        }
        let first = at.as_ref().map_or(0, |(i, _)| *i);
        let mut path: Vec<&str> = cycle[first..]
            .iter()
            .chain(&cycle[..first])
            .map(String::as_str)
            .collect();
        let message = match path.as_slice() {
            [only] => format!("variable '{only}' refers to itself"),
            _ => {
                path.push(path[0]);
                format!(
                    "variables refer to each other in a loop: {}",
                    path.join(" -> ")
                )
            }
        };
        match at {
            Some((_, span)) => self.error(span, message),
            None => self.error(0..0, format!("{message} (all given with --var)")),
        }
    }
}

fn run_scope<'a>(
    global: &'a BTreeMap<String, Definition>,
    host_defs: Option<&'a BTreeMap<String, Definition>>,
    overrides: &'a BTreeMap<String, Definition>,
) -> BTreeMap<&'a str, &'a Definition> {
    let mut scope: BTreeMap<&str, &Definition> =
        global.iter().map(|(k, d)| (k.as_str(), d)).collect();
    if let Some(defs) = host_defs {
        scope.extend(defs.iter().map(|(k, d)| (k.as_str(), d)));
    }
    scope.extend(overrides.iter().map(|(k, d)| (k.as_str(), d)));
    scope
}

fn defined_anywhere(plan: &Plan, name: &str) -> bool {
    HOST_VARS.contains(&name)
        || plan.vars.contains_key(name)
        || plan.hosts.iter().any(|h| h.vars.contains_key(name))
}

/// " (used by '{{node}}')" when the culprit is not the variable written.
fn via(written: &str, culprit: &str) -> String {
    if written == culprit {
        String::new()
    } else {
        format!(" (used by '{{{{{written}}}}}')")
    }
}

/// The value of `name` that all of `hosts` share, its own variables resolved.
fn shared_value(
    plan: &Plan,
    hosts: &[usize],
    name: &str,
    depth: usize,
) -> Result<String, NotShared> {
    // Loops are reported on their own; this only has to stop.
    const MAX_DEPTH: usize = 16;
    let value = if let Some(v) = plan.overrides.get(name) {
        v
    } else if HOST_VARS.contains(&name)
        || hosts.iter().any(|&h| plan.hosts[h].vars.contains_key(name))
    {
        return Err(NotShared::PerHost(name.to_string()));
    } else if RUNTIME_VARS.contains(&name) {
        return Err(NotShared::RunTime(name.to_string()));
    } else if let Some(v) = plan.vars.get(name) {
        v
    } else if hosts.is_empty() && defined_anywhere(plan, name) {
        // The step's hosts are in error (reported): nothing more to say.
        return Ok(String::new());
    } else {
        return Err(NotShared::Unknown);
    };
    if !value.contains("{{") || depth >= MAX_DEPTH {
        return Ok(value.clone());
    }
    match Template::parse(value, value, 0) {
        Ok(t) => {
            for var in t.vars() {
                shared_value(plan, hosts, var.name, depth + 1)?;
            }
            t.render(&|inner| {
                shared_value(plan, hosts, inner, depth + 1).map_err(|_| RenderError {
                    name: inner.to_string(),
                    reason: None,
                })
            })
            .map_err(|_| NotShared::Unknown)
        }
        // Braces that are not a variable are kept as written.
        Err(_) => Ok(value.clone()),
    }
}

/// Every loop among the definitions, each once, as the names along it.
fn cycles(scope: &BTreeMap<&str, &Definition>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        scope: &BTreeMap<&'a str, &'a Definition>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
        found: &mut Vec<Vec<String>>,
    ) {
        marks.insert(name, Mark::OnPath);
        path.push(name);
        if let Some(definition) = scope.get(name) {
            for var in definition.template.vars() {
                let Some((&next, _)) = scope.get_key_value(var.name) else {
                    continue;
                };
                match marks.get(next).copied().unwrap_or(Mark::New) {
                    Mark::New => visit(next, scope, marks, path, found),
                    Mark::OnPath => {
                        let start = path.iter().position(|n| *n == next).unwrap_or(0);
                        found.push(path[start..].iter().map(|n| n.to_string()).collect());
                    }
                    Mark::Done => {}
                }
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut found = Vec::new();
    for &name in scope.keys() {
        if marks.get(name).copied().unwrap_or(Mark::New) == Mark::New {
            visit(name, scope, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}
