//! Key handling: what each key does to the `App`, and what the event loop
//! must do after it. An open window (help, question, sudo's password,
//! overlay, prompt) takes every key. The panes' intents are in `reading.rs`;
//! the keys of the line typed into a command and of sudo's window in
//! `typing.rs`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::App;
use super::keys::{self, Intent};
use super::state::{DrawnScroll, Focus, LogLayout, Mode, Overlay, Typing};
use super::strings;
use crate::engine::{Decision, PromptKind, TypedInput};
use crate::remote::Question;

/// A window that opens while the admin is typing takes no key until the
/// typing has paused this long: keys meant for something else (a password
/// typed into the wrong place) answer nothing.
pub const STRAY_KEYS: Duration = Duration::from_millis(500);

/// What the event loop must do after a key.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    Decide(Decision),
    /// Type into a running command.
    Type(TypedInput),
    Quit,
    /// Leave now: the engine gets no more answers (every further question is
    /// taken as abort), and drydock exits when it has wound down.
    ForceQuit,
    /// Bytes for the terminal itself (the clipboard's sequence).
    Write(Vec<u8>),
    /// Write `text` to a new file at `path` and tell the app how it went.
    Save {
        path: PathBuf,
        text: String,
        lines: usize,
    },
    /// Move a replay.
    Replay(keys::Move),
}

impl std::fmt::Debug for Command {
    // Never the text itself: it may be pages long, and it goes to the log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Decide(d) => write!(f, "Decide({d:?})"),
            Self::Type(input) => write!(f, "Type({input:?})"),
            Self::Quit => f.write_str("Quit"),
            Self::ForceQuit => f.write_str("ForceQuit"),
            Self::Write(bytes) => write!(f, "Write({} bytes)", bytes.len()),
            Self::Save { path, lines, .. } => write!(f, "Save({}, {lines} lines)", path.display()),
            Self::Replay(m) => write!(f, "Replay({m:?})"),
        }
    }
}

/// Scroll a window's text (the help, a question) for `key`; returns whether
/// the key was one of scrolling. `letters`: j/k/g/G scroll too (not while
/// the window takes typed text).
fn scroll_window(scroll: &mut u16, key: KeyEvent, letters: bool, drawn: &DrawnScroll) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let page = drawn.shown().saturating_sub(1).max(1);
    let max = drawn.max_scroll();
    let to = match key.code {
        KeyCode::Char('u') if ctrl => scroll.saturating_sub(page),
        KeyCode::Char('d') if ctrl => scroll.saturating_add(page),
        _ if ctrl => return false,
        KeyCode::Up => scroll.saturating_sub(1),
        KeyCode::Down => scroll.saturating_add(1),
        KeyCode::PageUp => scroll.saturating_sub(page),
        KeyCode::PageDown => scroll.saturating_add(page),
        KeyCode::Home => 0,
        KeyCode::End => max,
        KeyCode::Char('k') if letters => scroll.saturating_sub(1),
        KeyCode::Char('j') if letters => scroll.saturating_add(1),
        KeyCode::Char('g') if letters => 0,
        KeyCode::Char('G') if letters => max,
        _ => return false,
    };
    *scroll = to.min(max);
    true
}

impl App {
    /// Handle one key press; returns what the event loop must do.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        self.on_key_at(key, Instant::now())
    }

    /// [`App::on_key`] for a key pressed `at`.
    pub fn on_key_at(&mut self, key: KeyEvent, at: Instant) -> Option<Command> {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        let stray = !ctrl_c
            && self.window_is_open()
            && self
                .stray_keys_since
                .is_some_and(|since| at.saturating_duration_since(since) < STRAY_KEYS);
        self.key_before = self.last_key;
        self.last_key = Some(at);
        if stray {
            // The typing goes on: so does the guard.
            self.stray_keys_since = Some(at);
            tracing::debug!("key ignored: the window opened while keys were being typed");
            return None;
        }
        self.stray_keys_since = None;
        let command = self.key_command(key, ctrl_c);
        if let Some(command) = &command {
            tracing::debug!(?command, "key handled");
        }
        command
    }

    /// A question or confirmation that takes every key is open.
    fn window_is_open(&self) -> bool {
        self.question.is_some()
            || self.sudo_question.is_some()
            || self.overlay.is_some()
            || self.prompt.as_ref().is_some_and(|p| !p.hidden)
    }

    /// A window opened `at`, while the admin was typing or not: when a key
    /// came just before, the keys of its first moments are stray.
    pub(super) fn window_opened(&mut self, at: Instant) {
        let typing = self
            .last_key
            .is_some_and(|k| at.saturating_duration_since(k) < STRAY_KEYS);
        self.stray_keys_since = typing.then_some(at);
    }

    /// A window opened by the key just pressed: stray keys follow when the
    /// key before it came just before (the admin was typing, and this key
    /// was part of it).
    fn window_opened_by_key(&mut self) {
        let typing = match (self.key_before, self.last_key) {
            (Some(before), Some(last)) => last.saturating_duration_since(before) < STRAY_KEYS,
            _ => false,
        };
        self.stray_keys_since = if typing { self.last_key } else { None };
    }

    fn key_command(&mut self, key: KeyEvent, ctrl_c: bool) -> Option<Command> {
        self.dirty = true;
        self.drop_abandoned_questions();
        // The help may be open over a question: it goes first.
        if self.overlay == Some(Overlay::Help) {
            self.help_key(key);
            return None;
        }
        if self.question.is_some() {
            return self.question_key(key);
        }
        if self.sudo_question.is_some() {
            self.sudo_key(key);
            return None;
        }
        if let Some(overlay) = self.overlay.clone() {
            return self.overlay_key(overlay, key, ctrl_c);
        }
        if self.prompt.as_ref().is_some_and(|p| !p.hidden) && !ctrl_c {
            return self.prompt_key(key);
        }
        if self.typing.is_some() {
            return self.typing_key(key);
        }
        if let Some(command) = self.read_only_key(key) {
            return command;
        }
        if key.code == KeyCode::Esc && self.selecting() {
            self.clear_selection();
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
        if self.summary_shown() && self.summary_intent(intent) {
            return None;
        }
        match intent {
            Intent::Up => self.move_by(-1),
            Intent::Down => self.move_by(1),
            Intent::PageUp => self.move_by(-(self.page() as isize)),
            Intent::PageDown => self.move_by(self.page() as isize),
            Intent::Top => self.go_top(),
            Intent::Bottom => self.go_end(),
            Intent::NextHost => self.switch_host(1),
            Intent::PrevHost => self.switch_host(-1),
            Intent::PickHost => self.open_picker(self.selected),
            Intent::FocusNext => self.cycle_focus(true),
            Intent::FocusPrev => self.cycle_focus(false),
            Intent::Search => self.typing = Some(Typing::Search(String::new())),
            Intent::SearchNext => self.find(true),
            Intent::SearchPrev => self.find(false),
            Intent::Follow => self.follow(),
            Intent::Wrap => self.toggle_wrap(),
            Intent::SidewaysLeft => self.sideways(false),
            Intent::SidewaysRight => self.sideways(true),
            Intent::Zoom => self.toggle_zoom(),
            Intent::Select => self.start_selection(),
            Intent::Copy => return self.copy(),
            Intent::Save => self.ask_save_path(),
            Intent::NextLog => self.next_log(),
            Intent::EnlargeLogs => self.toggle_logs(LogLayout::Enlarged),
            Intent::HideLogs => self.toggle_logs(LogLayout::Hidden),
            Intent::Answer => {
                if let Some(p) = self.prompt.as_mut() {
                    p.hidden = false;
                    self.window_opened_by_key();
                } else if self.finished.is_some() {
                    self.summary_hidden = false;
                }
            }
            Intent::Abort => {
                if self.run_in_progress() {
                    self.open(Overlay::ConfirmAbort);
                }
            }
            Intent::Override => {
                if let Some(step) = self.waiting_guard() {
                    self.open(Overlay::OverrideGuard {
                        step,
                        typed: String::new(),
                        wrong: false,
                    });
                }
            }
            Intent::Type => self.open_typing(),
            Intent::Help => self.open_help(),
            Intent::Quit => return self.quit(),
        }
        None
    }

    fn open(&mut self, overlay: Overlay) {
        self.overlay = Some(overlay);
        self.window_opened_by_key();
    }

    pub(super) fn open_help(&mut self) {
        self.open(Overlay::Help);
        self.help_scroll = 0;
    }

    fn help_key(&mut self, key: KeyEvent) {
        if matches!(
            key.code,
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter | KeyCode::F(1)
        ) {
            self.overlay = None;
            return;
        }
        scroll_window(&mut self.help_scroll, key, true, &self.drawn.help);
    }

    /// A line typed in the footer: a search, where to save, or a line for a
    /// running command (its keys are in `typing.rs`).
    fn typing_key(&mut self, key: KeyEvent) -> Option<Command> {
        let text = match self.typing.as_mut()? {
            Typing::Search(t) | Typing::SavePath(t) | Typing::Step(t) => t,
            Typing::Input(_) => return self.input_line_key(key),
        };
        match key.code {
            KeyCode::Enter => match self.typing.take() {
                Some(Typing::Search(q)) => self.start_search(q),
                Some(Typing::SavePath(path)) => return self.save(path),
                Some(Typing::Step(id)) => return self.go_to_step(&id),
                Some(Typing::Input(_)) | None => {}
            },
            KeyCode::Esc => self.typing = None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
        None
    }

    pub(super) fn quit(&mut self) -> Option<Command> {
        if self.run_in_progress() && !self.quitting {
            self.open(Overlay::ConfirmQuit);
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
            (_, KeyCode::F(1)) | (Question::TrustHostKey { .. }, KeyCode::Char('?')) => {
                self.open_help();
                return None;
            }
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
        if let Some(answer) = answer
            && let Some(q) = self.question.take()
            && let Some(reply) = q.reply
        {
            let _ = reply.send(answer);
        }
        None
    }

    fn overlay_key(&mut self, overlay: Overlay, key: KeyEvent, ctrl_c: bool) -> Option<Command> {
        match overlay {
            Overlay::Help => {
                self.help_key(key);
                None
            }
            Overlay::PickHost(picker) => self.picker_key(picker, key, ctrl_c),
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
        let lock_break = p.is_lock_break();
        if key.code == KeyCode::Esc {
            p.hidden = true;
            return None;
        }
        // In the lock-break question letters are the step id being typed.
        if key.code == KeyCode::F(1) || (key.code == KeyCode::Char('?') && !lock_break) {
            self.open_help();
            return None;
        }
        // A letter that answers this question (k: kill) is an answer, not a scroll.
        let answers = keys::answer(key.code, &p.prompt.choices).is_some();
        if !answers && scroll_window(&mut p.scroll, key, !lock_break, &self.drawn.prompt) {
            return None;
        }
        if lock_break {
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
        if let Some(decision) = keys::answer(key.code, &p.prompt.choices) {
            self.status = None;
            return Some(Command::Decide(decision));
        }
        // Say why nothing happens, rather than nothing at all.
        let decision = keys::meaning(key.code)?;
        let step = p.prompt.step;
        let kind = p.prompt.kind.clone();
        let has_undo = self.plan.steps.get(step).is_some_and(|s| s.undo.is_some());
        self.status = Some(if matches!(kind, PromptKind::Always) {
            strings::ALWAYS_OWN_ANSWER.to_string()
        } else if decision == Decision::Undo && !has_undo {
            strings::no_undo(&step_id)
        } else {
            strings::not_offered(
                keys::answer_key(decision).unwrap_or('?'),
                strings::choice(decision, &kind),
            )
        });
        None
    }

    // ---- intents -------------------------------------------------------

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
        tracing::debug!(focus = ?self.focus, "focus moved");
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
        tracing::debug!(layout = ?self.log_layout, "log pane resized");
    }
}
