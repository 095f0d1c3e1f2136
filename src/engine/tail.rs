//! Following the runbook's `[logs]`: during a run on the run's own
//! connections, and for `drydock logs` on connections of its own.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::emitter::Outbox;
use super::event::{Event, HostIx};
use super::output::{LineSplitter, sanitize};
use super::redact::Redactor;
use super::runner::Engine;
use crate::remote::{self, Prompter, Transport};
use crate::runbook::{Plan, RunVars};

/// How long a stopped log tail waits before it tries again.
const TAIL_RETRY: Duration = Duration::from_secs(3);

/// Follow log `log` at `path` until `cancel`, starting again when the tail
/// stops (a lost connection comes back through the same transport).
pub(super) async fn follow_log(
    log: usize,
    transport: Arc<dyn Transport>,
    path: String,
    out: Outbox,
    cancel: CancellationToken,
) {
    while !cancel.is_cancelled() {
        tracing::debug!(log, path = %path, "following a log");
        if !out.send(Event::LogFollowing { log }).await {
            return;
        }
        let (chunks_tx, mut chunks) = mpsc::channel(64);
        let tail = remote::tail(transport.as_ref(), &path, chunks_tx, cancel.clone());
        let forward = async {
            // tail's own messages (stderr: the file was truncated or
            // replaced) are lines of their own: a line of the file that had
            // no newline yet ends before one.
            let mut split = [LineSplitter::default(), LineSplitter::default()];
            while let Some(chunk) = chunks.recv().await {
                let mut lines = Vec::new();
                let i = usize::from(chunk.stream == crate::remote::Stream::Stderr);
                if i == 1 {
                    split[0].finish(|l| lines.push(sanitize(l)));
                }
                split[i].push(&chunk.data, |l| lines.push(sanitize(l)));
                for line in lines {
                    let credit = out.reserve(line.len()).await;
                    if !out.send(Event::LogLine { log, line, credit }).await {
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
        tracing::debug!(log, reason = %reason, "log tail stopped");
        let _ = out.send(Event::LogStopped { log, reason }).await;
        tokio::select! {
            () = tokio::time::sleep(TAIL_RETRY) => {}
            () = cancel.cancelled() => return,
        }
    }
}

impl Engine {
    /// Follow every `[logs]` entry as a channel on its host's connection.
    pub(super) fn start_tails(&self) {
        for (ix, spec) in self.plan().logs.iter().enumerate() {
            let Ok(transport) = self.ctx.transport(spec.host) else {
                continue;
            };
            let Ok(path) = self.ctx.render(&spec.path, spec.host) else {
                continue;
            };
            let out = self.ctx.emitter.outbox();
            tokio::spawn(follow_log(ix, transport, path, out, self.tails.clone()));
        }
    }
}

/// `drydock logs`: connect the hosts of the plan's `[logs]` (each once,
/// asking `prompter` what connecting needs) and follow every entry, sending
/// `LogFollowing` / `LogLine` / `LogStopped` (redacted) until `cancel`. The
/// channel stays open until then, also when a host cannot be reached.
pub fn follow_logs(
    plan: Arc<Plan>,
    prompter: Arc<dyn Prompter>,
    cancel: CancellationToken,
) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel(1024);
    let out = Outbox::new(tx, Arc::new(Redactor::for_plan(&plan)));
    let mut hosts: Vec<HostIx> = plan.logs.iter().map(|l| l.host).collect();
    hosts.sort_unstable();
    hosts.dedup();
    // Each host on its own: one that is slow to connect (or asks a
    // question) holds up no other's logs.
    for host in hosts {
        let plan = plan.clone();
        let prompter = prompter.clone();
        let out = out.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let connected = tokio::select! {
                c = remote::connect(&plan.hosts[host], prompter) => c,
                () = cancel.cancelled() => return,
            };
            let logs = plan.logs.iter().enumerate().filter(|(_, l)| l.host == host);
            let transport = match connected {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(host = %plan.hosts[host].name, error = %e, "log host unreachable");
                    for (log, _) in logs {
                        let reason = e.to_string();
                        out.send(Event::LogStopped { log, reason }).await;
                    }
                    return;
                }
            };
            for (log, spec) in logs {
                let path = plan
                    .render(&spec.path, host, &RunVars::default())
                    .unwrap_or_default();
                let follow = follow_log(log, transport.clone(), path, out.clone(), cancel.clone());
                tokio::spawn(follow);
            }
        });
    }
    // Hold the channel open for the front end until it is done.
    tokio::spawn(async move {
        cancel.cancelled().await;
        drop(out);
    });
    rx
}
