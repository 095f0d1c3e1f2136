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
