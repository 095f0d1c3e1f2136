//! A step that failed: what it did on each host recorded, and the admin
//! asked what to do (retry, skip, undo once, abort).

use super::ctx::HostResult;
use super::event::*;
use super::runner::{Engine, Flow};
use crate::journal::Outcome;

impl Engine {
    /// Record what a step did on each host: its outcome, that it ran (for
    /// the undo offers), and why it is not done where it is not.
    pub(super) fn settle(&mut self, ix: StepIx, results: &[HostResult]) {
        for r in results {
            self.outcomes.insert((ix, r.host), r.outcome);
            if !r.never_ran {
                self.ran.push((ix, r.host));
            }
            if r.outcome == Outcome::Ok {
                self.why_not.remove(&(ix, r.host));
            } else {
                let how = r
                    .exit
                    .as_ref()
                    .map(ToString::to_string)
                    .or_else(|| r.message.clone());
                let why = match how {
                    Some(how) => format!("{} ({how})", r.outcome.as_str()),
                    None => r.outcome.as_str().to_string(),
                };
                self.why_not.insert((ix, r.host), why);
            }
        }
    }

    /// Ask what to do about a step that failed on some hosts; `None` means
    /// run it again there. Its undo is offered once: after it ran, the
    /// question shows how it went instead.
    pub(super) async fn pause_on_failure(
        &mut self,
        ix: StepIx,
        failures: &[HostResult],
    ) -> Option<Flow> {
        let failed_hosts: Vec<HostIx> = failures.iter().map(|f| f.host).collect();
        // Only where the command started: elsewhere there is nothing to undo.
        let undoable: Vec<HostIx> = failures
            .iter()
            .filter(|f| !f.never_ran)
            .map(|f| f.host)
            .collect();
        let has_undo = self.plan().steps[ix].undo.is_some() && !undoable.is_empty();
        let mut undo = Vec::new();
        loop {
            let mut choices = vec![Decision::Retry, Decision::Skip];
            if has_undo && undo.is_empty() {
                choices.push(Decision::Undo);
            }
            choices.push(Decision::Abort);
            let failures = failures
                .iter()
                .map(|f| HostFailure {
                    host: f.host,
                    outcome: f.outcome,
                    exit: f.exit.clone(),
                    message: f.message.clone(),
                    last_stderr: f.last_stderr.clone(),
                })
                .collect();
            let decision = self
                .ask(Prompt {
                    step: ix,
                    kind: PromptKind::Failure {
                        failures,
                        undo: undo.clone(),
                    },
                    hosts: failed_hosts.clone(),
                    commands: self.commands(ix, &failed_hosts),
                    previews: Vec::new(),
                    banner: Vec::new(),
                    choices,
                })
                .await;
            match decision {
                Decision::Retry => return None,
                Decision::Skip => {
                    let why = if undo.is_empty() {
                        "failed, then skipped by the admin"
                    } else {
                        "failed, undone, then skipped by the admin"
                    };
                    self.skip(ix, &failed_hosts, why).await;
                    return Some(Flow::Next);
                }
                Decision::Undo => {
                    undo = self
                        .undo(ix, &undoable)
                        .await
                        .into_iter()
                        .map(|r| UndoResult {
                            host: r.host,
                            outcome: r.outcome,
                            exit: r.exit,
                            message: r.message,
                        })
                        .collect();
                }
                _ => return Some(Flow::Abort),
            }
        }
    }
}
