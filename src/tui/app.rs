//! The TUI's state: plain data, changed by engine events and by intents.
//! Nothing here does I/O except answering a transport's question on its
//! one-shot reply channel. What each engine event changes is in
//! `app/events.rs`, key handling in `input.rs`, the state types in `state.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

mod events;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::hosts::HostOrder;
use super::pane::{DEFAULT_SCROLLBACK, Pane};
use super::state::{
    BatchView, Cell, CellStatus, Conn, DrawnSizes, Finished, Focus, GuardState, HostView, LockView,
    LogLayout, LogState, LogView, Mode, Overlay, QuestionState, ReadOnly, Reading, SudoState,
    Typing,
};
use crate::engine::{Decision, Prompt, PromptKind};
use crate::remote::{Question, Stream, SudoAnswer, SudoQuestion};
use crate::runbook::Plan;

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

/// A message from the TUI's own helpers (log tails, the transport's
/// questions, sudo's password question).
pub enum UiMsg {
    Log { ix: usize, line: String },
    LogState { ix: usize, state: LogState },
    Question(Question, oneshot::Sender<Option<String>>),
    SudoPassword(SudoQuestion, oneshot::Sender<Result<SudoAnswer, String>>),
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
    /// The hosts in natural order (h2 before h10), as every list shows them.
    pub order: HostOrder,
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
    pub sudo_question: Option<SudoState>,
    pub overlay: Option<Overlay>,
    /// How far the help is scrolled.
    pub help_scroll: u16,
    /// A search, a file name or a line for a running command, typed in the
    /// footer.
    pub typing: Option<Typing>,
    /// Wrapped or sideways, for the output pane and for the log pane.
    pub output_reading: Reading,
    pub log_reading: Reading,
    /// The focused part fills the screen.
    pub zoomed: bool,
    /// When the last two keys came (`None`: none yet), and since when keys
    /// to a window that opened while the admin was typing are taken as
    /// stray (see `input.rs`). A question that opens after a long quiet
    /// spell rings the bell.
    pub last_key: Option<Instant>,
    pub key_before: Option<Instant>,
    pub stray_keys_since: Option<Instant>,
    /// Whether a question was open when the bell was last considered.
    pub(super) was_asking: bool,
    /// The bell is to ring, with this to say: a command waits for input.
    pub bell_due: Option<String>,
    pub status: Option<String>,
    pub rollback: bool,
    /// The rolling block's batch in flight.
    pub batch: Option<BatchView>,
    pub finished: Option<Finished>,
    /// A signal stopped the run; the event loop leaves.
    pub interrupted: bool,
    pub summary_hidden: bool,
    /// The step picked in the summary.
    pub summary_step: usize,
    pub quitting: bool,
    /// Fed by a run's journal (`replay`, `watch`): nothing is answered.
    pub read_only: Option<ReadOnly>,
    /// How the last frame drew the parts that scroll: page sizes, limits, search.
    pub drawn: DrawnSizes,
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
                        exit: None,
                        note: None,
                        undo: None,
                        awaiting_input: false,
                        bell_rung: false,
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
                path: crate::sanitize::line(
                    &plan
                        .render(&l.path, l.host, &crate::runbook::RunVars::default())
                        .unwrap_or_else(|e| format!("<{e}>")),
                )
                .into_owned(),
                highlight: l.highlight.iter().map(|h| h.to_lowercase()).collect(),
                pane: Pane::new(DEFAULT_SCROLLBACK),
                state: LogState::Connecting,
            })
            .collect();
        Self {
            order: HostOrder::new(&plan),
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
            sudo_question: None,
            overlay: None,
            help_scroll: 0,
            typing: None,
            output_reading: Reading::default(),
            log_reading: Reading::default(),
            zoomed: false,
            last_key: None,
            key_before: None,
            stray_keys_since: None,
            was_asking: false,
            bell_due: None,
            status: None,
            rollback: false,
            batch: None,
            finished: None,
            interrupted: false,
            summary_hidden: false,
            summary_step: 0,
            quitting: false,
            read_only: None,
            drawn: DrawnSizes::default(),
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

    /// A run this screen drives is going on (leaving it aborts the run).
    pub fn run_in_progress(&self) -> bool {
        self.mode == Mode::Run && self.finished.is_none() && self.read_only.is_none()
    }

    /// Hosts a step runs on, as indices into the plan, in natural order.
    pub fn step_hosts(&self, step: usize) -> &[usize] {
        self.order.step(step)
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

    pub(super) fn pane_mut(&mut self, step: usize, host: usize) -> &mut Pane {
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
            if let Some(h) = host
                && let Some(pos) = self.step_hosts(step).iter().position(|&x| x == h)
            {
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
                if let Some(old) = self.question.take()
                    && let Some(r) = old.reply
                {
                    let _ = r.send(None);
                }
                self.question = Some(QuestionState::new(question, reply));
                self.window_opened(Instant::now());
            }
            UiMsg::SudoPassword(question, reply) => self.open_sudo_question(question, reply),
        }
    }

    /// A step outside the rolling block whose batch is shown: the block is over.
    fn leave_batch_unless(&mut self, step: usize) {
        let label = self.plan.steps.get(step).and_then(|s| s.rolling.as_ref());
        if self.batch.as_ref().is_some_and(|b| Some(&b.label) != label) {
            self.batch = None;
        }
    }

    fn set_conn(&mut self, host: usize, conn: Conn) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.conn = conn;
        }
    }

    pub(super) fn cell_mut(&mut self, step: usize, host: usize) -> Option<&mut Cell> {
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
}
