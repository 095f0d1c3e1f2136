//! The TUI's plain state types: what each step, host, pane and window is in.
//! Data only; the `App` in `app.rs` holds them and changes them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::pane::Pane;
use super::strings;
use crate::engine::{HostIx, NotDone, StepIx};
use crate::journal::{Outcome, RunStatus};
use crate::remote::{ExitStatus, Question, SudoAnswer, SudoQuestion};

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

    /// The step did not do its work there: failed, timed out, lost, unknown.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::Failed | Self::Timeout | Self::Lost | Self::Unknown
        )
    }
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub status: CellStatus,
    pub started: Option<Instant>,
    pub duration: Option<Duration>,
    /// How the step's command ended, when it ran one.
    pub exit: Option<ExitStatus>,
    pub note: Option<String>,
    /// How this step's undo went, when the rollback ran it.
    pub undo: Option<CellStatus>,
    /// Its command shows a prompt and waits, most likely for input.
    pub awaiting_input: bool,
    /// The bell rang for this command already.
    pub bell_rung: bool,
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
    /// Waits for its turn: only so many connections are opened at once.
    Queued,
    Connecting,
    Connected,
    /// Could not be connected or used: the cause in a few words, and the
    /// whole message.
    Failed {
        cause: String,
        error: String,
    },
    /// The connection ended during the run; why. The next command connects again.
    Lost(String),
}

/// The batch of hosts a rolling block is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchView {
    pub label: String,
    /// 1-based.
    pub batch: usize,
    pub batches: usize,
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
    /// Find a host of a step by typing part of its name.
    PickHost(HostPicker),
}

/// The host picker: a step's hosts, those whose names hold `filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPicker {
    pub step: usize,
    pub filter: String,
    /// Place among the hosts that match.
    pub cursor: usize,
}

pub struct QuestionState {
    pub question: Question,
    pub input: String,
    pub reply: Option<oneshot::Sender<Option<String>>>,
}

impl QuestionState {
    /// A transport's question, its names cleaned for the screen.
    pub fn new(question: Question, reply: oneshot::Sender<Option<String>>) -> Self {
        let clean = |s: String| crate::sanitize::line(&s).into_owned();
        let question = match question {
            Question::TrustHostKey {
                host,
                address,
                key_type,
                fingerprint,
                known_hosts,
            } => Question::TrustHostKey {
                host: clean(host),
                address: clean(address),
                key_type: clean(key_type),
                fingerprint: clean(fingerprint),
                known_hosts: clean(known_hosts),
            },
            Question::Passphrase { host, key_path } => Question::Passphrase {
                host: clean(host),
                key_path: clean(key_path),
            },
        };
        Self {
            question,
            input: String::new(),
            reply: Some(reply),
        }
    }
}

/// sudo's password question, asked while a command waits for it.
pub struct SudoState {
    pub question: SudoQuestion,
    /// Never drawn, not even its length.
    pub input: String,
    pub every_host: bool,
    pub reply: Option<oneshot::Sender<Result<SudoAnswer, String>>>,
}

impl SudoState {
    /// The engine stopped waiting (the command was cancelled).
    pub fn abandoned(&self) -> bool {
        self.reply.as_ref().is_none_or(oneshot::Sender::is_closed)
    }
}

/// The line the admin types into a running command (`i`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputLine {
    pub step: StepIx,
    pub host: HostIx,
    pub text: String,
    /// Not drawn, and a secret for the engine.
    pub masked: bool,
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub status: RunStatus,
    pub exit_code: i32,
    pub journal: Option<PathBuf>,
    /// Every step not done on a host, and why.
    pub not_done: Vec<NotDone>,
    /// When the run ended: its questions and its rollback took time too.
    pub at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A run: checklist, output, logs.
    Run,
    /// `drydock logs`: only the log pane.
    Logs,
}

/// How the admin reads a pane (the output pane, the log pane): wrapped, or
/// cut at the edge and scrolled sideways. It stays as the shown step changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    pub wrap: bool,
    /// Columns scrolled sideways, when not wrapped.
    pub sideways: usize,
}

/// A line being typed in the footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typing {
    Search(String),
    /// Where to save the focused pane's text.
    SavePath(String),
    /// A line for the running command of a host (`i`).
    Input(InputLine),
    /// The step a replay goes to.
    Step(String),
}

/// Where a read-only screen's events come from: a past run's journal, or
/// the journal of a run going on (another admin's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Replay,
    Watch,
}

/// A screen fed by a run's journal rather than by its engine: nothing is
/// answered from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOnly {
    pub source: Source,
    /// Why the checklist is the journal's steps rather than the runbook's.
    pub no_runbook: Option<crate::report::plan::NoRunbook>,
    /// Replay: the recorded events shown so far, of how many.
    pub shown: usize,
    pub of: usize,
    pub playing: bool,
}

/// What the last frame drew of one pane's text.
#[derive(Debug, Default)]
pub struct DrawnPane {
    rows: std::cell::Cell<u16>,
    /// Columns for the text, right of the gutter.
    columns: std::cell::Cell<u16>,
    /// The widest line on screen, in columns.
    widest: std::cell::Cell<usize>,
}

impl DrawnPane {
    /// Rows of text shown; until the first frame 0, taken as 1.
    pub fn rows(&self) -> usize {
        usize::from(self.rows.get()).max(1)
    }

    pub fn columns(&self) -> usize {
        usize::from(self.columns.get()).max(1)
    }

    pub fn widest(&self) -> usize {
        self.widest.get()
    }

    pub fn record(&self, rows: u16, columns: u16, widest: usize) {
        self.rows.set(rows);
        self.columns.set(columns);
        self.widest.set(widest);
    }
}

/// A window's text that may not fit: the rows shown and how many there are.
#[derive(Debug, Default)]
pub struct DrawnScroll {
    shown: std::cell::Cell<u16>,
    total: std::cell::Cell<u16>,
}

impl DrawnScroll {
    pub fn shown(&self) -> u16 {
        self.shown.get().max(1)
    }

    /// The furthest the text scrolls: its last row on the bottom row.
    pub fn max_scroll(&self) -> u16 {
        self.total.get().saturating_sub(self.shown())
    }

    pub fn record(&self, shown: u16, total: usize) {
        self.shown.set(shown);
        self.total.set(u16::try_from(total).unwrap_or(u16::MAX));
    }
}

/// The sizes the last frame gave the parts that scroll, recorded by the
/// view while it draws (as gitui's `VerticalScroll` does) and read by key
/// handling for page sizes, scrolling limits and search: the state never
/// works out the layout.
#[derive(Debug, Default)]
pub struct DrawnSizes {
    // std's `Cell`: drawing has only `&App`.
    checklist_steps: std::cell::Cell<u16>,
    pub output: DrawnPane,
    pub logs: DrawnPane,
    pub help: DrawnScroll,
    pub prompt: DrawnScroll,
    /// The host picker's list.
    pub picker: DrawnScroll,
    /// Steps the summary shows at once.
    summary_steps: std::cell::Cell<u16>,
}

impl DrawnSizes {
    /// Steps the checklist shows at once.
    pub fn checklist_steps(&self) -> usize {
        usize::from(self.checklist_steps.get()).max(1)
    }

    pub fn record_checklist_steps(&self, steps: usize) {
        self.checklist_steps
            .set(u16::try_from(steps).unwrap_or(u16::MAX));
    }

    /// Steps the summary shows at once.
    pub fn summary_steps(&self) -> usize {
        usize::from(self.summary_steps.get()).max(1)
    }

    pub fn record_summary_steps(&self, steps: usize) {
        self.summary_steps
            .set(u16::try_from(steps).unwrap_or(u16::MAX));
    }
}
