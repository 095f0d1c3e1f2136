//! How the engine's events change the TUI's state: one arm per event, each
//! updating the plain data that the view draws.

use std::time::Instant;

use super::{App, PromptState, UiMsg};
use crate::engine::{Decision, Event, Phase, PromptKind};
use crate::remote::Stream;
use crate::runbook::Action;
use crate::tui::state::{
    BatchView, CellStatus, Conn, Finished, GuardState, LockView, LogState, Overlay, Typing,
};
use crate::tui::strings;

impl App {
    pub fn on_event(&mut self, event: Event, now: Instant) {
        self.dirty = true;
        self.drop_abandoned_questions();
        match event {
            Event::RunStarted {
                run_id,
                journal,
                resumed,
                dry_run,
            } => {
                self.run_id = Some(run_id);
                self.journal = journal;
                self.resumed = resumed;
                self.dry_run = dry_run;
                self.started = now;
            }
            Event::HostQueued { host } => self.set_conn(host, Conn::Queued),
            Event::BatchStarted {
                label,
                batch,
                batches,
                ..
            } => {
                self.batch = Some(BatchView {
                    label,
                    batch,
                    batches,
                });
            }
            Event::HostConnecting { host, .. } => self.set_conn(host, Conn::Connecting),
            Event::HostConnected { host, .. } => self.set_conn(host, Conn::Connected),
            Event::HostFailed { host, error, cause } => {
                self.status = Some(format!("{}: {error}", self.host_name(host)));
                self.set_conn(host, Conn::Failed { cause, error });
            }
            Event::HostLost { host, reason } => {
                self.status = Some(format!(
                    "{}: {}",
                    self.host_name(host),
                    strings::conn_lost(&reason)
                ));
                self.set_conn(host, Conn::Lost(reason));
            }
            Event::HostReconnected { host } => self.set_conn(host, Conn::Connected),
            Event::Previewed { step, preview } => {
                let head = strings::preview_line(&preview.command, preview.error.as_deref());
                let pane = self.pane_mut(step, preview.host);
                pane.push(Stream::Stderr, head);
                for line in preview.lines {
                    pane.push(Stream::Stdout, line);
                }
            }
            Event::ConditionChecked {
                step,
                host,
                command,
                holds,
                error,
            } => {
                let line = strings::condition_line(&command, holds, error.as_deref());
                self.pane_mut(step, host).push(Stream::Stderr, line);
            }
            Event::LockTaken { host, path } => {
                if let Some(h) = self.hosts.get_mut(host) {
                    h.lock = LockView::Taken(path);
                }
            }
            Event::LockHeld { host, path, holder } => {
                if let Some(h) = self.hosts.get_mut(host) {
                    h.lock = LockView::Held { path, holder };
                }
            }
            Event::StepSkipped {
                step,
                host,
                reason,
                earlier,
            } => {
                self.leave_batch_unless(step);
                if let Some(c) = self.cell_mut(step, host) {
                    c.status = earlier.map_or(CellStatus::Skipped, CellStatus::from_outcome);
                    c.note = Some(reason.clone());
                }
                if earlier.is_none() {
                    let line = strings::skipped_line(&reason);
                    self.pane_mut(step, host).push(Stream::Stderr, line);
                }
            }
            Event::StepStarted {
                step,
                host,
                command,
                phase,
                attempt,
            } => {
                if phase == Phase::Main {
                    self.leave_batch_unless(step);
                }
                let is_guard = self
                    .plan
                    .steps
                    .get(step)
                    .is_some_and(|s| matches!(s.action, Action::Guard(_)));
                if let Some(c) = self.cell_mut(step, host) {
                    if phase == Phase::Main {
                        c.status = if is_guard {
                            CellStatus::Waiting
                        } else {
                            CellStatus::Running
                        };
                        c.started = Some(now);
                        c.duration = None;
                    } else {
                        c.undo = Some(CellStatus::Running);
                    }
                    c.awaiting_input = false;
                    c.bell_rung = false;
                }
                let line = strings::started_line(&command, phase == Phase::Undo, attempt);
                self.pane_mut(step, host).push(Stream::Stdout, line);
                if is_guard && phase == Phase::Main {
                    self.guards.insert(
                        step,
                        GuardState {
                            since: now,
                            since_wall: self.wall,
                            checks: 0,
                            ok: false,
                            detail: String::new(),
                            polled_at: now,
                            next_check: None,
                        },
                    );
                }
                self.select_current(step, Some(host));
            }
            Event::Output {
                step, host, lines, ..
            } => {
                let pane = self.pane_mut(step, host);
                for (stream, line) in lines.iter() {
                    pane.complete(stream, line.to_string());
                }
                self.input_answered(step, host);
            }
            Event::PartialLine { .. }
            | Event::AwaitingInput { .. }
            | Event::Sudo { .. }
            | Event::Input { .. } => self.on_interaction(event),
            Event::StepFinished {
                step,
                host,
                outcome,
                exit,
                duration,
                phase,
                message,
            } => {
                let status = CellStatus::from_outcome(outcome);
                if self.waiting_until.is_some_and(|(s, _)| s == step) {
                    self.waiting_until = None;
                }
                if let Some(c) = self.cell_mut(step, host) {
                    if phase == Phase::Main {
                        c.status = status;
                        c.duration = Some(duration);
                        c.exit.clone_from(&exit);
                        c.note = message.clone();
                    } else {
                        c.undo = Some(status);
                    }
                    c.awaiting_input = false;
                }
                if matches!(&self.typing, Some(Typing::Input(t)) if t.step == step && t.host == host)
                {
                    self.typing = None;
                }
                let line = strings::finished_line(
                    outcome.as_str(),
                    &crate::runbook::duration::short(duration),
                    exit.as_ref(),
                    message.as_deref(),
                );
                let stream = if status == CellStatus::Ok {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                };
                self.pane_mut(step, host).push(stream, line);
                if self.guards.contains_key(&step)
                    && self
                        .step_hosts(step)
                        .iter()
                        .all(|&h| self.cells[step][h].status != CellStatus::Waiting)
                {
                    self.guards.remove(&step);
                }
            }
            Event::GuardPolled {
                step,
                host,
                ok,
                detail,
                checks,
                next_check,
            } => {
                let g = self.guards.entry(step).or_insert_with(|| GuardState {
                    since: now,
                    since_wall: self.wall,
                    checks: 0,
                    ok,
                    detail: String::new(),
                    polled_at: now,
                    next_check: None,
                });
                g.checks = checks;
                g.ok = ok;
                g.detail = detail.clone();
                g.polled_at = now;
                g.next_check = next_check;
                let line = strings::guard_check_line(checks, ok, &detail);
                self.pane_mut(step, host).push(Stream::Stdout, line);
            }
            Event::Waiting { step, until } => {
                self.waiting_until = Some((step, until));
                self.select_current(step, None);
            }
            Event::Prompt(mut prompt) => {
                self.window_opened(now);
                self.leave_batch_unless(prompt.step);
                self.order.sort_prompt(&mut prompt);
                if matches!(prompt.kind, PromptKind::Gate | PromptKind::Manual { .. }) {
                    for &h in &prompt.hosts {
                        if let Some(c) = self.cell_mut(prompt.step, h) {
                            c.status = CellStatus::NeedsConfirm;
                        }
                    }
                }
                self.select_current(prompt.step, None);
                self.prompt = Some(PromptState {
                    prompt,
                    typed: String::new(),
                    wrong: false,
                    scroll: 0,
                    hidden: false,
                });
            }
            Event::Decided { step, decision, .. } => {
                if self.prompt.as_ref().is_some_and(|p| p.prompt.step == step) {
                    self.prompt = None;
                }
                for c in self.cells.get_mut(step).into_iter().flatten() {
                    if c.status == CellStatus::NeedsConfirm {
                        c.status = CellStatus::Pending;
                    }
                }
                match decision {
                    Decision::BreakLock { host } => {
                        let host = self.host_name(host);
                        self.status = Some(strings::decided(host, decision.as_str()));
                    }
                    Decision::Override | Decision::Abort => {
                        let step = self.step_id(step);
                        self.status = Some(strings::decided(step, decision.as_str()));
                    }
                    _ => {}
                }
                if self.waiting_until.is_some_and(|(s, _)| s == step) {
                    self.waiting_until = None;
                }
            }
            Event::Notice { step, text } => match step {
                Some(s) => {
                    for h in self.step_hosts(s).to_vec() {
                        self.pane_mut(s, h)
                            .push(Stream::Stderr, strings::notice_line(&text));
                    }
                }
                None => self.status = Some(text),
            },
            Event::LogFollowing { log } => self.on_ui(UiMsg::LogState {
                ix: log,
                state: LogState::Tailing,
            }),
            Event::LogLine { log, line, .. } => self.on_ui(UiMsg::Log { ix: log, line }),
            Event::LogStopped { log, reason } => self.on_ui(UiMsg::LogState {
                ix: log,
                state: LogState::Ended(reason),
            }),
            Event::ProcessStarted { .. } => {}
            Event::Captured {
                step,
                host,
                var,
                value,
            } => {
                let line = strings::captured_line(&var, &value);
                self.pane_mut(step, host).push(Stream::Stdout, line);
            }
            Event::RunInterrupted { .. } => {
                self.prompt = None;
                self.interrupted = true;
            }
            Event::RollbackStarted => {
                self.rollback = true;
                self.batch = None;
                self.waiting_until = None;
            }
            Event::RunFinished {
                status,
                exit_code,
                journal,
                not_done,
            } => {
                self.prompt = None;
                self.waiting_until = None;
                self.batch = None;
                self.finished = Some(Finished {
                    at: now,
                    status,
                    exit_code,
                    journal,
                    not_done,
                });
                self.summary_step = self.first_failed_step().unwrap_or(0);
                // What the admin was reading stays open; questions are over.
                self.overlay = self
                    .overlay
                    .take()
                    .filter(|o| matches!(o, Overlay::Help | Overlay::PickHost(_)));
            }
        }
    }
}
