//! What holds on every path (DESIGN.md, "Safety"), shown by running the
//! binary on `local` hosts: --from and its guards, the rollback that leaves
//! no always step un-asked, undo once, capture, signals, a changed runbook
//! on resume, a journal that cannot be written, an honest dry run, stale locks.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Longest any run here may take before it counts as hung.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// Wait until `path` exists; panic after 20 s.
fn wait_for_file(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `drydock run --headless RUNBOOK --journal-dir J ARGS...` in the
/// background, standard input closed.
fn spawn_run(fx: &Fixture, runbook: &Path, args: &[&str]) -> Child {
    drydock()
        .arg("run")
        .arg("--headless")
        .arg(runbook)
        .arg("--journal-dir")
        .arg(fx.journal_dir())
        .args(args)
        .env("DRYDOCK_TEST_FIXTURE", fx.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start drydock")
}

/// Wait for a background run to end; its exit code and everything it said.
fn finish(mut child: Child) -> (i32, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("drydock hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    (status.code().unwrap_or(-1), text)
}

fn signal(child: &Child, signal: nix::sys::signal::Signal) {
    let pid = i32::try_from(child.id()).expect("pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).expect("signal drydock");
}

/// The index of the first journal event matching `pred`.
fn at(journal: &[serde_json::Value], pred: impl Fn(&serde_json::Value) -> bool) -> usize {
    position(journal, pred).unwrap_or(usize::MAX)
}

// ---- --from -------------------------------------------------------------

const FROM: &str = r#"
[runbook]
name = "From"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "robot-idle"
title = "The vision backend is idle"
guard = { file_absent = "{{root}}/robot_running_flag", poll = "200ms", timeout = "60s" }
[[steps]]
id = "stop-server"
title = "Stop the server"
run = "touch {{root}}/stopped"
[[steps]]
id = "migrate"
title = "Migrate"
run = "touch {{root}}/migrated"
"#;

#[test]
fn from_past_a_guard_still_waits_on_it_and_lists_what_it_skips() {
    let fx = Fixture::new();
    fx.write("robot_running_flag", "");
    let rb = fx.write("runbook.toml", FROM);
    let flag = fx.path("robot_running_flag");
    let remover = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        std::fs::remove_file(flag).expect("remove the flag");
    });
    let out = fx.run(&rb, &["--from", "migrate"], "y\n");
    remover.join().expect("remover");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    let question = text
        .find("? --from [3/3 migrate]")
        .expect("one question first");
    let listed = &text[question..];
    assert!(
        listed.contains("not run [2/3 stop-server]") && listed.contains("checked [1/3 robot-idle]"),
        "{text}"
    );
    assert!(!fx.path("stopped").exists(), "stop-server is before --from");
    assert!(fx.path("migrated").exists());

    let j = fx.journal();
    let polls: Vec<bool> = events(&j, "guard_poll", Some("robot-idle"))
        .iter()
        .filter_map(|e| e["ok"].as_bool())
        .collect();
    assert!(
        polls.len() >= 2 && !polls[0] && polls.last() == Some(&true),
        "the guard waited: {polls:?}"
    );
    let held = at(&j, |e| e["event"] == "guard_poll" && e["ok"] == true);
    let migrated = at(&j, |e| {
        e["event"] == "step_started" && e["step"] == "migrate"
    });
    assert!(held < migrated, "migrate ran only once the guard held");
    assert_eq!(status(&j, "robot-idle", "web").as_deref(), Some("ok"));
    assert_eq!(status(&j, "stop-server", "web").as_deref(), Some("skipped"));
}

// ---- the rollback -------------------------------------------------------

const ROLLBACK: &str = r#"
[runbook]
name = "Rollback"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "banner-on"
title = "Banner up"
run = "touch {{root}}/banner"
[[steps]]
id = "stop-server"
title = "Stop the server"
run = "echo stopped >> {{root}}/server"
undo = "echo started >> {{root}}/server"
[[steps]]
id = "migrate"
title = "Migrate"
run = "echo 'OperationalError' >&2; exit 1"
[[steps]]
id = "after"
title = "After"
run = "touch {{root}}/after"
[[steps]]
id = "start-server"
title = "Start the server"
run = "echo started >> {{root}}/server"
always = true
[[steps]]
id = "banner-off"
title = "Banner down"
run = "rm -f {{root}}/banner"
always = true
"#;

#[test]
fn abort_in_the_rollback_asks_again_and_every_always_step_gets_its_own_answer() {
    let fx = Fixture::new();
    let rb = fx.write("runbook.toml", ROLLBACK);
    // Abort at the failure; go through the plan; leave the undo; `a` at the
    // first always step is asked again, then it is left; run the second.
    let out = fx.run(&rb, &[], "a\ny\ns\na\ns\ny\n");
    assert_eq!(code(&out), 3, "{}", describe(&out));
    let text = stdout(&out);

    let plan = text.find("? rollback: the plan").expect("the plan first");
    let undo_offer = text
        .find("undo Stop the server on web")
        .expect("undo offered");
    assert!(plan < undo_offer, "{text}");
    let planned = &text[plan..undo_offer];
    assert!(
        planned.contains("undo   [2/6 stop-server]")
            && planned.contains("always [5/6 start-server]")
            && planned.contains("always [6/6 banner-off]"),
        "the whole plan: {planned}"
    );
    let first_always = text
        .find("always step Start the server")
        .expect("start-server asked");
    let asked_again = text[first_always..]
        .find("'a' is not an answer here")
        .expect("a is asked again");
    let second_always = text
        .find("always step Banner down")
        .expect("banner-off asked");
    assert!(first_always + asked_again < second_always, "{text}");

    assert_eq!(
        fx.read("server"),
        "stopped\n",
        "the undo and start-server were left"
    );
    assert!(!fx.path("banner").exists(), "banner-off ran");
    assert!(!fx.path("after").exists());

    let j = fx.journal();
    let decision = |step: &str| -> Vec<String> {
        events(&j, "gate", Some(step))
            .iter()
            .filter_map(|e| e["decision"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(decision("stop-server"), ["leave"]);
    assert_eq!(decision("start-server"), ["leave"]);
    assert_eq!(decision("banner-off"), ["run"]);

    // The summary, printed and journaled, names every step not done, and why.
    let summary = &text[text.find("not done:").expect("a summary")..];
    for line in [
        "[3/6 migrate] web: failed (exit status 1)",
        "[4/6 after] web: not reached: the run was aborted at migrate",
        "[5/6 start-server] web: left in the rollback by the admin",
    ] {
        assert!(summary.contains(line), "{line} in {summary}");
    }
    let last = j.last().expect("events");
    assert_eq!(last["event"], "run_finished");
    let not_done: Vec<(&str, &str)> = last["not_done"]
        .as_array()
        .expect("not_done")
        .iter()
        .map(|n| {
            (
                n["step"].as_str().unwrap_or_default(),
                n["why"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        not_done.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        ["migrate", "after", "start-server"]
    );
}

#[test]
fn at_the_end_of_input_every_always_step_is_still_asked_and_none_runs_unattended() {
    let fx = Fixture::new();
    let rb = fx.write("runbook.toml", ROLLBACK);
    let out = fx.run(&rb, &[], "a\n");
    assert_eq!(code(&out), 3, "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("always step Start the server"), "{text}");
    assert!(text.contains("always step Banner down"), "{text}");
    assert!(fx.path("banner").exists(), "nothing ran without an answer");
    let j = fx.journal();
    for step in ["start-server", "banner-off"] {
        assert_eq!(
            events(&j, "gate", Some(step))[0]["decision"],
            "leave",
            "{step}"
        );
    }
    assert!(
        text.contains("left in the rollback: nobody could answer"),
        "{text}"
    );
}

#[test]
fn an_undo_whose_command_is_an_always_step_is_not_run_twice() {
    let fx = Fixture::new();
    // The undo of stop-server is the very command of start-server.
    let rb = fx.write("runbook.toml", ROLLBACK);
    // Abort; go through the plan; run the undo; banner-off: run.
    let out = fx.run(&rb, &[], "a\ny\ny\ny\n");
    assert_eq!(code(&out), 3, "{}", describe(&out));
    assert_eq!(fx.read("server"), "stopped\nstarted\n", "started once");
    let text = stdout(&out);
    assert!(!text.contains("always step Start the server"), "{text}");
    assert!(
        text.contains("its command already ran as the undo of 'stop-server'"),
        "{text}"
    );
}

#[test]
fn after_undo_at_a_failure_the_question_shows_how_it_went_and_no_longer_offers_it() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Undo once"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "migrate"
title = "Migrate"
run = "echo applied > {{root}}/schema; exit 1"
undo = "echo reverted > {{root}}/schema"
"#,
    );
    let out = fx.run(&rb, &[], "u\nu\ns\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(fx.read("schema"), "reverted\n");
    let text = stdout(&out);
    let answers: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  answer:"))
        .collect();
    assert_eq!(
        answers,
        [
            "  answer: r retry / s skip / u undo / a abort",
            "  answer: r retry / s skip / a abort",
        ],
        "{text}"
    );
    assert!(text.contains("    undo on web: ok"), "{text}");
    assert!(text.contains("'u' is not an answer here"), "{text}");
    let j = fx.journal();
    assert_eq!(
        events(&j, "step_started", Some("migrate"))
            .iter()
            .filter(|e| e["phase"] == "undo")
            .count(),
        1,
        "the undo ran once"
    );
}

// ---- capture ------------------------------------------------------------

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs (install git)");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_capture_is_fixed_at_its_first_value_through_a_retry_and_the_undo_restores_it() {
    let fx = Fixture::new();
    let repo = fx.path("repo");
    std::fs::create_dir_all(&repo).expect("repo dir");
    git(&repo, &["init", "-q"]);
    git(&repo, &["config", "user.email", "admin@example.org"]);
    git(&repo, &["config", "user.name", "Admin"]);
    fx.write("repo/version", "v1\n");
    git(&repo, &["add", "version"]);
    git(&repo, &["commit", "-qm", "v1"]);
    let before = git(&repo, &["rev-parse", "HEAD"]);

    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Capture"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "record-head"
title = "Record the commit before the update"
run = "git -C {{root}}/repo rev-parse HEAD"
capture = "old_head"
[[steps]]
id = "rebase"
title = "Update the code"
notes = "Half done the first time: it commits, then fails."
run = "cd {{root}}/repo && n=$(cat {{root}}/tries 2>/dev/null || echo 0) && n=$((n+1)) && echo $n > {{root}}/tries && echo v$((n+1)) > version && git commit -qam v$((n+1)) && [ $n -ge 2 ]"
undo = "git -C {{root}}/repo reset -q --hard {{old_head}}"
[[steps]]
id = "migrate"
title = "Migrate"
run = "echo 'no such column' >&2; exit 1"
on_failure = "abort"
"#,
    );
    // Retry the half-done update; then the migration stops the run: go
    // through the rollback and run the update's undo.
    let out = fx.run(&rb, &[], "r\ny\ny\n");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert_eq!(fx.read("tries"), "2\n", "the update ran twice");
    assert_eq!(
        git(&repo, &["rev-parse", "HEAD"]),
        before,
        "the undo went back to the commit from before the update: {}",
        describe(&out)
    );
    assert_eq!(fx.read("repo/version"), "v1\n");

    let j = fx.journal();
    let captures = events(&j, "capture", None);
    assert_eq!(captures.len(), 1, "{captures:?}");
    assert_eq!(captures[0]["var"], "old_head");
    assert_eq!(captures[0]["host"], "web");
    assert_eq!(captures[0]["value"], before.as_str());
    let undo = events(&j, "step_started", Some("rebase"))
        .into_iter()
        .find(|e| e["phase"] == "undo")
        .expect("the undo ran");
    assert_eq!(
        undo["command"],
        format!("git -C {}/repo reset -q --hard {before}", fx.root())
    );
}

/// A runbook whose step `record` runs `record` and captures `var`, then a
/// step `long` that waits for a file `resumed`, then `use`, which writes
/// `{{var}}` to `used`.
fn capture_then_long(fx: &Fixture, record: &str, var: &str) -> PathBuf {
    fx.write(
        "runbook.toml",
        &format!(
            r#"
[runbook]
name = "Capture and resume"
lock = "{{{{root}}}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "record"
title = "Record"
run = "{record}"
capture = "{var}"
[[steps]]
id = "long"
title = "Long"
run = "touch {{{{root}}}}/long-started; while [ ! -f {{{{root}}}}/resumed ]; do sleep 0.1; done"
[[steps]]
id = "use"
title = "Use it"
run = "echo '{{{{{var}}}}}' > {{{{root}}}}/used"
"#
        ),
    )
}

/// Run `runbook` with `--yes`, kill drydock once its step `long` started
/// (it waits for a file `resumed`), then `--resume --yes` it to the end.
fn killed_in_long_then_resumed(fx: &Fixture, runbook: &Path) -> Output {
    let child = spawn_run(fx, runbook, &["--yes"]);
    wait_for_file(&fx.path("long-started"), "the long step");
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    let _ = finish(child);
    fx.write("resumed", "");
    fx.run(runbook, &["--resume", "--yes"], "")
}

#[test]
fn a_capture_is_restored_on_resume() {
    let fx = Fixture::new();
    let rb = capture_then_long(&fx, "echo '  first value  '", "before");
    let out = killed_in_long_then_resumed(&fx, &rb);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(
        fx.read("used"),
        "first value\n",
        "trimmed, from the first session"
    );
    assert_eq!(
        events(&fx.journal(), "step_started", Some("record")).len(),
        1
    );
}

#[test]
fn a_secret_capture_is_captured_again_on_resume() {
    let fx = Fixture::new();
    fx.write("token", "tok-5ec7e7\n");
    let rb = capture_then_long(&fx, "cat {{root}}/token", "api_token");
    let out = killed_in_long_then_resumed(&fx, &rb);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(
        fx.read("used"),
        "tok-5ec7e7\n",
        "the real value, not the journal's ********"
    );
    assert_eq!(
        events(&fx.journal(), "step_started", Some("record")).len(),
        2,
        "the journal could not keep it: its step ran again"
    );
    let journal_text = std::fs::read_to_string(&fx.journals()[0]).expect("journal");
    assert!(!journal_text.contains("tok-5ec7e7"), "{journal_text}");
}

// ---- signals ------------------------------------------------------------

const LONG_STEP: &str = r#"
[runbook]
name = "Signals"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[banner]
path = "{{root}}/maintenance.json"
message = "Down for an update"
[[steps]]
id = "banner-on"
title = "Banner up"
banner = "on"
[[steps]]
id = "long"
title = "A long command"
run = "echo started > {{root}}/cmd-started; sleep 2; echo finished > {{root}}/cmd-finished"
[[steps]]
id = "after"
title = "After"
run = "touch {{root}}/after"
[[steps]]
id = "banner-off"
title = "Banner down"
banner = "off"
always = true
"#;

#[test]
fn sigterm_mid_step_leaves_the_command_to_finish_and_journals_run_interrupted() {
    let fx = Fixture::new();
    let rb = fx.write("runbook.toml", LONG_STEP);
    let child = spawn_run(&fx, &rb, &["--yes"]);
    wait_for_file(&fx.path("cmd-started"), "the long step");
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    let signalled = Instant::now();
    let (code, text) = finish(child);
    assert_eq!(code, 3, "{text}");
    assert!(
        signalled.elapsed() < Duration::from_millis(1500) && !fx.path("cmd-finished").exists(),
        "drydock left without waiting for the command: {text}"
    );
    assert!(text.contains("interrupted by SIGTERM"), "{text}");
    assert!(text.contains("--resume"), "{text}");

    wait_for_file(&fx.path("cmd-finished"), "the command finishing on its own");
    assert_eq!(fx.read("cmd-finished"), "finished\n");
    assert!(!fx.path("after").exists(), "nothing new ran");
    assert!(fx.path("lock/owner").exists(), "the lock stays");
    assert!(fx.path("maintenance.json").exists(), "the banner stays");

    let j = fx.journal();
    let last = j.last().expect("events");
    assert_eq!(last["event"], "run_interrupted", "{last}");
    assert_eq!(last["signal"], "SIGTERM");
    let running = last["running"].as_array().expect("running");
    assert_eq!(running.len(), 1, "{last}");
    assert_eq!(
        (running[0]["step"].as_str(), running[0]["host"].as_str()),
        (Some("long"), Some("web"))
    );
    assert!(
        running[0]["pid"].as_u64().is_some(),
        "the process group is journaled: {last}"
    );
    assert!(events(&j, "run_finished", None).is_empty());
}

#[test]
fn sighup_at_a_question_stops_the_run_and_nothing_more_runs() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        &LONG_STEP.replace("title = \"After\"", "title = \"After\"\nconfirm = true"),
    );
    let mut child = drydock()
        .arg("run")
        .arg("--headless")
        .arg(&rb)
        .arg("--journal-dir")
        .arg(fx.journal_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start drydock");
    // Keep standard input open: the run waits at the gate of `after`.
    let stdin = child.stdin.take();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let j = fx
            .journals()
            .first()
            .map(|p| read_journal(p))
            .unwrap_or_default();
        if j.iter()
            .any(|e| e["event"] == "step_finished" && e["step"] == "long")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the long step never finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, nix::sys::signal::Signal::SIGHUP);
    let (code, text) = finish(child);
    drop(stdin);
    assert_eq!(code, 3, "{text}");
    assert!(!fx.path("after").exists());
    assert!(fx.path("maintenance.json").exists(), "the banner stays");
    let j = fx.journal();
    let last = j.last().expect("events");
    assert_eq!(
        (last["event"].as_str(), last["signal"].as_str()),
        (Some("run_interrupted"), Some("SIGHUP"))
    );
    assert_eq!(last["running"], serde_json::json!([]));
}

// ---- resume -------------------------------------------------------------

#[test]
fn resuming_with_a_changed_runbook_asks_and_end_of_input_runs_nothing() {
    let fx = Fixture::new();
    let text = r#"
[runbook]
name = "Changed"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "one"
title = "One"
run = "touch {{root}}/one-started; sleep 30"
[[steps]]
id = "two"
title = "Two"
run = "touch {{root}}/two"
"#;
    let rb = fx.write("runbook.toml", text);
    let child = spawn_run(&fx, &rb, &["--yes"]);
    wait_for_file(&fx.path("one-started"), "step one");
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    let _ = finish(child);
    let before = read_journal(&fx.journals()[0]).len();
    fx.write("runbook.toml", &text.replace("sleep 30", "sleep 1"));
    std::fs::remove_file(fx.path("one-started")).expect("remove marker");

    // --yes does not answer this question; the end of input aborts.
    let out = fx.run(&rb, &["--resume", "--yes"], "");
    // The killed run's command goes on, as after a real crash.
    common::leftovers::end_all(&fx.root());
    assert_eq!(code(&out), 3, "{}", describe(&out));
    assert!(
        stdout(&out).contains("? the runbook changed since this run started"),
        "{}",
        describe(&out)
    );
    assert!(!fx.path("one-started").exists() && !fx.path("two").exists());
    let j = fx.journal();
    let added = &j[before..];
    assert!(
        added.iter().all(|e| e["event"] != "step_started"),
        "nothing ran: {added:?}"
    );
    assert!(
        events(&j, "run_finished", None).is_empty(),
        "the run can still be resumed"
    );
    let gate = events(added, "gate", None)[0];
    assert_eq!(gate["decision"], "abort");
    // Nobody answered it: the journal does not say the admin did.
    assert_eq!(gate["by"], "nobody", "{gate}");
    assert_eq!(gate["question"], "runbook_changed", "{gate}");
}

#[test]
fn a_stale_lock_is_named_and_resume_suggested() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Stale"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "one"
title = "One"
run = "touch {{root}}/one-started; sleep 30"
"#,
    );
    let child = spawn_run(&fx, &rb, &["--yes"]);
    wait_for_file(&fx.path("one-started"), "step one");
    let pid = child.id();
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    let _ = finish(child);

    let out = fx.run(&rb, &["--yes"], "");
    // The killed run's command goes on, as after a real crash.
    common::leftovers::end_all(&fx.root());
    assert_eq!(code(&out), 4, "{}", describe(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains(&format!("stale: its process {pid} on this machine is gone")),
        "{said}"
    );
    assert!(said.contains("this runbook's own unfinished run"), "{said}");
    assert!(said.contains("--resume"), "{said}");
}

// ---- the journal --------------------------------------------------------

/// A tiny tmpfs mounted in `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "this test mounts a tmpfs and needs root: run it as root (CI does)"
        );
        std::fs::create_dir_all(dir).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount -t tmpfs failed");
        Self(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_journal_disk_stops_the_run_before_the_next_step() {
    let fx = Fixture::new();
    let _tmpfs = Tmpfs::mount(&fx.journal_dir(), "64k");
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Full disk"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "chatty"
title = "Prints more than the journal's disk holds"
run = "seq 1 100000"
[[steps]]
id = "after"
title = "After"
run = "touch {{root}}/after"
"#,
    );
    let out = fx.run(&rb, &["--yes"], "");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(
        !fx.path("after").exists(),
        "nothing ran after the failed write"
    );
    let text = stdout(&out);
    assert!(text.contains("? the journal cannot be written"), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(
        text.contains("r retry the write / a stop the run"),
        "{text}"
    );
    // The step after is not blamed for it.
    assert!(
        text.contains("[2/2 after] web: not reached: the journal could not be written"),
        "{text}"
    );
}

#[test]
fn a_journal_dir_that_cannot_be_written_is_an_error_before_anything_runs() {
    let fx = Fixture::new();
    fx.write("journal", "a file, not a directory");
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "No journal"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "one"
title = "One"
run = "touch {{root}}/ran"
"#,
    );
    let out = fx.run(&rb, &["--yes"], "");
    assert_eq!(code(&out), 2, "nothing ran: {}", describe(&out));
    assert!(
        stderr(&out).contains("cannot write the journal") && stderr(&out).contains("nothing ran"),
        "{}",
        describe(&out)
    );
    assert!(!fx.path("ran").exists() && !fx.path("lock").exists());
}

// ---- the dry run --------------------------------------------------------

#[test]
fn a_dry_run_that_cannot_reach_a_host_exits_non_zero() {
    let fx = Fixture::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let rb = fx.write(
        "runbook.toml",
        &format!(
            r#"
[runbook]
name = "Unreachable"
[ssh]
user = "nobody"
port = {port}
known_hosts = "{{{{root}}}}/known_hosts"
connect_timeout = "2s"
[hosts.web]
address = "127.0.0.1"
[[steps]]
id = "one"
title = "One"
run = "true"
"#
        ),
    );
    let out = fx.run(&rb, &["--dry-run"], "");
    assert_ne!(code(&out), 0, "{}", describe(&out));
    assert!(
        stdout(&out).contains("cannot reach host 'web'"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_dry_run_says_previews_show_todays_state_and_fails_on_a_check_it_could_not_make() {
    let fx = Fixture::new();
    fx.write("robot_running_flag", "");
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Dry"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "robot-idle"
title = "Idle"
guard = { file_absent = "{{root}}/robot_running_flag", poll = "1s" }
[[steps]]
id = "rebase"
title = "Rebase"
preview = "git -C {{root}}/not-a-repo log --oneline"
run = "true"
"#,
    );
    let out = fx.run(&rb, &["--dry-run"], "");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("previews and checks show each host as it is now"),
        "{text}"
    );
    assert!(
        text.contains("robot-idle on web: the guard does not hold now")
            && text.contains("rebase on web: the preview failed"),
        "{text}"
    );
    assert!(fx.journals().is_empty(), "a dry run writes no journal");
}

/// `show` names the questions of a resume for what they were: the command
/// the killed run left running (killed here), then where the run resumed.
#[test]
fn show_names_the_answers_of_a_resume_for_what_they_answered() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Resumed"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "long"
title = "Long"
run = "touch {{root}}/long-started; sleep 4"
[[steps]]
id = "after"
title = "After"
run = "true"
"#,
    );
    let child = spawn_run(&fx, &rb, &["--yes"]);
    wait_for_file(&fx.path("long-started"), "the long step");
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    let _ = finish(child);
    // k: kill what still runs; y: resume at the step.
    let out = fx.run(&rb, &["--resume"], "k\ny\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let id = fx.journals()[0]
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .expect("a run id");
    let shown = drydock()
        .args(["show", &id, "--journal-dir"])
        .arg(fx.journal_dir())
        .output()
        .expect("drydock show");
    let text = stdout(&shown);
    assert!(
        text.contains("long on web, still running: kill  by admin"),
        "{text}"
    );
    assert!(text.contains("resume at long: run  by admin"), "{text}");
    assert!(!text.contains("lock on web"), "{text}");
}

/// A failed step undone, then skipped: the record tells it in that order.
#[test]
fn a_step_undone_then_skipped_says_so_in_that_order() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Undone then skipped"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "boom"
title = "Fails"
run = "exit 2"
undo = "true"
[[steps]]
id = "after"
title = "After"
run = "true"
"#,
    );
    // The gate is not asked (no confirm); at the failure: u, then s.
    let out = fx.run(&rb, &[], "u\ns\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("boom] web: skipped: failed, undone, then skipped by the admin"),
        "{text}"
    );
    assert!(!text.contains("then undone"), "{text}");
}
