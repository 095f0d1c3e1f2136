//! The engine driven directly through its Event / Decision channels, as a
//! front end drives it: the decisions headless mode cannot send.

use std::sync::Arc;
use std::time::Duration;

use drydock::engine::{self, Decision, Event, PromptKind};
use drydock::journal::{Outcome, RunStatus};

struct Run {
    handle: engine::RunHandle,
    seen: Vec<Event>,
}

fn start(body: &str) -> (Run, tempfile::TempDir) {
    start_with(body, |_| {})
}

fn start_with(body: &str, adjust: impl FnOnce(&mut engine::Options)) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().display().to_string();
    let text = format!(
        "[runbook]\nname = \"engine test\"\nlock = \"{root}/lock\"\n[hosts.a]\ntransport = \"local\"\n[hosts.b]\ntransport = \"local\"\n{}",
        body.replace("{{root}}", &root)
    );
    let path = dir.path().join("runbook.toml");
    std::fs::write(&path, text).expect("write");
    let plan = Arc::new(drydock::runbook::load(&path, &[]).expect("runbook loads"));
    let mut options = engine::Options {
        yes: false,
        step_mode: false,
        dry_run: false,
        from: None,
        only_hosts: Vec::new(),
        journal_dir: dir.path().join("journal"),
        resume: None,
        prompter: Arc::new(drydock::remote::Declining),
        offer_lock_break: false,
        tail_logs: false,
    };
    adjust(&mut options);
    let handle = engine::start(plan, options).expect("start");
    (
        Run {
            handle,
            seen: Vec::new(),
        },
        dir,
    )
}

impl Run {
    /// Read events until one matches; fail after 20 s.
    async fn until(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        let wait = async {
            while let Some(e) = self.handle.events.recv().await {
                self.seen.push(e.clone());
                if pred(&e) {
                    return e;
                }
            }
            panic!("the run ended before {what}");
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap_or_else(|_| panic!("no {what} within 20 s"))
    }

    async fn decide(&self, d: Decision) {
        self.handle.decisions.send(d).await.expect("engine listens");
    }

    async fn finish(mut self) -> (RunStatus, i32, Vec<Event>) {
        let e = self
            .until("the end", |e| matches!(e, Event::RunFinished { .. }))
            .await;
        let Event::RunFinished {
            status, exit_code, ..
        } = e
        else {
            unreachable!()
        };
        (status, exit_code, self.seen)
    }
}

fn finished(events: &[Event], step: usize) -> Vec<Outcome> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished {
                step: s, outcome, ..
            } if *s == step => Some(*outcome),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_guard_can_be_overridden() {
    let (mut run, dir) = start(
        r#"
[[steps]]
id = "idle"
title = "Worker idle"
guard = { file_present = "{{root}}/never", poll = "100ms" }
[[steps]]
id = "next"
title = "Next"
run = "touch {{root}}/next-{{host}}"
"#,
    );
    let root = dir.path();
    run.until("a failed guard check", |e| {
        matches!(e, Event::GuardPolled { ok: false, .. })
    })
    .await;
    run.decide(Decision::Override).await;
    let (status, code, events) = run.finish().await;
    assert_eq!((status, code), (RunStatus::Ok, 0));
    assert_eq!(finished(&events, 0), [Outcome::Ok, Outcome::Ok]);
    assert!(root.join("next-a").exists() && root.join("next-b").exists());
    // The answer comes before the step's end it brought about, and that
    // end says the guard passed by the admin's word, not by holding.
    let overridden = events
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Decided {
                    decision: Decision::Override,
                    ..
                }
            )
        })
        .expect("the override is told");
    let ends: Vec<(usize, Option<String>)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Event::StepFinished {
                step: 0, message, ..
            } => Some((i, message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 2, "{ends:?}");
    for (at, message) in ends {
        assert!(
            overridden < at,
            "the override after the step's end: {events:?}"
        );
        assert_eq!(message.as_deref(), Some(engine::GUARD_OVERRIDDEN));
    }
}

#[tokio::test]
async fn abort_while_a_command_runs_ends_it_and_offers_the_rollback() {
    let (mut run, dir) = start(
        r#"
[[steps]]
id = "stop"
title = "Stop"
hosts = ["a"]
run = "echo stopped > {{root}}/server"
undo = "echo started > {{root}}/server"
[[steps]]
id = "long"
title = "Long migration"
hosts = ["a"]
run = "touch {{root}}/long-started; sleep 37; touch {{root}}/long-finished"
[[steps]]
id = "banner-off"
title = "Always"
hosts = ["a"]
run = "touch {{root}}/always"
always = true
"#,
    );
    let root = dir.path();
    run.until("the long step", |e| {
        matches!(e, Event::StepStarted { step: 1, .. })
    })
    .await;
    while !root.join("long-started").exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.decide(Decision::Abort).await;
    // The rollback shows its whole plan first.
    let prompt = run
        .until("the rollback plan", |e| matches!(e, Event::Prompt(_)))
        .await;
    let Event::Prompt(p) = prompt else {
        unreachable!()
    };
    let PromptKind::RollbackPlan { undo, always } = &p.kind else {
        panic!("not the plan: {p:?}");
    };
    assert_eq!(
        (undo.as_slice(), always.as_slice()),
        (&[(0, vec![0])][..], &[(2, vec![0])][..])
    );
    run.decide(Decision::Run).await;
    let prompt = run
        .until("the undo offer", |e| matches!(e, Event::Prompt(_)))
        .await;
    let Event::Prompt(p) = prompt else {
        unreachable!()
    };
    assert!(matches!(p.kind, PromptKind::Undo));
    assert_eq!(p.step, 0);
    assert_eq!(
        p.commands[0].1,
        format!("echo started > {}/server", root.display())
    );
    run.decide(Decision::Run).await;
    let prompt = run
        .until("the always offer", |e| matches!(e, Event::Prompt(_)))
        .await;
    let Event::Prompt(p) = prompt else {
        unreachable!()
    };
    assert!(matches!(p.kind, PromptKind::Always));
    assert!(
        !p.choices.contains(&Decision::Abort),
        "an always step is left only by its own answer"
    );
    run.decide(Decision::Leave).await;
    let (status, code, events) = run.finish().await;
    assert_eq!((status, code), (RunStatus::Aborted, 3));
    assert_eq!(finished(&events, 1), [Outcome::Failed]);
    assert_eq!(
        std::fs::read_to_string(root.join("server")).expect("server"),
        "started\n"
    );
    assert!(!root.join("always").exists(), "the always step was left");
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    assert!(
        !String::from_utf8_lossy(&ps.stdout).contains("sleep 37"),
        "the aborted command still runs"
    );
    assert!(!root.join("long-finished").exists());
}

#[tokio::test]
async fn a_wait_can_be_cut_short() {
    let (mut run, dir) = start(
        r#"
[[steps]]
id = "pause"
title = "Let it settle"
wait = "1h"
[[steps]]
id = "after"
title = "After"
run = "touch {{root}}/after"
"#,
    );
    let root = dir.path();
    run.until("the countdown", |e| matches!(e, Event::Waiting { .. }))
        .await;
    run.decide(Decision::Skip).await;
    let (status, code, _) = run.finish().await;
    assert_eq!((status, code), (RunStatus::Ok, 0));
    assert!(root.join("after").exists());
}

#[tokio::test]
async fn the_hosts_of_one_step_run_at_the_same_time() {
    let (run, _dir) = start(
        r#"
[[steps]]
id = "both"
title = "Both hosts"
run = "sleep 1"
"#,
    );
    let (status, _, events) = run.finish().await;
    assert_eq!(status, RunStatus::Ok);
    let order: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepStarted { .. } => Some("started"),
            Event::StepFinished { .. } => Some("finished"),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["started", "started", "finished", "finished"]);
}

#[tokio::test]
async fn a_gate_shows_the_exact_commands_and_the_preview() {
    let (mut run, dir) = start(
        r#"
[vars]
site = "/srv/site"
[[steps]]
id = "rebase"
title = "Rebase"
confirm = true
notes = "Look at the incoming commits first."
preview = "echo 'abc123 Add a field'; echo '{{host}}'"
run = "echo git -C {{site}} rebase > {{root}}/rebased-{{host}}"
"#,
    );
    let root = dir.path();
    let prompt = run
        .until("the gate", |e| matches!(e, Event::Prompt(_)))
        .await;
    let Event::Prompt(p) = prompt else {
        unreachable!()
    };
    assert!(matches!(p.kind, PromptKind::Gate));
    assert_eq!(p.hosts, [0, 1]);
    assert_eq!(
        p.commands[0].1,
        format!(
            "echo git -C /srv/site rebase > {}/rebased-a",
            root.display()
        )
    );
    assert_eq!(p.previews.len(), 2);
    assert_eq!(p.previews[1].lines, ["abc123 Add a field", "b"]);
    assert_eq!(p.choices, [Decision::Run, Decision::Skip, Decision::Abort]);
    run.decide(Decision::Run).await;
    let (status, _, _) = run.finish().await;
    assert_eq!(status, RunStatus::Ok);
    assert!(root.join("rebased-a").exists() && root.join("rebased-b").exists());
}

/// The journal of a finished run, one JSON value a line.
fn journal_of(events: &[Event]) -> Vec<serde_json::Value> {
    let path = events
        .iter()
        .find_map(|e| match e {
            Event::RunFinished {
                journal: Some(j), ..
            } => Some(j.clone()),
            _ => None,
        })
        .expect("the run names its journal");
    std::fs::read_to_string(path)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Whether a process whose command line contains `marker` runs, within 5 s.
fn gone(marker: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let ps = std::process::Command::new("ps")
            .args(["-eo", "args"])
            .output()
            .expect("ps");
        if !String::from_utf8_lossy(&ps.stdout).contains(marker) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn a_guard_check_that_does_not_finish_is_abandoned_at_the_deadline() {
    let (mut run, _dir) = start(
        r#"
[[steps]]
id = "idle"
title = "Worker idle"
hosts = ["a"]
guard = { command = "exec sleep 31.7", poll = "300ms", timeout = "2s" }
on_failure = "abort"
"#,
    );
    let started = std::time::Instant::now();
    let polled = run
        .until("a check given up", |e| {
            matches!(e, Event::GuardPolled { .. })
        })
        .await;
    let Event::GuardPolled { ok, detail, .. } = polled else {
        unreachable!()
    };
    assert!(!ok);
    // Cut at the guard's deadline, 2 s after it began (less what starting took).
    assert!(
        detail.starts_with("the check did not finish within ") && detail.ends_with('s'),
        "{detail}"
    );
    let (status, code, events) = run.finish().await;
    assert_eq!((status, code), (RunStatus::Failed, 1));
    assert_eq!(finished(&events, 0), [Outcome::Timeout]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the guard ends at its deadline"
    );
    assert!(gone("sleep 31.7"), "an abandoned check still runs");
}

/// A check slower than `poll` (a slow database) is not cut at the next
/// poll: it has its answer, and the guard holds.
#[tokio::test]
async fn a_guard_check_slower_than_its_poll_is_waited_for() {
    let (mut run, _dir) = start(
        r#"
[[steps]]
id = "idle"
title = "Worker idle"
hosts = ["a"]
guard = { command = "sleep 1; true", poll = "300ms", timeout = "10s" }
on_failure = "abort"
"#,
    );
    let polled = run
        .until("the first check", |e| {
            matches!(e, Event::GuardPolled { .. })
        })
        .await;
    assert!(
        matches!(
            polled,
            Event::GuardPolled {
                ok: true,
                checks: 1,
                ..
            }
        ),
        "{polled:?}"
    );
    let (status, code, events) = run.finish().await;
    assert_eq!((status, code), (RunStatus::Ok, 0));
    assert_eq!(finished(&events, 0), [Outcome::Ok]);
}

#[tokio::test]
async fn previews_and_conditions_that_outlive_the_steps_timeout_are_abandoned() {
    let (mut run, _dir) = start(
        r#"
[[steps]]
id = "look"
title = "Look first"
hosts = ["a"]
confirm = true
preview = "exec sleep 32.3"
timeout = "400ms"
run = "true"
[[steps]]
id = "maybe"
title = "Only where it holds"
hosts = ["a"]
when = "exec sleep 33.1"
timeout = "400ms"
run = "true"
"#,
    );
    let prompt = run
        .until("the gate", |e| matches!(e, Event::Prompt(_)))
        .await;
    let Event::Prompt(p) = prompt else {
        unreachable!()
    };
    assert_eq!(
        p.previews[0].error.as_deref(),
        Some("no answer within 400ms")
    );
    run.decide(Decision::Skip).await;
    let skipped = run
        .until("the condition's verdict", |e| {
            matches!(e, Event::StepSkipped { step: 1, .. })
        })
        .await;
    let Event::StepSkipped { reason, .. } = skipped else {
        unreachable!()
    };
    assert_eq!(
        reason,
        "condition `exec sleep 33.1` could not be checked: no answer within 400ms"
    );
    let (status, _, _) = run.finish().await;
    assert_eq!(status, RunStatus::Ok);
    assert!(gone("sleep 32.3") && gone("sleep 33.1"));
}

#[tokio::test]
async fn a_held_lock_is_its_own_question_and_its_break_is_journaled_on_the_host() {
    let (mut run, dir) = start_with(
        r#"
[[steps]]
id = "first"
title = "First"
run = "touch {{root}}/ran-{{host}}"
"#,
        |o| o.offer_lock_break = true,
    );
    let root = dir.path();
    // Another run holds the lock; the engine may already be looking at it.
    let lock = root.join("lock");
    std::fs::create_dir(&lock).expect("lock dir");
    std::fs::write(
        lock.join("owner"),
        "run_id=20260101-000000-other\nuser=alice\nmachine=laptop\nsince=then\nrunbook=x\n",
    )
    .expect("owner");
    let prompt = run
        .until("the lock-break question", |e| matches!(e, Event::Prompt(_)))
        .await;
    let Event::Prompt(p) = prompt else {
        unreachable!()
    };
    let PromptKind::LockBreak { host, path, holder } = &p.kind else {
        panic!("not a lock break: {:?}", p.kind)
    };
    assert_eq!(*host, 0);
    assert_eq!(path, &lock.display().to_string());
    assert!(holder.contains("20260101-000000-other"), "{holder}");
    assert_eq!(
        p.choices,
        [Decision::BreakLock { host: 0 }, Decision::Abort]
    );
    // An answer for another host's lock is not taken for this one.
    run.decide(Decision::BreakLock { host: 1 }).await;
    run.decide(Decision::BreakLock { host: 0 }).await;
    let (status, code, events) = run.finish().await;
    assert_eq!((status, code), (RunStatus::Ok, 0));
    assert!(root.join("ran-a").exists() && root.join("ran-b").exists());
    let gates: Vec<_> = journal_of(&events)
        .into_iter()
        .filter(|e| e["event"] == "gate")
        .collect();
    assert_eq!(gates.len(), 1, "{gates:?}");
    assert_eq!(gates[0]["decision"], "break_lock");
    assert_eq!(gates[0]["host"], "a");
    assert!(gates[0].get("step").is_none(), "no step: {}", gates[0]);
}

#[tokio::test]
async fn an_undos_output_is_marked_as_the_undo_and_secrets_never_show() {
    let (mut run, _dir) = start(
        r#"
[vars]
api_token = "tok-4242-secret"
[[steps]]
id = "migrate"
title = "Migrate"
hosts = ["a"]
run = "echo using tok-4242-secret; echo denied for tok-4242-secret >&2; false"
undo = "echo undone; echo undone too"
"#,
    );
    let prompt = run
        .until("the failure", |e| matches!(e, Event::Prompt(_)))
        .await;
    let Event::Prompt(p) = prompt else {
        unreachable!()
    };
    let PromptKind::Failure { failures, .. } = &p.kind else {
        panic!("not a failure: {:?}", p.kind)
    };
    assert_eq!(failures[0].last_stderr, ["denied for ********"]);
    run.decide(Decision::Undo).await;
    run.until("the failure again", |e| matches!(e, Event::Prompt(_)))
        .await;
    run.decide(Decision::Skip).await;
    let (status, _, events) = run.finish().await;
    assert_eq!(status, RunStatus::Ok);
    let mut main = Vec::new();
    let mut undo = Vec::new();
    for e in &events {
        if let Event::Output { phase, lines, .. } = e {
            let text = lines.iter().map(|(_, l)| l.to_string());
            match phase {
                engine::Phase::Main => main.extend(text),
                engine::Phase::Undo => undo.extend(text),
            }
        }
    }
    assert_eq!(main, ["using ********", "denied for ********"]);
    assert_eq!(undo, ["undone", "undone too"]);
    let journal = journal_of(&events);
    let text = serde_json::to_string(&journal).expect("json");
    assert!(!text.contains("tok-4242-secret"), "{text}");
    let undo_output: Vec<&serde_json::Value> = journal
        .iter()
        .filter(|e| e["event"] == "output" && e["phase"] == "undo")
        .collect();
    assert!(!undo_output.is_empty(), "{journal:?}");
    let decisions: Vec<&str> = journal
        .iter()
        .filter(|e| e["event"] == "gate")
        .filter_map(|e| e["decision"].as_str())
        .collect();
    assert_eq!(decisions, ["undo", "skip"]);
}

/// A temp dir with a log file `app.log` holding `text`.
fn log_dir(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, text).expect("log");
    (dir, log)
}

/// Follow `log` on a local host as `drydock logs` does; `extra` goes into
/// the runbook before its hosts.
fn follow_log(
    dir: &tempfile::TempDir,
    log: &std::path::Path,
    extra: &str,
) -> (
    tokio::sync::mpsc::Receiver<Event>,
    tokio_util::sync::CancellationToken,
) {
    let text = format!(
        "[runbook]\nname = \"logs\"\n{extra}[hosts.a]\ntransport = \"local\"\n[logs.app]\nhost = \"a\"\npath = \"{}\"\n[[steps]]\nid = \"x\"\ntitle = \"X\"\nrun = \"true\"\n",
        log.display()
    );
    let path = dir.path().join("runbook.toml");
    std::fs::write(&path, text).expect("write");
    let plan = Arc::new(drydock::runbook::load(&path, &[]).expect("runbook loads"));
    let cancel = tokio_util::sync::CancellationToken::new();
    let events = engine::follow_logs(plan, Arc::new(drydock::remote::Declining), cancel.clone());
    (events, cancel)
}

#[tokio::test]
async fn drydock_logs_follows_through_the_engine_and_stops_when_cancelled() {
    let (dir, log) = log_dir("booted with tok-77-secret\n");
    let (mut events, cancel) = follow_log(&dir, &log, "[vars]\napi_token = \"tok-77-secret\"\n");
    let mut lines = Vec::new();
    let mut appended = false;
    let follow = async {
        while let Some(e) = events.recv().await {
            if let Event::LogLine { log: 0, line, .. } = e {
                lines.push(line);
                if !appended {
                    appended = true;
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&log)
                        .expect("open log");
                    std::io::Write::write_all(&mut f, b"later\n").expect("append");
                } else {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), follow)
        .await
        .expect("the log's lines arrive");
    assert_eq!(lines, ["booted with ********", "later"]);
    cancel.cancel();
    let closed = async { while events.recv().await.is_some() {} };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the followers end when cancelled");
}

/// A log whose last line has no newline yet, then truncated: that line and
/// tail's notice are two lines, not one glued together.
#[tokio::test]
async fn a_followed_log_truncated_after_a_line_without_newline_keeps_its_lines_apart() {
    let (dir, log) = log_dir("first\npartial, no newline");
    let (mut events, cancel) = follow_log(&dir, &log, "");
    let mut lines: Vec<String> = Vec::new();
    let mut truncated = false;
    let follow = async {
        while let Some(e) = events.recv().await {
            if let Event::LogLine { log: 0, line, .. } = e {
                lines.push(line);
                if !truncated {
                    truncated = true;
                    // Let tail read the partial line before the file shrinks.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    std::fs::write(&log, "after\n").expect("truncate");
                } else if lines.iter().any(|l| l == "after") {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), follow)
        .await
        .unwrap_or_else(|_| panic!("the log's lines arrive: {lines:?}"));
    cancel.cancel();
    assert_eq!(lines[0], "first", "{lines:?}");
    assert_eq!(lines[1], "partial, no newline", "{lines:?}");
    assert!(
        lines[2].contains("truncated"),
        "tail's notice on a line of its own: {lines:?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("after"), "{lines:?}");
}

#[tokio::test]
async fn a_front_end_that_takes_no_output_holds_the_command_back() {
    // 20 MB in lines of 10 kB: far more than the output budget and the
    // queues before it, so the command must wait for the front end.
    let (mut run, dir) = start(
        r#"
[[steps]]
id = "flood"
title = "Prints 20 MB"
hosts = ["a"]
run = "head -c 20000000 /dev/zero | tr '\\000' x | fold -w 10000; touch {{root}}/done"
"#,
    );
    run.until("the flood's start", |e| {
        matches!(e, Event::StepStarted { .. })
    })
    .await;
    // Nothing is taken for a while: the command gets no further than the
    // bytes drydock holds for the front end.
    let done = dir.path().join("done");
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!done.exists(), "the output was queued without bound");
    }
    // Taken now, all of it, in order, and the command ends.
    let mut bytes = 0;
    let mut lines = 0;
    let status = loop {
        match run.handle.events.recv().await {
            Some(Event::Output { lines: out, .. }) => {
                for (_, line) in out.iter() {
                    bytes += line.len();
                    lines += 1;
                }
            }
            Some(Event::RunFinished { status, .. }) => break status,
            Some(_) => {}
            None => panic!("the run ended without finishing"),
        }
    };
    assert_eq!(status, RunStatus::Ok);
    assert_eq!((lines, bytes), (2000, 20_000_000));
    assert!(done.exists());
}
