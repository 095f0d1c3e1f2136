//! The question of a `banner = "on"` step says, in plain words, what users
//! will see: the message, the file's text and the start time, as the step
//! will publish them. Headless, with the built binary on a local host.

mod common;

use chrono::{DateTime, Utc};
use common::*;

const RUNBOOK: &str = r#"
[runbook]
name = "Banner question"
lock = "{{root}}/lock"

[hosts.web]
transport = "local"

[banner]
path = "{{root}}/maintenance.json"
message = "Down for an update at {{starts_at}}."
content = '{"message": "{{message}}", "starts_at": "{{starts_at}}"}'
lead = "10m"

[[steps]]
id = "banner-on"
title = "Put up the maintenance banner"
confirm = true
banner = "on"
"#;

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("not an RFC 3339 time ({e}): {text}"))
        .with_timezone(&Utc)
}

/// The text between `start` and the next `end` in `text`.
fn between<'t>(text: &'t str, start: &str, end: &str) -> &'t str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in:\n{text}"))
        + start.len();
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{end:?} not after {start:?} in:\n{text}"));
    &text[from..from + len]
}

#[test]
fn the_banner_question_shows_the_message_file_and_start_time_to_be_published() {
    let fx = Fixture::new();
    let rb = fx.write("runbook.toml", RUNBOOK);
    let before = Utc::now();
    let out = fx.run(&rb, &[], "y\n");
    let after = Utc::now();
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    let path = fx.path("maintenance.json").display().to_string();

    // One line in plain words, not a pseudo shell command.
    let head = format!("    web: publishes the maintenance banner at {path}: message \"");
    assert!(text.contains(&head), "{text}");
    assert!(
        !text.contains("web: write the maintenance banner"),
        "the question does not read like a command:\n{text}"
    );
    let announced = time(between(
        &text,
        "starts at about ",
        " (10m00s after it goes up",
    ));
    let lead = chrono::Duration::minutes(10);
    assert!(
        announced >= before + lead - chrono::Duration::seconds(1) && announced <= after + lead,
        "the start time is the time of the question plus the lead: {announced}"
    );
    let message = between(&text, &head, "\", starts at about");
    assert_eq!(
        message,
        format!("Down for an update at {}.", crate_rfc3339(announced))
    );
    // The file's text, as it will be written.
    assert!(
        text.contains("    web: the banner file will hold:"),
        "{text}"
    );
    let shown = between(&text, "    | ", "\n");
    assert_eq!(
        shown,
        format!(
            r#"{{"message": "{message}", "starts_at": "{}"}}"#,
            crate_rfc3339(announced)
        )
    );

    // What was published: the same text, with the time taken when the step
    // ran, at most the question's answer time later.
    let written = fx.read("maintenance.json");
    let published: serde_json::Value =
        serde_json::from_str(&written).unwrap_or_else(|e| panic!("{e}: {written}"));
    let published_at = time(published["starts_at"].as_str().unwrap_or_default());
    assert!(
        published_at >= announced && published_at <= after + lead,
        "published {published_at}, announced about {announced}"
    );
    assert_eq!(
        published["message"].as_str(),
        Some(format!("Down for an update at {}.", crate_rfc3339(published_at)).as_str())
    );
}

/// The way drydock writes times: RFC 3339 to the second, in UTC.
fn crate_rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
