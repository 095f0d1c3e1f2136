//! `[notify]`: a command on this machine told of the run's moments — a
//! question opens, a step fails on a host, the run ends — for a desktop
//! notification, a chat webhook or a mail. It runs in the background: the run
//! never waits for it, and its failure (non-zero exit, cannot start, over
//! [`LIMIT`]) is a notice, never a reason to stop.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::emitter::Outbox;
use super::event::{Event, Prompt, PromptKind, StepIx};
use super::redact::Redactor;
use crate::journal::Outcome;
use crate::remote::local::LocalTransport;
use crate::remote::ssh::wrap::quote;
use crate::remote::{Chunk, ExecRequest, Stream, Transport};
use crate::runbook::Plan;

/// The longest a notify command may take before it is ended.
pub(crate) const LIMIT: Duration = Duration::from_secs(30);
/// How much of the command's stderr is kept to explain its failure.
const STDERR_KEPT: usize = 2048;

/// One moment worth telling, as the command's environment says it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Moment {
    /// `question`, `failed` or `finished`.
    event: &'static str,
    step: Option<String>,
    host: Option<String>,
    message: String,
}

/// What the run is, learned from its first event.
#[derive(Debug, Clone, Default)]
struct Run {
    id: String,
    dry_run: bool,
}

pub(crate) struct Notifier {
    command: String,
    plan: Arc<Plan>,
    outbox: Outbox,
    redactor: Arc<Redactor>,
    run: Mutex<Option<Run>>,
    running: Mutex<Vec<JoinHandle<()>>>,
}

impl Notifier {
    /// The runbook's notifier, when it has a `[notify]`.
    pub(crate) fn for_plan(
        plan: &Arc<Plan>,
        outbox: Outbox,
        redactor: Arc<Redactor>,
    ) -> Option<Self> {
        let command = plan.notify.as_ref()?.command.clone();
        Some(Self {
            command,
            plan: plan.clone(),
            outbox,
            redactor,
            run: Mutex::new(None),
            running: Mutex::new(Vec::new()),
        })
    }

    /// Hear an event (already redacted) and, when it is a moment to tell,
    /// start the command in the background. A dry run tells nothing: it asks
    /// nothing and changes nothing.
    pub(crate) fn hear(&self, event: &Event) {
        if let Event::RunStarted {
            run_id, dry_run, ..
        } = event
        {
            *self.run.lock().unwrap_or_else(PoisonError::into_inner) = Some(Run {
                id: run_id.clone(),
                dry_run: *dry_run,
            });
            return;
        }
        let run = self
            .run
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default();
        if run.dry_run {
            return;
        }
        let Some(mut moment) = self.moment(event) else {
            return;
        };
        self.redactor.text(&mut moment.message);
        moment.message = crate::sanitize::line(&moment.message).into_owned();
        tracing::debug!(event = moment.event, step = ?moment.step, "notify");
        let script = script(&self.command, &run.id, &moment);
        let outbox = self.outbox.clone();
        let redactor = self.redactor.clone();
        let task = tokio::spawn(async move {
            if let Err(why) = run_command(script, LIMIT).await {
                let mut text = format!("notify ({}): {why}", moment.event);
                redactor.text(&mut text);
                tracing::warn!(%text, "notify command failed");
                outbox.send(Event::Notice { step: None, text }).await;
            }
        });
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.retain(|t| !t.is_finished());
        running.push(task);
    }

    /// Wait for the commands still running: each ends within [`LIMIT`]. Called
    /// when the run has finished, so that its last notice is not lost.
    pub(crate) async fn settle(&self) {
        let running =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(PoisonError::into_inner));
        for task in running {
            let _ = task.await;
        }
    }

    fn step_id(&self, step: StepIx) -> Option<String> {
        self.plan.steps.get(step).map(|s| s.id.clone())
    }

    fn title(&self, step: StepIx) -> &str {
        self.plan.steps.get(step).map_or("", |s| s.title.as_str())
    }

    fn host_names(&self, hosts: &[usize]) -> String {
        hosts
            .iter()
            .filter_map(|h| self.plan.hosts.get(*h))
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn moment(&self, event: &Event) -> Option<Moment> {
        let name = &self.plan.name;
        match event {
            Event::Prompt(prompt) => Some(Moment {
                event: "question",
                step: self.step_id(prompt.step),
                host: None,
                message: format!("{name}: {}", self.question(prompt)),
            }),
            Event::StepFinished {
                step,
                host,
                outcome: outcome @ (Outcome::Failed | Outcome::Timeout | Outcome::Lost),
                exit,
                message,
                phase,
                ..
            } => {
                let host = self.plan.hosts.get(*host).map(|h| h.name.clone());
                let what = if *phase == super::event::Phase::Undo {
                    "the undo of "
                } else {
                    ""
                };
                let why = message
                    .clone()
                    .or_else(|| exit.as_ref().map(ToString::to_string))
                    .unwrap_or_else(|| outcome.as_str().to_string());
                Some(Moment {
                    event: "failed",
                    step: self.step_id(*step),
                    message: format!(
                        "{name}: {what}{} failed on {}: {why}",
                        self.title(*step),
                        host.as_deref().unwrap_or("?")
                    ),
                    host,
                })
            }
            Event::HostFailed { host, error, .. } => {
                let host = self.plan.hosts.get(*host).map(|h| h.name.clone());
                Some(Moment {
                    event: "failed",
                    step: None,
                    message: format!(
                        "{name}: {} could not be reached or used: {error}",
                        host.as_deref().unwrap_or("?")
                    ),
                    host,
                })
            }
            Event::RunFinished {
                status, exit_code, ..
            } => Some(Moment {
                event: "finished",
                step: None,
                host: None,
                message: format!(
                    "{name}: finished: {} (exit {exit_code})",
                    match status {
                        crate::journal::RunStatus::Ok => "ok",
                        crate::journal::RunStatus::Failed => "failed",
                        crate::journal::RunStatus::Aborted => "aborted",
                    }
                ),
            }),
            _ => None,
        }
    }

    /// What the admin is asked, in a sentence.
    fn question(&self, prompt: &Prompt) -> String {
        let title = self.title(prompt.step);
        let hosts = self.host_names(&prompt.hosts);
        match &prompt.kind {
            PromptKind::Gate => format!("run {title} on {hosts}?"),
            PromptKind::Manual { instructions } => format!("{title}: {instructions}"),
            PromptKind::Failure { .. } => format!("{title} failed on {hosts}: what now?"),
            PromptKind::Resume { .. } => format!("resume the interrupted run at {title}?"),
            PromptKind::Undo => format!("rollback: undo {title} on {hosts}?"),
            PromptKind::Always => format!("rollback: run {title} on {hosts}?"),
            PromptKind::LockBreak { host, holder, .. } => format!(
                "the lock on {} is held by {holder}: break it?",
                self.host_names(&[*host])
            ),
            PromptKind::RollbackPlan { .. } => "rollback: go through its plan?".to_string(),
            PromptKind::From { .. } => format!("start at {title}, skipping the steps before it?"),
            PromptKind::RunbookChanged { .. } => {
                "the runbook changed since the run started: resume with it?".to_string()
            }
            PromptKind::StillRunning { host, pid } => format!(
                "process group {pid} of {title} still runs on {}: wait, kill or abort?",
                self.host_names(&[*host])
            ),
            PromptKind::JournalFailed { error } => {
                format!("the journal cannot be written ({error}): retry or stop?")
            }
        }
    }
}

/// The shell text run: the moment exported, then the runbook's command.
fn script(command: &str, run_id: &str, moment: &Moment) -> String {
    let mut vars = vec![
        ("DRYDOCK_EVENT", moment.event.to_string()),
        ("DRYDOCK_RUN_ID", run_id.to_string()),
        ("DRYDOCK_STEP", moment.step.clone().unwrap_or_default()),
        ("DRYDOCK_MESSAGE", moment.message.clone()),
    ];
    if let Some(host) = &moment.host {
        vars.push(("DRYDOCK_HOST", host.clone()));
    }
    let exports: Vec<String> = vars
        .iter()
        .map(|(name, value)| format!("{name}={}", quote(value)))
        .collect();
    format!("export {}\n{command}", exports.join(" "))
}

/// Run the script on this machine, ending it after `limit`; why it failed,
/// when it did.
async fn run_command(script: String, limit: Duration) -> Result<(), String> {
    let (tx, mut rx) = mpsc::channel::<Chunk>(16);
    let cancel = CancellationToken::new();
    let transport = LocalTransport::new("this machine");
    let request = ExecRequest {
        command: script,
        pty: false,
    };
    let exec = transport.exec(request, tx, cancel.clone());
    tokio::pin!(exec);
    let timer = tokio::time::sleep(limit);
    tokio::pin!(timer);
    let mut stderr: Vec<u8> = Vec::new();
    let mut timed_out = false;
    let result = loop {
        tokio::select! {
            result = &mut exec => break result,
            Some(chunk) = rx.recv() => {
                if chunk.stream == Stream::Stderr {
                    stderr.extend_from_slice(&chunk.data);
                    let extra = stderr.len().saturating_sub(STDERR_KEPT);
                    stderr.drain(..extra);
                }
            }
            () = &mut timer, if !timed_out => {
                timed_out = true;
                cancel.cancel();
            }
        }
    };
    while let Ok(chunk) = rx.try_recv() {
        if chunk.stream == Stream::Stderr {
            stderr.extend_from_slice(&chunk.data);
        }
    }
    let said = String::from_utf8_lossy(&stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default();
    if timed_out {
        return Err(format!(
            "the command took over {} and was stopped",
            crate::runbook::duration::short(limit)
        ));
    }
    match result {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("the command ended with {status}{said}")),
        Err(e) => Err(format!("the command could not run: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moment_reaches_the_command_as_its_environment() {
        let moment = Moment {
            event: "failed",
            step: Some("deploy".into()),
            host: Some("web".into()),
            message: "it's $HOME".into(),
        };
        let text = script("printenv DRYDOCK_MESSAGE", "r1", &moment);
        assert!(text.ends_with("\nprintenv DRYDOCK_MESSAGE"), "{text}");
        assert!(text.contains(r"DRYDOCK_MESSAGE='it'\''s $HOME'"), "{text}");
        assert!(text.contains("DRYDOCK_HOST='web'"), "{text}");
    }

    #[tokio::test]
    async fn a_failing_command_says_why() {
        assert_eq!(run_command("true".into(), LIMIT).await, Ok(()));
        let why = run_command("echo first >&2; echo 'no route' >&2; exit 7".into(), LIMIT)
            .await
            .expect_err("fails");
        assert!(why.contains("7") && why.ends_with(": no route"), "{why}");
    }

    #[tokio::test]
    async fn a_command_over_its_limit_is_ended_with_everything_it_started() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let started = std::time::Instant::now();
        let why = run_command(script, Duration::from_millis(300))
            .await
            .expect_err("too slow");
        assert_eq!(why, "the command took over 300ms and was stopped");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .expect("the child's pid")
            .trim()
            .parse()
            .expect("a pid");
        // Its background child went with it: the whole process group is
        // ended (a zombie nobody has reaped yet is ended too).
        let gone = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            })
        });
        assert!(gone, "sleep {pid} is still running");
    }
}
