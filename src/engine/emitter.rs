//! Where the engine's events go: redacted, recorded in the journal, then
//! sent to the front end.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::budget::{OUTPUT_BUDGET, OutputBudget};
use super::event::*;
use super::notify::Notifier;
use super::output::strip_sgr;
use super::redact::Redactor;
use crate::journal::{
    self, ConnectionState, GateDecision, Journal, JournalError, Outcome, Record, Verbatim,
};
use crate::runbook::Plan;

/// Events on their way to a front end, redacted first. The log followers
/// hold one of their own: their lines are shown, not journaled.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Event>,
    redactor: Arc<Redactor>,
    /// Bounds the output (command and log lines) on its way, in bytes.
    budget: Arc<OutputBudget>,
}

impl Outbox {
    pub(crate) fn new(tx: mpsc::Sender<Event>, redactor: Arc<Redactor>) -> Self {
        Self {
            tx,
            redactor,
            budget: OutputBudget::new(OUTPUT_BUDGET),
        }
    }

    /// Room for `bytes` of output, waiting until the front end made some.
    pub(crate) async fn reserve(&self, bytes: usize) -> Credit {
        self.budget.reserve(bytes).await
    }

    /// Send `event`; false when the front end has gone.
    pub(crate) async fn send(&self, mut event: Event) -> bool {
        self.redactor.event(&mut event);
        self.tx.send(event).await.is_ok()
    }
}

/// Sends events to the front end and records them in the journal, and
/// knows from them which steps' commands are running.
pub(crate) struct Emitter {
    plan: Arc<Plan>,
    outbox: Outbox,
    journal: Option<Journal>,
    /// Why the journal could not be written, until a retry writes it.
    journal_error: Mutex<Option<String>>,
    /// Steps started and not finished, with their process group when known.
    running: Mutex<Vec<RunningCommand>>,
    notifier: Option<Notifier>,
}

/// An answer as the journal names it.
pub(super) fn gate_decision(decision: Decision) -> GateDecision {
    match decision {
        Decision::Run => GateDecision::Run,
        Decision::Skip => GateDecision::Skip,
        Decision::Retry => GateDecision::Retry,
        Decision::Undo => GateDecision::Undo,
        Decision::Abort => GateDecision::Abort,
        Decision::Override => GateDecision::Override,
        Decision::BreakLock { .. } => GateDecision::BreakLock,
        Decision::Leave => GateDecision::Leave,
        Decision::Wait => GateDecision::Wait,
        Decision::Kill => GateDecision::Kill,
    }
}

fn phase_name(phase: Phase) -> Option<String> {
    (phase == Phase::Undo).then(|| "undo".to_string())
}

impl Emitter {
    pub(crate) fn new(plan: Arc<Plan>, tx: mpsc::Sender<Event>, journal: Option<Journal>) -> Self {
        let redactor = Arc::new(Redactor::for_plan(&plan));
        let outbox = Outbox::new(tx, redactor.clone());
        let notifier = Notifier::for_plan(&plan, outbox.clone(), redactor);
        Self {
            plan,
            outbox,
            journal,
            journal_error: Mutex::new(None),
            running: Mutex::new(Vec::new()),
            notifier,
        }
    }

    /// Why the journal is not written, while it is not.
    pub(crate) fn journal_error(&self) -> Option<String> {
        self.journal_error.lock().ok().and_then(|e| e.clone())
    }

    /// Write again what a failed journal write left; `Ok` when it is all on disk.
    pub(crate) async fn retry_journal(&self) -> Result<(), String> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let result = journal.retry().await.map_err(|e| e.to_string());
        if let Ok(mut error) = self.journal_error.lock() {
            *error = result.clone().err();
        }
        tracing::info!(ok = result.is_ok(), "journal write retried");
        result
    }

    /// The steps' commands running now.
    pub(crate) fn running(&self) -> Vec<RunningCommand> {
        self.running.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn track(&self, event: &Event) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        match event {
            Event::StepStarted { step, host, .. } => running.push(RunningCommand {
                step: *step,
                host: *host,
                pid: None,
            }),
            Event::StepFinished { step, host, .. } => {
                if let Some(i) = running
                    .iter()
                    .position(|r| r.step == *step && r.host == *host)
                {
                    running.remove(i);
                }
            }
            Event::ProcessStarted {
                step, host, pid, ..
            } => {
                if let Some(r) = running
                    .iter_mut()
                    .rfind(|r| r.step == *step && r.host == *host)
                {
                    r.pid = Some(*pid);
                }
            }
            _ => {}
        }
    }

    /// Lines a command printed that arrived together: journaled and sent
    /// once the output budget has room for them (the caller, and so the
    /// command's channel, waits until then).
    pub(crate) async fn emit_output(
        &self,
        step: StepIx,
        host: HostIx,
        phase: Phase,
        mut lines: Lines,
    ) {
        lines.hold(self.outbox.reserve(lines.size()).await);
        self.emit(Event::Output {
            step,
            host,
            phase,
            lines,
        })
        .await;
    }

    pub(crate) fn journal_path(&self) -> Option<std::path::PathBuf> {
        self.journal.as_ref().map(|j| j.path().to_path_buf())
    }

    pub(crate) fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// A secret learnt during the run: replaced in every event from now on.
    pub(crate) fn redact_also(&self, secret: &str) {
        self.outbox.redactor.add(secret);
    }

    fn step_id(&self, step: StepIx) -> String {
        self.plan.steps[step].id.clone()
    }

    fn host_name(&self, host: HostIx) -> String {
        self.plan.hosts[host].name.clone()
    }

    /// The journal record of an event, if it has one.
    fn record(&self, event: &Event, starts_at: Option<&str>) -> Option<Record> {
        Some(match event {
            Event::HostConnected { host, to } => Record::Connection {
                host: self.host_name(*host),
                state: ConnectionState::Connected,
                reason: None,
                route: Some(to.clone()),
            },
            Event::StepStarted {
                step,
                host,
                command,
                phase,
                ..
            } => Record::StepStarted {
                step: self.step_id(*step),
                host: self.host_name(*host),
                command: command.clone(),
                phase: phase_name(*phase),
            },
            Event::StepFinished {
                step,
                host,
                outcome,
                exit,
                duration,
                phase,
                message,
            } => Record::StepFinished {
                step: self.step_id(*step),
                host: self.host_name(*host),
                status: *outcome,
                exit_code: exit.as_ref().and_then(|e| e.code),
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                phase: phase_name(*phase),
                reason: message.clone(),
                starts_at: starts_at.map(str::to_string),
            },
            Event::StepSkipped {
                step,
                host,
                reason,
                earlier: None,
            } => Record::StepFinished {
                step: self.step_id(*step),
                host: self.host_name(*host),
                status: Outcome::Skipped,
                exit_code: None,
                duration_ms: 0,
                phase: None,
                reason: Some(reason.clone()),
                starts_at: None,
            },
            Event::Decided { step, decision, by } => {
                let (step, host) = match decision {
                    Decision::BreakLock { host } => (None, Some(self.host_name(*host))),
                    _ => (Some(self.step_id(*step)), None),
                };
                Record::Gate {
                    step,
                    host,
                    decision: gate_decision(*decision),
                    question: None,
                    by: Some(*by),
                }
            }
            Event::GuardPolled { step, host, ok, .. } => Record::GuardPoll {
                step: self.step_id(*step),
                host: self.host_name(*host),
                ok: *ok,
            },
            Event::RunFinished {
                status,
                exit_code,
                not_done,
                ..
            } => Record::RunFinished {
                status: *status,
                exit_code: *exit_code,
                not_done: not_done
                    .iter()
                    .map(|n| journal::NotDone {
                        step: self.step_id(n.step),
                        host: self.host_name(n.host),
                        why: n.why.clone(),
                    })
                    .collect(),
            },
            Event::RunInterrupted {
                signal, running, ..
            } => Record::RunInterrupted {
                signal: signal.clone(),
                running: running
                    .iter()
                    .map(|r| journal::Running {
                        step: self.step_id(r.step),
                        host: self.host_name(r.host),
                        pid: r.pid,
                    })
                    .collect(),
            },
            Event::ProcessStarted {
                step,
                host,
                pid,
                phase,
            } => Record::Process {
                step: self.step_id(*step),
                host: self.host_name(*host),
                pid: *pid,
                phase: phase_name(*phase),
            },
            Event::Captured {
                step,
                host,
                var,
                value,
            } => Record::Capture {
                step: self.step_id(*step),
                host: self.host_name(*host),
                var: var.clone(),
                value: value.clone(),
            },
            Event::Sudo {
                step,
                host,
                phase,
                asked,
                ok,
            } => Record::Sudo {
                step: self.step_id(*step),
                host: self.host_name(*host),
                asked: *asked,
                ok: *ok,
                phase: phase_name(*phase),
            },
            Event::Input {
                step,
                host,
                phase,
                text,
                masked,
                end,
            } => Record::Input {
                step: self.step_id(*step),
                host: self.host_name(*host),
                text: text.clone().filter(|_| !masked),
                masked: *masked,
                end_of_input: *end,
                phase: phase_name(*phase),
            },
            Event::Previewed { step, preview } => Record::Preview {
                step: self.step_id(*step),
                host: self.host_name(preview.host),
                command: preview.command.clone(),
                lines: preview
                    .lines
                    .iter()
                    .map(|l| strip_sgr(l).into_owned())
                    .collect(),
                exit_code: preview.exit.as_ref().and_then(|e| e.code),
                reason: preview.error.clone(),
            },
            Event::ConditionChecked {
                step,
                host,
                command,
                holds,
                error,
            } => Record::Condition {
                step: self.step_id(*step),
                host: self.host_name(*host),
                command: command.clone(),
                holds: *holds,
                reason: error.clone(),
            },
            Event::HostFailed { host, error, .. } => {
                self.connection(*host, ConnectionState::Failed, Some(error))
            }
            Event::HostLost { host, reason } => {
                self.connection(*host, ConnectionState::Lost, Some(reason))
            }
            Event::HostReconnected { host } => {
                self.connection(*host, ConnectionState::Reconnected, None)
            }
            Event::Notice { step, text } => Record::Notice {
                step: step.map(|s| self.step_id(s)),
                text: text.clone(),
            },
            _ => return None,
        })
    }

    fn connection(&self, host: HostIx, state: ConnectionState, reason: Option<&String>) -> Record {
        Record::Connection {
            host: self.host_name(host),
            state,
            reason: reason.cloned(),
            route: None,
        }
    }

    fn journal_failed(&self, e: JournalError) {
        tracing::warn!(error = %e, "journal write failed");
        let first = match self.journal_error.lock() {
            Ok(mut error) => error.replace(e.to_string()).is_none(),
            Err(_) => false,
        };
        if first {
            // try_send: telling of a broken journal must not wait on the front end.
            let mut notice = Event::Notice {
                step: None,
                text: format!("journal: {e}"),
            };
            self.outbox.redactor.event(&mut notice);
            let _ = self.outbox.tx.try_send(notice);
        }
    }

    pub(crate) async fn write_record(&self, record: Record) {
        let Some(journal) = &self.journal else { return };
        if let Err(e) = journal.write(record).await {
            self.journal_failed(e);
        }
    }

    async fn journal(&self, event: &Event, starts_at: Option<&str>) {
        let Some(journal) = &self.journal else { return };
        let written = match event {
            Event::Output {
                step,
                host,
                phase,
                lines,
                ..
            } => {
                journal
                    .write_output(
                        &self.plan.steps[*step].id,
                        &self.plan.hosts[*host].name,
                        *phase == Phase::Undo,
                        lines.iter(),
                        if lines.json_plain() {
                            Verbatim::Yes
                        } else {
                            Verbatim::Unknown
                        },
                    )
                    .await
            }
            _ => match self.record(event, starts_at) {
                Some(record) => journal.write(record).await,
                None => Ok(()),
            },
        };
        if let Err(e) = written {
            self.journal_failed(e);
        }
    }

    pub(crate) async fn emit(&self, event: Event) {
        self.emit_with(event, None).await;
    }

    /// Redact, journal (a banner's step also with the start time it
    /// announced), then send. A front end that has gone away does not stop the run.
    pub(crate) async fn emit_with(&self, mut event: Event, starts_at: Option<&str>) {
        self.outbox.redactor.event(&mut event);
        self.trace(&event);
        self.track(&event);
        self.journal(&event, starts_at).await;
        let finished = matches!(event, Event::RunFinished { .. });
        if let Some(notifier) = &self.notifier {
            notifier.hear(&event);
        }
        let _ = self.outbox.tx.send(event).await;
        if let (true, Some(notifier)) = (finished, &self.notifier) {
            notifier.settle().await;
        }
    }

    /// The steps' state changes, for the diagnostics log.
    fn trace(&self, event: &Event) {
        let name = |step: &StepIx, host: &HostIx| {
            (
                self.plan.steps[*step].id.as_str(),
                self.plan.hosts[*host].name.as_str(),
            )
        };
        match event {
            Event::StepStarted {
                step,
                host,
                phase,
                attempt,
                ..
            } => {
                let (step, host) = name(step, host);
                tracing::debug!(step, host, ?phase, attempt, "step started");
            }
            Event::StepFinished {
                step,
                host,
                outcome,
                phase,
                ..
            } => {
                let (step, host) = name(step, host);
                let outcome = outcome.as_str();
                tracing::debug!(step, host, ?phase, outcome, "step finished");
            }
            Event::StepSkipped {
                step, host, reason, ..
            } => {
                let (step, host) = name(step, host);
                tracing::debug!(step, host, reason = %reason, "step skipped");
            }
            Event::Sudo {
                step,
                host,
                asked,
                ok,
                ..
            } => {
                let (step, host) = name(step, host);
                tracing::debug!(step, host, asked, ok, "sudo");
            }
            Event::AwaitingInput { step, host, .. } => {
                let (step, host) = name(step, host);
                tracing::debug!(step, host, "command waits for input");
            }
            Event::Input {
                step,
                host,
                masked,
                end,
                ..
            } => {
                let (step, host) = name(step, host);
                tracing::debug!(step, host, masked, end, "input typed");
            }
            _ => {}
        }
    }
}
