//! The end of a run: what it tells (every step not done on each host, and
//! why; for a dry run, the checks it could not make), and its last record.

use super::event::*;
use super::runner::Engine;
use super::{RunResult, exit};
use crate::journal::{Outcome, RunStatus};

impl Engine {
    pub(super) async fn finish(mut self, status: RunStatus, exit_code: i32) -> RunResult {
        // The connections are still watched while the locks go: a host
        // connected again to release its lock is journaled as such.
        self.release_locks().await;
        self.tails.cancel();
        let journal = self.ctx.emitter.journal_path();
        let not_done = self.not_done(status, exit_code);
        tracing::info!(run_id = %self.run_id, ?status, exit_code, not_done = not_done.len(), "run finished");
        // Journaled (and the journal flushed) before it is sent: the journal
        // is whole on disk when the front end hears that the run is over.
        self.emit(Event::RunFinished {
            status,
            exit_code,
            journal: journal.clone(),
            not_done,
        })
        .await;
        RunResult {
            status,
            exit_code,
            journal,
            interrupted: None,
        }
    }

    /// End without finishing the run in its journal, which stays as it was
    /// for a later `--resume`: the admin declined to go on with a runbook
    /// changed since. Nothing ran; the front end is told, the journal not.
    pub(super) async fn leave_unfinished(self) -> RunResult {
        let journal = self.ctx.emitter.journal_path();
        tracing::info!(run_id = %self.run_id, "resume declined; the run stays unfinished");
        let event = Event::RunFinished {
            status: RunStatus::Aborted,
            exit_code: exit::ABORTED,
            journal: journal.clone(),
            not_done: Vec::new(),
        };
        self.ctx.emitter.outbox().send(event).await;
        RunResult {
            status: RunStatus::Aborted,
            exit_code: exit::ABORTED,
            journal,
            interrupted: None,
        }
    }

    /// Every (step, host) of the run not done, in the runbook's order, with
    /// why: skipped and why, failed and how, done then undone, left in the
    /// rollback, or not reached (worded as `drydock show` words a journal
    /// without this list). A dry run does nothing, which is its point: it
    /// lists none.
    pub(super) fn not_done(&self, status: RunStatus, exit_code: i32) -> Vec<NotDone> {
        if self.opts.dry_run {
            return Vec::new();
        }
        let at = self.ended_at.map(|s| self.plan().steps[s].id.as_str());
        let not_reached = match (status, at) {
            (RunStatus::Ok, _) => "not run".to_string(),
            // No step starts unrecorded: this is why the run stopped.
            (RunStatus::Failed, _) if self.ctx.emitter.journal_error().is_some() => {
                "not reached: the journal could not be written, so nothing more ran".to_string()
            }
            (RunStatus::Failed, Some(step)) => {
                format!("not reached: the run stopped after {step} failed")
            }
            (RunStatus::Failed, None) => exit::not_reached(exit_code).to_string(),
            (RunStatus::Aborted, Some(step)) => {
                format!("not reached: the run was aborted at {step}")
            }
            (RunStatus::Aborted, None) => "not reached: the run was aborted".to_string(),
        };
        let mut out = Vec::new();
        for step in 0..self.plan().steps.len() {
            for host in self.targets(step) {
                let undone = self
                    .undo_commands_ok
                    .iter()
                    .any(|(s, h, _)| *s == step && *h == host);
                let outcome = self.outcomes.get(&(step, host)).copied();
                let why = match (outcome, self.why_not.get(&(step, host))) {
                    (Some(Outcome::Ok), _) if undone => "done, then undone".to_string(),
                    (Some(Outcome::Ok), _) => continue,
                    (Some(Outcome::Unknown), _) => {
                        "its outcome is unknown: the run stopped while it ran".to_string()
                    }
                    // Undone after what `why` tells, unless it tells that too.
                    (_, Some(why)) if undone && !why.contains("undone") => {
                        format!("{why}, then undone")
                    }
                    (_, Some(why)) => why.clone(),
                    (Some(o), None) => format!("{} (earlier in this run)", o.as_str()),
                    (None, None) => not_reached.clone(),
                };
                out.push(NotDone { step, host, why });
            }
        }
        out
    }

    /// Tell which checks a dry run could not make, or found not holding:
    /// they are why it exits non-zero.
    pub(super) async fn report_dry_run_problems(&mut self) {
        let problems = std::mem::take(&mut self.dry_run_problems);
        let text = format!(
            "dry run: {} check{} could not be made or would not pass now: {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("; ")
        );
        self.emit(Event::Notice { step: None, text }).await;
    }
}
