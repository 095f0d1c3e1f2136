use super::*;

fn read(lines: &[&str]) -> Report {
    let mut reader = Reader::new();
    for l in lines {
        reader.take(serde_json::from_str(l).expect("a journal line"));
    }
    reader.finish().expect("a report")
}

const STARTED: &str = r#"{"ts":"2026-11-22T01:00:00.000Z","event":"run_started","run_id":"r1","runbook":"/nowhere/r.toml","runbook_sha256":"00","user":"me","hosts":["web","db"]}"#;

#[test]
fn every_event_of_the_journal_reaches_its_step_and_host() {
    let report = read(&[
        STARTED,
        r#"{"ts":"t1","event":"connection","host":"db","state":"lost","reason":"no answer for 60 s"}"#,
        r#"{"ts":"t1","event":"condition","step":"pull","host":"web","command":"test -d .git","holds":true}"#,
        r#"{"ts":"t1","event":"preview","step":"pull","host":"web","command":"git log","lines":["abc fix"],"exit_code":0}"#,
        r#"{"ts":"t2","event":"gate","step":"pull","decision":"run","by":"yes"}"#,
        r#"{"ts":"t2","event":"step_started","step":"pull","host":"web","command":"git pull"}"#,
        r#"{"ts":"t2","event":"process","step":"pull","host":"web","pid":4242}"#,
        r#"{"ts":"t2","event":"sudo","step":"pull","host":"web","asked":true,"ok":true}"#,
        r#"{"ts":"t3","event":"input","step":"pull","host":"web","masked":true}"#,
        r#"{"ts":"t3","event":"input","step":"pull","host":"web","text":"yes"}"#,
        r#"{"ts":"t3","event":"input","step":"pull","host":"web","end_of_input":true}"#,
        r#"{"ts":"t4","event":"capture","step":"pull","host":"web","var":"old_head","value":"abc"}"#,
        r#"{"ts":"t4","event":"step_finished","step":"pull","host":"web","status":"ok","exit_code":0,"duration_ms":1500}"#,
        r#"{"ts":"t5","event":"step_started","step":"migrate","host":"web","command":"manage.py migrate"}"#,
        r#"{"ts":"t6","event":"run_interrupted","signal":"SIGHUP","running":[{"step":"migrate","host":"web","pid":99}]}"#,
    ]);
    assert_eq!(report.result, "interrupted");
    assert_eq!(report.runbook_file, RunbookFile::Gone);
    assert_eq!(
        report.connections[0].reason.as_deref(),
        Some("no answer for 60 s")
    );
    assert_eq!(report.answers[0].by.as_deref(), Some("--yes"));
    let pull = &report.steps[0].hosts[0];
    assert_eq!((pull.status.as_str(), pull.pid), ("ok", Some(4242)));
    assert_eq!(pull.condition.as_ref().map(|c| c.holds), Some(true));
    assert_eq!(pull.previews[0].lines, ["abc fix"]);
    assert_eq!(
        pull.sudo,
        [SudoNote {
            asked: true,
            ok: true
        }]
    );
    assert_eq!(pull.inputs[0].text, None);
    assert!(pull.inputs[0].masked);
    assert_eq!(pull.inputs[1].text.as_deref(), Some("yes"));
    assert!(!pull.inputs[1].end_of_input);
    assert!(pull.inputs[2].end_of_input);
    assert_eq!(pull.captures[0].value, "abc");
    let migrate = &report.steps[1].hosts[0];
    assert_eq!(
        migrate.status, "unknown",
        "it was running when the run stopped"
    );
    assert_eq!(report.left_undone.len(), 1);
    assert!(
        report.left_undone[0].why.contains("unknown"),
        "{:?}",
        report.left_undone
    );
    assert_eq!(
        report.interrupted.as_ref().map(|i| i.running[0].pid),
        Some(Some(99))
    );
    assert!(report.notes[0].contains("is gone"), "{:?}", report.notes);
}

#[test]
fn the_engines_own_list_of_what_was_not_done_wins() {
    let report = read(&[
        STARTED,
        r#"{"ts":"t1","event":"gate","step":"pull","decision":"abort"}"#,
        r#"{"ts":"t2","event":"run_finished","status":"aborted","exit_code":3,"not_done":[{"step":"pull","host":"web","why":"aborted at its gate"}]}"#,
    ]);
    assert_eq!(
        report.left_undone,
        [LeftUndone {
            step: "pull".into(),
            host: "web".into(),
            why: "aborted at its gate".into()
        }]
    );
    assert_eq!(report.answers[0].by, None, "an older journal does not say");
    assert!(
        report.notes.is_empty(),
        "the engine's list is whole: {:?}",
        report.notes
    );
}

#[test]
fn a_step_that_is_still_running_is_shown_so() {
    let report = read(&[
        STARTED,
        r#"{"ts":"t2","event":"step_started","step":"pull","host":"web","command":"git pull"}"#,
    ]);
    assert_eq!(report.result, "unfinished");
    assert_eq!(report.steps[0].hosts[0].status, "running");
    assert_eq!(report.left_undone[0].why, "still running");
}
