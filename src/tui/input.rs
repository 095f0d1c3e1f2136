//! Key handling: what each key does to the `App`, and what the event loop
//! must do after it. An open window (question, overlay, prompt) takes every key.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::App;
use super::keys::{self, Intent};
use super::pane::Pane;
use super::state::{Focus, LogLayout, Mode, Overlay};
use super::strings;
use crate::engine::{Decision, TypedInput};
use crate::remote::Question;

/// A window that opens while the admin is typing takes no key until the
/// typing has paused this long: keys meant for something else (a password
/// typed into the wrong place) answer nothing.
pub const STRAY_KEYS: Duration = Duration::from_millis(500);

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Decide(Decision),
    /// Type into a running command.
    Type(TypedInput),
    Quit,
    /// Leave now: the engine gets no more answers (every further question is
    /// taken as abort), and drydock exits when it has wound down.
    ForceQuit,
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
            Intent::Help => self.open(Overlay::Help),
            Intent::Quit => return self.quit(),
        }
        None
    }

    fn open(&mut self, overlay: Overlay) {
        self.overlay = Some(overlay);
        self.window_opened_by_key();
    }

    fn quit(&mut self) -> Option<Command> {
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

    /// How far PageUp/PageDown move: the focused part's height as last drawn,
    /// so paging never skips a line.
    fn page(&self) -> usize {
        if self.focus == Focus::Checklist && self.mode == Mode::Run {
            self.heights.checklist_steps()
        } else {
            self.pane_height()
        }
    }

    /// Height of the pane that has focus, for scrolling and search.
    pub fn pane_height(&self) -> usize {
        match self.focus {
            Focus::Logs => self.heights.logs(),
            Focus::Checklist | Focus::Output => self.heights.output(),
        }
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
        tracing::debug!(focus = ?self.focus, "focus moved");
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
        tracing::debug!(layout = ?self.log_layout, "log pane resized");
    }
}
