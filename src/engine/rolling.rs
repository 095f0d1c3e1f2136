//! Rolling blocks: every step of the block on a batch of hosts (`batch` at
//! once, one by default), then on the next batch. With `max_fail`, a host
//! that fails leaves the block and the others go on, until more hosts failed
//! than it tolerates; that failure is then handled as any other.

use std::ops::Range;

use super::ctx::HostResult;
use super::event::*;
use super::runner::{Engine, Flow};
use crate::runbook::HostCount;

/// The failed hosts of the rolling block under way, against its `max_fail`.
pub(super) struct FailBudget {
    label: String,
    max_fail: HostCount,
    /// How many failed hosts `max_fail` comes to for this block's hosts.
    tolerated: usize,
    /// Each failed host, with the step it failed.
    failed: Vec<(HostIx, StepIx)>,
}

impl FailBudget {
    fn failed_at(&self, host: HostIx) -> Option<StepIx> {
        self.failed
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, step)| *step)
    }
}

impl Engine {
    /// The steps of `block`, batch by batch of their hosts.
    pub(super) async fn rolling(
        &mut self,
        block: Range<StepIx>,
        first_pending: Option<StepIx>,
    ) -> Flow {
        let mut hosts: Vec<HostIx> = Vec::new();
        for s in block.clone() {
            for h in self.targets(s) {
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
        }
        let label = self.plan().steps[block.start]
            .rolling
            .clone()
            .unwrap_or_default();
        let limits = self.plan().rolling_limits(block.clone());
        let size = limits.batch_size(hosts.len());
        self.fail_budget =
            limits
                .max_fail
                .zip(limits.tolerated(hosts.len()))
                .map(|(max_fail, tolerated)| FailBudget {
                    label: label.clone(),
                    max_fail,
                    tolerated,
                    failed: Vec::new(),
                });
        let batches: Vec<Vec<HostIx>> = hosts.chunks(size).map(<[HostIx]>::to_vec).collect();
        let mut flow = Flow::Next;
        for (i, batch) in batches.iter().enumerate() {
            tracing::debug!(block = %label, batch = i + 1, of = batches.len(), hosts = batch.len(), "rolling batch");
            self.emit(Event::BatchStarted {
                label: label.clone(),
                batch: i + 1,
                batches: batches.len(),
                hosts: batch.clone(),
            })
            .await;
            flow = self.batch(block.clone(), batch, first_pending).await;
            if !matches!(flow, Flow::Next) {
                break;
            }
        }
        self.fail_budget = None;
        flow
    }

    /// The block's steps on one batch of hosts, the batch's hosts at once.
    async fn batch(
        &mut self,
        block: Range<StepIx>,
        batch: &[HostIx],
        first_pending: Option<StepIx>,
    ) -> Flow {
        for s in block {
            let mut targets = Vec::new();
            for h in self.targets(s).into_iter().filter(|h| batch.contains(h)) {
                match self.fail_budget.as_ref().and_then(|b| b.failed_at(h)) {
                    Some(failed) => {
                        let reason = format!(
                            "this host failed step '{}' of the rolling block",
                            self.plan().steps[failed].id
                        );
                        self.skip(s, &[h], &reason).await;
                    }
                    None => targets.push(h),
                }
            }
            if targets.is_empty() {
                continue;
            }
            let flow = self.step(s, &targets, first_pending == Some(s)).await;
            if !matches!(flow, Flow::Next) {
                self.ended_at = Some(s);
                return flow;
            }
        }
        Flow::Next
    }

    /// Whether the rolling block under way tolerates `failures` of step
    /// `ix` (its `max_fail` is not yet exceeded): their hosts then leave the
    /// block, the others go on, and the run ends failed.
    pub(super) async fn tolerate(&mut self, ix: StepIx, failures: &[HostResult]) -> bool {
        let Some(budget) = self.fail_budget.as_mut() else {
            return false;
        };
        let failed = budget.failed.len() + failures.len();
        let limit = format!(
            "max_fail = {} of rolling block '{}' tolerates {} failed host{}",
            budget.max_fail,
            budget.label,
            budget.tolerated,
            if budget.tolerated == 1 { "" } else { "s" }
        );
        let tolerated = failed <= budget.tolerated;
        if tolerated {
            budget.failed.extend(failures.iter().map(|f| (f.host, ix)));
            self.continued_failures = true;
        }
        let names: Vec<&str> = failures
            .iter()
            .map(|f| self.plan().hosts[f.host].name.as_str())
            .collect();
        let text = if tolerated {
            format!(
                "{} failed ({failed} failed so far); {limit}: the block goes on without {}",
                names.join(", "),
                if names.len() == 1 { "it" } else { "them" }
            )
        } else {
            format!(
                "{} failed; {failed} hosts failed, and {limit}",
                names.join(", ")
            )
        };
        tracing::info!(step = %self.plan().steps[ix].id, failed, tolerated, "rolling block failures");
        self.emit(Event::Notice {
            step: Some(ix),
            text,
        })
        .await;
        tolerated
    }
}
