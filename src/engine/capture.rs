//! `capture = "name"`: a step's trimmed stdout on each host becomes
//! `{{name}}` there for the steps after it and for undo commands. The value
//! is fixed at the step's first successful run on the host (a retry or a
//! second run does not move it), journaled, and restored on `--resume`.
//! A variable with a secret's name (or listed in `[runbook] secrets`) is a
//! secret like any other: its step's stdout is neither shown nor journaled,
//! its value is `********` everywhere, and `--resume` runs its step again
//! rather than restoring what the journal could not keep.

use std::collections::HashMap;

use super::ctx::Ctx;
use super::event::{Event, HostIx, StepIx};
use crate::journal::RunSummary;
use crate::runbook::Plan;

/// The most of a command's stdout kept for a capture.
pub(super) const CAPTURE_LIMIT: usize = 64 * 1024;

/// The captured values a resumed run had: variable, then host, then value.
pub(super) fn restored(
    plan: &Plan,
    resume: Option<&RunSummary>,
) -> HashMap<String, HashMap<HostIx, String>> {
    let mut captured: HashMap<String, HashMap<HostIx, String>> = HashMap::new();
    for (_, host, var, value) in resume.map(|r| r.captures.as_slice()).unwrap_or_default() {
        if plan.is_secret(var) {
            continue;
        }
        if let Some(h) = plan.host_index(host) {
            captured
                .entry(var.clone())
                .or_default()
                .entry(h)
                .or_insert_with(|| value.clone());
        }
    }
    captured
}

/// Stdout lines as a captured value: joined, then trimmed.
pub(super) fn value_of(stdout: &[String]) -> String {
    stdout.join("\n").trim().to_string()
}

impl Ctx {
    /// Keep `value` as step `step`'s capture on `host`, unless an earlier
    /// successful run fixed it already.
    pub(super) async fn keep_capture(&self, step: StepIx, host: HostIx, value: String) {
        let Some(var) = self.plan.steps[step].capture.clone() else {
            return;
        };
        let earlier = match self.run_vars.lock() {
            Ok(mut vars) => {
                let on_hosts = vars.captured.entry(var.clone()).or_default();
                match on_hosts.get(&host) {
                    Some(earlier) => Some(earlier.clone()),
                    None => {
                        on_hosts.insert(host, value.clone());
                        None
                    }
                }
            }
            Err(_) => return,
        };
        if self.plan.is_secret(&var) {
            // Known as a secret before anything could show it.
            self.emitter.redact_also(&value);
        }
        let name = &self.plan.hosts[host].name;
        match earlier {
            None => {
                tracing::debug!(var = %var, host = %name, "captured");
                self.emitter
                    .emit(Event::Captured {
                        step,
                        host,
                        var,
                        value,
                    })
                    .await;
            }
            Some(earlier) if earlier != value => {
                let text = format!(
                    "{name}: {{{{{var}}}}} stays '{earlier}', as the step's first successful run captured it (this run printed '{value}')"
                );
                self.emitter
                    .emit(Event::Notice {
                        step: Some(step),
                        text,
                    })
                    .await;
            }
            Some(_) => {}
        }
    }
}
