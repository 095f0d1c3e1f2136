//! Before a step runs: the journal written, its `when` condition on each
//! host, and the gate that shows the exact commands and the previews and
//! asks; before the first, what `--from` skips.

use std::time::Duration;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::event::*;
use super::runner::{Engine, Flow};
use crate::runbook::template::Template;
use crate::runbook::{Action, BannerSwitch};

/// Time limit of previews and conditions of a step that sets no `timeout`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

impl Engine {
    /// The journal is written or the run stops: while a write has failed, no
    /// new step starts; the admin is told why and may retry or abort. True
    /// when the journal is whole; `step` is the step about to start.
    pub(super) async fn journal_written(&mut self, step: StepIx) -> bool {
        while let Some(error) = self.ctx.emitter.journal_error() {
            let decision = self
                .ask(Prompt {
                    step,
                    kind: PromptKind::JournalFailed { error },
                    hosts: Vec::new(),
                    commands: Vec::new(),
                    previews: Vec::new(),
                    banner: Vec::new(),
                    choices: vec![Decision::Retry, Decision::Abort],
                })
                .await;
            if decision != Decision::Retry {
                tracing::warn!("the journal cannot be written: the run stops");
                return false;
            }
            if let Err(e) = self.ctx.emitter.retry_journal().await {
                tracing::warn!(error = %e, "the journal still cannot be written");
            }
        }
        true
    }

    /// `--from`: list the steps it will skip (and the guards before it that
    /// are still checked) in one question. `Some` when the admin aborted.
    pub(super) async fn confirm_from(&mut self) -> Option<Flow> {
        let from = self.opts.from.filter(|&f| f > 0)?;
        if self.opts.resume.is_some() {
            return None;
        }
        let before = |s: &StepIx| !self.targets(*s).is_empty();
        let (guards, skipped): (Vec<StepIx>, Vec<StepIx>) = (0..from)
            .filter(before)
            .partition(|&s| matches!(self.plan().steps[s].action, Action::Guard(_)));
        if self.opts.yes || self.opts.dry_run {
            let ids: Vec<&str> = skipped
                .iter()
                .map(|&s| self.plan().steps[s].id.as_str())
                .collect();
            let text = format!(
                "--from {}: not running {}",
                self.plan().steps[from].id,
                ids.join(", ")
            );
            self.emit(Event::Notice { step: None, text }).await;
        }
        if self.opts.dry_run {
            return None;
        }
        let decision = self
            .ask(Prompt {
                step: from,
                kind: PromptKind::From { skipped, guards },
                hosts: self.targets(from),
                commands: Vec::new(),
                previews: Vec::new(),
                banner: Vec::new(),
                choices: vec![Decision::Run, Decision::Abort],
            })
            .await;
        (decision != Decision::Run).then_some(Flow::Abort)
    }

    /// What the step does on each host, in words (the exact command of a `run`).
    pub(super) fn commands(&self, ix: StepIx, hosts: &[HostIx]) -> Vec<(HostIx, String)> {
        hosts
            .iter()
            .map(|&h| (h, self.ctx.describe(ix, h)))
            .collect()
    }

    /// How long a preview or condition of the step may take.
    fn check_limit(&self, ix: StepIx) -> Duration {
        self.plan().steps[ix].timeout.unwrap_or(CHECK_TIMEOUT)
    }

    pub(super) async fn previews(&self, ix: StepIx, hosts: &[HostIx]) -> Vec<PreviewOutput> {
        let Some(preview) = &self.plan().steps[ix].preview else {
            return Vec::new();
        };
        let cancel = CancellationToken::new();
        let limit = self.check_limit(ix);
        let runs = hosts.iter().map(|&h| {
            let cancel = &cancel;
            async move {
                let command = match self.ctx.command(ix, preview, h) {
                    Ok(command) => command,
                    Err(e) => {
                        return PreviewOutput {
                            host: h,
                            command: preview.source().to_string(),
                            lines: Vec::new(),
                            exit: None,
                            error: Some(e.to_string()),
                        };
                    }
                };
                match self.ctx.capture(h, &command, limit, cancel).await {
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
                        error: Some(e.to_string()),
                    },
                }
            }
        });
        let previews = join_all(runs).await;
        for preview in &previews {
            self.emit(Event::Previewed {
                step: ix,
                preview: preview.clone(),
            })
            .await;
        }
        previews
    }

    pub(super) async fn gate(&mut self, ix: StepIx, hosts: &[HostIx]) -> Decision {
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
            banner: match self.plan().steps[ix].action {
                Action::Banner(BannerSwitch::On) => self.ctx.banner_previews(hosts),
                _ => Vec::new(),
            },
            choices: vec![Decision::Run, Decision::Skip, Decision::Abort],
        };
        self.ask(prompt).await
    }

    /// The hosts where the step's `when` holds; the others are skipped, with why.
    pub(super) async fn check_when(
        &mut self,
        ix: StepIx,
        when: &Template,
        targets: Vec<HostIx>,
    ) -> Vec<HostIx> {
        let cancel = CancellationToken::new();
        let limit = self.check_limit(ix);
        let ctx = &self.ctx;
        let checks = targets.iter().map(|&h| {
            let cancel = &cancel;
            async move {
                match ctx.command(ix, when, h) {
                    Ok(cmd) => {
                        let r = ctx.capture(h, &cmd, limit, cancel).await;
                        (h, cmd, r)
                    }
                    Err(e) => (h, when.source().to_string(), Err(e)),
                }
            }
        });
        let results = join_all(checks).await;
        let mut keep = Vec::new();
        for (h, cmd, result) in results {
            let holds = matches!(&result, Ok((status, _)) if status.success());
            self.emit(Event::ConditionChecked {
                step: ix,
                host: h,
                command: cmd.clone(),
                holds,
                error: result.as_ref().err().map(ToString::to_string),
            })
            .await;
            let reason = match result {
                Ok(_) if holds => {
                    keep.push(h);
                    continue;
                }
                Ok((status, _)) => format!("condition `{cmd}` was not met ({status})"),
                Err(e) => format!("condition `{cmd}` could not be checked: {e}"),
            };
            self.skip(ix, &[h], &reason).await;
        }
        keep
    }
}
