//! What headless mode prints: one line per event, the questions with their
//! answers (`print/question.rs`), the summary.

use std::io::{IsTerminal, Write};

mod question;

use crate::engine::output::strip_sgr;
use crate::engine::{Event, Lines, Phase, exit};
use crate::journal::{AnsweredBy, RunStatus};
use crate::remote::Stream;
use crate::runbook::Plan;
use crate::runbook::duration::short;

pub(super) struct Printer<'p> {
    plan: &'p Plan,
    out: std::io::BufWriter<std::io::Stdout>,
    colour: bool,
    /// Hosts that could not be reached or used, with why, for the last line.
    unusable: Vec<String>,
}

impl<'p> Printer<'p> {
    pub(super) fn new(plan: &'p Plan) -> Self {
        Self {
            plan,
            out: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            unusable: Vec::new(),
        }
    }

    pub(super) fn line(&mut self, text: &str) {
        // A closed stdout (a pipe to `head`) must not stop the run.
        let _ = writeln!(self.out, "{text}");
    }

    pub(super) fn flush(&mut self) {
        let _ = self.out.flush();
    }

    fn host(&self, h: usize) -> &str {
        &self.plan.hosts[h].name
    }

    fn tag(&self, step: usize) -> String {
        format!(
            "[{}/{} {}]",
            step + 1,
            self.plan.steps.len(),
            self.plan.steps[step].id
        )
    }

    /// The lines a command printed. Written straight to the buffer, the
    /// prefix made once: this runs for every line a step prints.
    fn output(&mut self, step: usize, host: usize, phase: Phase, lines: &Lines) {
        let mark = |stream| match (phase, stream) {
            (Phase::Main, Stream::Stdout) => " | ",
            (Phase::Main, Stream::Stderr) => " ! ",
            (Phase::Undo, Stream::Stdout) => " undo | ",
            (Phase::Undo, Stream::Stderr) => " undo ! ",
        };
        let who = format!(
            "{}@{}",
            self.plan.steps[step].id, self.plan.hosts[host].name
        );
        let prefixes = [Stream::Stdout, Stream::Stderr].map(|s| format!("{who}{}", mark(s)));
        let strip = !self.colour && lines.coloured();
        let mut write = || -> std::io::Result<()> {
            for (stream, line) in lines.iter() {
                let line = if strip {
                    strip_sgr(line)
                } else {
                    std::borrow::Cow::Borrowed(line)
                };
                self.out
                    .write_all(prefixes[usize::from(stream == Stream::Stderr)].as_bytes())?;
                self.out.write_all(line.as_bytes())?;
                self.out.write_all(b"\n")?;
            }
            Ok(())
        };
        // A closed stdout (a pipe to `head`) must not stop the run.
        let _ = write();
    }

    /// A line a command has begun and not ended (a prompt, perhaps): marked
    /// with `…`, and printed again whole once it ends.
    fn partial(&mut self, step: usize, host: usize, phase: Phase, stream: Stream, line: &str) {
        let mark = match (phase, stream) {
            (Phase::Main, Stream::Stdout) => " |… ",
            (Phase::Main, Stream::Stderr) => " !… ",
            (Phase::Undo, Stream::Stdout) => " undo |… ",
            (Phase::Undo, Stream::Stderr) => " undo !… ",
        };
        let line = if self.colour {
            std::borrow::Cow::Borrowed(line)
        } else {
            strip_sgr(line)
        };
        let text = format!(
            "{}@{}{mark}{line}\n",
            self.plan.steps[step].id, self.plan.hosts[host].name
        );
        // A closed stdout (a pipe to `head`) must not stop the run.
        let _ = self.out.write_all(text.as_bytes());
    }

    pub(super) fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                run_id,
                journal,
                resumed,
                dry_run,
            } => {
                let what = if *resumed { "resuming run" } else { "run" };
                let dry = if *dry_run {
                    " (DRY RUN: nothing is changed)"
                } else {
                    ""
                };
                let journal = journal
                    .as_ref()
                    .map(|j| format!("; journal {}", j.display()))
                    .unwrap_or_default();
                self.line(&format!(
                    "drydock: {what} {run_id} of \"{}\"{dry}{journal}",
                    self.plan.name
                ));
            }
            Event::HostQueued { host } => {
                let text = format!(
                    "[{}] waiting for its turn to connect ({} connections are opened at once)",
                    self.host(*host),
                    crate::engine::CONNECTS_AT_ONCE
                );
                self.line(&text);
            }
            Event::HostConnecting { host, to } => {
                let h = &self.plan.hosts[*host];
                let text = match h.transport {
                    crate::runbook::TransportKind::Local => {
                        format!("[{}] local: commands run on this machine", h.name)
                    }
                    crate::runbook::TransportKind::Ssh => {
                        format!("[{}] connecting to {to}", h.name)
                    }
                };
                self.line(&text);
            }
            Event::HostConnected { host, .. } => {
                let text = format!("[{}] connected", self.host(*host));
                self.line(&text);
            }
            Event::HostFailed { host, error, cause } => {
                let text = format!("[{}] error: {error}", self.host(*host));
                self.line(&text);
                eprintln!("drydock: {error}");
                self.unusable.push(format!("{}: {cause}", self.host(*host)));
            }
            Event::HostLost { host, reason } => {
                let text = format!(
                    "[{}] connection lost: {reason}; the next command connects again",
                    self.host(*host)
                );
                self.line(&text);
            }
            Event::HostReconnected { host } => {
                let text = format!("[{}] connected again", self.host(*host));
                self.line(&text);
            }
            Event::Previewed { step, preview } => {
                let how = match (&preview.exit, &preview.error) {
                    (_, Some(e)) => format!(" (failed: {e})"),
                    (Some(status), None) if !status.success() => format!(" ({status})"),
                    _ => String::new(),
                };
                let text = format!(
                    "{} {}: preview: {}{how}",
                    self.tag(*step),
                    self.host(preview.host),
                    preview.command
                );
                self.line(&text);
                for l in &preview.lines {
                    self.line(&format!("    | {}", strip_sgr(l)));
                }
            }
            Event::ConditionChecked {
                step,
                host,
                command,
                holds,
                error,
            } => {
                let verdict = match (holds, error) {
                    (_, Some(e)) => format!("could not be checked: {e}"),
                    (true, None) => "holds".to_string(),
                    (false, None) => "does not hold".to_string(),
                };
                let text = format!(
                    "{} {}: condition `{command}` {verdict}",
                    self.tag(*step),
                    self.host(*host)
                );
                self.line(&text);
            }
            Event::LockTaken { host, path } => {
                let text = format!("[{}] lock {path} taken", self.host(*host));
                self.line(&text);
            }
            Event::LockHeld { host, path, holder } => {
                let text = format!(
                    "[{}] the lock {path} is held by {holder}; wait for that run to end, or remove {path} if it is stale",
                    self.host(*host)
                );
                self.line(&text);
                eprintln!(
                    "drydock: {}: lock {path} is held by {holder}",
                    self.host(*host)
                );
            }
            Event::BatchStarted {
                label,
                batch,
                batches,
                hosts,
            } => {
                let names: Vec<&str> = hosts.iter().map(|&h| self.host(h)).collect();
                let text = format!(
                    "rolling block '{}': batch {batch}/{batches}: {}",
                    crate::sanitize::line(label),
                    names.join(", ")
                );
                self.line(&text);
            }
            Event::StepSkipped {
                step,
                host,
                reason,
                earlier,
            } => {
                let text = match earlier {
                    Some(o) => format!(
                        "{} {}: already {} earlier in this run",
                        self.tag(*step),
                        self.host(*host),
                        o.as_str()
                    ),
                    None => format!(
                        "{} {}: skipped: {reason}",
                        self.tag(*step),
                        self.host(*host)
                    ),
                };
                self.line(&text);
            }
            Event::StepStarted {
                step,
                host,
                command,
                phase,
                attempt,
            } => {
                let undo = if *phase == Phase::Undo { "undo " } else { "" };
                let again = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                let text = format!(
                    "{} {}: {undo}start{again}: {command}",
                    self.tag(*step),
                    self.host(*host)
                );
                self.line(&text);
            }
            Event::Output {
                step,
                host,
                phase,
                lines,
                ..
            } => self.output(*step, *host, *phase, lines),
            Event::PartialLine {
                step,
                host,
                phase,
                stream,
                text,
            } => self.partial(*step, *host, *phase, *stream, text),
            Event::AwaitingInput {
                step, host, prompt, ..
            } => {
                let text = format!(
                    "{} {}: the command waits for input after \"{}\"; headless mode cannot type into it (the step's timeout or Ctrl-C ends it)",
                    self.tag(*step),
                    self.host(*host),
                    strip_sgr(prompt).trim_end()
                );
                self.line(&text);
            }
            Event::Sudo {
                step,
                host,
                asked,
                ok,
                ..
            } => {
                let what = match (asked, ok) {
                    (true, true) => "password accepted",
                    (false, true) => "no password needed",
                    (true, false) => "the password was refused, or none was given",
                    (false, false) => "sudo did not run the command",
                };
                let text = format!("{} {}: sudo: {what}", self.tag(*step), self.host(*host));
                self.line(&text);
            }
            Event::Input {
                step,
                host,
                text,
                end,
                ..
            } => {
                let what = match (text, end) {
                    (_, true) => "end of input sent".to_string(),
                    (Some(t), false) => format!("typed: {t}"),
                    (None, false) => "typed: (masked)".to_string(),
                };
                let text = format!("{} {}: {what}", self.tag(*step), self.host(*host));
                self.line(&text);
            }
            Event::StepFinished {
                step,
                host,
                outcome,
                exit,
                duration,
                phase,
                message,
            } => {
                let undo = if *phase == Phase::Undo { "undo " } else { "" };
                let status = exit
                    .as_ref()
                    .filter(|e| !e.success())
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                let message = message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                let text = format!(
                    "{} {}: {undo}{}{status} in {}{message}",
                    self.tag(*step),
                    self.host(*host),
                    outcome.as_str(),
                    short(*duration)
                );
                self.line(&text);
            }
            Event::GuardPolled {
                step,
                host,
                ok,
                detail,
                checks,
                next_check,
            } => {
                let state = if *ok { "holds" } else { "does not hold yet" };
                let next = next_check
                    .map(|n| format!("; next check in {}", short(n)))
                    .unwrap_or_default();
                let text = format!(
                    "{} {}: guard {state} (check {checks}): {detail}{next}",
                    self.tag(*step),
                    self.host(*host)
                );
                self.line(&text);
            }
            Event::Waiting { step, until } => {
                let left = (*until - chrono::Utc::now()).to_std().unwrap_or_default();
                let text = format!(
                    "{} waiting until {} ({} from now)",
                    self.tag(*step),
                    crate::clock::rfc3339(*until),
                    short(left)
                );
                self.line(&text);
            }
            Event::Prompt(prompt) => self.prompt(prompt),
            Event::Decided { step, decision, by } => {
                if *by == AnsweredBy::Yes {
                    let text = format!("{} --yes: {}", self.tag(*step), decision.as_str());
                    self.line(&text);
                }
            }
            Event::Notice { step, text } => {
                let tag = step
                    .map(|s| format!("{} ", self.tag(s)))
                    .unwrap_or_default();
                self.line(&format!("{tag}note: {text}"));
            }
            // Headless mode shows the run, not the servers' logs.
            Event::LogFollowing { .. } | Event::LogLine { .. } | Event::LogStopped { .. } => {}
            Event::RollbackStarted => {
                self.line(
                    "rollback: offering the undo of what ran (newest first), then the always steps",
                );
            }
            Event::RunFinished {
                status,
                exit_code,
                journal,
                not_done,
            } => {
                let status = match status {
                    RunStatus::Ok => "finished: ok".to_string(),
                    RunStatus::Failed if *exit_code == exit::LOCKED => {
                        "stopped: the lock is held by another run".to_string()
                    }
                    RunStatus::Failed if *exit_code == exit::UNREACHABLE => format!(
                        "stopped: a host could not be reached or used ({})",
                        self.unusable.join("; ")
                    ),
                    RunStatus::Failed => "finished: failed".to_string(),
                    RunStatus::Aborted => "finished: aborted".to_string(),
                };
                let journal = journal
                    .as_ref()
                    .map(|j| format!("; journal {}", j.display()))
                    .unwrap_or_default();
                if !not_done.is_empty() {
                    self.line("not done:");
                    for n in not_done {
                        let text =
                            format!("  {} {}: {}", self.tag(n.step), self.host(n.host), n.why);
                        self.line(&text);
                    }
                }
                self.line(&format!("drydock: {status} (exit {exit_code}){journal}"));
            }
            Event::ProcessStarted { .. } => {}
            Event::Captured {
                step,
                host,
                var,
                value,
            } => {
                let text = format!(
                    "{} {}: captured {{{{{var}}}}} = {value}",
                    self.tag(*step),
                    self.host(*host)
                );
                self.line(&text);
            }
            Event::RunInterrupted {
                signal,
                running,
                journal,
            } => {
                self.line(&format!(
                    "drydock: interrupted by {signal}: nothing more runs; the lock and the banner stay"
                ));
                for r in running {
                    let pid = r
                        .pid
                        .map(|p| format!(" (process group {p})"))
                        .unwrap_or_default();
                    let text = format!(
                        "  left running: {} {}{pid}",
                        self.tag(r.step),
                        self.host(r.host)
                    );
                    self.line(&text);
                }
                let journal = journal
                    .as_ref()
                    .map(|j| format!("; journal {}", j.display()))
                    .unwrap_or_default();
                self.line(&format!(
                    "drydock: `drydock run {} --resume` continues the run (exit 3){journal}",
                    self.plan.path.display()
                ));
            }
        }
    }
}
