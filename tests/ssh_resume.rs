//! `--resume` over a real sshd on 127.0.0.1: a run killed mid-step leaves its
//! command running on the host; the resumed run waits for it (`--yes`
//! answers wait) before it runs the step again, so a step never runs twice
//! at once on one host. So does a retry after a lost connection, whose
//! command may still run.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::sshd::Sshd;

const BIN: &str = env!("CARGO_BIN_EXE_drydock");
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// A test's own world: a HOME without ssh settings, a journal dir, a work
/// dir, a runbook for `sshd` whose host key is trusted.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(sshd: &Sshd, steps: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["home", "journal", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        let world = World { dir };
        std::fs::write(world.path("known_hosts"), sshd.known_hosts_line()).expect("known_hosts");
        let runbook = format!(
            "[runbook]\nname = \"ssh resume\"\nlock = \"{work}/lock\"\n\n\
             [ssh]\nuser = \"root\"\nport = {port}\nidentity = \"{key}\"\n\
             known_hosts = \"{kh}\"\nconnect_timeout = \"5s\"\n\n\
             [hosts.web]\naddress = \"127.0.0.1\"\n\n{steps}",
            work = world.path("work").display(),
            port = sshd.port,
            key = sshd.user_key.display(),
            kh = world.path("known_hosts").display(),
            steps = steps.replace("{{work}}", &world.path("work").display().to_string()),
        );
        std::fs::write(world.path("runbook.toml"), runbook).expect("runbook");
        world
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(&["--yes"])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("start drydock")
    }

    /// A run whose questions are answered by `answers`, one a line.
    fn spawn_answering(&self, answers: &str) -> Child {
        use std::io::Write;
        let mut child = self
            .command(&[])
            .stdin(Stdio::piped())
            .spawn()
            .expect("start drydock");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(answers.as_bytes())
            .expect("answers");
        child
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(["run", "--headless"])
            .arg(self.path("runbook.toml"))
            .arg("--journal-dir")
            .arg(self.path("journal"))
            .args(args)
            .env("HOME", self.path("home"))
            .env_remove("SSH_AUTH_SOCK")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
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

    /// The step's command ran twice, the second time only after the first
    /// ended: never twice at once on the host.
    fn assert_ran_twice_one_after_the_other(&self, text: &str) {
        let (starts, ends) = (self.stamps("starts"), self.stamps("ends"));
        assert_eq!((starts.len(), ends.len()), (2, 2), "{text}");
        assert!(
            starts[1] >= ends[0],
            "the second try started at {} before the first ended at {}: {text}",
            starts[1],
            ends[0]
        );
    }

    /// The timestamps (seconds) the command wrote to `file`, one a line.
    fn stamps(&self, file: &str) -> Vec<f64> {
        std::fs::read_to_string(self.path("work").join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: Child) -> (i32, String) {
    let started = Instant::now();
    let mut child = child;
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("drydock hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn process_record(journal: &[Value], step: &str) -> Option<u64> {
    journal
        .iter()
        .find(|e| e["event"] == "process" && e["step"] == step)
        .and_then(|e| e["pid"].as_u64())
}

#[test]
fn resume_waits_for_the_command_the_killed_run_left_on_the_host() {
    let sshd = Sshd::start();
    let w = World::new(
        &sshd,
        r#"
[[steps]]
id = "long"
title = "A long command"
run = "date +%s.%N >> {{work}}/starts; sleep 3; date +%s.%N >> {{work}}/ends"
[[steps]]
id = "after"
title = "After"
run = "touch {{work}}/after"
"#,
    );
    let first = w.spawn(&[]);
    wait_until("the first run of the step", || {
        w.stamps("starts").len() == 1 && process_record(&w.journal(), "long").is_some()
    });
    let mut first = first;
    first.kill().expect("SIGKILL drydock");
    first.wait().expect("reap");
    let pid = process_record(&w.journal(), "long").unwrap_or_default();
    assert!(
        w.stamps("ends").is_empty(),
        "the first command is still running"
    );

    let (code, text) = finish(w.spawn(&["--resume"]));
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "process group {pid}, left running by an earlier try"
        )),
        "{text}"
    );
    w.assert_ran_twice_one_after_the_other(&text);
    assert!(w.path("work").join("after").exists());

    let journal = w.journal();
    let waited = journal
        .iter()
        .find(|e| e["event"] == "gate" && e["question"] == "still_running")
        .unwrap_or_else(|| panic!("the question is journaled: {journal:?}"));
    assert_eq!(
        (
            waited["decision"].as_str(),
            waited["by"].as_str(),
            waited["host"].as_str()
        ),
        (Some("wait"), Some("yes"), Some("web"))
    );
}

/// Run a one-step runbook answering `answers`; once its command runs on the
/// host, cut the connection (the command goes on). The world, the
/// command's process group, and how the run ended.
fn connection_lost_in_long(answers: &str) -> (World, u64, (i32, String)) {
    let sshd = Sshd::start();
    let w = World::new(
        &sshd,
        r#"
[[steps]]
id = "long"
title = "A long command"
run = "date +%s.%N >> {{work}}/starts; sleep 3; date +%s.%N >> {{work}}/ends"
"#,
    );
    let run = w.spawn_answering(answers);
    wait_until("the step's first start", || {
        w.stamps("starts").len() == 1 && process_record(&w.journal(), "long").is_some()
    });
    let pid = process_record(&w.journal(), "long").unwrap_or_default();
    sshd.drop_connections();
    let ended = finish(run);
    (w, pid, ended)
}

#[test]
fn a_retry_after_a_lost_connection_waits_for_the_command_still_running() {
    // r at the failure (the connection is lost), w when the command of the
    // first try is found still running.
    let (w, pid, (code, text)) = connection_lost_in_long("r\nw\n");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("lost"), "{text}");
    assert!(
        text.contains(&format!(
            "process group {pid}, left running by an earlier try of this step"
        )),
        "{text}"
    );
    w.assert_ran_twice_one_after_the_other(&text);
    let journal = w.journal();
    let gates: Vec<&str> = journal
        .iter()
        .filter(|e| e["event"] == "gate")
        .filter_map(|e| e["decision"].as_str())
        .collect();
    assert_eq!(gates, ["retry", "wait"], "{text}");
}

/// A connection lost, nobody to answer: the run ends, and to release its
/// lock drydock connects again; the journal says so before the run's end.
#[test]
fn the_lock_released_after_a_lost_connection_is_journaled_with_its_new_connection() {
    let (w, _, (code, text)) = connection_lost_in_long("");
    assert_eq!(code, 3, "{text}");
    assert!(
        !w.path("work").join("lock").exists(),
        "the lock is released: {text}"
    );
    let journal = w.journal();
    let at = |pred: &dyn Fn(&Value) -> bool| journal.iter().position(pred);
    let lost = at(&|e| e["event"] == "connection" && e["state"] == "lost");
    let again = at(&|e| e["event"] == "connection" && e["state"] == "reconnected");
    let end = at(&|e| e["event"] == "run_finished");
    assert!(
        lost.is_some() && again.is_some() && end.is_some(),
        "{journal:#?}"
    );
    assert!(lost < again && again < end, "{journal:#?}");
    // The command of the lost connection ends on its own.
    wait_until("the first command's end", || w.stamps("ends").len() == 1);
}
