//! How headless mode prints a question: what is asked, on which hosts, with
//! what it would run or publish, and the answers it takes.

use super::Printer;
use crate::engine::output::strip_sgr;
use crate::engine::{BannerPreview, Prompt, PromptKind};
use crate::headless::letter;
use crate::runbook::duration::short;
use crate::tui::strings::{choice, short_sha};

impl Printer<'_> {
    /// What a banner step will publish, in plain words.
    fn banner_preview(&mut self, b: &BannerPreview) {
        let host = self.host(b.host).to_string();
        if let Some(e) = &b.error {
            self.line(&format!(
                "    {host}: publishes the maintenance banner; its text cannot be worked out: {e}"
            ));
            return;
        }
        self.line(&format!(
            "    {host}: publishes the maintenance banner at {}: message \"{}\", starts at about {} ({} after it goes up; the time is taken when the step runs)",
            b.path,
            strip_sgr(&b.message),
            b.starts_at,
            short(b.lead)
        ));
        if let Some(content) = &b.content {
            self.line(&format!("    {host}: the banner file will hold:"));
            for l in content.lines() {
                self.line(&format!("    | {}", strip_sgr(l)));
            }
        }
    }

    pub(super) fn prompt(&mut self, prompt: &Prompt) {
        let tag = self.tag(prompt.step);
        let step = &self.plan.steps[prompt.step];
        let hosts: Vec<&str> = prompt.hosts.iter().map(|&h| self.host(h)).collect();
        let hosts = hosts.join(", ");
        let head = match &prompt.kind {
            PromptKind::Gate => format!("? {tag} {} on {hosts}", step.title),
            PromptKind::Manual { instructions } => {
                format!("? {tag} by hand on {hosts}: {instructions}")
            }
            PromptKind::Failure { failures, .. } => {
                let what: Vec<String> = failures
                    .iter()
                    .map(|f| {
                        let how = f
                            .exit
                            .as_ref()
                            .map(ToString::to_string)
                            .or_else(|| f.message.clone())
                            .unwrap_or_else(|| f.outcome.as_str().into());
                        format!("{} {} ({how})", self.host(f.host), f.outcome.as_str())
                    })
                    .collect();
                format!("? {tag} {} failed: {}", step.title, what.join("; "))
            }
            PromptKind::Resume { interrupted } => {
                let lost: Vec<String> = interrupted
                    .iter()
                    .map(|(s, h)| format!("{} on {}", self.plan.steps[*s].id, self.host(*h)))
                    .collect();
                let lost = if lost.is_empty() {
                    String::new()
                } else {
                    format!(" (interrupted, outcome unknown: {})", lost.join(", "))
                };
                format!("? resume at {tag} {} on {hosts}{lost}", step.title)
            }
            PromptKind::RollbackPlan { .. } => "? rollback: the plan".to_string(),
            PromptKind::Undo => format!("? rollback {tag} undo {} on {hosts}", step.title),
            PromptKind::Always => format!("? rollback {tag} always step {} on {hosts}", step.title),
            PromptKind::LockBreak { host, path, holder } => format!(
                "? [{}] the lock {path} is held by {holder}: break it?",
                self.host(*host)
            ),
            PromptKind::From { .. } => format!("? --from {tag} {}", step.title),
            PromptKind::RunbookChanged { journaled, now } => format!(
                "? the runbook changed since this run started (sha256 {} then, {} now): resume with it as it is now?",
                short_sha(journaled),
                short_sha(now)
            ),
            PromptKind::StillRunning { host, pid } => format!(
                "? {tag} {}: process group {pid}, left running by an earlier try of this step, still runs",
                self.host(*host)
            ),
            PromptKind::JournalFailed { error } => {
                format!("? the journal cannot be written: {error}; no new step starts until it is")
            }
        };
        self.line(&head);
        if let Some(notes) = &step.notes
            && matches!(prompt.kind, PromptKind::Gate | PromptKind::Manual { .. })
        {
            for line in notes.lines() {
                self.line(&format!("    note: {line}"));
            }
        }
        match &prompt.kind {
            PromptKind::Failure { failures, undo } => {
                for f in failures {
                    for line in &f.last_stderr {
                        let text = format!("    {} ! {}", self.host(f.host), strip_sgr(line));
                        self.line(&text);
                    }
                }
                for u in undo {
                    let how = u
                        .exit
                        .as_ref()
                        .filter(|e| !e.success())
                        .map(|e| format!(" ({e})"))
                        .or_else(|| u.message.as_ref().map(|m| format!(": {m}")))
                        .unwrap_or_default();
                    let text = format!(
                        "    undo on {}: {}{how}",
                        self.host(u.host),
                        u.outcome.as_str()
                    );
                    self.line(&text);
                }
            }
            PromptKind::RollbackPlan { undo, always } => {
                for (label, steps) in [("undo", undo), ("always", always)] {
                    for (s, hosts) in steps {
                        let on: Vec<&str> = hosts.iter().map(|&h| self.host(h)).collect();
                        let text = format!(
                            "    {label:<6} {} {} on {}",
                            self.tag(*s),
                            self.plan.steps[*s].title,
                            on.join(", ")
                        );
                        self.line(&text);
                    }
                }
            }
            PromptKind::From { skipped, guards } => {
                for (label, steps) in [("not run", skipped), ("checked", guards)] {
                    for &s in steps {
                        let text = format!(
                            "    {label:<7} {} {}",
                            self.tag(s),
                            self.plan.steps[s].title
                        );
                        self.line(&text);
                    }
                }
            }
            _ => {}
        }
        for (h, command) in &prompt.commands {
            // A banner says what it publishes instead (below).
            if prompt.banner.iter().any(|b| b.host == *h) {
                continue;
            }
            let text = format!("    {}: {command}", self.host(*h));
            self.line(&text);
        }
        for banner in &prompt.banner {
            self.banner_preview(banner);
        }
        // The previews were printed as they were made, just before.
        let choices: Vec<String> = prompt
            .choices
            .iter()
            .map(|d| format!("{} {}", letter(*d), choice(*d, &prompt.kind)))
            .collect();
        self.line(&format!("  answer: {}", choices.join(" / ")));
    }
}
