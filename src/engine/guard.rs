//! Guards: a condition checked every `poll` until it holds, the admin
//! overrides it, or its `timeout` passes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::ctx::{Ctx, HostResult};
use super::error::StepError;
use super::event::{Event, HostIx, Phase, StepIx};
use super::output::strip_sgr;
use crate::journal::Outcome;
use crate::runbook::duration::short;
use crate::runbook::{Guard, GuardCheck};

/// Why a guard that did not hold counts as passed: the record of its step
/// says so, and front ends show it beside the ✓.
pub const GUARD_OVERRIDDEN: &str = "guard overridden by the admin";

/// What one check of a guard saw.
pub(super) struct Check {
    pub holds: bool,
    pub detail: String,
}

impl Check {
    fn failed(error: &StepError) -> Self {
        Self {
            holds: false,
            detail: format!("check failed: {error}"),
        }
    }

    fn unfinished(limit: Duration) -> Self {
        Self {
            holds: false,
            detail: format!("the check did not finish within {}", short(limit)),
        }
    }
}

impl Ctx {
    /// One check of `step`'s guard on one host, however long it takes.
    async fn guard_check(
        &self,
        step: StepIx,
        host: HostIx,
        check: &GuardCheck,
        cancel: &CancellationToken,
    ) -> Check {
        let file_check = |template, want_present: bool| async move {
            let path = self.render(template, host)?;
            let present = self.transport(host)?.exists(&path).await?;
            let state = if present { "present" } else { "absent" };
            Ok::<_, StepError>(Check {
                holds: present == want_present,
                detail: format!("{path} is {state}"),
            })
        };
        let result = match check {
            GuardCheck::FileAbsent(p) => file_check(p, false).await,
            GuardCheck::FilePresent(p) => file_check(p, true).await,
            GuardCheck::Command(c) => match self.command(step, c, host) {
                Ok(cmd) => self
                    .collect(host, &cmd, cancel)
                    .await
                    .map(|(status, lines)| {
                        let last = lines
                            .last()
                            .map(|l| format!(": {}", strip_sgr(l)))
                            .unwrap_or_default();
                        Check {
                            holds: status.success(),
                            detail: format!("`{cmd}` {status}{last}"),
                        }
                    }),
                Err(e) => Err(e),
            },
            // A wrong answer is the guard not holding yet, not a broken check.
            GuardCheck::Http(check) => Ok(match self.http_check(host, check).await {
                Ok(detail) => Check {
                    holds: true,
                    detail,
                },
                Err(e) => Check {
                    holds: false,
                    detail: e.to_string(),
                },
            }),
        };
        result.unwrap_or_else(|e| Check::failed(&e))
    }

    /// One check within `limit`: a check still running then is abandoned
    /// (its future dropped, which ends its command on the host) and counts
    /// as not holding.
    pub(super) async fn guard_check_within(
        &self,
        step: StepIx,
        host: HostIx,
        check: &GuardCheck,
        limit: Duration,
        cancel: &CancellationToken,
    ) -> Check {
        let check = self.guard_check(step, host, check, cancel);
        match tokio::time::timeout(limit, check).await {
            Ok(check) => check,
            Err(_) => {
                tracing::debug!(host = %self.plan.hosts[host].name, "guard check abandoned");
                Check::unfinished(limit)
            }
        }
    }

    pub(super) async fn guard_host(
        &self,
        step: StepIx,
        host: HostIx,
        guard: &Guard,
        cancel: &CancellationToken,
        overridden: &AtomicBool,
    ) -> HostResult {
        self.start_step(step, host, self.describe(step, host), Phase::Main, 1)
            .await;
        let started = Instant::now();
        let deadline = guard.timeout.map(|t| started + t);
        let mut checks = 0;
        // Each check has its `check_timeout`, never past the deadline but
        // for the last check, made at the deadline, which has it whole.
        let check_time = guard.check_timeout;
        let result = loop {
            checks += 1;
            let began = Instant::now();
            let limit = match deadline {
                Some(d) if d > began => d.min(began + check_time),
                _ => began + check_time,
            }
            .saturating_duration_since(began);
            // The next check is due `poll` after this one began (at once
            // when this one took longer), and not after the deadline.
            let due = match deadline {
                Some(d) if d > began => d.min(began + guard.poll),
                _ => began + guard.poll,
            };
            let check = tokio::select! {
                c = self.guard_check_within(step, host, &guard.check, limit, cancel) => Some(c),
                () = cancel.cancelled() => None,
            };
            let Some(Check { holds, detail }) = check.filter(|_| !cancel.is_cancelled()) else {
                break if overridden.load(Ordering::SeqCst) {
                    HostResult::new(host, Outcome::Ok).with_message(GUARD_OVERRIDDEN)
                } else {
                    HostResult::new(host, Outcome::Failed)
                        .with_message("cancelled while waiting on the guard")
                };
            };
            let now = Instant::now();
            let expired = deadline.is_some_and(|d| now >= d);
            let next = (!holds && !expired).then(|| due.saturating_duration_since(now));
            self.emitter
                .emit(Event::GuardPolled {
                    step,
                    host,
                    ok: holds,
                    detail: detail.clone(),
                    checks,
                    next_check: next,
                })
                .await;
            if holds {
                break HostResult::new(host, Outcome::Ok).with_message(detail);
            }
            let Some(wait) = next else {
                let limit = guard.timeout.map(short).unwrap_or_default();
                break HostResult::new(host, Outcome::Timeout).with_message(format!(
                    "the guard did not hold within {limit} ({checks} checks; last: {detail})"
                ));
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => {}
            }
        };
        self.finish_step(step, host, Phase::Main, &result, started)
            .await;
        result
    }
}
