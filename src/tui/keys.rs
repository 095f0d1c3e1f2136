//! Every key binding, listed once: the help overlay and the footer are drawn
//! from these tables, and input maps keys to intents through them.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What the admin wants, independent of the key that said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextHost,
    PrevHost,
    FocusNext,
    FocusPrev,
    Search,
    SearchNext,
    SearchPrev,
    Follow,
    NextLog,
    EnlargeLogs,
    HideLogs,
    Answer,
    Abort,
    Override,
    Help,
    Quit,
}

pub struct Binding {
    pub keys: &'static str,
    pub intent: Intent,
    pub help: &'static str,
    /// The footer's word for it.
    pub short: &'static str,
    /// Shown in the footer too (the footer has room for a few).
    pub footer: bool,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "↑/k ↓/j",
        intent: Intent::Down,
        help: "move in the focused pane",
        short: "move",
        footer: true,
    },
    Binding {
        keys: "PgUp/PgDn ^u/^d",
        intent: Intent::PageDown,
        help: "scroll a page",
        short: "page",
        footer: false,
    },
    Binding {
        keys: "g/Home G/End",
        intent: Intent::Bottom,
        help: "top / end (end resumes follow)",
        short: "top/end",
        footer: false,
    },
    Binding {
        keys: "Tab/S-Tab",
        intent: Intent::FocusNext,
        help: "focus next / previous pane",
        short: "focus",
        footer: true,
    },
    Binding {
        keys: "←/h →/l",
        intent: Intent::NextHost,
        help: "output of previous / next host",
        short: "host",
        footer: true,
    },
    Binding {
        keys: "/",
        intent: Intent::Search,
        help: "search the focused pane",
        short: "search",
        footer: true,
    },
    Binding {
        keys: "n/N",
        intent: Intent::SearchNext,
        help: "next / previous match",
        short: "match",
        footer: false,
    },
    Binding {
        keys: "f",
        intent: Intent::Follow,
        help: "follow the end of the focused pane",
        short: "follow",
        footer: false,
    },
    Binding {
        keys: "t",
        intent: Intent::NextLog,
        help: "next log tab",
        short: "log tab",
        footer: false,
    },
    Binding {
        keys: "L",
        intent: Intent::EnlargeLogs,
        help: "enlarge / shrink the log pane",
        short: "enlarge logs",
        footer: false,
    },
    Binding {
        keys: "H",
        intent: Intent::HideLogs,
        help: "hide / show the log pane",
        short: "hide logs",
        footer: false,
    },
    Binding {
        keys: "Enter",
        intent: Intent::Answer,
        help: "open the question the run is waiting on",
        short: "answer",
        footer: true,
    },
    Binding {
        keys: "a",
        intent: Intent::Abort,
        help: "abort the run (asks first)",
        short: "abort",
        footer: false,
    },
    Binding {
        keys: "o",
        intent: Intent::Override,
        help: "override a waiting guard (type the step id)",
        short: "override",
        footer: false,
    },
    Binding {
        keys: "?",
        intent: Intent::Help,
        help: "this help",
        short: "help",
        footer: true,
    },
    Binding {
        keys: "q",
        intent: Intent::Quit,
        help: "quit (asks first while a run is going)",
        short: "quit",
        footer: true,
    },
];

/// Keys inside the questions the run asks; listed in help and in each modal.
pub const MODAL_BINDINGS: &[(&str, &str)] = &[
    (
        "y",
        "run the step (at a gate, an undo, an always step) / done (manual)",
    ),
    ("s", "skip the step / leave it (during a rollback)"),
    ("r", "retry the failed step"),
    ("u", "run the failed step's undo"),
    ("a", "abort the run; the undo steps are offered next"),
    (
        "Esc",
        "close the question to look around; Enter opens it again",
    ),
];

/// Map a key press to an intent; `None` for keys with no meaning here.
pub fn intent(key: KeyEvent) -> Option<Intent> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => Intent::Up,
        KeyCode::Down | KeyCode::Char('j') => Intent::Down,
        KeyCode::PageUp => Intent::PageUp,
        KeyCode::PageDown => Intent::PageDown,
        KeyCode::Char('u') if ctrl => Intent::PageUp,
        KeyCode::Char('d') if ctrl => Intent::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Intent::Top,
        KeyCode::End | KeyCode::Char('G') => Intent::Bottom,
        KeyCode::Left | KeyCode::Char('h') => Intent::PrevHost,
        KeyCode::Right | KeyCode::Char('l') => Intent::NextHost,
        KeyCode::Tab => Intent::FocusNext,
        KeyCode::BackTab => Intent::FocusPrev,
        KeyCode::Char('/') => Intent::Search,
        KeyCode::Char('n') => Intent::SearchNext,
        KeyCode::Char('N') => Intent::SearchPrev,
        KeyCode::Char('f') => Intent::Follow,
        KeyCode::Char('t') => Intent::NextLog,
        KeyCode::Char('L') => Intent::EnlargeLogs,
        KeyCode::Char('H') => Intent::HideLogs,
        KeyCode::Enter => Intent::Answer,
        KeyCode::Char('a') => Intent::Abort,
        KeyCode::Char('o') => Intent::Override,
        KeyCode::Char('?') | KeyCode::F(1) => Intent::Help,
        KeyCode::Char('q') => Intent::Quit,
        KeyCode::Char('c') if ctrl => Intent::Quit,
        _ => return None,
    })
}
