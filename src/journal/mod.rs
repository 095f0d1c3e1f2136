//! The append-only record of a run: JSON Lines, one event a line, in
//! `<journal-dir>/<run_id>.jsonl`. Read back for `--resume`, `history`,
//! `show`, and followed while it is written for `watch`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::remote::Stream;

mod file;
mod follow;
mod holder;
mod linger;
mod read;
mod runs;
use file::{CHUNK, ToWriter};
pub use file::{Journal, Verbatim};
pub use follow::Follower;
pub use holder::writer_alive;
pub use read::{read, read_each};
pub use runs::{
    FindError, default_dir, find_run, is_finished, latest_live_run, list_runs, run_ids,
};

/// How a step ended on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
    Skipped,
    Timeout,
    Lost,
    Unknown,
}

impl Outcome {
    /// Done for good: not run again on resume.
    pub fn is_settled(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Skipped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Timeout => "timeout",
            Outcome::Lost => "lost",
            Outcome::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Failed,
    Aborted,
}

/// An answer to a question, as the journal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDecision {
    Run,
    Skip,
    Retry,
    Undo,
    Abort,
    Override,
    BreakLock,
    /// An undo or `always` step not run in a rollback.
    Leave,
    /// A command of an interrupted run still running: wait for it to end.
    Wait,
    /// A command of an interrupted run still running: end its process group.
    Kill,
}

/// Who gave an answer: the admin (at a prompt, or a line of headless input),
/// `--yes`, or nobody (headless input ended, or the terminal went away):
/// the answer that stands for none, abort or leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    Admin,
    Yes,
    Nobody,
}

/// What happened to a host's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Connected,
    Lost,
    Reconnected,
    Failed,
}

/// The text of an `output` record: one line, or lines that arrived together
/// on one stream. Written as `line` or `lines`; both are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputText {
    Line(String),
    Lines(Vec<String>),
}

impl OutputText {
    pub fn lines(&self) -> &[String] {
        match self {
            OutputText::Line(line) => std::slice::from_ref(line),
            OutputText::Lines(lines) => lines,
        }
    }
}

/// One journal line's event and fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Record {
    RunStarted {
        run_id: String,
        runbook: String,
        runbook_sha256: String,
        user: String,
        hosts: Vec<String>,
    },
    StepStarted {
        step: String,
        host: String,
        command: String,
        /// `undo` when this is the step's undo command run during a rollback.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
    },
    Output {
        step: String,
        host: String,
        stream: Stream,
        /// `undo` for the output of a step's undo command.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
        #[serde(flatten)]
        text: OutputText,
    },
    /// An answer. A question about a host rather than a step (breaking its
    /// lock) names the host and no step.
    Gate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        decision: GateDecision,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// Absent in journals written before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<AnsweredBy>,
        /// What was asked, when it is not whether to run a step: `rollback_plan`,
        /// `from`, `runbook_changed`, `journal`, `still_running`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        question: Option<String>,
    },
    GuardPoll {
        step: String,
        host: String,
        ok: bool,
    },
    /// A preview's command and what it printed, as shown in the question.
    Preview {
        step: String,
        host: String,
        command: String,
        lines: Vec<String>,
        exit_code: Option<i32>,
        /// Why the preview could not be run, when it could not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A step's `when` and whether it held on the host.
    Condition {
        step: String,
        host: String,
        command: String,
        holds: bool,
        /// Why it could not be checked (it then does not hold).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Something drydock told the admin that is no step's outcome: a lock it
    /// could not release, a host without SFTP.
    Notice {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        text: String,
    },
    /// Text the admin typed into a running command, or its end of input.
    Input {
        step: String,
        host: String,
        /// Absent when the input was masked, and for the end of input.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        masked: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        end_of_input: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
    },
    /// sudo's password question for a command: whether a password was sent
    /// (`asked`), and whether sudo let the command run (`ok`).
    Sudo {
        step: String,
        host: String,
        asked: bool,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
    },
    /// A host's connection was made, lost, made again or could not be made.
    Connection {
        host: String,
        state: ConnectionState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Where it went: `user@host:port`, the jump hosts or ProxyCommand
        /// on the way, and which values came from `~/.ssh/config`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route: Option<String>,
    },
    StepFinished {
        step: String,
        host: String,
        status: Outcome,
        exit_code: Option<i32>,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
        /// Why a step was skipped or failed without an exit code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// When a banner step put the banner up: the start time it announced.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        starts_at: Option<String>,
    },
    RunFinished {
        status: RunStatus,
        exit_code: i32,
        /// Every step not done on a host, and why.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_done: Vec<NotDone>,
    },
    /// The run was stopped by a signal: nothing more ran, the commands below
    /// were left running, the lock and the banner stay.
    RunInterrupted {
        signal: String,
        running: Vec<Running>,
    },
    /// The remote process group of a step's command.
    Process {
        step: String,
        host: String,
        pid: u32,
        /// `undo` for the process group of a step's undo command.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
    },
    /// A step's trimmed stdout kept as a variable (`capture`).
    Capture {
        step: String,
        host: String,
        var: String,
        value: String,
    },
}

/// A step not done on a host at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotDone {
    pub step: String,
    pub host: String,
    pub why: String,
}

/// A command running when the run was interrupted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    pub step: String,
    pub host: String,
    /// Its remote process group, when the transport told it.
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    pub ts: String,
    #[serde(flatten)]
    pub record: Record,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write the journal {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the journal {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a journal says about one run, for `history` and `--resume`.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub path: PathBuf,
    pub run_id: String,
    pub runbook: String,
    /// The runbook's sha256 when the run started.
    pub runbook_sha256: String,
    pub user: String,
    pub started: String,
    pub finished: Option<(RunStatus, i32)>,
    /// The last outcome of each (step, host).
    pub outcomes: HashMap<(String, String), Outcome>,
    /// Steps written as started and never as finished: their outcome is unknown.
    pub interrupted: Vec<(String, String)>,
    /// The remote process group of each interrupted step's command, when known.
    pub processes: HashMap<(String, String), u32>,
    /// Values captured so far, the first of each variable on each host:
    /// (step, host, var, value).
    pub captures: Vec<(String, String, String, String)>,
    pub starts_at: Option<String>,
}

pub fn summarize(path: &Path) -> Result<Option<RunSummary>, JournalError> {
    let lines = read(path)?;
    let Some(first) = lines.first() else {
        return Ok(None);
    };
    let Record::RunStarted {
        run_id,
        runbook,
        runbook_sha256,
        user,
        ..
    } = &first.record
    else {
        return Ok(None);
    };
    let mut summary = RunSummary {
        path: path.to_path_buf(),
        run_id: run_id.clone(),
        runbook: runbook.clone(),
        runbook_sha256: runbook_sha256.clone(),
        user: user.clone(),
        started: first.ts.clone(),
        finished: None,
        outcomes: HashMap::new(),
        interrupted: Vec::new(),
        processes: HashMap::new(),
        captures: Vec::new(),
        starts_at: None,
    };
    let mut running: Vec<(String, String)> = Vec::new();
    for line in &lines {
        match &line.record {
            Record::StepStarted { step, host, .. } => {
                let key = (step.clone(), host.clone());
                summary.processes.remove(&key);
                running.push(key);
            }
            // An undo's group is not its step's command: not looked for on resume.
            Record::Process {
                step,
                host,
                pid,
                phase: None,
            } => {
                summary.processes.insert((step.clone(), host.clone()), *pid);
            }
            Record::Capture {
                step,
                host,
                var,
                value,
            } => {
                let known = summary
                    .captures
                    .iter()
                    .any(|(_, h, v, _)| h == host && v == var);
                if !known {
                    summary
                        .captures
                        .push((step.clone(), host.clone(), var.clone(), value.clone()));
                }
            }
            Record::StepFinished {
                step,
                host,
                status,
                phase,
                starts_at,
                ..
            } => {
                let key = (step.clone(), host.clone());
                running.retain(|k| k != &key);
                if phase.is_none() {
                    summary.outcomes.insert(key, *status);
                }
                if starts_at.is_some() {
                    summary.starts_at.clone_from(starts_at);
                }
            }
            Record::RunFinished {
                status, exit_code, ..
            } => {
                summary.finished = Some((*status, *exit_code));
            }
            _ => {}
        }
    }
    summary.processes.retain(|key, _| running.contains(key));
    summary.interrupted = running;
    Ok(Some(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_break_is_a_gate_on_a_host() {
        let line = r#"{"ts":"t","event":"gate","decision":"break_lock","host":"web"}"#;
        let parsed: Line = serde_json::from_str(line).expect("parses");
        assert_eq!(
            parsed.record,
            Record::Gate {
                step: None,
                decision: GateDecision::BreakLock,
                host: Some("web".into()),
                by: None,
                question: None,
            }
        );
        assert_eq!(serde_json::to_string(&parsed).expect("serialize"), line);
    }
}
