//! `--resume`: the runbook compared with the one the run started with, the
//! outcomes journaled so far, the commands an interrupted run left running,
//! and the admin asked before the run goes on.

use std::time::Duration;

use super::event::*;
use super::runner::{Engine, Flow};
use crate::journal::Outcome;

/// How often a command left running by an earlier try is looked at
/// while the admin waits for it.
const STILL_RUNNING_POLL: Duration = Duration::from_secs(1);

impl Engine {
    /// Whether to go on: true unless the run is resumed with a runbook
    /// changed since it started and the admin declines. `--yes` does not
    /// answer this question.
    pub(super) async fn runbook_unchanged(&mut self) -> bool {
        let Some(summary) = &self.opts.resume else {
            return true;
        };
        let journaled = summary.runbook_sha256.clone();
        let now = self.plan().sha256.clone();
        if journaled == now {
            return true;
        }
        tracing::info!(%journaled, %now, "the runbook changed since the run started");
        let first = self.first_pending().unwrap_or(0);
        let decision = self
            .ask(Prompt {
                step: first,
                kind: PromptKind::RunbookChanged { journaled, now },
                hosts: Vec::new(),
                commands: Vec::new(),
                previews: Vec::new(),
                banner: Vec::new(),
                choices: vec![Decision::Run, Decision::Abort],
            })
            .await;
        decision == Decision::Run
    }

    /// The first step not settled on every host it runs on.
    fn first_pending(&self) -> Option<StepIx> {
        (0..self.plan().steps.len()).find(|&s| {
            self.targets(s)
                .iter()
                .any(|&h| !self.outcomes.get(&(s, h)).is_some_and(|o| o.is_settled()))
        })
    }

    /// A resumed run: the outcomes journaled so far, the interrupted steps
    /// marked unknown, their commands waited for or ended if still running,
    /// and the admin asked before going on. Returns the step it resumes at,
    /// or the flow when there is nothing more to do.
    pub(super) async fn resume(&mut self) -> Result<Option<StepIx>, Flow> {
        let Some(summary) = self.opts.resume.clone() else {
            return Ok(None);
        };
        self.outcomes = super::resume_outcomes(self.plan(), &summary);
        let mut interrupted = Vec::new();
        for (step, host) in &summary.interrupted {
            let (Some(s), Some(h)) = (self.plan().step_index(step), self.plan().host_index(host))
            else {
                continue;
            };
            interrupted.push((s, h));
            self.outcomes.insert((s, h), Outcome::Unknown);
            self.emit(Event::StepFinished {
                step: s,
                host: h,
                outcome: Outcome::Unknown,
                exit: None,
                duration: Duration::ZERO,
                phase: Phase::Main,
                message: Some(
                    "interrupted: drydock stopped while this ran; its outcome is unknown".into(),
                ),
            })
            .await;
        }
        for ((step, host), pid) in &summary.processes {
            let (Some(s), Some(h)) = (self.plan().step_index(step), self.plan().host_index(host))
            else {
                continue;
            };
            if self.participants.contains(&h) && !self.settle_left_running(s, h, *pid).await {
                return Err(Flow::Abort);
            }
        }
        let Some(next) = self.first_pending() else {
            return Err(Flow::Next);
        };
        let decision = self
            .ask(Prompt {
                step: next,
                kind: PromptKind::Resume { interrupted },
                hosts: self.targets(next),
                commands: Vec::new(),
                previews: Vec::new(),
                banner: Vec::new(),
                choices: vec![Decision::Run, Decision::Abort],
            })
            .await;
        match decision {
            Decision::Abort => Err(Flow::Abort),
            _ => Ok(Some(next)),
        }
    }

    /// The command an earlier try of `step` left running on `host` (process
    /// group `pid`): the interrupted run's, or one whose connection was
    /// lost. While it runs, ask to wait for it, kill it or abort, so that a
    /// step never runs twice at once on one host. False when the admin aborted.
    pub(super) async fn settle_left_running(
        &mut self,
        step: StepIx,
        host: HostIx,
        pid: u32,
    ) -> bool {
        if !self.ctx.process_alive(host, pid).await {
            tracing::debug!(pid, "an earlier try's command has ended");
            return true;
        }
        let name = self.plan().hosts[host].name.clone();
        tracing::info!(pid, host = %name, "an earlier try's command still runs");
        let decision = self
            .ask(Prompt {
                step,
                kind: PromptKind::StillRunning { host, pid },
                hosts: vec![host],
                commands: vec![(host, format!("process group {pid}"))],
                previews: Vec::new(),
                banner: Vec::new(),
                choices: vec![Decision::Wait, Decision::Kill, Decision::Abort],
            })
            .await;
        match decision {
            Decision::Wait => self.wait_until_ended(step, host, pid).await,
            Decision::Kill => {
                self.ctx.end_process(host, pid).await;
                if self.ctx.process_alive(host, pid).await {
                    self.emit(Event::Notice {
                        step: Some(step),
                        text: format!(
                            "{name}: process group {pid} outlived the kill; waiting for it"
                        ),
                    })
                    .await;
                    return self.wait_until_ended(step, host, pid).await;
                }
                true
            }
            _ => false,
        }
    }

    /// Wait until process group `pid` on `host` is gone; false when the
    /// admin aborts meanwhile.
    async fn wait_until_ended(&mut self, step: StepIx, host: HostIx, pid: u32) -> bool {
        let name = self.plan().hosts[host].name.clone();
        self.emit(Event::Notice {
            step: Some(step),
            text: format!(
                "{name}: waiting for process group {pid}, left running by an earlier try, to end"
            ),
        })
        .await;
        loop {
            tokio::select! {
                () = tokio::time::sleep(STILL_RUNNING_POLL) => {
                    if !self.ctx.process_alive(host, pid).await {
                        self.emit(Event::Notice {
                            step: Some(step),
                            text: format!("{name}: process group {pid} has ended"),
                        })
                        .await;
                        return true;
                    }
                }
                // Nobody left to answer: waiting is what --yes would do.
                d = self.next_decision(), if !self.unattended => {
                    if d == Some(Decision::Abort) {
                        self.decided(step, Decision::Abort, AnsweredBy::Admin).await;
                        return false;
                    }
                }
            }
        }
    }
}
