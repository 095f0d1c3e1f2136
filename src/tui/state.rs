//! The TUI's plain state types: what each step, host, pane and window is in.
//! Data only; the `App` in `app.rs` holds them and changes them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::pane::Pane;
use super::strings;
use crate::journal::{Outcome, RunStatus};
use crate::remote::Question;

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
    /// Could not be connected or used: the cause in a few words, and the
    /// whole message.
    Failed {
        cause: String,
        error: String,
    },
    /// The connection ended during the run; why. The next command connects again.
    Lost(String),
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

impl QuestionState {
    /// A transport's question, its names cleaned for the screen.
    pub fn new(question: Question, reply: oneshot::Sender<Option<String>>) -> Self {
        let clean = |s: String| crate::sanitize::line(&s).into_owned();
        let question = match question {
            Question::TrustHostKey {
                host,
                key_type,
                fingerprint,
            } => Question::TrustHostKey {
                host: clean(host),
                key_type: clean(key_type),
                fingerprint: clean(fingerprint),
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

/// The heights the last frame gave the parts that scroll, recorded by the
/// view while it draws (as gitui's `VerticalScroll` does) and read by key
/// handling for page sizes and search: the state never works out the layout.
/// Until the first frame every height is 0, which readers take as 1.
#[derive(Debug, Default)]
pub struct DrawnHeights {
    // std's `Cell`: drawing has only `&App`.
    checklist_steps: std::cell::Cell<u16>,
    output: std::cell::Cell<u16>,
    logs: std::cell::Cell<u16>,
}

impl DrawnHeights {
    /// Steps the checklist shows at once.
    pub fn checklist_steps(&self) -> usize {
        usize::from(self.checklist_steps.get()).max(1)
    }

    /// Lines of output shown, below any guard or banner-wait panel.
    pub fn output(&self) -> usize {
        usize::from(self.output.get()).max(1)
    }

    /// Lines of the log pane shown, below its tabs.
    pub fn logs(&self) -> usize {
        usize::from(self.logs.get()).max(1)
    }

    pub fn record_checklist_steps(&self, steps: usize) {
        self.checklist_steps
            .set(u16::try_from(steps).unwrap_or(u16::MAX));
    }

    pub fn record_output(&self, lines: u16) {
        self.output.set(lines);
    }

    pub fn record_logs(&self, lines: u16) {
        self.logs.set(lines);
    }
}
