//! Undoing: a failed step's undo at the admin's word, and the rollback after
//! an abort or a stop, which shows its plan, then offers the undo of what
//! ran and the `always` steps.

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::ctx::HostResult;
use super::event::*;
use super::runner::Engine;
use crate::journal::Outcome;
use crate::runbook::Action;

impl Engine {
    /// Run the step's undo on `hosts`, all at once; how it went on each.
    pub(super) async fn undo(&mut self, ix: StepIx, hosts: &[HostIx]) -> Vec<HostResult> {
        let Some(undo) = self.plan().steps[ix].undo.clone() else {
            return Vec::new();
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
                        let result = ctx
                            .run_command(ix, h, cmd.clone(), Phase::Undo, timeout, 0, cancel)
                            .await;
                        (Some(cmd), result)
                    }
                    Err(e) => (None, HostResult::failed(h, &e)),
                }
            }
        });
        let mut results = Vec::new();
        for (command, result) in join_all(runs).await {
            if let (Some(command), Outcome::Ok) = (command, result.outcome) {
                // As sent: through sudo or not is part of what ran.
                let sent = self.ctx.as_sent(ix, command);
                self.undo_commands_ok.push((ix, result.host, sent));
            }
            results.push(result);
        }
        results
    }

    /// The undo offers of a rollback: each step that ran and has an undo not
    /// yet run, newest first as it ran, with its hosts. A rolling block ran
    /// host by host, so its steps come back host by host too (the upgrade
    /// of h1 is undone before its drain, even when h2 was drained after).
    fn undo_offers(&self) -> Vec<(StepIx, Vec<HostIx>)> {
        let mut offers: Vec<(StepIx, Vec<HostIx>)> = Vec::new();
        for &(s, h) in self.ran.iter().rev() {
            let offered = offers
                .iter()
                .any(|(step, hosts)| *step == s && hosts.contains(&h));
            if self.plan().steps[s].undo.is_none() || self.undone.contains(&(s, h)) || offered {
                continue;
            }
            match offers.last_mut() {
                Some((step, hosts)) if *step == s => hosts.push(h),
                _ => offers.push((s, vec![h])),
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

    /// After an abort or a stop: show the whole plan, then offer the undo of
    /// what ran, newest first, then each `always` step that has not run.
    /// Abort leaves the remaining undo steps; an `always` step is only ever
    /// left by its own answer.
    pub(super) async fn rollback(&mut self) {
        if self.opts.dry_run {
            return;
        }
        let undo_offers = self.undo_offers();
        let always = self.always_offers();
        let Some(&(first, _)) = undo_offers.first().or(always.first()) else {
            return;
        };
        tracing::debug!(
            undo = undo_offers.len(),
            always = always.len(),
            "rollback started"
        );
        self.emit(Event::RollbackStarted).await;
        let mut hosts: Vec<HostIx> = Vec::new();
        for (_, on) in undo_offers.iter().chain(&always) {
            for &h in on {
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
        }
        let plan = Prompt {
            step: first,
            kind: PromptKind::RollbackPlan {
                undo: undo_offers.clone(),
                always: always.clone(),
            },
            hosts,
            commands: Vec::new(),
            previews: Vec::new(),
            banner: Vec::new(),
            choices: vec![Decision::Run, Decision::Abort],
        };
        let mut undoing = self.ask(plan).await == Decision::Run;
        for (s, hosts) in undo_offers {
            if !undoing {
                break;
            }
            if !self.journal_written(s).await {
                return;
            }
            let commands = hosts
                .iter()
                .map(|&h| {
                    let text = self.plan().steps[s]
                        .undo
                        .as_ref()
                        .map(|u| match self.ctx.command(s, u, h) {
                            Ok(command) => self.ctx.as_sent(s, command),
                            Err(e) => e.to_string(),
                        })
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
                choices: vec![Decision::Run, Decision::Leave, Decision::Abort],
            };
            match self.ask(prompt).await {
                Decision::Run => {
                    self.undo(s, &hosts).await;
                }
                Decision::Leave => {}
                _ => undoing = false,
            }
        }
        for (s, hosts) in always {
            let hosts = self.not_done_by_an_undo(s, hosts).await;
            if hosts.is_empty() {
                continue;
            }
            if !self.journal_written(s).await {
                return;
            }
            let prompt = Prompt {
                step: s,
                kind: PromptKind::Always,
                commands: self.commands(s, &hosts),
                hosts: hosts.clone(),
                previews: Vec::new(),
                banner: Vec::new(),
                choices: vec![Decision::Run, Decision::Leave],
            };
            if self.ask(prompt).await != Decision::Run {
                let why = if self.unattended {
                    "left in the rollback: nobody could answer"
                } else {
                    "left in the rollback by the admin"
                };
                for &h in &hosts {
                    self.why_not.insert((s, h), why.to_string());
                }
                continue;
            }
            if let Action::Wait(_) | Action::Manual(_) = self.plan().steps[s].action {
                self.tick_off(s, &hosts).await;
                continue;
            }
            // An abort while it runs ends this step only: the next `always`
            // step is still asked.
            let (results, _aborted) = self.execute(s, &hosts).await;
            self.settle(s, &results);
        }
    }

    /// The hosts of `always` step `s` where no undo already ran its very
    /// command with success (the undo of "stop the server" is often the
    /// `always` "start the server"); there it is skipped, with why.
    async fn not_done_by_an_undo(&mut self, s: StepIx, hosts: Vec<HostIx>) -> Vec<HostIx> {
        let Action::Run(template) = &self.plan().steps[s].action else {
            return hosts;
        };
        let template = template.clone();
        let mut left = Vec::new();
        for h in hosts {
            let command = (self.ctx.command(s, &template, h).ok()).map(|c| self.ctx.as_sent(s, c));
            let by = self
                .undo_commands_ok
                .iter()
                .find(|(_, host, ran)| *host == h && Some(ran) == command.as_ref())
                .map(|(u, _, _)| self.plan().steps[*u].id.clone());
            match by {
                Some(by) => {
                    let reason = format!("its command already ran as the undo of '{by}'");
                    self.skip(s, &[h], &reason).await;
                }
                None => left.push(h),
            }
        }
        left
    }
}
