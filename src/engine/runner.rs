//! The run itself: connect, lock, walk the steps (host by host in rolling
//! blocks), ask, pause on failures, finish. What each kind of step does on a
//! host lives in a file of its own (`exec`, `guard`, `banner`, `http`,
//! `wait`); the rollback in `rollback`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ctx::{Ctx, HostResult};
use super::emitter::Emitter;
use super::event::*;
use super::lock::Locking;
use super::{Options, RunResult, exit};
use crate::journal::{Outcome, Record, RunStatus};
use crate::remote;
use crate::runbook::{Action, BannerSwitch, OnFailure, Plan, RunVars};

pub(super) enum Flow {
    Next,
    /// The admin aborted.
    Abort,
    /// The run stopped itself on a failure.
    Stop,
}

pub(crate) struct Engine {
    pub(super) ctx: Ctx,
    pub(super) opts: Options,
    pub(super) run_id: String,
    inbox: mpsc::Receiver<Decision>,
    pub(super) participants: Vec<HostIx>,
    pub(super) outcomes: HashMap<(StepIx, HostIx), Outcome>,
    /// (step, host) in the order they ran, for the undo offers.
    pub(super) ran: Vec<(StepIx, HostIx)>,
    pub(super) locks: Vec<(HostIx, String)>,
    /// Stops the log tails and the connection watchers when the run ends.
    pub(super) tails: CancellationToken,
    /// (step, host) whose undo has already run, so a rollback does not offer it again.
    pub(super) undone: Vec<(StepIx, HostIx)>,
    continued_failures: bool,
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
                emitter: Arc::new(emitter),
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

    pub(super) fn plan(&self) -> &Plan {
        &self.ctx.plan
    }

    pub(super) async fn emit(&self, event: Event) {
        self.ctx.emitter.emit(event).await;
    }

    pub(crate) async fn run(mut self) -> RunResult {
        let resumed = self.opts.resume.is_some();
        tracing::info!(run_id = %self.run_id, resumed, dry_run = self.opts.dry_run, "run started");
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
            self.ctx.emitter.write_record(record).await;
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
        self.watch_connections();
        if self.opts.tail_logs {
            self.start_tails();
        }
        if !self.opts.dry_run {
            match self.take_locks().await {
                Locking::Taken => {}
                Locking::Held => return self.finish(RunStatus::Failed, exit::LOCKED).await,
                Locking::Failed => return self.finish(RunStatus::Failed, exit::UNREACHABLE).await,
            }
        }
        match self.walk().await {
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
            self.emit(Event::HostConnecting { host: h }).await;
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
                        cause: e.cause(),
                    })
                    .await;
                }
            }
        }
        ok
    }

    async fn finish(mut self, status: RunStatus, exit_code: i32) -> RunResult {
        self.tails.cancel();
        self.release_locks().await;
        let journal = self.ctx.emitter.journal_path();
        tracing::info!(run_id = %self.run_id, ?status, exit_code, "run finished");
        // Journaled (and the journal flushed) before it is sent: the journal
        // is whole on disk when the front end hears that the run is over.
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
    pub(super) async fn ask(&mut self, prompt: Prompt) -> Decision {
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
        let decision = if auto {
            Decision::Run
        } else {
            let choices = prompt.choices.clone();
            self.emit(Event::Prompt(prompt)).await;
            loop {
                match self.inbox.recv().await {
                    Some(d) if choices.contains(&d) => break d,
                    Some(_) => continue,
                    None => break Decision::Abort,
                }
            }
        };
        self.decided(step, decision, auto).await;
        decision
    }

    pub(super) async fn decided(&self, step: StepIx, decision: Decision, automatic: bool) {
        tracing::debug!(step = %self.plan().steps[step].id, decision = decision.as_str(), automatic, "decided");
        self.emit(Event::Decided {
            step,
            decision,
            automatic,
        })
        .await;
    }

    pub(super) fn targets(&self, step: StepIx) -> Vec<HostIx> {
        self.plan().steps[step]
            .hosts
            .iter()
            .copied()
            .filter(|h| self.participants.contains(h))
            .collect()
    }

    /// A resumed run: the outcomes journaled so far, the interrupted steps
    /// marked unknown, and the admin asked before going on. Returns the
    /// step it resumes at, or the flow when there is nothing more to do.
    async fn resume(&mut self) -> Result<Option<StepIx>, Flow> {
        let Some(summary) = self.opts.resume.clone() else {
            return Ok(None);
        };
        self.outcomes = super::resume_outcomes(self.plan(), &summary);
        let mut interrupted = Vec::new();
        for (step, host) in &summary.interrupted {
            let (Some(s), Some(h)) = (self.plan().step_index(step), self.plan().host_index(host))
            else {
                continue;
            };
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
                    "interrupted: drydock stopped while this ran; its outcome is unknown".into(),
                ),
            })
            .await;
        }
        let first_pending = (0..self.plan().steps.len()).find(|&s| {
            self.targets(s)
                .iter()
                .any(|&h| !self.outcomes.get(&(s, h)).is_some_and(|o| o.is_settled()))
        });
        let Some(next) = first_pending else {
            return Err(Flow::Next);
        };
        let decision = self
            .ask(Prompt {
                step: next,
                kind: PromptKind::Resume { interrupted },
                hosts: self.targets(next),
                commands: Vec::new(),
                previews: Vec::new(),
                choices: vec![Decision::Run, Decision::Abort],
            })
            .await;
        match decision {
            Decision::Abort => Err(Flow::Abort),
            _ => Ok(Some(next)),
        }
    }

    async fn walk(&mut self) -> Flow {
        let first_pending = match self.resume().await {
            Ok(first) => first,
            Err(flow) => return flow,
        };
        let step_count = self.plan().steps.len();
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
            tracing::debug!(host = %self.plan().hosts[h].name, "rolling block on a host");
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

    pub(super) async fn skip(&mut self, step: StepIx, hosts: &[HostIx], reason: &str) {
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
        if let Some(from) = self.opts.from.filter(|&from| ix < from) {
            let reason = format!("before --from {}", self.plan().steps[from].id);
            self.skip(ix, &targets, &reason).await;
            return Flow::Next;
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
            let starts_at = super::banner::starts_at(self.plan());
            if let Ok(mut vars) = self.ctx.run_vars.lock() {
                vars.starts_at = Some(starts_at);
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
            match self.pause_on_failure(ix, &failures).await {
                Some(flow) => return flow,
                None => todo = failures.iter().map(|f| f.host).collect(),
            }
        }
    }

    /// Ask what to do about a step that failed on some hosts; `None` means
    /// run it again there.
    async fn pause_on_failure(&mut self, ix: StepIx, failures: &[HostResult]) -> Option<Flow> {
        let failed_hosts: Vec<HostIx> = failures.iter().map(|f| f.host).collect();
        let has_undo = self.plan().steps[ix].undo.is_some();
        loop {
            let mut choices = vec![Decision::Retry, Decision::Skip];
            if has_undo {
                choices.push(Decision::Undo);
            }
            choices.push(Decision::Abort);
            let failures = failures
                .iter()
                .map(|f| HostFailure {
                    host: f.host,
                    outcome: f.outcome,
                    exit: f.exit.clone(),
                    message: f.message.clone(),
                    last_stderr: f.last_stderr.clone(),
                })
                .collect();
            let decision = self
                .ask(Prompt {
                    step: ix,
                    kind: PromptKind::Failure { failures },
                    hosts: failed_hosts.clone(),
                    commands: self.commands(ix, &failed_hosts),
                    previews: Vec::new(),
                    choices,
                })
                .await;
            match decision {
                Decision::Retry => return None,
                Decision::Skip => {
                    self.skip(ix, &failed_hosts, "failed, then skipped by the admin")
                        .await;
                    return Some(Flow::Next);
                }
                Decision::Undo => self.undo(ix, &failed_hosts).await,
                _ => return Some(Flow::Abort),
            }
        }
    }

    /// Run the step's action on every host at once, listening for an abort
    /// (and, on a guard, an override) while it runs.
    pub(super) async fn execute(
        &mut self,
        ix: StepIx,
        hosts: &[HostIx],
    ) -> (Vec<HostResult>, bool) {
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
            self.decided(ix, decision, false).await;
        }
        (results, aborted)
    }

    /// Wait for a decision while a step waits; `None` when the run ends.
    pub(super) async fn next_decision(&mut self) -> Option<Decision> {
        self.inbox.recv().await
    }
}
