//! Every bad runbook is a fixture in `tests/invalid_runbooks/`, checked by
//! running the binary: `drydock check` must exit 2 without panicking and
//! report each problem at the position its `# expect: LINE:COL WORDS...`
//! comment gives, and nothing else; `drydock run --headless` must refuse it
//! before running anything. Bad command lines are checked here too.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_drydock");

/// So that the suite cannot shrink without anyone noticing.
const MIN_FIXTURES: usize = 79;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_runbooks")
}

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(fixtures_dir())
        .expect("tests/invalid_runbooks/ can be listed")
        .map(|e| e.expect("a directory entry can be read").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// One `# expect: LINE:COL WORDS...` line of a fixture.
#[derive(Debug)]
struct Expect {
    line: usize,
    column: usize,
    words: Vec<String>,
}

fn expectations(path: &Path) -> Vec<Expect> {
    let text = fs::read_to_string(path).expect("a fixture is UTF-8 text");
    let expects: Vec<Expect> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# expect:"))
        .map(|rest| {
            let mut parts = rest.split_whitespace();
            let at = parts.next().unwrap_or_default();
            let (line, column) = at
                .split_once(':')
                .and_then(|(l, c)| Some((l.parse().ok()?, c.parse().ok()?)))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: '# expect:{rest}' does not start with LINE:COL",
                        path.display()
                    )
                });
            let words: Vec<String> = parts.map(str::to_lowercase).collect();
            assert!(
                !words.is_empty(),
                "{}: '# expect:{rest}' names no word of the message",
                path.display()
            );
            Expect {
                line,
                column,
                words,
            }
        })
        .collect();
    assert!(
        !expects.is_empty(),
        "{} has no '# expect: LINE:COL WORDS' line",
        path.display()
    );
    expects
}

/// Run the binary with a private state directory and no standard input.
fn drydock(args: &[&str], state: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DRYDOCK_STATE_DIR", state)
        .env("XDG_STATE_HOME", state)
        .stdin(Stdio::null())
        .output()
        .expect("the drydock binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// What is wrong with `check`'s answer to one fixture, if anything.
fn check_problems(path: &Path, out: &Output) -> Vec<String> {
    let file = path_str(path);
    let stderr = text(&out.stderr);
    let mut problems = Vec::new();
    if out.status.code() != Some(2) {
        problems.push(format!("exit status {:?}, expected 2", out.status.code()));
    }
    if stderr.contains("panicked") {
        problems.push("it panicked".into());
    }
    if !out.stdout.is_empty() {
        problems.push(format!("it printed on stdout: {}", text(&out.stdout)));
    }
    let located: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{file}:")))
        .collect();
    let expects = expectations(path);
    for e in &expects {
        let prefix = format!("{file}:{}:{}:", e.line, e.column);
        let found = located.iter().any(|l| {
            l.strip_prefix(&prefix).is_some_and(|msg| {
                e.words
                    .iter()
                    .all(|w| msg.to_lowercase().contains(w.as_str()))
            })
        });
        if !found {
            problems.push(format!(
                "no error at {}:{} saying {:?}",
                e.line,
                e.column,
                e.words.join(" ")
            ));
        }
    }
    if located.len() != expects.len() {
        problems.push(format!(
            "{} errors reported, {} expected",
            located.len(),
            expects.len()
        ));
    }
    let n = expects.len();
    let summary = format!(
        "drydock: {file} has {n} error{}",
        if n == 1 { "" } else { "s" }
    );
    if !stderr.lines().any(|l| l == summary) {
        problems.push(format!("no summary line '{summary}'"));
    }
    problems
}

#[test]
fn the_fixture_suite_has_not_shrunk() {
    let n = fixtures().len();
    assert!(
        n >= MIN_FIXTURES,
        "only {n} fixtures in tests/invalid_runbooks/, expected at least {MIN_FIXTURES}"
    );
}

#[test]
fn check_reports_every_error_of_every_invalid_runbook_at_its_position() {
    let state = tempfile::tempdir().expect("a temporary directory");
    let mut failures = Vec::new();
    for path in fixtures() {
        let out = drydock(&["check", path_str(&path)], state.path());
        let problems = check_problems(&path, &out);
        if !problems.is_empty() {
            failures.push(format!(
                "{}:\n  - {}\n  stderr:\n{}",
                path.display(),
                problems.join("\n  - "),
                text(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn run_headless_refuses_every_invalid_runbook_before_running_anything() {
    let state = tempfile::tempdir().expect("a temporary directory");
    let journal = tempfile::tempdir().expect("a temporary directory");
    let mut failures = Vec::new();
    for path in fixtures() {
        let out = drydock(
            &[
                "run",
                path_str(&path),
                "--headless",
                "--yes",
                "--journal-dir",
                path_str(journal.path()),
            ],
            state.path(),
        );
        let stderr = text(&out.stderr);
        let mut problems = Vec::new();
        if out.status.code() != Some(2) {
            problems.push(format!("exit status {:?}, expected 2", out.status.code()));
        }
        if stderr.contains("panicked") {
            problems.push("it panicked".into());
        }
        if !out.stdout.is_empty() {
            problems.push(format!("it printed events: {}", text(&out.stdout)));
        }
        if !stderr.contains(&format!("{}:", path_str(&path))) {
            problems.push("it did not say where the runbook is wrong".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n{stderr}",
                path.display(),
                problems.join("; ")
            ));
        }
    }
    let journals: Vec<_> = fs::read_dir(journal.path())
        .expect("the journal directory can be listed")
        .collect();
    assert!(
        journals.is_empty(),
        "a refused runbook left a journal: {journals:?}"
    );
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- bad command lines ----

/// A valid runbook in a temporary directory, with a step that would leave a
/// mark if it ran.
fn good_runbook(dir: &Path) -> PathBuf {
    let mark = dir.join("ran");
    let text = format!(
        "[runbook]\nname = \"Good\"\nlock = \"{}/lock-{{{{host}}}}\"\n\n[hosts.web]\ntransport = \"local\"\n\n[[steps]]\nid = \"touch\"\ntitle = \"Leave a mark\"\nrun = \"touch {}\"\n",
        dir.display(),
        mark.display()
    );
    let path = dir.join("good.toml");
    fs::write(&path, text).expect("the runbook can be written");
    let state = dir.join("state");
    let out = drydock(&["check", path_str(&path)], &state);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the good runbook is valid: {}",
        text_of(&out)
    );
    path
}

fn text_of(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Exit 2, no panic, and stderr has every word (case-insensitive).
fn assert_refused(out: &Output, words: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit 2: {}",
        text_of(out)
    );
    assert!(!stderr.contains("panicked"), "it panicked: {stderr}");
    let lower = stderr.to_lowercase();
    for w in words {
        assert!(
            lower.contains(&w.to_lowercase()),
            "stderr does not say '{w}': {stderr}"
        );
    }
}

#[test]
fn a_missing_runbook_file_is_named() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let missing = dir.path().join("nope.toml");
    for cmd in ["check", "plan"] {
        let out = drydock(&[cmd, path_str(&missing)], dir.path());
        assert_refused(
            &out,
            &["cannot read runbook", path_str(&missing), "no such file"],
        );
    }
    let out = drydock(&["run", path_str(&missing), "--headless"], dir.path());
    assert_refused(
        &out,
        &["cannot read runbook", path_str(&missing), "no such file"],
    );
}

#[test]
fn an_unreadable_runbook_is_named() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A directory cannot be read as a file, also by root.
    let out = drydock(&["check", path_str(dir.path())], dir.path());
    assert_refused(
        &out,
        &["cannot read runbook", path_str(dir.path()), "directory"],
    );

    // Without read permission; root reads it anyway, so only where that holds.
    use std::os::unix::fs::PermissionsExt;
    let locked = dir.path().join("locked.toml");
    fs::write(&locked, "[runbook]\nname = \"Locked\"\n").expect("the runbook can be written");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000))
        .expect("permissions can be set");
    if fs::read(&locked).is_err() {
        let out = drydock(&["check", path_str(&locked)], dir.path());
        assert_refused(
            &out,
            &[
                "cannot read runbook",
                path_str(&locked),
                "permission denied",
            ],
        );
    }
}

#[test]
fn a_runbook_that_is_not_utf8_is_placed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("latin1.toml");
    // "café" in Latin-1: the bad byte is the 12th character of line 2.
    fs::write(&path, b"[runbook]\nname = \"caf\xe9\"\n").expect("the runbook can be written");
    let out = drydock(&["check", path_str(&path)], dir.path());
    assert_refused(
        &out,
        &[
            &format!("{}:2:12:", path_str(&path)),
            "not UTF-8",
            "save it as UTF-8",
        ],
    );
}

#[test]
fn an_unknown_from_step_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runbook = good_runbook(dir.path());
    let journal = dir.path().join("journal");
    let out = drydock(
        &[
            "run",
            path_str(&runbook),
            "--headless",
            "--yes",
            "--from",
            "tuoch",
            "--journal-dir",
            path_str(&journal),
        ],
        dir.path(),
    );
    assert_refused(&out, &["--from tuoch", "no step", "touch"]);
    assert!(!dir.path().join("ran").exists(), "a step ran");
    assert!(
        !journal.exists() || fs::read_dir(&journal).expect("listable").next().is_none(),
        "a journal was written"
    );
}

#[test]
fn a_var_without_equals_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runbook = good_runbook(dir.path());
    for cmd in [
        &["run", path_str(&runbook), "--headless", "--yes"][..],
        &["plan", path_str(&runbook)][..],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["--var", "site"]);
        let out = drydock(&args, dir.path());
        assert_refused(&out, &["--var", "'site'", "KEY=VALUE"]);
    }
    assert!(!dir.path().join("ran").exists(), "a step ran");
}

#[test]
fn an_unknown_host_is_refused_and_the_hosts_are_listed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runbook = good_runbook(dir.path());
    let out = drydock(
        &[
            "run",
            path_str(&runbook),
            "--headless",
            "--yes",
            "--host",
            "wbe",
        ],
        dir.path(),
    );
    assert_refused(&out, &["--host wbe", "no such host", "hosts are: web"]);
    let out = drydock(&["plan", path_str(&runbook), "--host", "wbe"], dir.path());
    assert_refused(&out, &["--host wbe", "no such host", "hosts are: web"]);
    assert!(!dir.path().join("ran").exists(), "a step ran");
}

// ---- what check and plan print ----

/// Written into runbooks as TOML escapes: an OSC that sets the terminal's
/// title (ended by BEL), a CSI that clears the screen, a right-to-left override.
const HOSTILE: &str = r"\u001b]0;pwned\u0007\u001b[2J\u202e";

/// No escape, no BEL and no bidi override on either stream.
fn assert_inert(what: &str, out: &Output) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let shown = text(bytes);
        assert!(
            !bytes.contains(&0x1b),
            "{what}: an ESC byte on {name}: {shown:?}"
        );
        assert!(
            !bytes.contains(&0x07),
            "{what}: a BEL byte on {name}: {shown:?}"
        );
        assert!(
            !shown.contains('\u{202e}'),
            "{what}: U+202E on {name}: {shown:?}"
        );
    }
}

#[test]
fn runbook_strings_cannot_drive_the_terminal_in_check_and_plan() {
    let dir = tempfile::tempdir().expect("a temporary directory");

    // Refused: the host name, the host a step names and a variable are
    // quoted in the errors, and so is the file's own name.
    let refused = dir.path().join("hostile\u{1b}[2J\u{202e}.toml");
    fs::write(
        &refused,
        format!(
            "[runbook]\nname = \"Hostile {HOSTILE}\"\n\n[hosts.\"web{HOSTILE}\"]\ntransport = \"local\"\n\n[[steps]]\nid = \"deploy\"\ntitle = \"Deploy {HOSTILE} now\"\nhosts = [\"db{HOSTILE}\"]\nrun = \"echo {{{{x{HOSTILE}}}}}\"\n"
        ),
    )
    .expect("the runbook can be written");
    for cmd in ["check", "plan"] {
        let out = drydock(&[cmd, path_str(&refused)], dir.path());
        assert_refused(
            &out,
            &["host name 'web", "is not valid", "unknown host 'db"],
        );
        assert_inert(&format!("{cmd} of a refused runbook"), &out);
    }

    // Accepted: the name, description, title, variables and command are printed.
    let accepted = dir.path().join("accepted.toml");
    fs::write(
        &accepted,
        format!(
            "[runbook]\nname = \"Hostile {HOSTILE} name\"\ndescription = \"About {HOSTILE} it\"\n\n[vars]\ntarget = \"origin/{HOSTILE}main\"\n\n[hosts.web]\ntransport = \"local\"\n\n[[steps]]\nid = \"deploy\"\ntitle = \"Deploy {HOSTILE} onto {{{{target}}}}\"\nrolling = \"nodes{HOSTILE}\"\nrun = \"git rebase {{{{target}}}} # {HOSTILE}\"\n"
        ),
    )
    .expect("the runbook can be written");
    let out = drydock(&["check", path_str(&accepted)], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(text(&out.stdout).contains("Hostile"), "{}", text_of(&out));
    assert_inert("check of an accepted runbook", &out);
    let out = drydock(&["plan", path_str(&accepted)], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let plan = text(&out.stdout);
    for shown in [
        "Hostile",
        "About",
        "Deploy",
        "origin/main",
        "git rebase",
        "nodes",
    ] {
        assert!(plan.contains(shown), "the plan shows '{shown}': {plan}");
    }
    assert_inert("plan of an accepted runbook", &out);
}

#[test]
fn titles_and_notes_are_shown_with_the_values_of_the_run_variables() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runbook = dir.path().join("titles.toml");
    fs::write(
        &runbook,
        "[runbook]\nname = \"Titles\"\n\n[vars]\nbranch = \"main\"\ntarget = \"origin/{{branch}}\"\n\n[hosts.web]\ntransport = \"local\"\n\n[[steps]]\nid = \"rebase\"\ntitle = \"Rebase onto {{target}}\"\nnotes = \"Onto {{branch}}\"\nrun = \"git rebase {{target}}\"\n",
    )
    .expect("the runbook can be written");
    let out = drydock(&["check", path_str(&runbook)], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let out = drydock(&["plan", path_str(&runbook)], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(
        text(&out.stdout).contains("rebase  Rebase onto origin/main"),
        "{}",
        text_of(&out)
    );
    let out = drydock(
        &["plan", path_str(&runbook), "--var", "branch=release"],
        dir.path(),
    );
    assert!(
        text(&out.stdout).contains("rebase  Rebase onto origin/release"),
        "--var reaches the title: {}",
        text_of(&out)
    );
}
