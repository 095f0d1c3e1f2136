//! From the TOML document to the schema's sections.
//!
//! Reading is lenient so that `check` finds every error in one pass: a key
//! whose value does not fit is reported and left out, and a required key that
//! is missing is reported and given a placeholder; the rest of the table is
//! then read and checked like any other.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::Loader;
use crate::runbook::schema::{self, Text};

const TOP_LEVEL: &[&str] = &[
    "runbook", "vars", "env", "ssh", "hosts", "logs", "banner", "notify", "steps",
];

/// However badly a table is written, reading it stops after this many retries.
const MAX_RETRIES: usize = 256;

/// The sections of a runbook as written, before they are resolved.
pub(super) struct Raw {
    pub runbook: Option<schema::RunbookSection>,
    pub runbook_present: bool,
    pub vars: schema::VarsSection,
    pub env: schema::EnvSection,
    pub ssh: schema::SshSection,
    pub hosts: Vec<(Text, schema::HostSection)>,
    pub logs: Vec<(Text, schema::LogSection)>,
    pub banner: Option<Read<schema::BannerSection>>,
    pub notify: Option<schema::NotifySection>,
    pub steps: Vec<Read<schema::StepSection>>,
    pub steps_span: Option<Range<usize>>,
}

/// A table read leniently, with the keys that were left out.
pub(super) struct Read<T> {
    pub value: T,
    pub span: Range<usize>,
    /// Dotted paths (`run`, `guard.poll`) of keys whose value was refused and
    /// reported: checks that would miss them stay quiet.
    refused: Vec<String>,
}

impl<T> Read<T> {
    pub fn refused(&self, path: &str) -> bool {
        self.refused.iter().any(|r| r == path)
    }
}

/// A required key that was missing (and reported) stands in as an empty
/// string with an empty span; every written string has a span, its quotes.
pub(super) fn is_placeholder(text: &Text) -> bool {
    text.span().is_empty()
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Leave out the innermost key that `span` points into; its dotted path.
fn remove_at(table: &mut DeTable<'_>, span: &Range<usize>) -> Option<String> {
    let key = table
        .iter()
        .find(|(k, v)| contains(&k.span(), span) || contains(&v.span(), span))
        .map(|(k, _)| k.get_ref().to_string())?;
    if let Some(value) = table.get_mut(key.as_str()) {
        let value_span = value.span();
        if let DeValue::Table(inner) = value.get_mut()
            && contains(&value_span, span)
            && let Some(path) = remove_at(inner, span)
        {
            return Some(format!("{key}.{path}"));
        }
    }
    table.remove(key.as_str());
    Some(key)
}

/// The table whose own span is `span` (serde places a missing key there), and
/// its dotted path from `table`.
fn table_at<'t, 'i>(
    table: &'t mut Spanned<DeValue<'i>>,
    span: &Range<usize>,
) -> Option<(&'t mut DeTable<'i>, String)> {
    let own_span = table.span();
    let DeValue::Table(entries) = table.get_mut() else {
        return None;
    };
    if own_span == *span {
        return Some((entries, String::new()));
    }
    for (key, value) in entries.iter_mut() {
        if contains(&value.span(), span) {
            return table_at(value, span).map(|(t, path)| {
                let path = if path.is_empty() {
                    key.get_ref().to_string()
                } else {
                    format!("{}.{path}", key.get_ref())
                };
                (t, path)
            });
        }
    }
    None
}

fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
}

/// serde's wording, in the runbook's terms: keys rather than fields, values
/// quoted with '...', numbers described rather than named by Rust type.
pub(super) fn humanize(message: &str, source: &str, span: &Range<usize>) -> String {
    let mut m = message.trim().replace('\n', " ");
    if m == "duplicate key"
        && let Some(key) = source
            .get(span.clone())
            .filter(|k| !k.is_empty() && !k.contains('\n'))
    {
        return format!("duplicate key '{}'", key.trim().trim_matches('"'));
    }
    for (from, to) in [
        ("unknown field", "unknown key"),
        ("missing field", "missing key"),
        ("unknown variant", "unknown value"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
        ("expected a map", "expected a table"),
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
    pub(super) fn toml_error(&mut self, err: &toml::de::Error, fallback: Range<usize>) {
        let span = err.span().unwrap_or(fallback);
        let message = humanize(err.message(), self.source, &span);
        self.error(span, message);
    }

    /// Read `T` from `value`, reporting every key that does not fit; `None`
    /// when the value is not a table at all (that too is reported).
    fn section<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue<'s>>) -> Option<Read<T>> {
        let mut value = value.clone();
        let mut refused: Vec<String> = Vec::new();
        let mut filled: Vec<String> = Vec::new();
        for _ in 0..MAX_RETRIES {
            let err = match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(read) => {
                    return Some(Read {
                        value: read,
                        span: value.span(),
                        refused,
                    });
                }
                Err(err) => err,
            };
            let span = err.span().unwrap_or(value.span());
            if let Some(field) = missing_field(err.message()) {
                let Some((table, at)) = table_at(&mut value, &span) else {
                    self.toml_error(&err, span);
                    return None;
                };
                let path = if at.is_empty() {
                    field.to_string()
                } else {
                    format!("{at}.{field}")
                };
                if filled.contains(&path) {
                    return None;
                }
                // A key refused for its value is not missing as well.
                if !refused.contains(&path) {
                    self.toml_error(&err, span.clone());
                }
                table.insert(
                    Spanned::new(span.start..span.start, Cow::Owned(field.to_string())),
                    Spanned::new(span.start..span.start, DeValue::String(Cow::Borrowed(""))),
                );
                filled.push(path);
                continue;
            }
            self.toml_error(&err, span.clone());
            let DeValue::Table(table) = value.get_mut() else {
                return None;
            };
            match remove_at(table, &span) {
                Some(path) => refused.push(path),
                None => return None,
            }
        }
        None
    }

    pub(super) fn read_sections(&mut self, table: &DeTable<'s>) -> Raw {
        let mut raw = Raw {
            runbook: None,
            runbook_present: false,
            vars: BTreeMap::new(),
            env: BTreeMap::new(),
            ssh: schema::SshSection::default(),
            hosts: Vec::new(),
            logs: Vec::new(),
            banner: None,
            notify: None,
            steps: Vec::new(),
            steps_span: None,
        };
        for (key, value) in table.iter() {
            match key.get_ref().as_ref() {
                "runbook" => {
                    raw.runbook_present = true;
                    raw.runbook = self.section(value).map(|r| r.value);
                }
                "vars" => {
                    raw.vars = self
                        .vars_section(value, "'vars' must be a table of strings, written [vars]")
                }
                "env" => {
                    if matches!(value.get_ref(), DeValue::Table(_)) {
                        raw.env = self.section(value).map(|e| e.value).unwrap_or_default();
                    } else {
                        self.error(
                            value.span(),
                            "'env' must be a table of strings, written [env]",
                        );
                    }
                }
                "ssh" => raw.ssh = self.section(value).map(|s| s.value).unwrap_or_default(),
                "banner" => {
                    self.banner_written = true;
                    raw.banner = self.section(value);
                }
                "notify" => raw.notify = self.section(value).map(|n| n.value),
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
                            match self.host_section(entry) {
                                Some(h) => raw.hosts.push((name_text, h)),
                                None => self.broken_hosts.push(name.get_ref().to_string()),
                            }
                        } else if let Some(l) = self.section(entry) {
                            raw.logs.push((name_text, l.value));
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
                        if let Some(step) = self.section(item) {
                            raw.steps.push(step);
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

    /// A host's table, its `vars` read entry by entry like `[vars]`.
    fn host_section(&mut self, entry: &Spanned<DeValue<'s>>) -> Option<schema::HostSection> {
        let mut entry = entry.clone();
        let vars = match entry.get_mut() {
            DeValue::Table(table) => table.remove("vars"),
            _ => None,
        };
        let mut host: schema::HostSection = self.section(&entry)?.value;
        if let Some(vars) = vars {
            host.vars = self.vars_section(
                &vars,
                "a host's vars must be a table of strings, like vars = { site = \"...\" }",
            );
        }
        Some(host)
    }

    /// Variables, one entry at a time, so that one value that is not a
    /// string does not make every use of the others an unknown variable.
    pub(super) fn vars_section(
        &mut self,
        value: &Spanned<DeValue<'s>>,
        not_a_table: &str,
    ) -> schema::VarsSection {
        let mut vars = BTreeMap::new();
        let DeValue::Table(entries) = value.get_ref() else {
            self.error(value.span(), not_a_table);
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

    fn read_step(src: &str) -> (Option<Read<schema::StepSection>>, Vec<String>) {
        let doc = DeTable::parse(src).expect("the test TOML parses");
        let mut loader = Loader::new(src);
        let step = doc
            .get_ref()
            .get("steps")
            .map(|s| loader.section::<schema::StepSection>(s))
            .expect("the test has a steps table");
        let messages = loader.diags.iter().map(|d| d.message.clone()).collect();
        (step, messages)
    }

    #[test]
    fn every_bad_key_of_a_table_is_reported_and_the_rest_is_read() {
        let src = "[steps]\nid = \"a\"\ntitle = 5\nretry = 3\nrun = \"echo {{x}}\"\nguard = { poll = 3, file_absent = \"/f\" }\n";
        let (step, messages) = read_step(src);
        let step = step.expect("the step is read");
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("unknown key 'retry'")));
        assert_eq!(
            step.value.run.as_ref().map(|r| r.get_ref().as_str()),
            Some("echo {{x}}")
        );
        // `title` was refused for its type: it is not reported missing too.
        assert!(step.refused("title") && is_placeholder(&step.value.title));
        assert!(step.refused("guard.poll"));
        let guard = step.value.guard.expect("the guard is read");
        assert!(guard.get_ref().file_absent.is_some());
    }

    #[test]
    fn a_missing_key_is_reported_once_and_filled_in() {
        let (step, messages) = read_step("[steps]\ntitle = \"T\"\nrun = \"true\"\n");
        let step = step.expect("the step is read");
        assert_eq!(messages, ["missing key 'id'"]);
        assert!(is_placeholder(&step.value.id));
        assert!(!is_placeholder(&step.value.title));
    }

    #[test]
    fn a_missing_key_of_a_nested_table_is_filled_in_there() {
        let (step, messages) =
            read_step("[steps]\nid = \"a\"\ntitle = \"T\"\nhttp = { status = 200 }\n");
        let step = step.expect("the step is read");
        assert_eq!(messages, ["missing key 'url'"]);
        let http = step.value.http.expect("the http check is read");
        assert!(is_placeholder(&http.get_ref().url));
    }
}
