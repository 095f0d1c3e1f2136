//! Helpers for tests that run the built `drydock` binary.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

// One file shared with tests/support, whose fixtures check the same way; a
// suite that takes both compiles it twice, which is harmless.
#[allow(clippy::duplicate_mod)]
#[path = "../support/leftovers.rs"]
pub mod leftovers;

pub fn drydock() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drydock"));
    cmd.env_remove("DRYDOCK_STATE_DIR").env("NO_COLOR", "1");
    cmd
}

/// A temp dir holding a runbook, its sites and its journal dir. When it goes,
/// no process of the test may be left in it (see `leftovers`): whatever runs
/// there (a site's server) must be stopped before, so keep a `Fixture` the
/// last field of a struct and the first local of a test.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        leftovers::assert_none_left(&self.root(), "the test");
    }
}

impl Fixture {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The fixture's root, to put into runbooks (`{{root}}` is replaced by it).
    pub fn root(&self) -> String {
        self.dir.path().display().to_string()
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(&path, text.replace("{{root}}", &self.root())).expect("write file");
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.path("journal")
    }

    /// `drydock run --headless RUNBOOK --journal-dir J ARGS...` with `input` on stdin.
    pub fn run(&self, runbook: &Path, args: &[&str], input: &str) -> Output {
        let mut cmd = drydock();
        cmd.arg("run")
            .arg("--headless")
            .arg(runbook)
            .arg("--journal-dir")
            .arg(self.journal_dir())
            .args(args)
            // Marks what the run starts on this machine as the test's own.
            .env("DRYDOCK_TEST_FIXTURE", self.dir.path());
        run_with_input(cmd, input)
    }

    /// The journals written so far, oldest first.
    pub fn journals(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.journal_dir())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
    }

    /// The only journal's events.
    pub fn journal(&self) -> Vec<Value> {
        let journals = self.journals();
        assert_eq!(
            journals.len(),
            1,
            "expected one journal, found {journals:?}"
        );
        read_journal(&journals[0])
    }
}

pub fn run_with_input(mut cmd: Command, input: &str) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start drydock");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        // drydock may exit before reading all answers; that is not an error here.
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().expect("wait for drydock");
    let _ = writer.join();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "drydock panicked:\n{stderr}");
    output
}

pub fn read_journal(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read journal")
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("journal line is not JSON ({e}): {l}"))
        })
        .collect()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Events of one kind, optionally for one step.
pub fn events<'a>(journal: &'a [Value], event: &str, step: Option<&str>) -> Vec<&'a Value> {
    journal
        .iter()
        .filter(|e| e["event"] == event && step.is_none_or(|s| e["step"] == s))
        .collect()
}

/// The last `status` of a step on a host.
pub fn status(journal: &[Value], step: &str, host: &str) -> Option<String> {
    journal
        .iter()
        .rfind(|e| {
            e["event"] == "step_finished"
                && e["step"] == step
                && e["host"] == host
                && e.get("phase").is_none()
        })
        .map(|e| e["status"].as_str().unwrap_or_default().to_string())
}

/// The output lines a step printed on a host, in order.
pub fn output_lines(journal: &[Value], step: &str, host: &str, stream: &str) -> Vec<String> {
    journal
        .iter()
        .filter(|e| {
            e["event"] == "output"
                && e["step"] == step
                && e["host"] == host
                && e["stream"] == stream
        })
        .flat_map(record_lines)
        .collect()
}

/// The lines of one `output` record: `line`, or `lines` for several.
pub fn record_lines(record: &Value) -> Vec<String> {
    match record["lines"].as_array() {
        Some(lines) => lines
            .iter()
            .map(|l| l.as_str().unwrap_or_default().to_string())
            .collect(),
        None => vec![record["line"].as_str().unwrap_or_default().to_string()],
    }
}

/// Position of the first event matching `pred`.
pub fn position(journal: &[Value], pred: impl Fn(&Value) -> bool) -> Option<usize> {
    journal.iter().position(pred)
}

pub fn describe(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}
