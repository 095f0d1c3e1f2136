//! The line-mode front end: one line per event on standard output, gate
//! answers read from standard input, one a line. End of input means abort.

use std::io::{BufRead, IsTerminal, Write};

use tokio::sync::mpsc;

use crate::engine::output::strip_sgr;
use crate::engine::{Decision, Event, Lines, Phase, Prompt, PromptKind, RunHandle, exit};
use crate::journal::RunStatus;
use crate::remote::Stream;
use crate::runbook::Plan;
use crate::runbook::duration::short;

/// How many events are taken from the engine at once.
const EVENT_BATCH: usize = 512;
/// The longest a printed line waits in the buffer.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Run the front end until the run ends; returns the exit status.
pub async fn drive(plan: &Plan, mut handle: RunHandle) -> i32 {
    let answers = spawn_stdin_reader();
    // Names and titles as they may be shown: secrets replaced, no controls.
    let plan = crate::engine::shown_plan(plan);
    let mut printer = Printer::new(&plan);
    let mut answers = answers;
    let decisions = handle.decisions.clone();
    let interrupt = tokio::spawn(async move {
        // Ctrl-C asks the engine to abort: the running command is ended and
        // the undo steps are offered.
        while tokio::signal::ctrl_c().await.is_ok() {
            if decisions.send(Decision::Abort).await.is_err() {
                break;
            }
        }
    });
    // Output is written in batches: a flush per line would cost a system
    // call per line. Whatever is buffered goes out within FLUSH_EVERY.
    let mut batch = Vec::with_capacity(EVENT_BATCH);
    let mut unflushed_since: Option<tokio::time::Instant> = None;
    'events: loop {
        let deadline = unflushed_since.map(|t| t + FLUSH_EVERY);
        tokio::select! {
            n = handle.events.recv_many(&mut batch, EVENT_BATCH) => if n == 0 { break },
            () = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } }, if deadline.is_some() => {
                printer.flush();
                unflushed_since = None;
                continue;
            }
        }
        for event in batch.drain(..) {
            printer.event(&event);
            if let Event::Prompt(prompt) = &event {
                printer.flush();
                unflushed_since = None;
                let decision = read_answer(&mut printer, prompt, &mut answers).await;
                if handle.decisions.send(decision).await.is_err() {
                    break 'events;
                }
            }
        }
        if unflushed_since.is_none() {
            unflushed_since = Some(tokio::time::Instant::now());
        }
    }
    printer.flush();
    interrupt.abort();
    match handle.task.await {
        Ok(result) => result.exit_code,
        Err(e) => {
            eprintln!("drydock: the run failed inside: {e}");
            exit::FAILED
        }
    }
}

/// Headless mode's answers to the transport: a key's passphrase is read from
/// the terminal without echo (standard input carries the gate answers); an
/// unknown host key is refused, as `strict` requires when nobody can look at it.
pub struct TerminalPrompter;

#[async_trait::async_trait]
impl crate::remote::Prompter for TerminalPrompter {
    async fn ask(&self, question: crate::remote::Question) -> Option<String> {
        match question {
            crate::remote::Question::Passphrase { host, key_path } => {
                let prompt = crate::sanitize::line(&format!(
                    "drydock: passphrase for {key_path} (host {host}): "
                ))
                .into_owned();
                tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt).ok())
                    .await
                    .ok()
                    .flatten()
                    .filter(|p| !p.is_empty())
            }
            crate::remote::Question::TrustHostKey { .. } => None,
        }
    }
}

fn spawn_stdin_reader() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn letter(decision: Decision) -> &'static str {
    match decision {
        Decision::Run => "y",
        Decision::Skip => "s",
        Decision::Retry => "r",
        Decision::Undo => "u",
        Decision::Abort => "a",
        Decision::Override => "o",
        Decision::BreakLock { .. } => "b",
    }
}

async fn read_answer(
    printer: &mut Printer<'_>,
    prompt: &Prompt,
    answers: &mut mpsc::Receiver<String>,
) -> Decision {
    loop {
        let Some(line) = answers.recv().await else {
            printer.line("end of input: abort");
            return Decision::Abort;
        };
        let answer = line.trim().to_ascii_lowercase();
        if let Some(d) = prompt
            .choices
            .iter()
            .find(|d| letter(**d) == answer || d.as_str() == answer)
        {
            return *d;
        }
        let valid: Vec<&str> = prompt.choices.iter().map(|d| letter(*d)).collect();
        printer.line(&format!(
            "'{}' is not an answer here; answer one of: {}",
            crate::sanitize::line(line.trim()),
            valid.join(", ")
        ));
        printer.flush();
    }
}

struct Printer<'p> {
    plan: &'p Plan,
    out: std::io::BufWriter<std::io::Stdout>,
    colour: bool,
    /// Hosts that could not be reached or used, with why, for the last line.
    unusable: Vec<String>,
}

impl<'p> Printer<'p> {
    fn new(plan: &'p Plan) -> Self {
        Self {
            plan,
            out: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            unusable: Vec::new(),
        }
    }

    fn line(&mut self, text: &str) {
        // A closed stdout (a pipe to `head`) must not stop the run.
        let _ = writeln!(self.out, "{text}");
    }

    fn flush(&mut self) {
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

    fn event(&mut self, event: &Event) {
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
            Event::HostConnecting { host } => {
                let h = &self.plan.hosts[*host];
                let text = match h.transport {
                    crate::runbook::TransportKind::Local => {
                        format!("[{}] local: commands run on this machine", h.name)
                    }
                    crate::runbook::TransportKind::Ssh => format!(
                        "[{}] connecting to {}@{}:{}",
                        h.name, h.user, h.address, h.port
                    ),
                };
                self.line(&text);
            }
            Event::HostConnected { host } => {
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
            Event::Decided {
                step,
                decision,
                automatic,
            } => {
                if *automatic {
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
                self.line(&format!("drydock: {status} (exit {exit_code}){journal}"));
            }
        }
    }

    fn prompt(&mut self, prompt: &Prompt) {
        let tag = self.tag(prompt.step);
        let step = &self.plan.steps[prompt.step];
        let hosts: Vec<&str> = prompt.hosts.iter().map(|&h| self.host(h)).collect();
        let hosts = hosts.join(", ");
        let head = match &prompt.kind {
            PromptKind::Gate => format!("? {tag} {} on {hosts}", step.title),
            PromptKind::Manual { instructions } => {
                format!("? {tag} by hand on {hosts}: {instructions}")
            }
            PromptKind::Failure { failures } => {
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
            PromptKind::Undo => format!("? rollback {tag} undo {} on {hosts}", step.title),
            PromptKind::Always => format!("? rollback {tag} always step {} on {hosts}", step.title),
            PromptKind::LockBreak { host, path, holder } => format!(
                "? [{}] the lock {path} is held by {holder}: break it?",
                self.host(*host)
            ),
        };
        self.line(&head);
        if let Some(notes) = &step.notes {
            if matches!(prompt.kind, PromptKind::Gate | PromptKind::Manual { .. }) {
                for line in notes.lines() {
                    self.line(&format!("    note: {line}"));
                }
            }
        }
        if let PromptKind::Failure { failures } = &prompt.kind {
            for f in failures {
                for line in &f.last_stderr {
                    let text = format!("    {} ! {}", self.host(f.host), strip_sgr(line));
                    self.line(&text);
                }
            }
        }
        for (h, command) in &prompt.commands {
            let text = format!("    {}: {command}", self.host(*h));
            self.line(&text);
        }
        // The previews were printed as they were made, just before.
        let choices: Vec<String> = prompt
            .choices
            .iter()
            .map(|d| {
                let word = match (d, &prompt.kind) {
                    (Decision::Run, PromptKind::Manual { .. }) => "done",
                    (Decision::Run, PromptKind::Resume { .. }) => "resume",
                    (Decision::Skip, PromptKind::Undo | PromptKind::Always) => "leave",
                    (Decision::BreakLock { .. }, _) => "break the lock",
                    (d, _) => d.as_str(),
                };
                format!("{} {word}", letter(*d))
            })
            .collect();
        self.line(&format!("  answer: {}", choices.join(" / ")));
    }
}
