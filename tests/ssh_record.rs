//! What a run over SSH records of its connections, against a real sshd on
//! 127.0.0.1: a host without SFTP still runs (lock, banner and file guards
//! through plain commands, said once), and losing and regaining a connection
//! is journaled with the true reason, and so is a channel the server refused.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::sshd::Sshd;

/// Longest any drydock run here may take: past it the run counts as hung.
const HANG_LIMIT: Duration = Duration::from_secs(60);

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["home", "journal", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        World { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// A runbook for `sshd` (already trusted): the head, then `body`.
    fn runbook(&self, sshd: &Sshd, body: &str) -> PathBuf {
        std::fs::write(self.path("known_hosts"), sshd.known_hosts_line()).expect("known_hosts");
        let text = format!(
            "[runbook]\nname = \"ssh record\"\nlock = \"{work}/lock\"\n\n\
             [ssh]\nuser = \"root\"\nport = {port}\nidentity = \"{key}\"\n\
             known_hosts = \"{kh}\"\nconnect_timeout = \"5s\"\n\n\
             [hosts.web]\naddress = \"127.0.0.1\"\n\n{body}",
            work = self.path("work").display(),
            port = sshd.port,
            key = sshd.user_key.display(),
            kh = self.path("known_hosts").display(),
        );
        let path = self.path("runbook.toml");
        std::fs::write(&path, text).expect("runbook");
        path
    }

    fn command(&self, runbook: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_drydock"));
        cmd.args(["run", "--headless"])
            .arg(runbook)
            .arg("--journal-dir")
            .arg(self.path("journal"))
            .env("HOME", self.path("home"))
            .env("NO_COLOR", "1")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Run `runbook` headless with `--yes`, within the hang limit.
    fn run_with_yes(&self, runbook: &Path) -> Output {
        finish(
            self.command(runbook)
                .arg("--yes")
                .spawn()
                .expect("start drydock"),
        )
    }

    fn journal(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.path("journal"))
            .expect("journal dir")
            .flatten()
        {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            out.extend(
                text.lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
            );
        }
        out
    }
}

/// Wait for `child` within the hang limit, then take its output.
fn finish(mut child: std::process::Child) -> Output {
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("drydock hung for {HANG_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn events<'a>(journal: &'a [Value], kind: &str) -> Vec<&'a Value> {
    journal.iter().filter(|e| e["event"] == kind).collect()
}

fn step(id: &str, body: &str) -> String {
    format!("[[steps]]\nid = \"{id}\"\ntitle = \"{id}\"\n{body}\n\n")
}

#[test]
fn a_host_without_sftp_takes_the_lock_puts_up_the_banner_and_checks_file_guards() {
    let sshd = Sshd::start_without_sftp();
    let w = World::new();
    let work = w.path("work");
    let flag = work.join("robot_running_flag");
    let banner = work.join("maintenance.json");
    let body = format!(
        "[banner]\nhosts = [\"web\"]\npath = \"{banner}\"\nmessage = \"down at {{{{starts_at}}}}\"\n\
         content = '{{\"message\": \"{{{{message}}}}\"}}'\nlead = \"0s\"\n\n{}{}{}{}{}",
        step(
            "quiet",
            &format!(
                "guard = {{ file_absent = \"{}\", poll = \"1s\", timeout = \"30s\" }}",
                flag.display()
            )
        ),
        step("up", "banner = \"on\""),
        step(
            "shown",
            &format!(
                "guard = {{ file_present = \"{}\", poll = \"1s\", timeout = \"30s\" }}",
                banner.display()
            )
        ),
        step(
            "work",
            &format!(
                "run = \"cat {}; echo; ls -d {}/lock\"",
                banner.display(),
                work.display()
            )
        ),
        step("down", "banner = \"off\""),
        banner = banner.display(),
    );
    let runbook = w.runbook(&sshd, &body);
    let out = w.run_with_yes(&runbook);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let journal = w.journal();
    let statuses: Vec<&str> = events(&journal, "step_finished")
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(statuses, ["ok"; 5], "{text}");
    // The banner held its content while the step read it, and is gone now.
    assert!(text.contains("{\"message\": \"down at "), "{text}");
    assert!(!banner.exists(), "the banner was taken down");
    // The lock was there during the run, and was released.
    assert!(
        text.contains(&format!("work@web | {}/lock", work.display())),
        "{text}"
    );
    assert!(!work.join("lock").exists(), "the lock was released");
    // Said once, in the journal too.
    let notices = events(&journal, "notice")
        .into_iter()
        .filter(|e| {
            e["text"]
                .as_str()
                .is_some_and(|t| t.contains("no SFTP subsystem"))
        })
        .count();
    assert_eq!(notices, 1, "{journal:#?}");
    assert!(
        text.matches("no SFTP subsystem").count() == 1,
        "said once in the output: {text}"
    );
}

/// Steps that run while a log of the host is followed, so that the lock,
/// the log and each command want a channel of their own at once.
fn steps_beside_a_followed_log(w: &World) -> String {
    let log = w.path("work").join("app.log");
    std::fs::write(&log, "booted\n").expect("log");
    format!(
        "[logs.app]\nhost = \"web\"\npath = \"{}\"\n\n{}{}",
        log.display(),
        step("one", "run = \"echo first; sleep 1\""),
        step("two", "run = \"echo second\""),
    )
}

#[test]
fn a_server_that_allows_two_sessions_a_connection_runs_the_whole_runbook() {
    // The run's spare channel is given up when the server refuses one.
    let sshd = Sshd::start_with("MaxSessions 2");
    let w = World::new();
    let runbook = w.runbook(&sshd, &steps_beside_a_followed_log(&w));
    let out = w.run_with_yes(&runbook);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("one@web | first"), "{text}");
    assert!(text.contains("two@web | second"), "{text}");
}

#[test]
fn a_server_that_refuses_a_channel_is_named_with_its_session_limit() {
    let sshd = Sshd::start_with("MaxSessions 1");
    let w = World::new();
    let runbook = w.runbook(&sshd, &steps_beside_a_followed_log(&w));
    let out = w.run_with_yes(&runbook);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("cannot open a channel: the server refused it with 1 of ours open"),
        "{text}"
    );
    assert!(text.contains("its MaxSessions (sshd_config"), "{text}");
    assert!(!text.contains("SFTP is not available"), "{text}");
    let journal = w.journal();
    let failed = events(&journal, "step_finished")
        .into_iter()
        .find(|e| e["step"] == "one")
        .expect("step one finished");
    assert_eq!(failed["status"], "failed", "{journal:#?}");
    assert!(
        failed.to_string().contains("MaxSessions"),
        "the journal names the cause: {failed}"
    );
}

#[test]
fn a_lost_connection_is_journaled_with_its_reason_and_so_is_the_next_one() {
    let mut sshd = Sshd::start();
    let w = World::new();
    let flag = w.path("work").join("first-try");
    // Its own length, to be found among the server's processes.
    let marker = format!("sleep 120.{}", std::process::id());
    let body = step(
        "long",
        &format!(
            "run = \"if [ -e {0} ]; then echo second-try; else touch {0}; {marker}; fi\"",
            flag.display()
        ),
    );
    let runbook = w.runbook(&sshd, &body);
    let mut child = w.command(&runbook).spawn().expect("start drydock");
    let deadline = Instant::now() + Duration::from_secs(20);
    // Once the sleep runs (it is forked after the flag is made), the
    // restart ends it with the rest of the server: the retry finds nothing
    // of the first try left running.
    let sleeping = || {
        !Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .expect("pgrep")
            .stdout
            .is_empty()
    };
    while !flag.exists() || !sleeping() {
        assert!(Instant::now() < deadline, "the step never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    sshd.restart();
    while sleeping() {
        assert!(
            Instant::now() < deadline,
            "the first try outlived the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The failure question: retry, which connects again.
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"r\n")
        .expect("answer");
    let out = finish(child);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let journal = w.journal();
    let states: Vec<(&str, Option<&str>)> = events(&journal, "connection")
        .iter()
        .map(|e| (e["state"].as_str().unwrap_or("?"), e["reason"].as_str()))
        .collect();
    assert_eq!(states.len(), 3, "{states:?}");
    assert_eq!(states[0], ("connected", None));
    assert_eq!(states[1].0, "lost");
    let reason = states[1].1.unwrap_or_default();
    assert!(
        reason.contains("closed the connection") || reason.contains("reset by the server"),
        "the server's end is named as such, not as silence: {reason}"
    );
    assert_eq!(states[2], ("reconnected", None));
    // Each where it happened: the loss before the step's lost outcome is
    // answered, the new connection before the retry's start.
    let at = |pred: &dyn Fn(&Value) -> bool| journal.iter().position(pred).unwrap_or(usize::MAX);
    let reconnected = at(&|e| e["event"] == "connection" && e["state"] == "reconnected");
    let retry = at(&|e| e["event"] == "gate" && e["decision"] == "retry");
    assert!(retry < reconnected, "{journal:#?}");
    assert!(text.contains("[web] connection lost: "), "{text}");
    assert!(text.contains("[web] connected again"), "{text}");
}

/// A server that stops answering while the kernel keeps the connection up
/// (a hung host): found out once ServerAliveCountMax keepalives from
/// ~/.ssh/config went unanswered, as ssh does (libssh2 sends one every 2 s
/// at the most often: 2 unanswered and the third due, 6 s), and named as
/// silence; a quiet command longer than that is not mistaken for it.
#[test]
fn a_server_that_stops_answering_is_lost_after_its_keepalives() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let sshd = Sshd::start();
    let w = World::new();
    let ssh_dir = w.path("home").join(".ssh");
    std::fs::create_dir_all(&ssh_dir).expect("~/.ssh");
    std::fs::write(
        ssh_dir.join("config"),
        "Host *\n  ServerAliveInterval 1\n  ServerAliveCountMax 2\n",
    )
    .expect("ssh config");
    let flag = w.path("work").join("started");
    let marker = format!("sleep 60.{}", std::process::id());
    let body = step(
        "long",
        &format!("run = \"sleep 8; touch {}; {marker}\"", flag.display()),
    );
    let runbook = w.runbook(&sshd, &body);
    let child = w
        .command(&runbook)
        .arg("--yes")
        .spawn()
        .expect("start drydock");
    let deadline = Instant::now() + Duration::from_secs(30);
    // The last sleep is forked after the flag is made: every process is
    // listed below only once it runs.
    let sleeping = || {
        !Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .expect("pgrep")
            .stdout
            .is_empty()
    };
    while !flag.exists() || !sleeping() {
        assert!(
            Instant::now() < deadline,
            "the step never got past its quiet start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Hung: every process serving the connection stops; the kernel still
    // acknowledges what drydock sends.
    let stopped = sshd.serving();
    assert!(!stopped.is_empty(), "sshd serves the connection");
    let signal_all = |signal| {
        for &pid in &stopped {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = kill(Pid::from_raw(pid), signal);
            }
        }
    };
    signal_all(Signal::SIGSTOP);
    let started = Instant::now();
    let out = finish(child);
    let waited = started.elapsed();
    signal_all(Signal::SIGKILL);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "the step is lost: {text}");
    assert!(
        waited < Duration::from_secs(30),
        "found out within its keepalives, not at the step's end: {waited:?}"
    );
    let journal = w.journal();
    let lost: Vec<&str> = events(&journal, "connection")
        .iter()
        .filter(|e| e["state"] == "lost")
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(lost, ["no answer for 6 s"], "{journal:#?}");
    let finished: Vec<&str> = events(&journal, "step_finished")
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(finished, ["lost"], "{text}");
    assert!(
        text.contains("connection lost: no answer for 6 s"),
        "{text}"
    );
}

#[test]
fn a_refused_connection_is_exit_5_with_the_reason_in_the_journal_and_the_last_line() {
    let sshd = Sshd::start();
    let w = World::new();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let runbook = w.runbook(&sshd, &step("touch", "run = \"true\""));
    let moved = std::fs::read_to_string(&runbook).expect("runbook").replace(
        &format!("port = {}", sshd.port),
        &format!("port = {closed}"),
    );
    std::fs::write(&runbook, moved).expect("runbook");
    let out = w.run_with_yes(&runbook);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    let journal = w.journal();
    let failed = events(&journal, "connection");
    assert_eq!(failed.len(), 1, "{journal:#?}");
    assert_eq!(failed[0]["state"], "failed");
    let reason = failed[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(
        last.contains("a host could not be reached or used")
            && last.to_lowercase().contains("web: connection refused"),
        "{last}"
    );
}
