//! Reading everything: wrapped and sideways lines, zoom, following the run,
//! help over a question, long questions, search counts, copy and save, the
//! header at 80 columns, and the bell after a quiet spell.

use std::time::Duration;

use base64::Engine as _;
use crossterm::event::KeyCode;

use super::*;
use crate::tui::state::Typing;
use crate::tui::strings;

/// A line of 300 characters whose end is a marker.
const MARKER: &str = "<<END-OF-LONG-LINE>>";

fn long_line() -> String {
    let mut line = String::from("start ");
    while line.len() < 300 - MARKER.len() {
        line.push_str("abcdefghij");
    }
    line.truncate(300 - MARKER.len());
    line.push_str(MARKER);
    line
}

/// Step 7 (migrate) running, having printed a short line and the long one.
fn with_long_line() -> Fixture {
    let mut f = Fixture::advanced();
    f.ev(
        700,
        Event::StepStarted {
            step: 6,
            host: 0,
            command: "python manage.py migrate".into(),
            phase: Phase::Main,
            attempt: 1,
        },
    );
    for line in ["Operations to perform:".to_string(), long_line()] {
        f.ev(
            700,
            Event::Output {
                step: 6,
                host: 0,
                phase: Phase::Main,
                lines: vec![(Stream::Stdout, line)].into(),
            },
        );
    }
    f.clock(701);
    f
}

#[test]
fn a_long_line_is_read_whole_wrapped() {
    let mut f = with_long_line();
    assert!(!screen(&f.app).contains(MARKER));
    f.key(KeyCode::Char('w'));
    let s = screen(&f.app);
    assert!(s.contains(MARKER), "{s}");
    assert!(s.contains(strings::WRAP_GUTTER.trim()), "{s}");
    snap("wrapped", &f.app);
    f.key(KeyCode::Char('w'));
    assert!(!screen(&f.app).contains(MARKER), "w again cuts the lines");
}

#[test]
fn a_long_line_is_read_whole_sideways() {
    let mut f = with_long_line();
    let mut presses = 0;
    while !screen(&f.app).contains(MARKER) {
        presses += 1;
        assert!(presses < 20, "> never reached the end:\n{}", screen(&f.app));
        f.key(KeyCode::Char('>'));
    }
    let s = screen(&f.app);
    assert!(s.contains("from column"), "the pane says so:\n{s}");
    // Never further than the widest line needs.
    for _ in 0..5 {
        f.key(KeyCode::Char('>'));
    }
    assert!(screen(&f.app).contains(MARKER));
    snap("sideways", &f.app);
    while f.app.output_reading.sideways > 0 {
        f.key(KeyCode::Char('<'));
    }
    assert!(screen(&f.app).contains("start abcdefghij"));
}

#[test]
fn zoom_gives_the_focused_pane_the_screen() {
    let mut f = with_long_line();
    f.key(KeyCode::Char('z'));
    let s = screen(&f.app);
    let first = s.lines().next().unwrap_or_default();
    assert!(first.starts_with("┏ Output"), "{s}");
    assert!(!s.contains("Steps"), "{s}");
    snap("zoomed", &f.app);
    // The log pane zooms too: the zoom goes with the focus.
    f.key(KeyCode::Tab);
    let s = screen(&f.app);
    assert!(
        s.lines().next().unwrap_or_default().starts_with("┏ Logs"),
        "{s}"
    );
    assert!(s.contains("Traceback"), "{s}");
    f.key(KeyCode::Char('z'));
    assert!(screen(&f.app).contains("Steps"));
}

#[test]
fn the_output_follows_the_running_step_unless_another_is_picked() {
    let mut f = Fixture::advanced();
    f.run_step(
        3,
        0,
        640,
        2,
        &[(Stream::Stdout, "httpd stopped")],
        Outcome::Ok,
    );
    f.run_step(4, 0, 650, 2, &[(Stream::Stdout, "fetched")], Outcome::Ok);
    assert_eq!(f.app.selected, 4, "step 5 followed step 4");
    let s = screen(&f.app);
    assert!(s.contains("5 fetch · follows the run"), "{s}");
    // Picking step 4 in the checklist pins the pane there.
    f.key(KeyCode::Tab);
    f.key(KeyCode::Tab);
    f.key(KeyCode::Char('k'));
    f.run_step(
        5,
        0,
        660,
        1,
        &[(Stream::Stdout, "pip says hi")],
        Outcome::Ok,
    );
    assert_eq!(f.app.selected, 3);
    let s = screen(&f.app);
    assert!(s.contains("4 stop-server · picked"), "{s}");
    assert!(s.contains("httpd stopped"), "{s}");
    // f follows the run again.
    f.key(KeyCode::Char('f'));
    assert_eq!(f.app.selected, 5);
    assert!(screen(&f.app).contains("pip says hi"));
    // Moving back onto the running step follows it too.
    f.key(KeyCode::Char('k'));
    assert!(!f.app.auto_select);
    f.key(KeyCode::Char('j'));
    assert!(f.app.auto_select);
}

#[test]
fn help_opens_over_a_question_with_its_keys_and_scrolls_to_its_end() {
    let mut f = Fixture::advanced();
    f.gate(700);
    f.clock(701);
    f.key(KeyCode::Char('?'));
    let s = screen(&f.app);
    assert!(s.contains("This question"), "{s}");
    assert!(s.contains("y                 run"), "{s}");
    assert!(s.contains("more below"), "{s}");
    assert!(!s.contains(strings::HELP_CLOSE), "{s}");
    snap("help_over_question", &f.app);
    f.key(KeyCode::Char('G'));
    let s = screen(&f.app);
    assert!(
        s.contains(strings::HELP_CLOSE),
        "G reaches the last line:\n{s}"
    );
    // Keys in the help scroll it; they do not answer the question.
    assert_eq!(f.key(KeyCode::Char('g')), None);
    assert!(screen(&f.app).contains("This question"));
    f.key(KeyCode::Esc);
    assert!(f.app.overlay.is_none());
    assert!(f.app.prompt.as_ref().is_some_and(|p| !p.hidden));
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Run))
    );
}

#[test]
fn help_scrolls_line_by_line_and_by_page() {
    let mut f = Fixture::advanced();
    f.key(KeyCode::Char('?'));
    let top = screen(&f.app);
    f.key(KeyCode::Char('j'));
    assert_ne!(screen(&f.app), top);
    f.key(KeyCode::Char('k'));
    assert_eq!(screen(&f.app), top);
    for _ in 0..10 {
        f.key(KeyCode::PageDown);
    }
    assert!(screen(&f.app).contains(strings::HELP_CLOSE));
}

/// A failure whose question is longer than the 80x24 screen.
fn long_failure(f: &mut Fixture) {
    let stderr: Vec<String> = (1..=30).map(|i| format!("traceback line {i:02}")).collect();
    f.ev(
        703,
        Event::Prompt(Prompt {
            step: 4,
            kind: PromptKind::Failure {
                failures: vec![HostFailure {
                    host: 0,
                    outcome: Outcome::Failed,
                    exit: Some(ExitStatus::code(1)),
                    message: None,
                    last_stderr: stderr,
                }],
                undo: vec![],
            },
            hosts: vec![0],
            commands: vec![(0, "git -C /srv/coralnet rebase origin/master".into())],
            previews: vec![],
            banner: Vec::new(),
            choices: vec![Decision::Retry, Decision::Skip, Decision::Abort],
        }),
    );
    f.clock(704);
}

#[test]
fn a_long_question_says_what_is_below_and_goes_to_its_end() {
    let mut f = Fixture::advanced();
    long_failure(&mut f);
    let s = screen(&f.app);
    assert!(s.contains("▼ more below ("), "{s}");
    assert!(!s.contains("rebase origin/master"), "{s}");
    snap("question_more_below", &f.app);
    f.key(KeyCode::End);
    let s = screen(&f.app);
    assert!(
        s.contains("  web $ git -C /srv/coralnet rebase origin/master"),
        "{s}"
    );
    assert!(s.contains("that is all"), "{s}");
    f.key(KeyCode::Char('g'));
    assert!(screen(&f.app).contains("traceback line 01"));
    f.key(KeyCode::Char('G'));
    assert!(screen(&f.app).contains("that is all"));
    // Scrolling down past the end stays at the end, so k moves at once.
    for _ in 0..5 {
        f.key(KeyCode::Char('j'));
    }
    f.key(KeyCode::Char('k'));
    assert!(screen(&f.app).contains("more below (1 line)"));
}

#[test]
fn an_answer_not_offered_says_why() {
    let mut f = Fixture::advanced();
    failure(&mut f);
    assert_eq!(f.key(KeyCode::Char('u')), None);
    let s = screen(&f.app);
    assert!(s.contains("u: the step 'fetch' has no undo"), "{s}");
    assert_eq!(
        f.key(KeyCode::Char('r')),
        Some(Command::Decide(Decision::Retry))
    );
    assert_eq!(f.app.status, None, "an answer clears it");
}

#[test]
fn search_counts_its_matches() {
    let mut f = Fixture::advanced();
    f.run_step(
        6,
        0,
        700,
        1,
        &[
            (Stream::Stdout, "Applying images.0040 OK"),
            (Stream::Stdout, "Rendering"),
            (Stream::Stdout, "Applying images.0041 OK"),
            (Stream::Stdout, "Applying labels.0007 OK"),
        ],
        Outcome::Ok,
    );
    f.key(KeyCode::Char('/'));
    f.type_text("applying");
    f.key(KeyCode::Enter);
    f.key(KeyCode::Char('n'));
    f.clock(702);
    let s = screen(&f.app);
    assert!(s.contains("/applying: match 2 of 3"), "{s}");
    snap("search_count", &f.app);
    f.key(KeyCode::Char('/'));
    f.type_text("nowhere");
    f.key(KeyCode::Enter);
    assert!(screen(&f.app).contains("'nowhere' not found"));
}

#[test]
fn no_match_shows_while_a_question_waits() {
    let mut f = Fixture::advanced();
    f.gate(700);
    f.key(KeyCode::Esc);
    f.key(KeyCode::Char('/'));
    f.type_text("nowhere");
    f.key(KeyCode::Enter);
    let s = screen(&f.app);
    assert!(s.contains("'nowhere' not found"), "{s}");
    assert!(s.contains(strings::WAITING_ANSWER), "{s}");
}

fn clipboard_text(command: Option<Command>) -> String {
    let Some(Command::Write(bytes)) = command else {
        panic!("not a clipboard write: {command:?}")
    };
    let seq = String::from_utf8(bytes).unwrap_or_default();
    let Some(b64) = seq
        .strip_prefix("\x1b]52;c;")
        .and_then(|r| r.strip_suffix('\x07'))
    else {
        panic!("not OSC 52: {seq:?}")
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_default();
    String::from_utf8(raw).unwrap_or_default()
}

#[test]
fn copy_takes_the_pane_or_the_selected_lines() {
    let mut f = Fixture::advanced();
    f.run_step(
        4,
        0,
        700,
        1,
        &[
            (Stream::Stdout, "one"),
            (Stream::Stdout, "\x1b[32mtwo\x1b[0m"),
            (Stream::Stderr, "three"),
        ],
        Outcome::Ok,
    );
    let all = clipboard_text(f.key(KeyCode::Char('C')));
    assert_eq!(
        all,
        "$ command of step 5\none\ntwo\nthree\ndrydock: ok in 1s (exit status 0)\n"
    );
    assert!(screen(&f.app).contains("copied 5 lines to the clipboard"));
    // v starts at the bottom line; k twice takes two more.
    f.key(KeyCode::Char('v'));
    f.key(KeyCode::Char('k'));
    f.key(KeyCode::Char('k'));
    let s = screen(&f.app);
    assert!(s.contains("3 selected"), "{s}");
    snap("selecting", &f.app);
    let part = clipboard_text(f.key(KeyCode::Char('C')));
    assert_eq!(part, "two\nthree\ndrydock: ok in 1s (exit status 0)\n");
    assert!(!f.app.selecting(), "copying ends the selection");
    // Esc ends a selection without taking it.
    f.key(KeyCode::Char('v'));
    f.key(KeyCode::Esc);
    assert!(!f.app.selecting());
}

#[test]
fn save_writes_a_new_file_and_says_where() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut f = Fixture::advanced();
    f.run_step(4, 0, 700, 1, &[(Stream::Stdout, "fetched")], Outcome::Ok);
    f.key(KeyCode::Char('S'));
    let Some(Typing::SavePath(name)) = f.app.typing.clone() else {
        panic!("no file name asked")
    };
    assert_eq!(name, "drydock-20260102-030405-test-fetch-web.txt");
    assert!(screen(&f.app).contains("save to: drydock-"));
    let path = dir.path().join("out.txt");
    for _ in 0..name.chars().count() {
        f.key(KeyCode::Backspace);
    }
    f.type_text(&path.display().to_string());
    let Some(Command::Save {
        path: p,
        text,
        lines,
    }) = f.key(KeyCode::Enter)
    else {
        panic!("Enter did not save")
    };
    assert_eq!(p, path);
    let result = super::super::save_text(&p, &text);
    f.app.saved(p.clone(), lines, result);
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        written,
        "$ command of step 5\nfetched\ndrydock: ok in 1s (exit status 0)\n"
    );
    let s = screen(&f.app);
    assert!(s.contains("saved 3 lines to"), "{s}");
    // Never over an existing file: it says why and asks again.
    let again = super::super::save_text(&p, "other");
    f.app.saved(p.clone(), 1, again);
    assert!(
        f.app
            .status
            .as_deref()
            .is_some_and(|s| s.contains("cannot save"))
    );
    assert!(f.app.typing.is_some());
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), written);
}

/// The header's first row at 80 columns, for a run started as given.
fn first_row(resumed: bool, dry_run: bool, rollback: bool) -> String {
    let mut f = Fixture::new();
    f.ev(
        0,
        Event::RunStarted {
            run_id: "20260102-030405-test".into(),
            journal: None,
            resumed,
            dry_run,
        },
    );
    if rollback {
        f.ev(1, Event::RollbackStarted);
    }
    f.ev(
        2,
        Event::Waiting {
            step: 1,
            until: wall0() + chrono::Duration::seconds(600),
        },
    );
    f.clock(5);
    screen(&f.app)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_header_keeps_the_mode_first_at_80_columns() {
    let first = first_row(false, true, false);
    for part in [
        "DRY RUN",
        "step 2/9",
        "elapsed 00:00:05",
        "banner in 00:09:55",
    ] {
        assert!(first.contains(part), "{part} missing from {first:?}");
    }
    assert!(
        !first.contains("run 2026"),
        "the run id gives way first: {first:?}"
    );
    // With more modes, the name and the countdown give way, not the modes.
    let first = first_row(true, false, true);
    for part in ["RESUMED", "ROLLING BACK", "step 2/9", "elapsed 00:00:05"] {
        assert!(first.contains(part), "{part} missing from {first:?}");
    }
}

#[test]
fn a_finished_run_says_so_and_holds_no_lock() {
    let mut f = Fixture::advanced();
    f.ev(
        651,
        Event::RunFinished {
            status: RunStatus::Ok,
            exit_code: 0,
            journal: None,
            not_done: vec![],
        },
    );
    let s = screen(&f.app);
    let first = s.lines().next().unwrap_or_default();
    assert!(
        first.contains("FINISHED") && !first.contains("ROLLING"),
        "{s}"
    );
    assert!(!s.contains("locked"), "{s}");
}

#[test]
fn small_words_are_right() {
    let mut f = Fixture::advanced();
    f.run_step(4, 0, 700, 1, &[], Outcome::Ok);
    f.app.selected = 0;
    f.app.auto_select = false;
    f.ev(
        701,
        Event::Output {
            step: 0,
            host: 0,
            phase: Phase::Main,
            lines: vec![(Stream::Stdout, "x")].into(),
        },
    );
    // A log of one line.
    f.app.logs[1].pane.push(Stream::Stdout, "one".into());
    f.app.log_tab = 1;
    let s = text(&buffer_at(&f.app, &Theme::fallback(), 200, 50));
    assert!(s.contains(" 1 line · at the end "), "{s}");
    assert!(!s.contains("(start)"), "{s}");
    assert!(s.contains("[manual]"), "{s}");
}

#[test]
fn a_question_after_a_quiet_spell_rings_once() {
    let mut f = Fixture::advanced();
    let after = Some(Duration::from_secs(30));
    f.app.last_key = Some(f.at(600));
    f.gate(640);
    assert!(f.app.notification_due(f.at(640), after).is_some());
    assert!(f.app.notification_due(f.at(641), after).is_none(), "once");
    // A question while the admin is at the keyboard does not ring.
    let mut f = Fixture::advanced();
    f.app.last_key = Some(f.at(630));
    f.gate(640);
    assert!(f.app.notification_due(f.at(640), after).is_none());
    // NO_BELL (no spell at all) never rings.
    let mut f = Fixture::advanced();
    f.gate(640);
    assert!(f.app.notification_due(f.at(9999), None).is_none());
}

#[test]
fn the_event_loop_rings_and_notifies_on_the_terminal() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(rt) = rt else { panic!("runtime") };
    let mut f = Fixture::advanced();
    let mut out: Vec<u8> = Vec::new();
    let theme = Theme::fallback();
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let (dtx, _drx) = tokio::sync::mpsc::channel(16);
        let (_utx, mut urx) = ui_channel();
        let mut terminal = match Terminal::new(TestBackend::new(W, H)) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let prompt = Prompt {
            step: 4,
            kind: PromptKind::Gate,
            hosts: vec![0],
            commands: vec![],
            previews: vec![],
            banner: Vec::new(),
            choices: vec![Decision::Run, Decision::Abort],
        };
        let _ = tx.send(Event::Prompt(prompt)).await;
        let options = super::super::LoopOptions {
            exit_when_finished: false,
            notify_after: Some(Duration::ZERO),
            notifier: super::super::notify::Notifier {
                osc9: true,
                osc777: false,
            },
        };
        let run = super::super::event_loop(
            &mut f.app,
            &theme,
            &mut terminal,
            &mut out,
            Some(super::super::EngineLink {
                events: &mut rx,
                decisions: dtx,
                inputs: None,
            }),
            &mut urx,
            futures::stream::pending(),
            options,
        );
        let _ = tokio::time::timeout(Duration::from_millis(300), run).await;
    });
    let out = String::from_utf8(out).unwrap_or_default();
    assert_eq!(
        out,
        "\x07\x1b]9;drydock: the step 'fetch' waits for your answer\x07"
    );
}
