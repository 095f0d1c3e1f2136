//! Secrets and terminal controls never leave the engine: every string of
//! every event is passed through one [`Redactor`] before it reaches a front
//! end or the journal. It replaces secret values by `********` everywhere,
//! and removes control sequences and bidi overrides from every string but
//! output lines, which were cleaned (colours kept) as they were split.

use super::event::{Event, PreviewOutput, Prompt, PromptKind};
use crate::runbook::Plan;

const REDACTED: &str = "********";

/// Replaces the values of a run's secrets by `********`, and cleans text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so that a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(mut secrets: Vec<String>) -> Self {
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// The secrets of a runbook: its secret variables' values.
    pub fn for_plan(plan: &Plan) -> Self {
        Self::new(plan.secret_values())
    }

    /// Secrets replaced, in a line of output that is clean already.
    pub fn redact(&self, text: &mut String) {
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), REDACTED);
            }
        }
    }

    /// Secrets replaced and control sequences removed (line breaks stay), in
    /// any other string: a command, a reason, a message, a runbook's title.
    pub fn text(&self, text: &mut String) {
        self.redact(text);
        if let std::borrow::Cow::Owned(clean) = crate::sanitize::text(text) {
            *text = clean;
        }
    }

    fn all<'s>(&self, texts: impl IntoIterator<Item = &'s mut String>) {
        texts.into_iter().for_each(|t| self.text(t));
    }

    fn output<'s>(&self, lines: impl IntoIterator<Item = &'s mut String>) {
        if !self.secrets.is_empty() {
            lines.into_iter().for_each(|l| self.redact(l));
        }
    }

    /// The plan as the front ends show it: its name, description, host
    /// names, titles, notes and labels redacted and cleaned like the
    /// events' strings (the engine runs the plan as written).
    pub fn shown_plan(&self, plan: &Plan) -> Plan {
        let mut shown = plan.clone();
        self.text(&mut shown.name);
        self.all(&mut shown.description);
        for host in &mut shown.hosts {
            self.all([&mut host.name, &mut host.address, &mut host.user]);
        }
        for step in &mut shown.steps {
            self.all([&mut step.title]);
            self.all(&mut step.notes);
            self.all(&mut step.rolling);
        }
        for log in &mut shown.logs {
            self.text(&mut log.name);
        }
        shown
    }

    /// Every string field of `event`. The match names every kind of event,
    /// so that a new one cannot slip past.
    pub fn event(&self, event: &mut Event) {
        match event {
            Event::RunStarted { .. }
            | Event::HostConnecting { .. }
            | Event::HostConnected { .. }
            | Event::HostReconnected { .. }
            | Event::Waiting { .. }
            | Event::Decided { .. }
            | Event::RollbackStarted
            | Event::LogFollowing { .. }
            | Event::RunFinished { .. } => {}
            Event::HostFailed { error, cause, .. } => self.all([error, cause]),
            Event::HostLost { reason, .. } => self.text(reason),
            Event::Previewed { preview, .. } => self.preview(preview),
            Event::ConditionChecked { command, error, .. } => {
                self.text(command);
                self.all(error);
            }
            Event::LockTaken { path, .. } => self.text(path),
            Event::LockHeld { path, holder, .. } => self.all([path, holder]),
            Event::StepSkipped { reason, .. } => self.text(reason),
            Event::StepStarted { command, .. } => self.text(command),
            Event::Output { lines, .. } => {
                if !self.secrets.is_empty() {
                    let present =
                        |text: &str| self.secrets.iter().any(|s| text.contains(s.as_str()));
                    lines.edit(present, |line| self.redact(line));
                }
            }
            Event::StepFinished { message, .. } => self.all(message),
            Event::GuardPolled { detail, .. } => self.text(detail),
            Event::Prompt(prompt) => self.prompt(prompt),
            Event::Notice { text, .. } => self.text(text),
            Event::LogLine { line, .. } => self.output([line]),
            Event::LogStopped { reason, .. } => self.text(reason),
        }
    }

    fn preview(&self, preview: &mut PreviewOutput) {
        self.text(&mut preview.command);
        self.output(&mut preview.lines);
        self.all(&mut preview.error);
    }

    fn prompt(&self, prompt: &mut Prompt) {
        self.all(prompt.commands.iter_mut().map(|(_, c)| c));
        for preview in &mut prompt.previews {
            self.preview(preview);
        }
        match &mut prompt.kind {
            PromptKind::Gate
            | PromptKind::Resume { .. }
            | PromptKind::Undo
            | PromptKind::Always => {}
            PromptKind::Manual { instructions } => self.text(instructions),
            PromptKind::Failure { failures } => {
                for failure in failures {
                    self.all(&mut failure.message);
                    self.output(&mut failure.last_stderr);
                }
            }
            PromptKind::LockBreak { path, holder, .. } => self.all([path, holder]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::HostFailure;
    use crate::journal::Outcome;
    use crate::remote::Stream;

    #[test]
    fn the_longest_secret_is_replaced_first() {
        let r = Redactor::new(vec!["abc".into(), "abcdef".into(), String::new()]);
        let mut text = "x abcdef y abc".to_string();
        r.text(&mut text);
        assert_eq!(text, "x ******** y ********");
    }

    #[test]
    fn every_string_of_an_event_is_redacted() {
        let r = Redactor::new(vec!["hunter2".into()]);
        let mut output = Event::Output {
            step: 0,
            host: 0,
            phase: super::super::event::Phase::Undo,
            lines: vec![(Stream::Stdout, "pw hunter2"), (Stream::Stderr, "ok")].into(),
        };
        r.event(&mut output);
        let Event::Output { lines, .. } = output else {
            unreachable!()
        };
        assert_eq!(lines.iter().next(), Some((Stream::Stdout, "pw ********")));
        let mut prompt = Event::Prompt(Prompt {
            step: 0,
            kind: PromptKind::Failure {
                failures: vec![HostFailure {
                    host: 0,
                    outcome: Outcome::Failed,
                    exit: None,
                    message: Some("hunter2 refused".into()),
                    last_stderr: vec!["bad hunter2".into()],
                }],
            },
            hosts: vec![0],
            commands: vec![(0, "login hunter2".into())],
            previews: Vec::new(),
            choices: Vec::new(),
        });
        r.event(&mut prompt);
        let text = format!("{prompt:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
