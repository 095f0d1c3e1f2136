//! A step's command while it runs: its output becomes line events (with the
//! last stderr lines kept for a failure), a line begun and left waiting is
//! shown once the output pauses, sudo's password prompt is answered, and
//! what the admin types reaches the command.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::capture::CAPTURE_LIMIT;
use super::ctx::Ctx;
use super::event::{Event, HostIx, InputRefused, Phase, StepIx, Typed, TypedInput};
use super::output::{LineSplitter, Lines, sanitize, strip_sgr};
use super::sudo::{SUDO_TRIES, SudoExchange};
use crate::remote::sudo::{Signal, SudoFilter};
use crate::remote::{Chunk, Stdin, Stream};

/// A line left unfinished this long is shown as it is.
pub(super) const PARTIAL_AFTER: Duration = Duration::from_millis(150);
/// A command that takes input, showing a partial line and silent this long,
/// is taken to wait for input.
pub(super) const AWAITING_AFTER: Duration = Duration::from_secs(1);

/// How many of the last stderr lines a failure shows.
const FAILURE_TAIL: usize = 10;

/// The last lines a command wrote to stderr, for the failure question.
#[derive(Default)]
struct StderrTail(VecDeque<String>);

impl StderrTail {
    fn keep(&mut self, lines: &Lines) {
        // Most output is stdout: no line to look at then.
        if !lines.has(Stream::Stderr) {
            return;
        }
        for (_, line) in lines.iter().filter(|(s, _)| *s == Stream::Stderr) {
            if self.0.len() == FAILURE_TAIL {
                self.0.pop_front();
            }
            self.0.push_back(line.to_string());
        }
    }
}

/// Per host, the command running there (one at a time), for typed input.
#[derive(Default)]
pub(crate) struct Routes {
    routes: Mutex<HashMap<HostIx, Route>>,
    next: AtomicU64,
}

struct Route {
    id: u64,
    step: StepIx,
    /// `None` for a command that takes no typed input.
    typed: Option<mpsc::Sender<Typed>>,
}

/// Removes its route when the command is over.
struct Registered<'r> {
    routes: &'r Routes,
    host: HostIx,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut routes) = self.routes.routes.lock()
            && routes.get(&self.host).is_some_and(|r| r.id == self.id)
        {
            routes.remove(&self.host);
        }
    }
}

impl Routes {
    fn register(
        &self,
        host: HostIx,
        step: StepIx,
        typed: Option<mpsc::Sender<Typed>>,
    ) -> Registered<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut routes) = self.routes.lock() {
            routes.insert(host, Route { id, step, typed });
        }
        Registered {
            routes: self,
            host,
            id,
        }
    }
}

/// A front end's way to type into the commands of a run.
#[derive(Clone)]
pub struct InputSender(pub(crate) Arc<Routes>);

impl InputSender {
    /// Type into the command of `input.step` running on `input.host`.
    pub fn send(&self, input: TypedInput) -> Result<(), InputRefused> {
        let routes = self.0.routes.lock().map_err(|_| InputRefused::NotRunning)?;
        let route = routes
            .get(&input.host)
            .filter(|r| r.step == input.step)
            .ok_or(InputRefused::NotRunning)?;
        let typed = route.typed.as_ref().ok_or(InputRefused::NoInput)?;
        typed.try_send(input.typed).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => InputRefused::Busy,
            mpsc::error::TrySendError::Closed(_) => InputRefused::NotRunning,
        })
    }
}

/// What a command's run left to say besides its exit status.
pub(super) struct Talk {
    pub last_stderr: Vec<String>,
    /// Why sudo did not run the command, for a `sudo` step where it did not.
    pub sudo_failure: Option<String>,
    /// For a step's `capture`: its stdout lines, without colours, up to
    /// [`CAPTURE_LIMIT`] (empty for any other command).
    pub stdout: Vec<String>,
}

/// A `capture` step's stdout, as it comes.
#[derive(Default)]
struct Captured {
    lines: Vec<String>,
    /// Bytes kept so far.
    kept: usize,
    /// The variable, when it holds a secret: stdout is then kept, not shown.
    secret: Option<String>,
    /// Told once that stdout is hidden.
    said_hidden: bool,
}

impl Captured {
    fn keep(&mut self, lines: &Lines) {
        for (_, line) in lines.iter().filter(|(s, _)| *s == Stream::Stdout) {
            if self.kept < CAPTURE_LIMIT {
                self.kept += line.len() + 1;
                self.lines.push(strip_sgr(line).into_owned());
            }
        }
    }
}

/// The line each stream has begun, and when the output last moved.
struct Quiet {
    since: Instant,
    /// A partial line not shown yet, per stream.
    unshown: [bool; 2],
    /// The last partial line shown.
    shown: Option<String>,
    flagged: bool,
}

impl Quiet {
    fn deadline(&self, takes_input: bool) -> Option<Instant> {
        if self.unshown.iter().any(|u| *u) {
            Some(self.since + PARTIAL_AFTER)
        } else if takes_input && self.shown.is_some() && !self.flagged {
            Some(self.since + AWAITING_AFTER)
        } else {
            None
        }
    }
}

/// One command's run, as the engine follows it.
struct Conversation<'c> {
    ctx: &'c Ctx,
    step: StepIx,
    host: HostIx,
    phase: Phase,
    cancel: &'c CancellationToken,
    /// The command's standard input, while it is open.
    stdin: Option<mpsc::Sender<Stdin>>,
    pty: bool,
    sudo: Option<SudoExchange>,
    filters: [SudoFilter; 2],
    splitters: [LineSplitter; 2],
    tail: StderrTail,
    /// Kept for the step's `capture` (its own command only, not its undo).
    captured: Option<Captured>,
    quiet: Quiet,
}

fn stream_of(i: usize) -> Stream {
    if i == 0 {
        Stream::Stdout
    } else {
        Stream::Stderr
    }
}

impl Ctx {
    /// Follow a step's command until its output ends. `stdin` is its input
    /// when it has one: a pty's (typed into by the admin), or sudo's (its
    /// password, then closed when the command has no pty).
    pub(super) async fn converse(
        &self,
        step: StepIx,
        host: HostIx,
        phase: Phase,
        output: mpsc::Receiver<Chunk>,
        stdin: Option<mpsc::Sender<Stdin>>,
        cancel: &CancellationToken,
    ) -> Talk {
        let s = &self.plan.steps[step];
        let (typed_tx, typed_rx) = mpsc::channel(4);
        let typed = (s.pty && stdin.is_some()).then_some(typed_tx);
        let _route = self.routes.register(host, step, typed);
        let conversation = Conversation {
            ctx: self,
            step,
            host,
            phase,
            cancel,
            stdin,
            pty: s.pty,
            sudo: s.sudo.as_ref().map(|_| SudoExchange::default()),
            filters: Default::default(),
            splitters: Default::default(),
            tail: StderrTail::default(),
            captured: s
                .capture
                .as_ref()
                .filter(|_| phase == Phase::Main)
                .map(|var| Captured {
                    secret: self.plan.is_secret(var).then(|| var.clone()),
                    ..Captured::default()
                }),
            quiet: Quiet {
                since: Instant::now(),
                unshown: [false; 2],
                shown: None,
                flagged: false,
            },
        };
        conversation.run(output, typed_rx).await
    }
}

impl Conversation<'_> {
    async fn run(
        mut self,
        mut output: mpsc::Receiver<Chunk>,
        mut typed: mpsc::Receiver<Typed>,
    ) -> Talk {
        loop {
            let deadline = self.quiet.deadline(self.pty && self.stdin.is_some());
            tokio::select! {
                chunk = output.recv() => match chunk {
                    Some(chunk) => self.take(chunk).await,
                    None => break,
                },
                Some(t) = typed.recv() => self.type_in(t).await,
                () = async {
                    if let Some(d) = deadline {
                        tokio::time::sleep_until(d).await;
                    }
                }, if deadline.is_some() => self.paused().await,
            }
        }
        self.finish().await
    }

    async fn take(&mut self, chunk: Chunk) {
        let i = usize::from(chunk.stream == Stream::Stderr);
        let mut signals = Vec::new();
        let data = if self.sudo.is_some() && !self.filters[i].stopped() {
            Bytes::from(self.filters[i].push(&chunk.data, &mut signals))
        } else {
            chunk.data
        };
        self.show(i, &data).await;
        for signal in signals {
            self.sudo_signal(signal).await;
        }
    }

    /// Split into lines and send them; keep track of the partial line.
    async fn show(&mut self, i: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let stream = stream_of(i);
        let mut lines = Lines::new();
        lines.push_output(stream, &mut self.splitters[i], data);
        self.quiet.since = Instant::now();
        self.quiet.flagged = false;
        self.quiet.unshown[i] = !self.splitters[i].partial().is_empty();
        if !lines.is_empty() {
            self.quiet.shown = None;
        }
        self.send_lines(lines).await;
    }

    async fn send_lines(&mut self, lines: Lines) {
        if lines.is_empty() {
            return;
        }
        self.tail.keep(&lines);
        let mut lines = lines;
        if let Some(captured) = self.captured.as_mut() {
            captured.keep(&lines);
            if let Some(var) = captured.secret.clone() {
                lines = lines.iter().filter(|(s, _)| *s == Stream::Stderr).collect();
                if !std::mem::replace(&mut captured.said_hidden, true) {
                    let text = format!(
                        "the output is kept as the secret {{{{{var}}}}}: not shown, not journaled"
                    );
                    let notice = Event::Notice {
                        step: Some(self.step),
                        text,
                    };
                    self.ctx.emitter.emit(notice).await;
                }
                if lines.is_empty() {
                    return;
                }
            }
        }
        if let Some(sudo) = self.sudo.as_mut() {
            for (_, line) in lines.iter() {
                sudo.note(line);
            }
        }
        self.ctx
            .emitter
            .emit_output(self.step, self.host, self.phase, lines)
            .await;
    }

    /// The output paused: show the lines left unfinished; a command that
    /// takes input and stays silent after one waits for input.
    async fn paused(&mut self) {
        let now = Instant::now();
        if now >= self.quiet.since + PARTIAL_AFTER {
            let hides_stdout = self.captured.as_ref().is_some_and(|c| c.secret.is_some());
            for i in 0..2 {
                if !std::mem::take(&mut self.quiet.unshown[i]) || (i == 0 && hides_stdout) {
                    continue;
                }
                let text = sanitize(self.splitters[i].partial());
                self.quiet.shown = Some(text.clone());
                self.ctx
                    .emitter
                    .emit(Event::PartialLine {
                        step: self.step,
                        host: self.host,
                        phase: self.phase,
                        stream: stream_of(i),
                        text,
                    })
                    .await;
            }
        }
        let takes_input = self.pty && self.stdin.is_some();
        if takes_input
            && self.quiet.shown.is_some()
            && !self.quiet.flagged
            && now >= self.quiet.since + AWAITING_AFTER
        {
            self.quiet.flagged = true;
            let prompt = self.quiet.shown.clone().unwrap_or_default();
            self.ctx
                .emitter
                .emit(Event::AwaitingInput {
                    step: self.step,
                    host: self.host,
                    phase: self.phase,
                    prompt,
                })
                .await;
        }
    }

    async fn type_in(&mut self, typed: Typed) {
        let Some(stdin) = self.stdin.clone() else {
            return;
        };
        let (event, data) = match typed {
            Typed::Line { text, masked } => {
                if masked {
                    self.ctx.emitter.redact_also(&text);
                }
                let data = Stdin::Data(Bytes::from(format!("{text}\n")));
                let shown = (!masked).then_some(text);
                (self.input_event(shown, masked, false), data)
            }
            Typed::End => (self.input_event(None, false, true), Stdin::End),
        };
        self.ctx.emitter.emit(event).await;
        if stdin.send(data).await.is_err() {
            self.stdin = None;
        }
    }

    fn input_event(&self, text: Option<String>, masked: bool, end: bool) -> Event {
        Event::Input {
            step: self.step,
            host: self.host,
            phase: self.phase,
            text,
            masked,
            end,
        }
    }

    fn sudo_event(&self, asked: bool, ok: bool) -> Event {
        Event::Sudo {
            step: self.step,
            host: self.host,
            phase: self.phase,
            asked,
            ok,
        }
    }

    async fn write(&mut self, data: Stdin) {
        if let Some(stdin) = &self.stdin
            && stdin.send(data).await.is_err()
        {
            self.stdin = None;
        }
    }

    async fn sudo_signal(&mut self, signal: Signal) {
        let Some(mut sudo) = self.sudo.take() else {
            return;
        };
        match signal {
            Signal::Asked { user } => self.answer_sudo(&mut sudo, &user).await,
            Signal::Authenticated => {
                sudo.authenticated = true;
                // The command's own output follows, on both streams.
                for i in 0..2 {
                    let held = self.filters[i].stop();
                    self.show(i, &held).await;
                }
                let event = self.sudo_event(sudo.prompts > 0, true);
                self.ctx.emitter.emit(event).await;
                if !self.pty {
                    // As for any command without a pty: nothing more to read.
                    self.write(Stdin::End).await;
                    self.stdin = None;
                }
            }
        }
        self.sudo = Some(sudo);
    }

    async fn answer_sudo(&mut self, sudo: &mut SudoExchange, user: &str) {
        sudo.prompts += 1;
        if sudo.prompts > 1 {
            // Asked again: the last password was wrong.
            self.ctx.sudo.refused(self.host);
            let event = self.sudo_event(true, false);
            self.ctx.emitter.emit(event).await;
        }
        if sudo.answers >= SUDO_TRIES {
            sudo.gave_up = Some(format!(
                "sudo refused the password {SUDO_TRIES} times; drydock stopped answering"
            ));
            self.write(Stdin::End).await;
            return;
        }
        let attempt = sudo.answers + 1;
        match self
            .ctx
            .sudo_password(self.host, user, attempt, self.cancel)
            .await
        {
            Ok(password) => {
                sudo.answers += 1;
                self.write(Stdin::Data(Bytes::from(format!("{password}\n"))))
                    .await;
            }
            Err(reason) => {
                tracing::debug!(host = %self.ctx.plan.hosts[self.host].name, %reason, "no sudo password");
                sudo.gave_up = Some(format!("no sudo password: {reason}"));
                self.write(Stdin::End).await;
            }
        }
    }

    async fn finish(mut self) -> Talk {
        for i in 0..2 {
            let held = self.filters[i].finish();
            let stream = stream_of(i);
            let mut lines = Lines::new();
            lines.push_output(stream, &mut self.splitters[i], &held);
            self.splitters[i].finish(|l| lines.push_raw(stream, l));
            self.send_lines(lines).await;
        }
        let sudo_failure = match self.sudo.take() {
            Some(sudo) if !sudo.authenticated => {
                if sudo.answers > 0 {
                    self.ctx.sudo.refused(self.host);
                }
                let event = self.sudo_event(sudo.prompts > 0, false);
                self.ctx.emitter.emit(event).await;
                sudo.failure()
            }
            _ => None,
        };
        Talk {
            last_stderr: self.tail.0.into_iter().collect(),
            sudo_failure,
            stdout: self.captured.map(|c| c.lines).unwrap_or_default(),
        }
    }
}
