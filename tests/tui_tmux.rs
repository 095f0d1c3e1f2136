//! The real binary in a real terminal: each test starts `drydock` in a
//! detached tmux session of a fixed size, sends keys, and reads the screen
//! back with capture-pane until the expected text shows up.
//!
//! These tests need tmux. Where it is missing they fail and say to install it.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_drydock");
const TIMEOUT: Duration = Duration::from_secs(60);

struct Tmux {
    socket: String,
    /// When keys were last sent: `keys` paces them as a person would.
    last_keys: std::cell::Cell<Option<Instant>>,
}

/// A person takes at least this long between looking at a new window and
/// pressing a key in it; faster keys to a window that has just opened are
/// taken as stray typing and ignored.
const HUMAN_PAUSE: Duration = Duration::from_millis(600);

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Tmux {
    /// Start `command` in a 120x36 terminal; when it exits, its status is
    /// printed and the pane stays so the test can look at the restored screen.
    fn start(name: &str, command: &str) -> Self {
        Self::start_sized(name, command, 120, 36)
    }

    /// Start `command` in a terminal of `width` x `height`.
    fn start_sized(name: &str, command: &str, width: u16, height: u16) -> Self {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "these tests drive drydock in tmux, which is not installed: install tmux (apt-get install tmux) and run them again"
        );
        let socket = format!("drydock-test-{}-{name}", std::process::id());
        let script = format!("{command}; echo DRYDOCK_EXIT=$?; sleep 600");
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(format!("sh -c {}", quote(&script)))
            .env("TERM", "xterm-256color")
            .status();
        assert!(status.is_ok_and(|s| s.success()), "tmux new-session failed");
        Tmux {
            socket,
            last_keys: std::cell::Cell::new(None),
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// The screen once two captures a moment apart agree: tmux may be
    /// between two reads of one frame, and a test must not judge half of it.
    fn settled_screen(&self) -> String {
        let mut last = self.screen();
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(30));
            let now = self.screen();
            if now == last {
                return now;
            }
            last = now;
        }
        last
    }

    /// Send keys as a person presses them, a moment after the last ones.
    fn keys(&self, keys: &[&str]) {
        if let Some(last) = self.last_keys.get() {
            std::thread::sleep(HUMAN_PAUSE.saturating_sub(last.elapsed()));
        }
        self.keys_at_once(keys);
    }

    /// Send keys at once, as fast as a typist's burst.
    fn keys_at_once(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
        self.last_keys.set(Some(Instant::now()));
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_for_any(&[text]).1
    }

    /// Poll the screen until one of `texts` shows; returns which and the screen.
    fn wait_for_any(&self, texts: &[&str]) -> (usize, String) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if texts.iter().any(|t| screen.contains(t)) {
                let screen = self.settled_screen();
                if let Some(i) = texts.iter().position(|t| screen.contains(t)) {
                    return (i, screen);
                }
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "timed out waiting for {texts:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Poll the screen until `holds` is true of it: a capture may catch a
    /// frame half drawn, so a test of a frame's shape waits for the shape.
    fn wait_until(&self, what: &str, holds: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if holds(&screen) {
                let screen = self.settled_screen();
                if holds(&screen) {
                    return screen;
                }
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "timed out waiting until {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Poll the screen until `text` is gone from it.
    fn wait_gone(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if !screen.contains(text) {
                let screen = self.settled_screen();
                if !screen.contains(text) {
                    return screen;
                }
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "timed out waiting for {text:?} to go; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Press `key` until `text` shows, at most `times` times.
    fn press_until(&self, key: &str, text: &str, times: usize) -> String {
        for _ in 0..times {
            self.keys(&[key]);
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(500) {
                if self.screen().contains(text) {
                    let screen = self.settled_screen();
                    if screen.contains(text) {
                        return screen;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!(
            "{text:?} never showed after {times} x {key}:\n{}",
            self.screen()
        );
    }

    /// Leave a run in progress: q asks, y aborts; drydock exits 3.
    fn abort_and_leave(&self) {
        self.keys(&["q"]);
        self.wait_for("Leave drydock?");
        self.keys(&["y"]);
        assert_eq!(self.exit_status(), 3);
    }

    /// After drydock exits: its status, and the terminal as it was before
    /// (main screen, cursor shown).
    fn exit_status(&self) -> i32 {
        let screen = self.wait_for("DRYDOCK_EXIT=");
        let code = screen
            .lines()
            .find_map(|l| l.trim().strip_prefix("DRYDOCK_EXIT="))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(-1);
        let alt = self.tmux(&[
            "display-message",
            "-p",
            "-t",
            "t",
            "#{alternate_on} #{cursor_flag}",
        ]);
        assert_eq!(
            alt.trim(),
            "0 1",
            "the terminal was not restored (alternate screen, cursor): {alt}\n{screen}"
        );
        code
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        support::leftovers::assert_none_left(&self.socket, "the tmux session");
    }
}

const RUNBOOK: &str = include_str!("tui/local.toml");
const READING: &str = include_str!("tui/reading.toml");

/// The reading runbook under `dir`; returns the command that runs it.
fn reading_setup(dir: &Path) -> String {
    let runbook = dir.join("reading.toml");
    std::fs::write(&runbook, READING).unwrap_or_else(|e| panic!("{e}"));
    format!(
        "{} run {} --var dir={} --journal-dir {}",
        quote(BIN),
        quote(&runbook.display().to_string()),
        quote(&dir.display().to_string()),
        quote(&dir.join("journal").display().to_string())
    )
}

/// The 300-character line's end.
const MARKER: &str = "<<THE-END>>";

fn setup(dir: &Path) -> String {
    let runbook = dir.join("runbook.toml");
    std::fs::write(&runbook, RUNBOOK).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("flag"), "").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("app.log"), "first line\nan error line\n")
        .unwrap_or_else(|e| panic!("{e}"));
    format!(
        "{} run {} --var dir={} --journal-dir {}",
        quote(BIN),
        quote(&runbook.display().to_string()),
        quote(&dir.display().to_string()),
        quote(&dir.join("journal").display().to_string())
    )
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn gate_guard_and_failure_retry_reach_the_summary() {
    let dir = tempdir();
    let t = Tmux::start("gate", &setup(dir.path()));
    let screen = t.wait_for("Confirm this step");
    assert!(
        screen.contains("would do things on alpha"),
        "the preview is shown:\n{screen}"
    );
    t.keys(&["y"]);
    t.wait_for("Waiting on the guard");
    std::fs::remove_file(dir.path().join("flag")).unwrap_or_else(|e| panic!("{e}"));
    let screen = t.wait_for("The step failed");
    assert!(
        screen.contains("boom"),
        "the last stderr lines are shown:\n{screen}"
    );
    t.keys(&["r"]);
    let screen = t.wait_for("Summary");
    assert!(
        screen.contains("finished: every step done or skipped"),
        "{screen}"
    );
    assert!(screen.contains("Journal:"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
}

#[test]
fn abort_offers_the_undo_steps() {
    let dir = tempdir();
    let t = Tmux::start("abort", &setup(dir.path()));
    t.wait_for("Confirm this step");
    t.keys(&["y"]);
    t.wait_for("Waiting on the guard");
    t.keys(&["a"]);
    t.wait_for("Abort the run?");
    t.keys(&["y"]);
    // The whole plan first, then one question per step.
    let screen = t.wait_for("Rollback: the plan");
    assert!(screen.contains("2/5 gated"), "{screen}");
    t.keys(&["y"]);
    let screen = t.wait_for("Rollback: undo this step?");
    assert!(screen.contains("echo undoing gated on alpha"), "{screen}");
    t.keys(&["y"]);
    let screen = t.wait_for("Summary");
    assert!(screen.contains("aborted"), "{screen}");
    assert!(screen.contains("undo ok"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 3);
}

#[test]
fn quitting_asks_first_and_ctrl_c_twice_leaves_a_clean_terminal() {
    let dir = tempdir();
    let t = Tmux::start("quit", &setup(dir.path()));
    t.wait_for("Confirm this step");
    t.keys(&["Escape"]);
    t.wait_for("The run waits for your answer");
    t.keys(&["q"]);
    t.wait_for("Leave drydock?");
    t.keys(&["n"]);
    t.keys(&["C-c"]);
    t.wait_for("Leave drydock?");
    t.keys(&["C-c"]);
    assert_eq!(t.exit_status(), 3);
}

#[test]
fn demo_reaches_its_summary() {
    let state = tempdir();
    let command = format!(
        "DRYDOCK_STATE_DIR={} {} demo",
        quote(&state.path().display().to_string()),
        quote(BIN)
    );
    let t = Tmux::start("demo", &command);
    let start = Instant::now();
    loop {
        let (which, screen) = t.wait_for_any(&[
            "Confirm this step",
            "Do this by hand",
            "Summary",
            "The step failed",
        ]);
        match which {
            0 | 1 => {
                t.keys(&["y"]);
                // Wait for the answer to land before looking again.
                let before = screen;
                while t.screen() == before && start.elapsed() < Duration::from_secs(120) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            2 => {
                assert!(
                    screen.contains("finished: every step done or skipped"),
                    "{screen}"
                );
                break;
            }
            _ => panic!("a demo step failed:\n{screen}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the demo takes too long:\n{}",
            t.screen()
        );
    }
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
}

#[test]
fn a_held_lock_is_broken_after_typing_the_step_id() {
    let dir = tempdir();
    let command = setup(dir.path());
    std::fs::remove_file(dir.path().join("flag")).unwrap_or_else(|e| panic!("{e}"));
    let lock = dir.path().join("lock-alpha");
    std::fs::create_dir_all(&lock).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        lock.join("owner"),
        "run 20260101-000000-dead by alice on laptop\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = Tmux::start("lock", &command);
    let screen = t.wait_for("The lock is held");
    assert!(screen.contains("type the step id 'hello'"), "{screen}");
    t.keys(&["-l", "hell"]);
    t.keys(&["Enter"]);
    t.wait_for("that is not the step id");
    t.keys(&["-l", "o"]);
    t.keys(&["Enter"]);
    t.wait_for("Confirm this step");
    t.keys(&["y"]);
    t.wait_for("The step failed");
    t.keys(&["s"]);
    t.wait_for("Summary");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
}

#[test]
fn logs_shows_only_the_log_pane() {
    let dir = tempdir();
    let runbook = dir.path().join("logs.toml");
    let text = RUNBOOK.replace(
        "dir = \"/tmp/drydock-tui\"",
        &format!(
            "dir = {}",
            quote(&dir.path().display().to_string()).replace('\'', "\"")
        ),
    );
    std::fs::write(&runbook, text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("app.log"), "booted\nan ERROR happened\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let t = Tmux::start(
        "logs",
        &format!(
            "{} logs {} app",
            quote(BIN),
            quote(&runbook.display().to_string())
        ),
    );
    let screen = t.wait_for("an ERROR happened");
    assert!(!screen.contains("Steps"), "only the log pane:\n{screen}");
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("app.log"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::io::Write::write_all(&mut log, b"appended later\n").unwrap_or_else(|e| panic!("{e}"));
    t.wait_for("appended later");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
}

#[test]
fn resizing_to_too_small_and_back_then_sigint_restores_the_terminal() {
    let dir = tempdir();
    let t = Tmux::start("resize", &setup(dir.path()));
    t.wait_for("Confirm this step");
    t.tmux(&["resize-window", "-t", "t", "-x", "50", "-y", "12"]);
    t.wait_for("too small");
    t.tmux(&["resize-window", "-t", "t", "-x", "120", "-y", "36"]);
    t.wait_for("Confirm this step");
    // A SIGINT from outside (not the Ctrl-C key) still restores the terminal.
    let shell = t.tmux(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
    let out = Command::new("ps")
        .args(["-o", "pid=", "--ppid", shell.trim()])
        .output();
    let pid = out
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert!(!pid.is_empty(), "drydock's pid not found under {shell}");
    let killed = Command::new("kill").args(["-INT", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    assert_eq!(t.exit_status(), 3);
}

#[test]
fn the_output_pane_follows_the_next_step() {
    let dir = tempdir();
    let t = Tmux::start("follow", &reading_setup(dir.path()));
    let screen = t.wait_for("first step says hi");
    assert!(screen.contains("1 first · follows the run"), "{screen}");
    // Scrolling the output is not picking another step.
    t.keys(&["k"]);
    let screen = t.wait_for("second step says hi");
    assert!(screen.contains("2 second · follows the run"), "{screen}");
    assert!(!screen.contains("first step says hi"), "{screen}");
    let screen = t.wait_for("a short line");
    assert!(screen.contains("3 long · follows the run"), "{screen}");
    t.abort_and_leave();
}

#[test]
fn a_300_character_line_is_read_to_its_end_wrapped_and_sideways() {
    let dir = tempdir();
    let t = Tmux::start("long", &reading_setup(dir.path()));
    let screen = t.wait_for("a short line");
    assert!(screen.contains("start-xxxx"), "{screen}");
    assert!(
        !screen.contains(MARKER),
        "the line is cut at first:\n{screen}"
    );
    t.keys(&["w"]);
    let screen = t.wait_for(MARKER);
    assert!(screen.contains("wrapped"), "{screen}");
    t.keys(&["w"]);
    t.wait_gone(MARKER);
    let screen = t.press_until(">", MARKER, 20);
    assert!(screen.contains("from column"), "{screen}");
    assert!(!screen.contains("start-xxxx"), "{screen}");
    t.press_until("<", "start-xxxx", 20);
    t.abort_and_leave();
}

#[test]
fn copied_lines_reach_the_terminal_clipboard() {
    let dir = tempdir();
    let t = Tmux::start("copy", &reading_setup(dir.path()));
    // tmux keeps what an OSC 52 sequence sets as its paste buffer.
    t.tmux(&["set-option", "-s", "set-clipboard", "on"]);
    t.wait_for("a short line");
    // v selects the bottom line; k takes the long one too.
    t.keys(&["v"]);
    t.keys(&["k"]);
    t.wait_for("2 selected");
    t.keys(&["C"]);
    t.wait_for("copied 2 lines to the clipboard");
    let buffer = t.tmux(&["show-buffer"]);
    let long = format!("start-{}{MARKER}", "x".repeat(283));
    assert_eq!(buffer, format!("{long}\na short line\n"));
    t.abort_and_leave();
}

#[test]
fn z_gives_the_focused_pane_the_whole_screen() {
    let dir = tempdir();
    let t = Tmux::start("zoom", &reading_setup(dir.path()));
    t.wait_for("a short line");
    t.keys(&["z"]);
    let screen = t.wait_until("the output pane is the whole screen", |screen| {
        let rows: Vec<&str> = screen.lines().collect();
        !screen.contains("Steps")
            && rows.len() > 34
            && rows[0].starts_with("┏ Output")
            && rows[34].starts_with('┗')
    });
    let rows: Vec<&str> = screen.lines().collect();
    assert!(rows[0].trim_end().ends_with('┓'), "{screen}");
    assert_eq!(rows[0].chars().count(), 120, "the whole width:\n{screen}");
    assert!(
        rows[1..34].iter().all(|row| row.starts_with('┃')),
        "one pane from top to bottom:\n{screen}"
    );
    t.keys(&["z"]);
    t.wait_for("Steps");
    t.abort_and_leave();
}

#[test]
fn at_80x24_a_dry_run_says_so_in_the_first_row() {
    let dir = tempdir();
    let command = format!("{} --dry-run", setup(dir.path()));
    let t = Tmux::start_sized("dryrun", &command, 80, 24);
    let screen = t.wait_for("DRY RUN");
    let first = screen.lines().next().unwrap_or_default();
    assert!(first.contains("DRY RUN"), "{screen}");
    assert!(first.contains("elapsed"), "{screen}");
    t.keys(&["q"]);
    let (which, _) = t.wait_for_any(&["Leave drydock?", "DRYDOCK_EXIT="]);
    if which == 0 {
        t.keys(&["y"]);
    }
    let code = t.exit_status();
    assert!([0, 1, 3].contains(&code), "exit status {code}");
}

#[test]
fn at_80x24_the_help_scrolls_to_its_last_line_over_a_question() {
    let dir = tempdir();
    let t = Tmux::start_sized("help", &setup(dir.path()), 80, 24);
    t.wait_for("Confirm this step");
    t.keys(&["?"]);
    // Waited for whole: a capture may catch a frame half drawn.
    let screen = t.wait_for("more below");
    assert!(screen.contains("This question"), "{screen}");
    assert!(!screen.contains("Esc or ? closes this help"), "{screen}");
    let screen = t.press_until("NPage", "Esc or ? closes this help", 10);
    assert!(screen.contains("that is all"), "{screen}");
    t.keys(&["Escape"]);
    t.wait_for("Confirm this step");
    t.keys(&["a"]);
    t.wait_for("Summary");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 3);
}

/// A runbook with one host over SSH to `sshd`, with an empty known_hosts.
fn ssh_setup(dir: &Path, sshd: &support::sshd::Sshd) -> String {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::write(dir.join("known_hosts"), "").expect("known_hosts");
    let runbook = dir.join("ssh.toml");
    let text = format!(
        "[runbook]\nname = \"ssh in the TUI\"\nlock = \"{dir}/lock\"\n\n\
         [ssh]\nuser = \"root\"\nport = {port}\nidentity = \"{key}\"\n\
         known_hosts = \"{dir}/known_hosts\"\nhost_keys = \"strict\"\nconnect_timeout = \"5s\"\n\n\
         [hosts.web]\naddress = \"127.0.0.1\"\n\n\
         [[steps]]\nid = \"hello\"\ntitle = \"Say hello over SSH\"\nrun = \"echo hello over ssh\"\n",
        dir = dir.display(),
        port = sshd.port,
        key = sshd.user_key.display(),
    );
    std::fs::write(&runbook, text).expect("runbook");
    format!(
        "HOME={} {} run {} --journal-dir {}",
        quote(&home.display().to_string()),
        quote(BIN),
        quote(&runbook.display().to_string()),
        quote(&dir.join("journal").display().to_string())
    )
}

#[test]
fn an_unknown_host_key_is_shown_and_trusted_on_yes() {
    let sshd = support::sshd::Sshd::start();
    let dir = tempdir();
    let t = Tmux::start("hostkey-yes", &ssh_setup(dir.path(), &sshd));
    let screen = t.wait_for("Unknown host key");
    assert!(
        screen.contains(&sshd.fingerprint()),
        "the fingerprint is shown:\n{screen}"
    );
    t.keys(&["y"]);
    let screen = t.wait_for("Summary");
    assert!(
        screen.contains("finished: every step done or skipped"),
        "{screen}"
    );
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).expect("known_hosts");
    assert!(!known.trim().is_empty(), "the trusted key is remembered");
}

#[test]
fn an_unknown_host_key_refused_stops_the_run() {
    let sshd = support::sshd::Sshd::start();
    let dir = tempdir();
    let t = Tmux::start("hostkey-no", &ssh_setup(dir.path(), &sshd));
    t.wait_for("Unknown host key");
    t.keys(&["n"]);
    t.wait_for("Summary");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 5);
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).expect("known_hosts");
    assert!(known.trim().is_empty(), "nothing is written on no");
}

#[test]
fn a_key_passphrase_is_asked_and_never_shown() {
    let sshd = support::sshd::Sshd::start();
    let dir = tempdir();
    let mut command = ssh_setup(dir.path(), &sshd);
    std::fs::write(dir.path().join("known_hosts"), sshd.known_hosts_line()).expect("known_hosts");
    // The same key, encrypted with a passphrase.
    let key = dir.path().join("id_locked");
    std::fs::copy(&sshd.user_key, &key).expect("copy key");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "hunter2secret", "-f"])
        .arg(&key)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "ssh-keygen -p failed");
    let runbook = dir.path().join("ssh.toml");
    let text = std::fs::read_to_string(&runbook).expect("runbook");
    let text = text.replace(
        &sshd.user_key.display().to_string(),
        &key.display().to_string(),
    );
    std::fs::write(&runbook, text).expect("runbook");
    command = format!("SSH_AUTH_SOCK= {command}");
    let t = Tmux::start("passphrase", &command);
    t.wait_for("Passphrase for the key");
    t.keys(&["-l", "hunter2secret"]);
    let screen = t.screen();
    assert!(
        !screen.contains("hunter2"),
        "the passphrase is never shown:\n{screen}"
    );
    t.keys(&["Enter"]);
    let screen = t.wait_for("Summary");
    assert!(
        screen.contains("finished: every step done or skipped"),
        "{screen}"
    );
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
}

#[test]
fn no_color_draws_no_colour() {
    let dir = tempdir();
    let t = Tmux::start("nocolor", &format!("NO_COLOR=1 {}", setup(dir.path())));
    t.wait_for("Confirm this step");
    let screen = t.tmux(&["capture-pane", "-p", "-e", "-t", "t"]);
    for sgr in screen.split("\x1b[").skip(1) {
        let params = sgr.split('m').next().unwrap_or_default();
        let colour = params.split(';').any(|p| {
            matches!(
                p.parse::<u16>(),
                Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
            )
        });
        assert!(!colour, "a colour under NO_COLOR: ESC[{params}m");
    }
    t.keys(&["a"]);
    t.wait_for("Summary");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 3);
}

/// Not a test of its own: the body `a_panic_restores_the_terminal` runs in
/// tmux. It enters the full screen, forgets the guard (so only the panic
/// hook can restore the terminal) and panics.
#[test]
fn panic_child() {
    if std::env::var_os("DRYDOCK_PANIC_CHILD").is_none() {
        return;
    }
    let guard = drydock::tui::term::TerminalGuard::enter().expect("enter the full screen");
    std::mem::forget(guard);
    std::thread::sleep(Duration::from_millis(300));
    panic!("a panic for the test");
}

#[test]
fn a_panic_restores_the_terminal() {
    let exe = std::env::current_exe().expect("test binary");
    let command = format!(
        "DRYDOCK_PANIC_CHILD=1 {} panic_child --exact --nocapture --test-threads 1",
        quote(&exe.display().to_string())
    );
    let t = Tmux::start("panic", &command);
    t.wait_for("a panic for the test");
    assert_ne!(t.exit_status(), 0);
}

// ---- Answering running commands in the TUI ---------------------------------

/// A runbook of `steps` on `hosts`, all over SSH to `sshd` as `user`; the
/// command that runs it in the TUI.
fn answering_setup(
    dir: &Path,
    sshd: &support::sshd::Sshd,
    user: &str,
    hosts: &[&str],
    steps: &str,
) -> String {
    std::fs::write(dir.join("known_hosts"), sshd.known_hosts_line()).expect("known_hosts");
    let mut text = format!(
        "[runbook]\nname = \"answering\"\nlock = \"/tmp/drydock-tui-{pid}-{name}-{{{{host}}}}.lock\"\n\n\
         [ssh]\nuser = \"{user}\"\nport = {port}\nidentity = \"{key}\"\n\
         known_hosts = \"{dir}/known_hosts\"\nhost_keys = \"strict\"\nconnect_timeout = \"5s\"\n\n",
        pid = std::process::id(),
        name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("x"),
        dir = dir.display(),
        port = sshd.port,
        key = sshd.user_key.display(),
    );
    for host in hosts {
        text.push_str(&format!("[hosts.{host}]\naddress = \"127.0.0.1\"\n\n"));
    }
    text.push_str(steps);
    let runbook = dir.join("answering.toml");
    std::fs::write(&runbook, text).expect("runbook");
    format!(
        "{} run {} --journal-dir {}",
        quote(BIN),
        quote(&runbook.display().to_string()),
        quote(&dir.join("journal").display().to_string())
    )
}

/// Every journal line the run in `dir` wrote.
fn journal_of(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir.join("journal"))
        .into_iter()
        .flatten()
        .flatten()
    {
        text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    text
}

#[test]
fn the_sudo_password_is_asked_masked_and_the_step_runs_as_root() {
    let users = support::sudo::SudoUsers::acquire();
    let sshd = support::sshd::Sshd::start();
    sshd.let_other_users_in();
    let dir = tempdir();
    let command = answering_setup(
        dir.path(),
        &sshd,
        support::sudo::WITH_PASSWORD,
        &["web"],
        "[[steps]]\nid = \"as-root\"\ntitle = \"As root\"\nrun = \"echo uid $(id -u)\"\nsudo = true\n",
    );
    let t = Tmux::start("sudo", &command);
    let screen = t.wait_for("sudo password");
    assert!(
        screen.contains(&format!("{}@web", support::sudo::WITH_PASSWORD)),
        "the window names user@host:\n{screen}"
    );
    t.keys(&["-l", &users.password]);
    let screen = t.screen();
    assert!(
        !screen.contains(&users.password),
        "the password is never shown:\n{screen}"
    );
    t.keys(&["Enter"]);
    let screen = t.wait_for("Summary");
    assert!(
        screen.contains("finished: every step done or skipped"),
        "{screen}"
    );
    t.keys(&["Escape"]);
    let screen = t.wait_for("uid 0");
    assert!(!screen.contains(&users.password), "{screen}");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
    let journal = journal_of(dir.path());
    assert!(journal.contains("\"event\":\"sudo\""), "{journal}");
    assert!(!journal.contains(&users.password), "{journal}");
    drop(users);
}

#[test]
fn a_password_for_every_host_is_asked_once() {
    let users = support::sudo::SudoUsers::acquire();
    let sshd = support::sshd::Sshd::start();
    sshd.let_other_users_in();
    let dir = tempdir();
    let command = answering_setup(
        dir.path(),
        &sshd,
        support::sudo::WITH_PASSWORD,
        &["web1", "web2"],
        "[[steps]]\nid = \"as-root\"\ntitle = \"As root\"\nrun = \"id -u\"\nsudo = true\n",
    );
    let t = Tmux::start("everyhost", &command);
    t.wait_for("sudo password");
    t.keys(&["-l", &users.password]);
    t.keys(&["Tab"]);
    t.wait_for("[x] use it for every host");
    t.keys(&["Enter"]);
    // A second question would hold the run here.
    let screen = t.wait_for("Summary");
    assert!(
        screen.contains("finished: every step done or skipped"),
        "{screen}"
    );
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
    let journal = journal_of(dir.path());
    let ok = journal
        .lines()
        .filter(|l| l.contains("\"event\":\"sudo\"") && l.contains("\"ok\":true"))
        .count();
    assert_eq!(ok, 2, "{journal}");
    drop(users);
}

#[test]
fn a_prompt_shows_at_once_and_i_answers_it() {
    let sshd = support::sshd::Sshd::start();
    let dir = tempdir();
    let command = answering_setup(
        dir.path(),
        &sshd,
        "root",
        &["web"],
        "[[steps]]\nid = \"ask\"\ntitle = \"Ask\"\npty = true\n\
         run = \"echo starting; printf 'Continue? [y/N] '; read a; echo \\\"answer was $a\\\"\"\n",
    );
    let t = Tmux::start("prompt", &command);
    t.wait_for("starting");
    let seen = Instant::now();
    t.wait_for("Continue? [y/N]");
    assert!(
        seen.elapsed() < Duration::from_secs(1),
        "the prompt took {:?} to show",
        seen.elapsed()
    );
    let screen = t.wait_for("waits for input");
    assert!(screen.contains("i types into it"), "{screen}");
    t.keys(&["i"]);
    t.wait_for("type into web");
    t.keys(&["y"]);
    t.keys(&["Enter"]);
    t.wait_for("Summary");
    t.keys(&["Escape"]);
    t.wait_for("answer was y");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
    let journal = journal_of(dir.path());
    assert!(journal.contains("\"event\":\"input\""), "{journal}");
    assert!(journal.contains("\"text\":\"y\""), "{journal}");
}

#[test]
fn a_password_typed_into_the_main_view_does_not_abort_the_run() {
    let dir = tempdir();
    let runbook = dir.path().join("typing.toml");
    std::fs::write(
        &runbook,
        format!(
            "[runbook]\nname = \"typing\"\nlock = \"{d}/lock\"\n\n[hosts.here]\ntransport = \"local\"\n\n\
             [[steps]]\nid = \"long\"\ntitle = \"Long\"\nrun = \"echo working; sleep 4; echo worked\"\n",
            d = dir.path().display()
        ),
    )
    .expect("runbook");
    let command = format!(
        "{} run {} --journal-dir {}",
        quote(BIN),
        quote(&runbook.display().to_string()),
        quote(&dir.path().join("journal").display().to_string())
    );
    let t = Tmux::start("stray", &command);
    t.wait_for("working");
    // As fast as a typist: `a` opens the abort question, `y` must not answer it.
    t.keys_at_once(&["-l", "Fday1"]);
    let screen = t.wait_for("Summary");
    assert!(
        screen.contains("finished: every step done or skipped"),
        "the run was not aborted:\n{screen}"
    );
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
    let journal = journal_of(dir.path());
    assert!(!journal.contains("\"decision\":\"abort\""), "{journal}");
}

/// SIGHUP (the admin's terminal is gone) mid-step: nothing more runs, the
/// command is left to finish on its own, `run_interrupted` is journaled, the
/// lock stays, the terminal is restored and drydock exits 3.
#[test]
fn sighup_mid_step_leaves_the_command_to_finish_and_exits_3() {
    let dir = tempdir();
    let runbook = dir.path().join("signals.toml");
    std::fs::write(
        &runbook,
        r#"
[runbook]
name = "Signals in the TUI"
lock = "{{dir}}/lock"
[hosts.alpha]
transport = "local"
[[steps]]
id = "long"
title = "A long command"
run = "echo started > {{dir}}/cmd-started; sleep 3; echo finished > {{dir}}/cmd-finished"
[[steps]]
id = "after"
title = "After"
run = "touch {{dir}}/after"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let command = format!(
        "{} run --yes {} --var dir={} --journal-dir {}",
        quote(BIN),
        quote(&runbook.display().to_string()),
        quote(&dir.path().display().to_string()),
        quote(&dir.path().join("journal").display().to_string())
    );
    let t = Tmux::start("sighup", &command);
    let started = dir.path().join("cmd-started");
    let deadline = Instant::now() + TIMEOUT;
    while !started.exists() {
        assert!(Instant::now() < deadline, "the step never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let shell = t.tmux(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
    let out = Command::new("ps")
        .args(["-o", "pid=", "--ppid", shell.trim()])
        .output();
    let pid = out
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert!(!pid.is_empty(), "drydock's pid not found under {shell}");
    let hung_up = Command::new("kill").args(["-HUP", &pid]).status();
    assert!(hung_up.is_ok_and(|s| s.success()));
    assert_eq!(t.exit_status(), 3);
    let screen = t.screen();
    assert!(screen.contains("interrupted by SIGHUP"), "{screen}");
    assert!(screen.contains("--resume"), "{screen}");

    let finished = dir.path().join("cmd-finished");
    let deadline = Instant::now() + TIMEOUT;
    while !finished.exists() {
        assert!(
            Instant::now() < deadline,
            "the command did not finish on its own"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!dir.path().join("after").exists(), "nothing new ran");
    assert!(dir.path().join("lock/owner").exists(), "the lock stays");
    let journal = std::fs::read_dir(dir.path().join("journal"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .next()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .unwrap_or_default();
    let last: serde_json::Value = journal
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    assert_eq!(last["event"], "run_interrupted", "{journal}");
    assert_eq!(last["signal"], "SIGHUP");
    assert_eq!(last["running"][0]["step"], "long");
    assert!(last["running"][0]["pid"].as_u64().is_some(), "{last}");
}

const FLEET: &str = include_str!("tui/fleet.toml");

/// The fleet runbook with `[hosts.h1]` to `[hosts.h100]` under `dir`;
/// returns the command that runs it.
fn fleet_setup(dir: &Path) -> String {
    let mut text = FLEET.to_string();
    for i in 1..=100 {
        text.push_str(&format!("\n[hosts.h{i}]\ntransport = \"local\"\n"));
    }
    let runbook = dir.join("fleet.toml");
    std::fs::write(&runbook, text).unwrap_or_else(|e| panic!("{e}"));
    format!(
        "{} run {} --var dir={} --journal-dir {}",
        quote(BIN),
        quote(&runbook.display().to_string()),
        quote(&dir.display().to_string()),
        quote(&dir.join("journal").display().to_string())
    )
}

#[test]
fn a_hundred_hosts_summary_strip_and_picker() {
    let dir = tempdir();
    let t = Tmux::start("fleet", &fleet_setup(dir.path()));
    // The summary fits, a line a step, the failed hosts named with why.
    let screen = t.wait_for("Summary");
    assert!(screen.contains("✓ 97 ok  ✗ 3 failed"), "{screen}");
    assert_eq!(screen.matches("✓ 100 ok").count(), 2, "{screen}");
    for host in ["h7", "h20", "h73"] {
        let line = screen
            .lines()
            .find(|l| l.starts_with('║') && l.contains(&format!("✗ {host} ")))
            .unwrap_or_else(|| panic!("{host} is not named:\n{screen}"));
        assert!(line.contains("exit status 1"), "{screen}");
    }
    assert!(screen.contains("3 ✓ last"), "{screen}");
    assert!(
        !screen.contains(" of 3"),
        "no step scrolled away:\n{screen}"
    );
    // The header's strip names the failed hosts first, then the others in
    // natural order, and says how many it leaves out.
    assert!(screen.contains("● 100 connected"), "{screen}");
    assert!(
        screen.contains("✗ h7 step failed  ✗ h20 step failed  ✗ h73 step failed  ● h1"),
        "{screen}"
    );
    assert!(screen.contains(" more · p picks"), "{screen}");
    // Enter on the failed step (where the summary opens): its hosts; typing
    // finds h73 among a hundred.
    t.keys(&["Enter"]);
    t.wait_for("Hosts of step 2 flaky");
    t.keys(&["-l", "h73"]);
    t.wait_for("1 of 100 hosts");
    t.keys(&["Enter"]);
    let screen = t.wait_for("h73 is broken");
    assert!(screen.contains("2 flaky"), "{screen}");
    assert!(!screen.contains("Summary"), "{screen}");
    // p and Tab: the next failed host after h73 is h7.
    t.keys(&["p"]);
    t.wait_for("100 hosts");
    t.keys(&["Tab"]);
    t.wait_for("› ✗ h7 ");
    t.keys(&["Enter"]);
    t.wait_for("h7 is broken");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 1);
}

// ---- replay and watch: the TUI on a run's journal, read-only ----

/// Three steps on two local hosts; `migrate` prints a marker (quoted in the
/// command, so that only its output shows the marker whole).
const REPLAYED: &str = r#"
[runbook]
name = "Replayed run"
lock = "{{dir}}/lock-{{host}}"

[vars]
dir = "/tmp/drydock-replay"

[hosts.alpha]
transport = "local"

[hosts.beta]
transport = "local"

[[steps]]
id = "prepare"
title = "Prepare the release"
run = "echo prepared on {{host}}"

[[steps]]
id = "migrate"
title = "Migrate the database"
hosts = ["alpha"]
run = "echo applying migration 00'42'; echo migrated-'marker'"

[[steps]]
id = "finish"
title = "Finish up"
run = "echo finished on {{host}}"
"#;

/// `drydock run --headless` of `runbook` (written under `dir`) to its end;
/// returns the run's id.
fn headless_run(dir: &Path, runbook: &str) -> String {
    let path = dir.join("runbook.toml");
    std::fs::write(&path, runbook).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(BIN)
        .arg("run")
        .arg("--headless")
        .arg(&path)
        .arg("--var")
        .arg(format!("dir={}", dir.display()))
        .arg("--journal-dir")
        .arg(dir.join("journal"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    the_run_id(dir)
}

/// The id of the only run in `dir`'s journal dir.
fn the_run_id(dir: &Path) -> String {
    let entries: Vec<_> = std::fs::read_dir(dir.join("journal"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0]
        .path()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_only_command(dir: &Path, what: &str) -> String {
    format!(
        "{} {what} --journal-dir {}",
        quote(BIN),
        quote(&dir.join("journal").display().to_string())
    )
}

#[test]
fn replay_shows_the_runs_steps_and_the_output_of_a_chosen_step() {
    let dir = tempdir();
    let id = headless_run(dir.path(), REPLAYED);
    let t = Tmux::start(
        "replay",
        &read_only_command(dir.path(), &format!("replay {}", &id[..12])),
    );
    // The screen may be caught half drawn: wait for each part.
    for title in ["Prepare the release", "Migrate the database", "Finish up"] {
        t.wait_for(title);
    }
    let screen = t.wait_for("FINISHED");
    assert!(screen.contains("REPLAY"), "it opens at the end:\n{screen}");
    assert!(
        !screen.contains("RUNBOOK"),
        "the runbook is unchanged:\n{screen}"
    );

    t.keys(&[":", "migrate", "Enter"]);
    let screen = t.wait_for("migrated-marker");
    assert!(screen.contains("applying migration 0042"), "{screen}");
    assert!(screen.contains("Output 2 migrate"), "{screen}");
    assert!(
        !screen.contains("FINISHED") && !screen.contains("finished on"),
        "the run as migrate ended, before finish ran:\n{screen}"
    );
    // One event on: finish starts, and the output follows it no more (picked).
    t.keys(&["."]);
    t.wait_for("Output 2 migrate");

    t.keys(&["y"]);
    t.wait_for("read-only: this is a replay");
    t.keys(&["a"]);
    let screen = t.wait_for("read-only: this is a replay");
    assert!(!screen.contains("Abort the run?"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
}

#[test]
fn replay_without_its_runbook_shows_the_journals_steps_and_says_so() {
    let dir = tempdir();
    let id = headless_run(dir.path(), REPLAYED);
    std::fs::remove_file(dir.path().join("runbook.toml")).unwrap_or_else(|e| panic!("{e}"));
    let t = Tmux::start(
        "replay-gone",
        &read_only_command(dir.path(), &format!("replay {id}")),
    );
    t.wait_for("RUNBOOK GONE");
    for step in ["1 ✓ prepare", "2 ✓ migrate", "3 ✓ finish"] {
        t.wait_for(step);
    }
    t.keys(&[":", "mig", "Enter"]);
    t.wait_for("migrated-marker");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
}

/// Waits on `go` before printing its marker (quoted in the command, so
/// that only its output shows the marker whole), then on `end`.
const WATCHED: &str = r#"
[runbook]
name = "Watched run"
lock = "{{dir}}/lock-{{host}}"

[vars]
dir = "/tmp/drydock-watch"

[hosts.alpha]
transport = "local"

[[steps]]
id = "first"
title = "Something before"
run = "echo first step done"

[[steps]]
id = "wait-go"
title = "Print when told"
run = "while [ ! -e {{dir}}/go ]; do sleep 0.05; done; echo watched-'marker'; while [ ! -e {{dir}}/end ]; do sleep 0.05; done"
"#;

/// A headless run going on in the background. Dropped, it lets its
/// command end (both files it waits for appear) and waits for drydock.
struct Background {
    child: std::process::Child,
    dir: std::path::PathBuf,
    /// When the run printed the marker.
    printed: std::sync::mpsc::Receiver<Instant>,
}

impl Background {
    fn start(dir: &Path) -> Self {
        let path = dir.join("runbook.toml");
        std::fs::write(&path, WATCHED).unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(BIN)
            .arg("run")
            .arg("--headless")
            .arg(&path)
            .arg("--var")
            .arg(format!("dir={}", dir.display()))
            .arg("--journal-dir")
            .arg(dir.join("journal"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let (tx, printed) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    // The output line, not the command's start.
                    if line.ends_with("| watched-marker") {
                        let _ = tx.send(Instant::now());
                    }
                }
            });
        }
        Background {
            child,
            dir: dir.to_path_buf(),
            printed,
        }
    }

    fn touch(&self, name: &str) {
        std::fs::write(self.dir.join(name), "").unwrap_or_else(|e| panic!("{e}"));
    }

    /// Let the run end; its exit status.
    fn finish(&mut self) -> Option<i32> {
        self.touch("go");
        self.touch("end");
        let start = Instant::now();
        while start.elapsed() < TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.finish();
        }
    }
}

/// The CPU time a process has taken, in clock ticks (1/100 s): utime + stime.
fn cpu_ticks(pid: i32) -> u64 {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_else(|e| panic!("{e}"));
    // After the command's name, in parentheses, which may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

#[test]
fn watch_shows_a_line_a_headless_run_prints_within_a_second() {
    let dir = tempdir();
    let mut run = Background::start(dir.path());
    // The run is at its second step before anyone watches.
    let start = Instant::now();
    loop {
        let journal = std::fs::read_dir(dir.path().join("journal"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
            .unwrap_or_default();
        if journal.contains(r#""step":"wait-go","host":"alpha","command""#) {
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "the run never started wait-go");
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = Tmux::start("watch", &read_only_command(dir.path(), "watch"));
    t.wait_for("WATCH");
    t.wait_for("Print when told");

    // Waiting for the run costs next to nothing: no busy wait.
    let watcher = support::leftovers::mentioning(&t.socket)
        .into_iter()
        .find(|p| p.command.starts_with(BIN) && p.command.contains(" watch "))
        .unwrap_or_else(|| panic!("no watch process"));
    let before = cpu_ticks(watcher.pid);
    std::thread::sleep(Duration::from_secs(5));
    let spent = cpu_ticks(watcher.pid) - before;
    assert!(
        spent < 5,
        "the idle watch took {spent} ticks of CPU in 5 s (1 % is 5)"
    );

    run.touch("go");
    let printed = run
        .printed
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("the run never printed its marker: {e}"));
    let shown = loop {
        if t.screen().contains("watched-marker") {
            break Instant::now();
        }
        assert!(
            printed.elapsed() < TIMEOUT,
            "the marker never showed:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let late = shown.saturating_duration_since(printed);
    assert!(
        late < Duration::from_secs(1),
        "the watch showed the line {late:?} after the run printed it"
    );

    t.keys(&["y"]);
    t.wait_for("read-only: this is a watch");
    run.touch("end");
    t.wait_for("FINISHED");
    assert_eq!(run.finish(), Some(0));
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
}

#[test]
fn replay_and_watch_refuse_an_unknown_run_with_exit_2() {
    let dir = tempdir();
    headless_run(dir.path(), REPLAYED);
    let journal = dir.path().join("journal");
    for (args, says) in [
        (vec!["replay", "19990101"], "no run '19990101'"),
        (vec!["watch", "19990101"], "no run '19990101'"),
        (vec!["watch"], "no run is going on"),
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .arg("--journal-dir")
            .arg(&journal)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The runbook of tests/secrets.rs, its `dir` set to `dir`, and its log
/// file written with the secrets in it.
fn secrets_setup(dir: &Path) -> std::path::PathBuf {
    let runbook = dir.join("secrets.toml");
    let text = include_str!("secrets/secrets.toml").replace(
        "dir = \"/tmp/drydock-secrets\"",
        &format!("dir = \"{}\"", dir.display()),
    );
    std::fs::write(&runbook, text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("app.log"),
        "login with hunter2-in-vars\nkey key-body-9f3a51 loaded\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    runbook
}

/// No secret of tests/secrets/secrets.toml on `screen`.
fn assert_no_secret(screen: &str) {
    for secret in ["hunter2-in-vars", "key-body-9f3a51"] {
        assert!(
            !screen.contains(secret),
            "{secret} on the screen:\n{screen}"
        );
    }
}

#[test]
fn secrets_show_on_no_screen_of_a_run() {
    let dir = tempdir();
    let runbook = secrets_setup(dir.path());
    let t = Tmux::start(
        "secrets",
        &format!(
            "{} run {} --journal-dir {}",
            quote(BIN),
            quote(&runbook.display().to_string()),
            quote(&dir.path().join("journal").display().to_string())
        ),
    );
    let screen = t.wait_for("Confirm this step");
    assert_no_secret(&screen);
    assert!(screen.contains("previewing with ********"), "{screen}");
    assert!(screen.contains("Look with ********"), "{screen}");
    // The log pane, under the question.
    t.keys(&["Escape"]);
    let screen = t.wait_for("login with ********");
    assert_no_secret(&screen);
    t.keys(&["Enter"]);
    t.wait_for("Confirm this step");
    t.keys(&["y"]);
    let screen = t.wait_for("The step failed");
    assert_no_secret(&screen);
    assert!(screen.contains("denied for ********"), "{screen}");
    // The skipped condition and the timed-out guard, in their panes.
    t.keys(&["Escape"]);
    for _ in 0..3 {
        t.keys(&["k"]);
        assert_no_secret(&t.screen());
    }
    t.keys(&["Enter"]);
    t.wait_for("The step failed");
    t.keys(&["s"]);
    let screen = t.wait_for("Summary");
    assert_no_secret(&screen);
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 1);
    assert_no_secret(&t.screen());
}

#[test]
fn secrets_in_a_followed_log_show_as_stars() {
    let dir = tempdir();
    let runbook = secrets_setup(dir.path());
    let t = Tmux::start(
        "secretlogs",
        &format!(
            "{} logs {}",
            quote(BIN),
            quote(&runbook.display().to_string())
        ),
    );
    let screen = t.wait_for("key ******** loaded");
    assert_no_secret(&screen);
    assert!(screen.contains("login with ********"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
}

#[test]
fn a_hostile_runbook_cannot_drive_the_terminal() {
    let dir = tempdir();
    let hostile = r"\u001b]0;pwned\u0007\u001b[2J\u202e";
    let runbook = dir.path().join("hostile.toml");
    std::fs::write(
        &runbook,
        format!(
            "[runbook]\nname = \"Hostile {hostile} runbook\"\nlock = \"{d}/lock\"\n\
             [hosts.web]\ntransport = \"local\"\n\
             [[steps]]\nid = \"deploy\"\ntitle = \"Deploy {hostile}evil\"\n\
             notes = \"notes {hostile} here\"\nconfirm = true\n\
             preview = \"echo 'preview {hostile}'\"\nrun = \"echo deployed\"\n",
            d = dir.path().display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // drydock starts once everything it writes is recorded, raw.
    let go = dir.path().join("go");
    let raw = dir.path().join("raw");
    let t = Tmux::start(
        "hostile",
        &format!(
            // No bell: the test looks for control characters drydock did not mean.
            "while [ ! -e {go} ]; do sleep 0.05; done; NO_BELL=1 {} run {} --journal-dir {}",
            quote(BIN),
            quote(&runbook.display().to_string()),
            quote(&dir.path().join("journal").display().to_string()),
            go = quote(&go.display().to_string()),
        ),
    );
    t.tmux(&[
        "pipe-pane",
        "-t",
        "t",
        "-o",
        &format!("cat >> {}", quote(&raw.display().to_string())),
    ]);
    std::fs::write(&go, "").unwrap_or_else(|e| panic!("{e}"));
    let screen = t.wait_for("Confirm this step");
    assert!(screen.contains("Deploy evil"), "{screen}");
    assert!(screen.contains("Hostile  runbook"), "{screen}");
    t.keys(&["y"]);
    let screen = t.wait_for("Summary");
    assert!(screen.contains("deploy"), "{screen}");
    let title = t.tmux(&["display-message", "-p", "-t", "t", "#{pane_title}"]);
    assert!(!title.contains("pwned"), "the title was set: {title}");
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0);
    let bytes = std::fs::read(&raw).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("Deploy evil"),
        "the raw output was recorded:\n{text}"
    );
    // The TUI's own drawing uses CSI sequences; nothing else gets through.
    assert!(!text.contains("pwned"), "{text}");
    assert!(!text.contains("\u{1b}]"), "an OSC sequence was written");
    assert!(!text.contains('\u{202e}'), "U+202E was written");
    assert!(!text.contains('\u{7}'), "a bell was written");
}
