//! Runs a [`Plan`]: a state machine that emits [`Event`]s and waits for
//! [`Decision`]s. It knows nothing of terminals; the TUI and headless mode are
//! two front ends on the same channels.

mod ask;
mod banner;
mod budget;
mod capture;
mod ctx;
mod dry_run;
mod emitter;
mod error;
pub mod event;
mod exec;
mod failure;
mod gate;
mod guard;
pub mod http;
mod interact;
mod lock;
mod notify;
pub mod output;
mod process;
mod redact;
mod resume;
mod rollback;
mod rolling;
mod runner;
mod sudo;
mod summary;
mod tail;
mod wait;
mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use error::StepError;
pub use event::*;
pub use guard::GUARD_OVERRIDDEN;
pub use interact::InputSender;
pub use redact::Redactor;
pub use runner::CONNECTS_AT_ONCE;
pub use tail::follow_logs;

use crate::journal::{self, Journal, JournalError, Outcome, RunStatus, RunSummary};
use crate::remote::Prompter;
use crate::runbook::Plan;

/// Exit statuses of `drydock run`, as DESIGN.md fixes them.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const ABORTED: i32 = 3;
    pub const LOCKED: i32 = 4;
    pub const UNREACHABLE: i32 = 5;

    /// Why a step was not reached when the run stopped without a failed
    /// step to name: before any step, for a host or a lock, or otherwise.
    pub fn not_reached(code: i32) -> &'static str {
        match code {
            UNREACHABLE => "not reached: a host could not be reached or used, so nothing ran",
            LOCKED => "not reached: the lock is held by another run, so nothing ran",
            _ => "not reached: the run stopped on a failure",
        }
    }
}

pub struct Options {
    /// Answer every gate with run and tick off every manual step.
    pub yes: bool,
    /// Gate every step.
    pub step_mode: bool,
    pub dry_run: bool,
    /// Start at this step; the ones before are skipped.
    pub from: Option<usize>,
    /// Only these hosts take part (`--host`); empty means all.
    pub only_hosts: Vec<usize>,
    pub journal_dir: PathBuf,
    /// Continue this interrupted run.
    pub resume: Option<RunSummary>,
    /// Asks the admin while connecting (host keys, passphrases).
    pub prompter: Arc<dyn Prompter>,
    /// Offer to break a lock held by another run instead of stopping.
    pub offer_lock_break: bool,
    /// Follow the runbook's `[logs]` on the run's own connections.
    pub tail_logs: bool,
}

pub struct RunResult {
    pub status: RunStatus,
    pub exit_code: i32,
    pub journal: Option<PathBuf>,
    /// Set when a signal stopped the run.
    pub interrupted: Option<Interruption>,
}

/// A run under way: read its events, send it decisions, await its end.
pub struct RunHandle {
    pub run_id: String,
    pub events: mpsc::Receiver<Event>,
    pub decisions: mpsc::Sender<Decision>,
    /// Typed input for the running commands.
    pub inputs: InputSender,
    pub interrupt: Interrupt,
    pub task: JoinHandle<RunResult>,
}

/// Tells a run that a signal (SIGTERM, SIGHUP) came: nobody can answer its
/// questions any more. The run starts nothing new, journals what was
/// running, keeps its lock and banner, and ends with
/// [`Event::RunInterrupted`].
#[derive(Clone)]
pub struct Interrupt(mpsc::Sender<&'static str>);

impl Interrupt {
    /// `signal` is its name, as journaled (`SIGTERM`).
    pub fn signal(&self, signal: &'static str) {
        // Only the first one counts; later ones find the channel full.
        let _ = self.0.try_send(signal);
    }
}

/// Start a run of `plan`. Fails only when the journal cannot be written.
pub fn start(plan: Arc<Plan>, options: Options) -> Result<RunHandle, JournalError> {
    let (event_tx, event_rx) = mpsc::channel(1024);
    let (decision_tx, decision_rx) = mpsc::channel(16);
    let (run_id, journal) = match &options.resume {
        Some(summary) => (
            summary.run_id.clone(),
            Some(Journal::append_to(&summary.path)?),
        ),
        None => {
            let run_id = crate::clock::new_run_id();
            let journal = if options.dry_run {
                None
            } else {
                Some(Journal::create(&options.journal_dir, &run_id)?)
            };
            (run_id, journal)
        }
    };
    let (interrupt_tx, interrupt_rx) = mpsc::channel(1);
    let emitter = emitter::Emitter::new(plan.clone(), event_tx, journal);
    let routes = Arc::new(interact::Routes::default());
    let inputs = InputSender(routes.clone());
    let engine = runner::Engine::new(plan, options, run_id.clone(), emitter, decision_rx, routes);
    let task = tokio::spawn(engine.run(interrupt_rx));
    Ok(RunHandle {
        run_id,
        events: event_rx,
        decisions: decision_tx,
        inputs,
        interrupt: Interrupt(interrupt_tx),
        task,
    })
}

/// The plan as a front end shows it: every name, title and note with the
/// run's secrets replaced and control sequences removed, as the engine does
/// for the strings of its events.
pub fn shown_plan(plan: &Plan) -> Plan {
    redact::Redactor::for_plan(plan).shown_plan(plan)
}

/// Why there is no run to resume.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("no run '{run_id}' in {}; `drydock history` lists the runs", dir.display())]
    NoSuchRun { run_id: String, dir: PathBuf },
    #[error("run '{run_id}' already finished ({}); there is nothing to resume", status_word(*status))]
    Finished { run_id: String, status: RunStatus },
    #[error(
        "no unfinished run of {} in {}; `drydock history` lists the runs",
        runbook.display(),
        dir.display()
    )]
    NothingUnfinished { runbook: PathBuf, dir: PathBuf },
}

fn status_word(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Ok => "ok",
        RunStatus::Failed => "failed",
        RunStatus::Aborted => "aborted",
    }
}

/// The latest unfinished run of `runbook` in `dir`, or the run named.
pub fn find_resumable(
    dir: &std::path::Path,
    runbook: &std::path::Path,
    run_id: Option<&str>,
) -> Result<RunSummary, ResumeError> {
    let runs = journal::list_runs(dir)?;
    let wanted = runbook_key(runbook);
    if let Some(id) = run_id {
        let run =
            runs.into_iter()
                .find(|r| r.run_id == id)
                .ok_or_else(|| ResumeError::NoSuchRun {
                    run_id: id.to_string(),
                    dir: dir.to_path_buf(),
                })?;
        if let Some((status, _)) = run.finished {
            return Err(ResumeError::Finished {
                run_id: id.to_string(),
                status,
            });
        }
        return Ok(run);
    }
    runs.into_iter()
        .rev()
        .find(|r| r.finished.is_none() && runbook_key(std::path::Path::new(&r.runbook)) == wanted)
        .ok_or_else(|| ResumeError::NothingUnfinished {
            runbook: runbook.to_path_buf(),
            dir: dir.to_path_buf(),
        })
}

/// How a runbook is named in the journal: its absolute path.
pub fn runbook_key(path: &std::path::Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// What a resumed run knows of its steps, by index.
pub(crate) fn resume_outcomes(
    plan: &Plan,
    summary: &RunSummary,
) -> HashMap<(usize, usize), Outcome> {
    let mut out = HashMap::new();
    for ((step, host), outcome) in &summary.outcomes {
        if let (Some(s), Some(h)) = (plan.step_index(step), plan.host_index(host)) {
            // A secret capture was not journaled: its step runs again.
            let secret_capture = plan.steps[s]
                .capture
                .as_ref()
                .is_some_and(|v| plan.is_secret(v));
            if !secret_capture {
                out.insert((s, h), *outcome);
            }
        }
    }
    out
}
