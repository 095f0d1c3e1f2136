//! Headless runs of runbooks on `local` hosts: the built binary, real shells,
//! real files, a real HTTP server on loopback.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;

/// A tiny HTTP server on 127.0.0.1 that answers every request with `body`.
fn http_server(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    port
}

const EVERY_KIND: &str = r#"
[runbook]
name = "Two local sites"
description = "every step kind"
lock = "{{root}}/{{host}}.lock"

[vars]
greeting = "hello"

[hosts.alpha]
transport = "local"
roles = ["web"]
vars = { site = "{{root}}/alpha" }

[hosts.beta]
transport = "local"
roles = ["web"]
vars = { site = "{{root}}/beta" }

[banner]
path = "{{site}}/maintenance.json"
message = "Going down at {{starts_at}}"
content = '{"message": "{{message}}"}'
lead = "1s"

[[steps]]
id = "banner-on"
title = "Put up the banner"
banner = "on"

[[steps]]
id = "show-banner"
title = "The banner is there"
run = "cat {{site}}/maintenance.json"

[[steps]]
id = "wait-start"
title = "Wait for the announced time"
wait = "banner"

[[steps]]
id = "worker-idle"
title = "The worker is idle"
guard = { file_absent = "{{site}}/robot_running_flag", poll = "200ms", timeout = "30s" }

[[steps]]
id = "update"
title = "Update the code"
confirm = true
preview = "echo incoming: v2"
run = "echo {{greeting}} from {{host}} > {{site}}/version && cat {{site}}/version && echo 'a warning' >&2"
undo = "rm -f {{site}}/version"

[[steps]]
id = "only-if"
title = "Runs only where a marker exists"
when = "test -f {{site}}/marker"
run = "echo conditional > {{site}}/conditional"

[[steps]]
id = "node-out"
title = "Take the node out"
hosts = ["role:web"]
rolling = "nodes"
run = "echo out {{host}} >> {{root}}/rolling.log"

[[steps]]
id = "node-in"
title = "Put the node back"
rolling = "nodes"
run = "echo in {{host}} >> {{root}}/rolling.log"

[[steps]]
id = "check-site"
title = "The site answers"
http = { url = "http://127.0.0.1:{{port}}/", status = 200, contains = "Site is up" }

[[steps]]
id = "look"
title = "Try the new feature"
manual = "Open the site and try it."

[[steps]]
id = "pause"
title = "Let it settle"
wait = "100ms"

[[steps]]
id = "banner-off"
title = "Take the banner down"
banner = "off"
always = true
"#;

#[test]
fn every_step_kind_on_two_local_hosts_runs_to_the_end() {
    let fx = Fixture::new();
    let port = http_server("Site is up, v2");
    std::fs::create_dir_all(fx.path("alpha")).expect("mkdir");
    std::fs::create_dir_all(fx.path("beta")).expect("mkdir");
    fx.write("beta/marker", "");
    let runbook = fx.write("runbook.toml", EVERY_KIND);
    let out = fx.run(&runbook, &["--yes", "--var", &format!("port={port}")], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));

    // Side effects on disk.
    assert_eq!(fx.read("alpha/version"), "hello from alpha\n");
    assert_eq!(fx.read("beta/version"), "hello from beta\n");
    assert!(
        !fx.path("alpha/maintenance.json").exists(),
        "banner left up on alpha"
    );
    assert!(
        !fx.path("beta/maintenance.json").exists(),
        "banner left up on beta"
    );
    assert!(
        !fx.path("alpha/conditional").exists(),
        "condition was false on alpha"
    );
    assert_eq!(fx.read("beta/conditional"), "conditional\n");
    // The rolling block ran wholly on one host before the other.
    assert_eq!(
        fx.read("rolling.log"),
        "out alpha\nin alpha\nout beta\nin beta\n"
    );
    // Locks are released.
    assert!(!fx.path("alpha.lock").exists() && !fx.path("beta.lock").exists());

    // The journal matches the run.
    let j = fx.journal();
    assert_eq!(j[0]["event"], "run_started");
    assert_eq!(j[0]["hosts"], serde_json::json!(["alpha", "beta"]));
    assert_eq!(j[0]["runbook_sha256"].as_str().map(str::len), Some(64));
    let last = j.last().expect("events");
    assert_eq!(
        (
            last["event"].as_str(),
            last["status"].as_str(),
            last["exit_code"].as_i64()
        ),
        (Some("run_finished"), Some("ok"), Some(0))
    );
    for e in &j {
        assert!(
            e["ts"].as_str().is_some_and(|t| t.contains('T')),
            "no ts: {e}"
        );
    }
    for host in ["alpha", "beta"] {
        for step in [
            "banner-on",
            "show-banner",
            "wait-start",
            "worker-idle",
            "update",
            "node-out",
            "node-in",
            "check-site",
            "look",
            "pause",
            "banner-off",
        ] {
            assert_eq!(
                status(&j, step, host).as_deref(),
                Some("ok"),
                "{step} on {host}"
            );
        }
        let banner = output_lines(&j, "show-banner", host, "stdout");
        assert_eq!(banner.len(), 1);
        assert!(
            banner[0].starts_with(r#"{"message": "Going down at 20"#),
            "banner content: {banner:?}"
        );
        assert_eq!(
            output_lines(&j, "update", host, "stdout"),
            [format!("hello from {host}")]
        );
        assert_eq!(output_lines(&j, "update", host, "stderr"), ["a warning"]);
    }
    assert_eq!(status(&j, "only-if", "alpha").as_deref(), Some("skipped"));
    assert_eq!(status(&j, "only-if", "beta").as_deref(), Some("ok"));
    let gates = events(&j, "gate", Some("update"));
    assert_eq!(gates.len(), 1);
    assert_eq!(gates[0]["decision"], "run");
    assert!(!events(&j, "guard_poll", Some("worker-idle")).is_empty());
    // Started is written before finished, for every step.
    let started = position(&j, |e| {
        e["event"] == "step_started" && e["step"] == "update" && e["host"] == "alpha"
    })
    .expect("started");
    let finished = position(&j, |e| {
        e["event"] == "step_finished" && e["step"] == "update" && e["host"] == "alpha"
    })
    .expect("finished");
    assert!(started < finished);
    let banner_on = events(&j, "step_finished", Some("banner-on"));
    assert!(
        banner_on[0]["starts_at"].as_str().is_some(),
        "the banner's start time is journaled"
    );
}

const FAILING: &str = r#"
[runbook]
name = "A failing migration"
lock = "{{root}}/lock"

[hosts.web]
transport = "local"

[[steps]]
id = "stop-server"
title = "Stop the server"
run = "echo stopped > {{root}}/server"
undo = "echo started-by-undo > {{root}}/server"

[[steps]]
id = "migrate"
title = "Run the migrations"
run = "echo Applying app.0002...; echo 'django.db.utils.OperationalError: no such column' >&2; exit 1"
on_failure = "ON_FAILURE"

[[steps]]
id = "after"
title = "After the migration"
run = "touch {{root}}/after-ran"

[[steps]]
id = "start-server"
title = "Start the server"
run = "echo started > {{root}}/server"
always = true
"#;

fn failing(fx: &Fixture, on_failure: &str) -> std::path::PathBuf {
    fx.write("runbook.toml", &FAILING.replace("ON_FAILURE", on_failure))
}

#[test]
fn a_paused_failure_answered_skip_goes_on() {
    let fx = Fixture::new();
    let rb = failing(&fx, "pause");
    let out = fx.run(&rb, &[], "s\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("Run the migrations failed"), "{text}");
    assert!(
        text.contains("OperationalError"),
        "the failure shows stderr: {text}"
    );
    assert!(text.contains("r retry / s skip / a abort"), "{text}");
    assert!(fx.path("after-ran").exists());
    let j = fx.journal();
    let finished: Vec<&str> = events(&j, "step_finished", Some("migrate"))
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(finished, ["failed", "skipped"]);
    assert_eq!(j.last().expect("events")["status"], "ok");
}

#[test]
fn a_paused_failure_answered_abort_offers_undo_and_always_steps() {
    let fx = Fixture::new();
    let rb = failing(&fx, "pause");
    // abort; go through the rollback's plan; run the undo of stop-server;
    // then run the always step.
    let out = fx.run(&rb, &[], "a\ny\ny\ny\n");
    assert_eq!(code(&out), 3, "{}", describe(&out));
    let text = stdout(&out);
    let undo_offer = text.find("undo Stop the server").expect("undo offered");
    let always_offer = text
        .find("always step Start the server")
        .expect("always offered");
    assert!(undo_offer < always_offer, "undo first, then always: {text}");
    assert!(
        !fx.path("after-ran").exists(),
        "nothing after the abort ran"
    );
    assert_eq!(fx.read("server"), "started\n", "the always step ran last");
    let j = fx.journal();
    let undo = j.iter().find(|e| {
        e["event"] == "step_started" && e["step"] == "stop-server" && e["phase"] == "undo"
    });
    assert!(undo.is_some(), "the undo is journaled as such");
    let last = j.last().expect("events");
    assert_eq!(
        (last["status"].as_str(), last["exit_code"].as_i64()),
        (Some("aborted"), Some(3))
    );
}

#[test]
fn leaving_the_rollback_runs_nothing_more() {
    let fx = Fixture::new();
    let rb = failing(&fx, "pause");
    let out = fx.run(&rb, &[], "a\ns\ns\n");
    assert_eq!(code(&out), 3, "{}", describe(&out));
    assert_eq!(fx.read("server"), "stopped\n");
}

#[test]
fn a_failure_answered_retry_runs_the_step_again() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Flaky"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "flaky"
title = "Fails once"
run = "if [ -f {{root}}/tried ]; then echo second try; else touch {{root}}/tried; echo first try >&2; exit 2; fi"
"#,
    );
    let out = fx.run(&rb, &[], "r\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let j = fx.journal();
    let statuses: Vec<&str> = events(&j, "step_finished", Some("flaky"))
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(statuses, ["failed", "ok"]);
    assert_eq!(output_lines(&j, "flaky", "web", "stdout"), ["second try"]);
}

#[test]
fn on_failure_abort_stops_the_run_with_exit_1() {
    let fx = Fixture::new();
    let rb = failing(&fx, "abort");
    // The rollback is still offered; leave it.
    let out = fx.run(&rb, &[], "s\ns\n");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(!fx.path("after-ran").exists());
    let j = fx.journal();
    assert_eq!(status(&j, "migrate", "web").as_deref(), Some("failed"));
    assert_eq!(
        events(&j, "step_finished", Some("migrate"))[0]["exit_code"],
        1
    );
    assert_eq!(j.last().expect("events")["status"], "failed");
}

#[test]
fn yes_never_answers_a_failure() {
    let fx = Fixture::new();
    let rb = failing(&fx, "pause");
    let out = fx.run(&rb, &["--yes"], "");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(!fx.path("after-ran").exists());
    // --yes answers the rollback's offers: the undo and the always step ran.
    assert_eq!(fx.read("server"), "started\n");
}

#[test]
fn on_failure_continue_goes_on_and_reports_failure() {
    let fx = Fixture::new();
    let rb = failing(&fx, "continue");
    let out = fx.run(&rb, &[], "");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(fx.path("after-ran").exists());
}

#[test]
fn end_of_input_at_a_gate_aborts() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Gated"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "gated"
title = "Dangerous"
confirm = true
run = "touch {{root}}/ran"
"#,
    );
    let out = fx.run(&rb, &[], "");
    assert_eq!(code(&out), 3, "{}", describe(&out));
    assert!(!fx.path("ran").exists());
    assert_eq!(
        events(&fx.journal(), "gate", Some("gated"))[0]["decision"],
        "abort"
    );
}

#[test]
fn gate_answers_skip_and_run_and_a_bad_answer_is_asked_again() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Gated"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "first"
title = "First"
run = "touch {{root}}/first"
[[steps]]
id = "second"
title = "Second"
run = "touch {{root}}/second"
"#,
    );
    // --step gates every step.
    let out = fx.run(&rb, &["--step"], "maybe\ns\ny\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    // Said, without repeating what was read (it may be a password).
    assert!(stdout(&out).contains("not an answer here"));
    assert!(!stdout(&out).contains("maybe"), "{}", stdout(&out));
    assert!(!fx.path("first").exists());
    assert!(fx.path("second").exists());
    let j = fx.journal();
    assert_eq!(status(&j, "first", "web").as_deref(), Some("skipped"));
}

const GUARDED: &str = r#"
[runbook]
name = "Guarded"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "robot-idle"
title = "The vision backend is idle"
guard = { file_absent = "{{root}}/robot_running_flag", poll = "200ms", timeout = "TIMEOUT" }
on_failure = "abort"
[[steps]]
id = "stop"
title = "Stop"
run = "touch {{root}}/stopped"
"#;

#[test]
fn a_guard_blocks_until_another_process_removes_the_flag() {
    let fx = Fixture::new();
    fx.write("robot_running_flag", "");
    let rb = fx.write("runbook.toml", &GUARDED.replace("TIMEOUT", "60s"));
    let flag = fx.path("robot_running_flag");
    let remover = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        std::fs::remove_file(flag).expect("remove flag");
        Instant::now()
    });
    let out = fx.run(&rb, &["--yes"], "");
    let removed_at = remover.join().expect("remover");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(removed_at.elapsed() < Duration::from_secs(60));
    let j = fx.journal();
    let polls: Vec<bool> = events(&j, "guard_poll", Some("robot-idle"))
        .iter()
        .filter_map(|e| e["ok"].as_bool())
        .collect();
    assert!(
        polls.len() >= 2 && !polls[0] && *polls.last().expect("polls"),
        "polls: {polls:?}"
    );
    assert!(stdout(&out).contains("robot_running_flag is present"));
    assert!(fx.path("stopped").exists());
}

#[test]
fn a_guard_that_times_out_fails_the_step() {
    let fx = Fixture::new();
    fx.write("robot_running_flag", "");
    let rb = fx.write("runbook.toml", &GUARDED.replace("TIMEOUT", "1s"));
    let out = fx.run(&rb, &["--yes"], "");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(!fx.path("stopped").exists());
    let j = fx.journal();
    assert_eq!(status(&j, "robot-idle", "web").as_deref(), Some("timeout"));
    assert!(
        stdout(&out).contains("did not hold within 1s"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_second_run_while_the_first_holds_the_lock_exits_4_naming_the_holder() {
    let fx = Fixture::new();
    fx.write("robot_running_flag", "");
    let rb = fx.write("runbook.toml", &GUARDED.replace("TIMEOUT", "60s"));
    let mut first = drydock();
    first
        .args(["run", "--headless", "--yes"])
        .arg(&rb)
        .arg("--journal-dir")
        .arg(fx.journal_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let first = first.spawn().expect("first run");
    let owner = fx.path("lock/owner");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !owner.exists() {
        assert!(
            Instant::now() < deadline,
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let first_id = fx.journals()[0]
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned();

    let second = fx.run(&rb, &["--yes"], "");
    assert_eq!(code(&second), 4, "{}", describe(&second));
    let said = format!("{}{}", stdout(&second), stderr(&second));
    assert!(
        said.contains(&format!("held by run {first_id}")),
        "names the holder: {said}"
    );
    assert!(!fx.path("stopped").exists());

    std::fs::remove_file(fx.path("robot_running_flag")).expect("remove flag");
    let first = first.wait_with_output().expect("first run ends");
    assert_eq!(code(&first), 0, "{}", describe(&first));
    assert!(fx.path("stopped").exists());
    assert!(!fx.path("lock").exists(), "the lock is released");
}

/// Start `drydock run --yes` and SIGKILL it once the file `marker` appears
/// (a step has begun), as a crash or a lost admin laptop would.
fn kill_run_when(fx: &Fixture, runbook: &std::path::Path, marker: &str) {
    let mut cmd = drydock();
    cmd.args(["run", "--headless", "--yes"])
        .arg(runbook)
        .arg("--journal-dir")
        .arg(fx.journal_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("start");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fx.path(marker).exists() {
        assert!(Instant::now() < deadline, "{marker} never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL drydock");
    child.wait().expect("reap");
}

/// The command of a run killed by `kill_run_when` goes on, as after a real
/// crash: end it when the test is done with it.
fn end_orphaned_command(fx: &Fixture) {
    common::leftovers::end_all(&fx.root());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !common::leftovers::mentioning(&fx.root()).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the orphaned command did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_run_killed_mid_step_resumes_and_journals_the_step_as_unknown() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Interrupted"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "one"
title = "One"
run = "echo one >> {{root}}/log"
[[steps]]
id = "two"
title = "Two"
run = "echo two >> {{root}}/log; touch {{root}}/two-started; if [ ! -f {{root}}/resumed ]; then sleep 30; fi"
[[steps]]
id = "three"
title = "Three"
run = "echo three >> {{root}}/log"
"#,
    );
    kill_run_when(&fx, &rb, "two-started");
    fx.write("resumed", "");
    // Resuming would wait for the killed run's command, still running.
    end_orphaned_command(&fx);

    let out = fx.run(&rb, &["--resume", "--yes"], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(
        fx.read("log"),
        "one\ntwo\ntwo\nthree\n",
        "one is not run again, two is"
    );
    let j = fx.journal();
    let unknown = position(&j, |e| {
        e["event"] == "step_finished" && e["step"] == "two" && e["status"] == "unknown"
    })
    .expect("two journaled as unknown");
    let rerun = j
        .iter()
        .enumerate()
        .filter(|(_, e)| e["event"] == "step_started" && e["step"] == "two")
        .map(|(i, _)| i)
        .next_back()
        .expect("two re-run");
    assert!(
        unknown < rerun,
        "unknown is journaled before the step runs again"
    );
    assert_eq!(events(&j, "step_started", Some("one")).len(), 1);
    assert_eq!(
        events(&j, "run_started", None).len(),
        1,
        "the run keeps its id and journal"
    );
    assert_eq!(j.last().expect("events")["status"], "ok");
    assert!(!fx.path("lock").exists());

    // Nothing is left to resume.
    let again = fx.run(&rb, &["--resume"], "");
    assert_eq!(code(&again), 2, "{}", describe(&again));
    assert!(stderr(&again).contains("no unfinished run"));
}

#[test]
fn resume_asks_before_it_goes_on() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Interrupted"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "one"
title = "One"
run = "touch {{root}}/started; sleep 30"
"#,
    );
    kill_run_when(&fx, &rb, "started");
    // Resuming would first ask about the killed run's command, still running.
    end_orphaned_command(&fx);
    let out = fx.run(&rb, &["--resume"], "a\n");
    assert_eq!(code(&out), 3, "{}", describe(&out));
    assert!(
        stdout(&out).contains("? resume at [1/1 one]"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn dry_run_changes_nothing_on_disk() {
    let fx = Fixture::new();
    let port = http_server("Site is up");
    std::fs::create_dir_all(fx.path("alpha")).expect("mkdir");
    std::fs::create_dir_all(fx.path("beta")).expect("mkdir");
    let rb = fx.write("runbook.toml", EVERY_KIND);
    let before = snapshot(fx.dir.path());
    let out = fx.run(&rb, &["--dry-run", "--var", &format!("port={port}")], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(snapshot(fx.dir.path()), before, "the dry run changed files");
    let text = stdout(&out);
    assert!(text.contains("DRY RUN"), "{text}");
    assert!(text.contains("would run `echo hello from alpha"), "{text}");
    assert!(text.contains("incoming: v2"), "previews run: {text}");
    assert!(
        text.contains("guard holds"),
        "guards are checked once: {text}"
    );
    assert!(fx.journals().is_empty(), "a dry run writes no journal");
}

fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                out.push((p.display().to_string(), Vec::new()));
                stack.push(p);
            } else {
                out.push((
                    p.display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn from_vars_and_hosts_select_what_runs() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Selection"
lock = "{{root}}/{{host}}.lock"
[vars]
word = "default"
[hosts.a]
transport = "local"
[hosts.b]
transport = "local"
vars = { word = "host-b" }
[[steps]]
id = "early"
title = "Early"
run = "touch {{root}}/early-{{host}}"
[[steps]]
id = "late"
title = "Late"
run = "echo {{word}} > {{root}}/late-{{host}}"
"#,
    );
    // The question that lists the steps --from skips: start there.
    let out = fx.run(&rb, &["--from", "late", "--host", "b"], "y\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(!fx.path("early-b").exists());
    assert!(!fx.path("late-a").exists(), "--host b leaves a alone");
    assert_eq!(fx.read("late-b"), "host-b\n");
    assert_eq!(
        status(&fx.journal(), "early", "b").as_deref(),
        Some("skipped")
    );

    let out = fx.run(&rb, &["--var", "word=cli", "--host", "b"], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(fx.read("late-b"), "cli\n", "--var wins over host vars");
}

#[test]
fn timeouts_end_the_command_and_retries_try_again() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Timeouts"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "retried"
title = "Succeeds on the third try"
retries = 2
run = "n=$(cat {{root}}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{root}}/n; [ $n -ge 3 ]"
[[steps]]
id = "slow"
title = "Too slow"
timeout = "1s"
on_failure = "abort"
run = "echo begin; sleep 41 # drydock-timeout-marker"
"#,
    );
    let out = fx.run(&rb, &[], "");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert_eq!(fx.read("n"), "3\n");
    let j = fx.journal();
    assert_eq!(status(&j, "retried", "web").as_deref(), Some("ok"));
    assert_eq!(status(&j, "slow", "web").as_deref(), Some("timeout"));
    assert_eq!(output_lines(&j, "slow", "web", "stdout"), ["begin"]);
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    assert!(
        !String::from_utf8_lossy(&ps.stdout).contains("sleep 41"),
        "the timed-out command is still running"
    );
}

#[test]
fn secrets_never_reach_the_journal() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Secrets"
lock = "{{root}}/lock"
[vars]
db_password = "hunter2-very-secret"
[hosts.web]
transport = "local"
[[steps]]
id = "dump"
title = "Dump with a password"
run = "echo connecting with {{db_password}}"
"#,
    );
    let out = fx.run(&rb, &[], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let journal = std::fs::read_to_string(&fx.journals()[0]).expect("journal");
    assert!(!journal.contains("hunter2-very-secret"), "{journal}");
    assert!(journal.contains("connecting with ********"));
    assert!(!stdout(&out).contains("hunter2-very-secret"));
}

#[test]
fn remote_output_cannot_drive_the_terminal() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Escapes"
lock = "{{root}}/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "evil"
title = "Prints escapes"
run = '''printf 'a\033[2Jb\033]0;title\007c\033[31mred\033[0m\n' '''
"#,
    );
    let out = fx.run(&rb, &[], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        !out.stdout.contains(&0x1b),
        "escape bytes reached stdout: {:?}",
        stdout(&out)
    );
    assert_eq!(
        output_lines(&fx.journal(), "evil", "web", "stdout"),
        ["abcred"]
    );
}

#[test]
fn history_lists_past_runs() {
    let fx = Fixture::new();
    let rb = failing(&fx, "abort");
    let out = fx.run(&rb, &[], "s\ns\n");
    assert_eq!(code(&out), 1);
    let out = drydock()
        .arg("history")
        .arg("--journal-dir")
        .arg(fx.journal_dir())
        .output()
        .expect("history");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    let id = fx.journals()[0]
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned();
    let row = text
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("no row for {id}: {text}"));
    assert!(
        row.contains("failed (1)") && row.contains("runbook.toml"),
        "{row}"
    );
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = drydock()
            .args(["completions", shell])
            .output()
            .expect("completions");
        assert_eq!(code(&out), 0);
        // The script asks drydock itself, which knows the run flags.
        let script = stdout(&out);
        assert!(
            script.contains("COMPLETE") && script.contains(env!("CARGO_BIN_EXE_drydock")),
            "{shell}: {script}"
        );
        let asked = drydock()
            .env("COMPLETE", shell)
            .env("_CLAP_COMPLETE_INDEX", "3")
            .args(["--", "drydock", "run", "r.toml", "--res"])
            .output()
            .expect("complete");
        assert!(
            stdout(&asked).contains("--resume"),
            "{shell} completions mention the run flags: {}",
            describe(&asked)
        );
    }
}
