//! The questions of the safety promises, prompt and answers: the rollback's
//! plan, an `always` step left only by its own answer, the failure after its
//! undo ran, `--from`, a changed runbook, a command still running, a journal
//! that cannot be written; the summary's steps not done; a signal.

use crossterm::event::KeyCode;

use super::*;
use crate::engine::{NotDone, RunningCommand, UndoResult};
use crate::tui::strings;

fn ask(f: &mut Fixture, secs: u64, step: usize, kind: PromptKind, choices: Vec<Decision>) {
    f.ev(
        secs,
        Event::Prompt(Prompt {
            step,
            kind,
            hosts: vec![0],
            commands: Vec::new(),
            previews: vec![],
            banner: vec![],
            choices,
        }),
    );
    f.clock(secs + 1);
}

#[test]
fn the_rollback_shows_its_whole_plan_first() {
    let mut f = Fixture::advanced();
    f.run_step(3, 0, 640, 2, &[], Outcome::Ok);
    f.ev(650, Event::RollbackStarted);
    ask(
        &mut f,
        650,
        3,
        PromptKind::RollbackPlan {
            undo: vec![(3, vec![0]), (0, vec![0])],
            always: vec![(8, vec![0])],
        },
        vec![Decision::Run, Decision::Abort],
    );
    snap("rollback_plan", &f.app);
    let s = screen(&f.app);
    assert!(s.contains("go through it"), "{s}");
    // At 80x24 the keys take a second row rather than lose their end.
    assert!(s.contains("j/k scroll"), "{s}");
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Run))
    );
    assert_eq!(
        f.key(KeyCode::Char('a')),
        Some(Command::Decide(Decision::Abort))
    );
}

#[test]
fn an_always_step_is_left_only_by_its_own_answer() {
    let mut f = Fixture::advanced();
    f.ev(650, Event::RollbackStarted);
    ask(
        &mut f,
        650,
        8,
        PromptKind::Always,
        vec![Decision::Run, Decision::Leave],
    );
    assert_eq!(f.key(KeyCode::Char('a')), None, "abort is not an answer");
    assert_eq!(
        f.app.status.as_deref(),
        Some(strings::ALWAYS_OWN_ANSWER),
        "and it says so"
    );
    assert_eq!(
        f.key(KeyCode::Char('s')),
        Some(Command::Decide(Decision::Leave))
    );
}

#[test]
fn after_the_undo_the_failure_shows_how_it_went_and_offers_it_no_more() {
    let mut f = Fixture::advanced();
    f.run_step(
        4,
        0,
        700,
        3,
        &[(Stream::Stderr, "CONFLICT")],
        Outcome::Failed,
    );
    ask(
        &mut f,
        703,
        4,
        PromptKind::Failure {
            failures: vec![HostFailure {
                host: 0,
                outcome: Outcome::Failed,
                exit: Some(ExitStatus::code(1)),
                message: None,
                last_stderr: vec!["CONFLICT".into()],
            }],
            undo: vec![UndoResult {
                host: 0,
                outcome: Outcome::Ok,
                exit: Some(ExitStatus::code(0)),
                message: None,
            }],
        },
        vec![Decision::Retry, Decision::Skip, Decision::Abort],
    );
    snap("failure_after_undo", &f.app);
    assert!(screen(&f.app).contains("The undo ran:"));
    assert_eq!(f.key(KeyCode::Char('u')), None, "the undo ran already");
    assert_eq!(
        f.key(KeyCode::Char('r')),
        Some(Command::Decide(Decision::Retry))
    );
}

#[test]
fn from_lists_the_steps_it_skips_and_the_guards_it_checks() {
    let mut f = Fixture::new();
    ask(
        &mut f,
        1,
        4,
        PromptKind::From {
            skipped: vec![0, 1, 3],
            guards: vec![2],
        },
        vec![Decision::Run, Decision::Abort],
    );
    snap("from_prompt", &f.app);
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Run))
    );
    assert_eq!(
        f.key(KeyCode::Char('a')),
        Some(Command::Decide(Decision::Abort))
    );
}

#[test]
fn a_changed_runbook_is_asked_about() {
    let mut f = Fixture::new();
    ask(
        &mut f,
        1,
        4,
        PromptKind::RunbookChanged {
            journaled: "0123456789abcdef0123".into(),
            now: "fedcba9876543210fedc".into(),
        },
        vec![Decision::Run, Decision::Abort],
    );
    snap("runbook_changed", &f.app);
    let s = screen(&f.app);
    assert!(
        s.contains("0123456789ab") && s.contains("fedcba987654"),
        "{s}"
    );
    assert_eq!(
        f.key(KeyCode::Char('a')),
        Some(Command::Decide(Decision::Abort))
    );
}

#[test]
fn a_command_still_running_is_waited_for_killed_or_aborted() {
    let mut f = Fixture::advanced();
    ask(
        &mut f,
        700,
        6,
        PromptKind::StillRunning { host: 0, pid: 4242 },
        vec![Decision::Wait, Decision::Kill, Decision::Abort],
    );
    snap("still_running", &f.app);
    assert!(screen(&f.app).contains("process group 4242"));
    assert_eq!(
        f.key(KeyCode::Char('w')),
        Some(Command::Decide(Decision::Wait))
    );
    assert_eq!(
        f.key(KeyCode::Char('k')),
        Some(Command::Decide(Decision::Kill)),
        "k answers here; it does not scroll"
    );
    assert_eq!(
        f.key(KeyCode::Char('a')),
        Some(Command::Decide(Decision::Abort))
    );
}

#[test]
fn a_journal_that_cannot_be_written_stops_the_run_until_retried() {
    let mut f = Fixture::advanced();
    ask(
        &mut f,
        700,
        4,
        PromptKind::JournalFailed {
            error:
                "cannot write the journal /journal/x.jsonl: No space left on device (os error 28)"
                    .into(),
        },
        vec![Decision::Retry, Decision::Abort],
    );
    snap("journal_failed", &f.app);
    assert!(screen(&f.app).contains("No space left"));
    assert_eq!(
        f.key(KeyCode::Char('r')),
        Some(Command::Decide(Decision::Retry))
    );
    assert_eq!(
        f.key(KeyCode::Char('a')),
        Some(Command::Decide(Decision::Abort))
    );
}

#[test]
fn the_summary_says_why_each_step_was_not_done() {
    let mut f = Fixture::advanced();
    f.run_step(3, 0, 640, 2, &[], Outcome::Ok);
    f.run_step(4, 0, 642, 3, &[], Outcome::Failed);
    let why = |step, host, why: &str| NotDone {
        step,
        host,
        why: why.into(),
    };
    f.ev(
        651,
        Event::RunFinished {
            status: RunStatus::Aborted,
            exit_code: 3,
            journal: Some(PathBuf::from("/journal/20260102-030405-test.jsonl")),
            not_done: vec![
                why(4, 0, "failed (exit status 1)"),
                why(4, 1, "not reached: the run was aborted at fetch"),
                why(6, 0, "not reached: the run was aborted at fetch"),
                why(8, 0, "left in the rollback by the admin"),
            ],
        },
    );
    f.clock(652);
    snap("summary_not_done", &f.app);
    let s = text(&buffer_at(&f.app, &Theme::fallback(), LARGE.0, LARGE.1));
    assert!(s.contains("left in the rollback by the admin"), "{s}");
    assert!(
        s.contains("not reached: the run was aborted at fetch"),
        "{s}"
    );
}

#[test]
fn a_signal_ends_the_question_and_the_loop() {
    let mut f = Fixture::advanced();
    f.gate(700);
    f.ev(
        701,
        Event::RunInterrupted {
            signal: "SIGHUP".into(),
            running: vec![RunningCommand {
                step: 4,
                host: 0,
                pid: Some(4242),
            }],
            journal: None,
        },
    );
    assert!(f.app.interrupted);
    assert!(f.app.prompt.is_none(), "nobody can answer it any more");
}
