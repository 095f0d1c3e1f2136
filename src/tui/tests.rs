//! Snapshots of every view and modal on the classic 80x24 terminal and on a
//! large 200x50 one, in the default theme (with colours), and at 80x24 under
//! `NO_COLOR`; and the gated flows driven by keys: the prompt, yes, and no.
//! Keys are pressed on the 80x24 screen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::app::{App, UiMsg};
use super::input::Command;
use super::state::Mode;
use super::strings as s;
use super::theme::Theme;
use super::view;
use super::{TuiPrompter, ui_channel};
use crate::engine::{
    Decision, Event, HostFailure, Phase, PreviewOutput, Prompt, PromptKind, Typed, TypedInput,
};
use crate::journal::{Outcome, RunStatus};
use crate::remote::{ExitStatus, Prompter, Question, Stream};
use crate::runbook::Plan;

/// The screen keys are pressed on, and the small snapshots' size.
const W: u16 = 80;
const H: u16 = 24;
/// The large snapshots' size.
const LARGE: (u16, u16) = (200, 50);

const RUNBOOK: &str = r#"
[runbook]
name = "CoralNet production update"

[vars]
site = "/srv/coralnet"

[hosts.web]
transport = "local"

[hosts.worker]
transport = "local"

[logs.apache]
host = "web"
path = "/var/log/apache2/error.log"
highlight = ["error", "Traceback"]

[logs.celery]
host = "worker"
path = "/var/log/celery.log"

[banner]
hosts = ["web"]
path = "{{site}}/maintenance.json"
message = "Down for an update at {{starts_at}}."
lead = "10m"

[[steps]]
id = "banner-on"
title = "Put up the maintenance banner"
hosts = ["web"]
banner = "on"
undo = "rm -f {{site}}/maintenance.json"

[[steps]]
id = "wait-start"
title = "Wait for the announced start"
hosts = ["web"]
wait = "banner"

[[steps]]
id = "robot-idle"
title = "Wait until the vision backend is idle"
hosts = ["web"]
guard = { file_absent = "/cnhome/images/robot_running_flag", poll = "30s", timeout = "72h" }

[[steps]]
id = "stop-server"
title = "Stop the web server"
notes = "Apache stops serving; the banner stays up."
hosts = ["web"]
confirm = true
run = "sudo apachectl stop"
undo = "sudo apachectl start"

[[steps]]
id = "fetch"
title = "Fetch and rebase the code"
confirm = true
preview = "git -C {{site}} log --oneline HEAD..origin/master"
run = "git -C {{site}} fetch origin && git -C {{site}} rebase origin/master"

[[steps]]
id = "pip"
title = "Install changed requirements"
when = "git -C {{site}} diff --quiet ORIG_HEAD HEAD -- requirements.txt; test $? -eq 1"
run = "pip install -r {{site}}/requirements.txt"

[[steps]]
id = "migrate"
title = "Apply the database migrations"
hosts = ["web"]
run = "python manage.py migrate"
rolling = "web-nodes"

[[steps]]
id = "check"
title = "Try the site by hand"
hosts = ["web"]
manual = "Open the site and upload an image."

[[steps]]
id = "banner-off"
title = "Take the banner down"
hosts = ["web"]
banner = "off"
always = true
"#;

fn plan() -> Arc<Plan> {
    match crate::runbook::load_str(Path::new("coralnet.toml"), RUNBOOK, &[]) {
        Ok(p) => Arc::new(p),
        Err(e) => panic!("test runbook: {e}"),
    }
}

fn wall0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
        .single()
        .unwrap_or_default()
}

struct Fixture {
    app: App,
    t0: Instant,
    /// Keys pressed so far: one a second, as a person reading the screen
    /// presses them (see `STRAY_KEYS`).
    keys: u64,
}

impl Fixture {
    fn new() -> Self {
        let t0 = Instant::now();
        let app = App::new(plan(), Mode::Run, t0, wall0());
        let mut f = Fixture { app, t0, keys: 0 };
        f.ev(
            0,
            Event::RunStarted {
                run_id: "20260102-030405-test".into(),
                journal: Some(PathBuf::from("/journal/20260102-030405-test.jsonl")),
                resumed: false,
                dry_run: false,
            },
        );
        for h in 0..2 {
            f.ev(
                0,
                Event::HostConnecting {
                    host: h,
                    to: "root@127.0.0.1:22".into(),
                },
            );
            f.ev(
                0,
                Event::HostConnected {
                    host: h,
                    to: "root@127.0.0.1:22".into(),
                },
            );
            f.ev(
                0,
                Event::LockTaken {
                    host: h,
                    path: format!("/tmp/lock-{h}"),
                },
            );
        }
        f
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn ev(&mut self, secs: u64, e: Event) {
        let now = self.at(secs);
        self.app.on_event(e, now);
    }

    fn clock(&mut self, secs: u64) {
        let now = self.at(secs);
        self.app
            .set_clock(now, wall0() + chrono::Duration::seconds(secs as i64));
    }

    fn run_step(
        &mut self,
        step: usize,
        host: usize,
        start: u64,
        secs: u64,
        lines: &[(Stream, &str)],
        outcome: Outcome,
    ) {
        self.ev(
            start,
            Event::StepStarted {
                step,
                host,
                command: format!("command of step {}", step + 1),
                phase: Phase::Main,
                attempt: 1,
            },
        );
        for (stream, l) in lines {
            self.ev(
                start,
                Event::Output {
                    step,
                    host,
                    phase: Phase::Main,
                    lines: vec![(*stream, l.to_string())].into(),
                },
            );
        }
        let exit = Some(ExitStatus::code(if outcome == Outcome::Ok { 0 } else { 1 }));
        self.ev(
            start + secs,
            Event::StepFinished {
                step,
                host,
                outcome,
                exit,
                duration: Duration::from_secs(secs),
                phase: Phase::Main,
                message: None,
            },
        );
    }

    /// Steps 1-3 done, the way most views find the run.
    fn advanced() -> Self {
        let mut f = Fixture::new();
        f.run_step(0, 0, 1, 1, &[], Outcome::Ok);
        f.run_step(1, 0, 2, 600, &[], Outcome::Ok);
        f.run_step(
            2,
            0,
            602,
            30,
            &[(Stream::Stdout, "robot_running_flag is gone")],
            Outcome::Ok,
        );
        f.log_lines();
        f
    }

    fn log_lines(&mut self) {
        for l in [
            "[wsgi:info] request served",
            "[wsgi:error] Traceback (most recent call last):",
            "  File \"views.py\", line 3",
            "[wsgi:info] request served",
        ] {
            self.app.on_ui(UiMsg::Log {
                ix: 0,
                line: l.to_string(),
            });
        }
        self.app.on_ui(UiMsg::LogState {
            ix: 0,
            state: super::state::LogState::Tailing,
        });
    }

    /// A key pressed on the screen as last drawn: the event loop draws a
    /// frame before it reads keys, and keys page by the heights drawn.
    fn key(&mut self, code: KeyCode) -> Option<Command> {
        self.keys += 1;
        let at = self.t0 + Duration::from_secs(self.keys);
        buffer(&self.app, &Theme::fallback());
        self.app
            .on_key_at(KeyEvent::new(code, KeyModifiers::NONE), at)
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    fn gate(&mut self, secs: u64) {
        let prompt = Prompt {
            step: 4,
            kind: PromptKind::Gate,
            hosts: vec![0, 1],
            commands: vec![(0, "git -C /srv/coralnet fetch origin && git -C /srv/coralnet rebase origin/master".into()), (1, "git -C /srv/coralnet fetch origin && git -C /srv/coralnet rebase origin/master".into())],
            previews: vec![PreviewOutput {
                host: 0,
                command: "git -C /srv/coralnet log --oneline HEAD..origin/master".into(),
                lines: vec!["\x1b[33m3f2a1c9\x1b[0m Add label export".into(), "\x1b[33m8e7d6b5\x1b[0m Fix upload of large images".into()],
                exit: Some(ExitStatus::code(0)),
                error: None,
            }],
            banner: Vec::new(),
            choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
        };
        self.ev(secs, Event::Prompt(prompt));
    }
}

fn buffer(app: &App, theme: &Theme) -> Buffer {
    buffer_at(app, theme, W, H)
}

fn buffer_at(app: &App, theme: &Theme, w: u16, h: u16) -> Buffer {
    let mut terminal = match Terminal::new(TestBackend::new(w, h)) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    if let Err(e) = terminal.draw(|f| view::draw(app, theme, f.area(), f.buffer_mut())) {
        panic!("{e}");
    }
    terminal.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let cell = &buf[(x, y)];
            line.push_str(cell.symbol());
            skip = unicode_width::UnicodeWidthStr::width(cell.symbol()).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Snapshot a view three times: the default theme's full buffer (text and
/// styles) at 80x24 and at 200x50, and the `NO_COLOR` one at 80x24, which
/// must not carry a single colour (at either size).
fn snap(name: &str, app: &App) {
    let (lw, lh) = LARGE;
    for (w, h) in [(lw, lh), (W, H)] {
        let dark = buffer_at(app, &Theme::fallback(), w, h);
        insta::assert_snapshot!(
            format!("{name}_{w}x{h}"),
            format!("{}\n{:?}", text(&dark), dark)
        );
        let mono = buffer_at(app, &Theme::fallback().no_color(), w, h);
        for cell in mono.content() {
            assert!(
                cell.fg == Color::Reset && cell.bg == Color::Reset,
                "{name} at {w}x{h}: NO_COLOR drew a colour: {cell:?}"
            );
        }
        if w == W {
            insta::assert_snapshot!(
                format!("{name}__no_color"),
                format!("{}\n{:?}", text(&mono), mono)
            );
        }
    }
}

fn screen(app: &App) -> String {
    text(&buffer(app, &Theme::fallback()))
}

#[test]
fn run_view_with_output_and_logs() {
    let mut f = Fixture::advanced();
    f.run_step(
        3,
        0,
        640,
        2,
        &[(Stream::Stdout, "httpd stopped")],
        Outcome::Ok,
    );
    f.ev(
        650,
        Event::StepStarted {
            step: 4,
            host: 0,
            command: "git fetch origin".into(),
            phase: Phase::Main,
            attempt: 1,
        },
    );
    f.ev(
        651,
        Event::Output {
            step: 4,
            host: 0,
            phase: Phase::Main,
            lines: vec![(
                Stream::Stdout,
                "From github.com:coralnet/coralnet".to_string(),
            )]
            .into(),
        },
    );
    f.ev(
        651,
        Event::Output {
            step: 4,
            host: 0,
            phase: Phase::Main,
            lines: vec![(
                Stream::Stdout,
                "   \x1b[32m1a2b3c4..3f2a1c9\x1b[0m  master -> origin/master".to_string(),
            )]
            .into(),
        },
    );
    f.ev(
        652,
        Event::Output {
            step: 4,
            host: 0,
            phase: Phase::Main,
            lines: vec![(
                Stream::Stderr,
                "warning: redirecting to https://github.com/coralnet/coralnet.git/".to_string(),
            )]
            .into(),
        },
    );
    f.ev(
        653,
        Event::StepSkipped {
            step: 5,
            host: 1,
            reason: "when: exited 1".into(),
            earlier: None,
        },
    );
    f.clock(655);
    snap("run_view", &f.app);
}

#[test]
fn dry_run_header_and_rollback_marker() {
    let mut f = Fixture::new();
    f.ev(
        0,
        Event::RunStarted {
            run_id: "20260102-030405-test".into(),
            journal: None,
            resumed: false,
            dry_run: true,
        },
    );
    f.ev(1, Event::RollbackStarted);
    f.clock(5);
    let s = screen(&f.app);
    assert!(s.contains("DRY RUN"), "{s}");
    assert!(s.contains("ROLLING"), "{s}");
}

#[test]
fn gate_prompt_yes() {
    let mut f = Fixture::advanced();
    f.gate(700);
    f.clock(701);
    snap("gate_prompt", &f.app);
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Run))
    );
    f.ev(
        702,
        Event::Decided {
            step: 4,
            decision: Decision::Run,
            by: crate::journal::AnsweredBy::Admin,
        },
    );
    assert!(f.app.prompt.is_none());
    f.ev(
        702,
        Event::StepStarted {
            step: 4,
            host: 0,
            command: "git fetch".into(),
            phase: Phase::Main,
            attempt: 1,
        },
    );
    f.clock(703);
    snap("gate_yes", &f.app);
}

#[test]
fn gate_prompt_no_skips_and_ignores_other_keys() {
    let mut f = Fixture::advanced();
    f.gate(700);
    // Keys that are not answers here change nothing, and the modal takes them all.
    assert_eq!(f.key(KeyCode::Char('r')), None);
    assert_eq!(f.key(KeyCode::Char('q')), None);
    assert!(f.app.overlay.is_none());
    assert_eq!(
        f.key(KeyCode::Char('s')),
        Some(Command::Decide(Decision::Skip))
    );
    f.ev(
        701,
        Event::Decided {
            step: 4,
            decision: Decision::Skip,
            by: crate::journal::AnsweredBy::Admin,
        },
    );
    f.ev(
        701,
        Event::StepSkipped {
            step: 4,
            host: 0,
            reason: "skipped by the admin".into(),
            earlier: None,
        },
    );
    f.ev(
        701,
        Event::StepSkipped {
            step: 4,
            host: 1,
            reason: "skipped by the admin".into(),
            earlier: None,
        },
    );
    f.clock(702);
    snap("gate_no", &f.app);
}

#[test]
fn gate_escape_looks_around_and_enter_reopens() {
    let mut f = Fixture::advanced();
    f.gate(700);
    assert_eq!(f.key(KeyCode::Esc), None);
    f.clock(701);
    snap("gate_hidden", &f.app);
    // Looking around: keys move, they do not answer.
    assert_eq!(f.key(KeyCode::Char('y')), None);
    f.key(KeyCode::Enter);
    assert!(f.app.prompt.as_ref().is_some_and(|p| !p.hidden));
    assert_eq!(
        f.key(KeyCode::Char('a')),
        Some(Command::Decide(Decision::Abort))
    );
}

#[test]
fn guard_waiting_view_and_override() {
    let mut f = Fixture::new();
    f.run_step(0, 0, 1, 1, &[], Outcome::Ok);
    f.run_step(1, 0, 2, 600, &[], Outcome::Ok);
    f.ev(
        602,
        Event::StepStarted {
            step: 2,
            host: 0,
            command: "wait until /cnhome/images/robot_running_flag is absent".into(),
            phase: Phase::Main,
            attempt: 1,
        },
    );
    for (i, t) in [(1u32, 602u64), (2, 632), (3, 662)] {
        f.ev(
            t,
            Event::GuardPolled {
                step: 2,
                host: 0,
                ok: false,
                detail: "/cnhome/images/robot_running_flag is present".into(),
                checks: i,
                next_check: Some(Duration::from_secs(30)),
            },
        );
    }
    f.clock(672);
    snap("guard_waiting", &f.app);
    // At 80x24 the panel wraps: how to override and abort is read to its end.
    let at_80 = screen(&f.app);
    for end in [
        "next check in 00:00:20",
        "is      ┃",
        "present",
        "step id) · a abort",
    ] {
        assert!(at_80.contains(end), "{end:?} cut off:\n{at_80}");
    }
    f.key(KeyCode::Char('o'));
    f.type_text("robot");
    assert_eq!(f.key(KeyCode::Enter), None, "a wrong id must not override");
    snap("guard_override_prompt", &f.app);
    for _ in 0.."robot".len() {
        f.key(KeyCode::Backspace);
    }
    f.type_text("robot-idle");
    assert_eq!(
        f.key(KeyCode::Enter),
        Some(Command::Decide(Decision::Override))
    );
    assert!(f.app.overlay.is_none());
}

#[test]
fn guard_override_no() {
    let mut f = Fixture::new();
    f.ev(
        2,
        Event::StepStarted {
            step: 2,
            host: 0,
            command: "wait".into(),
            phase: Phase::Main,
            attempt: 1,
        },
    );
    f.key(KeyCode::Char('o'));
    f.type_text("robot-idle");
    assert_eq!(f.key(KeyCode::Esc), None);
    assert!(f.app.overlay.is_none());
}

#[test]
fn banner_countdown() {
    let mut f = Fixture::new();
    f.run_step(0, 0, 1, 1, &[], Outcome::Ok);
    f.ev(
        2,
        Event::StepStarted {
            step: 1,
            host: 0,
            command: "wait until the banner's start time".into(),
            phase: Phase::Main,
            attempt: 1,
        },
    );
    f.ev(
        2,
        Event::Waiting {
            step: 1,
            until: wall0() + chrono::Duration::seconds(602),
        },
    );
    f.clock(30);
    snap("banner_countdown", &f.app);
}

fn failure(f: &mut Fixture) {
    f.run_step(
        4,
        0,
        700,
        3,
        &[
            (
                Stream::Stderr,
                "error: could not apply 3f2a1c9... Add label export",
            ),
            (
                Stream::Stderr,
                "CONFLICT (content): Merge conflict in project/settings.py",
            ),
        ],
        Outcome::Failed,
    );
    f.run_step(4, 1, 700, 2, &[], Outcome::Ok);
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
                    last_stderr: vec![
                        "error: could not apply 3f2a1c9... Add label export".into(),
                        "CONFLICT (content): Merge conflict in project/settings.py".into(),
                    ],
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
fn failure_retry() {
    let mut f = Fixture::advanced();
    failure(&mut f);
    snap("failure_prompt", &f.app);
    assert_eq!(f.key(KeyCode::Char('u')), None, "undo is not offered here");
    assert_eq!(
        f.key(KeyCode::Char('r')),
        Some(Command::Decide(Decision::Retry))
    );
    f.ev(
        705,
        Event::Decided {
            step: 4,
            decision: Decision::Retry,
            by: crate::journal::AnsweredBy::Admin,
        },
    );
    f.ev(
        705,
        Event::StepStarted {
            step: 4,
            host: 0,
            command: "git rebase".into(),
            phase: Phase::Main,
            attempt: 2,
        },
    );
    f.clock(706);
    snap("failure_retry", &f.app);
}

#[test]
fn failure_abort() {
    let mut f = Fixture::advanced();
    failure(&mut f);
    assert_eq!(
        f.key(KeyCode::Char('a')),
        Some(Command::Decide(Decision::Abort))
    );
}

fn rollback_prompt(f: &mut Fixture, kind: PromptKind, step: usize, command: &str) {
    f.ev(710, Event::RollbackStarted);
    f.ev(
        710,
        Event::Prompt(Prompt {
            step,
            kind,
            hosts: vec![0],
            commands: vec![(0, command.into())],
            previews: vec![],
            banner: Vec::new(),
            choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
        }),
    );
    f.clock(711);
}

#[test]
fn undo_offer_yes_and_leave() {
    let mut f = Fixture::advanced();
    f.run_step(3, 0, 640, 2, &[], Outcome::Ok);
    rollback_prompt(&mut f, PromptKind::Undo, 3, "sudo apachectl start");
    snap("undo_prompt", &f.app);
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Run))
    );
    assert_eq!(
        f.key(KeyCode::Char('s')),
        Some(Command::Decide(Decision::Skip))
    );
}

#[test]
fn always_offer() {
    let mut f = Fixture::advanced();
    rollback_prompt(
        &mut f,
        PromptKind::Always,
        8,
        "take the banner down: rm /srv/coralnet/maintenance.json",
    );
    snap("always_prompt", &f.app);
    assert_eq!(
        f.key(KeyCode::Char('s')),
        Some(Command::Decide(Decision::Skip))
    );
}

#[test]
fn manual_step() {
    let mut f = Fixture::advanced();
    f.ev(
        720,
        Event::Prompt(Prompt {
            step: 7,
            kind: PromptKind::Manual {
                instructions: "Open the site and upload an image.".into(),
            },
            hosts: vec![0],
            commands: vec![],
            previews: vec![],
            banner: Vec::new(),
            choices: vec![Decision::Run, Decision::Abort],
        }),
    );
    f.clock(721);
    snap("manual_prompt", &f.app);
    assert_eq!(f.key(KeyCode::Char('s')), None, "skip is not offered here");
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Run))
    );
}

#[test]
fn resume_prompt() {
    let mut f = Fixture::new();
    f.ev(
        0,
        Event::StepSkipped {
            step: 0,
            host: 0,
            reason: "done earlier".into(),
            earlier: Some(Outcome::Ok),
        },
    );
    f.ev(
        1,
        Event::Prompt(Prompt {
            step: 3,
            kind: PromptKind::Resume {
                interrupted: vec![(3, 0)],
            },
            hosts: vec![0],
            commands: vec![],
            previews: vec![],
            banner: Vec::new(),
            choices: vec![Decision::Run, Decision::Abort],
        }),
    );
    f.clock(2);
    snap("resume_prompt", &f.app);
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Run))
    );
}

#[test]
fn lock_break_needs_the_step_id() {
    let mut f = Fixture::new();
    f.ev(
        1,
        Event::LockHeld {
            host: 0,
            path: "/tmp/lock-0".into(),
            holder: "run 20260101-000000-aaaa by alice on laptop".into(),
        },
    );
    f.ev(
        1,
        Event::Prompt(Prompt {
            step: 0,
            kind: PromptKind::LockBreak {
                host: 0,
                path: "/tmp/lock-0".into(),
                holder: "run 20260101-000000-aaaa by alice on laptop".into(),
            },
            hosts: vec![0],
            commands: vec![(
                0,
                "break the lock /tmp/lock-0 held by run 20260101-000000-aaaa by alice on laptop"
                    .into(),
            )],
            previews: vec![],
            banner: Vec::new(),
            choices: vec![Decision::BreakLock { host: 0 }, Decision::Abort],
        }),
    );
    f.clock(2);
    snap("lock_break_prompt", &f.app);
    // 'y' is text here, not an answer.
    assert_eq!(f.key(KeyCode::Char('y')), None);
    assert_eq!(f.key(KeyCode::Enter), None);
    f.key(KeyCode::Backspace);
    f.type_text("banner-on");
    assert_eq!(
        f.key(KeyCode::Enter),
        Some(Command::Decide(Decision::BreakLock { host: 0 }))
    );
}

#[test]
fn lock_break_no_aborts_from_the_main_view() {
    let mut f = Fixture::new();
    f.ev(
        1,
        Event::Prompt(Prompt {
            step: 0,
            kind: PromptKind::LockBreak {
                host: 0,
                path: "/tmp/lock-0".into(),
                holder: "another run".into(),
            },
            hosts: vec![0],
            commands: vec![],
            previews: vec![],
            banner: Vec::new(),
            choices: vec![Decision::BreakLock { host: 0 }, Decision::Abort],
        }),
    );
    f.key(KeyCode::Esc);
    f.key(KeyCode::Char('a'));
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Abort))
    );
}

#[test]
fn host_key_question_yes_and_no() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(rt) = rt else { panic!("runtime") };
    rt.block_on(async {
        for (key, want) in [('y', Some("yes".to_string())), ('n', None)] {
            let (tx, mut rx) = ui_channel();
            let prompter = TuiPrompter::new(tx);
            let ask = tokio::spawn(async move {
                prompter
                    .ask(Question::TrustHostKey {
                        host: "web".into(),
                        address: "[web.example.org]:2222".into(),
                        key_type: "ssh-ed25519".into(),
                        fingerprint: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8".into(),
                        known_hosts: "/home/admin/.ssh/known_hosts".into(),
                    })
                    .await
            });
            let mut f = Fixture::new();
            let Some(msg) = rx.recv().await else {
                panic!("no question")
            };
            f.app.on_ui(msg);
            f.clock(1);
            if key == 'y' {
                snap("host_key_question", &f.app);
                // At 80x24 the question is read to its end, how to check
                // the key included.
                let at_80 = screen(&f.app);
                for part in [
                    "[web.example.org]:2222",
                    "ssh-keygen -lf",
                    "known_hosts?",
                    "y trust and remember",
                ] {
                    assert!(at_80.contains(part), "{part:?} not shown:\n{at_80}");
                }
            }
            // The question takes every key first.
            f.key(KeyCode::Char('q'));
            assert!(f.app.overlay.is_none());
            f.key(KeyCode::Char(key));
            assert!(f.app.question.is_none());
            let answer = ask.await.ok().flatten();
            assert_eq!(answer, want);
        }
    });
}

#[test]
fn passphrase_is_never_echoed() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(rt) = rt else { panic!("runtime") };
    rt.block_on(async {
        let (tx, mut rx) = ui_channel();
        let prompter = TuiPrompter::new(tx);
        let ask = tokio::spawn(async move {
            prompter
                .ask(Question::Passphrase {
                    host: "web".into(),
                    key_path: "~/.ssh/id_ed25519".into(),
                })
                .await
        });
        let mut f = Fixture::new();
        let Some(msg) = rx.recv().await else {
            panic!("no question")
        };
        f.app.on_ui(msg);
        f.type_text("hunter2secret");
        f.clock(1);
        snap("passphrase_question", &f.app);
        let s = screen(&f.app);
        assert!(!s.contains("hunter2") && !s.contains("*****"), "{s}");
        f.key(KeyCode::Enter);
        assert_eq!(ask.await.ok().flatten(), Some("hunter2secret".to_string()));
    });
}

#[test]
fn help_overlay() {
    let mut f = Fixture::advanced();
    f.key(KeyCode::Char('?'));
    f.clock(640);
    snap("help", &f.app);
    f.key(KeyCode::Esc);
    assert!(f.app.overlay.is_none());
}

#[test]
fn quit_asks_while_running_yes_and_no() {
    let mut f = Fixture::advanced();
    assert_eq!(f.key(KeyCode::Char('q')), None);
    f.clock(640);
    snap("confirm_quit", &f.app);
    assert_eq!(f.key(KeyCode::Char('n')), None);
    assert!(f.app.overlay.is_none());
    f.key(KeyCode::Char('q'));
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Abort))
    );
    assert!(f.app.quitting);
}

#[test]
fn ctrl_c_twice_leaves() {
    let mut f = Fixture::advanced();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(f.app.on_key(ctrl_c), None);
    assert_eq!(f.app.on_key(ctrl_c), Some(Command::ForceQuit));
}

#[test]
fn abort_asks_first() {
    let mut f = Fixture::advanced();
    f.key(KeyCode::Char('a'));
    f.clock(640);
    snap("confirm_abort", &f.app);
    assert_eq!(f.key(KeyCode::Esc), None);
    f.key(KeyCode::Char('a'));
    assert_eq!(
        f.key(KeyCode::Char('y')),
        Some(Command::Decide(Decision::Abort))
    );
}

#[test]
fn summary_after_the_run() {
    let mut f = Fixture::advanced();
    f.run_step(3, 0, 640, 2, &[], Outcome::Ok);
    f.ev(
        650,
        Event::StepFinished {
            step: 3,
            host: 0,
            outcome: Outcome::Ok,
            exit: Some(ExitStatus::code(0)),
            duration: Duration::from_secs(1),
            phase: Phase::Undo,
            message: None,
        },
    );
    f.ev(
        651,
        Event::RunFinished {
            status: RunStatus::Aborted,
            exit_code: 3,
            journal: Some(PathBuf::from("/journal/20260102-030405-test.jsonl")),
            not_done: vec![],
        },
    );
    f.clock(652);
    snap("summary", &f.app);
    assert_eq!(f.key(KeyCode::Char('q')), Some(Command::Quit));
}

/// A guard passed by the admin's word is told apart from one that held.
#[test]
fn the_summary_says_a_guard_was_overridden() {
    let mut f = Fixture::new();
    f.ev(
        1,
        Event::StepStarted {
            step: 2,
            host: 0,
            command: "wait until /cnhome/images/robot_running_flag is absent".into(),
            phase: Phase::Main,
            attempt: 1,
        },
    );
    f.ev(
        9,
        Event::StepFinished {
            step: 2,
            host: 0,
            outcome: Outcome::Ok,
            exit: None,
            duration: Duration::from_secs(8),
            phase: Phase::Main,
            message: Some(crate::engine::GUARD_OVERRIDDEN.into()),
        },
    );
    f.ev(
        10,
        Event::RunFinished {
            status: RunStatus::Aborted,
            exit_code: 3,
            journal: None,
            not_done: vec![],
        },
    );
    let s = screen(&f.app);
    assert!(s.contains("web: guard overridden by the admin"), "{s}");
}

#[test]
fn search_highlights_and_moves() {
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
    for i in 0..60 {
        let line = if i % 20 == 7 {
            format!("  Applying images.{i:04}_auto... OK")
        } else {
            format!("  Rendering model states... {i}")
        };
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
    f.key(KeyCode::Char('/'));
    f.type_text("applying");
    f.clock(701);
    snap("search_typing", &f.app);
    f.key(KeyCode::Enter);
    f.key(KeyCode::Char('n'));
    snap("search_found", &f.app);
    let pane = f.app.output(6, 0);
    assert!(pane.is_some_and(|p| !p.follow));
    f.key(KeyCode::Char('G'));
    assert!(f.app.output(6, 0).is_some_and(|p| p.follow));
}

/// The numbers of the lines `label NNN` on screen, top to bottom.
fn numbered(app: &App, label: &str) -> Vec<usize> {
    screen(app)
        .lines()
        .filter_map(|l| {
            let at = l.find(label)? + label.len();
            l.get(at..at + 3)?.parse().ok()
        })
        .collect()
}

#[test]
fn paging_moves_by_the_height_drawn_and_skips_no_line() {
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
    for i in 0..100 {
        f.ev(
            700,
            Event::Output {
                step: 6,
                host: 0,
                phase: Phase::Main,
                lines: vec![(Stream::Stdout, format!("output line {i:03}"))].into(),
            },
        );
        f.app.on_ui(UiMsg::Log {
            ix: 0,
            line: format!("log line {i:03}"),
        });
    }
    // The output pane has the focus first; Tab goes on to the logs, enlarged
    // so that lines past the first page show on the 80x24 screen.
    for (label, focus_keys) in [
        ("output line ", &[][..]),
        ("log line ", &[KeyCode::Tab, KeyCode::Char('L')][..]),
    ] {
        for &k in focus_keys {
            f.key(k);
        }
        f.key(KeyCode::Char('g'));
        let top = numbered(&f.app, label);
        f.key(KeyCode::PageDown);
        let next = numbered(&f.app, label);
        assert!(!top.is_empty(), "{label}: none shown");
        assert_eq!(
            next.first().copied(),
            top.last().map(|l| l + 1),
            "{label}: the next page starts right after the last line shown: {top:?} then {next:?}"
        );
        f.key(KeyCode::PageUp);
        assert_eq!(numbered(&f.app, label), top, "{label}: PageUp comes back");
    }
}

#[test]
fn switching_hosts_shows_their_output() {
    let mut f = Fixture::advanced();
    f.run_step(
        4,
        0,
        700,
        1,
        &[(Stream::Stdout, "web says hi")],
        Outcome::Ok,
    );
    f.run_step(
        4,
        1,
        700,
        1,
        &[(Stream::Stdout, "worker says hi")],
        Outcome::Ok,
    );
    f.app.auto_select = false;
    f.app.selected = 4;
    f.app.host_sel = 0;
    assert!(screen(&f.app).contains("web says hi"));
    f.key(KeyCode::Char('l'));
    assert!(screen(&f.app).contains("worker says hi"));
}

#[test]
fn log_pane_enlarged_and_hidden() {
    let mut f = Fixture::advanced();
    f.clock(640);
    f.key(KeyCode::Char('L'));
    snap("logs_enlarged", &f.app);
    f.key(KeyCode::Char('H'));
    let s = screen(&f.app);
    assert!(!s.contains("Traceback"), "{s}");
}

#[test]
fn logs_only_mode() {
    let mut app = App::new(plan(), Mode::Logs, Instant::now(), wall0());
    for l in [
        "GET / 200",
        "[error] File does not exist: /srv/coralnet/static/x.png",
        "GET /images 200",
    ] {
        app.on_ui(UiMsg::Log {
            ix: 0,
            line: l.to_string(),
        });
    }
    app.on_ui(UiMsg::LogState {
        ix: 0,
        state: super::state::LogState::Tailing,
    });
    snap("logs_only", &app);
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)),
        Some(Command::Quit)
    );
}

#[test]
fn too_small_terminal_gets_a_message() {
    let f = Fixture::advanced();
    let mut terminal = match Terminal::new(TestBackend::new(40, 10)) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let _ = terminal.draw(|fr| view::draw(&f.app, &Theme::fallback(), fr.area(), fr.buffer_mut()));
    insta::assert_snapshot!("too_small", text(terminal.backend().buffer()));
}

#[test]
fn any_size_draws_without_panic() {
    let mut f = Fixture::advanced();
    failure(&mut f);
    for w in [1u16, 10, 59, 60, 61, 80, 200] {
        for h in [1u16, 5, 14, 15, 16, 40] {
            let mut terminal = match Terminal::new(TestBackend::new(w, h)) {
                Ok(t) => t,
                Err(e) => panic!("{e}"),
            };
            let _ = terminal
                .draw(|fr| view::draw(&f.app, &Theme::fallback(), fr.area(), fr.buffer_mut()));
        }
    }
}

#[test]
fn scrollback_is_bounded() {
    let mut f = Fixture::new();
    f.app.scrollback = 1000;
    f.ev(
        1,
        Event::StepStarted {
            step: 4,
            host: 0,
            command: "yes".into(),
            phase: Phase::Main,
            attempt: 1,
        },
    );
    for i in 0..5000 {
        f.ev(
            1,
            Event::Output {
                step: 4,
                host: 0,
                phase: Phase::Main,
                lines: vec![(Stream::Stdout, format!("y {i}"))].into(),
            },
        );
    }
    assert_eq!(f.app.output(4, 0).map(|p| p.len()), Some(1000));
}

#[test]
fn a_host_that_cannot_be_used_is_named_with_its_cause_on_the_host_line_and_in_the_summary() {
    let t0 = Instant::now();
    let mut app = App::new(plan(), Mode::Run, t0, wall0());
    app.on_event(
        Event::HostConnecting {
            host: 1,
            to: "10.0.0.9:22".into(),
        },
        t0,
    );
    app.on_event(
        Event::HostConnected {
            host: 0,
            to: "10.0.0.5:22".into(),
        },
        t0,
    );
    app.on_event(
        Event::HostFailed {
            host: 1,
            error: "cannot reach host 'worker' at 10.0.0.9:22: Connection refused (os error 111). \
                    Check the address and port in the runbook, and that sshd runs there"
                .into(),
            cause: "Connection refused (os error 111)".into(),
        },
        t0,
    );
    // Where the hosts line has room, it gives the cause; here, the status
    // line below says it.
    let running = screen(&app);
    assert!(running.contains("✗ worker failed"), "{running}");
    assert!(
        running.contains("worker: cannot reach host 'worker' at 10.0.0.9:22: Connection refused"),
        "{running}"
    );
    let wide = text(&buffer_at(&app, &Theme::fallback(), 200, 30));
    assert!(
        wide.contains("✗ worker failed: Connection refused (os error 111)"),
        "{wide}"
    );
    app.on_event(
        Event::HostLost {
            host: 0,
            reason: "no answer for 45 s".into(),
        },
        t0,
    );
    let lost = screen(&app);
    assert!(lost.contains("! web lost"), "{lost}");
    assert!(
        lost.contains("web: connection lost: no answer for 45 s"),
        "{lost}"
    );
    app.on_event(
        Event::RunFinished {
            status: RunStatus::Failed,
            exit_code: 5,
            journal: None,
            not_done: Vec::new(),
        },
        t0,
    );
    let summary = screen(&app);
    assert!(
        summary.contains("Run stopped: a host could not be reached or used (exit status 5)"),
        "{summary}"
    );
    assert!(
        summary.contains("worker: cannot reach host 'worker' at 10.0.0.9:22: Connection refused"),
        "{summary}"
    );
    assert!(
        summary.contains("and that sshd runs there"),
        "the message is wrapped, not cut: {summary}"
    );
    assert!(!summary.contains("a step failed"), "{summary}");
}

// ---- Answering running commands: sudo's password, typed input, stray keys --

impl Fixture {
    /// Step 5 (fetch) running on web, its command showing `prompt` and
    /// waiting for input.
    fn waiting_for_input(prompt: &str) -> Self {
        let mut f = Fixture::advanced();
        f.run_step(3, 0, 640, 2, &[], Outcome::Ok);
        f.ev(
            650,
            Event::StepStarted {
                step: 4,
                host: 0,
                command: "git fetch origin".into(),
                phase: Phase::Main,
                attempt: 1,
            },
        );
        f.ev(
            651,
            Event::PartialLine {
                step: 4,
                host: 0,
                phase: Phase::Main,
                stream: Stream::Stdout,
                text: prompt.into(),
            },
        );
        f.ev(
            652,
            Event::AwaitingInput {
                step: 4,
                host: 0,
                phase: Phase::Main,
                prompt: prompt.into(),
            },
        );
        f.clock(653);
        f
    }

    fn key_with(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Option<Command> {
        self.keys += 1;
        let at = self.t0 + Duration::from_secs(self.keys);
        self.app.on_key_at(KeyEvent::new(code, modifiers), at)
    }
}

#[test]
fn a_command_waiting_for_input_says_so_and_rings_once() {
    let mut f = Fixture::waiting_for_input("Continue? [y/N] ");
    assert_eq!(
        f.app.take_bell().as_deref(),
        Some("drydock: the step 'fetch' waits for input on web"),
        "the bell rings"
    );
    let s = screen(&f.app);
    assert!(s.contains("waits for input"), "{s}");
    assert!(s.contains("Continue? [y/N]"), "{s}");
    // Again for the same command: no second bell.
    f.ev(
        660,
        Event::AwaitingInput {
            step: 4,
            host: 0,
            phase: Phase::Main,
            prompt: "Continue? [y/N] ".into(),
        },
    );
    assert!(f.app.take_bell().is_none());
    snap("awaiting_input", &f.app);
}

/// The event loop's bell for a command that waits for input: with the
/// desktop notification where the terminal takes one, and not at all where
/// bells are off (`NO_BELL`).
#[test]
fn the_event_loop_rings_once_for_a_command_that_waits_for_input() {
    let ring = |notify_after: Option<Duration>| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(rt) = rt else { panic!("runtime") };
        let mut f = Fixture::waiting_for_input("Continue? [y/N] ");
        // Only the loop takes the bell here.
        f.app.bell_due = None;
        f.app.cells[4][0].bell_rung = false;
        let mut out: Vec<u8> = Vec::new();
        rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel(16);
            let (dtx, _drx) = tokio::sync::mpsc::channel(16);
            let (_utx, mut urx) = ui_channel();
            let Ok(mut terminal) = Terminal::new(TestBackend::new(W, H));
            for _ in 0..2 {
                let waiting = Event::AwaitingInput {
                    step: 4,
                    host: 0,
                    phase: Phase::Main,
                    prompt: "Continue? [y/N] ".into(),
                };
                let _ = tx.send(waiting).await;
            }
            let options = super::LoopOptions {
                exit_when_finished: false,
                notify_after,
                notifier: super::notify::Notifier {
                    osc9: true,
                    osc777: false,
                },
            };
            let link = super::EngineLink {
                events: &mut rx,
                decisions: dtx,
                inputs: None,
            };
            let theme = Theme::fallback();
            let run = super::event_loop(
                &mut f.app,
                &theme,
                &mut terminal,
                &mut out,
                Some(link),
                &mut urx,
                futures::stream::pending(),
                options,
            );
            let _ = tokio::time::timeout(Duration::from_millis(300), run).await;
        });
        String::from_utf8(out).unwrap_or_default()
    };
    assert_eq!(
        ring(Some(Duration::from_secs(30))),
        "\x07\x1b]9;drydock: the step 'fetch' waits for input on web\x07"
    );
    assert_eq!(ring(None), "", "NO_BELL");
}

#[test]
fn i_types_a_line_into_the_running_command() {
    let mut f = Fixture::waiting_for_input("Continue? [y/N] ");
    assert_eq!(f.key(KeyCode::Char('i')), None);
    f.type_text("y");
    f.clock(654);
    snap("typing_line", &f.app);
    assert_eq!(
        f.key(KeyCode::Enter),
        Some(Command::Type(TypedInput {
            step: 4,
            host: 0,
            typed: Typed::Line {
                text: "y".into(),
                masked: false
            }
        }))
    );
    assert!(f.app.typing.is_none());
    // Esc closes the line without sending; Ctrl-D sends the end of input.
    f.key(KeyCode::Char('i'));
    f.type_text("abc");
    assert_eq!(f.key(KeyCode::Esc), None);
    assert!(f.app.typing.is_none());
    f.key(KeyCode::Char('i'));
    assert_eq!(
        f.key_with(KeyCode::Char('d'), KeyModifiers::CONTROL),
        Some(Command::Type(TypedInput {
            step: 4,
            host: 0,
            typed: Typed::End
        }))
    );
}

#[test]
fn input_after_a_password_prompt_is_masked_until_shown() {
    let mut f = Fixture::waiting_for_input("Password: ");
    f.key(KeyCode::Char('i'));
    f.type_text("hunter2secret");
    let s = screen(&f.app);
    assert!(!s.contains("hunter2") && !s.contains("****"), "{s}");
    assert!(s.contains(s::HIDDEN_TYPING), "{s}");
    f.key_with(KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(screen(&f.app).contains("hunter2secret"));
    f.key_with(KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert_eq!(
        f.key(KeyCode::Enter),
        Some(Command::Type(TypedInput {
            step: 4,
            host: 0,
            typed: Typed::Line {
                text: "hunter2secret".into(),
                masked: true
            }
        }))
    );
}

#[test]
fn i_where_nothing_runs_says_so() {
    let mut f = Fixture::advanced();
    f.key(KeyCode::Char('i'));
    assert!(f.app.typing.is_none());
    assert!(
        f.app
            .status
            .as_deref()
            .is_some_and(|s| s.contains("no command")),
        "{:?}",
        f.app.status
    );
}

#[test]
fn the_partial_line_is_replaced_by_the_whole_line() {
    let mut f = Fixture::waiting_for_input("Continue? [y/N] ");
    f.ev(
        655,
        Event::Output {
            step: 4,
            host: 0,
            phase: Phase::Main,
            lines: vec![(Stream::Stdout, "Continue? [y/N] y")].into(),
        },
    );
    let pane = f.app.output(4, 0).expect("the pane");
    let texts: Vec<&str> = pane.lines().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("Continue?")).count(),
        1
    );
    assert_eq!(texts.last(), Some(&"Continue? [y/N] y"));
    assert!(!f.app.cells[4][0].awaiting_input);
}

#[test]
fn keys_typed_as_a_question_opens_answer_nothing() {
    let mut f = Fixture::waiting_for_input("Continue? [y/N] ");
    let t = f.t0 + Duration::from_secs(1000);
    let press = |f: &mut Fixture, c: char, ms: u64| {
        f.app.on_key_at(
            KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
            t + Duration::from_millis(ms),
        )
    };
    // A password typed where no input line is open: `a` opens the abort
    // question, and the keys right after it do not answer it.
    for (i, c) in "Fday1".chars().enumerate() {
        assert_eq!(press(&mut f, c, 120 * i as u64), None, "{c}");
    }
    assert_eq!(f.app.overlay, Some(super::state::Overlay::ConfirmAbort));
    // Once the typing has paused, the question takes its answer.
    assert_eq!(press(&mut f, 'n', 120 * 4 + 600), None);
    assert!(f.app.overlay.is_none());
    // A question the engine opens while the admin types ignores those keys
    // too; the same admin, not typing, answers at once.
    press(&mut f, 'x', 2900);
    f.gate(1003);
    assert_eq!(press(&mut f, 'a', 3100), None, "stray");
    assert_eq!(press(&mut f, 'y', 3300), None, "still typing");
    assert_eq!(
        press(&mut f, 'a', 4000),
        Some(Command::Decide(Decision::Abort))
    );
    let mut f = Fixture::waiting_for_input("Continue? [y/N] ");
    f.gate(1003);
    let first = f.app.on_key_at(
        KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE),
        t + Duration::from_millis(3100),
    );
    assert_eq!(first, Some(Command::Decide(Decision::Abort)));
}

fn sudo_question(attempt: u32) -> crate::remote::SudoQuestion {
    crate::remote::SudoQuestion {
        host: "web".into(),
        address: "coralnet.example.org".into(),
        user: "deploy".into(),
        attempt,
    }
}

#[test]
fn the_sudo_password_window_hides_the_password_and_can_answer_for_every_host() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(rt) = rt else { panic!("runtime") };
    rt.block_on(async {
        let (tx, mut rx) = ui_channel();
        let prompter = TuiPrompter::new(tx);
        let ask = tokio::spawn(async move { prompter.sudo_password(sudo_question(1)).await });
        let mut f = Fixture::advanced();
        let Some(msg) = rx.recv().await else {
            panic!("no question")
        };
        f.app.on_ui(msg);
        // It takes every key: `q` is part of the password, not quit.
        f.type_text("Fday1q");
        f.key(KeyCode::Tab);
        f.clock(640);
        snap("sudo_question", &f.app);
        let s = screen(&f.app);
        assert!(
            s.contains("deploy@web") && s.contains("[x] use it for every host"),
            "{s}"
        );
        assert!(!s.contains("Fday1") && !s.contains("*****"), "{s}");
        assert!(f.app.overlay.is_none());
        f.key(KeyCode::Enter);
        assert!(f.app.sudo_question.is_none());
        let answer = ask
            .await
            .ok()
            .map(|r| r.map(|a| (a.password, a.every_host)));
        assert_eq!(answer, Some(Ok(("Fday1q".to_string(), true))));
    });
}

#[test]
fn the_sudo_password_window_declines_on_esc_and_goes_when_nobody_waits() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(rt) = rt else { panic!("runtime") };
    rt.block_on(async {
        let (tx, mut rx) = ui_channel();
        let prompter = TuiPrompter::new(tx);
        let ask = tokio::spawn(async move { prompter.sudo_password(sudo_question(2)).await });
        let mut f = Fixture::advanced();
        let Some(msg) = rx.recv().await else {
            panic!("no question")
        };
        f.app.on_ui(msg);
        assert!(screen(&f.app).contains("try 2 of 3"));
        f.key(KeyCode::Esc);
        assert!(matches!(ask.await, Ok(Err(_))));

        // The engine stopped waiting (the step was aborted): the window goes.
        let (reply, answer) = tokio::sync::oneshot::channel();
        f.app.on_ui(UiMsg::SudoPassword(sudo_question(1), reply));
        drop(answer);
        f.app.drop_abandoned_questions();
        assert!(f.app.sudo_question.is_none());
    });
}

#[test]
fn f1_opens_the_help_over_the_sudo_window_with_its_keys_first() {
    let mut f = Fixture::advanced();
    let (reply, _answer) = tokio::sync::oneshot::channel();
    f.app.on_ui(UiMsg::SudoPassword(sudo_question(1), reply));
    f.type_text("pw");
    f.key(KeyCode::F(1));
    assert_eq!(f.app.overlay, Some(super::state::Overlay::Help));
    let s = screen(&f.app);
    assert!(
        s.contains(s::HELP_THIS_QUESTION) && s.contains(s::SUDO_KEYS),
        "{s}"
    );
    f.key(KeyCode::Esc);
    assert!(f.app.overlay.is_none());
    let q = f.app.sudo_question.as_ref().map(|q| q.input.as_str());
    assert_eq!(q, Some("pw"), "the window and what was typed stay");
}

#[test]
fn the_header_shows_hosts_waiting_to_connect_and_the_batch_in_flight() {
    let t0 = Instant::now();
    let mut app = App::new(plan(), Mode::Run, t0, wall0());
    app.on_event(Event::HostQueued { host: 1 }, t0);
    let s = screen(&app);
    assert!(s.contains("worker waiting to connect"), "{s}");

    // Step 7, `migrate`, is the rolling block `web-nodes`.
    app.on_event(
        Event::BatchStarted {
            label: "web-nodes".into(),
            batch: 2,
            batches: 3,
            hosts: vec![0],
        },
        t0,
    );
    let started = |step| Event::StepStarted {
        step,
        host: 0,
        command: "python manage.py migrate".into(),
        phase: Phase::Main,
        attempt: 1,
    };
    app.on_event(started(6), t0);
    let s = screen(&app);
    let header = s.lines().next().unwrap_or_default();
    assert!(header.contains("step 7/9  batch 2/3"), "{s}");

    // A step after the block: its batches are over.
    app.on_event(started(8), t0);
    assert!(!screen(&app).contains("batch 2/3"));
}

mod fleet;
mod reading;
mod replay;
mod safety;
