//! The TUI's state: plain data, changed by engine events and by intents.
//! Nothing here does I/O except answering a transport's question on its
//! one-shot reply channel.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::oneshot;

use super::keys::{self, Intent};
use super::pane::{DEFAULT_SCROLLBACK, Pane};
use super::strings;
use crate::engine::{Decision, Event, Phase, Prompt, PromptKind};
use crate::journal::{Outcome, RunStatus};
use crate::remote::{Question, Stream};
use crate::runbook::{Action, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellStatus {
    Pending,
    Running,
    Waiting,
    NeedsConfirm,
    Ok,
    Failed,
    Skipped,
    Lost,
    Timeout,
    Unknown,
}

impl CellStatus {
    pub fn from_outcome(o: Outcome) -> Self {
        match o {
            Outcome::Ok => Self::Ok,
            Outcome::Failed => Self::Failed,
            Outcome::Skipped => Self::Skipped,
            Outcome::Timeout => Self::Timeout,
            Outcome::Lost => Self::Lost,
            Outcome::Unknown => Self::Unknown,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::Pending => "·",
            Self::Running => "▶",
            Self::Waiting => "…",
            Self::NeedsConfirm => "◆",
            Self::Ok => "✓",
            Self::Failed => "✗",
            Self::Skipped => "-",
            Self::Lost => "!",
            Self::Timeout => "⧖",
            Self::Unknown => "?",
        }
    }

    pub fn word(self) -> &'static str {
        strings::status_word(self)
    }
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub status: CellStatus,
    pub started: Option<Instant>,
    pub duration: Option<Duration>,
    pub note: Option<String>,
    /// How this step's undo went, when the rollback ran it.
    pub undo: Option<CellStatus>,
}

#[derive(Debug, Clone)]
pub struct GuardState {
    pub since: Instant,
    pub since_wall: DateTime<Utc>,
    pub checks: u32,
    pub ok: bool,
    pub detail: String,
    pub polled_at: Instant,
    pub next_check: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conn {
    Pending,
    Connecting,
    Connected,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockView {
    None,
    Taken(String),
    Held { path: String, holder: String },
}

#[derive(Debug, Clone)]
pub struct HostView {
    pub conn: Conn,
    pub lock: LockView,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Checklist,
    Output,
    Logs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLayout {
    Normal,
    Enlarged,
    Hidden,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogState {
    Connecting,
    Tailing,
    Ended(String),
}

#[derive(Debug, Clone)]
pub struct LogView {
    pub name: String,
    pub host: String,
    pub path: String,
    pub highlight: Vec<String>,
    pub pane: Pane,
    pub state: LogState,
}

/// Windows over the main view; the first one present takes every key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    ConfirmQuit,
    ConfirmAbort,
    OverrideGuard {
        step: usize,
        typed: String,
        wrong: bool,
    },
}

pub struct QuestionState {
    pub question: Question,
    pub input: String,
    pub reply: Option<oneshot::Sender<Option<String>>>,
}

pub struct PromptState {
    pub prompt: Prompt,
    /// What the admin typed, for the questions that take the step id.
    pub typed: String,
    pub wrong: bool,
    pub scroll: u16,
    /// Closed with Esc to look around; Enter opens it again.
    pub hidden: bool,
}

impl PromptState {
    /// The lock-break question, answered by typing the step id out.
    pub fn is_lock_break(&self) -> bool {
        matches!(self.prompt.kind, PromptKind::LockBreak { .. })
    }

    /// The answer the typed step id gives: breaking the lock.
    pub fn typed_answer(&self) -> Option<Decision> {
        match self.prompt.kind {
            PromptKind::LockBreak { host, .. } => Some(Decision::BreakLock { host }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub status: RunStatus,
    pub exit_code: i32,
    pub journal: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A run: checklist, output, logs.
    Run,
    /// `drydock logs`: only the log pane.
    Logs,
}

/// What the event loop must do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Decide(Decision),
    Quit,
    /// Leave now: the engine gets no more answers (every further question is
    /// taken as abort), and drydock exits when it has wound down.
    ForceQuit,
}

/// A message from the TUI's own helpers (log tails, the transport's questions).
pub enum UiMsg {
    Log { ix: usize, line: String },
    LogState { ix: usize, state: LogState },
    Question(Question, oneshot::Sender<Option<String>>),
}

pub struct App {
    pub plan: Arc<Plan>,
    pub mode: Mode,
    pub run_id: Option<String>,
    pub journal: Option<PathBuf>,
    pub dry_run: bool,
    pub resumed: bool,
    pub started: Instant,
    pub now: Instant,
    pub wall: DateTime<Utc>,
    pub hosts: Vec<HostView>,
    pub cells: Vec<Vec<Cell>>,
    pub guards: HashMap<usize, GuardState>,
    pub waiting_until: Option<(usize, DateTime<Utc>)>,
    pub outputs: HashMap<(usize, usize), Pane>,
    pub scrollback: usize,
    pub selected: usize,
    /// The checklist follows the running step until the admin moves in it.
    pub auto_select: bool,
    pub current: Option<usize>,
    pub host_sel: usize,
    pub focus: Focus,
    pub logs: Vec<LogView>,
    pub log_tab: usize,
    pub log_layout: LogLayout,
    pub prompt: Option<PromptState>,
    pub question: Option<QuestionState>,
    pub overlay: Option<Overlay>,
    /// The search being typed, and which pane it is for.
    pub search_input: Option<String>,
    pub status: Option<String>,
    pub rollback: bool,
    pub finished: Option<Finished>,
    pub summary_hidden: bool,
    pub quitting: bool,
    /// Screen size, for page sizes and the layout.
    pub size: (u16, u16),
    pub dirty: bool,
}

impl App {
    pub fn new(plan: Arc<Plan>, mode: Mode, now: Instant, wall: DateTime<Utc>) -> Self {
        let hosts = plan
            .hosts
            .iter()
            .map(|_| HostView {
                conn: Conn::Pending,
                lock: LockView::None,
            })
            .collect();
        let cells = plan
            .steps
            .iter()
            .map(|_| {
                plan.hosts
                    .iter()
                    .map(|_| Cell {
                        status: CellStatus::Pending,
                        started: None,
                        duration: None,
                        note: None,
                        undo: None,
                    })
                    .collect()
            })
            .collect();
        let logs = plan
            .logs
            .iter()
            .map(|l| LogView {
                name: l.name.clone(),
                host: plan
                    .hosts
                    .get(l.host)
                    .map(|h| h.name.clone())
                    .unwrap_or_default(),
                path: plan
                    .render(&l.path, l.host, &crate::runbook::RunVars::default())
                    .unwrap_or_else(|e| format!("<{e}>")),
                highlight: l.highlight.iter().map(|h| h.to_lowercase()).collect(),
                pane: Pane::new(DEFAULT_SCROLLBACK),
                state: LogState::Connecting,
            })
            .collect();
        Self {
            plan,
            mode,
            run_id: None,
            journal: None,
            dry_run: false,
            resumed: false,
            started: now,
            now,
            wall,
            hosts,
            cells,
            guards: HashMap::new(),
            waiting_until: None,
            outputs: HashMap::new(),
            scrollback: DEFAULT_SCROLLBACK,
            selected: 0,
            auto_select: true,
            current: None,
            host_sel: 0,
            focus: if mode == Mode::Logs {
                Focus::Logs
            } else {
                Focus::Output
            },
            logs,
            log_tab: 0,
            log_layout: if mode == Mode::Logs {
                LogLayout::Enlarged
            } else {
                LogLayout::Normal
            },
            prompt: None,
            question: None,
            overlay: None,
            search_input: None,
            status: None,
            rollback: false,
            finished: None,
            summary_hidden: false,
            quitting: false,
            size: (100, 30),
            dirty: true,
        }
    }

    /// Bound every pane (output and logs) to `lines` lines.
    pub fn set_scrollback(&mut self, lines: usize) {
        self.scrollback = lines;
        for l in &mut self.logs {
            l.pane = Pane::new(lines);
        }
    }

    pub fn set_clock(&mut self, now: Instant, wall: DateTime<Utc>) {
        self.now = now;
        self.wall = wall;
    }

    /// Something on screen changes with time alone (elapsed, countdowns).
    pub fn ticking(&self) -> bool {
        self.mode == Mode::Run && self.finished.is_none()
    }

    pub fn run_in_progress(&self) -> bool {
        self.mode == Mode::Run && self.finished.is_none()
    }

    /// Hosts a step runs on, as indices into the plan.
    pub fn step_hosts(&self, step: usize) -> &[usize] {
        self.plan
            .steps
            .get(step)
            .map_or(&[], |s| s.hosts.as_slice())
    }

    pub fn shown_host(&self) -> Option<usize> {
        let hosts = self.step_hosts(self.selected);
        hosts
            .get(self.host_sel.min(hosts.len().saturating_sub(1)))
            .copied()
    }

    pub fn output(&self, step: usize, host: usize) -> Option<&Pane> {
        self.outputs.get(&(step, host))
    }

    fn pane_mut(&mut self, step: usize, host: usize) -> &mut Pane {
        let cap = self.scrollback;
        self.outputs
            .entry((step, host))
            .or_insert_with(|| Pane::new(cap))
    }

    fn select_current(&mut self, step: usize, host: Option<usize>) {
        self.current = Some(step);
        if self.auto_select {
            if self.selected != step {
                self.selected = step;
                self.host_sel = 0;
            }
            if let Some(h) = host {
                if let Some(pos) = self.step_hosts(step).iter().position(|&x| x == h) {
                    // Stay on the host the admin chose while it still runs.
                    let chosen = self.shown_host();
                    let chosen_running =
                        chosen.is_some_and(|c| self.cells[step][c].status == CellStatus::Running);
                    if !chosen_running {
                        self.host_sel = pos;
                    }
                }
            }
        }
    }

    pub fn on_event(&mut self, event: Event, now: Instant) {
        self.dirty = true;
        match event {
            Event::RunStarted {
                run_id,
                journal,
                resumed,
                dry_run,
            } => {
                self.run_id = Some(run_id);
                self.journal = journal;
                self.resumed = resumed;
                self.dry_run = dry_run;
                self.started = now;
            }
            Event::HostConnecting { host } => self.set_conn(host, Conn::Connecting),
            Event::HostConnected { host } => self.set_conn(host, Conn::Connected),
            Event::HostFailed { host, error } => {
                self.status = Some(format!("{}: {error}", self.host_name(host)));
                self.set_conn(host, Conn::Failed(error));
            }
            Event::LockTaken { host, path } => {
                if let Some(h) = self.hosts.get_mut(host) {
                    h.lock = LockView::Taken(path);
                }
            }
            Event::LockHeld { host, path, holder } => {
                if let Some(h) = self.hosts.get_mut(host) {
                    h.lock = LockView::Held { path, holder };
                }
            }
            Event::StepSkipped {
                step,
                host,
                reason,
                earlier,
            } => {
                if let Some(c) = self.cell_mut(step, host) {
                    c.status = earlier.map_or(CellStatus::Skipped, CellStatus::from_outcome);
                    c.note = Some(reason.clone());
                }
                if earlier.is_none() {
                    let line = strings::skipped_line(&reason);
                    self.pane_mut(step, host).push(Stream::Stderr, line);
                }
            }
            Event::StepStarted {
                step,
                host,
                command,
                phase,
                attempt,
            } => {
                let is_guard = self
                    .plan
                    .steps
                    .get(step)
                    .is_some_and(|s| matches!(s.action, Action::Guard(_)));
                if let Some(c) = self.cell_mut(step, host) {
                    if phase == Phase::Main {
                        c.status = if is_guard {
                            CellStatus::Waiting
                        } else {
                            CellStatus::Running
                        };
                        c.started = Some(now);
                        c.duration = None;
                    } else {
                        c.undo = Some(CellStatus::Running);
                    }
                }
                let line = strings::started_line(&command, phase == Phase::Undo, attempt);
                self.pane_mut(step, host).push(Stream::Stdout, line);
                if is_guard && phase == Phase::Main {
                    self.guards.insert(
                        step,
                        GuardState {
                            since: now,
                            since_wall: self.wall,
                            checks: 0,
                            ok: false,
                            detail: String::new(),
                            polled_at: now,
                            next_check: None,
                        },
                    );
                }
                self.select_current(step, Some(host));
            }
            Event::Output {
                step, host, lines, ..
            } => {
                let pane = self.pane_mut(step, host);
                for (stream, line) in lines {
                    pane.push(stream, line);
                }
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
                let status = CellStatus::from_outcome(outcome);
                if self.waiting_until.is_some_and(|(s, _)| s == step) {
                    self.waiting_until = None;
                }
                if let Some(c) = self.cell_mut(step, host) {
                    if phase == Phase::Main {
                        c.status = status;
                        c.duration = Some(duration);
                        c.note = message.clone();
                    } else {
                        c.undo = Some(status);
                    }
                }
                let line = strings::finished_line(
                    outcome.as_str(),
                    &crate::runbook::duration::short(duration),
                    exit.as_ref(),
                    message.as_deref(),
                );
                let stream = if status == CellStatus::Ok {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                };
                self.pane_mut(step, host).push(stream, line);
                if self.guards.contains_key(&step)
                    && self
                        .step_hosts(step)
                        .iter()
                        .all(|&h| self.cells[step][h].status != CellStatus::Waiting)
                {
                    self.guards.remove(&step);
                }
            }
            Event::GuardPolled {
                step,
                host,
                ok,
                detail,
                checks,
                next_check,
            } => {
                let g = self.guards.entry(step).or_insert_with(|| GuardState {
                    since: now,
                    since_wall: self.wall,
                    checks: 0,
                    ok,
                    detail: String::new(),
                    polled_at: now,
                    next_check: None,
                });
                g.checks = checks;
                g.ok = ok;
                g.detail = detail.clone();
                g.polled_at = now;
                g.next_check = next_check;
                let line = strings::guard_check_line(checks, ok, &detail);
                self.pane_mut(step, host).push(Stream::Stdout, line);
            }
            Event::Waiting { step, until } => {
                self.waiting_until = Some((step, until));
                self.select_current(step, None);
            }
            Event::Prompt(prompt) => {
                if matches!(prompt.kind, PromptKind::Gate | PromptKind::Manual { .. }) {
                    for &h in &prompt.hosts {
                        if let Some(c) = self.cell_mut(prompt.step, h) {
                            c.status = CellStatus::NeedsConfirm;
                        }
                    }
                }
                self.select_current(prompt.step, None);
                self.prompt = Some(PromptState {
                    prompt,
                    typed: String::new(),
                    wrong: false,
                    scroll: 0,
                    hidden: false,
                });
            }
            Event::Decided { step, decision, .. } => {
                if self.prompt.as_ref().is_some_and(|p| p.prompt.step == step) {
                    self.prompt = None;
                }
                for c in self.cells.get_mut(step).into_iter().flatten() {
                    if c.status == CellStatus::NeedsConfirm {
                        c.status = CellStatus::Pending;
                    }
                }
                match decision {
                    Decision::BreakLock { host } => {
                        let host = self.host_name(host);
                        self.status = Some(strings::decided(host, decision.as_str()));
                    }
                    Decision::Override | Decision::Abort => {
                        let step = self.step_id(step);
                        self.status = Some(strings::decided(step, decision.as_str()));
                    }
                    _ => {}
                }
                if self.waiting_until.is_some_and(|(s, _)| s == step) {
                    self.waiting_until = None;
                }
            }
            Event::Notice { step, text } => match step {
                Some(s) => {
                    for h in self.step_hosts(s).to_vec() {
                        self.pane_mut(s, h)
                            .push(Stream::Stderr, strings::notice_line(&text));
                    }
                }
                None => self.status = Some(text),
            },
            Event::LogFollowing { log } => self.on_ui(UiMsg::LogState {
                ix: log,
                state: LogState::Tailing,
            }),
            Event::LogLine { log, line } => self.on_ui(UiMsg::Log { ix: log, line }),
            Event::LogStopped { log, reason } => self.on_ui(UiMsg::LogState {
                ix: log,
                state: LogState::Ended(reason),
            }),
            Event::RollbackStarted => {
                self.rollback = true;
                self.waiting_until = None;
            }
            Event::RunFinished {
                status,
                exit_code,
                journal,
            } => {
                self.prompt = None;
                self.waiting_until = None;
                self.finished = Some(Finished {
                    status,
                    exit_code,
                    journal,
                });
                self.overlay = self.overlay.take().filter(|o| *o == Overlay::Help);
            }
        }
    }

    pub fn on_ui(&mut self, msg: UiMsg) {
        self.dirty = true;
        match msg {
            UiMsg::Log { ix, line } => {
                if let Some(l) = self.logs.get_mut(ix) {
                    l.pane.push(Stream::Stdout, line);
                }
            }
            UiMsg::LogState { ix, state } => {
                if let Some(l) = self.logs.get_mut(ix) {
                    l.state = state;
                }
            }
            UiMsg::Question(question, reply) => {
                // A newer question replaces one left unanswered; its asker gets a no.
                if let Some(old) = self.question.take() {
                    if let Some(r) = old.reply {
                        let _ = r.send(None);
                    }
                }
                self.question = Some(QuestionState {
                    question,
                    input: String::new(),
                    reply: Some(reply),
                });
            }
        }
    }

    fn set_conn(&mut self, host: usize, conn: Conn) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.conn = conn;
        }
    }

    fn cell_mut(&mut self, step: usize, host: usize) -> Option<&mut Cell> {
        self.cells.get_mut(step).and_then(|c| c.get_mut(host))
    }

    pub fn host_name(&self, host: usize) -> &str {
        self.plan.hosts.get(host).map_or("?", |h| h.name.as_str())
    }

    pub fn step_id(&self, step: usize) -> &str {
        self.plan.steps.get(step).map_or("?", |s| s.id.as_str())
    }

    /// The guard step currently waiting, if any.
    pub fn waiting_guard(&self) -> Option<usize> {
        let step = self.current?;
        let waiting = self
            .step_hosts(step)
            .iter()
            .any(|&h| self.cells[step][h].status == CellStatus::Waiting);
        (waiting && self.guards.contains_key(&step)).then_some(step)
    }

    // ---- input ---------------------------------------------------------

    /// Handle one key press; returns what the event loop must do.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        self.dirty = true;
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if self.question.is_some() {
            return self.question_key(key);
        }
        if let Some(overlay) = self.overlay.clone() {
            return self.overlay_key(overlay, key, ctrl_c);
        }
        if self.prompt.as_ref().is_some_and(|p| !p.hidden) && !ctrl_c {
            return self.prompt_key(key);
        }
        if let Some(input) = self.search_input.as_mut() {
            match key.code {
                KeyCode::Enter => {
                    let q = self.search_input.take().unwrap_or_default();
                    self.start_search(q);
                }
                KeyCode::Esc => self.search_input = None,
                KeyCode::Backspace => {
                    input.pop();
                }
                KeyCode::Char(c) => input.push(c),
                _ => {}
            }
            return None;
        }
        if self.finished.is_some() && !self.summary_hidden && key.code == KeyCode::Esc {
            self.summary_hidden = true;
            return None;
        }
        if key.code == KeyCode::Esc && self.finished.is_some() {
            self.summary_hidden = false;
            return None;
        }
        let intent = keys::intent(key)?;
        match intent {
            Intent::Up => self.move_by(-1),
            Intent::Down => self.move_by(1),
            Intent::PageUp => self.move_by(-(self.page() as isize)),
            Intent::PageDown => self.move_by(self.page() as isize),
            Intent::Top => self.go_top(),
            Intent::Bottom => self.go_end(),
            Intent::NextHost => self.switch_host(1),
            Intent::PrevHost => self.switch_host(-1),
            Intent::FocusNext => self.cycle_focus(true),
            Intent::FocusPrev => self.cycle_focus(false),
            Intent::Search => self.search_input = Some(String::new()),
            Intent::SearchNext => self.find(true),
            Intent::SearchPrev => self.find(false),
            Intent::Follow => self.go_end(),
            Intent::NextLog => self.next_log(),
            Intent::EnlargeLogs => self.toggle_logs(LogLayout::Enlarged),
            Intent::HideLogs => self.toggle_logs(LogLayout::Hidden),
            Intent::Answer => {
                if let Some(p) = self.prompt.as_mut() {
                    p.hidden = false;
                } else if self.finished.is_some() {
                    self.summary_hidden = false;
                }
            }
            Intent::Abort => {
                if self.run_in_progress() {
                    self.overlay = Some(Overlay::ConfirmAbort);
                }
            }
            Intent::Override => {
                if let Some(step) = self.waiting_guard() {
                    self.overlay = Some(Overlay::OverrideGuard {
                        step,
                        typed: String::new(),
                        wrong: false,
                    });
                }
            }
            Intent::Help => self.overlay = Some(Overlay::Help),
            Intent::Quit => return self.quit(),
        }
        None
    }

    fn quit(&mut self) -> Option<Command> {
        if self.run_in_progress() && !self.quitting {
            self.overlay = Some(Overlay::ConfirmQuit);
            None
        } else if self.run_in_progress() {
            Some(Command::ForceQuit)
        } else {
            Some(Command::Quit)
        }
    }

    fn question_key(&mut self, key: KeyEvent) -> Option<Command> {
        let q = self.question.as_mut()?;
        let answer = match (&q.question, key.code) {
            (Question::TrustHostKey { .. }, KeyCode::Char('y')) => Some(Some("yes".to_string())),
            (Question::TrustHostKey { .. }, KeyCode::Char('n') | KeyCode::Esc) => Some(None),
            (Question::Passphrase { .. }, KeyCode::Enter) => {
                Some(Some(std::mem::take(&mut q.input)))
            }
            (Question::Passphrase { .. }, KeyCode::Esc) => Some(None),
            (Question::Passphrase { .. }, KeyCode::Backspace) => {
                q.input.pop();
                None
            }
            (Question::Passphrase { .. }, KeyCode::Char(c)) => {
                q.input.push(c);
                None
            }
            _ => None,
        };
        if let Some(answer) = answer {
            if let Some(q) = self.question.take() {
                if let Some(reply) = q.reply {
                    let _ = reply.send(answer);
                }
            }
        }
        None
    }

    fn overlay_key(&mut self, overlay: Overlay, key: KeyEvent, ctrl_c: bool) -> Option<Command> {
        match overlay {
            Overlay::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
                ) {
                    self.overlay = None;
                }
                None
            }
            Overlay::ConfirmQuit => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.overlay = None;
                    self.quitting = true;
                    self.status = Some(strings::QUITTING.to_string());
                    Some(Command::Decide(Decision::Abort))
                }
                _ if ctrl_c => Some(Command::ForceQuit),
                KeyCode::Char('n') | KeyCode::Esc => {
                    self.overlay = None;
                    None
                }
                _ => None,
            },
            Overlay::ConfirmAbort => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.overlay = None;
                    Some(Command::Decide(Decision::Abort))
                }
                KeyCode::Char('n') | KeyCode::Esc => {
                    self.overlay = None;
                    None
                }
                _ => None,
            },
            Overlay::OverrideGuard {
                step, mut typed, ..
            } => match key.code {
                KeyCode::Esc => {
                    self.overlay = None;
                    None
                }
                KeyCode::Enter => {
                    if typed == self.step_id(step) {
                        self.overlay = None;
                        Some(Command::Decide(Decision::Override))
                    } else {
                        self.overlay = Some(Overlay::OverrideGuard {
                            step,
                            typed,
                            wrong: true,
                        });
                        None
                    }
                }
                KeyCode::Backspace => {
                    typed.pop();
                    self.overlay = Some(Overlay::OverrideGuard {
                        step,
                        typed,
                        wrong: false,
                    });
                    None
                }
                KeyCode::Char(c) => {
                    typed.push(c);
                    self.overlay = Some(Overlay::OverrideGuard {
                        step,
                        typed,
                        wrong: false,
                    });
                    None
                }
                _ => None,
            },
        }
    }

    fn prompt_key(&mut self, key: KeyEvent) -> Option<Command> {
        let step_id = self
            .prompt
            .as_ref()
            .map(|p| self.step_id(p.prompt.step).to_string())
            .unwrap_or_default();
        let p = self.prompt.as_mut()?;
        match key.code {
            KeyCode::Esc => {
                p.hidden = true;
                return None;
            }
            KeyCode::Up | KeyCode::Char('k') if !p.is_lock_break() => {
                p.scroll = p.scroll.saturating_sub(1);
                return None;
            }
            KeyCode::Down | KeyCode::Char('j') if !p.is_lock_break() => {
                p.scroll = p.scroll.saturating_add(1);
                return None;
            }
            KeyCode::PageUp => {
                p.scroll = p.scroll.saturating_sub(10);
                return None;
            }
            KeyCode::PageDown => {
                p.scroll = p.scroll.saturating_add(10);
                return None;
            }
            _ => {}
        }
        if p.is_lock_break() {
            match key.code {
                KeyCode::Enter if p.typed == step_id => {
                    return p.typed_answer().map(Command::Decide);
                }
                KeyCode::Enter => p.wrong = true,
                KeyCode::Backspace => {
                    p.typed.pop();
                    p.wrong = false;
                }
                KeyCode::Char(c) => {
                    p.typed.push(c);
                    p.wrong = false;
                }
                _ => {}
            }
            return None;
        }
        let decision = keys::answer(key.code)?;
        p.prompt
            .choices
            .contains(&decision)
            .then_some(Command::Decide(decision))
    }

    // ---- intents -------------------------------------------------------

    fn page(&self) -> usize {
        usize::from(self.size.1.saturating_sub(8)).max(1)
    }

    /// Height of the pane that has focus, for scrolling and search.
    pub fn pane_height(&self) -> usize {
        let area = ratatui::layout::Rect::new(0, 0, self.size.0, self.size.1);
        let areas = super::view::areas(self, area);
        let rect = match self.focus {
            Focus::Logs => areas.logs,
            _ => areas.output_text,
        };
        usize::from(rect.map_or(1, |r| r.height)).max(1)
    }

    fn focused_pane(&mut self) -> Option<&mut Pane> {
        match self.focus {
            Focus::Checklist | Focus::Output => {
                let host = self.shown_host()?;
                let step = self.selected;
                Some(self.pane_mut(step, host))
            }
            Focus::Logs => self.logs.get_mut(self.log_tab).map(|l| &mut l.pane),
        }
    }

    fn move_by(&mut self, delta: isize) {
        if self.focus == Focus::Checklist && self.mode == Mode::Run {
            let n = self.plan.steps.len();
            if n == 0 {
                return;
            }
            let next = (self.selected as isize + delta).clamp(0, n as isize - 1) as usize;
            if next != self.selected {
                self.selected = next;
                self.host_sel = 0;
            }
            self.auto_select = false;
            return;
        }
        let h = self.pane_height();
        if let Some(p) = self.focused_pane() {
            p.scroll(delta, h);
        }
    }

    fn go_top(&mut self) {
        if self.focus == Focus::Checklist && self.mode == Mode::Run {
            self.selected = 0;
            self.auto_select = false;
        } else if let Some(p) = self.focused_pane() {
            p.go_top();
        }
    }

    fn go_end(&mut self) {
        if self.focus == Focus::Checklist && self.mode == Mode::Run {
            // Back to following the run.
            self.auto_select = true;
            if let Some(c) = self.current {
                self.selected = c;
            }
        } else if let Some(p) = self.focused_pane() {
            p.go_end();
        }
    }

    fn switch_host(&mut self, delta: isize) {
        if self.focus == Focus::Logs {
            self.next_log_by(delta);
            return;
        }
        let n = self.step_hosts(self.selected).len();
        if n > 1 {
            self.host_sel = (self.host_sel as isize + delta).rem_euclid(n as isize) as usize;
        }
    }

    fn cycle_focus(&mut self, forward: bool) {
        if self.mode == Mode::Logs {
            return;
        }
        let logs = !self.logs.is_empty() && self.log_layout != LogLayout::Hidden;
        let order: &[Focus] = if logs {
            &[Focus::Checklist, Focus::Output, Focus::Logs]
        } else {
            &[Focus::Checklist, Focus::Output]
        };
        let pos = order.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = order.len();
        self.focus = order[if forward {
            (pos + 1) % n
        } else {
            (pos + n - 1) % n
        }];
    }

    fn start_search(&mut self, query: String) {
        let h = self.pane_height();
        let found = match self.focused_pane() {
            Some(p) => {
                p.query = (!query.is_empty()).then_some(query.clone());
                p.find(true, h)
            }
            None => false,
        };
        self.status = (!found && !query.is_empty()).then(|| strings::not_found(&query));
    }

    fn find(&mut self, forward: bool) {
        let h = self.pane_height();
        let found = self.focused_pane().is_some_and(|p| p.find(forward, h));
        if !found {
            self.status = Some(strings::NO_MATCH.into());
        } else {
            self.status = None;
        }
    }

    fn next_log(&mut self) {
        self.next_log_by(1);
    }

    fn next_log_by(&mut self, delta: isize) {
        let n = self.logs.len();
        if n > 0 {
            self.log_tab = (self.log_tab as isize + delta).rem_euclid(n as isize) as usize;
        }
    }

    fn toggle_logs(&mut self, layout: LogLayout) {
        if self.mode == Mode::Logs {
            return;
        }
        self.log_layout = if self.log_layout == layout {
            LogLayout::Normal
        } else {
            layout
        };
        if self.log_layout == LogLayout::Hidden && self.focus == Focus::Logs {
            self.focus = Focus::Output;
        }
    }
}
