//! Steps that run no command: a `wait` counts down (the admin may cut it
//! short), a `manual` step is ticked off by the admin.

use std::time::{Duration, Instant};

use super::event::*;
use super::runner::{Engine, Flow};
use crate::journal::Outcome;
use crate::runbook::WaitFor;

impl Engine {
    /// Journal a step that runs no command as started on each host.
    pub(super) async fn announce(&self, ix: StepIx, hosts: &[HostIx]) {
        for (h, text) in self.commands(ix, hosts) {
            self.ctx.start_step(ix, h, text, Phase::Main, 1).await;
        }
    }

    pub(super) async fn tick_off(&mut self, ix: StepIx, hosts: &[HostIx]) {
        self.announce(ix, hosts).await;
        for &h in hosts {
            self.outcomes.insert((ix, h), Outcome::Ok);
            self.ran.push((ix, h));
            self.emit(Event::StepFinished {
                step: ix,
                host: h,
                outcome: Outcome::Ok,
                exit: None,
                duration: Duration::ZERO,
                phase: Phase::Main,
                message: Some("ticked off by the admin".into()),
            })
            .await;
        }
    }

    /// When a wait ends: after its time, or at the banner's start time.
    async fn wait_until(&self, ix: StepIx, wait: WaitFor) -> chrono::DateTime<chrono::Utc> {
        let now = chrono::Utc::now();
        match wait {
            WaitFor::For(d) => now + chrono::Duration::from_std(d).unwrap_or_default(),
            WaitFor::Banner => {
                let starts = self
                    .ctx
                    .vars()
                    .starts_at
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok());
                match starts {
                    Some(t) => t.with_timezone(&chrono::Utc),
                    None => {
                        self.emit(Event::Notice {
                            step: Some(ix),
                            text: "the banner has not gone up in this run: nothing to wait for"
                                .into(),
                        })
                        .await;
                        now
                    }
                }
            }
        }
    }

    pub(super) async fn wait(&mut self, ix: StepIx, hosts: &[HostIx], wait: WaitFor) -> Flow {
        let until = self.wait_until(ix, wait).await;
        let started = Instant::now();
        self.announce(ix, hosts).await;
        self.emit(Event::Waiting { step: ix, until }).await;
        let remaining = (until - chrono::Utc::now()).to_std().unwrap_or_default();
        let sleep = tokio::time::sleep(remaining);
        tokio::pin!(sleep);
        let mut message = None;
        let mut aborted = false;
        loop {
            tokio::select! {
                () = &mut sleep => break,
                d = self.next_decision() => match d {
                    Some(Decision::Skip) => {
                        self.decided(ix, Decision::Skip, AnsweredBy::Admin).await;
                        message = Some("wait cut short by the admin".to_string());
                        break;
                    }
                    Some(Decision::Abort) | None => {
                        self.decided(ix, Decision::Abort, AnsweredBy::Admin).await;
                        aborted = true;
                        message = Some("aborted while waiting".to_string());
                        break;
                    }
                    Some(_) => {}
                }
            }
        }
        let outcome = if aborted {
            Outcome::Failed
        } else {
            Outcome::Ok
        };
        for &h in hosts {
            self.outcomes.insert((ix, h), outcome);
            self.emit(Event::StepFinished {
                step: ix,
                host: h,
                outcome,
                exit: None,
                duration: started.elapsed(),
                phase: Phase::Main,
                message: message.clone(),
            })
            .await;
        }
        if aborted { Flow::Abort } else { Flow::Next }
    }
}
