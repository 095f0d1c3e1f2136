//! Secrets and terminal controls never leave the engine: every string of
//! every event is passed through one [`Redactor`] before it reaches a front
//! end or the journal. It replaces secret values by `********` everywhere,
//! and removes control sequences and bidi overrides from every string but
//! output lines, which were cleaned (colours kept) as they were split. The
//! secret variables are known from the start; a sudo password and masked
//! input join them during the run, before anything could show them.

use std::sync::RwLock;

use super::event::{Event, PreviewOutput, Prompt, PromptKind};
use crate::runbook::Plan;

const REDACTED: &str = "********";

/// Replaces the values of a run's secrets by `********`, and cleans text.
#[derive(Debug, Default)]
pub struct Redactor {
    /// Longest first, so that a secret containing another is replaced whole.
    secrets: RwLock<Vec<String>>,
}

fn tidy(secrets: &mut Vec<String>) {
    secrets.retain(|s| !s.is_empty());
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
}

impl Redactor {
    pub fn new(mut secrets: Vec<String>) -> Self {
        tidy(&mut secrets);
        Self {
            secrets: RwLock::new(secrets),
        }
    }

    /// The secrets of a runbook: its secret variables' values.
    pub fn for_plan(plan: &Plan) -> Self {
        Self::new(plan.secret_values())
    }

    /// A secret learnt during the run (a sudo password, masked input).
    pub fn add(&self, secret: &str) {
        let line_ends = ['\n', '\r'];
        let secret = secret.trim_end_matches(line_ends);
        if let Ok(mut secrets) = self.secrets.write()
            && !secrets.iter().any(|s| s == secret)
        {
            secrets.push(secret.to_string());
            tidy(&mut secrets);
        }
    }

    fn is_empty(&self) -> bool {
        self.secrets.read().map_or(true, |s| s.is_empty())
    }

    /// Whether `text` holds a secret.
    fn holds_secret(&self, text: &str) -> bool {
        self.secrets.read().map_or(true, |secrets| {
            secrets.iter().any(|s| text.contains(s.as_str()))
        })
    }

    /// Secrets replaced, in a line of output that is clean already.
    pub fn redact(&self, text: &mut String) {
        let Ok(secrets) = self.secrets.read() else {
            // A writer panicked: nothing can be known to be clean.
            *text = REDACTED.to_string();
            return;
        };
        for secret in secrets.iter() {
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
        if !self.is_empty() {
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
            | Event::HostQueued { .. }
            | Event::HostReconnected { .. }
            | Event::Waiting { .. }
            | Event::Decided { .. }
            | Event::RollbackStarted
            | Event::LogFollowing { .. }
            | Event::ProcessStarted { .. }
            | Event::Sudo { .. }
            | Event::RunInterrupted { .. } => {}
            Event::RunFinished { not_done, .. } => {
                self.all(not_done.iter_mut().map(|n| &mut n.why))
            }
            Event::Captured { value, .. } => self.text(value),
            Event::HostConnecting { to, .. } | Event::HostConnected { to, .. } => self.text(to),
            Event::HostFailed { error, cause, .. } => self.all([error, cause]),
            Event::HostLost { reason, .. } => self.text(reason),
            Event::Previewed { preview, .. } => self.preview(preview),
            Event::ConditionChecked { command, error, .. } => {
                self.text(command);
                self.all(error);
            }
            Event::LockTaken { path, .. } => self.text(path),
            Event::LockHeld { path, holder, .. } => self.all([path, holder]),
            Event::BatchStarted { label, .. } => self.text(label),
            Event::StepSkipped { reason, .. } => self.text(reason),
            Event::StepStarted { command, .. } => self.text(command),
            Event::Output { lines, .. } => {
                if !self.is_empty() {
                    lines.edit(|text| self.holds_secret(text), |line| self.redact(line));
                }
            }
            Event::PartialLine { text, .. } => self.output([text]),
            Event::AwaitingInput { prompt, .. } => self.output([prompt]),
            Event::Input { text, .. } => self.all(text),
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
        for banner in &mut prompt.banner {
            self.all([&mut banner.path, &mut banner.message]);
            self.all(&mut banner.content);
            self.all(&mut banner.error);
        }
        match &mut prompt.kind {
            PromptKind::Gate
            | PromptKind::Resume { .. }
            | PromptKind::RollbackPlan { .. }
            | PromptKind::Undo
            | PromptKind::Always
            | PromptKind::From { .. }
            | PromptKind::RunbookChanged { .. }
            | PromptKind::StillRunning { .. } => {}
            PromptKind::Manual { instructions } => self.text(instructions),
            PromptKind::JournalFailed { error } => self.text(error),
            PromptKind::Failure { failures, undo } => {
                for failure in failures {
                    self.all(&mut failure.message);
                    self.output(&mut failure.last_stderr);
                }
                for result in undo {
                    self.all(&mut result.message);
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
    fn strings_lose_their_control_sequences_even_without_secrets() {
        let r = Redactor::default();
        let mut skipped = Event::StepSkipped {
            step: 0,
            host: 0,
            reason: "when \x1b]0;pwned\x07held\u{202e}".into(),
            earlier: None,
        };
        r.event(&mut skipped);
        let Event::StepSkipped { reason, .. } = skipped else {
            unreachable!()
        };
        assert!(
            !reason.contains('\x1b') && !reason.contains('\u{202e}'),
            "{reason:?}"
        );
        assert!(reason.contains("held"), "{reason:?}");
    }

    #[test]
    fn secrets_learnt_during_the_run_are_replaced_from_then_on() {
        let r = Redactor::default();
        let mut before = "pw Fday1".to_string();
        r.text(&mut before);
        assert_eq!(before, "pw Fday1");
        r.add("Fday1\n");
        let mut partial = Event::PartialLine {
            step: 0,
            host: 0,
            phase: super::super::event::Phase::Main,
            stream: Stream::Stdout,
            text: "echoed Fday1".into(),
        };
        r.event(&mut partial);
        assert!(!format!("{partial:?}").contains("Fday1"), "{partial:?}");
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
                undo: Vec::new(),
            },
            hosts: vec![0],
            commands: vec![(0, "login hunter2".into())],
            previews: Vec::new(),
            banner: vec![crate::engine::event::BannerPreview {
                host: 0,
                path: "/srv/hunter2/maintenance.json".into(),
                message: "down, hunter2".into(),
                content: Some("{\"m\": \"hunter2\"}".into()),
                starts_at: "2026-01-02T03:14:05Z".into(),
                lead: std::time::Duration::from_secs(600),
                error: Some("hunter2".into()),
            }],
            choices: Vec::new(),
        });
        r.event(&mut prompt);
        let text = format!("{prompt:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
