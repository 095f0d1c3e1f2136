//! Asking the admin: one question at a time, the answers `--yes` gives,
//! what stands for an answer once nobody can give one, and every answer
//! journaled.

use super::event::*;
use super::runner::Engine;
use crate::journal::{AnsweredBy, Record};

impl Engine {
    /// Wait for the admin's decision on `prompt` (or take `--yes`'s). When
    /// nobody can answer any more, the question is still shown, and answered
    /// abort, or leave where abort is not an answer (an `always` step).
    pub(super) async fn ask(&mut self, prompt: Prompt) -> Decision {
        while self.inbox.try_recv().is_ok() {}
        let step = prompt.step;
        let auto = self.opts.yes
            && matches!(
                prompt.kind,
                PromptKind::Gate
                    | PromptKind::Manual { .. }
                    | PromptKind::Resume { .. }
                    | PromptKind::RollbackPlan { .. }
                    | PromptKind::Undo
                    | PromptKind::Always
                    | PromptKind::From { .. }
            )
            && prompt.choices.contains(&Decision::Run);
        let yes_waits = self.opts.yes
            && matches!(prompt.kind, PromptKind::StillRunning { .. })
            && prompt.choices.contains(&Decision::Wait);
        let question = question_asked(&prompt.kind);
        let mut by = AnsweredBy::Admin;
        let decision = if auto || yes_waits {
            by = AnsweredBy::Yes;
            if auto { Decision::Run } else { Decision::Wait }
        } else {
            let choices = prompt.choices.clone();
            self.emit(Event::Prompt(prompt)).await;
            loop {
                if self.unattended {
                    by = AnsweredBy::Nobody;
                    break unanswered(&choices);
                }
                match self.inbox.recv().await {
                    Some(d) if choices.contains(&d) => break d,
                    Some(_) => continue,
                    None => {
                        tracing::info!("nobody can answer any more");
                        self.unattended = true;
                    }
                }
            }
        };
        match question {
            Some((name, names_step, host)) => {
                let plan = self.plan();
                let record = Record::Gate {
                    step: names_step.then(|| plan.steps[step].id.clone()),
                    decision: super::emitter::gate_decision(decision),
                    host: host.map(|h| plan.hosts[h].name.clone()),
                    by: Some(by),
                    question: Some(name.to_string()),
                };
                tracing::debug!(
                    question = name,
                    decision = decision.as_str(),
                    ?by,
                    "decided"
                );
                self.ctx.emitter.write_record(record).await;
                let event = Event::Decided { step, decision, by };
                self.ctx.emitter.outbox().send(event).await;
            }
            None => self.decided(step, decision, by).await,
        }
        decision
    }

    pub(super) async fn decided(&self, step: StepIx, decision: Decision, by: AnsweredBy) {
        tracing::debug!(step = %self.plan().steps[step].id, decision = decision.as_str(), ?by, "decided");
        self.emit(Event::Decided { step, decision, by }).await;
    }
}

/// A question that is not whether to run a step is journaled by what it
/// asks: its name, whether the step it is shown with belongs in the record,
/// and the host it is about.
fn question_asked(kind: &PromptKind) -> Option<(&'static str, bool, Option<HostIx>)> {
    match kind {
        PromptKind::RollbackPlan { .. } => Some(("rollback_plan", false, None)),
        PromptKind::From { .. } => Some(("from", true, None)),
        PromptKind::RunbookChanged { .. } => Some(("runbook_changed", false, None)),
        PromptKind::JournalFailed { .. } => Some(("journal", true, None)),
        PromptKind::StillRunning { host, .. } => Some(("still_running", true, Some(*host))),
        PromptKind::Failure { .. } => Some(("failure", true, None)),
        PromptKind::Resume { .. } => Some(("resume", true, None)),
        PromptKind::Undo => Some(("undo", true, None)),
        PromptKind::Always => Some(("always", true, None)),
        PromptKind::Gate | PromptKind::Manual { .. } | PromptKind::LockBreak { .. } => None,
    }
}

/// The answer to a question nobody can answer any more: abort, or leave
/// where abort is not an answer.
fn unanswered(choices: &[Decision]) -> Decision {
    [Decision::Abort, Decision::Leave]
        .into_iter()
        .find(|d| choices.contains(d))
        .unwrap_or(Decision::Abort)
}
