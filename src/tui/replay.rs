//! The TUI fed by a run's journal instead of its engine: `replay` steps
//! through a past run, `watch` follows one going on. The journal's records
//! come back as the engine's events ([`Playback`]) and go to the same
//! `App::on_event`; nothing is answered from here. Going back rebuilds the
//! screen from the journal's start: the app only goes forward, and the
//! journal, not memory, keeps the whole run.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;

use super::app::App;
use super::input::Command;
use super::keys::Move;
use super::state::{Mode, ReadOnly, Source};
use super::theme::Theme;
use super::{End, FRAME, Signals, carry_out, draw_frame, strings, term, terminal_event};
use crate::engine::{Event, Phase, StepIx, exit};
use crate::journal::JournalError;
use crate::report::plan::NoRunbook;
use crate::report::replay::{Playback, Played};
use crate::runbook::Plan;

/// How often a watch looks for new lines: a line shows within a second of
/// being printed, and an idle watch costs next to nothing.
const POLL: Duration = Duration::from_millis(200);
/// Polls between two looks at whether the run's drydock is alive.
const ALIVE_EVERY: u32 = 5;
/// Records taken between two looks at the keyboard.
const BATCH: usize = 4096;
/// Playing, a pause between two records is cut to this.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// One recorded moment: when, and what it is about.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Option<DateTime<Utc>>,
    step: Option<StepIx>,
    /// A step's command started (not its undo).
    starts_step: bool,
}

impl Mark {
    fn of(played: &Played) -> Self {
        let step = played.events.iter().find_map(|e| match e {
            Event::StepStarted { step, .. }
            | Event::Output { step, .. }
            | Event::StepFinished { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::GuardPolled { step, .. }
            | Event::Decided { step, .. } => Some(*step),
            _ => None,
        });
        let starts_step = played.events.iter().any(|e| {
            matches!(
                e,
                Event::StepStarted {
                    phase: Phase::Main,
                    ..
                }
            )
        });
        Self {
            at: played.at,
            step,
            starts_step,
        }
    }
}

/// A run's journal as the screen shows it: how far, and (for a replay)
/// every recorded moment, to step and jump through.
pub struct Recording {
    playback: Playback,
    plan: Arc<Plan>,
    source: Source,
    no_runbook: Option<NoRunbook>,
    /// A replay's moments, all of them once it is open.
    marks: Vec<Mark>,
    /// Moments shown on the screen.
    shown: usize,
    /// Where the journal's time meets the screen's clock.
    origin: (Instant, Option<DateTime<Utc>>),
    /// The time of the last moment shown.
    last_at: Option<DateTime<Utc>>,
    /// Playing: when the last moment was shown.
    played_at: Option<Instant>,
    polls: u32,
    writer_gone: bool,
}

impl Recording {
    /// `plan` is the one `playback` translates with: the App's rows and the
    /// events' indices must agree.
    pub fn new(
        playback: Playback,
        plan: Arc<Plan>,
        source: Source,
        no_runbook: Option<NoRunbook>,
    ) -> Self {
        // The journal keeps no [logs] lines: a log pane would stay empty.
        let plan = if plan.logs.is_empty() {
            plan
        } else {
            let mut shown = (*plan).clone();
            shown.logs.clear();
            Arc::new(shown)
        };
        let origin = match source {
            // A replay's clock runs on the journal's times from its start.
            Source::Replay => (Instant::now(), None),
            // A watch's is the wall clock.
            Source::Watch => (Instant::now(), Some(Utc::now())),
        };
        Self {
            playback,
            plan,
            source,
            no_runbook,
            marks: Vec::new(),
            shown: 0,
            origin,
            last_at: None,
            played_at: None,
            polls: 0,
            writer_gone: false,
        }
    }

    /// The screen with everything written so far: a replay opens at the
    /// run's end, its checklist in view rather than the summary.
    pub fn open(&mut self) -> Result<App, JournalError> {
        let mut app = App::new(self.plan.clone(), Mode::Run, Instant::now(), Utc::now());
        app.set_scrollback(super::scrollback());
        app.read_only = Some(ReadOnly {
            source: self.source,
            no_runbook: self.no_runbook,
            shown: 0,
            of: 0,
            playing: false,
        });
        app.status = self.no_runbook.map(strings::no_runbook);
        app.summary_hidden = self.source == Source::Replay;
        while let Some(played) = self.playback.next_record()? {
            self.show(&mut app, played);
        }
        self.sync(&mut app);
        tracing::info!(source = ?self.source, moments = self.shown, "journal opened");
        Ok(app)
    }

    /// The screen's instant for a time of the journal.
    fn instant(&self, at: DateTime<Utc>) -> Instant {
        let (instant, wall) = self.origin;
        let Some(wall) = wall else { return instant };
        match (at - wall).to_std() {
            Ok(later) => instant + later,
            Err(_) => (wall - at)
                .to_std()
                .ok()
                .and_then(|earlier| instant.checked_sub(earlier))
                .unwrap_or(instant),
        }
    }

    fn show(&mut self, app: &mut App, played: Played) {
        if self.origin.1.is_none() {
            self.origin.1 = played.at;
        }
        if played.at.is_some() {
            self.last_at = played.at;
        }
        let now = self.last_at.map_or(self.origin.0, |t| self.instant(t));
        if self.source == Source::Replay && self.shown == self.marks.len() {
            self.marks.push(Mark::of(&played));
        }
        for event in played.events {
            app.on_event(event, now);
        }
        self.shown += 1;
    }

    /// The header's count, and the clock the screen shows the run at.
    fn sync(&self, app: &mut App) {
        if let Some(ro) = app.read_only.as_mut() {
            ro.shown = self.shown;
            ro.of = self.marks.len();
            ro.playing = self.played_at.is_some();
        }
        app.dirty = true;
    }

    /// The clock to draw with: a replay's stands at its last moment shown.
    pub(super) fn set_clock(&self, app: &mut App) {
        match (self.source, self.last_at) {
            (Source::Replay, Some(at)) => app.set_clock(self.instant(at), at),
            (Source::Replay, None) => app.set_clock(self.origin.0, Utc::now()),
            (Source::Watch, _) => app.set_clock(Instant::now(), Utc::now()),
        }
    }

    /// A new screen like `old` (its panes' reading, focus, selection), with
    /// nothing shown yet.
    fn fresh(&self, old: &App) -> App {
        let mut app = App::new(self.plan.clone(), Mode::Run, old.now, old.wall);
        app.set_scrollback(old.scrollback);
        app.read_only = old.read_only.clone();
        app.status = old.status.clone();
        app.focus = old.focus;
        app.output_reading = old.output_reading;
        app.zoomed = old.zoomed;
        app.summary_hidden = old.summary_hidden;
        app.selected = old.selected;
        app.host_sel = old.host_sel;
        app.auto_select = old.auto_select;
        app.last_key = old.last_key;
        app
    }

    /// Show the first `target` moments.
    fn seek(&mut self, app: &mut App, target: usize) -> Result<(), JournalError> {
        if target < self.shown {
            *app = self.fresh(app);
            self.playback.rewind()?;
            self.shown = 0;
            self.last_at = None;
        }
        while self.shown < target {
            match self.playback.next_record()? {
                Some(played) => self.show(app, played),
                None => break,
            }
        }
        Ok(())
    }

    /// Carry out a replay key.
    pub fn go(&mut self, app: &mut App, to: Move) -> Result<(), JournalError> {
        let len = self.marks.len();
        if to != Move::Play {
            self.played_at = None;
        }
        let target = match to {
            Move::NextEvent => self.shown + 1,
            Move::PrevEvent => self.shown.saturating_sub(1),
            Move::NextStep => (self.marks.iter().enumerate().skip(self.shown))
                .find(|(_, m)| m.starts_step)
                .map_or(len, |(i, _)| i + 1),
            Move::PrevStep => self.marks[..self.shown.saturating_sub(1).min(len)]
                .iter()
                .rposition(|m| m.starts_step)
                .map_or(0, |i| i + 1),
            Move::ToStep(step) => {
                let last = self.marks.iter().rposition(|m| m.step == Some(step));
                if last.is_none() {
                    app.status = Some(strings::step_not_recorded(app.step_id(step)));
                }
                let target = last.map_or(self.shown, |i| i + 1);
                self.seek(app, target)?;
                app.selected = step;
                app.host_sel = 0;
                app.auto_select = false;
                app.summary_hidden = true;
                self.sync(app);
                return Ok(());
            }
            Move::Start => 0,
            Move::End => len,
            Move::Play => {
                if self.played_at.take().is_none() {
                    if self.shown >= len {
                        self.seek(app, 0)?;
                    }
                    self.played_at = Some(Instant::now());
                }
                self.sync(app);
                return Ok(());
            }
        };
        tracing::debug!(?to, from = self.shown, target, "replay moved");
        self.seek(app, target.min(len))?;
        self.sync(app);
        Ok(())
    }

    /// When the next moment is due, playing: after the recorded pause
    /// between the two, cut to [`LONGEST_PAUSE`].
    pub(super) fn due(&self) -> Option<Instant> {
        let since = self.played_at?;
        let next = self.marks.get(self.shown)?;
        let pause = match (
            self.shown.checked_sub(1).and_then(|i| self.marks[i].at),
            next.at,
        ) {
            (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
            _ => Duration::ZERO,
        };
        Some(since + pause.min(LONGEST_PAUSE))
    }

    pub(super) fn play_next(&mut self, app: &mut App) -> Result<(), JournalError> {
        self.seek(app, self.shown + 1)?;
        self.played_at = (self.shown < self.marks.len()).then(Instant::now);
        self.sync(app);
        Ok(())
    }

    /// A watch takes what the journal has gained; true when more is waiting.
    pub(super) fn follow(&mut self, app: &mut App) -> Result<bool, JournalError> {
        let mut taken = 0;
        while taken < BATCH {
            match self.playback.next_record()? {
                Some(played) => {
                    self.show(app, played);
                    taken += 1;
                }
                None => break,
            }
        }
        if taken > 0 {
            self.sync(app);
            self.polls = 0;
            return Ok(taken == BATCH);
        }
        self.polls += 1;
        let look =
            app.finished.is_none() && !self.writer_gone && self.polls.is_multiple_of(ALIVE_EVERY);
        if look && !self.playback.writer_alive() {
            // Said once; a `--resume` would continue the same journal.
            tracing::info!("the watched run's drydock is gone");
            self.writer_gone = true;
            app.status = Some(strings::WRITER_GONE.into());
            app.dirty = true;
        }
        Ok(false)
    }
}

/// The loop of a screen fed by a journal: keys, a replay's moves and
/// playing, a watch's polling, and a frame deadline. Generic over the
/// backend and the key stream, like [`super::event_loop`].
pub async fn journal_loop<B, K>(
    app: &mut App,
    recording: &mut Recording,
    theme: &Theme,
    terminal: &mut ratatui::Terminal<B>,
    terminal_out: &mut dyn Write,
    mut keys: K,
) -> std::io::Result<End>
where
    B: ratatui::backend::Backend,
    K: futures::Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    let mut last_draw = Instant::now()
        .checked_sub(FRAME)
        .unwrap_or_else(Instant::now);
    let mut signals = Signals::new()?;
    let watching = recording.source == Source::Watch;
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next_poll = tokio::time::Instant::now();
    loop {
        if app.dirty && last_draw.elapsed() >= FRAME {
            recording.set_clock(app);
            draw_frame(app, theme, terminal)?;
            last_draw = Instant::now();
        }
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        let due = recording.due().map(tokio::time::Instant::from_std);
        let mut command = None;
        let mut read = Ok(());
        tokio::select! {
            key = keys.next() => command = terminal_event(app, terminal, key)?,
            () = tokio::time::sleep_until(next_poll), if watching => {
                read = recording.follow(app).map(|more| {
                    next_poll = tokio::time::Instant::now() + if more { Duration::ZERO } else { POLL };
                });
            }
            () = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            }, if due.is_some() => read = recording.play_next(app),
            () = tokio::time::sleep_until(next_frame), if app.dirty => {}
            _ = second.tick(), if watching && app.ticking() => app.dirty = true,
            () = signals.any() => return Ok(End::Force),
        }
        match command {
            Some(Command::Replay(to)) => read = recording.go(app, to),
            Some(command) => {
                if let Some(end) = carry_out(app, terminal_out, command)? {
                    return Ok(end);
                }
            }
            None => {}
        }
        if let Err(e) = read {
            // The file went away or cannot be read: say so, keep what is shown.
            tracing::warn!(error = %e, "journal read failed");
            recording.played_at = None;
            app.status = Some(strings::cannot_read_journal(&e));
            app.dirty = true;
        }
    }
}

/// Show a run's journal until the admin leaves; returns the exit status.
pub async fn drive(mut recording: Recording, theme: Theme) -> i32 {
    let mut app = match recording.open() {
        Ok(app) => app,
        Err(e) => {
            eprintln!("drydock: {e}");
            return exit::USAGE;
        }
    };
    let mut guard = match term::TerminalGuard::enter() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{}", strings::cannot_open_terminal(&e));
            return exit::FAILED;
        }
    };
    let end = journal_loop(
        &mut app,
        &mut recording,
        &theme,
        &mut guard.terminal,
        &mut std::io::stdout(),
        EventStream::new(),
    )
    .await;
    drop(guard);
    match end {
        Ok(_) => exit::OK,
        Err(e) => {
            eprintln!("{}", strings::terminal_failed(&e));
            exit::FAILED
        }
    }
}
