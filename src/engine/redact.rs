//! Secrets never leave the engine: every string of every event is passed
//! through one [`Redactor`] before it reaches a front end or the journal.
//! The secret variables are known from the start; a sudo password and masked
//! input join them during the run, before anything could show them.

use std::sync::RwLock;

use super::event::{Event, Prompt, PromptKind};
use crate::runbook::Plan;

const REDACTED: &str = "********";

/// Replaces the values of a run's secrets by `********`.
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
        if let Ok(mut secrets) = self.secrets.write() {
            if !secrets.iter().any(|s| s == secret) {
                secrets.push(secret.to_string());
                tidy(&mut secrets);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.secrets.read().map_or(true, |s| s.is_empty())
    }

    pub fn text(&self, text: &mut String) {
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

    fn all<'s>(&self, texts: impl IntoIterator<Item = &'s mut String>) {
        texts.into_iter().for_each(|t| self.text(t));
    }

    /// Every string field of `event`. The match names every kind of event,
    /// so that a new one cannot slip past.
    pub fn event(&self, event: &mut Event) {
        if self.is_empty() {
            return;
        }
        match event {
            Event::RunStarted { .. }
            | Event::HostQueued { .. }
            | Event::Waiting { .. }
            | Event::Decided { .. }
            | Event::RollbackStarted
            | Event::LogFollowing { .. }
            | Event::ProcessStarted { .. }
            | Event::RunInterrupted { .. } => {}
            Event::RunFinished { not_done, .. } => {
                self.all(not_done.iter_mut().map(|n| &mut n.why))
            }
            Event::Captured { value, .. } => self.text(value),
            Event::HostConnecting { to, .. } | Event::HostConnected { to, .. } => self.text(to),
            Event::HostFailed { error, .. } => self.text(error),
            Event::LockTaken { path, .. } => self.text(path),
            Event::LockHeld { path, holder, .. } => self.all([path, holder]),
            Event::BatchStarted { label, .. } => self.text(label),
            Event::StepSkipped { reason, .. } => self.text(reason),
            Event::StepStarted { command, .. } => self.text(command),
            Event::Output { lines, .. } => self.all(lines.iter_mut().map(|(_, l)| l)),
            Event::PartialLine { text, .. } => self.text(text),
            Event::AwaitingInput { prompt, .. } => self.text(prompt),
            Event::Sudo { .. } => {}
            Event::Input { text, .. } => self.all(text),
            Event::StepFinished { message, .. } => self.all(message),
            Event::GuardPolled { detail, .. } => self.text(detail),
            Event::Prompt(prompt) => self.prompt(prompt),
            Event::Notice { text, .. } => self.text(text),
            Event::LogLine { line, .. } => self.text(line),
            Event::LogStopped { reason, .. } => self.text(reason),
        }
    }

    fn prompt(&self, prompt: &mut Prompt) {
        self.all(prompt.commands.iter_mut().map(|(_, c)| c));
        for preview in &mut prompt.previews {
            self.text(&mut preview.command);
            self.all(&mut preview.lines);
            self.all(&mut preview.error);
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
                    self.all(&mut failure.last_stderr);
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
            lines: vec![
                (Stream::Stdout, "pw hunter2".into()),
                (Stream::Stderr, "ok".into()),
            ],
        };
        r.event(&mut output);
        let Event::Output { lines, .. } = output else {
            unreachable!()
        };
        assert_eq!(lines[0].1, "pw ********");
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
