//! Running a command on a host: the step's own (its output streamed as the
//! step's), or a quiet one whose output is kept (previews, conditions,
//! guard commands).

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ctx::{Ctx, HostResult};
use super::error::StepError;
use super::event::{Event, HostIx, Phase, StepIx};
use super::output::{LineSplitter, Lines, sanitize};
use crate::journal::Outcome;
use crate::remote::{Chunk, ExecRequest, ExitStatus, MAX_CHUNK, Stream, TransportError};
use crate::runbook::Action;
use crate::runbook::duration::short;

/// How many lines of a preview or condition are kept for the gate.
const PREVIEW_LINES: usize = 500;
/// Output chunks a transport may hand over before the engine takes them:
/// 1 MiB, past which the transport stops reading the command's channel.
const QUEUED_CHUNKS: usize = (1024 * 1024) / MAX_CHUNK;
/// How many of the last stderr lines a failure shows.
const FAILURE_TAIL: usize = 10;

/// The last lines a command wrote to stderr, for the failure question.
#[derive(Default)]
struct StderrTail(VecDeque<String>);

impl StderrTail {
    fn keep(&mut self, lines: &Lines) {
        for (_, line) in lines.iter().filter(|(s, _)| *s == Stream::Stderr) {
            if self.0.len() == FAILURE_TAIL {
                self.0.pop_front();
            }
            self.0.push_back(line.to_string());
        }
    }
}

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
            Action::Run(t) => match self.render(t, host) {
                Ok(cmd) => {
                    self.run_command(step, host, cmd, Phase::Main, s.timeout, s.retries, cancel)
                        .await
                }
                Err(e) => HostResult::failed(host, &e),
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
            Err(e) => return HostResult::failed(host, &e),
        };
        let pty = self.plan.steps[step].pty;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.start_step(step, host, command.clone(), phase, attempt)
                .await;
            let started = Instant::now();
            let this_try = cancel.child_token();
            let (tx, rx) = mpsc::channel(QUEUED_CHUNKS);
            let request = ExecRequest {
                command: command.clone(),
                pty,
            };
            let exec = transport.exec(request, tx, this_try.clone());
            let streaming = self.stream_output(step, host, phase, rx);
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

    /// Turn output chunks into sanitized line events, one per burst that
    /// arrived together; returns the last stderr lines.
    async fn stream_output(
        &self,
        step: StepIx,
        host: HostIx,
        phase: Phase,
        mut rx: mpsc::Receiver<Chunk>,
    ) -> Vec<String> {
        let mut splitters = [LineSplitter::default(), LineSplitter::default()];
        let mut tail = StderrTail::default();
        let mut pending = Lines::new();
        let mut more = true;
        while more {
            match rx.recv().await {
                Some(chunk) => {
                    let i = usize::from(chunk.stream == Stream::Stderr);
                    splitters[i].push(&chunk.data, |line| pending.push_raw(chunk.stream, line));
                }
                None => {
                    more = false;
                    for (i, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
                        splitters[i].finish(|line| pending.push_raw(stream, line));
                    }
                }
            }
            if pending.is_empty() {
                continue;
            }
            tail.keep(&pending);
            let lines = std::mem::take(&mut pending);
            self.emitter.emit_output(step, host, phase, lines).await;
        }
        tail.0.into_iter().collect()
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
