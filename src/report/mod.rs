//! One past (or running) run as a report people read: `drydock show`. Built
//! by reading its journal line by line ([`Reader`], which a replay can
//! share), then completed from the runbook, when it is still the one the run
//! started with, with the steps that never started.
//!
//! Every string of a report is passed through the sanitiser before it is
//! printed ([`Report::sanitized`]), as text or as JSON.
//!
//! The same journal read as the engine's events again, for the TUI's
//! `replay` and `watch`, is in [`replay`], with the plan it is shown with in
//! [`plan`].

mod build;
pub mod history;
pub mod plan;
pub mod replay;
mod text;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use build::Reader;
pub use text::render;

use crate::journal::{FindError, JournalError};

/// How many stderr lines of a failed command the report keeps.
pub const STDERR_TAIL: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub run_id: String,
    /// The runbook's path when the run started.
    pub runbook: String,
    pub runbook_sha256: String,
    pub runbook_file: RunbookFile,
    pub user: String,
    pub hosts: Vec<String>,
    pub started: String,
    /// When `run_finished` (or `run_interrupted`) was written.
    pub ended: Option<String>,
    /// `ok`, `failed`, `aborted`, `interrupted`, or `unfinished` (still
    /// running, or cut short by a crash).
    pub result: String,
    pub exit_code: Option<i32>,
    pub interrupted: Option<Interruption>,
    /// In the runbook's order when it is known, else in the order they ran.
    pub steps: Vec<StepReport>,
    /// Every answer given, in order.
    pub answers: Vec<Answer>,
    pub connections: Vec<ConnectionNote>,
    /// What drydock told the admin that is no step's outcome (a host
    /// without SFTP, a lock it could not release).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<NoticeNote>,
    /// Every step not done on a host, with why.
    pub left_undone: Vec<LeftUndone>,
    /// What this report cannot tell, and why.
    pub notes: Vec<String>,
}

/// The runbook file now, beside the one the run started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunbookFile {
    /// There, and as it was when the run started.
    Unchanged,
    /// There, but edited since.
    Changed,
    Gone,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interruption {
    pub at: String,
    pub signal: String,
    pub running: Vec<crate::journal::Running>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub step: String,
    /// From the runbook, when it is still the one the run used.
    pub title: Option<String>,
    pub hosts: Vec<HostReport>,
}

/// One step on one host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostReport {
    pub host: String,
    /// `ok`, `failed`, `skipped`, `timeout`, `lost`, `unknown` (the run
    /// stopped while it ran), `running`, or `not run`.
    pub status: String,
    /// How many times its command was started.
    pub attempts: u32,
    pub command: Option<String>,
    pub started: Option<String>,
    pub finished: Option<String>,
    /// Of the last attempt.
    pub duration_ms: Option<u64>,
    pub exit_code: Option<i32>,
    /// Why it was skipped or failed, what a guard or check saw.
    pub reason: Option<String>,
    /// The remote process group of its command.
    pub pid: Option<u32>,
    pub condition: Option<ConditionNote>,
    pub previews: Vec<PreviewNote>,
    /// Checks of a guard, and how many held.
    pub guard_polls: u32,
    pub guard_held: u32,
    pub captures: Vec<CaptureNote>,
    pub inputs: Vec<InputNote>,
    pub sudo: Vec<SudoNote>,
    /// Every failed attempt.
    pub failures: Vec<Failure>,
    pub undo: Option<UndoReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionNote {
    pub command: String,
    pub holds: bool,
    /// Why it could not be checked (it then does not hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewNote {
    pub command: String,
    pub lines: Vec<String>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureNote {
    pub var: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputNote {
    pub at: String,
    /// None when it was masked, and for the end of input.
    pub text: Option<String>,
    pub masked: bool,
    /// `^D` was sent rather than a line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub end_of_input: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SudoNote {
    pub asked: bool,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub attempt: u32,
    pub status: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// The last lines it printed on stderr.
    pub last_stderr: Vec<String>,
}

/// A step's undo command, run after a failure (`u`) or in a rollback.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UndoReport {
    pub command: String,
    /// The remote process group of the undo command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `ok`, `failed`, ..., or `running`.
    pub status: String,
    pub exit_code: Option<i32>,
    pub duration_ms: Option<u64>,
    pub reason: Option<String>,
    pub last_stderr: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub at: String,
    pub step: Option<String>,
    /// For a question about a host (breaking its lock).
    pub host: Option<String>,
    pub decision: String,
    /// `admin`, `--yes` or `nobody`; None in journals that did not record it.
    pub by: Option<String>,
    /// What was asked when it was not whether to run the step (see the
    /// journal's `gate`): `undo`, `still_running`, `rollback_plan`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeNote {
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionNote {
    pub at: String,
    pub host: String,
    pub state: String,
    pub reason: Option<String>,
    /// Where the connection went (`user@host:port via ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeftUndone {
    pub step: String,
    pub host: String,
    pub why: String,
}

/// Why a run cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Find(#[from] FindError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{} is not a run's journal: it does not start with run_started", crate::sanitize::line(&.0.display().to_string()))]
    NotAJournal(std::path::PathBuf),
}

/// The report of the run `id` (or the only one whose id starts with it) in `dir`.
pub fn for_run(dir: &Path, id: &str) -> Result<Report, ReportError> {
    let path = crate::journal::find_run(dir, id)?;
    let mut reader = Reader::new();
    crate::journal::read_each(&path, |line| reader.take(line))?;
    reader
        .finish()
        .ok_or_else(|| ReportError::NotAJournal(path.clone()))
}

impl Report {
    /// The report with every string through the one sanitiser: no control
    /// sequence, no bidi override, one line each.
    pub fn sanitized(&self) -> Report {
        let mut value = match serde_json::to_value(self) {
            Ok(v) => v,
            // A report is plain data: it always serialises.
            Err(_) => return self.clone(),
        };
        sanitize_strings(&mut value);
        serde_json::from_value(value).unwrap_or_else(|_| self.clone())
    }
}

/// Every string in `value` (keys are drydock's own) through the sanitiser.
pub fn sanitize_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            if let std::borrow::Cow::Owned(clean) = crate::sanitize::line(s) {
                *s = clean;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(sanitize_strings),
        serde_json::Value::Object(map) => map.values_mut().for_each(sanitize_strings),
        _ => {}
    }
}
