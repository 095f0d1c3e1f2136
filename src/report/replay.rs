//! A run's journal turned back into the engine's [`Event`]s, so that the
//! TUI shows a past run (`replay`) or another admin's live one (`watch`)
//! exactly as it shows its own: the journal is the run's events, written
//! down. [`Translator`] is the one place a record becomes events;
//! [`Playback`] reads a journal through it, also while it is written.
//!
//! What the engine showed but did not journal (a guard check's detail, the
//! questions themselves) cannot come back; what the journal has and the
//! live screen only shows in a question (previews, typed input, sudo,
//! captures) becomes drydock's own lines in the step's output. Records of
//! steps or hosts the plan does not know are passed over.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::engine::{Decision, Event, HostIx, Phase, StepIx};
use crate::journal::{
    AnsweredBy, ConnectionState, Follower, GateDecision, JournalError, Line, OutputText, Record,
};
use crate::remote::{ExitStatus, Stream};
use crate::runbook::Plan;
use crate::sanitize;

/// Said where a guard check's detail would be: the journal keeps only
/// whether it held.
const NO_DETAIL: &str = "(detail not journaled)";

/// Turns journal records into events, in order. It keeps what the records
/// leave implicit: which commands are running, attempts, guard checks.
pub struct Translator {
    steps: HashMap<String, StepIx>,
    hosts: HashMap<String, HostIx>,
    journal: PathBuf,
    started: bool,
    /// Commands started and not yet finished: (step, host, undo).
    running: HashSet<(StepIx, HostIx, bool)>,
    attempts: HashMap<(StepIx, HostIx), u32>,
    guard_checks: HashMap<(StepIx, HostIx), u32>,
    /// Hosts whose connection the journal has told of (a started command
    /// tells it too).
    connected: HashSet<HostIx>,
    aborted: bool,
    rolling_back: bool,
}

/// drydock's own line in a step's output, as the TUI marks its own.
fn own_line(text: &str) -> (Stream, String) {
    (Stream::Stdout, format!("drydock: {text}"))
}

fn clean(s: &str) -> String {
    sanitize::line(s).into_owned()
}

impl Translator {
    pub fn new(plan: &Plan, journal: &Path) -> Self {
        Self {
            steps: (plan.steps.iter().enumerate())
                .map(|(i, s)| (s.id.clone(), i))
                .collect(),
            hosts: (plan.hosts.iter().enumerate())
                .map(|(i, h)| (h.name.clone(), i))
                .collect(),
            journal: journal.to_path_buf(),
            started: false,
            running: HashSet::new(),
            attempts: HashMap::new(),
            guard_checks: HashMap::new(),
            connected: HashSet::new(),
            aborted: false,
            rolling_back: false,
        }
    }

    fn at(&self, step: &str, host: &str) -> Option<(StepIx, HostIx)> {
        Some((*self.steps.get(step)?, *self.hosts.get(host)?))
    }

    /// Lines of drydock's own in the output of `step` on `host`.
    fn own_lines(&self, step: &str, host: &str, lines: Vec<String>) -> Vec<Event> {
        let Some((step, host)) = self.at(step, host) else {
            return Vec::new();
        };
        vec![Event::Output {
            step,
            host,
            phase: Phase::Main,
            lines: lines.iter().map(|l| own_line(l)).collect(),
        }]
    }

    /// The events of one record; none for what cannot be shown.
    pub fn translate(&mut self, line: Line) -> Vec<Event> {
        match line.record {
            Record::RunStarted { run_id, .. } if !self.started => {
                self.started = true;
                vec![Event::RunStarted {
                    run_id: clean(&run_id),
                    journal: Some(self.journal.clone()),
                    resumed: false,
                    dry_run: false,
                }]
            }
            Record::RunStarted { .. } => Vec::new(),
            Record::StepStarted {
                step,
                host,
                command,
                phase,
            } => self.step_started(&step, &host, &command, phase.is_some()),
            Record::Output {
                step,
                host,
                stream,
                phase,
                text,
            } => self.output(&step, &host, stream, phase.is_some(), &text),
            Record::StepFinished {
                step,
                host,
                status,
                exit_code,
                duration_ms,
                phase,
                reason,
                ..
            } => {
                let Some((step, host)) = self.at(&step, &host) else {
                    return Vec::new();
                };
                let undo = phase.is_some();
                let was_running = self.running.remove(&(step, host, undo));
                let reason = reason.map(|r| clean(&r));
                if status == crate::journal::Outcome::Skipped && !undo && !was_running {
                    // Skipped without running: how the engine journals a skip.
                    return vec![Event::StepSkipped {
                        step,
                        host,
                        reason: reason.unwrap_or_else(|| "skipped".into()),
                        earlier: None,
                    }];
                }
                vec![Event::StepFinished {
                    step,
                    host,
                    outcome: status,
                    exit: exit_code.map(ExitStatus::code),
                    duration: Duration::from_millis(duration_ms),
                    phase: if undo { Phase::Undo } else { Phase::Main },
                    message: reason,
                }]
            }
            Record::Gate {
                step,
                decision,
                host,
                by,
                ..
            } => self.gate(step.as_deref(), decision, host.as_deref(), by),
            Record::GuardPoll { step, host, ok } => {
                let Some((step, host)) = self.at(&step, &host) else {
                    return Vec::new();
                };
                let checks = self.guard_checks.entry((step, host)).or_insert(0);
                *checks += 1;
                vec![Event::GuardPolled {
                    step,
                    host,
                    ok,
                    detail: NO_DETAIL.into(),
                    checks: *checks,
                    next_check: None,
                }]
            }
            Record::Preview {
                step,
                host,
                command,
                lines,
                exit_code,
                reason,
            } => {
                let mut shown = vec![format!("preview: $ {}", clean(&command))];
                shown.extend(lines.iter().map(|l| format!("  {}", clean(l))));
                match (reason, exit_code) {
                    (Some(why), _) => shown.push(format!("preview: {}", clean(&why))),
                    (None, Some(code)) if code != 0 => {
                        shown.push(format!("preview: exit status {code}"));
                    }
                    _ => {}
                }
                self.own_lines(&step, &host, shown)
            }
            Record::Input {
                step,
                host,
                text,
                masked,
                end_of_input,
                ..
            } => {
                let typed = match text {
                    _ if end_of_input => "typed: end of input (^D)".to_string(),
                    Some(t) if !masked => format!("typed: {}", clean(&t)),
                    _ => "typed (masked)".to_string(),
                };
                self.own_lines(&step, &host, vec![typed])
            }
            Record::Sudo {
                step,
                host,
                asked: true,
                ok,
                ..
            } => {
                let said = if ok {
                    "sudo asked for the password: answered"
                } else {
                    "sudo asked for the password: refused"
                };
                self.own_lines(&step, &host, vec![said.into()])
            }
            Record::Capture {
                step,
                host,
                var,
                value,
            } => {
                let said = format!("captured {} = {}", clean(&var), clean(&value));
                self.own_lines(&step, &host, vec![said])
            }
            Record::Connection {
                host,
                state,
                reason,
                route,
            } => {
                let Some(&host) = self.hosts.get(&host) else {
                    return Vec::new();
                };
                self.connected.insert(host);
                let reason = reason.as_deref().map(clean);
                match state {
                    ConnectionState::Connected => {
                        let to = route.as_deref().map(clean).unwrap_or_default();
                        vec![Event::HostConnected { host, to }]
                    }
                    ConnectionState::Reconnected => vec![Event::HostReconnected { host }],
                    ConnectionState::Lost => vec![Event::HostLost {
                        host,
                        reason: reason.unwrap_or_default(),
                    }],
                    ConnectionState::Failed => {
                        let cause = reason.unwrap_or_else(|| "failed".to_string());
                        vec![Event::HostFailed {
                            host,
                            error: format!("failed: {cause}"),
                            cause,
                        }]
                    }
                }
            }
            Record::RunInterrupted { signal, running } => vec![Event::Notice {
                step: None,
                text: format!(
                    "the run was interrupted by {}: nothing new ran, {} command(s) left running",
                    clean(&signal),
                    running.len()
                ),
            }],
            Record::RunFinished {
                status,
                exit_code,
                not_done,
            } => vec![Event::RunFinished {
                status,
                exit_code,
                journal: Some(self.journal.clone()),
                not_done: not_done
                    .iter()
                    .filter_map(|n| {
                        let (step, host) = self.at(&n.step, &n.host)?;
                        let why = clean(&n.why);
                        Some(crate::engine::NotDone { step, host, why })
                    })
                    .collect(),
            }],
            Record::Condition {
                step,
                host,
                command,
                holds,
                reason,
            } => match self.at(&step, &host) {
                Some((step, host)) => vec![Event::ConditionChecked {
                    step,
                    host,
                    command: clean(&command),
                    holds,
                    error: reason.as_deref().map(clean),
                }],
                None => Vec::new(),
            },
            Record::Notice { step, text } => vec![Event::Notice {
                step: step.and_then(|s| self.steps.get(&s).copied()),
                text: clean(&text),
            }],
            Record::Sudo { .. } | Record::Process { .. } => Vec::new(),
        }
    }

    fn step_started(&mut self, step: &str, host: &str, command: &str, undo: bool) -> Vec<Event> {
        let Some((step, host)) = self.at(step, host) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        if self.connected.insert(host) {
            // A command was sent: the host was connected.
            events.push(Event::HostConnected {
                host,
                to: String::new(),
            });
        }
        if undo && self.aborted && !self.rolling_back {
            self.rolling_back = true;
            events.push(Event::RollbackStarted);
        }
        let attempt = if undo {
            1
        } else {
            let n = self.attempts.entry((step, host)).or_insert(0);
            *n += 1;
            *n
        };
        self.running.insert((step, host, undo));
        events.push(Event::StepStarted {
            step,
            host,
            command: clean(command),
            phase: if undo { Phase::Undo } else { Phase::Main },
            attempt,
        });
        events
    }

    fn output(
        &self,
        step: &str,
        host: &str,
        stream: Stream,
        undo: bool,
        text: &OutputText,
    ) -> Vec<Event> {
        let Some((step, host)) = self.at(step, host) else {
            return Vec::new();
        };
        vec![Event::Output {
            step,
            host,
            phase: if undo { Phase::Undo } else { Phase::Main },
            lines: (text.lines().iter())
                .map(|l| (stream, sanitize::sanitize(l.as_bytes())))
                .collect(),
        }]
    }

    fn gate(
        &mut self,
        step: Option<&str>,
        decision: GateDecision,
        host: Option<&str>,
        by: Option<AnsweredBy>,
    ) -> Vec<Event> {
        let by = by.unwrap_or(AnsweredBy::Admin);
        if decision == GateDecision::BreakLock {
            let Some(&host) = host.and_then(|h| self.hosts.get(h)) else {
                return Vec::new();
            };
            // The question is the runbook's first step's (see `Prompt`).
            return vec![Event::Decided {
                step: 0,
                decision: Decision::BreakLock { host },
                by,
            }];
        }
        let Some(&step) = step.and_then(|s| self.steps.get(s)) else {
            return Vec::new();
        };
        let decision = match decision {
            GateDecision::Run => Decision::Run,
            GateDecision::Skip | GateDecision::Leave => Decision::Skip,
            GateDecision::Retry => {
                // The engine counts attempts afresh after the admin's retry.
                self.attempts.retain(|(s, _), _| *s != step);
                Decision::Retry
            }
            GateDecision::Undo => Decision::Undo,
            GateDecision::Abort => {
                self.aborted = true;
                Decision::Abort
            }
            GateDecision::Override => Decision::Override,
            GateDecision::BreakLock => return Vec::new(),
            GateDecision::Wait | GateDecision::Kill => {
                let word = if decision == GateDecision::Wait {
                    "wait for the interrupted command to end"
                } else {
                    "end the interrupted command"
                };
                return vec![Event::Notice {
                    step: Some(step),
                    text: format!("answered: {word}"),
                }];
            }
        };
        vec![Event::Decided { step, decision, by }]
    }
}

/// One record's events and when it was written.
#[derive(Debug)]
pub struct Played {
    pub at: Option<DateTime<Utc>>,
    pub events: Vec<Event>,
}

/// A run's journal read as events from its start, one record at a time;
/// at its end it waits for more (a run still going).
pub struct Playback {
    follower: Follower,
    translator: Translator,
    plan: Arc<Plan>,
    journal: PathBuf,
}

impl Playback {
    pub fn open(journal: &Path, plan: Arc<Plan>) -> Result<Self, JournalError> {
        Ok(Self {
            follower: Follower::open(journal)?,
            translator: Translator::new(&plan, journal),
            plan,
            journal: journal.to_path_buf(),
        })
    }

    /// The next record that has something to show, or `None` at the end of
    /// what is written so far.
    pub fn next_record(&mut self) -> Result<Option<Played>, JournalError> {
        while let Some(line) = self.follower.next_line()? {
            let at = DateTime::parse_from_rfc3339(&line.ts)
                .ok()
                .map(|t| t.with_timezone(&Utc));
            let events = self.translator.translate(line);
            if !events.is_empty() {
                return Ok(Some(Played { at, events }));
            }
        }
        Ok(None)
    }

    /// Back to the journal's first record.
    pub fn rewind(&mut self) -> Result<(), JournalError> {
        self.follower.rewind()?;
        self.translator = Translator::new(&self.plan, &self.journal);
        Ok(())
    }

    /// Whether the run's drydock is still alive, writing the journal.
    pub fn writer_alive(&self) -> bool {
        self.follower.writer_alive()
    }
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
