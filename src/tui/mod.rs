//! The ratatui front end. It knows the engine only through its events and
//! decisions; `drydock logs` follows the logs through the engine too.

pub mod app;
pub mod input;
pub mod keys;
pub mod pane;
pub mod state;
pub mod strings;
pub mod term;
pub mod theme;
pub mod view;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::engine::{Decision, Event, RunHandle, exit};
use crate::remote::{Prompter, Question};
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
}

/// How the loop ends besides the admin leaving.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopOptions {
    /// Leave as soon as the run has finished (benchmarks, tests).
    pub exit_when_finished: bool,
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// The TUI's loop: keys, engine events, helper messages and a frame deadline.
/// Generic over the backend and the key stream so that it runs unchanged on
/// a headless backend.
pub async fn event_loop<B, K>(
    app: &mut App,
    theme: &Theme,
    terminal: &mut ratatui::Terminal<B>,
    mut engine: Option<(&mut mpsc::Receiver<Event>, mpsc::Sender<Decision>)>,
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
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // Raw mode turns Ctrl-C into a key, but a SIGINT sent from elsewhere must
    // still leave the terminal restored rather than kill the process outright.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut engine_open = engine.is_some();
    let mut events_seen = false;
    loop {
        if app.dirty && last_draw.elapsed() >= FRAME {
            app.set_clock(Instant::now(), chrono::Utc::now());
            terminal
                .draw(|f| view::draw(app, theme, f.area(), f.buffer_mut()))
                .map_err(io_err)?;
            app.dirty = false;
            last_draw = Instant::now();
        }
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        let mut command = None;
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => command = app.on_key(k),
                Some(Ok(TermEvent::Resize(..))) => {
                    app.dirty = true;
                    // A resize must repaint everything, not just the diff.
                    terminal.autoresize().map_err(io_err)?;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(End::Force),
            },
            ev = async {
                match engine.as_mut() {
                    Some((rx, _)) => rx.recv().await,
                    None => std::future::pending().await,
                }
            }, if engine_open => match ev {
                Some(ev) => {
                    let now = Instant::now();
                    events_seen = true;
                    app.on_event(ev, now);
                    if let Some((rx, _)) = engine.as_mut() {
                        for _ in 0..BATCH {
                            match rx.try_recv() {
                                Ok(ev) => app.on_event(ev, now),
                                Err(_) => break,
                            }
                        }
                    }
                    if (app.quitting || options.exit_when_finished) && app.finished.is_some() {
                        // Show the last frame before leaving.
                        terminal
                            .draw(|f| view::draw(app, theme, f.area(), f.buffer_mut()))
                            .map_err(io_err)?;
                        return Ok(End::Quit);
                    }
                }
                None => {
                    engine_open = false;
                    if app.finished.is_none() && events_seen {
                        app.status = Some(strings::ENDED_WITHOUT_SUMMARY.into());
                        app.finished = Some(state::Finished { status: crate::journal::RunStatus::Failed, exit_code: exit::FAILED, journal: app.journal.clone() });
                    }
                    app.dirty = true;
                }
            },
            msg = ui_rx.recv() => if let Some(msg) = msg { app.on_ui(msg) },
            _ = tokio::time::sleep_until(next_frame), if app.dirty => {}
            _ = second.tick(), if app.ticking() => app.dirty = true,
            _ = terminate.recv() => return Ok(End::Force),
            _ = hangup.recv() => return Ok(End::Force),
            _ = interrupt.recv() => return Ok(End::Force),
        }
        match command {
            Some(Command::Decide(d)) => {
                if let Some((_, tx)) = engine.as_ref() {
                    let _ = tx.try_send(d);
                }
            }
            Some(Command::Quit) => return Ok(End::Quit),
            Some(Command::ForceQuit) => return Ok(End::Force),
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
    let end = event_loop(
        &mut app,
        &theme,
        &mut guard.terminal,
        Some((&mut events, decisions.clone())),
        &mut ui_rx,
        EventStream::new(),
        LoopOptions::default(),
    )
    .await;
    drop(guard);
    if let Err(e) = &end {
        eprintln!("{}; aborting the run", strings::terminal_failed(e));
    }
    if !matches!(end, Ok(End::Quit)) {
        // Nobody is left to answer: the engine takes every question as abort.
        drop(decisions);
        if app.finished.is_none() {
            eprintln!("{}", strings::ABORTING_WITHOUT_YOU);
        }
    }
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
    let end = event_loop(
        &mut app,
        &theme,
        &mut guard.terminal,
        Some((&mut logs, no_decisions)),
        &mut ui_rx,
        EventStream::new(),
        LoopOptions::default(),
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
