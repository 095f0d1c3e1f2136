//! No test leaves a process behind. After a fixture has stopped what it
//! started, every process that still mentions the fixture (its temp dir, its
//! tmux socket) in its command line, working directory or environment is a
//! leftover: it is killed, and the test fails naming it.
//!
//! The environment counts because a daemon keeps it: gunicorn `--daemon`, a
//! command run through a test sshd (which sets `DRYDOCK_TEST_SSHD`), anything
//! started inside a tmux pane (`TMUX` names the socket).

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// How long processes get to finish going after their fixture stopped them
/// (gunicorn's workers after the master, a pane's shell after SIGHUP).
const GRACE: Duration = Duration::from_secs(5);

/// A process found in /proc.
#[derive(Debug, Clone)]
pub struct Process {
    pub pid: i32,
    pub command: String,
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}: {}", self.pid, self.command)
    }
}

/// Kill what is left of the processes mentioning `marker` (after `GRACE`) and
/// fail the test naming them; `what` says whose they were. When the test is
/// failing already it only kills and reports, so a `Drop` may call it.
pub fn assert_none_left(marker: &str, what: &str) {
    let left = wait_until_none(marker);
    if left.is_empty() {
        return;
    }
    for p in &left {
        kill(p.pid);
    }
    let list: Vec<String> = left.iter().map(ToString::to_string).collect();
    let message = format!(
        "{what} left {} process(es) running (now killed):\n  {}",
        left.len(),
        list.join("\n  ")
    );
    if std::thread::panicking() {
        eprintln!("{message}");
    } else {
        panic!("{message}");
    }
}

/// Kill every process mentioning `marker`, for a test that leaves one running
/// on purpose (a run killed mid-step leaves its command going, as a crash
/// would); the ones killed.
pub fn end_all(marker: &str) -> Vec<Process> {
    let found = mentioning(marker);
    for p in &found {
        kill(p.pid);
    }
    found
}

/// Wait up to `GRACE` for the processes mentioning `marker` to end; those
/// still there.
fn wait_until_none(marker: &str) -> Vec<Process> {
    let deadline = Instant::now() + GRACE;
    loop {
        let left = mentioning(marker);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Live processes other than this test whose command line, working directory
/// or environment mention `marker` as a whole name, and their descendants
/// (a `sleep` under a marked shell mentions nothing itself).
pub fn mentioning(marker: &str) -> Vec<Process> {
    assert!(
        marker.len() >= 8,
        "'{marker}' is too short to tell a test's processes from others"
    );
    let me = std::process::id();
    let all: Vec<Entry> = live_processes()
        .into_iter()
        .filter(|e| e.pid != me)
        .collect();
    let marked = all
        .iter()
        .filter(|e| e.mentions(marker.as_bytes()))
        .map(|e| e.pid)
        .collect();
    let ours = with_descendants(&all, marked);
    all.iter()
        .filter(|e| ours.contains(&e.pid))
        .filter_map(|e| {
            Some(Process {
                pid: i32::try_from(e.pid).ok()?,
                command: String::from_utf8_lossy(&e.cmdline)
                    .replace('\0', " ")
                    .trim()
                    .to_string(),
            })
        })
        .collect()
}

/// Every live process below `root`, found through /proc's parent links.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut below = with_descendants(&live_processes(), vec![root]);
    below.retain(|&pid| pid != root);
    below
}

/// `roots` and every process below them.
fn with_descendants(all: &[Entry], mut roots: Vec<u32>) -> Vec<u32> {
    let mut next = 0;
    while next < roots.len() {
        let parent = roots[next];
        for e in all {
            if e.ppid == parent && !roots.contains(&e.pid) {
                roots.push(e.pid);
            }
        }
        next += 1;
    }
    roots
}

/// What /proc tells of one live process.
struct Entry {
    pid: u32,
    ppid: u32,
    cmdline: Vec<u8>,
    environ: Vec<u8>,
    cwd: Vec<u8>,
}

impl Entry {
    fn mentions(&self, marker: &[u8]) -> bool {
        [&self.cmdline, &self.environ, &self.cwd]
            .iter()
            .any(|text| mentions(text, marker))
    }
}

/// Every process but zombies: a zombie has ended already, only its parent's
/// wait is missing.
fn live_processes() -> Vec<Entry> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let dir = entry.path();
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // The command name may hold spaces and ')'; state and parent follow the last ')'.
        let mut fields = stat
            .rfind(')')
            .map(|i| stat[i + 1..].split_whitespace())
            .into_iter()
            .flatten();
        let state = fields.next().unwrap_or("Z");
        let ppid = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if state == "Z" || state == "X" {
            continue;
        }
        out.push(Entry {
            pid,
            ppid,
            cmdline: std::fs::read(dir.join("cmdline")).unwrap_or_default(),
            environ: std::fs::read(dir.join("environ")).unwrap_or_default(),
            cwd: std::fs::read_link(dir.join("cwd"))
                .map(|p| p.into_os_string().into_encoded_bytes())
                .unwrap_or_default(),
        });
    }
    out
}

/// Whether `text` holds `marker` not followed by more of a name, so that
/// `/tmp/.tmpAB` is not found in `/tmp/.tmpABC` nor `...-gate` in `...-gate2`.
fn mentions(text: &[u8], marker: &[u8]) -> bool {
    text.windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker)
        .any(|(at, _)| {
            text.get(at + marker.len())
                .is_none_or(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')))
        })
}

fn kill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Send `signal` to `pid` only if it still mentions `marker` (a pid file may
/// be stale and its pid reused), then wait up to `GRACE` for it to end.
/// Whether it ended.
pub fn stop(pid: i32, marker: &str, signal: nix::sys::signal::Signal) -> bool {
    let is_it = |p: &Process| p.pid == pid;
    if !mentioning(marker).iter().any(is_it) {
        return true;
    }
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if !mentioning(marker).iter().any(is_it) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
