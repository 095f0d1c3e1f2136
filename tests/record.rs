//! The run as a record people read, by running the binary: `show` (text and
//! JSON), `history --json`, `[notify]`, `--help` and completions.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use serde_json::Value;

/// Two local hosts; `deploy` (gated, on alpha only) fails every time;
/// `migrate` and `finish` come after it.
const SCRIPTED: &str = r#"
[runbook]
name = "Scripted"
lock = "{{root}}/{{host}}.lock"

[hosts.alpha]
transport = "local"

[hosts.beta]
transport = "local"

[[steps]]
id = "prepare"
title = "Prepare"
run = "echo prepared"

[[steps]]
id = "deploy"
title = "Deploy the code"
confirm = true
hosts = ["alpha"]
run = "echo trying; echo 'disk full' >&2; exit 3"
undo = "echo undoing"

[[steps]]
id = "migrate"
title = "Migrate"
run = "echo migrated"

[[steps]]
id = "finish"
title = "Finish"
run = "echo done"
"#;

fn show(fx: &Fixture, args: &[&str]) -> Output {
    drydock()
        .arg("show")
        .args(args)
        .arg("--journal-dir")
        .arg(fx.journal_dir())
        .output()
        .expect("drydock show")
}

fn run_id(journal: &Path) -> String {
    journal
        .file_stem()
        .expect("a journal's name")
        .to_string_lossy()
        .into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(out)))
}

#[test]
fn show_lists_every_answer_the_failures_and_what_was_left_undone() {
    let fx = Fixture::new();
    let rb = fx.write("runbook.toml", SCRIPTED);
    // run the gate; retry the failure; undo; abort.
    let out = fx.run(&rb, &[], "y\nr\nu\na\n");
    assert_eq!(code(&out), 3, "{}", describe(&out));
    let id = run_id(&fx.journals()[0]);

    let out = show(&fx, &[&id]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("run      {id}")), "{text}");
    assert!(text.contains("result   aborted (exit 3)"), "{text}");
    assert!(text.contains("deploy  Deploy the code"), "{text}");
    let answers: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "answers")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(answers.len(), 4, "{text}");
    // The gate, then three answers to the failure question, named as such.
    let asked = [
        "deploy: run",
        "deploy, failed: retry",
        "deploy, failed: undo",
        "deploy, failed: abort",
    ];
    for (line, answer) in answers.iter().zip(asked) {
        assert!(
            line.ends_with(&format!("{answer}  by admin")),
            "{line} in {text}"
        );
    }
    assert!(text.contains("failed in "), "{text}");
    assert!(text.contains("2 attempts"), "{text}");
    assert!(text.contains("attempt 2 failed: exit status 3"), "{text}");
    assert!(text.contains("! disk full"), "the stderr tail: {text}");
    assert!(text.contains("undo ok in "), "{text}");
    // The step's process group and its undo's, each where it belongs.
    let journal = fx.journal();
    let pid_of = |undo: bool| {
        journal
            .iter()
            .filter(|e| e["event"] == "process" && e["step"] == "deploy" && e["host"] == "alpha")
            .filter(|e| (e["phase"] == "undo") == undo)
            .filter_map(|e| e["pid"].as_u64())
            .next_back()
            .expect("a process record")
    };
    let (command, undo) = (pid_of(false), pid_of(true));
    assert_ne!(command, undo);
    assert!(
        text.contains(&format!("2 attempts, pid {command}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(", pid {undo}: $ echo undoing")),
        "{text}"
    );
    for undone in [
        "deploy on alpha: failed (exit status 3), then undone",
        "migrate on alpha: not reached: the run was aborted at deploy",
        "migrate on beta: not reached: the run was aborted at deploy",
        "finish on alpha: not reached: the run was aborted at deploy",
        "finish on beta: not reached: the run was aborted at deploy",
    ] {
        assert!(text.contains(undone), "{undone} in {text}");
    }
    assert!(
        !text.contains("prepare on"),
        "a step done is not undone: {text}"
    );

    // The same, as one JSON document, from a prefix of the id.
    let out = show(&fx, &[&id[..id.len() - 2], "--json"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let report = json(&out);
    assert_eq!(report["run_id"], id.as_str());
    assert_eq!(report["result"], "aborted");
    assert_eq!(report["exit_code"], 3);
    assert_eq!(report["runbook_file"], "unchanged");
    let decisions: Vec<(&str, &str)> = report["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .map(|a| {
            assert_eq!(a["step"], "deploy");
            (
                a["decision"].as_str().unwrap_or_default(),
                a["by"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("run", "admin"),
            ("retry", "admin"),
            ("undo", "admin"),
            ("abort", "admin")
        ]
    );
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    assert_eq!(steps, ["prepare", "deploy", "migrate", "finish"]);
    let deploy = &report["steps"][1]["hosts"][0];
    assert_eq!(deploy["host"], "alpha");
    assert_eq!(deploy["status"], "failed");
    assert_eq!(deploy["attempts"], 2);
    assert_eq!(deploy["failures"].as_array().map(Vec::len), Some(2));
    assert_eq!(deploy["failures"][1]["exit_code"], 3);
    assert_eq!(
        deploy["failures"][1]["last_stderr"],
        serde_json::json!(["disk full"])
    );
    assert_eq!(deploy["undo"]["status"], "ok");
    let left: Vec<(&str, &str)> = report["left_undone"]
        .as_array()
        .expect("left_undone")
        .iter()
        .map(|l| {
            (
                l["step"].as_str().unwrap_or_default(),
                l["host"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        left,
        [
            ("deploy", "alpha"),
            ("migrate", "alpha"),
            ("migrate", "beta"),
            ("finish", "alpha"),
            ("finish", "beta")
        ]
    );
}

/// A gate with a preview, a step with `when`, and a gate skipped.
const PREVIEWED: &str = r#"
[runbook]
name = "Previewed"
lock = "{{root}}/{{host}}.lock"

[hosts.alpha]
transport = "local"

[hosts.beta]
transport = "local"

[[steps]]
id = "look"
title = "Look first"
confirm = true
preview = "echo commit abc; echo commit def; echo fatal: a warning >&2"
run = "echo looked"

[[steps]]
id = "maybe"
title = "Only where it holds"
when = "test {{host}} = alpha"
run = "echo only alpha"

[[steps]]
id = "later"
title = "Later"
confirm = true
run = "echo never"
"#;

#[test]
fn previews_conditions_and_a_skip_are_journaled_as_they_were_seen() {
    let fx = Fixture::new();
    let rb = fx.write("runbook.toml", PREVIEWED);
    let out = fx.run(&rb, &[], "y\ns\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let journal = fx.journal();

    let gates: Vec<(&str, &str)> = events(&journal, "gate", None)
        .iter()
        .map(|g| {
            (
                g["step"].as_str().unwrap_or_default(),
                g["decision"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(gates, [("look", "run"), ("later", "skip")]);

    let previews = events(&journal, "preview", Some("look"));
    let mut hosts: Vec<&str> = previews
        .iter()
        .map(|p| p["host"].as_str().unwrap_or_default())
        .collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["alpha", "beta"], "one preview per host");
    for p in &previews {
        assert_eq!(
            p["command"],
            "echo commit abc; echo commit def; echo fatal: a warning >&2"
        );
        assert_eq!(p["exit_code"], 0);
        let lines = record_lines(p);
        for line in ["commit abc", "commit def", "fatal: a warning"] {
            assert!(lines.iter().any(|l| l == line), "{line} in {p}");
        }
    }
    // The preview was journaled before the answer it was shown for.
    let first_preview = position(&journal, |r| r["event"] == "preview").expect("a preview");
    let first_gate = position(&journal, |r| r["event"] == "gate").expect("a gate");
    assert!(first_preview < first_gate, "{journal:#?}");

    let conditions: Vec<(&str, bool)> = events(&journal, "condition", Some("maybe"))
        .iter()
        .map(|c| {
            assert_eq!(
                c["command"],
                format!("test {} = alpha", c["host"].as_str().unwrap_or_default())
            );
            (
                c["host"].as_str().unwrap_or_default(),
                c["holds"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    assert!(conditions.contains(&("alpha", true)), "{conditions:?}");
    assert!(conditions.contains(&("beta", false)), "{conditions:?}");
    assert_eq!(status(&journal, "maybe", "alpha").as_deref(), Some("ok"));
    assert_eq!(
        status(&journal, "maybe", "beta").as_deref(),
        Some("skipped")
    );
    assert_eq!(
        status(&journal, "later", "alpha").as_deref(),
        Some("skipped")
    );

    // Headless showed them too, as they came.
    let text = stdout(&out);
    assert!(text.contains("preview: echo commit abc"), "{text}");
    assert!(text.contains("| commit def"), "{text}");
    assert!(
        text.contains("condition `test beta = alpha` does not hold"),
        "{text}"
    );
}

#[test]
fn answers_given_by_yes_are_marked_so() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        &SCRIPTED
            .replace("exit 3", "exit 0")
            .replace("'disk full' >&2", "fine"),
    );
    let out = fx.run(&rb, &["--yes"], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let report = json(&show(&fx, &[&run_id(&fx.journals()[0]), "--json"]));
    assert_eq!(report["answers"][0]["decision"], "run");
    assert_eq!(report["answers"][0]["by"], "--yes");
    assert_eq!(report["left_undone"], serde_json::json!([]));
    let text = stdout(&show(&fx, &[&run_id(&fx.journals()[0])]));
    assert!(text.contains("deploy: run  by --yes"), "{text}");
    assert!(text.contains("left undone\n  nothing"), "{text}");
}

#[test]
fn an_unknown_or_ambiguous_run_id_is_a_usage_error() {
    let fx = Fixture::new();
    let rb = fx.write("runbook.toml", SCRIPTED);
    for _ in 0..2 {
        let out = fx.run(&rb, &[], "s\n");
        assert_eq!(code(&out), 0, "{}", describe(&out));
    }
    let out = show(&fx, &["19990101"]);
    assert_eq!(code(&out), 2, "{}", describe(&out));
    assert!(
        stderr(&out).contains("no run '19990101'"),
        "{}",
        describe(&out)
    );
    assert!(stdout(&out).is_empty());
    // Both runs start with the same date.
    let out = show(&fx, &["20"]);
    assert_eq!(code(&out), 2, "{}", describe(&out));
    assert!(stderr(&out).contains("names 2 runs"), "{}", describe(&out));
}

#[test]
fn history_json_and_show_mark_a_run_whose_runbook_is_gone() {
    let fx = Fixture::new();
    let kept = fx.write("kept.toml", SCRIPTED);
    let gone = fx.write("gone.toml", &SCRIPTED.replace("Scripted", "Gone soon"));
    assert_eq!(code(&fx.run(&kept, &[], "s\n")), 0);
    assert_eq!(code(&fx.run(&gone, &[], "a\n")), 3);
    std::fs::remove_file(&gone).expect("delete the runbook");

    let out = drydock()
        .args(["history", "--json", "--journal-dir"])
        .arg(fx.journal_dir())
        .output()
        .expect("history");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let rows = json(&out);
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["runbook"].as_str().is_some_and(|p| p.ends_with(name)))
            .unwrap_or_else(|| panic!("no row for {name}: {rows:?}"))
    };
    assert_eq!(row("kept.toml")["runbook_gone"], false);
    assert_eq!(row("kept.toml")["result"], "ok");
    assert_eq!(row("gone.toml")["runbook_gone"], true);
    assert_eq!(row("gone.toml")["result"], "aborted");
    assert_eq!(row("gone.toml")["exit_code"], 3);
    let gone_id = row("gone.toml")["run_id"]
        .as_str()
        .expect("run_id")
        .to_string();

    let out = drydock()
        .args(["history", "--journal-dir"])
        .arg(fx.journal_dir())
        .output()
        .expect("history");
    let text = stdout(&out);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no line for {name}: {text}"))
            .to_string()
    };
    assert!(line("gone.toml").ends_with("gone.toml  (gone)"), "{text}");
    assert!(!line("kept.toml").contains("(gone)"), "{text}");

    let out = show(&fx, &[&gone_id]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("gone.toml  (gone)"), "{text}");
    // The run's own list of what was not done names the steps that never
    // started, runbook or not.
    assert!(
        text.contains("migrate on alpha: not reached: the run was aborted at deploy"),
        "{text}"
    );
    let report = json(&show(&fx, &[&gone_id, "--json"]));
    assert_eq!(report["runbook_file"], "gone");
}

#[test]
fn show_and_history_print_no_control_sequence_from_the_journal() {
    let fx = Fixture::new();
    let hostile = "web\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}";
    let lines = [
        serde_json::json!({"ts": "2026-11-22T01:00:00.000Z", "event": "run_started",
            "run_id": "20261122-010000-beef", "runbook": format!("/nowhere/{hostile}.toml"),
            "runbook_sha256": "00", "user": hostile, "hosts": [hostile]}),
        serde_json::json!({"ts": "2026-11-22T01:00:01.000Z", "event": "step_started",
            "step": "a", "host": hostile, "command": format!("echo {hostile}")}),
        serde_json::json!({"ts": "2026-11-22T01:00:01.000Z", "event": "output",
            "step": "a", "host": hostile, "stream": "stderr", "lines": [hostile, "two"]}),
        serde_json::json!({"ts": "2026-11-22T01:00:02.000Z", "event": "step_finished",
            "step": "a", "host": hostile, "status": "failed", "exit_code": 1,
            "duration_ms": 5, "reason": hostile}),
        serde_json::json!({"ts": "2026-11-22T01:00:03.000Z", "event": "preview",
            "step": "a", "host": hostile, "command": hostile, "lines": [hostile], "exit_code": 0}),
        serde_json::json!({"ts": "2026-11-22T01:00:03.000Z", "event": "connection",
            "host": hostile, "state": "lost", "reason": hostile}),
        serde_json::json!({"ts": "2026-11-22T01:00:04.000Z", "event": "run_interrupted",
            "signal": "SIGTERM", "running": [{"step": "a", "host": hostile, "pid": 42}]}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    fx.write("journal/20261122-010000-beef.jsonl", &text);

    let outputs = [
        show(&fx, &["20261122-010000-beef"]),
        show(&fx, &["20261122-010000-beef", "--json"]),
        drydock()
            .args(["history", "--journal-dir"])
            .arg(fx.journal_dir())
            .output()
            .expect("history"),
        drydock()
            .args(["history", "--json", "--journal-dir"])
            .arg(fx.journal_dir())
            .output()
            .expect("history"),
    ];
    for out in &outputs {
        assert_eq!(code(out), 0, "{}", describe(out));
        let text = stdout(out);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
            "{text:?}"
        );
        assert!(
            !text.contains("pwned") && text.contains("web"),
            "the title sequence is dropped, the name kept: {text}"
        );
    }
    let text = stdout(&outputs[0]);
    assert!(text.contains("interrupted by SIGTERM"), "{text}");
    assert!(text.contains("(pid 42)"), "{text}");
    assert!(text.contains("preview (exit 0)"), "{text}");
    assert!(text.contains("web lost: web\n"), "{text}");
    assert!(text.contains("  ! two"), "{text}");
    let report = json(&outputs[1]);
    assert_eq!(report["result"], "interrupted");
    assert_eq!(
        report["steps"][0]["hosts"][0]["previews"][0]["exit_code"],
        0
    );
}

/// Every moment the notify command heard: (event, run id, step, host, message).
fn notified(fx: &Fixture) -> Vec<Vec<String>> {
    std::fs::read_to_string(fx.path("notified.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

const NOTIFY: &str = r#"
[notify]
command = "printf '%s|%s|%s|%s|%s\n' \"$DRYDOCK_EVENT\" \"$DRYDOCK_RUN_ID\" \"$DRYDOCK_STEP\" \"$DRYDOCK_HOST\" \"$DRYDOCK_MESSAGE\" >> {{root}}/notified.log"
"#;

#[test]
fn a_notify_command_hears_questions_failures_and_the_end() {
    let fx = Fixture::new();
    let runbook = format!(
        "{}{NOTIFY}\n[vars]\napi_token = \"hunter2\"\n\n[[steps]]\nid = \"look\"\ntitle = \"Look\"\nmanual = \"Log in with {{{{api_token}}}}\"\n",
        SCRIPTED
    );
    let rb = fx.write("runbook.toml", &runbook);
    // run deploy; skip its failure; tick off the manual step.
    let out = fx.run(&rb, &[], "y\ns\ny\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let id = run_id(&fx.journals()[0]);
    // Each command runs on its own, so two moments close together may be
    // told in either order: sort by what each is about.
    let mut heard = notified(&fx);
    assert!(
        heard.iter().all(|m| m.len() == 5 && m[1] == id),
        "{heard:?}"
    );
    heard.sort_by(|a, b| (&a[2], &a[0]).cmp(&(&b[2], &b[0])));
    let kinds: Vec<(&str, &str, &str)> = heard
        .iter()
        .map(|m| (m[0].as_str(), m[2].as_str(), m[3].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("finished", "", ""),
            ("failed", "deploy", "alpha"),
            ("question", "deploy", ""),
            ("question", "deploy", ""),
            ("question", "look", ""),
        ],
        "{heard:?}"
    );
    let message = |event: &str, step: &str, says: &str| {
        assert!(
            heard
                .iter()
                .any(|m| m[0] == event && m[2] == step && m[4].contains(says)),
            "no {event} of {step} saying {says}: {heard:?}"
        );
    };
    message("question", "deploy", "run Deploy the code on alpha?");
    message("question", "deploy", "Deploy the code failed on alpha");
    message("failed", "deploy", "exit status 3");
    message("question", "look", "Log in with ********");
    message("finished", "", "Scripted: finished: ok (exit 0)");
    let all = std::fs::read_to_string(fx.path("notified.log")).expect("log");
    assert!(!all.contains("hunter2"), "the secret is redacted: {all}");
}

#[test]
fn a_failing_notify_command_is_a_notice_and_the_run_goes_on() {
    let fx = Fixture::new();
    let runbook =
        format!("{SCRIPTED}\n[notify]\ncommand = \"echo 'webhook refused' >&2; exit 7\"\n");
    let rb = fx.write("runbook.toml", &runbook.replace("exit 3", "exit 0"));
    let out = fx.run(&rb, &["--yes"], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "note: notify (finished): the command ended with exit status 7: webhook refused"
        ),
        "{text}"
    );
    // A command that cannot start at all is told the same way.
    let runbook = format!("{SCRIPTED}\n[notify]\ncommand = \"/nonexistent/notifier\"\n");
    let rb = fx.write("runbook.toml", &runbook.replace("exit 3", "exit 0"));
    let out = fx.run(&rb, &["--yes"], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        stdout(&out).contains("note: notify (finished): the command ended with exit status 127"),
        "{}",
        describe(&out)
    );
}

#[test]
fn check_refuses_a_notify_table_that_is_wrong() {
    let fx = Fixture::new();
    for (notify, says) in [
        ("[notify]\ncommand = \"  \"\n", "cannot be empty"),
        ("[notify]\ncmd = \"x\"\n", "unknown key 'cmd'"),
        ("[notify]\n", "missing key 'command'"),
    ] {
        let rb = fx.write("runbook.toml", &format!("{SCRIPTED}\n{notify}"));
        let out = drydock().arg("check").arg(&rb).output().expect("check");
        assert_eq!(code(&out), 2, "{notify}: {}", describe(&out));
        assert!(stderr(&out).contains(says), "{notify}: {}", describe(&out));
    }
    let rb = fx.write("runbook.toml", &format!("{SCRIPTED}{NOTIFY}"));
    let out = drydock().arg("check").arg(&rb).output().expect("check");
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

#[test]
fn help_of_every_command_has_an_example_and_run_lists_its_exit_statuses() {
    let out = drydock().args(["run", "--help"]).output().expect("help");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    let statuses = text
        .split_once("Exit status:")
        .unwrap_or_else(|| panic!("no exit statuses: {text}"))
        .1;
    for (status, says) in [
        ("0", "every step done"),
        ("1", "stopped itself"),
        ("2", "usage or runbook error"),
        ("3", "aborted by the admin"),
        ("4", "lock is held"),
        ("5", "could not be reached"),
    ] {
        assert!(
            statuses
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{status}  ")) && l.contains(says)),
            "exit status {status}: {text}"
        );
    }
    for command in [
        "check",
        "plan",
        "logs",
        "history",
        "show",
        "replay",
        "watch",
        "demo",
        "themes",
        "schema",
        "completions",
    ] {
        let out = drydock().args([command, "--help"]).output().expect("help");
        let text = stdout(&out);
        assert!(
            text.contains("Example") && text.contains("Exit status"),
            "{command} --help: {text}"
        );
    }
}

/// What the shell is offered for the last word of `line` (bash's protocol).
fn complete(line: &[&str], journal_dir: Option<&Path>) -> Vec<String> {
    let mut cmd = drydock();
    cmd.env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (line.len() - 1).to_string())
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .args(line);
    if let Some(dir) = journal_dir {
        cmd.env("DRYDOCK_STATE_DIR", dir);
    }
    let out = cmd.output().expect("complete");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

#[test]
fn completions_offer_step_ids_themes_and_run_ids() {
    let fx = Fixture::new();
    let rb = fx.write("runbook.toml", SCRIPTED);
    let rb = rb.to_str().expect("a UTF-8 path");
    assert_eq!(
        complete(&["drydock", "run", rb, "--from", ""], None),
        ["prepare", "deploy", "migrate", "finish"]
    );
    assert_eq!(
        complete(&["drydock", "run", rb, "--from", "mi"], None),
        ["migrate"]
    );
    let themes = complete(&["drydock", "run", rb, "--theme", ""], None);
    assert!(
        themes.contains(&"dark".to_string()) && themes.contains(&"light".to_string()),
        "{themes:?}"
    );

    assert_eq!(
        code(&fx.run(&std::path::PathBuf::from(rb), &[], "y\na\n")),
        3
    );
    let done = run_id(&fx.journals()[0]);
    // An unfinished run: its journal has no run_finished.
    let unfinished = "29991231-235959-0000";
    let journal = std::fs::read_to_string(&fx.journals()[0]).expect("journal");
    let first = journal.lines().next().expect("run_started");
    fx.write(
        &format!("journal/{unfinished}.jsonl"),
        &format!("{first}\n"),
    );
    let dir = fx.journal_dir();
    let offered: Vec<String> = complete(&["drydock", "show", ""], Some(&dir))
        .into_iter()
        .filter(|c| !c.starts_with('-'))
        .collect();
    assert_eq!(
        offered,
        [unfinished.to_string(), done.clone()],
        "newest first"
    );
    assert_eq!(
        complete(&["drydock", "show", &done[..8]], Some(&dir)),
        std::slice::from_ref(&done)
    );
    assert_eq!(
        complete(&["drydock", "run", rb, "--resume", "2"], Some(&dir)),
        [unfinished.to_string()]
    );
    assert_eq!(
        complete(&["drydock", "replay", &done[..8]], Some(&dir)),
        std::slice::from_ref(&done)
    );
    assert_eq!(
        complete(&["drydock", "watch", "2"], Some(&dir)),
        [unfinished.to_string()],
        "watch offers the runs that did not finish"
    );
}
