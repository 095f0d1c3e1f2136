//! Every key binding, listed once: the help overlay and the footer are drawn
//! from these tables, and input maps keys to intents through them.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::engine::Decision;

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
    PickHost,
    FocusNext,
    FocusPrev,
    Search,
    SearchNext,
    SearchPrev,
    Follow,
    Wrap,
    SidewaysLeft,
    SidewaysRight,
    Zoom,
    Select,
    Copy,
    Save,
    NextLog,
    EnlargeLogs,
    HideLogs,
    Answer,
    Abort,
    Override,
    Type,
    Help,
    Quit,
}

/// One key that says an intent.
pub struct Key {
    pub code: KeyCode,
    /// With Control held (Ctrl-D, Ctrl-U, Ctrl-C).
    pub ctrl: bool,
    pub intent: Intent,
}

const fn key(code: KeyCode, intent: Intent) -> Key {
    Key {
        code,
        ctrl: false,
        intent,
    }
}

const fn ch(c: char, intent: Intent) -> Key {
    key(KeyCode::Char(c), intent)
}

const fn ctrl(c: char, intent: Intent) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
        intent,
    }
}

/// A line of the help: the keys as shown, what they do, and the keys themselves.
pub struct Binding {
    pub label: &'static str,
    pub help: &'static str,
    /// The footer's word for it.
    pub short: &'static str,
    /// Shown in the footer too (the footer has room for a few).
    pub footer: bool,
    pub keys: &'static [Key],
}

use Intent as I;

pub const BINDINGS: &[Binding] = &[
    Binding {
        label: "↑/k ↓/j",
        help: "move in the focused pane",
        short: "move",
        footer: true,
        keys: &[
            key(KeyCode::Up, I::Up),
            ch('k', I::Up),
            key(KeyCode::Down, I::Down),
            ch('j', I::Down),
        ],
    },
    Binding {
        label: "PgUp/PgDn ^u/^d",
        help: "scroll a page",
        short: "page",
        footer: false,
        keys: &[
            key(KeyCode::PageUp, I::PageUp),
            key(KeyCode::PageDown, I::PageDown),
            ctrl('u', I::PageUp),
            ctrl('d', I::PageDown),
        ],
    },
    Binding {
        label: "g/Home G/End",
        help: "top / end (end: follow again, or the running step)",
        short: "top/end",
        footer: false,
        keys: &[
            key(KeyCode::Home, I::Top),
            ch('g', I::Top),
            key(KeyCode::End, I::Bottom),
            ch('G', I::Bottom),
        ],
    },
    Binding {
        label: "Tab/S-Tab",
        help: "focus the next / previous pane",
        short: "focus",
        footer: true,
        keys: &[
            key(KeyCode::Tab, I::FocusNext),
            key(KeyCode::BackTab, I::FocusPrev),
        ],
    },
    Binding {
        label: "←/h →/l",
        help: "previous / next host (in the log pane: log tab)",
        short: "host",
        footer: true,
        keys: &[
            key(KeyCode::Left, I::PrevHost),
            ch('h', I::PrevHost),
            key(KeyCode::Right, I::NextHost),
            ch('l', I::NextHost),
        ],
    },
    Binding {
        label: "p",
        help: "pick a host by typing its name (Tab: the next failed)",
        short: "pick host",
        footer: false,
        keys: &[ch('p', I::PickHost)],
    },
    Binding {
        label: "/",
        help: "search the focused pane",
        short: "search",
        footer: true,
        keys: &[ch('/', I::Search)],
    },
    Binding {
        label: "n/N",
        help: "next / previous match (counted in the footer)",
        short: "match",
        footer: false,
        keys: &[ch('n', I::SearchNext), ch('N', I::SearchPrev)],
    },
    Binding {
        label: "w",
        help: "wrap long lines in the focused pane, or cut them again",
        short: "wrap",
        footer: true,
        keys: &[ch('w', I::Wrap)],
    },
    Binding {
        label: "< >",
        help: "scroll the focused pane sideways (lines not wrapped)",
        short: "sideways",
        footer: false,
        keys: &[ch('<', I::SidewaysLeft), ch('>', I::SidewaysRight)],
    },
    Binding {
        label: "z",
        help: "zoom the focused pane to the whole screen, and back",
        short: "zoom",
        footer: true,
        keys: &[ch('z', I::Zoom)],
    },
    Binding {
        label: "f",
        help: "follow the run: its running step, its output's end",
        short: "follow",
        footer: false,
        keys: &[ch('f', I::Follow)],
    },
    Binding {
        label: "v",
        help: "select lines (j/k extend, C or S take them, Esc stops)",
        short: "select",
        footer: false,
        keys: &[ch('v', I::Select)],
    },
    Binding {
        label: "C",
        help: "copy the selected lines (else the pane) to the clipboard",
        short: "copy",
        footer: false,
        keys: &[ch('C', I::Copy)],
    },
    Binding {
        label: "S",
        help: "save the selected lines (else the pane) to a file",
        short: "save",
        footer: false,
        keys: &[ch('S', I::Save)],
    },
    Binding {
        label: "t",
        help: "next log tab",
        short: "log tab",
        footer: false,
        keys: &[ch('t', I::NextLog)],
    },
    Binding {
        label: "L",
        help: "enlarge / shrink the log pane",
        short: "enlarge logs",
        footer: false,
        keys: &[ch('L', I::EnlargeLogs)],
    },
    Binding {
        label: "H",
        help: "hide / show the log pane",
        short: "hide logs",
        footer: false,
        keys: &[ch('H', I::HideLogs)],
    },
    Binding {
        label: "Enter",
        help: "open the question the run is waiting on",
        short: "answer",
        footer: true,
        keys: &[key(KeyCode::Enter, I::Answer)],
    },
    Binding {
        label: "a",
        help: "abort the run (asks first)",
        short: "abort",
        footer: false,
        keys: &[ch('a', I::Abort)],
    },
    Binding {
        label: "o",
        help: "override a waiting guard (type the step id)",
        short: "override",
        footer: false,
        keys: &[ch('o', I::Override)],
    },
    Binding {
        label: "i",
        help: "type into the shown host's running command (pty steps)",
        short: "type",
        footer: false,
        keys: &[ch('i', I::Type)],
    },
    Binding {
        label: "?",
        help: "this help",
        short: "help",
        footer: true,
        keys: &[ch('?', I::Help), key(KeyCode::F(1), I::Help)],
    },
    Binding {
        label: "q ^c",
        help: "quit (asks first during a run; ^c twice: at once)",
        short: "quit",
        footer: true,
        keys: &[ch('q', I::Quit), ctrl('c', I::Quit)],
    },
];

/// The answers to the run's questions: the key, the decision, and what it means.
pub const ANSWERS: &[(char, Decision, &str)] = &[
    (
        'y',
        Decision::Run,
        "run the step (gate, undo, always) / done (by hand)",
    ),
    (
        's',
        Decision::Skip,
        "skip the step / leave it (in a rollback)",
    ),
    (
        's',
        Decision::Leave,
        "leave an undo or always step (in a rollback)",
    ),
    (
        'r',
        Decision::Retry,
        "retry the failed step (or the journal write)",
    ),
    ('u', Decision::Undo, "run the failed step's undo"),
    ('w', Decision::Wait, "wait for a command still running"),
    ('k', Decision::Kill, "kill a command still running"),
    (
        'a',
        Decision::Abort,
        "abort the run; the undo steps are offered next",
    ),
];

/// The other keys inside a question.
pub const QUESTION_KEYS: &[(&str, &str)] = &[
    ("Esc", "look around; Enter opens the question again"),
    ("j/k PgUp/PgDn", "scroll a long question"),
    ("g/Home G/End", "its top / its end"),
    ("? F1", "this help, the question's own keys first"),
];

/// The keys inside the help.
pub const HELP_KEYS: &[(&str, &str)] = &[
    ("j/k PgUp/PgDn", "scroll this help"),
    ("g/Home G/End", "its top / its end"),
    ("Esc ? q Enter", "close it"),
];

/// The keys that answer or act on a run (the answers, abort, override,
/// input): a replay or a watch says it is read-only instead.
pub const ANSWERING: &[char] = &['y', 's', 'r', 'u', 'a', 'o', 'i'];

/// Where a replay goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    NextEvent,
    PrevEvent,
    NextStep,
    PrevStep,
    /// The run as it was when this step (its index) last had something recorded.
    ToStep(usize),
    Start,
    End,
    /// Play from here at the recorded pace (pauses shortened), or pause.
    Play,
}

/// What a replay key does: go somewhere, or ask for a step id first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayKey {
    Go(Move),
    AskStep,
}

/// A replay's key: what it does, and its words in the footer and the help.
pub struct ReplayBinding {
    pub key: char,
    pub label: &'static str,
    pub what: ReplayKey,
    pub short: &'static str,
    pub help: &'static str,
}

const fn replay(
    key: char,
    label: &'static str,
    what: ReplayKey,
    short: &'static str,
    help: &'static str,
) -> ReplayBinding {
    ReplayBinding {
        key,
        label,
        what,
        short,
        help,
    }
}

/// The replay's keys, shown in the help and the footer of a replay. None
/// of them is bound in the main table.
pub const REPLAY_KEYS: &[ReplayBinding] = &[
    replay(
        '.',
        ".",
        ReplayKey::Go(Move::NextEvent),
        "next",
        "next recorded event",
    ),
    replay(
        ',',
        ",",
        ReplayKey::Go(Move::PrevEvent),
        "back",
        "previous recorded event",
    ),
    replay(
        ']',
        "]",
        ReplayKey::Go(Move::NextStep),
        "step",
        "next step's start",
    ),
    replay(
        '[',
        "[",
        ReplayKey::Go(Move::PrevStep),
        "step back",
        "previous step's start",
    ),
    replay(
        ':',
        ":",
        ReplayKey::AskStep,
        "go to step",
        "go to a step (type its id): the run as that step ended",
    ),
    replay(
        ' ',
        "Space",
        ReplayKey::Go(Move::Play),
        "play",
        "play from here at the recorded pace (pauses cut to 1 s) / pause",
    ),
    replay(
        '(',
        "(",
        ReplayKey::Go(Move::Start),
        "start",
        "the run's start",
    ),
    replay(')', ")", ReplayKey::Go(Move::End), "end", "the run's end"),
];

/// What a key does in a replay.
pub fn replay_key(c: char) -> Option<ReplayKey> {
    REPLAY_KEYS.iter().find(|b| b.key == c).map(|b| b.what)
}

/// The key that gives `decision` in a question.
pub fn answer_key(decision: Decision) -> Option<char> {
    ANSWERS
        .iter()
        .find(|(_, d, _)| *d == decision)
        .map(|(c, _, _)| *c)
}

/// What a key answers in the questions that offer it.
pub fn meaning(code: KeyCode) -> Option<Decision> {
    ANSWERS
        .iter()
        .find(|(c, _, _)| code == KeyCode::Char(*c))
        .map(|(_, d, _)| *d)
}

/// The decision a key gives in a question that offers `choices`.
pub fn answer(code: KeyCode, choices: &[Decision]) -> Option<Decision> {
    ANSWERS
        .iter()
        .find(|(c, d, _)| code == KeyCode::Char(*c) && choices.contains(d))
        .map(|(_, d, _)| *d)
}

/// Map a key press to an intent; `None` for keys with no meaning here.
pub fn intent(key: KeyEvent) -> Option<Intent> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    BINDINGS
        .iter()
        .flat_map(|b| b.keys.iter())
        .find(|k| k.code == key.code && k.ctrl == ctrl)
        .map(|k| k.intent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice() {
        let all: Vec<(KeyCode, bool)> = BINDINGS
            .iter()
            .flat_map(|b| b.keys.iter())
            .map(|k| (k.code, k.ctrl))
            .collect();
        for (i, k) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(k), "{k:?} is bound twice");
        }
    }

    #[test]
    fn replay_and_answering_keys_are_bound_to_nothing_else() {
        let press = |c| intent(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        for b in REPLAY_KEYS {
            assert_eq!(press(b.key), None, "{:?} is bound in the main table", b.key);
            assert!(!ANSWERING.contains(&b.key), "{:?} answers too", b.key);
        }
        for c in ANSWERING {
            assert!(
                matches!(
                    press(*c),
                    None | Some(Intent::Abort | Intent::Override | Intent::Type)
                ),
                "{c:?} does something else besides answering"
            );
        }
    }

    #[test]
    fn vim_keys_and_arrows_agree() {
        let press = |code| intent(KeyEvent::new(code, KeyModifiers::NONE));
        assert_eq!(press(KeyCode::Char('j')), press(KeyCode::Down));
        assert_eq!(press(KeyCode::Char('k')), press(KeyCode::Up));
        assert_eq!(press(KeyCode::Char('h')), press(KeyCode::Left));
        assert_eq!(press(KeyCode::Char('l')), press(KeyCode::Right));
        assert_eq!(
            intent(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Intent::Quit)
        );
        assert_eq!(press(KeyCode::Char('c')), None);
    }
}
