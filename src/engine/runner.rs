//! The run itself: connect, lock, walk the steps, pause on failures, roll back.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::*;
use super::lock::{self, Acquired, Owner};
use super::output::{LineSplitter, sanitize, strip_sgr};
use super::{Options, RunResult, exit, http};
use crate::journal::{GateDecision, Journal, Outcome, Record, RunStatus};
use crate::remote::{self, ExecRequest, ExitStatus, Stream, Transport, TransportError};
use crate::runbook::duration::short;
use crate::runbook::{
    Action, BannerSwitch, GuardCheck, HttpCheck, OnFailure, Plan, RunVars, WaitFor,
};

/// How many lines of a preview or condition are kept for the gate.
const PREVIEW_LINES: usize = 500;
/// How many of the last stderr lines a failure shows.
const FAILURE_TAIL: usize = 10;
/// Time limit for previews, conditions and checks that have none of their own.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
const REDACTED: &str = "********";

/// Sends events to the front end and records them in the journal.
pub(crate) struct Emitter {
    plan: Arc<Plan>,
    tx: mpsc::Sender<Event>,
    journal: Option<Mutex<Journal>>,
    secrets: Vec<String>,
    journal_broken: AtomicBool,
}

impl Emitter {
    pub(crate) fn new(plan: Arc<Plan>, tx: mpsc::Sender<Event>, journal: Option<Journal>) -> Self {
        let secrets = plan.secret_values();
        Self {
            plan,
            tx,
            journal: journal.map(Mutex::new),
            secrets,
            journal_broken: AtomicBool::new(false),
        }
    }

    fn journal_path(&self) -> Option<std::path::PathBuf> {
        let journal = self.journal.as_ref()?;
        let guard = journal.lock().ok()?;
        Some(guard.path().to_path_buf())
    }

    fn redact(&self, text: &mut String) {
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), REDACTED);
            }
        }
    }

    fn step_id(&self, step: StepIx) -> String {
        self.plan.steps[step].id.clone()
    }

    fn host_name(&self, host: HostIx) -> String {
        self.plan.hosts[host].name.clone()
    }

    fn record(&self, event: &Event, starts_at: Option<&str>) -> Option<Record> {
        let phase = |p: Phase| (p == Phase::Undo).then(|| "undo".to_string());
        Some(match event {
            Event::StepStarted {
                step,
                host,
                command,
                phase: p,
                ..
            } => Record::StepStarted {
                step: self.step_id(*step),
                host: self.host_name(*host),
                command: command.clone(),
                phase: phase(*p),
            },
            Event::Output {
                step,
                host,
                stream,
                line,
            } => Record::Output {
                step: self.step_id(*step),
                host: self.host_name(*host),
                stream: *stream,
                line: strip_sgr(line).into_owned(),
            },
            Event::StepFinished {
                step,
                host,
                outcome,
                exit,
                duration,
                phase: p,
                message,
            } => Record::StepFinished {
                step: self.step_id(*step),
                host: self.host_name(*host),
                status: *outcome,
                exit_code: exit.as_ref().and_then(|e| e.code),
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                phase: phase(*p),
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
            Event::Decided { step, decision, .. } => Record::Gate {
                step: self.step_id(*step),
                decision: match decision {
                    Decision::Run => GateDecision::Run,
                    Decision::Skip => GateDecision::Skip,
                    Decision::Abort => GateDecision::Abort,
                    Decision::Override => GateDecision::Override,
                    Decision::Retry | Decision::Undo => return None,
                },
            },
            Event::GuardPolled { step, host, ok, .. } => Record::GuardPoll {
                step: self.step_id(*step),
                host: self.host_name(*host),
                ok: *ok,
            },
            Event::RunFinished {
                status, exit_code, ..
            } => Record::RunFinished {
                status: *status,
                exit_code: *exit_code,
            },
            _ => return None,
        })
    }

    /// Journal lines that arrived together: one lock, one timestamp.
    fn write_output<'l>(
        &self,
        step: StepIx,
        host: HostIx,
        lines: impl Iterator<Item = (Stream, &'l str)>,
    ) {
        let Some(journal) = &self.journal else { return };
        let result = match journal.lock() {
            Ok(mut j) => j.write_output(
                &self.plan.steps[step].id,
                &self.plan.hosts[host].name,
                lines.map(|(stream, line)| (stream, strip_sgr(line))),
            ),
            Err(_) => return,
        };
        if let Err(e) = result {
            self.journal_failed(e);
        }
    }

    /// Emit the lines a command printed in one read, in order.
    async fn emit_lines(&self, step: StepIx, host: HostIx, lines: &mut Vec<(Stream, String)>) {
        for (_, line) in lines.iter_mut() {
            self.redact(line);
        }
        self.write_output(step, host, lines.iter().map(|(s, l)| (*s, l.as_str())));
        if lines.is_empty() {
            return;
        }
        let lines = std::mem::take(lines);
        let _ = self.tx.send(Event::Lines { step, host, lines }).await;
    }

    fn journal_failed(&self, e: crate::journal::JournalError) {
        if !self.journal_broken.swap(true, Ordering::Relaxed) {
            let _ = self.tx.try_send(Event::Notice {
                step: None,
                text: format!("journal: {e}"),
            });
        }
    }

    pub(crate) fn write_record(&self, record: Record) {
        let Some(journal) = &self.journal else { return };
        let result = match journal.lock() {
            Ok(mut j) => j.write(record),
            Err(_) => return,
        };
        if let Err(e) = result {
            self.journal_failed(e);
        }
    }

    async fn emit(&self, event: Event) {
        self.emit_with(event, None).await;
    }

    /// A sender for events that are neither journaled nor carry commands
    /// (log lines), with the secrets they must not show.
    fn log_sink(&self) -> (mpsc::Sender<Event>, Vec<String>) {
        (self.tx.clone(), self.secrets.clone())
    }

    async fn emit_with(&self, mut event: Event, starts_at: Option<&str>) {
        match &mut event {
            Event::StepStarted { command, .. } => self.redact(command),
            Event::Output { line, .. } => self.redact(line),
            Event::Notice { text, .. } => self.redact(text),
            Event::Prompt(p) => {
                for (_, c) in &mut p.commands {
                    self.redact(c);
                }
                for preview in &mut p.previews {
                    self.redact(&mut preview.command);
                    preview.lines.iter_mut().for_each(|l| self.redact(l));
                }
            }
            _ => {}
        }
        if let Event::Output {
            step,
            host,
            stream,
            line,
        } = &event
        {
            self.write_output(*step, *host, std::iter::once((*stream, line.as_str())));
        } else if let Some(record) = self.record(&event, starts_at) {
            self.write_record(record);
        }
        // A front end that has gone away does not stop the run.
        let _ = self.tx.send(event).await;
    }
}

/// What a step did on one host.
#[derive(Debug, Clone)]
struct HostResult {
    host: HostIx,
    outcome: Outcome,
    exit: Option<ExitStatus>,
    message: Option<String>,
    last_stderr: Vec<String>,
}

impl HostResult {
    fn new(host: HostIx, outcome: Outcome) -> Self {
        Self {
            host,
            outcome,
            exit: None,
            message: None,
            last_stderr: Vec::new(),
        }
    }

    fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

enum Flow {
    Next,
    /// The admin aborted.
    Abort,
    /// The run stopped itself on a failure.
    Stop,
}

/// What every host task may read.
struct Ctx {
    plan: Arc<Plan>,
    emitter: Emitter,
    transports: Vec<Option<Arc<dyn Transport>>>,
    run_vars: Mutex<RunVars>,
}

pub(crate) struct Engine {
    ctx: Ctx,
    opts: Options,
    run_id: String,
    inbox: mpsc::Receiver<Decision>,
    participants: Vec<HostIx>,
    outcomes: HashMap<(StepIx, HostIx), Outcome>,
    /// (step, host) in the order they ran, for the undo offers.
    ran: Vec<(StepIx, HostIx)>,
    locks: Vec<(HostIx, String)>,
    /// Stops the log tails when the run ends.
    tails: CancellationToken,
    /// (step, host) whose undo has already run, so a rollback does not offer it again.
    undone: Vec<(StepIx, HostIx)>,
    continued_failures: bool,
}

impl Ctx {
    fn vars(&self) -> RunVars {
        self.run_vars.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn transport(&self, host: HostIx) -> Result<Arc<dyn Transport>, String> {
        self.transports
            .get(host)
            .and_then(Clone::clone)
            .ok_or_else(|| format!("host {} is not connected", self.plan.hosts[host].name))
    }

    fn render(
        &self,
        template: &crate::runbook::template::Template,
        host: HostIx,
    ) -> Result<String, String> {
        self.plan
            .render(template, host, &self.vars())
            .map_err(|e| e.to_string())
    }

    /// Run a command and stream its output as the step's output.
    #[allow(clippy::too_many_arguments)]
    async fn run_command(
        &self,
        step: StepIx,
        host: HostIx,
        command: String,
        phase: Phase,
        timeout: Option<Duration>,
        retries: u32,
        cancel: &CancellationToken,
    ) -> HostResult {
        let transport = match self.transport(host) {
            Ok(t) => t,
            Err(e) => return HostResult::new(host, Outcome::Failed).with_message(e),
        };
        let pty = self.plan.steps[step].pty;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.emitter
                .emit(Event::StepStarted {
                    step,
                    host,
                    command: command.clone(),
                    phase,
                    attempt,
                })
                .await;
            let started = Instant::now();
            let this_try = cancel.child_token();
            let (tx, rx) = mpsc::channel(64);
            let request = ExecRequest {
                command: command.clone(),
                pty,
            };
            let exec = transport.exec(request, tx, this_try.clone());
            let streaming = self.stream_output(step, host, rx);
            let both = futures::future::join(exec, streaming);
            tokio::pin!(both);
            let mut timed_out = false;
            let (result, last_stderr) = match timeout {
                Some(limit) => tokio::select! {
                    r = &mut both => r,
                    () = tokio::time::sleep(limit) => {
                        timed_out = true;
                        this_try.cancel();
                        both.await
                    }
                },
                None => both.await,
            };
            let mut res = HostResult::new(host, Outcome::Failed);
            res.last_stderr = last_stderr;
            match result {
                Ok(status) => {
                    res.outcome = if status.success() {
                        Outcome::Ok
                    } else {
                        Outcome::Failed
                    };
                    res.exit = Some(status);
                }
                Err(TransportError::Cancelled) if timed_out => {
                    res.outcome = Outcome::Timeout;
                    res.message = timeout
                        .map(|t| format!("timed out after {}; the command was ended", short(t)));
                }
                Err(TransportError::Cancelled) => {
                    res.message = Some("cancelled; the command was ended".into());
                }
                Err(e @ TransportError::Lost { .. }) => {
                    res.outcome = Outcome::Lost;
                    res.message = Some(e.to_string());
                }
                Err(TransportError::Failed(msg)) => res.message = Some(msg),
            }
            self.emitter
                .emit(Event::StepFinished {
                    step,
                    host,
                    outcome: res.outcome,
                    exit: res.exit.clone(),
                    duration: started.elapsed(),
                    phase,
                    message: res.message.clone(),
                })
                .await;
            let retryable =
                matches!(res.outcome, Outcome::Failed | Outcome::Timeout) && !cancel.is_cancelled();
            if !retryable || attempt > retries {
                return res;
            }
            self.emitter
                .emit(Event::Notice {
                    step: Some(step),
                    text: format!(
                        "{}: retrying ({} of {} retries)",
                        self.plan.hosts[host].name, attempt, retries
                    ),
                })
                .await;
        }
    }

    /// Turn output chunks into sanitized line events; returns the last stderr lines.
    async fn stream_output(
        &self,
        step: StepIx,
        host: HostIx,
        mut rx: mpsc::Receiver<crate::remote::Chunk>,
    ) -> Vec<String> {
        let mut splitters = [LineSplitter::default(), LineSplitter::default()];
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut pending: Vec<(Stream, String)> = Vec::new();
        while let Some(chunk) = rx.recv().await {
            let i = usize::from(chunk.stream == Stream::Stderr);
            splitters[i].push(&chunk.data, |line| {
                pending.push((chunk.stream, sanitize(line)))
            });
            self.flush_lines(step, host, &mut pending, &mut tail).await;
        }
        for (i, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
            splitters[i].finish(|line| pending.push((stream, sanitize(line))));
        }
        self.flush_lines(step, host, &mut pending, &mut tail).await;
        tail.into_iter().collect()
    }

    async fn flush_lines(
        &self,
        step: StepIx,
        host: HostIx,
        pending: &mut Vec<(Stream, String)>,
        tail: &mut VecDeque<String>,
    ) {
        for (stream, line) in pending.iter() {
            if *stream == Stream::Stderr {
                if tail.len() == FAILURE_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line.clone());
            }
        }
        self.emitter.emit_lines(step, host, pending).await;
    }

    /// Run a command quietly (previews, conditions, guard commands).
    async fn capture(
        &self,
        host: HostIx,
        command: &str,
        cancel: &CancellationToken,
    ) -> Result<(ExitStatus, Vec<String>), String> {
        let transport = self.transport(host)?;
        let (tx, mut rx) = mpsc::channel(64);
        let token = cancel.child_token();
        let exec = transport.exec(
            ExecRequest {
                command: command.to_string(),
                pty: false,
            },
            tx,
            token.clone(),
        );
        let collect = async {
            let mut splitters = [LineSplitter::default(), LineSplitter::default()];
            let mut lines = Vec::new();
            let keep = |l: &[u8], lines: &mut Vec<String>| {
                if lines.len() < PREVIEW_LINES {
                    lines.push(sanitize(l));
                }
            };
            while let Some(chunk) = rx.recv().await {
                let i = usize::from(chunk.stream == Stream::Stderr);
                splitters[i].push(&chunk.data, |l| keep(l, &mut lines));
            }
            for s in &mut splitters {
                s.finish(|l| keep(l, &mut lines));
            }
            lines
        };
        let work = futures::future::join(exec, collect);
        match tokio::time::timeout(CHECK_TIMEOUT, work).await {
            Ok((Ok(status), lines)) => Ok((status, lines)),
            Ok((Err(e), _)) => Err(e.to_string()),
            Err(_) => {
                token.cancel();
                Err(format!("no answer within {}", short(CHECK_TIMEOUT)))
            }
        }
    }

    async fn http_check(&self, host: HostIx, check: &HttpCheck) -> Result<String, String> {
        let url_host = check.via_for(host).unwrap_or(host);
        let url = self.render(&check.url, url_host)?;
        let target = http::parse_url(&url)?;
        let io: remote::BoxedIo = match check.via_for(host) {
            Some(via) => self
                .transport(via)?
                .open_tcp(&target.host, target.port)
                .await
                .map_err(|e| format!("{url} via {}: {e}", self.plan.hosts[via].name))?,
            None => {
                let stream = tokio::time::timeout(
                    HTTP_TIMEOUT,
                    tokio::net::TcpStream::connect((target.host.as_str(), target.port)),
                )
                .await
                .map_err(|_| format!("{url}: no connection within {}", short(HTTP_TIMEOUT)))?
                .map_err(|e| format!("{url}: {e}"))?;
                Box::new(stream)
            }
        };
        let response = http::get(io, &target, HTTP_TIMEOUT)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if response.status != check.status {
            return Err(format!(
                "{url} answered HTTP {}, expected {}",
                response.status, check.status
            ));
        }
        if let Some(contains) = &check.contains {
            let needle = self.render(contains, url_host)?;
            if !response.body.contains(&needle) {
                return Err(format!(
                    "{url} answered HTTP {} without '{needle}'",
                    response.status
                ));
            }
            return Ok(format!(
                "{url} answered HTTP {} containing '{needle}'",
                response.status
            ));
        }
        Ok(format!("{url} answered HTTP {}", response.status))
    }

    /// One check of a guard on one host: (holds, what was seen).
    async fn guard_check(
        &self,
        host: HostIx,
        check: &GuardCheck,
        cancel: &CancellationToken,
    ) -> (bool, String) {
        let file_check = |template, want_present: bool| async move {
            let path = self.render(template, host)?;
            let present = self
                .transport(host)?
                .exists(&path)
                .await
                .map_err(|e| e.to_string())?;
            let state = if present { "present" } else { "absent" };
            Ok::<_, String>((present == want_present, format!("{path} is {state}")))
        };
        let result = match check {
            GuardCheck::FileAbsent(p) => file_check(p, false).await,
            GuardCheck::FilePresent(p) => file_check(p, true).await,
            GuardCheck::Command(c) => match self.render(c, host) {
                Ok(cmd) => self
                    .capture(host, &cmd, cancel)
                    .await
                    .map(|(status, lines)| {
                        let last = lines
                            .last()
                            .map(|l| format!(": {}", strip_sgr(l)))
                            .unwrap_or_default();
                        (status.success(), format!("`{cmd}` {status}{last}"))
                    }),
                Err(e) => Err(e),
            },
            GuardCheck::Http(check) => match self.http_check(host, check).await {
                Ok(detail) => Ok((true, detail)),
                Err(detail) => Ok((false, detail)),
            },
        };
        result.unwrap_or_else(|e| (false, format!("check failed: {e}")))
    }

    fn describe_guard(&self, check: &GuardCheck, host: HostIx) -> String {
        let r = |t| self.render(t, host).unwrap_or_else(|e| e);
        match check {
            GuardCheck::FileAbsent(p) => format!("wait until {} is absent", r(p)),
            GuardCheck::FilePresent(p) => format!("wait until {} is present", r(p)),
            GuardCheck::Command(c) => format!("wait until `{}` exits 0", r(c)),
            GuardCheck::Http(h) => format!(
                "wait until {} answers HTTP {}",
                self.render(&h.url, h.via_for(host).unwrap_or(host))
                    .unwrap_or_default(),
                h.status
            ),
        }
    }

    async fn guard_host(
        &self,
        step: StepIx,
        host: HostIx,
        cancel: &CancellationToken,
        overridden: &AtomicBool,
    ) -> HostResult {
        let Action::Guard(guard) = &self.plan.steps[step].action else {
            return HostResult::new(host, Outcome::Failed);
        };
        self.emitter
            .emit(Event::StepStarted {
                step,
                host,
                command: self.describe_guard(&guard.check, host),
                phase: Phase::Main,
                attempt: 1,
            })
            .await;
        let started = Instant::now();
        let deadline = guard.timeout.map(|t| started + t);
        let mut checks = 0;
        let result = loop {
            checks += 1;
            let (ok, detail) = tokio::select! {
                r = self.guard_check(host, &guard.check, cancel) => r,
                () = cancel.cancelled() => (false, "cancelled".into()),
            };
            if cancel.is_cancelled() {
                break if overridden.load(Ordering::SeqCst) {
                    HostResult::new(host, Outcome::Ok).with_message("guard overridden by the admin")
                } else {
                    HostResult::new(host, Outcome::Failed)
                        .with_message("cancelled while waiting on the guard")
                };
            }
            let now = Instant::now();
            let expired = deadline.is_some_and(|d| now >= d);
            let next =
                (!ok && !expired).then(|| deadline.map_or(guard.poll, |d| guard.poll.min(d - now)));
            self.emitter
                .emit(Event::GuardPolled {
                    step,
                    host,
                    ok,
                    detail: detail.clone(),
                    checks,
                    next_check: next,
                })
                .await;
            if ok {
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
        self.emitter
            .emit(Event::StepFinished {
                step,
                host,
                outcome: result.outcome,
                exit: None,
                duration: started.elapsed(),
                phase: Phase::Main,
                message: result.message.clone(),
            })
            .await;
        result
    }

    async fn banner_host(&self, step: StepIx, host: HostIx, switch: BannerSwitch) -> HostResult {
        let started = Instant::now();
        let Some(banner) = &self.plan.banner else {
            return HostResult::new(host, Outcome::Failed)
                .with_message("the runbook has no [banner]");
        };
        let vars = self.vars();
        let render = |t| self.plan.render(t, host, &vars).map_err(|e| e.to_string());
        let path = match render(&banner.path) {
            Ok(p) => p,
            Err(e) => return HostResult::new(host, Outcome::Failed).with_message(e),
        };
        let command = banner_command(switch, &path);
        self.emitter
            .emit(Event::StepStarted {
                step,
                host,
                command,
                phase: Phase::Main,
                attempt: 1,
            })
            .await;
        let result: Result<Option<String>, String> = async {
            let transport = self.transport(host)?;
            match switch {
                BannerSwitch::On => {
                    let message = render(&banner.message)?;
                    let content = match &banner.content {
                        Some(c) => self
                            .plan
                            .render_banner(c, host, &vars, &message)
                            .map_err(|e| e.to_string())?,
                        None => message.clone(),
                    };
                    transport
                        .write_atomic(&path, content.as_bytes())
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(Some(message))
                }
                BannerSwitch::Off => {
                    transport
                        .remove_file(&path)
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(None)
                }
            }
        }
        .await;
        let res = match result {
            Ok(message) => {
                if let Some(message) = message {
                    self.emitter
                        .emit(Event::Output {
                            step,
                            host,
                            stream: Stream::Stdout,
                            line: message,
                        })
                        .await;
                }
                HostResult::new(host, Outcome::Ok)
            }
            Err(e) => HostResult::new(host, Outcome::Failed).with_message(e),
        };
        let starts_at = (switch == BannerSwitch::On && res.outcome == Outcome::Ok)
            .then_some(vars.starts_at)
            .flatten();
        self.emitter
            .emit_with(
                Event::StepFinished {
                    step,
                    host,
                    outcome: res.outcome,
                    exit: None,
                    duration: started.elapsed(),
                    phase: Phase::Main,
                    message: res.message.clone(),
                },
                starts_at.as_deref(),
            )
            .await;
        res
    }

    async fn http_host(&self, step: StepIx, host: HostIx, check: &HttpCheck) -> HostResult {
        let started = Instant::now();
        let url = self
            .render(&check.url, check.via_for(host).unwrap_or(host))
            .unwrap_or_default();
        let via = check
            .via_for(host)
            .map(|v| format!(" through {}", self.plan.hosts[v].name))
            .unwrap_or_default();
        self.emitter
            .emit(Event::StepStarted {
                step,
                host,
                command: format!("GET {url}{via}"),
                phase: Phase::Main,
                attempt: 1,
            })
            .await;
        let timeout = self.plan.steps[step].timeout.unwrap_or(HTTP_TIMEOUT);
        let result = tokio::time::timeout(timeout, self.http_check(host, check))
            .await
            .unwrap_or_else(|_| Err(format!("{url}: no answer within {}", short(timeout))));
        let (res, line) = match result {
            Ok(detail) => (HostResult::new(host, Outcome::Ok), detail),
            Err(detail) => (
                HostResult::new(host, Outcome::Failed).with_message(detail.clone()),
                detail,
            ),
        };
        let stream = if res.outcome == Outcome::Ok {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        self.emitter
            .emit(Event::Output {
                step,
                host,
                stream,
                line,
            })
            .await;
        self.emitter
            .emit(Event::StepFinished {
                step,
                host,
                outcome: res.outcome,
                exit: None,
                duration: started.elapsed(),
                phase: Phase::Main,
                message: res.message.clone(),
            })
            .await;
        res
    }

    /// The step's action on one host.
    async fn act(
        &self,
        step: StepIx,
        host: HostIx,
        cancel: &CancellationToken,
        overridden: &AtomicBool,
    ) -> HostResult {
        let s = &self.plan.steps[step];
        match &s.action {
            Action::Run(t) => match self.render(t, host) {
                Ok(cmd) => {
                    self.run_command(step, host, cmd, Phase::Main, s.timeout, s.retries, cancel)
                        .await
                }
                Err(e) => HostResult::new(host, Outcome::Failed).with_message(e),
            },
            Action::Guard(_) => self.guard_host(step, host, cancel, overridden).await,
            Action::Banner(switch) => self.banner_host(step, host, *switch).await,
            Action::Http(check) => {
                // A server that was just started may need a moment: retries apply.
                let mut attempt = 0;
                loop {
                    let result = self.http_host(step, host, check).await;
                    if result.outcome == Outcome::Ok
                        || attempt >= s.retries
                        || cancel.is_cancelled()
                    {
                        break result;
                    }
                    attempt += 1;
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = cancel.cancelled() => {}
                    }
                }
            }
            // Waits and manual steps are handled for all hosts at once.
            Action::Wait(_) | Action::Manual(_) => HostResult::new(host, Outcome::Ok),
        }
    }
}

impl Engine {
    pub(crate) fn new(
        plan: Arc<Plan>,
        opts: Options,
        run_id: String,
        emitter: Emitter,
        inbox: mpsc::Receiver<Decision>,
    ) -> Self {
        let participants = if opts.only_hosts.is_empty() {
            (0..plan.hosts.len()).collect()
        } else {
            opts.only_hosts.clone()
        };
        let run_vars = RunVars {
            run_id: Some(run_id.clone()),
            starts_at: opts.resume.as_ref().and_then(|r| r.starts_at.clone()),
        };
        Self {
            ctx: Ctx {
                transports: vec![None; plan.hosts.len()],
                plan,
                emitter,
                run_vars: Mutex::new(run_vars),
            },
            opts,
            run_id,
            inbox,
            participants,
            outcomes: HashMap::new(),
            ran: Vec::new(),
            locks: Vec::new(),
            tails: CancellationToken::new(),
            undone: Vec::new(),
            continued_failures: false,
        }
    }

    fn plan(&self) -> &Plan {
        &self.ctx.plan
    }

    async fn emit(&self, event: Event) {
        self.ctx.emitter.emit(event).await;
    }

    pub(crate) async fn run(mut self) -> RunResult {
        let resumed = self.opts.resume.is_some();
        if !resumed {
            let plan = self.plan();
            let record = Record::RunStarted {
                run_id: self.run_id.clone(),
                runbook: super::runbook_key(&plan.path),
                runbook_sha256: plan.sha256.clone(),
                user: whoami::username(),
                hosts: self
                    .participants
                    .iter()
                    .map(|&h| plan.hosts[h].name.clone())
                    .collect(),
            };
            self.ctx.emitter.write_record(record);
        }
        self.emit(Event::RunStarted {
            run_id: self.run_id.clone(),
            journal: self.ctx.emitter.journal_path(),
            resumed,
            dry_run: self.opts.dry_run,
        })
        .await;

        if !self.connect().await {
            return self.finish(RunStatus::Failed, exit::UNREACHABLE).await;
        }
        if self.opts.tail_logs {
            self.start_tails();
        }
        if !self.opts.dry_run && !self.take_locks().await {
            return self.finish(RunStatus::Failed, exit::LOCKED).await;
        }
        let flow = self.walk().await;
        match flow {
            Flow::Next if self.continued_failures => {
                self.finish(RunStatus::Failed, exit::FAILED).await
            }
            Flow::Next => self.finish(RunStatus::Ok, exit::OK).await,
            Flow::Abort => {
                self.rollback().await;
                self.finish(RunStatus::Aborted, exit::ABORTED).await
            }
            Flow::Stop => {
                self.rollback().await;
                self.finish(RunStatus::Failed, exit::FAILED).await
            }
        }
    }

    async fn connect(&mut self) -> bool {
        let plan = self.ctx.plan.clone();
        for &h in &self.participants {
            self.ctx
                .emitter
                .emit(Event::HostConnecting { host: h })
                .await;
        }
        let attempts = self.participants.iter().map(|&h| {
            let prompter = self.opts.prompter.clone();
            let host = &plan.hosts[h];
            async move { (h, remote::connect(host, prompter).await) }
        });
        let mut ok = true;
        for (h, result) in join_all(attempts).await {
            match result {
                Ok(t) => {
                    self.ctx.transports[h] = Some(t);
                    self.emit(Event::HostConnected { host: h }).await;
                }
                Err(e) => {
                    ok = false;
                    self.emit(Event::HostFailed {
                        host: h,
                        error: e.to_string(),
                    })
                    .await;
                }
            }
        }
        ok
    }

    async fn take_locks(&mut self) -> bool {
        let me = Owner::current(&self.run_id, &self.plan().name);
        for h in self.participants.clone() {
            let path = match self.ctx.render(&self.plan().lock, h) {
                Ok(p) => p,
                Err(e) => {
                    self.emit(Event::HostFailed {
                        host: h,
                        error: format!("lock path: {e}"),
                    })
                    .await;
                    return false;
                }
            };
            let Ok(transport) = self.ctx.transport(h) else {
                return false;
            };
            loop {
                match lock::acquire(transport.as_ref(), &path, &me).await {
                    Ok(Acquired::Taken) => {
                        self.locks.push((h, path.clone()));
                        self.emit(Event::LockTaken {
                            host: h,
                            path: path.clone(),
                        })
                        .await;
                        break;
                    }
                    Ok(Acquired::Held(holder)) => {
                        self.emit(Event::LockHeld {
                            host: h,
                            path: path.clone(),
                            holder: holder.clone(),
                        })
                        .await;
                        if self.opts.offer_lock_break {
                            let decision = self
                                .ask(Prompt {
                                    step: 0,
                                    kind: PromptKind::Gate,
                                    hosts: vec![h],
                                    commands: vec![(
                                        h,
                                        format!("break the lock {path} held by {holder}"),
                                    )],
                                    previews: Vec::new(),
                                    choices: vec![Decision::Override, Decision::Abort],
                                })
                                .await;
                            if decision == Decision::Override
                                && lock::release(transport.as_ref(), &path).await.is_ok()
                            {
                                continue;
                            }
                        }
                        self.release_locks().await;
                        return false;
                    }
                    Err(e) => {
                        self.emit(Event::HostFailed {
                            host: h,
                            error: format!("cannot take the lock {path}: {e}"),
                        })
                        .await;
                        self.release_locks().await;
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Follow every `[logs]` entry as a channel on its host's connection,
    /// starting again after the connection comes back.
    fn start_tails(&self) {
        for (ix, spec) in self.plan().logs.iter().enumerate() {
            let Ok(transport) = self.ctx.transport(spec.host) else {
                continue;
            };
            let path = match self.ctx.render(&spec.path, spec.host) {
                Ok(p) => p,
                Err(_) => continue,
            };
            let (tx, secrets) = self.ctx.emitter.log_sink();
            let cancel = self.tails.clone();
            tokio::spawn(follow_log(ix, transport, path, tx, secrets, cancel));
        }
    }

    async fn release_locks(&mut self) {
        for (h, path) in std::mem::take(&mut self.locks) {
            if let Ok(t) = self.ctx.transport(h) {
                if let Err(e) = lock::release(t.as_ref(), &path).await {
                    self.emit(Event::Notice {
                        step: None,
                        text: format!(
                            "could not release the lock {path} on {}: {e}",
                            self.plan().hosts[h].name
                        ),
                    })
                    .await;
                }
            }
        }
    }

    async fn finish(mut self, status: RunStatus, exit_code: i32) -> RunResult {
        self.tails.cancel();
        self.release_locks().await;
        let journal = self.ctx.emitter.journal_path();
        self.emit(Event::RunFinished {
            status,
            exit_code,
            journal: journal.clone(),
        })
        .await;
        RunResult {
            status,
            exit_code,
            journal,
        }
    }

    /// Wait for the admin's decision on `prompt` (or take `--yes`'s).
    async fn ask(&mut self, prompt: Prompt) -> Decision {
        while self.inbox.try_recv().is_ok() {}
        let step = prompt.step;
        let auto = self.opts.yes
            && matches!(
                prompt.kind,
                PromptKind::Gate
                    | PromptKind::Manual { .. }
                    | PromptKind::Resume { .. }
                    | PromptKind::Undo
                    | PromptKind::Always
            )
            && prompt.choices.contains(&Decision::Run);
        if auto {
            self.emit(Event::Decided {
                step,
                decision: Decision::Run,
                automatic: true,
            })
            .await;
            return Decision::Run;
        }
        let choices = prompt.choices.clone();
        self.emit(Event::Prompt(prompt)).await;
        loop {
            let decision = match self.inbox.recv().await {
                Some(d) if choices.contains(&d) => d,
                Some(_) => continue,
                None => Decision::Abort,
            };
            self.emit(Event::Decided {
                step,
                decision,
                automatic: false,
            })
            .await;
            return decision;
        }
    }

    fn targets(&self, step: StepIx) -> Vec<HostIx> {
        self.plan().steps[step]
            .hosts
            .iter()
            .copied()
            .filter(|h| self.participants.contains(h))
            .collect()
    }

    async fn walk(&mut self) -> Flow {
        let step_count = self.plan().steps.len();
        let mut first_pending = None;
        if let Some(summary) = self.opts.resume.clone() {
            self.outcomes = super::resume_outcomes(self.plan(), &summary);
            let mut interrupted = Vec::new();
            for (step, host) in &summary.interrupted {
                if let (Some(s), Some(h)) =
                    (self.plan().step_index(step), self.plan().host_index(host))
                {
                    interrupted.push((s, h));
                    self.outcomes.insert((s, h), Outcome::Unknown);
                    self.emit(Event::StepFinished {
                        step: s,
                        host: h,
                        outcome: Outcome::Unknown,
                        exit: None,
                        duration: Duration::ZERO,
                        phase: Phase::Main,
                        message: Some(
                            "interrupted: drydock stopped while this ran; its outcome is unknown"
                                .into(),
                        ),
                    })
                    .await;
                }
            }
            first_pending = (0..step_count).find(|&s| {
                self.targets(s)
                    .iter()
                    .any(|&h| !self.outcomes.get(&(s, h)).is_some_and(|o| o.is_settled()))
            });
            let Some(next) = first_pending else {
                return Flow::Next;
            };
            let hosts = self.targets(next);
            let decision = self
                .ask(Prompt {
                    step: next,
                    kind: PromptKind::Resume { interrupted },
                    hosts,
                    commands: Vec::new(),
                    previews: Vec::new(),
                    choices: vec![Decision::Run, Decision::Abort],
                })
                .await;
            if decision == Decision::Abort {
                return Flow::Abort;
            }
        }

        let mut ix = 0;
        while ix < step_count {
            let label = self.plan().steps[ix].rolling.clone();
            let mut block_end = ix + 1;
            if let Some(label) = &label {
                while block_end < step_count
                    && self.plan().steps[block_end].rolling.as_ref() == Some(label)
                {
                    block_end += 1;
                }
            }
            let flow = if label.is_some() {
                self.rolling(ix..block_end, first_pending).await
            } else {
                let targets = self.targets(ix);
                self.step(ix, &targets, first_pending == Some(ix)).await
            };
            if !matches!(flow, Flow::Next) {
                return flow;
            }
            ix = block_end;
        }
        Flow::Next
    }

    /// A rolling block: every step of it on one host, then on the next.
    async fn rolling(
        &mut self,
        block: std::ops::Range<StepIx>,
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
        for h in hosts {
            for s in block.clone() {
                if self.targets(s).contains(&h) {
                    let flow = self.step(s, &[h], first_pending == Some(s)).await;
                    if !matches!(flow, Flow::Next) {
                        return flow;
                    }
                }
            }
        }
        Flow::Next
    }

    async fn skip(&mut self, step: StepIx, hosts: &[HostIx], reason: &str) {
        for &h in hosts {
            self.outcomes.insert((step, h), Outcome::Skipped);
            self.emit(Event::StepSkipped {
                step,
                host: h,
                reason: reason.to_string(),
                earlier: None,
            })
            .await;
        }
    }

    async fn step(&mut self, ix: StepIx, hosts: &[HostIx], resume_gate_done: bool) -> Flow {
        let step = self.plan().steps[ix].clone();
        let mut targets = Vec::new();
        for &h in hosts {
            match self.outcomes.get(&(ix, h)) {
                Some(o) if o.is_settled() => {
                    self.emit(Event::StepSkipped {
                        step: ix,
                        host: h,
                        reason: "done earlier in this run".into(),
                        earlier: Some(*o),
                    })
                    .await;
                }
                _ => targets.push(h),
            }
        }
        if targets.is_empty() {
            return Flow::Next;
        }
        if let Some(from) = self.opts.from {
            if ix < from {
                let reason = format!("before --from {}", self.plan().steps[from].id);
                self.skip(ix, &targets, &reason).await;
                return Flow::Next;
            }
        }
        if self.opts.dry_run {
            self.dry_run_step(ix, &targets).await;
            return Flow::Next;
        }

        if let Some(when) = &step.when {
            targets = self.check_when(ix, when, targets).await;
            if targets.is_empty() {
                return Flow::Next;
            }
        }

        let manual = matches!(step.action, Action::Manual(_));
        let gated = step.confirm || self.opts.step_mode || manual;
        if gated && !resume_gate_done {
            match self.gate(ix, &targets).await {
                Decision::Run => {}
                Decision::Skip => {
                    self.skip(ix, &targets, "skipped by the admin").await;
                    return Flow::Next;
                }
                _ => return Flow::Abort,
            }
        }
        if manual {
            self.tick_off(ix, &targets).await;
            return Flow::Next;
        }
        if let Action::Wait(wait) = step.action {
            return self.wait(ix, &targets, wait).await;
        }
        if matches!(step.action, Action::Banner(BannerSwitch::On)) {
            let lead = self
                .plan()
                .banner
                .as_ref()
                .map_or(Duration::ZERO, |b| b.lead);
            let starts = chrono::Utc::now() + chrono::Duration::from_std(lead).unwrap_or_default();
            if let Ok(mut vars) = self.ctx.run_vars.lock() {
                vars.starts_at = Some(crate::clock::rfc3339(starts));
            }
        }

        let mut todo = targets;
        loop {
            let (results, aborted) = self.execute(ix, &todo).await;
            for r in &results {
                self.outcomes.insert((ix, r.host), r.outcome);
                self.ran.push((ix, r.host));
            }
            if aborted {
                return Flow::Abort;
            }
            let failures: Vec<HostResult> = results
                .into_iter()
                .filter(|r| r.outcome != Outcome::Ok)
                .collect();
            if failures.is_empty() {
                return Flow::Next;
            }
            match step.on_failure {
                OnFailure::Continue => {
                    self.continued_failures = true;
                    return Flow::Next;
                }
                OnFailure::Abort => return Flow::Stop,
                OnFailure::Pause if self.opts.yes => {
                    self.emit(Event::Notice {
                        step: Some(ix),
                        text: "--yes does not answer a failure: the run stops".into(),
                    })
                    .await;
                    return Flow::Stop;
                }
                OnFailure::Pause => {}
            }
            let failed_hosts: Vec<HostIx> = failures.iter().map(|f| f.host).collect();
            loop {
                let mut choices = vec![Decision::Retry, Decision::Skip];
                if step.undo.is_some() {
                    choices.push(Decision::Undo);
                }
                choices.push(Decision::Abort);
                let decision = self
                    .ask(Prompt {
                        step: ix,
                        kind: PromptKind::Failure {
                            failures: failures
                                .iter()
                                .map(|f| HostFailure {
                                    host: f.host,
                                    outcome: f.outcome,
                                    exit: f.exit.clone(),
                                    message: f.message.clone(),
                                    last_stderr: f.last_stderr.clone(),
                                })
                                .collect(),
                        },
                        hosts: failed_hosts.clone(),
                        commands: self.commands(ix, &failed_hosts),
                        previews: Vec::new(),
                        choices,
                    })
                    .await;
                match decision {
                    Decision::Retry => break,
                    Decision::Skip => {
                        self.skip(ix, &failed_hosts, "failed, then skipped by the admin")
                            .await;
                        return Flow::Next;
                    }
                    Decision::Undo => self.undo(ix, &failed_hosts).await,
                    _ => return Flow::Abort,
                }
            }
            todo = failed_hosts;
        }
    }

    /// Run the step's action on every host at once, listening for an abort
    /// (and, on a guard, an override) while it runs.
    async fn execute(&mut self, ix: StepIx, hosts: &[HostIx]) -> (Vec<HostResult>, bool) {
        let cancel = CancellationToken::new();
        let overridden = AtomicBool::new(false);
        let is_guard = matches!(self.plan().steps[ix].action, Action::Guard(_));
        let ctx = &self.ctx;
        let inbox = &mut self.inbox;
        let work = join_all(hosts.iter().map(|&h| ctx.act(ix, h, &cancel, &overridden)));
        tokio::pin!(work);
        let mut aborted = false;
        let mut decided = None;
        let results = loop {
            tokio::select! {
                results = &mut work => break results,
                decision = inbox.recv(), if !cancel.is_cancelled() => match decision {
                    Some(Decision::Override) if is_guard => {
                        overridden.store(true, Ordering::SeqCst);
                        decided = Some(Decision::Override);
                        cancel.cancel();
                    }
                    Some(Decision::Abort) | None => {
                        aborted = true;
                        decided = Some(Decision::Abort);
                        cancel.cancel();
                    }
                    Some(_) => {}
                },
            }
        };
        if let Some(decision) = decided {
            self.emit(Event::Decided {
                step: ix,
                decision,
                automatic: false,
            })
            .await;
        }
        (results, aborted)
    }

    fn commands(&self, ix: StepIx, hosts: &[HostIx]) -> Vec<(HostIx, String)> {
        let step = &self.plan().steps[ix];
        hosts
            .iter()
            .map(|&h| {
                let text = match &step.action {
                    Action::Run(t) | Action::Manual(t) => {
                        self.ctx.render(t, h).unwrap_or_else(|e| format!("<{e}>"))
                    }
                    Action::Guard(g) => self.ctx.describe_guard(&g.check, h),
                    Action::Banner(switch) => {
                        let path = self
                            .plan()
                            .banner
                            .as_ref()
                            .and_then(|b| self.ctx.render(&b.path, h).ok())
                            .unwrap_or_default();
                        banner_command(*switch, &path)
                    }
                    Action::Wait(WaitFor::Banner) => {
                        "wait until the banner's start time".to_string()
                    }
                    Action::Wait(WaitFor::For(d)) => format!("wait {}", short(*d)),
                    Action::Http(c) => format!(
                        "GET {}",
                        self.ctx
                            .render(&c.url, c.via_for(h).unwrap_or(h))
                            .unwrap_or_default()
                    ),
                };
                (h, text)
            })
            .collect()
    }

    async fn previews(&self, ix: StepIx, hosts: &[HostIx]) -> Vec<PreviewOutput> {
        let Some(preview) = &self.plan().steps[ix].preview else {
            return Vec::new();
        };
        let cancel = CancellationToken::new();
        let runs = hosts.iter().map(|&h| {
            let cancel = &cancel;
            async move {
                let command = self.ctx.render(preview, h);
                match command {
                    Ok(command) => match self.ctx.capture(h, &command, cancel).await {
                        Ok((status, lines)) => PreviewOutput {
                            host: h,
                            command,
                            lines,
                            exit: Some(status),
                            error: None,
                        },
                        Err(e) => PreviewOutput {
                            host: h,
                            command,
                            lines: Vec::new(),
                            exit: None,
                            error: Some(e),
                        },
                    },
                    Err(e) => PreviewOutput {
                        host: h,
                        command: preview.source().to_string(),
                        lines: Vec::new(),
                        exit: None,
                        error: Some(e),
                    },
                }
            }
        });
        join_all(runs).await
    }

    async fn gate(&mut self, ix: StepIx, hosts: &[HostIx]) -> Decision {
        let previews = self.previews(ix, hosts).await;
        let kind = match &self.plan().steps[ix].action {
            Action::Manual(t) => PromptKind::Manual {
                instructions: hosts
                    .first()
                    .and_then(|&h| self.ctx.render(t, h).ok())
                    .unwrap_or_else(|| t.source().to_string()),
            },
            _ => PromptKind::Gate,
        };
        let prompt = Prompt {
            step: ix,
            kind,
            hosts: hosts.to_vec(),
            commands: self.commands(ix, hosts),
            previews,
            choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
        };
        self.ask(prompt).await
    }

    /// Journal a step that runs no command (wait, manual) as started on each host.
    async fn announce(&self, ix: StepIx, hosts: &[HostIx]) {
        for (h, text) in self.commands(ix, hosts) {
            self.emit(Event::StepStarted {
                step: ix,
                host: h,
                command: text,
                phase: Phase::Main,
                attempt: 1,
            })
            .await;
        }
    }

    async fn tick_off(&mut self, ix: StepIx, hosts: &[HostIx]) {
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

    async fn check_when(
        &mut self,
        ix: StepIx,
        when: &crate::runbook::template::Template,
        targets: Vec<HostIx>,
    ) -> Vec<HostIx> {
        let cancel = CancellationToken::new();
        let ctx = &self.ctx;
        let checks = targets.iter().map(|&h| {
            let cancel = &cancel;
            async move {
                match ctx.render(when, h) {
                    Ok(cmd) => {
                        let r = ctx.capture(h, &cmd, cancel).await;
                        (h, cmd, r)
                    }
                    Err(e) => (h, when.source().to_string(), Err(e)),
                }
            }
        });
        let results = join_all(checks).await;
        let mut keep = Vec::new();
        for (h, cmd, result) in results {
            match result {
                Ok((status, _)) if status.success() => keep.push(h),
                Ok((status, _)) => {
                    self.skip(
                        ix,
                        &[h],
                        &format!("condition `{cmd}` was not met ({status})"),
                    )
                    .await
                }
                Err(e) => {
                    self.skip(
                        ix,
                        &[h],
                        &format!("condition `{cmd}` could not be checked: {e}"),
                    )
                    .await
                }
            }
        }
        keep
    }

    async fn wait(&mut self, ix: StepIx, hosts: &[HostIx], wait: WaitFor) -> Flow {
        let now = chrono::Utc::now();
        let until = match wait {
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
        };
        let started = Instant::now();
        self.announce(ix, hosts).await;
        self.emit(Event::Waiting { step: ix, until }).await;
        let remaining = (until - now).to_std().unwrap_or_default();
        let sleep = tokio::time::sleep(remaining);
        tokio::pin!(sleep);
        let mut message = None;
        let mut aborted = false;
        loop {
            tokio::select! {
                () = &mut sleep => break,
                d = self.inbox.recv() => match d {
                    Some(Decision::Skip) => {
                        self.emit(Event::Decided { step: ix, decision: Decision::Skip, automatic: false }).await;
                        message = Some("wait cut short by the admin".to_string());
                        break;
                    }
                    Some(Decision::Abort) | None => {
                        self.emit(Event::Decided { step: ix, decision: Decision::Abort, automatic: false }).await;
                        aborted = true;
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
                message: if aborted {
                    Some("aborted while waiting".into())
                } else {
                    message.clone()
                },
            })
            .await;
        }
        if aborted { Flow::Abort } else { Flow::Next }
    }

    async fn dry_run_step(&mut self, ix: StepIx, hosts: &[HostIx]) {
        for preview in self.previews(ix, hosts).await {
            let h = preview.host;
            self.emit(Event::Notice {
                step: Some(ix),
                text: format!(
                    "{}: preview `{}`",
                    self.plan().hosts[h].name,
                    preview.command
                ),
            })
            .await;
            for line in preview.lines {
                self.emit(Event::Output {
                    step: ix,
                    host: h,
                    stream: Stream::Stdout,
                    line,
                })
                .await;
            }
            if let Some(e) = preview.error {
                self.emit(Event::Output {
                    step: ix,
                    host: h,
                    stream: Stream::Stderr,
                    line: e,
                })
                .await;
            }
        }
        let action = self.plan().steps[ix].action.clone();
        match &action {
            Action::Guard(guard) => {
                let cancel = CancellationToken::new();
                for &h in hosts {
                    let (ok, detail) = self.ctx.guard_check(h, &guard.check, &cancel).await;
                    self.emit(Event::GuardPolled {
                        step: ix,
                        host: h,
                        ok,
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
        for (h, command) in self.commands(ix, hosts) {
            let note = if self.plan().steps[ix].when.is_some() {
                " (if its condition holds)"
            } else {
                ""
            };
            self.emit(Event::StepSkipped {
                step: ix,
                host: h,
                reason: format!(
                    "dry run: would {}{note}",
                    describe_action(&command, &action)
                ),
                earlier: None,
            })
            .await;
        }
    }

    async fn undo(&mut self, ix: StepIx, hosts: &[HostIx]) {
        let Some(undo) = self.plan().steps[ix].undo.clone() else {
            return;
        };
        self.undone.extend(hosts.iter().map(|&h| (ix, h)));
        let cancel = CancellationToken::new();
        let timeout = self.plan().steps[ix].timeout;
        let ctx = &self.ctx;
        let runs = hosts.iter().map(|&h| {
            let cancel = &cancel;
            let undo = &undo;
            async move {
                match ctx.render(undo, h) {
                    Ok(cmd) => {
                        ctx.run_command(ix, h, cmd, Phase::Undo, timeout, 0, cancel)
                            .await
                    }
                    Err(e) => HostResult::new(h, Outcome::Failed).with_message(e),
                }
            }
        });
        join_all(runs).await;
    }

    /// After an abort or a stop: offer the undo of what ran, newest first, then
    /// the `always` steps that have not run.
    async fn rollback(&mut self) {
        if self.opts.dry_run {
            return;
        }
        let mut undo_offers: Vec<(StepIx, Vec<HostIx>)> = Vec::new();
        for &(s, h) in self.ran.iter().rev() {
            if self.plan().steps[s].undo.is_none() || self.undone.contains(&(s, h)) {
                continue;
            }
            match undo_offers.iter_mut().find(|(step, _)| *step == s) {
                Some((_, hosts)) if !hosts.contains(&h) => hosts.push(h),
                Some(_) => {}
                None => undo_offers.push((s, vec![h])),
            }
        }
        let always: Vec<(StepIx, Vec<HostIx>)> = (0..self.plan().steps.len())
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
            .collect();
        if undo_offers.is_empty() && always.is_empty() {
            return;
        }
        self.emit(Event::RollbackStarted).await;
        for (s, hosts) in undo_offers {
            let commands = hosts
                .iter()
                .map(|&h| {
                    (
                        h,
                        self.plan().steps[s]
                            .undo
                            .as_ref()
                            .map(|u| self.ctx.render(u, h).unwrap_or_else(|e| e))
                            .unwrap_or_default(),
                    )
                })
                .collect();
            let prompt = Prompt {
                step: s,
                kind: PromptKind::Undo,
                hosts: hosts.clone(),
                commands,
                previews: Vec::new(),
                choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
            };
            match self.ask(prompt).await {
                Decision::Run => self.undo(s, &hosts).await,
                Decision::Skip => {}
                _ => return,
            }
        }
        for (s, hosts) in always {
            let prompt = Prompt {
                step: s,
                kind: PromptKind::Always,
                commands: self.commands(s, &hosts),
                hosts: hosts.clone(),
                previews: Vec::new(),
                choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
            };
            match self.ask(prompt).await {
                Decision::Run => {
                    if let Action::Wait(_) | Action::Manual(_) = self.plan().steps[s].action {
                        self.tick_off(s, &hosts).await;
                        continue;
                    }
                    let (results, aborted) = self.execute(s, &hosts).await;
                    for r in results {
                        self.outcomes.insert((s, r.host), r.outcome);
                    }
                    if aborted {
                        return;
                    }
                }
                Decision::Skip => {}
                _ => return,
            }
        }
    }
}

/// How long a stopped log tail waits before it tries again.
const TAIL_RETRY: Duration = Duration::from_secs(3);

async fn follow_log(
    log: usize,
    transport: Arc<dyn Transport>,
    path: String,
    tx: mpsc::Sender<Event>,
    secrets: Vec<String>,
    cancel: CancellationToken,
) {
    while !cancel.is_cancelled() {
        if tx.send(Event::LogFollowing { log }).await.is_err() {
            return;
        }
        let (chunks_tx, mut chunks) = mpsc::channel(64);
        let tail = remote::tail(transport.as_ref(), &path, chunks_tx, cancel.clone());
        let forward = async {
            let mut split = LineSplitter::default();
            while let Some(chunk) = chunks.recv().await {
                let mut lines = Vec::new();
                split.push(&chunk.data, |l| lines.push(sanitize(l)));
                for mut line in lines {
                    for secret in &secrets {
                        if line.contains(secret.as_str()) {
                            line = line.replace(secret.as_str(), REDACTED);
                        }
                    }
                    if tx.send(Event::LogLine { log, line }).await.is_err() {
                        return;
                    }
                }
            }
        };
        let (result, ()) = futures::future::join(tail, forward).await;
        if cancel.is_cancelled() {
            return;
        }
        let reason = match result {
            Ok(status) => format!("tail ended ({status})"),
            Err(e) => e.to_string(),
        };
        let _ = tx.send(Event::LogStopped { log, reason }).await;
        tokio::select! {
            () = tokio::time::sleep(TAIL_RETRY) => {}
            () = cancel.cancelled() => return,
        }
    }
}

fn banner_command(switch: BannerSwitch, path: &str) -> String {
    match switch {
        BannerSwitch::On => format!("write the maintenance banner to {path}"),
        BannerSwitch::Off => format!("remove the maintenance banner {path}"),
    }
}

fn describe_action(command: &str, action: &Action) -> String {
    match action {
        Action::Run(_) => format!("run `{command}`"),
        Action::Manual(_) => format!("ask the admin to: {command}"),
        _ => command.to_string(),
    }
}
