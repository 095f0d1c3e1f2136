//! `--dry-run`: previews and one check of each guard, and what each step
//! would do; nothing that changes a host.

use tokio_util::sync::CancellationToken;

use super::event::*;
use super::guard::Check;
use super::runner::Engine;
use crate::runbook::Action;

impl Engine {
    pub(super) async fn dry_run_step(&mut self, ix: StepIx, hosts: &[HostIx]) {
        // Each preview is shown (and in a real run journaled) as it is made.
        self.previews(ix, hosts).await;
        let action = self.plan().steps[ix].action.clone();
        match &action {
            Action::Guard(guard) => {
                let cancel = CancellationToken::new();
                for &h in hosts {
                    let Check { holds, detail } = self
                        .ctx
                        .guard_check_within(h, &guard.check, guard.poll, &cancel)
                        .await;
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
                        Err(d) => format!("check failed now: {d}"),
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
