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
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().display().to_string();
    let text = format!(
        "[runbook]\nname = \"engine test\"\nlock = \"{root}/lock\"\n[hosts.a]\ntransport = \"local\"\n[hosts.b]\ntransport = \"local\"\n{}",
        body.replace("{{root}}", &root)
    );
    let path = dir.path().join("runbook.toml");
    std::fs::write(&path, text).expect("write");
    let plan = Arc::new(drydock::runbook::load(&path, &[]).expect("runbook loads"));
    let options = engine::Options {
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
    run.decide(Decision::Skip).await;
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
