//! The ratatui front end. It knows the engine only through its events and
//! decisions; `drydock logs` follows the logs through the engine too. The
//! same events read back from a run's journal feed it for `replay` and
//! `watch` (`replay.rs`), read-only.

pub mod app;
pub mod hosts;
pub mod input;
pub mod keys;
pub mod notify;
pub mod pane;
mod picker;
mod read_only;
mod reading;
pub mod replay;
pub mod state;
pub mod strings;
mod styled;
mod summary;
pub mod term;
pub mod theme;
mod typing;
pub mod view;
pub mod wrap;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::engine::{Decision, Event, InputSender, RunHandle, exit};
use crate::remote::{Prompter, Question, SudoAnswer, SudoQuestion};
use crate::runbook::Plan;
use app::App;
pub use app::UiMsg;
use input::Command;
use state::Mode;
use theme::Theme;

/// At most this many frames a second; output never forces more.
const FRAME: Duration = Duration::from_millis(33);
/// Engine events handled between two looks at the keyboard.
const BATCH: usize = 4096;

/// Answers a transport's questions (host keys, passphrases) in the TUI.
pub struct TuiPrompter {
    tx: mpsc::Sender<UiMsg>,
}

impl TuiPrompter {
    pub fn new(tx: mpsc::Sender<UiMsg>) -> Self {
        Self { tx }
    }
}

#[async_trait]
impl Prompter for TuiPrompter {
    async fn ask(&self, question: Question) -> Option<String> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(UiMsg::Question(question, reply)).await.ok()?;
        answer.await.ok().flatten()
    }

    async fn sudo_password(&self, question: SudoQuestion) -> Result<SudoAnswer, String> {
        let (reply, answer) = oneshot::channel();
        let gone = || "the terminal interface has gone".to_string();
        self.tx
            .send(UiMsg::SudoPassword(question, reply))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Lines kept per pane: `DRYDOCK_SCROLLBACK`, else 50,000. The journal keeps
/// everything; this only bounds memory.
pub fn scrollback() -> usize {
    std::env::var("DRYDOCK_SCROLLBACK")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(pane::DEFAULT_SCROLLBACK)
}

/// The channel the TUI's helpers report on; make it before the engine starts
/// so the engine's prompter can use it.
pub fn ui_channel() -> UiChannel {
    mpsc::channel(1024)
}

/// Both ends of the channel made by [`ui_channel`].
pub type UiChannel = (mpsc::Sender<UiMsg>, mpsc::Receiver<UiMsg>);

pub enum End {
    Quit,
    Force,
    /// A signal stopped the run; the engine has said what was left running.
    Interrupted,
    /// The terminal is gone (its input ended): as good as a hangup.
    TerminalGone,
}

/// How the loop ends besides the admin leaving, and when it rings.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopOptions {
    /// Leave as soon as the run has finished (benchmarks, tests).
    pub exit_when_finished: bool,
    /// Ring when a question opens after this long without a key, and when
    /// a command waits for input (`None`: never).
    pub notify_after: Option<Duration>,
    /// The desktop notifications the terminal takes besides the bell.
    pub notifier: notify::Notifier,
}

impl LoopOptions {
    /// For the admin's own terminal: the bell and notifications as the
    /// environment sets them.
    pub fn interactive() -> Self {
        Self {
            exit_when_finished: false,
            notify_after: notify::notify_after_from_env(),
            notifier: notify::Notifier::from_env(),
        }
    }
}

/// Write `text` to a new file at `path` (relative: under the current
/// directory; `~/`: under the home directory); returns where it went.
/// An existing file is never overwritten.
fn save_text(path: &Path, text: &str) -> std::io::Result<PathBuf> {
    let path = match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => Path::new(&home).join(rest),
        _ => path.to_path_buf(),
    };
    let at = if path.is_absolute() {
        path
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&at)?;
    file.write_all(text.as_bytes())?;
    Ok(at)
}

/// Bytes of drydock's own for the terminal, between two frames.
fn emit(out: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes)?;
    out.flush()
}

/// The run the loop follows: its events, and where the admin's answers and
/// typed input go.
pub struct EngineLink<'e> {
    pub events: &'e mut mpsc::Receiver<Event>,
    pub decisions: mpsc::Sender<Decision>,
    pub inputs: Option<InputSender>,
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Draw the whole screen now.
fn draw_frame<B: ratatui::backend::Backend>(
    app: &mut App,
    theme: &Theme,
    terminal: &mut ratatui::Terminal<B>,
) -> std::io::Result<()> {
    terminal
        .draw(|f| view::draw(app, theme, f.area(), f.buffer_mut()))
        .map_err(io_err)?;
    app.dirty = false;
    Ok(())
}

/// What the terminal said, as the command it gives: a key's, none for a
/// resize, `ForceQuit` when the terminal is gone.
fn terminal_event<B: ratatui::backend::Backend>(
    app: &mut App,
    terminal: &mut ratatui::Terminal<B>,
    event: Option<std::io::Result<TermEvent>>,
) -> std::io::Result<Option<Command>> {
    match event {
        Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => Ok(app.on_key(k)),
        Some(Ok(TermEvent::Resize(..))) => {
            app.dirty = true;
            // A resize must repaint everything, not just the diff.
            terminal.autoresize().map_err(io_err)?;
            Ok(None)
        }
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(e),
        None => Ok(Some(Command::ForceQuit)),
    }
}

/// Do what a key asked of the loop itself (leave, write to the terminal,
/// save); how the loop ends, when it does. Decisions and replay moves are
/// the caller's.
fn carry_out(
    app: &mut App,
    terminal_out: &mut dyn Write,
    command: Command,
) -> std::io::Result<Option<End>> {
    match command {
        Command::Quit => return Ok(Some(End::Quit)),
        Command::ForceQuit => return Ok(Some(End::Force)),
        Command::Write(bytes) => emit(terminal_out, &bytes)?,
        Command::Save { path, text, lines } => {
            let result = save_text(&path, &text);
            app.saved(path, lines, result);
        }
        Command::Decide(_) | Command::Type(_) | Command::Replay(_) => {}
    }
    Ok(None)
}

/// The signals that end the TUI with the terminal restored: SIGTERM,
/// SIGHUP, and SIGINT (raw mode turns Ctrl-C into a key, but a SIGINT sent
/// from elsewhere must not kill the process outright).
struct Signals {
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn any(&mut self) {
        self.next().await;
    }

    async fn next(&mut self) -> Caught {
        tokio::select! {
            _ = self.terminate.recv() => Caught::Hangup,
            _ = self.hangup.recv() => Caught::Hangup,
            _ = self.interrupt.recv() => Caught::Interrupt,
        }
    }
}

/// Which kind of signal came.
enum Caught {
    /// SIGTERM or SIGHUP: the admin (or their terminal) is gone. A run in
    /// progress is told by `commands::drive` and ends with `RunInterrupted`.
    Hangup,
    /// SIGINT from elsewhere (in raw mode Ctrl-C is a key).
    Interrupt,
}

/// The TUI's loop: keys, engine events, helper messages and a frame deadline.
/// Generic over the backend and the key stream so that it runs unchanged on
/// a headless backend. `terminal_out` takes what drydock writes to the
/// terminal besides frames (the clipboard, the bell).
#[allow(clippy::too_many_arguments)]
pub async fn event_loop<B, K>(
    app: &mut App,
    theme: &Theme,
    terminal: &mut ratatui::Terminal<B>,
    terminal_out: &mut dyn Write,
    mut engine: Option<EngineLink<'_>>,
    ui_rx: &mut mpsc::Receiver<UiMsg>,
    mut keys: K,
    options: LoopOptions,
) -> std::io::Result<End>
where
    B: ratatui::backend::Backend,
    K: futures::Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    let mut last_draw = Instant::now()
        .checked_sub(FRAME)
        .unwrap_or_else(Instant::now);
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut signals = Signals::new()?;
    let mut engine_open = engine.is_some();
    let mut events_seen = false;
    // SIGTERM or SIGHUP during a run: the run itself is told (see
    // `commands::drive`) and ends with `RunInterrupted`; should it end
    // otherwise meanwhile, the TUI leaves then.
    let mut signalled = false;
    loop {
        if app.dirty && last_draw.elapsed() >= FRAME {
            app.set_clock(Instant::now(), chrono::Utc::now());
            draw_frame(app, theme, terminal)?;
            last_draw = Instant::now();
        }
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        let mut command = None;
        tokio::select! {
            key = keys.next() => {
                // The terminal is gone (its input ended): as good as a hangup.
                if key.is_none() && app.run_in_progress() {
                    return Ok(End::TerminalGone);
                }
                command = terminal_event(app, terminal, key)?;
            }
            ev = async {
                match engine.as_mut() {
                    Some(link) => link.events.recv().await,
                    None => std::future::pending().await,
                }
            }, if engine_open => match ev {
                Some(ev) => {
                    let now = Instant::now();
                    events_seen = true;
                    app.on_event(ev, now);
                    if let Some(link) = engine.as_mut() {
                        for _ in 0..BATCH {
                            match link.events.try_recv() {
                                Ok(ev) => app.on_event(ev, now),
                                Err(_) => break,
                            }
                        }
                    }
                    if app.interrupted {
                        return Ok(End::Interrupted);
                    }
                    if (app.quitting || signalled || options.exit_when_finished) && app.finished.is_some() {
                        // Show the last frame before leaving.
                        draw_frame(app, theme, terminal)?;
                        return Ok(End::Quit);
                    }
                }
                None => {
                    engine_open = false;
                    if app.finished.is_none() && events_seen {
                        app.status = Some(strings::ENDED_WITHOUT_SUMMARY.into());
                        app.finished = Some(state::Finished { status: crate::journal::RunStatus::Failed, exit_code: exit::FAILED, journal: app.journal.clone(), not_done: Vec::new(), at: app.now });
                    }
                    app.dirty = true;
                }
            },
            msg = ui_rx.recv() => if let Some(msg) = msg { app.on_ui(msg) },
            _ = tokio::time::sleep_until(next_frame), if app.dirty => {}
            _ = second.tick(), if app.ticking() => {
                app.dirty = true;
                app.drop_abandoned_questions();
            }
            caught = signals.next() => match caught {
                Caught::Hangup if app.run_in_progress() => signalled = true,
                _ => return Ok(End::Force),
            },
        }
        // A question after a quiet spell, or a command that waits for input:
        // one bell (and notification) for both.
        let question = app.notification_due(Instant::now(), options.notify_after);
        let waiting = app.take_bell().filter(|_| options.notify_after.is_some());
        if let Some(text) = question.or(waiting) {
            emit(terminal_out, &options.notifier.sequence(&text))?;
        }
        match command {
            Some(Command::Decide(d)) => {
                if let Some(link) = engine.as_ref() {
                    let _ = link.decisions.try_send(d);
                }
            }
            Some(Command::Type(input)) => {
                let sent = engine
                    .as_ref()
                    .and_then(|link| link.inputs.as_ref())
                    .map(|inputs| inputs.send(input));
                if let Some(Err(refused)) = sent {
                    app.status = Some(refused.to_string());
                    app.dirty = true;
                }
            }
            Some(command) => {
                if let Some(end) = carry_out(app, terminal_out, command)? {
                    return Ok(end);
                }
            }
            None => {}
        }
    }
}

/// Drive a run in the TUI until the admin leaves; returns the exit status.
pub async fn drive(
    plan: Arc<Plan>,
    handle: RunHandle,
    theme: Theme,
    ui: (mpsc::Sender<UiMsg>, mpsc::Receiver<UiMsg>),
) -> i32 {
    // The sender stays with the prompter the engine holds.
    let (_, mut ui_rx) = ui;
    let RunHandle {
        mut events,
        decisions,
        inputs,
        interrupt,
        task,
        ..
    } = handle;
    // Names and titles as they may be shown: secrets replaced, no controls.
    let shown = Arc::new(crate::engine::shown_plan(&plan));
    let mut app = App::new(shown, Mode::Run, Instant::now(), chrono::Utc::now());
    app.set_scrollback(scrollback());
    // The engine follows the logs on the run's own connections (one per host).
    let mut guard = match term::TerminalGuard::enter() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{}", strings::cannot_open_terminal(&e));
            task.abort();
            return exit::FAILED;
        }
    };
    let link = EngineLink {
        events: &mut events,
        decisions: decisions.clone(),
        inputs: Some(inputs),
    };
    let end = event_loop(
        &mut app,
        &theme,
        &mut guard.terminal,
        &mut std::io::stdout(),
        Some(link),
        &mut ui_rx,
        EventStream::new(),
        LoopOptions::interactive(),
    )
    .await;
    drop(guard);
    match &end {
        Ok(End::Quit | End::Interrupted) => {}
        // Nobody can answer from a terminal that is gone: as on SIGHUP,
        // nothing more runs and what runs is left to finish.
        Ok(End::TerminalGone) | Err(_) if app.run_in_progress() => {
            if let Err(e) = &end {
                eprintln!("{}", strings::terminal_failed(e));
            }
            interrupt.signal("SIGHUP");
        }
        Ok(_) | Err(_) => {
            if let Err(e) = &end {
                eprintln!("{}; aborting the run", strings::terminal_failed(e));
            }
            // Leaving aborts what runs; then nobody is left to answer, and
            // the engine takes every question as abort (or leave).
            let _ = decisions.try_send(Decision::Abort);
            if app.finished.is_none() {
                eprintln!("{}", strings::ABORTING_WITHOUT_YOU);
            }
        }
    }
    drop(decisions);
    // The engine must be able to finish writing its events while we wait.
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
    let code = match task.await {
        Ok(result) => {
            // The hosts that could not be reached or used, and why, stay on
            // the terminal once the screen is gone.
            for (h, view) in app.hosts.iter().enumerate() {
                if let state::Conn::Failed { error, .. } = &view.conn {
                    eprintln!("{}", strings::host_failed(app.host_name(h), error));
                }
            }
            if let Some(interrupted) = &result.interrupted {
                eprintln!("{}", strings::interrupted(&interrupted.signal));
                for r in &interrupted.running {
                    let (step, host) = (app.step_id(r.step), app.host_name(r.host));
                    eprintln!("{}", strings::left_running(step, host, r.pid));
                }
                eprintln!("{}", strings::resume_hint(&plan.path));
            }
            if let Some(j) = &result.journal {
                eprintln!("{}", strings::journal_at(j));
            }
            result.exit_code
        }
        Err(e) => {
            eprintln!("{}", strings::failed_inside(&e));
            exit::FAILED
        }
    };
    drain.abort();
    code
}

/// `drydock logs`: only the log pane, full screen.
pub async fn logs_only(plan: Arc<Plan>, wanted: Vec<usize>, theme: Theme) -> i32 {
    let (ui_tx, mut ui_rx) = ui_channel();
    let shown = Arc::new(crate::engine::shown_plan(&plan));
    let mut app = App::new(shown, Mode::Logs, Instant::now(), chrono::Utc::now());
    app.set_scrollback(scrollback());
    // Only the chosen logs get tabs; keep their order as given.
    let mut views = Vec::new();
    for &ix in &wanted {
        if let Some(v) = app.logs.get(ix) {
            views.push(v.clone());
        }
    }
    app.logs = views;
    let cancel = CancellationToken::new();
    // The tails report with their index among the shown tabs.
    let mut sub = (*plan).clone();
    sub.logs = wanted
        .iter()
        .filter_map(|&i| plan.logs.get(i).cloned())
        .collect();
    let prompter: Arc<dyn Prompter> = Arc::new(TuiPrompter::new(ui_tx));
    let mut logs = crate::engine::follow_logs(Arc::new(sub), prompter, cancel.clone());
    // Nothing is decided in the log viewer: its decisions go nowhere.
    let (no_decisions, _) = mpsc::channel(1);
    let mut guard = match term::TerminalGuard::enter() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{}", strings::cannot_open_terminal(&e));
            return exit::FAILED;
        }
    };
    let link = EngineLink {
        events: &mut logs,
        decisions: no_decisions,
        inputs: None,
    };
    let end = event_loop(
        &mut app,
        &theme,
        &mut guard.terminal,
        &mut std::io::stdout(),
        Some(link),
        &mut ui_rx,
        EventStream::new(),
        LoopOptions::interactive(),
    )
    .await;
    cancel.cancel();
    drop(guard);
    match end {
        Ok(_) => exit::OK,
        Err(e) => {
            eprintln!("{}", strings::terminal_failed(&e));
            exit::FAILED
        }
    }
}

#[cfg(test)]
mod tests;
