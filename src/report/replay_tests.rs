//! Tests of the journal-to-events translator and the playback that follows a journal.

use super::*;
use crate::journal::{Outcome, RunStatus};

const RUNBOOK: &str = r#"
[runbook]
name = "T"
[hosts.web]
transport = "local"
[hosts.db]
transport = "local"
[[steps]]
id = "pull"
title = "Pull"
run = "git pull"
undo = "git reset"
[[steps]]
id = "idle"
title = "Idle"
guard = { command = "true" }
"#;

fn plan() -> Plan {
    crate::runbook::load_str(Path::new("t.toml"), RUNBOOK, &[]).expect("plan")
}

/// The hosts' indices in the plan: web, db.
fn web_db() -> (HostIx, HostIx) {
    let plan = plan();
    let ix = |name| plan.host_index(name).expect("a host");
    (ix("web"), ix("db"))
}

fn events(lines: &[&str]) -> Vec<Event> {
    let mut t = Translator::new(&plan(), Path::new("/j/r1.jsonl"));
    lines
        .iter()
        .flat_map(|l| t.translate(serde_json::from_str(l).expect("a journal line")))
        .collect()
}

const STARTED: &str = r#"{"ts":"2026-11-22T01:00:00Z","event":"run_started","run_id":"r1","runbook":"/x","runbook_sha256":"00","user":"me","hosts":["web","db"]}"#;

#[test]
fn a_run_comes_back_as_the_events_the_engine_sent() {
    let evs = events(&[
        STARTED,
        r#"{"ts":"t","event":"gate","step":"pull","decision":"run","by":"yes"}"#,
        r#"{"ts":"t","event":"step_started","step":"pull","host":"web","command":"git pull"}"#,
        r#"{"ts":"t","event":"output","step":"pull","host":"web","stream":"stdout","lines":["a","b\u001b]0;title\u0007"]}"#,
        r#"{"ts":"t","event":"step_finished","step":"pull","host":"web","status":"failed","exit_code":3,"duration_ms":1500}"#,
        r#"{"ts":"t","event":"gate","step":"pull","decision":"retry","by":"admin"}"#,
        r#"{"ts":"t","event":"step_started","step":"pull","host":"web","command":"git pull"}"#,
        r#"{"ts":"t","event":"step_finished","step":"pull","host":"db","status":"skipped","exit_code":null,"duration_ms":0,"reason":"when: false"}"#,
        r#"{"ts":"t","event":"guard_poll","step":"idle","host":"web","ok":false}"#,
        r#"{"ts":"t","event":"guard_poll","step":"idle","host":"web","ok":true}"#,
        r#"{"ts":"t","event":"run_finished","status":"ok","exit_code":0}"#,
    ]);
    let (web, db) = web_db();
    let mut it = evs.iter();
    assert!(
        matches!(it.next(), Some(Event::RunStarted { run_id, journal: Some(j), .. }) if run_id == "r1" && j.ends_with("r1.jsonl"))
    );
    assert!(matches!(
        it.next(),
        Some(Event::Decided {
            step: 0,
            decision: Decision::Run,
            by: crate::journal::AnsweredBy::Yes
        })
    ));
    assert!(matches!(it.next(), Some(Event::HostConnected { host, .. }) if *host == web));
    assert!(matches!(
        it.next(),
        Some(Event::StepStarted {
            step: 0,
            host,
            attempt: 1,
            phase: Phase::Main,
            ..
        }) if *host == web
    ));
    match it.next() {
        Some(Event::Output { lines, .. }) => assert_eq!(
            lines.iter().collect::<Vec<_>>(),
            [(Stream::Stdout, "a"), (Stream::Stdout, "b")],
            "no control sequence from the journal"
        ),
        other => panic!("not output: {other:?}"),
    }
    assert!(matches!(
        it.next(),
        Some(Event::StepFinished { outcome: Outcome::Failed, exit: Some(e), duration, .. })
            if e.code == Some(3) && duration.as_millis() == 1500
    ));
    assert!(matches!(
        it.next(),
        Some(Event::Decided {
            decision: Decision::Retry,
            by: crate::journal::AnsweredBy::Admin,
            ..
        })
    ));
    assert!(
        matches!(it.next(), Some(Event::StepStarted { attempt: 1, .. })),
        "after the admin's retry the attempts count afresh"
    );
    assert!(matches!(
        it.next(),
        Some(Event::StepSkipped { host, reason, earlier: None, .. }) if *host == db && reason == "when: false"
    ));
    assert!(matches!(
        it.next(),
        Some(Event::GuardPolled {
            checks: 1,
            ok: false,
            ..
        })
    ));
    assert!(matches!(
        it.next(),
        Some(Event::GuardPolled {
            checks: 2,
            ok: true,
            ..
        })
    ));
    assert!(matches!(
        it.next(),
        Some(Event::RunFinished {
            status: RunStatus::Ok,
            exit_code: 0,
            ..
        })
    ));
    assert!(it.next().is_none());
}

#[test]
fn an_abort_then_an_undo_is_a_rollback_and_notes_become_own_lines() {
    let evs = events(&[
        STARTED,
        r#"{"ts":"t","event":"preview","step":"pull","host":"web","command":"git log","lines":["abc fix"],"exit_code":0}"#,
        r#"{"ts":"t","event":"input","step":"pull","host":"web","masked":true}"#,
        r#"{"ts":"t","event":"capture","step":"pull","host":"web","var":"old","value":"abc"}"#,
        r#"{"ts":"t","event":"process","step":"pull","host":"web","pid":42}"#,
        r#"{"ts":"t","event":"gate","step":"pull","decision":"abort"}"#,
        r#"{"ts":"t","event":"step_started","step":"pull","host":"web","command":"git reset","phase":"undo"}"#,
        r#"{"ts":"t","event":"step_started","step":"nowhere","host":"web","command":"x"}"#,
        r#"{"ts":"t","event":"connection","host":"db","state":"lost","reason":"no answer for 60 s"}"#,
    ]);
    let own: Vec<String> = evs
        .iter()
        .filter_map(|e| match e {
            Event::Output { lines, .. } => Some(lines.iter().map(|(_, l)| l.to_string())),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        own,
        [
            "drydock: preview: $ git log",
            "drydock:   abc fix",
            "drydock: typed (masked)",
            "drydock: captured old = abc"
        ]
    );
    let rollback = evs
        .iter()
        .position(|e| matches!(e, Event::RollbackStarted))
        .expect("a rollback");
    assert!(matches!(
        evs[rollback + 1],
        Event::StepStarted {
            phase: Phase::Undo,
            ..
        }
    ));
    let (_, db) = web_db();
    assert!(matches!(
        evs.last(),
        Some(Event::HostLost { host, reason }) if *host == db && reason == "no answer for 60 s"
    ));
}

#[test]
fn playback_follows_a_journal_as_it_grows_and_rewinds() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("r1.jsonl");
    let mut file = std::fs::File::create(&path).expect("create");
    writeln!(file, "{STARTED}").expect("write");
    let mut playback = Playback::open(&path, Arc::new(plan())).expect("open");
    let first = playback.next_record().expect("read").expect("run_started");
    assert_eq!(
        first.at.map(|t| t.to_rfc3339()),
        Some("2026-11-22T01:00:00+00:00".into())
    );
    assert!(
        playback.next_record().expect("read").is_none(),
        "nothing more yet"
    );
    writeln!(
        file,
        r#"{{"ts":"t","event":"process","step":"pull","host":"web","pid":1}}"#
    )
    .expect("write");
    writeln!(
        file,
        r#"{{"ts":"t","event":"step_started","step":"pull","host":"web","command":"git pull"}}"#
    )
    .expect("write");
    let next = playback.next_record().expect("read").expect("the step");
    assert!(
        matches!(
            next.events[..],
            [Event::HostConnected { .. }, Event::StepStarted { .. }]
        ),
        "the process record shows nothing: {:?}",
        next.events
    );
    assert!(next.at.is_none(), "a time that does not parse is none");
    playback.rewind().expect("rewind");
    assert!(matches!(
        playback.next_record().expect("read").expect("again").events[..],
        [Event::RunStarted { .. }]
    ));
    assert!(!playback.writer_alive());
}
