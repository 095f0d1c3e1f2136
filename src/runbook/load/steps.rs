//! The steps: each one's fields, and the rules that hold across steps
//! (unique ids, consecutive rolling blocks that agree on their `batch` and
//! `max_fail`, the banner before its wait).

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use toml::Spanned;

use super::read::{Raw, Read, is_placeholder};
use super::vars::Scope;
use super::{ID_RULE, Loader, valid_id};
use crate::runbook::plan::{
    BannerSwitch, HOST_VARS, HostCount, OnFailure, Plan, RUNTIME_VARS, Step,
};
use crate::runbook::schema::StepSection;

/// A `batch` or `max_fail` set in the rolling block being read, and by which step.
struct BlockSetting {
    value: HostCount,
    step: String,
    at: usize,
}

/// What the steps before the one being read have settled.
#[derive(Default)]
pub(super) struct Sequence {
    seen_ids: HashMap<String, Range<usize>>,
    closed_rolling: HashSet<String>,
    current_rolling: Option<String>,
    block_batch: Option<BlockSetting>,
    block_max_fail: Option<BlockSetting>,
    /// A step before this one puts the banner up.
    pub banner_on_seen: bool,
}

impl<'s> Loader<'s> {
    pub(super) fn steps(&mut self, raw: &Raw, plan: &Plan) -> Vec<Step> {
        if raw.steps.is_empty() && raw.steps_span.is_none() {
            self.error(
                0..0,
                "the runbook has no steps; add at least one [[steps]] table",
            );
        }
        for step in &raw.steps {
            if let Some(var) = &step.value.capture {
                self.captures
                    .entry(var.get_ref().clone())
                    .or_insert_with(|| step.value.id.get_ref().clone());
            }
        }
        let mut sequence = Sequence::default();
        let mut steps = Vec::new();
        for step in &raw.steps {
            if let Some(step) = self.step(step, plan, &mut sequence) {
                steps.push(step);
            }
        }
        steps
    }

    /// One step, every field checked even when another is wrong; `None`
    /// when it has errors that leave nothing to run.
    fn step(
        &mut self,
        read: &Read<StepSection>,
        plan: &Plan,
        sequence: &mut Sequence,
    ) -> Option<Step> {
        let s = &read.value;
        let id = s.id.get_ref().clone();
        self.check_id(read, sequence);
        let hosts = self.step_hosts(read, plan);
        let scope = Scope::Hosts(&hosts);

        if s.title.get_ref().trim().is_empty() && !is_placeholder(&s.title) {
            self.error(s.title.span(), format!("step '{id}' needs a title"));
        }
        let title = self.shared_text(&s.title, plan, &hosts, "a step's title is");
        let notes = s
            .notes
            .as_ref()
            .map(|n| self.shared_text(n, plan, &hosts, "a step's notes are"));

        let action = self.action(read, plan, &hosts, sequence.banner_on_seen);
        if s.banner.as_ref().map(|b| *b.get_ref()) == Some(BannerSwitch::On) {
            sequence.banner_on_seen = true;
        }
        self.check_rolling(read, sequence);

        let timeout = s
            .timeout
            .as_ref()
            .and_then(|t| self.nonzero_duration(t, "timeout"));
        let preview = s
            .preview
            .as_ref()
            .map(|t| self.checked_template(t, plan, scope));
        let when = s
            .when
            .as_ref()
            .map(|t| self.checked_template(t, plan, scope));
        // Known from here on: in the step's own undo, and in later steps.
        let capture = self.capture(read, plan, &hosts);
        let undo = s
            .undo
            .as_ref()
            .map(|t| self.checked_template(t, plan, scope));
        let sudo = self.sudo(read, plan, &hosts);
        let env = self.env(&s.env, plan, scope);
        Some(Step {
            id,
            title,
            notes,
            hosts,
            action: action?,
            confirm: s.confirm.unwrap_or(false),
            preview,
            when,
            timeout,
            retries: s.retries.as_ref().map_or(0, |r| *r.get_ref()),
            on_failure: s
                .on_failure
                .as_ref()
                .map_or(OnFailure::Pause, |o| *o.get_ref()),
            undo,
            always: s.always.unwrap_or(false),
            rolling: s.rolling.as_ref().map(|r| r.get_ref().clone()),
            batch: s.batch.as_ref().map(|b| *b.get_ref()),
            max_fail: s.max_fail.as_ref().map(|m| *m.get_ref()),
            pty: s.pty.unwrap_or(false),
            sudo,
            env,
            capture,
        })
    }

    /// The variable the step captures, checked, and known from now on.
    fn capture(
        &mut self,
        read: &Read<StepSection>,
        plan: &Plan,
        hosts: &[usize],
    ) -> Option<String> {
        let text = read.value.capture.as_ref()?;
        let name = text.get_ref();
        let step = read.value.id.get_ref();
        let problem = if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            Some(format!(
                "'{name}' is not a valid variable name; use letters, digits and '_'"
            ))
        } else if HOST_VARS.contains(&name.as_str())
            || RUNTIME_VARS.contains(&name.as_str())
            || name == "message"
        {
            Some(format!(
                "'{name}' is a built-in variable and cannot be captured"
            ))
        } else if plan.vars.contains_key(name)
            || plan.hosts.iter().any(|h| h.vars.contains_key(name))
        {
            Some(format!(
                "'{name}' is already a variable ([vars], a host's vars or --var); a captured variable needs a name of its own"
            ))
        } else if let Some((first, _)) = self.captured.get(name) {
            Some(format!("'{name}' is already captured by step '{first}'"))
        } else if read.value.run.is_none() && !read.refused("run") {
            Some(format!(
                "step '{step}' captures '{name}', but only a `run` step has output to capture"
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            self.error(text.span(), problem);
            return None;
        }
        self.captured
            .insert(name.clone(), (step.clone(), hosts.to_vec()));
        Some(name.clone())
    }

    fn check_id(&mut self, read: &Read<StepSection>, sequence: &mut Sequence) {
        let id = &read.value.id;
        if is_placeholder(id) {
            return;
        }
        let name = id.get_ref();
        if !valid_id(name) {
            self.error(
                id.span(),
                format!("step id '{name}' is not valid; {ID_RULE}"),
            );
        }
        if let Some(first) = sequence.seen_ids.get(name) {
            let (line, _) = crate::runbook::diag::line_col(self.source, first.start);
            self.error(
                id.span(),
                format!("duplicate step id '{name}' (first used on line {line})"),
            );
        } else {
            sequence.seen_ids.insert(name.clone(), id.span());
        }
    }

    /// The hosts a step runs on. When its `hosts` were refused, none: its
    /// variables are then checked against every host.
    fn step_hosts(&mut self, read: &Read<StepSection>, plan: &Plan) -> Vec<usize> {
        let s = &read.value;
        match &s.hosts {
            Some(names) => {
                if names.is_empty() {
                    self.error(
                        read.span.clone(),
                        format!("step '{}' has an empty hosts list", s.id.get_ref()),
                    );
                }
                self.select_hosts(names, &plan.hosts)
            }
            None if read.refused("hosts") => Vec::new(),
            None if s.banner.is_some() => plan
                .banner
                .as_ref()
                .map_or_else(|| (0..plan.hosts.len()).collect(), |b| b.hosts.clone()),
            None => (0..plan.hosts.len()).collect(),
        }
    }

    /// The steps of a rolling block are consecutive, and agree on its
    /// `batch` and `max_fail`, which only a rolling block has.
    fn check_rolling(&mut self, read: &Read<StepSection>, sequence: &mut Sequence) {
        let text = read.value.rolling.as_ref();
        let label = text.map(|r| r.get_ref().clone());
        if sequence.current_rolling != label {
            if let Some(previous) = sequence.current_rolling.take() {
                sequence.closed_rolling.insert(previous);
            }
            if let (Some(label), Some(text)) = (&label, text)
                && sequence.closed_rolling.contains(label)
            {
                self.error(
                        text.span(),
                        format!("rolling block '{label}' was already closed by other steps; the steps of a rolling block must be consecutive"),
                    );
            }
            sequence.current_rolling = label;
            sequence.block_batch = None;
            sequence.block_max_fail = None;
        }
        let s = &read.value;
        if let Some(batch) = &s.batch
            && matches!(batch.get_ref(), HostCount::Hosts(0) | HostCount::Percent(0))
        {
            self.error(
                    batch.span(),
                    format!(
                        "batch = {} runs no host at a time; give at least 1 (or a percentage above \"0%\")",
                        batch.get_ref()
                    ),
                );
        }
        let label = sequence.current_rolling.clone();
        let id = s.id.get_ref();
        self.block_setting(
            "batch",
            s.batch.as_ref(),
            &label,
            id,
            &mut sequence.block_batch,
        );
        let max_fail = s.max_fail.as_ref();
        self.block_setting(
            "max_fail",
            max_fail,
            &label,
            id,
            &mut sequence.block_max_fail,
        );
    }

    /// `key` (`batch` or `max_fail`) set on step `id`: on a rolling step, and
    /// to the value the block's earlier steps gave it.
    fn block_setting(
        &mut self,
        key: &str,
        value: Option<&Spanned<HostCount>>,
        label: &Option<String>,
        id: &str,
        block: &mut Option<BlockSetting>,
    ) {
        let Some(value) = value else { return };
        let Some(label) = label else {
            self.error(
                value.span(),
                format!("{key} is for rolling blocks; set rolling = \"LABEL\" on this step too, or remove {key}"),
            );
            return;
        };
        match block {
            Some(first) if first.value != *value.get_ref() => {
                let (line, _) = crate::runbook::diag::line_col(self.source, first.at);
                self.error(
                    value.span(),
                    format!(
                        "{key} = {} differs from {key} = {} on step '{}' (line {line}); the steps of rolling block '{label}' share one {key}",
                        value.get_ref(),
                        first.value,
                        first.step
                    ),
                );
            }
            Some(_) => {}
            None => {
                *block = Some(BlockSetting {
                    value: *value.get_ref(),
                    step: id.to_string(),
                    at: value.span().start,
                })
            }
        }
    }
}
