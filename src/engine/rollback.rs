//! Undoing: a failed step's undo at the admin's word, and the rollback after
//! an abort or a stop, which offers the undo of what ran and the `always` steps.

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::ctx::HostResult;
use super::event::*;
use super::runner::Engine;
use crate::runbook::Action;

impl Engine {
    /// Run the step's undo on `hosts`, all at once.
    pub(super) async fn undo(&mut self, ix: StepIx, hosts: &[HostIx]) {
        let Some(undo) = self.plan().steps[ix].undo.clone() else {
            return;
        };
        tracing::debug!(step = %self.plan().steps[ix].id, hosts = hosts.len(), "undo");
        self.undone.extend(hosts.iter().map(|&h| (ix, h)));
        let cancel = CancellationToken::new();
        let timeout = self.plan().steps[ix].timeout;
        let ctx = &self.ctx;
        let runs = hosts.iter().map(|&h| {
            let cancel = &cancel;
            let undo = &undo;
            async move {
                match ctx.command(ix, undo, h) {
                    Ok(cmd) => {
                        ctx.run_command(ix, h, cmd, Phase::Undo, timeout, 0, cancel)
                            .await
                    }
                    Err(e) => HostResult::failed(h, &e),
                }
            }
        });
        join_all(runs).await;
    }

    /// The undo offers of a rollback: each step that ran and has an undo not
    /// yet run, newest first, with its hosts.
    fn undo_offers(&self) -> Vec<(StepIx, Vec<HostIx>)> {
        let mut offers: Vec<(StepIx, Vec<HostIx>)> = Vec::new();
        for &(s, h) in self.ran.iter().rev() {
            if self.plan().steps[s].undo.is_none() || self.undone.contains(&(s, h)) {
                continue;
            }
            match offers.iter_mut().find(|(step, _)| *step == s) {
                Some((_, hosts)) if !hosts.contains(&h) => hosts.push(h),
                Some(_) => {}
                None => offers.push((s, vec![h])),
            }
        }
        offers
    }

    /// The `always` steps of a rollback, with the hosts where they have not run.
    fn always_offers(&self) -> Vec<(StepIx, Vec<HostIx>)> {
        (0..self.plan().steps.len())
            .filter(|&s| self.plan().steps[s].always)
            .map(|s| {
                let hosts = self
                    .targets(s)
                    .into_iter()
                    .filter(|&h| !self.outcomes.contains_key(&(s, h)))
                    .collect::<Vec<_>>();
                (s, hosts)
            })
            .filter(|(_, hosts)| !hosts.is_empty())
            .collect()
    }

    /// After an abort or a stop: offer the undo of what ran, newest first, then
    /// the `always` steps that have not run.
    pub(super) async fn rollback(&mut self) {
        if self.opts.dry_run {
            return;
        }
        let undo_offers = self.undo_offers();
        let always = self.always_offers();
        if undo_offers.is_empty() && always.is_empty() {
            return;
        }
        tracing::debug!(
            undo = undo_offers.len(),
            always = always.len(),
            "rollback started"
        );
        self.emit(Event::RollbackStarted).await;
        for (s, hosts) in undo_offers {
            let commands = hosts
                .iter()
                .map(|&h| {
                    let text = self.plan().steps[s]
                        .undo
                        .as_ref()
                        .map(|u| self.ctx.command(s, u, h).unwrap_or_else(|e| e.to_string()))
                        .unwrap_or_default();
                    (h, text)
                })
                .collect();
            let prompt = Prompt {
                step: s,
                kind: PromptKind::Undo,
                hosts: hosts.clone(),
                commands,
                previews: Vec::new(),
                banner: Vec::new(),
                choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
            };
            match self.ask(prompt).await {
                Decision::Run => self.undo(s, &hosts).await,
                Decision::Skip => {}
                _ => return,
            }
        }
        for (s, hosts) in always {
            let prompt = Prompt {
                step: s,
                kind: PromptKind::Always,
                commands: self.commands(s, &hosts),
                hosts: hosts.clone(),
                previews: Vec::new(),
                banner: Vec::new(),
                choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
            };
            match self.ask(prompt).await {
                Decision::Run => {
                    if let Action::Wait(_) | Action::Manual(_) = self.plan().steps[s].action {
                        self.tick_off(s, &hosts).await;
                        continue;
                    }
                    let (results, aborted) = self.execute(s, &hosts).await;
                    for r in results {
                        self.outcomes.insert((s, r.host), r.outcome);
                    }
                    if aborted {
                        return;
                    }
                }
                Decision::Skip => {}
                _ => return,
            }
        }
    }
}
