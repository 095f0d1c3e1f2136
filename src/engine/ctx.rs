//! What every operation on a host may read: the plan, the connections, the
//! run's variables, and where events go.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::emitter::Emitter;
use super::error::StepError;
use super::event::{Event, HostIx, Phase, StepIx};
use super::interact::Routes;
use super::sudo::SudoPasswords;
use crate::journal::Outcome;
use crate::remote::{ExitStatus, Prompter, Transport};
use crate::runbook::template::Template;
use crate::runbook::{Plan, RunVars};

/// What a step did on one host.
#[derive(Debug, Clone)]
pub(super) struct HostResult {
    pub host: HostIx,
    pub outcome: Outcome,
    pub exit: Option<ExitStatus>,
    pub message: Option<String>,
    pub last_stderr: Vec<String>,
    /// The command's process group, when the connection was lost while it
    /// ran: it may still run on the host, and must end before a retry.
    pub left_running: Option<u32>,
    /// Its command never started on the host (no connection, a command
    /// that could not be made, sudo that refused): nothing there to undo.
    pub never_ran: bool,
}

impl HostResult {
    pub fn new(host: HostIx, outcome: Outcome) -> Self {
        Self {
            host,
            outcome,
            exit: None,
            message: None,
            last_stderr: Vec::new(),
            left_running: None,
            never_ran: false,
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn failed(host: HostIx, error: &StepError) -> Self {
        Self::new(host, Outcome::Failed).with_message(error.to_string())
    }

    /// A failure before the command could start on the host.
    pub fn not_started(host: HostIx, error: &StepError) -> Self {
        Self {
            never_ran: true,
            ..Self::failed(host, error)
        }
    }
}

/// Shared by the tasks of one step's hosts, which run at the same time.
pub(super) struct Ctx {
    pub plan: Arc<Plan>,
    /// Shared with the run's outer future, which journals an interruption,
    /// and with the tasks that watch the connections.
    pub emitter: Arc<Emitter>,
    pub transports: Vec<Option<Arc<dyn Transport>>>,
    pub run_vars: Mutex<RunVars>,
    /// Asks the admin (the sudo password, during the run).
    pub prompter: Arc<dyn Prompter>,
    /// Where typed input goes.
    pub routes: Arc<Routes>,
    pub sudo: SudoPasswords,
}

impl Ctx {
    pub fn vars(&self) -> RunVars {
        self.run_vars.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn transport(&self, host: HostIx) -> Result<Arc<dyn Transport>, StepError> {
        self.transports
            .get(host)
            .and_then(Clone::clone)
            .ok_or_else(|| StepError::NotConnected(self.plan.hosts[host].name.clone()))
    }

    pub fn render(&self, template: &Template, host: HostIx) -> Result<String, StepError> {
        Ok(self.plan.render(template, host, &self.vars())?)
    }

    /// One of `step`'s commands as `host` runs it, with the step's
    /// environment exported first. A `sudo` step's `run` and `undo` are
    /// then wrapped by [`Ctx::as_sent`].
    pub fn command(
        &self,
        step: StepIx,
        template: &Template,
        host: HostIx,
    ) -> Result<String, StepError> {
        Ok(self.plan.command_line(step, host, template, &self.vars())?)
    }

    /// What `step` does on `host`, in words: for a `run`, the exact
    /// command as it will be sent.
    pub fn describe(&self, step: StepIx, host: HostIx) -> String {
        let said = self.plan.describe_action(step, host, &self.vars());
        match self.plan.steps[step].action {
            crate::runbook::Action::Run(_) => self.as_sent(step, said),
            _ => said,
        }
    }

    /// A step's command (its `run` or `undo`) as it is sent: through sudo
    /// for a `sudo` step.
    pub fn as_sent(&self, step: StepIx, command: String) -> String {
        crate::remote::sudo::as_sent(command, self.plan.steps[step].sudo.as_ref())
    }

    pub async fn start_step(
        &self,
        step: StepIx,
        host: HostIx,
        command: String,
        phase: Phase,
        attempt: u32,
    ) {
        self.emitter
            .emit(Event::StepStarted {
                step,
                host,
                command,
                phase,
                attempt,
            })
            .await;
    }

    pub async fn finish_step(
        &self,
        step: StepIx,
        host: HostIx,
        phase: Phase,
        result: &HostResult,
        started: Instant,
    ) {
        self.finish_step_announcing(step, host, phase, result, started, None)
            .await;
    }

    /// Finish a step; a banner that went up also journals the start time it
    /// announced.
    pub async fn finish_step_announcing(
        &self,
        step: StepIx,
        host: HostIx,
        phase: Phase,
        result: &HostResult,
        started: Instant,
        starts_at: Option<&str>,
    ) {
        let event = Event::StepFinished {
            step,
            host,
            outcome: result.outcome,
            exit: result.exit.clone(),
            duration: started.elapsed(),
            phase,
            message: result.message.clone(),
        };
        self.emitter.emit_with(event, starts_at).await;
    }
}
