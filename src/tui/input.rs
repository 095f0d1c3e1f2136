//! Key handling: what each key does to the `App`, and what the event loop
//! must do after it. An open window (question, overlay, prompt) takes every key.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::App;
use super::keys::{self, Intent};
use super::pane::Pane;
use super::state::{Focus, LogLayout, Mode, Overlay};
use super::strings;
use crate::engine::{Decision, PromptKind};
use crate::remote::Question;

/// What the event loop must do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Decide(Decision),
    Quit,
    /// Leave now: the engine gets no more answers (every further question is
    /// taken as abort), and drydock exits when it has wound down.
    ForceQuit,
}

impl App {
    /// Handle one key press; returns what the event loop must do.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        let command = self.key_command(key);
        if let Some(command) = command {
            tracing::debug!(?command, "key handled");
        }
        command
    }

    fn key_command(&mut self, key: KeyEvent) -> Option<Command> {
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
        // A letter that answers this question is an answer, not a scroll.
        let answers = keys::answer(key.code, &p.prompt.choices).is_some();
        match key.code {
            KeyCode::Esc => {
                p.hidden = true;
                return None;
            }
            KeyCode::Up | KeyCode::Char('k') if !p.is_lock_break() && !answers => {
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
        if key.code == KeyCode::Char('a') && matches!(p.prompt.kind, PromptKind::Always) {
            self.status = Some(strings::ALWAYS_OWN_ANSWER.into());
            return None;
        }
        keys::answer(key.code, &p.prompt.choices).map(Command::Decide)
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
