//! What the engine tells its front ends, and what they answer.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use super::budget::Credit;
pub use super::output::Lines;
pub use crate::journal::AnsweredBy;
use crate::journal::{Outcome, RunStatus};
use crate::remote::{ExitStatus, Stream};

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
    /// The host waits for its turn to connect: only so many connections
    /// are opened at once.
    HostQueued {
        host: HostIx,
    },
    HostConnecting {
        host: HostIx,
        /// Where it goes, with the values actually used and where they came
        /// from: `root@10.0.0.5:2222 via admin@gw:22 (port 2222 from
        /// ~/.ssh/config)`, or `this machine`.
        to: String,
    },
    HostConnected {
        host: HostIx,
        /// Where it went, as `HostConnecting`'s `to`; journaled.
        to: String,
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
    /// A rolling block starts its steps on the next batch of its hosts.
    BatchStarted {
        /// The block's `rolling` label.
        label: String,
        /// 1-based.
        batch: usize,
        batches: usize,
        hosts: Vec<HostIx>,
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
    /// The line a command has begun and not ended yet, once its output
    /// paused: a prompt, most often. The next one replaces it, and the whole
    /// line comes in `Output` in the end (only that is journaled).
    PartialLine {
        step: StepIx,
        host: HostIx,
        phase: Phase,
        stream: Stream,
        text: String,
    },
    /// A command that takes typed input shows a partial line and has printed
    /// nothing since: most likely it waits for input.
    AwaitingInput {
        step: StepIx,
        host: HostIx,
        phase: Phase,
        prompt: String,
    },
    /// What came of sudo's password question for a command: `asked` when a
    /// password was sent, `ok` when sudo let the command run. Never the password.
    Sudo {
        step: StepIx,
        host: HostIx,
        phase: Phase,
        asked: bool,
        ok: bool,
    },
    /// Input typed into a running command: its text (the newline sent after
    /// it left out), none when masked; `end` for the end of input.
    Input {
        step: StepIx,
        host: HostIx,
        phase: Phase,
        text: Option<String>,
        masked: bool,
        end: bool,
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
    /// A decision taken (by the admin, by `--yes`, or for nobody).
    Decided {
        step: StepIx,
        decision: Decision,
        by: AnsweredBy,
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
        /// Every step not done on a host, and why, in the runbook's order.
        not_done: Vec<NotDone>,
    },
    /// A step's command told its remote process group.
    ProcessStarted {
        step: StepIx,
        host: HostIx,
        pid: u32,
        phase: Phase,
    },
    /// A step's trimmed stdout became a variable (`capture`).
    Captured {
        step: StepIx,
        host: HostIx,
        var: String,
        value: String,
    },
    /// A signal stopped the run: nothing more runs, the commands listed were
    /// left running on their hosts, the lock and the banner stay. The last
    /// event of the run: the front end leaves with [`super::exit::ABORTED`].
    RunInterrupted {
        signal: String,
        running: Vec<RunningCommand>,
        journal: Option<PathBuf>,
    },
}

/// A step not done on a host when the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDone {
    pub step: StepIx,
    pub host: HostIx,
    pub why: String,
}

/// A signal stopped the run: which, and what it left running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    pub signal: String,
    pub running: Vec<RunningCommand>,
}

/// A step's command that was running when the run was interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningCommand {
    pub step: StepIx,
    pub host: HostIx,
    /// Its remote process group, when the transport told it.
    pub pid: Option<u32>,
}

/// What a front end types into the command of `step` running on `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedInput {
    pub step: StepIx,
    pub host: HostIx,
    pub typed: Typed,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Typed {
    /// A line: the text, then a newline. Masked text is a secret: it is
    /// never shown or journaled, and replaced wherever it shows up.
    Line { text: String, masked: bool },
    /// End of input (^D).
    End,
}

/// Masked text stays out of debug prints (and so out of the log file).
impl std::fmt::Debug for Typed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Typed::Line { masked: true, .. } => f.write_str("Line(********)"),
            Typed::Line { text, .. } => write!(f, "Line({text:?})"),
            Typed::End => f.write_str("End"),
        }
    }
}

/// Why typed input did not reach a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputRefused {
    #[error("no command of this step is running on that host")]
    NotRunning,
    #[error("this command takes no typed input: only pty = true steps do")]
    NoInput,
    #[error("the command has not taken the last input yet")]
    Busy,
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
    /// What a `banner = "on"` step will publish, per host; empty for any
    /// other question.
    pub banner: Vec<BannerPreview>,
    pub choices: Vec<Decision>,
}

#[derive(Debug, Clone)]
pub enum PromptKind {
    /// Ask before the step runs.
    Gate,
    /// A step the admin does by hand, then ticks off.
    Manual { instructions: String },
    /// The step failed on some hosts. After the admin ran its undo, `undo`
    /// tells how that went, and the undo is no longer offered.
    Failure {
        failures: Vec<HostFailure>,
        undo: Vec<UndoResult>,
    },
    /// Continue an interrupted run here.
    Resume { interrupted: Vec<(StepIx, HostIx)> },
    /// Before a rollback: its whole plan, the undo of each step that ran
    /// (newest first), then the `always` steps, each with its hosts.
    RollbackPlan {
        undo: Vec<(StepIx, Vec<HostIx>)>,
        always: Vec<(StepIx, Vec<HostIx>)>,
    },
    /// During a rollback: run this step's undo?
    Undo,
    /// During a rollback: run this `always` step? Leaving it takes its own
    /// answer: abort is not one.
    Always,
    /// `--from`: these steps before it will not run; these guards before it
    /// are still checked.
    From {
        skipped: Vec<StepIx>,
        guards: Vec<StepIx>,
    },
    /// `--resume` of a run whose runbook has changed since (sha256).
    RunbookChanged { journaled: String, now: String },
    /// `--resume`: the command the interrupted run left on `host` (process
    /// group `pid`) is still running. Wait for it, kill it, or abort.
    StillRunning { host: HostIx, pid: u32 },
    /// A journal write failed: no new step starts until it is written.
    JournalFailed { error: String },
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

/// How a failed step's undo went on one host.
#[derive(Debug, Clone)]
pub struct UndoResult {
    pub host: HostIx,
    pub outcome: Outcome,
    pub exit: Option<ExitStatus>,
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PreviewOutput {
    pub host: HostIx,
    pub command: String,
    pub lines: Vec<String>,
    pub exit: Option<ExitStatus>,
    pub error: Option<String>,
}

/// What a `banner = "on"` step will publish on one host: the text users
/// will read, worked out when the step's question is asked.
#[derive(Debug, Clone)]
pub struct BannerPreview {
    pub host: HostIx,
    /// Where the banner goes on the host.
    pub path: String,
    /// `[banner] message`, rendered.
    pub message: String,
    /// The file's text when `[banner] content` makes it more than the
    /// message; `None` when the file holds the message itself.
    pub content: Option<String>,
    /// The start time announced (RFC 3339) as if the step ran now. The step
    /// takes the time again when it runs (then plus `lead`), so it is about
    /// this, later by as long as the question stays open.
    pub starts_at: String,
    /// How long after the banner goes up the work starts.
    pub lead: Duration,
    /// Why the text could not be worked out, when it could not.
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
    /// Do not run this undo or `always` step (in a rollback).
    Leave,
    /// Wait until a command left running by an interrupted run ends.
    Wait,
    /// End the process group of a command left running by an interrupted run.
    Kill,
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
            Decision::Leave => "leave",
            Decision::Wait => "wait",
            Decision::Kill => "kill",
        }
    }
}
