//! Running a command on a host: the step's own (its output streamed as the
//! step's), or a quiet one whose output is kept (previews, conditions,
//! guard commands).

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::ctx::{Ctx, HostResult};
use super::error::StepError;
use super::event::{Event, HostIx, Phase, StepIx};
use super::output::{LineSplitter, sanitize};
use crate::journal::Outcome;
use crate::remote::{ExecRequest, ExitStatus, MAX_CHUNK, Stream, TransportError};
use crate::runbook::Action;
use crate::runbook::duration::short;

/// How many lines of a preview or condition are kept for the gate.
const PREVIEW_LINES: usize = 500;
/// Output chunks a transport may hand over before the engine takes them:
/// 1 MiB, past which the transport stops reading the command's channel.
const QUEUED_CHUNKS: usize = (1024 * 1024) / MAX_CHUNK;
/// Typed input (and sudo's password) on its way to a command.
const STDIN_DEPTH: usize = 16;

impl Ctx {
    /// The step's action on one host.
    pub(super) async fn act(
        &self,
        step: StepIx,
        host: HostIx,
        cancel: &CancellationToken,
        overridden: &AtomicBool,
    ) -> HostResult {
        let s = &self.plan.steps[step];
        match &s.action {
            Action::Run(t) => match self.command(step, t, host) {
                Ok(cmd) => {
                    self.run_command(step, host, cmd, Phase::Main, s.timeout, s.retries, cancel)
                        .await
                }
                Err(e) => HostResult::not_started(host, &e),
            },
            Action::Guard(guard) => self.guard_host(step, host, guard, cancel, overridden).await,
            Action::Banner(switch) => self.banner_host(step, host, *switch).await,
            Action::Http(check) => self.http_step(step, host, check, cancel).await,
            // Waits and manual steps are handled for all hosts at once.
            Action::Wait(_) | Action::Manual(_) => HostResult::new(host, Outcome::Ok),
        }
    }

    /// Run a command and stream its output as the step's output.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_command(
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
            Err(e) => return HostResult::not_started(host, &e),
        };
        let s = &self.plan.steps[step];
        let pty = s.pty;
        let command = self.as_sent(step, command);
        // Input reaches a pty (typed by the admin) and sudo (its password);
        // any other command's input is empty, as it always was.
        let takes_input = pty || s.sudo.is_some();
        let capturing = phase == Phase::Main && s.capture.is_some();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.start_step(step, host, command.clone(), phase, attempt)
                .await;
            let started = Instant::now();
            if let Some(error) = self.emitter.journal_error() {
                // A step is journaled as started before its command is sent,
                // or the command is not sent.
                let mut res = HostResult::new(host, Outcome::Failed)
                    .with_message(format!("not started: {error}"));
                res.never_ran = true;
                self.finish_step(step, host, phase, &res, started).await;
                return res;
            }
            let this_try = cancel.child_token();
            let (tx, rx) = mpsc::channel(QUEUED_CHUNKS);
            let request = ExecRequest {
                command: command.clone(),
                pty,
            };
            let (stdin, input) = mpsc::channel(STDIN_DEPTH);
            let stdin = takes_input.then_some(stdin);
            let (group_tx, group_rx) = oneshot::channel();
            let exec =
                transport.exec_with_input(request, input, tx, this_try.clone(), Some(group_tx));
            // Journaled as soon as it is known: a run that dies now leaves
            // the group for `--resume` to look at.
            let group_seen = std::sync::OnceLock::new();
            let group = async {
                if let Ok(pid) = group_rx.await {
                    let _ = group_seen.set(pid);
                    self.emitter
                        .emit(Event::ProcessStarted {
                            step,
                            host,
                            pid,
                            phase,
                        })
                        .await;
                }
            };
            let talking = self.converse(step, host, phase, rx, stdin, &this_try);
            // The command's end does not wait for its group, which a
            // transport may never tell (a pty).
            let both = async {
                let work = futures::future::join(exec, talking);
                tokio::pin!(work, group);
                let mut told = false;
                loop {
                    tokio::select! {
                        r = &mut work => break r,
                        () = &mut group, if !told => told = true,
                    }
                }
            };
            tokio::pin!(both);
            let mut timed_out = false;
            let (result, talk) = match timeout {
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
            res.last_stderr = talk.last_stderr;
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
                    res.left_running = group_seen.get().copied();
                }
                Err(TransportError::Failed(msg)) => res.message = Some(msg),
            }
            if res.outcome != Outcome::Ok && talk.sudo_failure.is_some() {
                // sudo refused: the command itself never started.
                res.never_ran = true;
                if res.message.is_none() {
                    res.message = talk.sudo_failure;
                }
            }
            if res.outcome == Outcome::Ok && capturing {
                self.keep_capture(step, host, super::capture::value_of(&talk.stdout))
                    .await;
            }
            self.finish_step(step, host, phase, &res, started).await;
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

    /// Run a command quietly and keep its first lines (previews, conditions,
    /// guard commands). Runs as long as the command does: callers that have
    /// a time limit drop it, which ends the command on its host.
    pub(super) async fn collect(
        &self,
        host: HostIx,
        command: &str,
        cancel: &CancellationToken,
    ) -> Result<(ExitStatus, Vec<String>), StepError> {
        let transport = self.transport(host)?;
        let (tx, mut rx) = mpsc::channel(QUEUED_CHUNKS);
        let exec = transport.exec(
            ExecRequest {
                command: command.to_string(),
                pty: false,
            },
            tx,
            cancel.child_token(),
        );
        let gather = async {
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
        let (status, lines) = futures::future::join(exec, gather).await;
        Ok((status?, lines))
    }

    /// [`Ctx::collect`] within `limit`: a command still running then is
    /// abandoned (its future dropped, which ends it on its host).
    pub(super) async fn capture(
        &self,
        host: HostIx,
        command: &str,
        limit: Duration,
        cancel: &CancellationToken,
    ) -> Result<(ExitStatus, Vec<String>), StepError> {
        tokio::time::timeout(limit, self.collect(host, command, cancel))
            .await
            .unwrap_or(Err(StepError::NoAnswer(limit)))
    }
}
