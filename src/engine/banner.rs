//! The maintenance banner: written to each host as data (never spliced into
//! a command line), removed when the work is done.

use std::time::{Duration, Instant};

use super::ctx::{Ctx, HostResult};
use super::error::StepError;
use super::event::{BannerPreview, HostIx, Phase, StepIx};
use crate::journal::Outcome;
use crate::remote::Stream;
use crate::runbook::{BannerSwitch, Plan, RunVars};

/// When a banner put up now announces the work to start.
pub(super) fn starts_at(plan: &Plan) -> String {
    let lead = plan.banner.as_ref().map_or(Duration::ZERO, |b| b.lead);
    let starts = chrono::Utc::now() + chrono::Duration::from_std(lead).unwrap_or_default();
    crate::clock::rfc3339(starts)
}

/// The banner's message and the file's text (the message itself unless
/// `[banner] content` is set) for `host`, with the run's variables `vars`.
fn banner_text(plan: &Plan, host: HostIx, vars: &RunVars) -> Result<(String, String), StepError> {
    let banner = plan.banner.as_ref().ok_or(StepError::NoBanner)?;
    let message = plan.render(&banner.message, host, vars)?;
    let content = match &banner.content {
        Some(c) => plan.render_banner(c, host, vars, &message)?,
        None => message.clone(),
    };
    Ok((message, content))
}

impl Ctx {
    /// What a `banner = "on"` step will publish on each of `hosts`, with the
    /// start time it would announce if it ran now.
    pub(super) fn banner_previews(&self, hosts: &[HostIx]) -> Vec<BannerPreview> {
        let Some(banner) = &self.plan.banner else {
            return Vec::new();
        };
        let mut vars = self.vars();
        let starts = starts_at(&self.plan);
        vars.starts_at = Some(starts.clone());
        hosts
            .iter()
            .map(|&host| {
                let mut preview = BannerPreview {
                    host,
                    path: String::new(),
                    message: String::new(),
                    content: None,
                    starts_at: starts.clone(),
                    lead: banner.lead,
                    error: None,
                };
                let text = self
                    .plan
                    .render(&banner.path, host, &vars)
                    .map_err(StepError::from)
                    .and_then(|path| Ok((path, banner_text(&self.plan, host, &vars)?)));
                match text {
                    Ok((path, (message, content))) => {
                        preview.path = path;
                        preview.content = (content != message).then_some(content);
                        preview.message = message;
                    }
                    Err(e) => preview.error = Some(e.to_string()),
                }
                preview
            })
            .collect()
    }

    /// Put the banner up (`Some(message)`) or take it down (`None`).
    async fn switch_banner(
        &self,
        host: HostIx,
        switch: BannerSwitch,
        path: &str,
    ) -> Result<Option<String>, StepError> {
        let transport = self.transport(host)?;
        match switch {
            BannerSwitch::On => {
                let (message, content) = banner_text(&self.plan, host, &self.vars())?;
                transport.write_atomic(path, content.as_bytes()).await?;
                Ok(Some(message))
            }
            BannerSwitch::Off => {
                transport.remove_file(path).await?;
                Ok(None)
            }
        }
    }

    pub(super) async fn banner_host(
        &self,
        step: StepIx,
        host: HostIx,
        switch: BannerSwitch,
    ) -> HostResult {
        let started = Instant::now();
        let Some(banner) = &self.plan.banner else {
            return HostResult::failed(host, &StepError::NoBanner);
        };
        let path = match self.render(&banner.path, host) {
            Ok(p) => p,
            Err(e) => return HostResult::failed(host, &e),
        };
        self.start_step(step, host, self.describe(step, host), Phase::Main, 1)
            .await;
        let res = match self.switch_banner(host, switch, &path).await {
            Ok(message) => {
                if let Some(message) = message {
                    self.emitter
                        .emit_output(
                            step,
                            host,
                            Phase::Main,
                            vec![(Stream::Stdout, message)].into(),
                        )
                        .await;
                }
                HostResult::new(host, Outcome::Ok)
            }
            Err(e) => HostResult::failed(host, &e),
        };
        let starts_at = (switch == BannerSwitch::On && res.outcome == Outcome::Ok)
            .then(|| self.vars().starts_at)
            .flatten();
        tracing::debug!(host = %self.plan.hosts[host].name, ?switch, outcome = res.outcome.as_str(), "banner");
        self.finish_step_announcing(step, host, Phase::Main, &res, started, starts_at.as_deref())
            .await;
        res
    }
}
