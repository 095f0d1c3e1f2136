//! The documentation in the repository says what the code does: every key of
//! `drydock schema` has its row in docs/runbook.md, the README's first
//! runbook checks, validates and runs as the README says, and every journal
//! event and field it writes is in docs/journal.md.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read_repo(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn schema() -> Value {
    let out = drydock().arg("schema").output().expect("drydock schema");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("drydock schema prints JSON")
}

/// `schema` with `$ref`s and one-element `allOf`s followed.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/definitions/"))
    {
        return resolve(root, &root["definitions"][name]);
    }
    if let Some([only]) = schema
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        return resolve(root, only);
    }
    schema
}

/// One table of the format: the heading marker its section carries in
/// docs/runbook.md, and its keys.
struct Table {
    marker: String,
    keys: Vec<String>,
}

/// Every table of the schema: `[runbook]`, `[hosts.NAME]`, `[[steps]]`, and
/// the inline tables inside them as `steps.guard`.
fn tables(root: &Value) -> Vec<Table> {
    let mut out = Vec::new();
    let top = root["properties"]
        .as_object()
        .expect("top-level properties");
    for (key, schema) in top {
        let schema = resolve(root, schema);
        let (marker, table) = if schema.get("properties").is_some() {
            (format!("`[{key}]`"), Some(schema))
        } else if let Some(items) = schema.get("items") {
            (format!("`[[{key}]]`"), Some(resolve(root, items)))
        } else if let Some(entry) = schema
            .get("additionalProperties")
            .map(|e| resolve(root, e))
            .filter(|e| e.get("properties").is_some())
        {
            (format!("`[{key}.NAME]`"), Some(entry))
        } else {
            // A table of plain values, like [vars]: its heading is enough.
            (format!("`[{key}]`"), None)
        };
        let Some(table) = table else {
            out.push(Table {
                marker,
                keys: Vec::new(),
            });
            continue;
        };
        let props = table["properties"].as_object().expect("properties");
        for (inner, inner_schema) in props {
            let inner_schema = resolve(root, inner_schema);
            if let Some(inner_props) = inner_schema.get("properties").and_then(Value::as_object) {
                out.push(Table {
                    marker: format!("`{key}.{inner}`"),
                    keys: inner_props.keys().cloned().collect(),
                });
            }
        }
        out.push(Table {
            marker,
            keys: props.keys().cloned().collect(),
        });
    }
    out
}

/// The text of the section whose heading holds `marker`, down to the next
/// heading of the same or a higher level.
fn section<'a>(doc: &'a str, marker: &str) -> Option<&'a str> {
    let level = |line: &str| line.chars().take_while(|c| *c == '#').count();
    let mut offset = 0;
    let mut start: Option<(usize, usize)> = None;
    for line in doc.split_inclusive('\n') {
        let here = level(line);
        if here > 0 {
            match start {
                Some((from, at)) if here <= at => return Some(&doc[from..offset]),
                None if line.contains(marker) => start = Some((offset, here)),
                _ => {}
            }
        }
        offset += line.len();
    }
    start.map(|(from, _)| &doc[from..])
}

#[test]
fn every_key_of_the_schema_has_a_row_in_the_runbook_reference() {
    let root = schema();
    let doc = read_repo("docs/runbook.md");
    let mut missing = Vec::new();
    let tables = tables(&root);
    assert!(
        tables.len() >= 9,
        "the schema's tables are found: {:?}",
        tables.iter().map(|t| &t.marker).collect::<Vec<_>>()
    );
    for table in &tables {
        let Some(text) = section(&doc, &table.marker) else {
            missing.push(format!("a section headed {}", table.marker));
            continue;
        };
        for key in &table.keys {
            let row = format!("| `{key}` |");
            if !text.lines().any(|l| l.starts_with(&row)) {
                missing.push(format!("{key} in {}", table.marker));
            }
        }
    }
    for key in root["properties"].as_object().expect("properties").keys() {
        if !doc.lines().any(|l| l.starts_with(&format!("| `{key}` |"))) {
            missing.push(format!("the top-level key {key}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/runbook.md lacks:\n  {}",
        missing.join("\n  ")
    );
}

/// Every string an `enum` of the schema allows.
fn enum_values(schema: &Value, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(values)) = map.get("enum") {
                out.extend(values.iter().filter_map(Value::as_str).map(str::to_string));
            }
            map.values().for_each(|v| enum_values(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| enum_values(v, out)),
        _ => {}
    }
}

#[test]
fn every_allowed_value_is_in_the_runbook_reference() {
    let mut values = BTreeSet::new();
    enum_values(&schema(), &mut values);
    assert!(values.contains("accept-new"), "enums are found: {values:?}");
    let doc = read_repo("docs/runbook.md");
    let missing: Vec<&String> = values
        .iter()
        .filter(|v| !doc.contains(&format!("\"{v}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/runbook.md never shows these values: {missing:?}"
    );
}

/// The README's first runbook, as written there.
fn first_runbook() -> String {
    let readme = read_repo("README.md");
    let from = readme
        .find("## A first runbook")
        .expect("the README has a first runbook");
    let block = &readme[from..];
    let start = block.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = block[start..].find("```").expect("the block ends") + start;
    block[start..end].to_string()
}

#[test]
fn the_readme_first_runbook_checks_validates_and_runs_as_it_says() {
    let text = first_runbook();
    assert!(
        text.starts_with("#:schema "),
        "it names its schema for Taplo"
    );
    assert!(text.contains("transport = \"local\""));
    for key in ["guard = ", "confirm = true", "undo = "] {
        assert!(text.contains(key), "it shows {key}");
    }

    let schema = schema();
    let validator = jsonschema::draft7::new(&schema).expect("a draft 7 schema");
    let table: toml::Table = toml::from_str(&text).expect("TOML");
    let instance = serde_json::to_value(table).expect("JSON");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    let fx = Fixture::new();
    let runbook = fx.write("first.toml", &text);
    let check = drydock()
        .arg("check")
        .arg(&runbook)
        .output()
        .expect("check");
    assert_eq!(code(&check), 0, "{}", describe(&check));
    assert!(
        stdout(&check).contains("ok: \"First runbook\", 4 steps, 1 host"),
        "{}",
        stdout(&check)
    );
    let plan = drydock().arg("plan").arg(&runbook).output().expect("plan");
    assert_eq!(code(&plan), 0, "{}", describe(&plan));
    assert!(
        stdout(&plan).contains("undo: echo v1 >"),
        "{}",
        stdout(&plan)
    );

    // As the README runs it, with the site in the test's own dir.
    let site = fx.path("site");
    let var = format!("site={}", site.display());
    let done = fx.run(&runbook, &["--var", &var], "y\ny\n");
    assert_eq!(code(&done), 0, "{}", describe(&done));
    assert_eq!(fx.read("site/VERSION"), "v2\n");
    // Run the gate; abort at the next; go through the rollback; run the undo.
    let aborted = fx.run(&runbook, &["--var", &var], "y\na\ny\ny\n");
    assert_eq!(code(&aborted), 3, "{}", describe(&aborted));
    assert_eq!(fx.read("site/VERSION"), "v1\n", "the undo ran");

    // Every event and field those runs wrote is documented.
    let doc = read_repo("docs/journal.md");
    let mut missing = BTreeSet::new();
    for journal in fx.journals() {
        for line in read_journal(&journal) {
            let fields = line.as_object().expect("an object");
            let event = fields["event"].as_str().expect("event");
            if !doc.contains(&format!("### `{event}`")) {
                missing.insert(format!("event {event}"));
            }
            for field in fields.keys() {
                if !doc.contains(&format!("| `{field}` |")) {
                    missing.insert(format!("field {field} of {event}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "docs/journal.md lacks {missing:?}");
}

#[test]
fn the_readme_installs_before_the_demo_and_the_tests() {
    let readme = read_repo("README.md");
    let install = readme
        .find("cargo install --locked --path .")
        .expect("an install line");
    let demo = readme
        .find("cargo run --release -- demo")
        .expect("the demo line");
    let tests = readme.find("scripts/test").expect("the test command");
    assert!(install < demo && install < tests);
}
