//! Secrets by running the binary: a secret variable used in a `when`
//! condition, a title, a preview, a guard command that times out and the
//! stderr of a failing command (and one named only by `[runbook] secrets`)
//! appears in no journal line and no headless line. The TUI and `drydock
//! logs` are checked in tests/tui_tmux.rs with the same runbook.

mod common;

use common::*;

const RUNBOOK: &str = include_str!("secrets/secrets.toml");
const SECRETS: [&str; 2] = ["hunter2-in-vars", "key-body-9f3a51"];

#[test]
fn secret_values_reach_no_journal_line_and_no_headless_line() {
    let fx = Fixture::new();
    let rb = fx.write("secrets.toml", RUNBOOK);
    let var = format!("dir={}", fx.root());
    // The gate: run; the failure: skip.
    let out = fx.run(&rb, &["--var", &var], "y\ns\n");
    let text = describe(&out);
    assert_eq!(
        code(&out),
        1,
        "the guard timed out and the run went on: {text}"
    );
    let journal_text = std::fs::read_to_string(&fx.journals()[0]).expect("journal");
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in the output:\n{text}");
        assert!(
            !journal_text.contains(secret),
            "{secret} in the journal:\n{journal_text}"
        );
    }
    // Each way in was taken, and shows the secret replaced.
    let journal = fx.journal();
    let condition = events(&journal, "condition", Some("maybe"));
    assert_eq!(condition.len(), 1, "{journal:#?}");
    assert_eq!(condition[0]["holds"], false);
    assert_eq!(condition[0]["command"], "test '********' = nope");
    assert_eq!(status(&journal, "maybe", "web").as_deref(), Some("skipped"));
    let preview = events(&journal, "preview", Some("look"));
    assert_eq!(preview[0]["lines"][0], "previewing with ********");
    assert!(text.contains("Look with ********"), "{text}");
    assert_eq!(
        status(&journal, "wait-key", "web").as_deref(),
        Some("timeout")
    );
    let guard = events(&journal, "step_started", Some("wait-key"));
    assert!(
        guard[0]["command"]
            .as_str()
            .is_some_and(|c| c.contains("echo ********")),
        "{journal:#?}"
    );
    assert_eq!(
        output_lines(&journal, "fail", "web", "stderr"),
        ["denied for ********"]
    );
    assert!(
        text.contains("web ! denied for ********"),
        "the failure question shows the stderr, redacted: {text}"
    );
}

/// A step that captures a secret (a variable with a secret's name) from a
/// file: its stdout shows nowhere, its value is `********` in the record,
/// and the steps after it still get the real value.
#[test]
fn a_captured_secret_is_used_and_never_shown() {
    const TOKEN: &str = "tok-7c41e9-from-the-file";
    let fx = Fixture::new();
    fx.write("token.txt", &format!("{TOKEN}\n"));
    let rb = fx.write(
        "capture.toml",
        r#"
[runbook]
name = "Captured secret"
lock = "{{root}}/lock"

[hosts.web]
transport = "local"

[[steps]]
id = "read-token"
title = "Read the token"
run = "echo reading >&2; cat {{root}}/token.txt"
capture = "api_token"

[[steps]]
id = "use"
title = "Use it"
run = "test '{{api_token}}' = tok-7c41e9-from-the-file && echo used {{api_token}} && echo {{api_token}} > {{root}}/used.txt"
"#,
    );
    let out = fx.run(&rb, &["--yes"], "");
    let text = describe(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert_eq!(
        fx.read("used.txt").trim(),
        TOKEN,
        "the next step got the real value"
    );
    let journal_text = std::fs::read_to_string(&fx.journals()[0]).expect("journal");
    assert!(!text.contains(TOKEN), "the token in the output:\n{text}");
    assert!(
        !journal_text.contains(TOKEN),
        "the token in the journal:\n{journal_text}"
    );
    let journal = fx.journal();
    let capture = events(&journal, "capture", Some("read-token"));
    assert_eq!(capture.len(), 1, "{journal:#?}");
    assert_eq!(capture[0]["value"], "********");
    // Its stderr still shows; its stdout is said to be hidden.
    assert_eq!(
        output_lines(&journal, "read-token", "web", "stderr"),
        ["reading"]
    );
    assert!(output_lines(&journal, "read-token", "web", "stdout").is_empty());
    let notices = events(&journal, "notice", Some("read-token"));
    assert!(
        notices[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("kept as the secret {{api_token}}")),
        "{journal:#?}"
    );
    assert_eq!(
        output_lines(&journal, "use", "web", "stdout"),
        ["used ********"]
    );
    assert!(text.contains("used ********"), "{text}");
}

/// `show` titles its steps from the runbook: a secret in a title is stars
/// there too, in text and in JSON.
#[test]
fn show_names_a_step_whose_title_holds_a_secret_without_it() {
    let fx = Fixture::new();
    let rb = fx.write(
        "titled.toml",
        "[runbook]\nname = \"titled\"\nlock = \"{{root}}/lock\"\nsecrets = [\"db_password\"]\n\n\
         [vars]\ndb_password = \"hunter2-in-a-title\"\n\n\
         [hosts.web]\ntransport = \"local\"\n\n\
         [[steps]]\nid = \"load\"\ntitle = \"Load the dump with {{db_password}}\"\nrun = \"true\"\n",
    );
    let out = fx.run(&rb, &["--yes"], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let run_id = fx.journals()[0]
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .expect("a run id");
    for args in [vec!["show", &run_id], vec!["show", &run_id, "--json"]] {
        let shown = drydock()
            .args(&args)
            .arg("--journal-dir")
            .arg(fx.journal_dir())
            .output()
            .expect("drydock show");
        let text = describe(&shown);
        assert_eq!(code(&shown), 0, "{text}");
        assert!(!text.contains("hunter2-in-a-title"), "{args:?}: {text}");
        assert!(
            text.contains("Load the dump with ********"),
            "{args:?}: {text}"
        );
    }
}
