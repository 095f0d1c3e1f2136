//! The run itself: connect, lock, walk the steps, ask, pause on failures,
//! finish. What each kind of step does on a host lives in a file of its own
//! (`exec`, `guard`, `banner`, `http`, `wait`); rolling blocks, batch by
//! batch of hosts, in `rolling`; the rollback in `rollback`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::join_all;
use futures::stream::{self, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ctx::{Ctx, HostResult};
use super::emitter::Emitter;
use super::event::*;
use super::lock::Locking;
use super::rolling::FailBudget;
use super::{Options, RunResult, exit};
use crate::journal::{Outcome, Record, RunStatus};
use crate::remote;
use crate::runbook::{Action, BannerSwitch, OnFailure, Plan, RunVars, TransportKind};

/// SSH connections being opened at once. Each handshake holds a socket, a
/// wake pipe and a thread and costs the network a burst of round trips:
/// hundreds of hosts connect through a moving window of this many rather
/// than all at once, which would spike file descriptors and threads.
pub const CONNECTS_AT_ONCE: usize = 32;

/// How long an interrupted run waits for the journal to take `run_interrupted`.
const INTERRUPTED_JOURNAL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) enum Flow {
    Next,
    /// The admin aborted.
    Abort,
    /// The run stopped itself on a failure.
    Stop,
    /// The journal could not be written and the admin did not retry: the
    /// run stops, and nothing more runs (not even a rollback).
    Unrecorded,
}

pub(crate) struct Engine {
    pub(super) ctx: Ctx,
    pub(super) opts: Options,
    pub(super) run_id: String,
    pub(super) inbox: mpsc::Receiver<Decision>,
    pub(super) participants: Vec<HostIx>,
    pub(super) outcomes: HashMap<(StepIx, HostIx), Outcome>,
    /// (step, host) in the order they ran, for the undo offers.
    pub(super) ran: Vec<(StepIx, HostIx)>,
    pub(super) locks: Vec<(HostIx, String)>,
    /// Stops the log tails and the connection watchers when the run ends.
    pub(super) tails: CancellationToken,
    /// (step, host) whose undo has already run, so a rollback does not offer it again.
    pub(super) undone: Vec<(StepIx, HostIx)>,
    /// Undo commands that succeeded: (step, host, command).
    pub(super) undo_commands_ok: Vec<(StepIx, HostIx, String)>,
    /// Why a step was not done on a host, for the summary.
    pub(super) why_not: HashMap<(StepIx, HostIx), String>,
    /// Nobody can answer any more (end of input, the TUI gone).
    pub(super) unattended: bool,
    /// The step where the run was aborted or stopped itself.
    pub(super) ended_at: Option<StepIx>,
    /// A dry run's checks that could not be made, or found a guard not holding.
    pub(super) dry_run_problems: Vec<String>,
    /// A failure was let go (`on_failure = "continue"`, or within a rolling
    /// block's `max_fail`): the run ends failed.
    pub(super) continued_failures: bool,
    /// The failed hosts of the rolling block under way, when it has `max_fail`.
    pub(super) fail_budget: Option<FailBudget>,
}

impl Engine {
    pub(crate) fn new(
        plan: Arc<Plan>,
        opts: Options,
        run_id: String,
        emitter: Emitter,
        inbox: mpsc::Receiver<Decision>,
        routes: Arc<super::interact::Routes>,
    ) -> Self {
        let participants = if opts.only_hosts.is_empty() {
            (0..plan.hosts.len()).collect()
        } else {
            opts.only_hosts.clone()
        };
        let run_vars = RunVars {
            run_id: Some(run_id.clone()),
            starts_at: opts.resume.as_ref().and_then(|r| r.starts_at.clone()),
            captured: super::capture::restored(&plan, opts.resume.as_ref()),
        };
        Self {
            ctx: Ctx {
                transports: vec![None; plan.hosts.len()],
                plan,
                emitter: Arc::new(emitter),
                run_vars: Mutex::new(run_vars),
                prompter: opts.prompter.clone(),
                routes,
                sudo: Default::default(),
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
            undo_commands_ok: Vec::new(),
            why_not: HashMap::new(),
            unattended: false,
            ended_at: None,
            dry_run_problems: Vec::new(),
            continued_failures: false,
            fail_budget: None,
        }
    }

    pub(super) fn plan(&self) -> &Plan {
        &self.ctx.plan
    }

    pub(super) async fn emit(&self, event: Event) {
        self.ctx.emitter.emit(event).await;
    }

    /// Run to the end, or until a signal interrupts the run. Interrupted,
    /// nothing more runs: the run's future is left as it is, neither polled
    /// nor dropped (dropping it would end the commands still running on
    /// their hosts, which are left to finish), the lock and the banner stay,
    /// and `run_interrupted` is journaled with what was running.
    pub(crate) async fn run(self, mut interrupts: mpsc::Receiver<&'static str>) -> RunResult {
        let emitter = self.ctx.emitter.clone();
        let mut run = Box::pin(self.run_to_end());
        let signal = tokio::select! {
            biased;
            Some(signal) = interrupts.recv() => signal,
            result = &mut run => return result,
        };
        std::mem::forget(run);
        let running = emitter.running();
        let journal = emitter.journal_path();
        tracing::info!(signal, running = running.len(), "run interrupted");
        let event = Event::RunInterrupted {
            signal: signal.to_string(),
            running: running.clone(),
            journal: journal.clone(),
        };
        // The run was left where it stood, perhaps in the middle of a journal
        // write that waits on the disk: the front end hears of the
        // interruption even when the journal cannot take it in time.
        if tokio::time::timeout(INTERRUPTED_JOURNAL_WAIT, emitter.emit(event.clone()))
            .await
            .is_err()
        {
            tracing::warn!("run_interrupted could not be journaled in time");
            emitter.outbox().send(event).await;
        }
        RunResult {
            status: RunStatus::Aborted,
            exit_code: exit::ABORTED,
            journal,
            interrupted: Some(Interruption {
                signal: signal.to_string(),
                running,
            }),
        }
    }

    async fn run_to_end(mut self) -> RunResult {
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
        if !self.journal_written(0).await {
            return self.finish(RunStatus::Failed, exit::FAILED).await;
        }
        if !self.runbook_unchanged().await {
            return self.leave_unfinished().await;
        }
        if self.opts.dry_run {
            self.emit(Event::Notice {
                step: None,
                text: "dry run: previews and checks show each host as it is now; the steps before them have not run".into(),
            })
            .await;
        }

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
            Flow::Next if self.opts.dry_run && !self.dry_run_problems.is_empty() => {
                self.report_dry_run_problems().await;
                self.finish(RunStatus::Failed, exit::FAILED).await
            }
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
            Flow::Unrecorded => self.finish(RunStatus::Failed, exit::FAILED).await,
        }
    }

    /// Connect every host taking part. SSH connections open at most
    /// [`CONNECTS_AT_ONCE`] at a time; the others say they wait their turn.
    /// A `local` host opens nothing and does not wait.
    async fn connect(&mut self) -> bool {
        let plan = self.ctx.plan.clone();
        let (ssh, local): (Vec<HostIx>, Vec<HostIx>) = self
            .participants
            .iter()
            .partition(|&&h| plan.hosts[h].transport == TransportKind::Ssh);
        for &h in ssh.iter().skip(CONNECTS_AT_ONCE) {
            self.emit(Event::HostQueued { host: h }).await;
        }
        tracing::debug!(
            ssh = ssh.len(),
            local = local.len(),
            at_once = CONNECTS_AT_ONCE,
            "connecting"
        );
        let ctx = &self.ctx;
        let prompter = &self.opts.prompter;
        let attempt = |h: HostIx| connect_host(ctx, h, prompter.clone());
        let local = join_all(local.into_iter().map(attempt));
        // A loop rather than `collect`: with `collect`, rustc cannot prove the
        // run's future general enough over lifetimes for `tokio::spawn`.
        let ssh = async {
            let mut window =
                stream::iter(ssh.into_iter().map(attempt)).buffer_unordered(CONNECTS_AT_ONCE);
            let mut done = Vec::new();
            while let Some(connected) = window.next().await {
                done.push(connected);
            }
            done
        };
        let (local, ssh) = futures::future::join(local, ssh).await;
        let mut ok = true;
        for (h, transport) in local.into_iter().chain(ssh) {
            ok &= transport.is_some();
            self.ctx.transports[h] = transport;
        }
        ok
    }

    pub(super) fn targets(&self, step: StepIx) -> Vec<HostIx> {
        self.plan().steps[step]
            .hosts
            .iter()
            .copied()
            .filter(|h| self.participants.contains(h))
            .collect()
    }

    async fn walk(&mut self) -> Flow {
        let first_pending = match self.resume().await {
            Ok(first) => first,
            Err(flow) => return flow,
        };
        if let Some(flow) = self.confirm_from().await {
            return flow;
        }
        let step_count = self.plan().steps.len();
        let mut ix = 0;
        while ix < step_count {
            let (flow, next) = match self.plan().rolling_block(ix) {
                Some(block) => {
                    let end = block.end;
                    (self.rolling(block, first_pending).await, end)
                }
                None => {
                    let targets = self.targets(ix);
                    let flow = self.step(ix, &targets, first_pending == Some(ix)).await;
                    if !matches!(flow, Flow::Next) {
                        self.ended_at = Some(ix);
                    }
                    (flow, ix + 1)
                }
            };
            if !matches!(flow, Flow::Next) {
                return flow;
            }
            ix = next;
        }
        Flow::Next
    }

    pub(super) async fn skip(&mut self, step: StepIx, hosts: &[HostIx], reason: &str) {
        for &h in hosts {
            self.outcomes.insert((step, h), Outcome::Skipped);
            self.why_not.insert((step, h), format!("skipped: {reason}"));
            self.emit(Event::StepSkipped {
                step,
                host: h,
                reason: reason.to_string(),
                earlier: None,
            })
            .await;
        }
    }

    pub(super) async fn step(
        &mut self,
        ix: StepIx,
        hosts: &[HostIx],
        resume_gate_done: bool,
    ) -> Flow {
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
        // Guards before --from are checked as usual: they only read, and
        // they exist for safety.
        let is_guard = matches!(step.action, Action::Guard(_));
        if let Some(from) = self.opts.from.filter(|&from| ix < from && !is_guard) {
            let reason = format!("before --from {}", self.plan().steps[from].id);
            self.skip(ix, &targets, &reason).await;
            return Flow::Next;
        }
        if !self.journal_written(ix).await {
            return Flow::Unrecorded;
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
            self.settle(ix, &results);
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
            if step.on_failure != OnFailure::Continue && self.tolerate(ix, &failures).await {
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
            // A command whose connection was lost may still run: the step
            // never runs twice at once on one host.
            for f in &failures {
                if let Some(pid) = f.left_running
                    && !self.settle_left_running(ix, f.host, pid).await
                {
                    return Flow::Abort;
                }
            }
            if !self.journal_written(ix).await {
                return Flow::Unrecorded;
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
        // Journaled when given, so that the record has the answer before
        // the step's end it brought about.
        let decided = |decision: Decision| {
            tracing::debug!(
                step = ix,
                decision = decision.as_str(),
                "decided while it ran"
            );
            ctx.emitter.emit(Event::Decided {
                step: ix,
                decision,
                by: AnsweredBy::Admin,
            })
        };
        // A closed inbox means nobody can answer: what runs goes on to its end.
        let mut listening = !self.unattended;
        let results = loop {
            tokio::select! {
                results = &mut work => break results,
                decision = inbox.recv(), if listening && !cancel.is_cancelled() => match decision {
                    Some(Decision::Override) if is_guard => {
                        decided(Decision::Override).await;
                        overridden.store(true, Ordering::SeqCst);
                        cancel.cancel();
                    }
                    Some(Decision::Abort) => {
                        decided(Decision::Abort).await;
                        aborted = true;
                        cancel.cancel();
                    }
                    Some(_) => {}
                    None => listening = false,
                },
            }
        };
        if !listening {
            self.unattended = true;
        }
        (results, aborted)
    }

    /// Wait for a decision while a step waits; `None` when nobody can answer.
    pub(super) async fn next_decision(&mut self) -> Option<Decision> {
        if self.unattended {
            return None;
        }
        let decision = self.inbox.recv().await;
        self.unattended = decision.is_none();
        decision
    }
}

/// Connect one host, telling the front end when it starts and how it went.
async fn connect_host(
    ctx: &Ctx,
    host: HostIx,
    prompter: Arc<dyn remote::Prompter>,
) -> (HostIx, Option<Arc<dyn remote::Transport>>) {
    let to = remote::destination(&ctx.plan.hosts[host]).await;
    ctx.emitter
        .emit(Event::HostConnecting {
            host,
            to: to.clone(),
        })
        .await;
    match remote::connect(&ctx.plan.hosts[host], prompter).await {
        Ok(transport) => {
            ctx.emitter.emit(Event::HostConnected { host, to }).await;
            (host, Some(transport))
        }
        Err(e) => {
            let event = Event::HostFailed {
                host,
                error: e.to_string(),
                cause: e.cause(),
            };
            ctx.emitter.emit(event).await;
            (host, None)
        }
    }
}
