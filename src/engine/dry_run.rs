//! `--dry-run`: previews and one check of each guard, and what each step
//! would do; nothing that changes a host. A check that could not be made,
//! or a guard that would wait, is kept: the dry run then exits non-zero.

use tokio_util::sync::CancellationToken;

use super::event::*;
use super::guard::Check;
use super::runner::Engine;
use crate::runbook::Action;

impl Engine {
    pub(super) async fn dry_run_step(&mut self, ix: StepIx, hosts: &[HostIx]) {
        // Each preview is shown (and in a real run journaled) as it is made.
        for preview in self.previews(ix, hosts).await {
            let failed = match (&preview.error, &preview.exit) {
                (Some(e), _) => Some(e.clone()),
                (None, Some(status)) if !status.success() => Some(status.to_string()),
                _ => None,
            };
            if let Some(how) = failed {
                let problem = format!(
                    "{} on {}: the preview failed ({how})",
                    self.plan().steps[ix].id,
                    self.plan().hosts[preview.host].name
                );
                self.dry_run_problems.push(problem);
            }
        }
        let action = self.plan().steps[ix].action.clone();
        match &action {
            Action::Guard(guard) => {
                let cancel = CancellationToken::new();
                for &h in hosts {
                    let Check { holds, detail } = self
                        .ctx
                        .guard_check_within(ix, h, &guard.check, guard.poll, &cancel)
                        .await;
                    if !holds {
                        let problem = format!(
                            "{} on {}: the guard does not hold now ({detail})",
                            self.plan().steps[ix].id,
                            self.plan().hosts[h].name
                        );
                        self.dry_run_problems.push(problem);
                    }
                    self.emit(Event::GuardPolled {
                        step: ix,
                        host: h,
                        ok: holds,
                        detail,
                        checks: 1,
                        next_check: None,
                    })
                    .await;
                }
            }
            Action::Http(check) => {
                for &h in hosts {
                    let text = match self.ctx.http_check(h, check).await {
                        Ok(d) => format!("check: {d}"),
                        Err(d) => {
                            let problem = format!(
                                "{} on {}: the check failed now ({d})",
                                self.plan().steps[ix].id,
                                self.plan().hosts[h].name
                            );
                            self.dry_run_problems.push(problem);
                            format!("check failed now: {d}")
                        }
                    };
                    self.emit(Event::Notice {
                        step: Some(ix),
                        text: format!("{}: {text}", self.plan().hosts[h].name),
                    })
                    .await;
                }
            }
            _ => {}
        }
        let note = if self.plan().steps[ix].when.is_some() {
            " (if its condition holds)"
        } else {
            ""
        };
        for (h, command) in self.commands(ix, hosts) {
            let would = match &action {
                Action::Run(_) => format!("run `{command}`"),
                Action::Manual(_) => format!("ask the admin to: {command}"),
                _ => command,
            };
            self.emit(Event::StepSkipped {
                step: ix,
                host: h,
                reason: format!("dry run: would {would}{note}"),
                earlier: None,
            })
            .await;
        }
    }
}
