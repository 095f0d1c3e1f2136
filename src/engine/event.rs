//! What the engine tells its front ends, and what they answer.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use super::budget::Credit;
pub use super::output::Lines;
use crate::journal::{Outcome, RunStatus};
use crate::remote::ExitStatus;

pub type StepIx = usize;
pub type HostIx = usize;

/// Whether a command is a step's own action or its undo during a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Main,
    Undo,
}

#[derive(Debug, Clone)]
pub enum Event {
    RunStarted {
        run_id: String,
        journal: Option<PathBuf>,
        resumed: bool,
        dry_run: bool,
    },
    HostConnecting {
        host: HostIx,
    },
    HostConnected {
        host: HostIx,
    },
    /// A host could not be connected, or used (its lock could not be made),
    /// or could not be connected again after a loss: `error` says why.
    HostFailed {
        host: HostIx,
        error: String,
        /// The cause in a few words, for a line that names the host already.
        cause: String,
    },
    /// A host's connection ended by itself while the run went on; the next
    /// operation on it connects again.
    HostLost {
        host: HostIx,
        reason: String,
    },
    /// A host's connection was made again after it was lost.
    HostReconnected {
        host: HostIx,
    },
    LockTaken {
        host: HostIx,
        path: String,
    },
    LockHeld {
        host: HostIx,
        path: String,
        holder: String,
    },
    /// A step not run on a host, with why (condition false, before `--from`,
    /// done in the run being resumed, dry run).
    StepSkipped {
        step: StepIx,
        host: HostIx,
        reason: String,
        /// Already settled in the run being resumed: shown, not journaled again.
        earlier: Option<Outcome>,
    },
    StepStarted {
        step: StepIx,
        host: HostIx,
        command: String,
        phase: Phase,
        attempt: u32,
    },
    /// Lines a command printed that arrived together, in order: one event
    /// for a burst, so that a step printing millions of lines is cheap.
    /// `phase` tells an undo's output from the step's own.
    Output {
        step: StepIx,
        host: HostIx,
        phase: Phase,
        /// They hold their bytes of the output budget until the front end
        /// drops them (see `budget`).
        lines: Lines,
    },
    StepFinished {
        step: StepIx,
        host: HostIx,
        outcome: Outcome,
        exit: Option<ExitStatus>,
        duration: Duration,
        phase: Phase,
        message: Option<String>,
    },
    GuardPolled {
        step: StepIx,
        host: HostIx,
        ok: bool,
        detail: String,
        checks: u32,
        next_check: Option<Duration>,
    },
    /// A step's preview ran on a host (before its gate, or in a dry run).
    Previewed {
        step: StepIx,
        preview: PreviewOutput,
    },
    /// A step's `when` condition was checked on a host.
    ConditionChecked {
        step: StepIx,
        host: HostIx,
        command: String,
        holds: bool,
        /// Why it could not be checked (it then does not hold).
        error: Option<String>,
    },
    /// A `wait` step (or the banner's start time) counting down.
    Waiting {
        step: StepIx,
        until: DateTime<Utc>,
    },
    /// The engine waits for a [`Decision`].
    Prompt(Prompt),
    /// A decision taken (by the admin, or by `--yes`).
    Decided {
        step: StepIx,
        decision: Decision,
        automatic: bool,
    },
    /// Something worth a line that is not a step's own output.
    Notice {
        step: Option<StepIx>,
        text: String,
    },
    RollbackStarted,
    /// A `[logs]` entry is followed (again, after a lost connection).
    LogFollowing {
        log: usize,
    },
    /// A line of a `[logs]` entry, sanitized like command output, holding
    /// its bytes of the output budget as `Output` does.
    LogLine {
        log: usize,
        line: String,
        credit: Credit,
    },
    /// A `[logs]` entry stopped; the engine tries again while the run lasts.
    LogStopped {
        log: usize,
        reason: String,
    },
    RunFinished {
        status: RunStatus,
        exit_code: i32,
        journal: Option<PathBuf>,
    },
}

#[derive(Debug, Clone)]
pub struct Prompt {
    /// The step the question is about. A lock break is about a host, not a
    /// step: there it is the runbook's first step, whose id the admin types
    /// to confirm.
    pub step: StepIx,
    pub kind: PromptKind,
    pub hosts: Vec<HostIx>,
    /// The exact command per host, after templating.
    pub commands: Vec<(HostIx, String)>,
    pub previews: Vec<PreviewOutput>,
    pub choices: Vec<Decision>,
}

#[derive(Debug, Clone)]
pub enum PromptKind {
    /// Ask before the step runs.
    Gate,
    /// A step the admin does by hand, then ticks off.
    Manual { instructions: String },
    /// The step failed on some hosts.
    Failure { failures: Vec<HostFailure> },
    /// Continue an interrupted run here.
    Resume { interrupted: Vec<(StepIx, HostIx)> },
    /// During a rollback: run this step's undo?
    Undo,
    /// During a rollback: run this `always` step?
    Always,
    /// Another run holds the lock on `host`: break it, or abort?
    LockBreak {
        host: HostIx,
        path: String,
        holder: String,
    },
}

#[derive(Debug, Clone)]
pub struct HostFailure {
    pub host: HostIx,
    pub outcome: Outcome,
    pub exit: Option<ExitStatus>,
    pub message: Option<String>,
    pub last_stderr: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PreviewOutput {
    pub host: HostIx,
    pub command: String,
    pub lines: Vec<String>,
    pub exit: Option<ExitStatus>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Run,
    Skip,
    Retry,
    Undo,
    Abort,
    /// Treat a guard as holding though it does not.
    Override,
    /// Remove the lock another run holds on `host`, and take it. The host is
    /// part of the answer so that it cannot be taken for another host's lock.
    BreakLock {
        host: HostIx,
    },
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Run => "run",
            Decision::Skip => "skip",
            Decision::Retry => "retry",
            Decision::Undo => "undo",
            Decision::Abort => "abort",
            Decision::Override => "override",
            Decision::BreakLock { .. } => "break_lock",
        }
    }
}
