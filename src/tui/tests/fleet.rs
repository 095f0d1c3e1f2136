//! A hundred hosts: natural order, strips that say "+N more", the host
//! picker (typing, Tab to the next failed host, Enter), the summary grouped
//! by step; and the banner question in plain words.

use std::time::Duration;

use crossterm::event::KeyCode;

use super::*;
use crate::engine::BannerPreview;
use crate::tui::state::Overlay;
use crate::tui::strings;

const HOSTS: usize = 100;
/// Where the `flaky` step fails.
const FAILING: [&str; 3] = ["h7", "h20", "h73"];

fn fleet_plan(steps: &str) -> Arc<Plan> {
    let mut text = String::from(
        "[runbook]\nname = \"A hundred hosts\"\nlock = \"/tmp/fleet-{{host}}.lock\"\n\n",
    );
    for i in 1..=HOSTS {
        text.push_str(&format!("[hosts.h{i}]\ntransport = \"local\"\n"));
    }
    text.push_str(steps);
    match crate::runbook::load_str(Path::new("fleet.toml"), &text, &[]) {
        Ok(p) => Arc::new(p),
        Err(e) => panic!("fleet runbook: {e}"),
    }
}

const STEPS: &str = r#"
[[steps]]
id = "hello"
title = "Say hello"
run = "echo hello from {{host}}"

[[steps]]
id = "flaky"
title = "Fails on three hosts"
run = "test {{host}} != h7"
on_failure = "continue"

[[steps]]
id = "last"
title = "The last step"
run = "echo done"
"#;

fn host(f: &Fixture, name: &str) -> usize {
    f.app
        .plan
        .host_index(name)
        .unwrap_or_else(|| panic!("no host {name}"))
}

/// Connected and locked everywhere; `hello` done, `flaky` failed on three
/// hosts, `last` running on every host.
fn fleet() -> Fixture {
    let t0 = Instant::now();
    let app = App::new(fleet_plan(STEPS), Mode::Run, t0, wall0());
    let mut f = Fixture { app, t0, keys: 0 };
    f.ev(
        0,
        Event::RunStarted {
            run_id: "20260102-030405-flee".into(),
            journal: Some(PathBuf::from("/journal/20260102-030405-flee.jsonl")),
            resumed: false,
            dry_run: false,
        },
    );
    for h in 0..HOSTS {
        f.ev(
            0,
            Event::HostConnected {
                host: h,
                to: format!("root@h{h}:22"),
            },
        );
        f.ev(
            0,
            Event::LockTaken {
                host: h,
                path: format!("/tmp/fleet-h{h}.lock"),
            },
        );
    }
    for h in 0..HOSTS {
        let name = f.app.host_name(h).to_string();
        let line = format!("hello from {name}");
        f.run_step(0, h, 1, 1, &[(Stream::Stdout, &line)], Outcome::Ok);
    }
    for h in 0..HOSTS {
        let name = f.app.host_name(h).to_string();
        if FAILING.contains(&name.as_str()) {
            let line = format!("{name} is broken");
            f.run_step(1, h, 2, 1, &[(Stream::Stderr, &line)], Outcome::Failed);
        } else {
            f.run_step(1, h, 2, 1, &[], Outcome::Ok);
        }
    }
    for h in 0..HOSTS {
        f.ev(
            4,
            Event::StepStarted {
                step: 2,
                host: h,
                command: "echo done".into(),
                phase: Phase::Main,
                attempt: 1,
            },
        );
    }
    f.clock(5);
    f
}

fn finish(f: &mut Fixture) {
    for h in 0..HOSTS {
        f.ev(
            6,
            Event::StepFinished {
                step: 2,
                host: h,
                outcome: Outcome::Ok,
                exit: Some(ExitStatus::code(0)),
                duration: Duration::from_secs(2),
                phase: Phase::Main,
                message: None,
            },
        );
    }
    f.ev(
        7,
        Event::RunFinished {
            status: RunStatus::Failed,
            exit_code: 1,
            journal: Some(PathBuf::from("/journal/20260102-030405-flee.jsonl")),
            not_done: vec![],
        },
    );
    f.clock(8);
}

fn large(app: &App) -> String {
    let (w, h) = LARGE;
    text(&buffer_at(app, &Theme::fallback(), w, h))
}

fn picker(app: &App) -> &crate::tui::state::HostPicker {
    match &app.overlay {
        Some(Overlay::PickHost(p)) => p,
        other => panic!("the picker is not open: {other:?}"),
    }
}

/// The host under the picker's cursor.
fn at_cursor(f: &Fixture) -> String {
    let p = picker(&f.app);
    let matches = f.app.picker_matches(p);
    f.app.host_name(matches[p.cursor]).to_string()
}

#[test]
fn hosts_are_listed_in_natural_order() {
    let f = fleet();
    let names: Vec<&str> = f
        .app
        .step_hosts(0)
        .iter()
        .take(12)
        .map(|&h| f.app.host_name(h))
        .collect();
    assert_eq!(
        names,
        [
            "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10", "h11", "h12"
        ]
    );
    // The runbook's table came sorted as text.
    assert_eq!(f.app.plan.hosts[1].name, "h10");
    let s = large(&f.app);
    let header = s.lines().nth(1).unwrap_or_default();
    let (h2, h10) = (header.find("● h2 "), header.find("● h10 "));
    assert!(h2.is_some() && h2 < h10, "h2 before h10:\n{header}");
}

#[test]
fn cut_strips_say_how_many_hosts_are_left_out() {
    let f = fleet();
    for (w, h) in [(W, H), LARGE] {
        let s = text(&buffer_at(&f.app, &Theme::fallback(), w, h));
        let lines: Vec<&str> = s.lines().collect();
        // The header counts the hosts by state before naming some.
        assert!(lines[1].contains("● 100 connected"), "{w}x{h}:\n{s}");
        assert!(lines[1].contains(" more · p picks"), "{w}x{h}:\n{s}");
        // The output pane's title, from the host shown on.
        let title = lines[2];
        assert!(title.contains(" h1 "), "{w}x{h}:\n{s}");
        if w == LARGE.0 {
            assert!(title.contains(" more · p picks"), "{w}x{h}:\n{s}");
        }
    }
    let s = large(&f.app);
    // The failed step's cells: the tally, then its failures first.
    let cells = s
        .lines()
        .find(|l| l.contains("✗3 "))
        .unwrap_or_else(|| panic!("no tally of the flaky step:\n{s}"));
    assert!(
        cells.contains("✗3 ✓97 │ ✗ h7  ✗ h20  ✗ h73  ✓ h1  ✓ h2"),
        "{cells}"
    );
    assert!(cells.contains("✓ h5  +92 more   │"), "{cells}");
    // At 80 columns the three failed hosts still have room.
    let s = screen(&f.app);
    assert!(s.contains("✗3 ✓97 │ ✗ h7  +99 more"), "{s}");
    snap("fleet_run", &f.app);
}

#[test]
fn the_picker_reaches_h73_by_typing() {
    let mut f = fleet();
    f.key(KeyCode::Char('p'));
    assert_eq!(picker(&f.app).step, 2, "the step shown");
    f.type_text("h7");
    let s = screen(&f.app);
    assert!(s.contains("11 of 100 hosts"), "h7, h70-h79:\n{s}");
    snap("fleet_picker", &f.app);
    f.type_text("3");
    assert_eq!(f.app.picker_matches(picker(&f.app)).len(), 1);
    assert_eq!(f.key(KeyCode::Enter), None);
    assert!(f.app.overlay.is_none());
    assert_eq!(f.app.shown_host(), Some(host(&f, "h73")));
    let s = screen(&f.app);
    let title = s.lines().nth(2).unwrap_or_default();
    assert!(title.contains(" h73 "), "{s}");
    // Backspace widens the list again; Esc leaves without a change.
    f.key(KeyCode::Char('p'));
    f.type_text("h99x");
    assert!(screen(&f.app).contains(strings::PICKER_NONE));
    f.key(KeyCode::Backspace);
    assert_eq!(at_cursor(&f), "h99");
    f.key(KeyCode::Esc);
    assert!(f.app.overlay.is_none());
    assert_eq!(f.app.shown_host(), Some(host(&f, "h73")));
}

#[test]
fn tab_goes_to_the_next_failed_host() {
    let mut f = fleet();
    // Step 2 (flaky) in the checklist.
    f.key(KeyCode::Tab);
    assert_eq!(f.app.focus, crate::tui::state::Focus::Checklist);
    f.key(KeyCode::Char('k'));
    assert_eq!(f.app.selected, 1);
    f.key(KeyCode::Char('p'));
    let mut seen = Vec::new();
    for _ in 0..4 {
        f.key(KeyCode::Tab);
        seen.push(at_cursor(&f));
    }
    assert_eq!(seen, ["h7", "h20", "h73", "h7"]);
    f.key(KeyCode::BackTab);
    assert_eq!(at_cursor(&f), "h73");
    f.key(KeyCode::Enter);
    assert_eq!(f.app.shown_host(), Some(host(&f, "h73")));
    assert!(screen(&f.app).contains("h73 is broken"));
    // A step that failed nowhere says so, and the cursor stays.
    assert_eq!(
        f.app.focus,
        crate::tui::state::Focus::Output,
        "Enter shows the output"
    );
    f.key(KeyCode::Tab);
    f.key(KeyCode::Char('k'));
    f.key(KeyCode::Char('p'));
    f.key(KeyCode::Tab);
    assert_eq!(at_cursor(&f), "h1");
    assert_eq!(f.app.status, Some(strings::no_failed_host("hello")));
}

#[test]
fn the_summary_is_grouped_by_step_and_fits() {
    let mut f = fleet();
    finish(&mut f);
    for (w, h) in [(W, H), LARGE] {
        let s = text(&buffer_at(&f.app, &Theme::fallback(), w, h));
        assert!(s.contains("✓ 100 ok"), "{w}x{h}:\n{s}");
        let flaky = s
            .lines()
            .position(|l| l.contains("flaky"))
            .unwrap_or_else(|| panic!("{w}x{h}:\n{s}"));
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[flaky].contains("✓ 97 ok  ✗ 3 failed"), "{s}");
        for (k, name) in FAILING.iter().enumerate() {
            let line = lines[flaky + 1 + k];
            assert!(
                line.contains(&format!("✗ {name} ")) && line.contains("exit status 1"),
                "{w}x{h}: {name} with why:\n{s}"
            );
        }
        assert!(s.contains("3 ✓ last"), "every step shows:\n{s}");
        assert!(!s.contains(" of 3"), "nothing scrolled away:\n{s}");
    }
    snap("fleet_summary", &f.app);
    // The summary opens on the failed step; Enter lists its hosts.
    assert_eq!(f.app.summary_step, 1);
    f.key(KeyCode::Enter);
    assert_eq!(picker(&f.app).step, 1);
    f.type_text("h73");
    snap("fleet_summary_picker", &f.app);
    f.key(KeyCode::Enter);
    assert!(
        !f.app.summary_shown(),
        "the host's output replaces the summary"
    );
    assert_eq!(f.app.selected, 1);
    assert_eq!(f.app.shown_host(), Some(host(&f, "h73")));
    assert!(screen(&f.app).contains("h73 is broken"));
    // Esc brings the summary back, where it was.
    f.key(KeyCode::Esc);
    assert!(f.app.summary_shown());
    assert_eq!(f.app.summary_step, 1);
}

#[test]
fn many_failures_are_counted_and_the_picked_step_stays_in_view() {
    let steps: String = (1..=12)
        .map(|i| format!("[[steps]]\nid = \"s{i}\"\ntitle = \"Step {i}\"\nrun = \"true\"\n"))
        .collect();
    let t0 = Instant::now();
    let app = App::new(fleet_plan(&steps), Mode::Run, t0, wall0());
    let mut f = Fixture { app, t0, keys: 0 };
    for step in 0..12 {
        for h in 0..HOSTS {
            // Step 3 fails on 30 hosts.
            let outcome = if step == 2 && h % 3 == 0 && h < 90 {
                Outcome::Failed
            } else {
                Outcome::Ok
            };
            f.run_step(step, h, 1, 1, &[], outcome);
        }
    }
    f.ev(
        2,
        Event::RunFinished {
            status: RunStatus::Failed,
            exit_code: 1,
            journal: None,
            not_done: vec![],
        },
    );
    let s = screen(&f.app);
    assert!(s.contains("✓ 70 ok  ✗ 30 failed"), "{s}");
    assert!(s.contains(&strings::more_failed(25)), "{s}");
    // Down to the last step: it comes into view, and the hint says where.
    for _ in 0..11 {
        f.key(KeyCode::Down);
    }
    assert_eq!(f.app.summary_step, 11);
    let s = screen(&f.app);
    assert!(s.contains("12 ✓ s12"), "{s}");
    assert!(s.contains(" of 12"), "{s}");
    f.key(KeyCode::Char('g'));
    let s = screen(&f.app);
    assert!(s.contains(" 1 ✓ s1 "), "{s}");
}

#[test]
fn the_banner_question_says_what_it_publishes() {
    let mut f = Fixture::new();
    f.ev(
        1,
        Event::Prompt(Prompt {
            step: 0,
            kind: PromptKind::Gate,
            hosts: vec![0],
            commands: vec![(
                0,
                "write the maintenance banner to /srv/coralnet/maintenance.json".into(),
            )],
            previews: vec![],
            banner: vec![BannerPreview {
                host: 0,
                path: "/srv/coralnet/maintenance.json".into(),
                message: "Down for an update at 2026-01-02T03:14:06Z.".into(),
                content: Some(
                    "{\"message\": \"Down for an update at 2026-01-02T03:14:06Z.\",\n \"starts_at\": \"2026-01-02T03:14:06Z\"}".into(),
                ),
                starts_at: "2026-01-02T03:14:06Z".into(),
                lead: Duration::from_secs(600),
                error: None,
            }],
            choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
        }),
    );
    f.clock(2);
    let s = text(&buffer_at(&f.app, &Theme::fallback(), 200, 50));
    assert!(
        s.contains("Publishes the maintenance banner on web at /srv/coralnet/maintenance.json:"),
        "{s}"
    );
    assert!(
        s.contains("message:   Down for an update at 2026-01-02T03:14:06Z."),
        "{s}"
    );
    assert!(
        s.contains("starts at: about 2026-01-02T03:14:06Z (10m00s after it goes up"),
        "{s}"
    );
    assert!(!s.contains("web $ write"), "no pseudo command:\n{s}");
    snap("banner_prompt", &f.app);
}

#[test]
fn a_question_lists_its_hosts_in_natural_order() {
    let mut f = fleet();
    // The engine asks in the runbook's order: h20, h7, h73 (as text).
    let mut failed: Vec<usize> = FAILING.iter().map(|n| host(&f, n)).collect();
    failed.sort_unstable();
    assert_eq!(
        failed
            .iter()
            .map(|&h| f.app.host_name(h))
            .collect::<Vec<_>>(),
        ["h20", "h7", "h73"]
    );
    f.ev(
        5,
        Event::Prompt(Prompt {
            step: 1,
            kind: PromptKind::Failure {
                failures: failed
                    .iter()
                    .map(|&h| HostFailure {
                        host: h,
                        outcome: Outcome::Failed,
                        exit: Some(ExitStatus::code(1)),
                        message: None,
                        last_stderr: vec![],
                    })
                    .collect(),
                undo: vec![],
            },
            hosts: failed.clone(),
            commands: failed.iter().map(|&h| (h, "test".to_string())).collect(),
            previews: vec![],
            banner: vec![],
            choices: vec![Decision::Retry, Decision::Skip, Decision::Abort],
        }),
    );
    let s = large(&f.app);
    assert!(s.contains("hosts: h7, h20, h73"), "{s}");
    let at = |text: &str| s.find(text).unwrap_or_else(|| panic!("{text}:\n{s}"));
    assert!(at("h7: failed") < at("h20: failed"), "{s}");
    assert!(at("h20: failed") < at("h73: failed"), "{s}");
    assert!(at("h7 $ test") < at("h20 $ test"), "{s}");
    // A question on every host names a few and counts the rest.
    f.key(KeyCode::Char('s'));
    let all: Vec<usize> = (0..HOSTS).collect();
    f.ev(
        6,
        Event::Prompt(Prompt {
            step: 2,
            kind: PromptKind::Gate,
            hosts: all.clone(),
            commands: all.iter().map(|&h| (h, "echo done".to_string())).collect(),
            previews: vec![],
            banner: vec![],
            choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
        }),
    );
    let s = large(&f.app);
    assert!(
        s.contains("hosts: h1, h2, h3, h4, h5, h6, h7, h8, and 92 more (100 hosts)"),
        "{s}"
    );
}

#[test]
fn the_picker_takes_no_control_keys_and_is_not_in_the_log_viewer() {
    let mut f = fleet();
    f.key(KeyCode::Char('p'));
    f.app.on_key(crossterm::event::KeyEvent::new(
        KeyCode::Char('u'),
        crossterm::event::KeyModifiers::CONTROL,
    ));
    assert_eq!(picker(&f.app).filter, "");
    let mut logs = App::new(fleet_plan(STEPS), Mode::Logs, f.t0, wall0());
    logs.on_key(crossterm::event::KeyEvent::new(
        KeyCode::Char('p'),
        crossterm::event::KeyModifiers::NONE,
    ));
    assert!(logs.overlay.is_none());
}

#[test]
fn the_header_names_the_hosts_in_trouble_first() {
    let mut f = fleet();
    let h42 = host(&f, "h42");
    f.ev(
        5,
        Event::HostFailed {
            host: h42,
            error: "cannot reach host 'h42': connection refused".into(),
            cause: "connection refused".into(),
        },
    );
    let s = large(&f.app);
    let header = s.lines().nth(1).unwrap_or_default();
    assert!(
        header.contains(
            "● 99 connected  ✗ 1 failed  │ ✗ h42 failed  ✗ h7 step failed  ✗ h20 step failed  ✗ h73 step failed  ● h1"
        ),
        "{s}"
    );
}

/// Hosts named alike but for their ends: the summary tells the failed ones
/// apart at 80 and at 120 columns, cutting a name in its middle if at all.
#[test]
fn the_summary_tells_alike_host_names_apart() {
    let mut runbook = String::from("[runbook]\nname = \"Alike\"\nlock = \"/tmp/alike.lock\"\n\n");
    for i in 1..=12 {
        runbook.push_str(&format!(
            "[hosts.web-frontend-production-eu-west-{i:02}]\ntransport = \"local\"\n"
        ));
    }
    runbook.push_str("[[steps]]\nid = \"deploy\"\ntitle = \"Deploy\"\nrun = \"true\"\n");
    let plan = match crate::runbook::load_str(Path::new("alike.toml"), &runbook, &[]) {
        Ok(p) => Arc::new(p),
        Err(e) => panic!("alike runbook: {e}"),
    };
    let t0 = Instant::now();
    let app = App::new(plan, Mode::Run, t0, wall0());
    let mut f = Fixture { app, t0, keys: 0 };
    let failing = ["03", "07", "11"];
    for h in 0..12 {
        let name = f.app.host_name(h).to_string();
        let outcome = if failing.iter().any(|n| name.ends_with(n)) {
            Outcome::Failed
        } else {
            Outcome::Ok
        };
        f.run_step(0, h, 1, 1, &[], outcome);
    }
    f.ev(
        3,
        Event::RunFinished {
            status: RunStatus::Failed,
            exit_code: 1,
            journal: None,
            not_done: Vec::new(),
        },
    );
    for (w, h) in [(W, H), (120, 40)] {
        let s = text(&buffer_at(&f.app, &Theme::fallback(), w, h));
        for n in failing {
            assert!(
                s.lines()
                    .any(|l| l.contains('✗') && l.contains(&format!("eu-west-{n} "))),
                "{w}x{h}: the host ending in {n} is not told apart:\n{s}"
            );
        }
    }
}
