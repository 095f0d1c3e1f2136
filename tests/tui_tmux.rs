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
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Tmux {
    /// Start `command` in a 120x36 terminal; when it exits, its status is
    /// printed and the pane stays so the test can look at the restored screen.
    fn start(name: &str, command: &str) -> Self {
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
                "120",
                "-y",
                "36",
            ])
            .arg(format!("sh -c {}", quote(&script)))
            .env("TERM", "xterm-256color")
            .status();
        assert!(status.is_ok_and(|s| s.success()), "tmux new-session failed");
        Tmux { socket }
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

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_for_any(&[text]).1
    }

    /// Poll the screen until one of `texts` shows; returns which and the screen.
    fn wait_for_any(&self, texts: &[&str]) -> (usize, String) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if let Some(i) = texts.iter().position(|t| screen.contains(t)) {
                return (i, screen);
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "timed out waiting for {texts:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
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
            "while [ ! -e {go} ]; do sleep 0.05; done; {} run {} --journal-dir {}",
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
