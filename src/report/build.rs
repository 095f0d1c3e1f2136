//! From journal lines to a [`Report`]: every event DESIGN's journal table
//! lists is taken, including those a version of drydock may not write yet,
//! so that they show as soon as it does.

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use super::*;
use crate::journal::{
    AnsweredBy, ConnectionState, GateDecision, Line, NotDone, Outcome, Record, RunStatus,
};
use crate::remote::Stream;
use crate::runbook::Plan;

/// Reads a run's journal one line at a time.
#[derive(Debug, Default)]
pub struct Reader {
    report: Option<Report>,
    /// The last stderr lines of the command running, per (step, host, undo).
    stderr: HashMap<(String, String, bool), VecDeque<String>>,
    /// The engine's own list of what was not done, when it wrote one.
    not_done: Vec<NotDone>,
    /// The step whose question was answered with abort, last.
    aborted_at: Option<String>,
    /// The step that failed last.
    failed_last: Option<String>,
}

fn gate_word(decision: GateDecision) -> &'static str {
    match decision {
        GateDecision::Run => "run",
        GateDecision::Skip => "skip",
        GateDecision::Retry => "retry",
        GateDecision::Undo => "undo",
        GateDecision::Abort => "abort",
        GateDecision::Override => "override",
        GateDecision::BreakLock => "break_lock",
        GateDecision::Leave => "leave",
        GateDecision::Wait => "wait",
        GateDecision::Kill => "kill",
    }
}

fn status_word(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Ok => "ok",
        RunStatus::Failed => "failed",
        RunStatus::Aborted => "aborted",
    }
}

fn connection_word(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connected => "connected",
        ConnectionState::Lost => "lost",
        ConnectionState::Reconnected => "reconnected",
        ConnectionState::Failed => "failed",
    }
}

impl Reader {
    pub fn new() -> Self {
        Self::default()
    }

    /// The step `step` on `host`, added where it first appears.
    fn host(&mut self, step: &str, host: &str) -> Option<&mut HostReport> {
        let report = self.report.as_mut()?;
        let at = match report.steps.iter().position(|s| s.step == step) {
            Some(i) => i,
            None => {
                report.steps.push(StepReport {
                    step: step.to_string(),
                    title: None,
                    hosts: Vec::new(),
                });
                report.steps.len() - 1
            }
        };
        let hosts = &mut report.steps[at].hosts;
        let h = match hosts.iter().position(|h| h.host == host) {
            Some(i) => i,
            None => {
                hosts.push(HostReport {
                    host: host.to_string(),
                    status: "not run".into(),
                    ..HostReport::default()
                });
                hosts.len() - 1
            }
        };
        Some(&mut hosts[h])
    }

    fn tail(&mut self, step: &str, host: &str, undo: bool) -> Vec<String> {
        self.stderr
            .get(&(step.to_string(), host.to_string(), undo))
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Take one line of the journal, in order.
    pub fn take(&mut self, line: Line) {
        let ts = line.ts;
        match line.record {
            Record::RunStarted {
                run_id,
                runbook,
                runbook_sha256,
                user,
                hosts,
            } => {
                // A resumed run writes no second one; keep the first.
                if self.report.is_none() {
                    self.report = Some(Report {
                        run_id,
                        runbook,
                        runbook_sha256,
                        runbook_file: RunbookFile::Unchanged,
                        user,
                        hosts,
                        started: ts,
                        ended: None,
                        result: "unfinished".into(),
                        exit_code: None,
                        interrupted: None,
                        steps: Vec::new(),
                        answers: Vec::new(),
                        connections: Vec::new(),
                        notices: Vec::new(),
                        left_undone: Vec::new(),
                        notes: Vec::new(),
                    });
                }
            }
            Record::StepStarted {
                step,
                host,
                command,
                phase,
            } => {
                let undo = phase.is_some();
                self.stderr
                    .insert((step.clone(), host.clone(), undo), VecDeque::new());
                let Some(h) = self.host(&step, &host) else {
                    return;
                };
                if undo {
                    h.undo = Some(UndoReport {
                        command,
                        status: "running".into(),
                        ..UndoReport::default()
                    });
                } else {
                    h.attempts += 1;
                    h.command = Some(command);
                    h.status = "running".into();
                    h.started = Some(ts);
                    h.finished = None;
                    h.duration_ms = None;
                    h.exit_code = None;
                    h.reason = None;
                    h.pid = None;
                }
            }
            Record::Output {
                step,
                host,
                stream: Stream::Stderr,
                phase,
                text,
            } => {
                let tail = self
                    .stderr
                    .entry((step, host, phase.is_some()))
                    .or_default();
                for l in text.lines() {
                    if tail.len() == STDERR_TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(l.clone());
                }
            }
            Record::Output { .. } => {}
            Record::StepFinished {
                step,
                host,
                status,
                exit_code,
                duration_ms,
                phase,
                reason,
                ..
            } => self.finished(
                ts,
                &step,
                &host,
                status,
                exit_code,
                duration_ms,
                phase,
                reason,
            ),
            Record::Gate {
                step,
                decision,
                host,
                by,
                question,
            } => {
                if decision == GateDecision::Abort {
                    self.aborted_at.clone_from(&step);
                }
                let Some(report) = self.report.as_mut() else {
                    return;
                };
                report.answers.push(Answer {
                    at: ts,
                    step,
                    host,
                    decision: gate_word(decision).into(),
                    by: by.map(|b| match b {
                        AnsweredBy::Admin => "admin".into(),
                        AnsweredBy::Yes => "--yes".into(),
                        AnsweredBy::Nobody => "nobody (no answer could come)".into(),
                    }),
                    question,
                });
            }
            Record::GuardPoll { step, host, ok } => {
                if let Some(h) = self.host(&step, &host) {
                    h.guard_polls += 1;
                    h.guard_held += u32::from(ok);
                }
            }
            Record::Preview {
                step,
                host,
                command,
                lines,
                exit_code,
                reason,
            } => {
                if let Some(h) = self.host(&step, &host) {
                    h.previews.push(PreviewNote {
                        command,
                        lines,
                        exit_code,
                        reason,
                    });
                }
            }
            Record::Condition {
                step,
                host,
                command,
                holds,
                reason,
            } => {
                if let Some(h) = self.host(&step, &host) {
                    h.condition = Some(ConditionNote {
                        command,
                        holds,
                        reason,
                    });
                }
            }
            Record::Process {
                step,
                host,
                pid,
                phase,
            } => {
                if let Some(h) = self.host(&step, &host) {
                    match (phase.as_deref(), h.undo.as_mut()) {
                        (Some("undo"), Some(undo)) => undo.pid = Some(pid),
                        (Some("undo"), None) => {}
                        _ => h.pid = Some(pid),
                    }
                }
            }
            Record::Capture {
                step,
                host,
                var,
                value,
            } => {
                if let Some(h) = self.host(&step, &host) {
                    h.captures.push(CaptureNote { var, value });
                }
            }
            Record::Input {
                step,
                host,
                text,
                masked,
                end_of_input,
                ..
            } => {
                if let Some(h) = self.host(&step, &host) {
                    h.inputs.push(InputNote {
                        at: ts,
                        text: text.filter(|_| !masked),
                        masked,
                        end_of_input,
                    });
                }
            }
            Record::Sudo {
                step,
                host,
                asked,
                ok,
                ..
            } => {
                if let Some(h) = self.host(&step, &host) {
                    h.sudo.push(SudoNote { asked, ok });
                }
            }
            Record::Connection {
                host,
                state,
                reason,
                route,
            } => {
                if let Some(report) = self.report.as_mut() {
                    report.connections.push(ConnectionNote {
                        at: ts,
                        host,
                        state: connection_word(state).into(),
                        reason,
                        route,
                    });
                }
            }
            Record::Notice { step, text } => {
                if let Some(report) = self.report.as_mut() {
                    report.notices.push(NoticeNote { at: ts, step, text });
                }
            }
            Record::RunInterrupted { signal, running } => {
                if let Some(report) = self.report.as_mut() {
                    report.ended = Some(ts.clone());
                    report.result = "interrupted".into();
                    report.interrupted = Some(Interruption {
                        at: ts,
                        signal,
                        running,
                    });
                }
            }
            Record::RunFinished {
                status,
                exit_code,
                not_done,
            } => {
                self.not_done = not_done;
                if let Some(report) = self.report.as_mut() {
                    report.ended = Some(ts);
                    report.result = status_word(status).into();
                    report.exit_code = Some(exit_code);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // the fields of one record
    fn finished(
        &mut self,
        ts: String,
        step: &str,
        host: &str,
        status: Outcome,
        exit_code: Option<i32>,
        duration_ms: u64,
        phase: Option<String>,
        reason: Option<String>,
    ) {
        let undo = phase.is_some();
        let last_stderr = self.tail(step, host, undo);
        if !undo && matches!(status, Outcome::Failed | Outcome::Timeout | Outcome::Lost) {
            self.failed_last = Some(step.to_string());
        }
        let Some(h) = self.host(step, host) else {
            return;
        };
        if undo {
            let u = h.undo.get_or_insert_with(UndoReport::default);
            u.status = status.as_str().into();
            u.exit_code = exit_code;
            u.duration_ms = Some(duration_ms);
            u.reason = reason;
            if status != Outcome::Ok {
                u.last_stderr = last_stderr;
            }
            return;
        }
        h.status = status.as_str().into();
        h.finished = Some(ts);
        h.duration_ms = Some(duration_ms);
        h.exit_code = exit_code;
        h.reason.clone_from(&reason);
        if matches!(status, Outcome::Failed | Outcome::Timeout | Outcome::Lost) {
            h.failures.push(Failure {
                attempt: h.attempts,
                status: status.as_str().into(),
                exit_code,
                reason,
                last_stderr,
            });
        }
    }

    /// The report so far, as it stands (a replay shows it line by line).
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    /// The report, completed from the runbook: its titles, its order, the
    /// steps that never started, and what was left undone.
    pub fn finish(self) -> Option<Report> {
        let mut report = self.report?;
        let ended = report.ended.is_some();
        for step in &mut report.steps {
            for h in &mut step.hosts {
                if h.status == "running" && ended {
                    h.status = "unknown".into();
                }
                if let Some(u) = h.undo.as_mut().filter(|u| u.status == "running" && ended) {
                    u.status = "unknown".into();
                }
            }
        }
        let (state, plan) = runbook_now(&report.runbook, &report.runbook_sha256);
        report.runbook_file = state;
        match &plan {
            Ok(plan) => complete_from_plan(&mut report, plan),
            Err(why) if self.not_done.is_empty() => report
                .notes
                .push(format!("{why}: steps that never started are not listed")),
            Err(_) => {}
        }
        report.left_undone = if self.not_done.is_empty() {
            left_undone(
                &report,
                self.aborted_at.as_deref(),
                self.failed_last.as_deref(),
            )
        } else {
            self.not_done
                .into_iter()
                .map(|n| LeftUndone {
                    step: n.step,
                    host: n.host,
                    why: n.why,
                })
                .collect()
        };
        Some(report)
    }
}

/// The runbook file as it is now, and its plan when it is still the one the
/// run used (or why there is none).
pub(super) fn runbook_now(runbook: &str, sha256: &str) -> (RunbookFile, Result<Plan, String>) {
    let path = Path::new(runbook);
    let Ok(bytes) = std::fs::read(path) else {
        return (
            RunbookFile::Gone,
            Err(format!("the runbook {runbook} is gone")),
        );
    };
    if crate::runbook::sha256_hex(&bytes) != sha256 {
        return (
            RunbookFile::Changed,
            Err("the runbook has changed since the run".into()),
        );
    }
    // Shown as the run showed it: its secrets replaced in every title.
    let plan = crate::runbook::load(path, &[])
        .map(|plan| crate::engine::shown_plan(&plan))
        .map_err(|_| {
            "the runbook does not load on its own (it may need the run's --var values)".to_string()
        });
    (RunbookFile::Unchanged, plan)
}

/// The runbook's order and titles, and a `not run` line for every host of
/// the run a step was for and never started on.
fn complete_from_plan(report: &mut Report, plan: &Plan) {
    let mut ran = std::mem::take(&mut report.steps);
    for step in &plan.steps {
        let mut entry = match ran.iter().position(|s| s.step == step.id) {
            Some(i) => ran.remove(i),
            None => StepReport {
                step: step.id.clone(),
                title: None,
                hosts: Vec::new(),
            },
        };
        entry.title = Some(step.title.clone());
        for &h in &step.hosts {
            let name = &plan.hosts[h].name;
            if report.hosts.contains(name) && !entry.hosts.iter().any(|r| &r.host == name) {
                entry.hosts.push(HostReport {
                    host: name.clone(),
                    status: "not run".into(),
                    ..HostReport::default()
                });
            }
        }
        let order = |host: &str| report.hosts.iter().position(|h| h == host);
        entry.hosts.sort_by_key(|r| order(&r.host));
        report.steps.push(entry);
    }
    // Steps the runbook no longer has (it cannot: its sha256 is the same) stay.
    report.steps.extend(ran);
}

/// Every step not done on a host, and why, as the journal tells it.
fn left_undone(
    report: &Report,
    aborted_at: Option<&str>,
    failed_last: Option<&str>,
) -> Vec<LeftUndone> {
    let never_started = match report.result.as_str() {
        "aborted" => match aborted_at {
            Some(step) => format!("not reached: the run was aborted at {step}"),
            None => "not reached: the run was aborted".into(),
        },
        "failed" => match failed_last {
            Some(step) => format!("not reached: the run stopped after {step} failed"),
            None => crate::engine::exit::not_reached(report.exit_code.unwrap_or(1)).into(),
        },
        "interrupted" => format!(
            "not reached: the run was interrupted by {}",
            report
                .interrupted
                .as_ref()
                .map_or("a signal", |i| i.signal.as_str())
        ),
        "ok" => "not run".into(),
        _ => "not reached: the journal ends before it (the run was cut short, or is still going)"
            .into(),
    };
    let mut out = Vec::new();
    for step in &report.steps {
        for h in &step.hosts {
            let undone = h.undo.as_ref().is_some_and(|u| u.status == "ok");
            let why = match h.status.as_str() {
                "ok" if undone => "done, then undone".to_string(),
                "ok" => continue,
                "not run" => never_started.clone(),
                "skipped" => match &h.reason {
                    Some(reason) => format!("skipped: {reason}"),
                    None => "skipped".into(),
                },
                "unknown" => "its outcome is unknown: the run stopped while it ran".into(),
                "running" => "still running".into(),
                status => {
                    let how = h
                        .exit_code
                        .map(|c| format!("exit status {c}"))
                        .or_else(|| h.reason.clone())
                        .map(|how| format!(" ({how})"))
                        .unwrap_or_default();
                    let then = if undone { ", then undone" } else { "" };
                    format!("{status}{how}{then}")
                }
            };
            out.push(LeftUndone {
                step: step.step.clone(),
                host: h.host.clone(),
                why,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
