//! The screen fed by a journal: a replay opens at the run's end and steps,
//! jumps and plays through it; a watch takes what the journal gains and
//! says when the run's drydock is gone; keys that would answer say the
//! screen is read-only.

use super::*;
use crate::journal::{Journal, Record};
use crate::report::plan::NoRunbook;
use crate::report::replay::Playback;
use crate::tui::keys::Move;
use crate::tui::replay::Recording;
use crate::tui::state::{Overlay, ReadOnly, Source};
use crate::tui::strings;

const STOP_SERVER: usize = 3;
const FETCH: usize = 4;

/// The coralnet runbook's run: stop-server on web, fetch on both hosts,
/// one second apart.
fn records() -> Vec<String> {
    let lines = [
        r#""event":"run_started","run_id":"20260102-030405-test","runbook":"/nowhere/coralnet.toml","runbook_sha256":"00","user":"me","hosts":["web","worker"]"#,
        r#""event":"gate","step":"stop-server","decision":"run","by":"admin""#,
        r#""event":"step_started","step":"stop-server","host":"web","command":"sudo apachectl stop""#,
        r#""event":"output","step":"stop-server","host":"web","stream":"stdout","line":"Stopping apache""#,
        r#""event":"step_finished","step":"stop-server","host":"web","status":"ok","exit_code":0,"duration_ms":1500"#,
        r#""event":"step_started","step":"fetch","host":"web","command":"git fetch""#,
        r#""event":"step_started","step":"fetch","host":"worker","command":"git fetch""#,
        r#""event":"output","step":"fetch","host":"web","stream":"stdout","line":"Fast-forwarded""#,
        r#""event":"output","step":"fetch","host":"worker","stream":"stdout","line":"Already up to date""#,
        r#""event":"step_finished","step":"fetch","host":"web","status":"ok","exit_code":0,"duration_ms":2000"#,
        r#""event":"step_finished","step":"fetch","host":"worker","status":"ok","exit_code":0,"duration_ms":2000"#,
        r#""event":"run_finished","status":"ok","exit_code":0"#,
    ];
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{{\"ts\":\"2026-01-02T03:04:{:02}Z\",{l}}}", 5 + i))
        .collect()
}

fn replay_of(lines: &[String]) -> (tempfile::TempDir, Recording, App) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("20260102-030405-test.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let plan = plan();
    let playback = Playback::open(&path, plan.clone()).expect("open");
    let mut recording = Recording::new(playback, plan, Source::Replay, Some(NoRunbook::Gone));
    let mut app = recording.open().expect("read");
    recording.set_clock(&mut app);
    (dir, recording, app)
}

fn shown(app: &App) -> (usize, usize) {
    let ro = app.read_only.as_ref().expect("read-only");
    (ro.shown, ro.of)
}

fn go(recording: &mut Recording, app: &mut App, to: Move) {
    recording.go(app, to).expect("moved");
    recording.set_clock(app);
}

#[test]
fn a_replay_opens_at_the_end_and_steps_back_and_forth() {
    let (_dir, mut rec, mut app) = replay_of(&records());
    assert_eq!(shown(&app), (12, 12));
    assert!(app.finished.is_some());
    let first = screen(&app);
    assert!(
        first.contains("REPLAY 12/12") && first.contains("FINISHED"),
        "{first}"
    );
    assert!(
        first.contains("RUNBOOK GONE") && !first.contains("Summary"),
        "the checklist, not the summary: {first}"
    );

    go(&mut rec, &mut app, Move::PrevEvent);
    assert_eq!(shown(&app), (11, 12));
    assert!(
        app.finished.is_none(),
        "the run's end is not shown any more"
    );
    assert!(!screen(&app).contains("FINISHED"));

    go(&mut rec, &mut app, Move::ToStep(STOP_SERVER));
    assert_eq!(shown(&app), (5, 12), "the run as stop-server ended");
    assert_eq!((app.selected, app.auto_select), (STOP_SERVER, false));
    let at_stop = screen(&app);
    assert!(at_stop.contains("Stopping apache"), "{at_stop}");
    assert!(
        app.cells[FETCH]
            .iter()
            .all(|c| c.status == super::super::state::CellStatus::Pending),
        "fetch had not started"
    );
    assert!(
        at_stop.contains("elapsed 00:00:04"),
        "the journal's clock: {at_stop}"
    );

    go(&mut rec, &mut app, Move::NextStep);
    assert_eq!(shown(&app).0, 6, "fetch started on web");
    go(&mut rec, &mut app, Move::NextStep);
    assert_eq!(shown(&app).0, 7, "and on worker");
    go(&mut rec, &mut app, Move::PrevStep);
    assert_eq!(shown(&app).0, 6);
    go(&mut rec, &mut app, Move::PrevStep);
    assert_eq!(shown(&app).0, 3, "stop-server started");
    go(&mut rec, &mut app, Move::Start);
    assert_eq!(shown(&app).0, 0);
    assert!(screen(&app).contains("REPLAY 0/12"));
    go(&mut rec, &mut app, Move::End);
    assert_eq!(shown(&app).0, 12);
}

#[test]
fn playing_goes_at_the_recorded_pace_to_the_end() {
    let (_dir, mut rec, mut app) = replay_of(&records());
    go(&mut rec, &mut app, Move::Play);
    assert_eq!(shown(&app), (0, 12), "played from the start");
    assert!(screen(&app).contains("REPLAY ▶ 0/12"));
    let mut steps = 0;
    while let Some(due) = rec.due() {
        let wait = due.saturating_duration_since(Instant::now());
        assert!(
            wait <= Duration::from_secs(1),
            "a pause is cut to a second: {wait:?}"
        );
        rec.play_next(&mut app).expect("played");
        steps += 1;
        if steps == 2 {
            break;
        }
    }
    assert_eq!(shown(&app).0, 2);
    go(&mut rec, &mut app, Move::Play);
    assert!(rec.due().is_none(), "paused");
    assert!(screen(&app).contains("REPLAY 2/12"));
}

#[test]
fn the_replay_screen() {
    let (_dir, mut rec, mut app) = replay_of(&records());
    go(&mut rec, &mut app, Move::ToStep(STOP_SERVER));
    app.status = Some(strings::no_runbook(NoRunbook::Gone));
    snap("replay", &app);
}

fn read_only(f: &mut Fixture, source: Source) {
    f.app.read_only = Some(ReadOnly {
        source,
        no_runbook: None,
        shown: 3,
        of: 9,
        playing: false,
    });
}

#[test]
fn answering_keys_say_read_only_and_q_leaves_at_once() {
    let mut f = Fixture::advanced();
    read_only(&mut f, Source::Replay);
    for c in ['y', 's', 'r', 'u', 'a', 'o', 'i'] {
        f.app.status = None;
        assert_eq!(f.key(KeyCode::Char(c)), None, "{c}");
        assert_eq!(f.app.overlay, None, "{c} opened a window");
        assert!(
            f.app
                .status
                .as_deref()
                .is_some_and(|s| s.starts_with("read-only: this is a replay")),
            "{c}: {:?}",
            f.app.status
        );
    }
    assert!(f.app.finished.is_none(), "the run it shows is going on");
    assert_eq!(
        f.key(KeyCode::Char('q')),
        Some(Command::Quit),
        "no question"
    );
    assert_ne!(f.app.overlay, Some(Overlay::ConfirmQuit));
}

#[test]
fn replay_keys_move_and_colon_takes_a_step_id() {
    let mut f = Fixture::advanced();
    read_only(&mut f, Source::Replay);
    assert_eq!(
        f.key(KeyCode::Char('.')),
        Some(Command::Replay(Move::NextEvent))
    );
    assert_eq!(f.key(KeyCode::Char(' ')), Some(Command::Replay(Move::Play)));
    assert_eq!(f.key(KeyCode::Char(':')), None);
    f.type_text("fet");
    assert!(screen(&f.app).contains("go to step: fet"));
    assert_eq!(
        f.key(KeyCode::Enter),
        Some(Command::Replay(Move::ToStep(FETCH)))
    );
    f.key(KeyCode::Char(':'));
    f.type_text("banner");
    assert_eq!(f.key(KeyCode::Enter), None);
    assert_eq!(
        f.app.status.as_deref(),
        Some("'banner' starts banner-on, banner-off: type more of it")
    );
    f.key(KeyCode::Char(':'));
    f.type_text("banner-on");
    assert_eq!(
        f.key(KeyCode::Enter),
        Some(Command::Replay(Move::ToStep(0))),
        "an exact id wins over the ids it starts"
    );
    f.key(KeyCode::Char(':'));
    f.type_text("nope");
    assert_eq!(f.key(KeyCode::Enter), None);
    assert_eq!(f.app.status.as_deref(), Some("no step 'nope' in this run"));
}

#[test]
fn a_watch_does_not_step() {
    let mut f = Fixture::advanced();
    read_only(&mut f, Source::Watch);
    assert_eq!(f.key(KeyCode::Char('.')), None);
    assert_eq!(f.app.status.as_deref(), Some(strings::WATCH_NO_STEPPING));
    assert!(screen(&f.app).contains("WATCH"));
}

#[test]
fn a_watch_takes_what_the_journal_gains_and_says_when_its_drydock_is_gone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let journal = Journal::create(dir.path(), "20260102-030405-test").expect("journal");
    let path = journal.path().to_path_buf();
    let write = |record: Record| rt.block_on(journal.write(record)).expect("written");
    write(Record::RunStarted {
        run_id: "20260102-030405-test".into(),
        runbook: "/nowhere/coralnet.toml".into(),
        runbook_sha256: "00".into(),
        user: "me".into(),
        hosts: vec!["web".into(), "worker".into()],
    });
    write(Record::StepStarted {
        step: "stop-server".into(),
        host: "web".into(),
        command: "sudo apachectl stop".into(),
        phase: None,
    });
    let plan = plan();
    let playback = Playback::open(&path, plan.clone()).expect("open");
    let mut rec = Recording::new(playback, plan, Source::Watch, None);
    let mut app = rec.open().expect("read");
    assert!(screen(&app).contains("sudo apachectl stop"));

    // Output is not flushed by the writer: it reaches the file on its own.
    rt.block_on(journal.write_output(
        "stop-server",
        "web",
        false,
        [(Stream::Stdout, "a line to watch")],
        crate::journal::Verbatim::Yes,
    ))
    .expect("written");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !screen(&app).contains("a line to watch") {
        assert!(Instant::now() < deadline, "{}", screen(&app));
        std::thread::sleep(Duration::from_millis(20));
        rec.follow(&mut app).expect("followed");
    }

    for _ in 0..10 {
        rec.follow(&mut app).expect("followed");
    }
    assert_eq!(app.status, None, "its drydock is alive");
    drop(journal);
    for _ in 0..10 {
        rec.follow(&mut app).expect("followed");
    }
    assert_eq!(app.status.as_deref(), Some(strings::WRITER_GONE));
    assert!(!screen(&app).contains("FINISHED"));
}
