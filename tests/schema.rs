//! `drydock schema` prints a JSON Schema that every runbook we ship passes
//! and that refuses what `drydock check` refuses for its keys: the schema
//! read from the binary, each TOML file turned into JSON, checked by a JSON
//! Schema validator.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn schema() -> Value {
    let out = drydock().arg("schema").output().expect("drydock schema");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("drydock schema prints JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft7::new(&schema()).expect("the schema is a valid draft 7 schema")
}

fn as_json(toml_text: &str) -> Value {
    let table: toml::Table = toml::from_str(toml_text).expect("the runbook is TOML");
    serde_json::to_value(table).expect("TOML converts to JSON")
}

/// The validator's complaints about `toml_text`, one line each.
fn errors(validator: &jsonschema::Validator, toml_text: &str) -> Vec<String> {
    let instance = as_json(toml_text);
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// `config.example.toml`, every file in `examples/`, and the TUI tests' runbook.
fn shipped_runbooks() -> Vec<PathBuf> {
    let mut paths = vec![repo("config.example.toml"), repo("tests/tui/local.toml")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo("examples"))
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 5, "the examples are found: {examples:?}");
    paths.extend(examples);
    paths
}

#[test]
fn the_schema_is_draft_7_and_names_the_top_level_tables() {
    let schema = schema();
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-07/schema#",
        "Taplo reads draft 7"
    );
    let top: Vec<&str> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        top,
        [
            "banner", "env", "hosts", "logs", "notify", "runbook", "ssh", "steps", "vars"
        ]
    );
    assert_eq!(
        schema["required"],
        serde_json::json!(["runbook", "hosts", "steps"])
    );
}

#[test]
fn every_shipped_runbook_validates() {
    let validator = validator();
    for path in shipped_runbooks() {
        let text = std::fs::read_to_string(&path).expect("read runbook");
        let errors = errors(&validator, &text);
        assert!(
            errors.is_empty(),
            "{} does not validate:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
}

const SMALL: &str = r#"
[runbook]
name = "Small"

[hosts.here]
transport = "local"

[[steps]]
id = "hello"
title = "Say hello"
run = "echo hello"
guard_extra
"#;

/// SMALL with `line` in place of the marker (or nothing).
fn small(line: &str) -> String {
    SMALL.replace("guard_extra", line)
}

#[test]
fn a_small_runbook_validates_and_check_agrees() {
    let validator = validator();
    let text = small("");
    assert_eq!(errors(&validator, &text), Vec::<String>::new());
    let fx = Fixture::new();
    let path = fx.write("small.toml", &text);
    let out = drydock().arg("check").arg(&path).output().expect("check");
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

#[test]
fn unknown_keys_are_refused_at_every_level() {
    let validator = validator();
    let cases = [
        (small("retry = 3"), "/steps/0"),
        (
            small("guard = { file_absent = \"/x\", every = \"5s\" }"),
            "/steps/0/guard",
        ),
        (format!("owner = \"ops\"\n{}", small("")), ""),
        (
            small("").replace("[runbook]\n", "[runbook]\nversion = \"2\"\n"),
            "/runbook",
        ),
        (
            small("").replace(
                "transport = \"local\"",
                "transport = \"local\"\nhostname = \"x\"",
            ),
            "/hosts/here",
        ),
    ];
    for (text, at) in cases {
        let errors = errors(&validator, &text);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("{at}: ")) && e.contains("Additional properties")),
            "an unknown key at '{at}' is refused: {errors:?}\n{text}"
        );
        // The schema and the loader agree.
        let fx = Fixture::new();
        let path = fx.write("unknown.toml", &text);
        let out = drydock().arg("check").arg(&path).output().expect("check");
        assert_eq!(code(&out), 2, "check refuses it too: {}", describe(&out));
    }
}

#[test]
fn values_of_the_wrong_kind_are_refused() {
    let validator = validator();
    for (line, what) in [
        ("on_failure = \"explode\"", "an unknown on_failure"),
        ("retries = \"3\"", "a number in quotes"),
        ("confirm = \"yes\"", "a boolean in quotes"),
        ("timeout = 30", "a duration without quotes"),
    ] {
        assert!(
            !errors(&validator, &small(line)).is_empty(),
            "{what} is refused: {line}"
        );
    }
    let bad_transport = small("").replace("\"local\"", "\"telnet\"");
    assert!(!errors(&validator, &bad_transport).is_empty());
}
