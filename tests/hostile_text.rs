//! Strings from a runbook are data, not terminal input: a runbook whose
//! names, title, notes and address carry an OSC title change (`ESC ] 0;pwned
//! BEL`), a screen clear (`ESC [ 2 J`) and a right-to-left override (U+202E)
//! leaves no escape byte and no U+202E in what `check`, `plan`, a headless
//! run and `history` print. The TUI is checked in tests/tui_tmux.rs.

mod common;

use common::*;

/// The three, as TOML escapes: TOML text cannot hold them raw.
pub const HOSTILE: &str = r"\u001b]0;pwned\u0007\u001b[2J\u202e";

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!bytes.contains(&0x1b), "{what}: an escape byte in\n{text}");
    assert!(!text.contains('\u{202e}'), "{what}: U+202E in\n{text}");
    assert!(!text.contains('\u{7}'), "{what}: a bell in\n{text}");
    assert!(!text.contains("pwned"), "{what}: the OSC's text in\n{text}");
}

fn hostile_runbook(fx: &Fixture) -> std::path::PathBuf {
    fx.write(
        "hostile.toml",
        &format!(
            r#"
[runbook]
name = "Hostile {HOSTILE} runbook"
description = "described {HOSTILE}"
lock = "{{{{root}}}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "deploy"
title = "Deploy {HOSTILE}evil"
notes = "notes {HOSTILE} here"
confirm = true
preview = "echo 'preview {HOSTILE}'"
run = "echo deployed"
"#
        ),
    )
}

#[test]
fn check_plan_a_headless_run_and_history_print_no_control_sequence() {
    let fx = Fixture::new();
    let rb = hostile_runbook(&fx);
    let check = drydock().arg("check").arg(&rb).output().expect("check");
    assert_eq!(code(&check), 0, "{}", describe(&check));
    assert_clean("check", &[check.stdout, check.stderr].concat());

    let plan = drydock().arg("plan").arg(&rb).output().expect("plan");
    assert_eq!(code(&plan), 0, "{}", describe(&plan));
    assert!(stdout(&plan).contains("Deploy evil"), "{}", describe(&plan));
    assert_clean("plan", &[plan.stdout, plan.stderr].concat());

    let run = fx.run(&rb, &[], "y\n");
    assert_eq!(code(&run), 0, "{}", describe(&run));
    assert!(
        stdout(&run).contains("Deploy evil on web"),
        "{}",
        describe(&run)
    );
    assert!(
        stdout(&run).contains("note: notes  here"),
        "{}",
        describe(&run)
    );
    assert_clean("run", &[run.stdout, run.stderr].concat());

    let history = drydock()
        .arg("history")
        .arg("--journal-dir")
        .arg(fx.journal_dir())
        .output()
        .expect("history");
    assert_eq!(code(&history), 0, "{}", describe(&history));
    assert_clean("history", &[history.stdout, history.stderr].concat());
}

#[test]
fn a_hostile_host_name_or_address_is_named_without_its_controls() {
    let fx = Fixture::new();
    // A host name that is no id: check says so, without the controls.
    let bad_name = fx.write(
        "bad_name.toml",
        &format!(
            r#"
[runbook]
name = "Bad name"
[hosts."web{HOSTILE}"]
transport = "local"
[[steps]]
id = "x"
title = "x"
run = "true"
"#
        ),
    );
    let check = drydock()
        .arg("check")
        .arg(&bad_name)
        .output()
        .expect("check");
    assert_eq!(code(&check), 2, "{}", describe(&check));
    assert!(
        stderr(&check).contains("host name 'web"),
        "{}",
        describe(&check)
    );
    assert_clean("check", &[check.stdout, check.stderr].concat());

    // An address that cannot be resolved: the run says so, without them.
    let bad_address = fx.write(
        "bad_address.toml",
        &format!(
            r#"
[runbook]
name = "Bad address"
lock = "{{{{root}}}}/lock"
[hosts.web]
address = "nowhere{HOSTILE}.invalid"
known_hosts = "{{{{root}}}}/known_hosts"
connect_timeout = "5s"
[[steps]]
id = "x"
title = "x"
run = "true"
"#
        ),
    );
    let run = fx.run(&bad_address, &["--yes"], "");
    assert_eq!(code(&run), 5, "{}", describe(&run));
    assert!(
        stdout(&run).contains("cannot reach host 'web' at root@nowhere"),
        "{}",
        describe(&run)
    );
    assert_clean("run", &[run.stdout, run.stderr].concat());
}
