//! Typing into a running command (`i`), and answering sudo's password
//! question: the keys of both lines, which take text and show none of it
//! when it is a secret.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::oneshot;

use super::app::App;
use super::input::Command;
use super::pane::Pane;
use super::state::{CellStatus, InputLine, SudoState, Typing};
use super::strings;
use crate::engine::{Event, Typed, TypedInput};
use crate::remote::Stream;
use crate::remote::{SudoAnswer, SudoQuestion};

/// Whether a prompt asks for a secret, so that what is typed after it is
/// masked from the start.
pub fn asks_for_secret(prompt: &str) -> bool {
    let p = prompt.to_lowercase();
    [
        "password",
        "passphrase",
        "passwort",
        "mot de passe",
        "secret",
        "pin:",
        "token",
    ]
    .iter()
    .any(|w| p.contains(w))
}

fn ctrl(key: &KeyEvent, c: char) -> bool {
    key.code == KeyCode::Char(c) && key.modifiers.contains(KeyModifiers::CONTROL)
}

impl App {
    /// What happens between a running command and the admin: its partial
    /// line, its waiting for input, sudo's answer, what was typed.
    pub(super) fn on_interaction(&mut self, event: Event) {
        match event {
            Event::PartialLine {
                step,
                host,
                stream,
                text,
                ..
            } => {
                self.pane_mut(step, host).set_partial(stream, text);
                self.input_answered(step, host);
            }
            Event::AwaitingInput { step, host, .. } => self.awaiting_input(step, host),
            Event::Sudo {
                step,
                host,
                asked,
                ok,
                ..
            } => {
                let line = strings::sudo_line(asked, ok);
                let stream = if ok { Stream::Stdout } else { Stream::Stderr };
                self.pane_mut(step, host).push(stream, line);
            }
            Event::Input {
                step,
                host,
                text,
                end,
                ..
            } => {
                let line = strings::input_line(text.as_deref(), end);
                self.pane_mut(step, host).push(Stream::Stdout, line);
            }
            _ => {}
        }
    }

    /// A command's partial line changed or it printed on: it is not (or no
    /// longer) known to wait for input.
    pub(super) fn input_answered(&mut self, step: usize, host: usize) {
        let was_waiting = self
            .cell_mut(step, host)
            .is_some_and(|c| std::mem::take(&mut c.awaiting_input));
        let told = strings::awaiting_input(self.host_name(host));
        if was_waiting && self.status.as_ref() == Some(&told) {
            self.status = None;
        }
    }

    /// A command waits for input: the checklist says so, the footer tells
    /// how to type, and the bell rings once for it.
    pub(super) fn awaiting_input(&mut self, step: usize, host: usize) {
        let name = self.host_name(host).to_string();
        let Some(c) = self.cell_mut(step, host) else {
            return;
        };
        c.awaiting_input = true;
        if !c.bell_rung {
            c.bell_rung = true;
            self.bell_due = Some(strings::notify_input(self.step_id(step), &name));
        }
        self.status = Some(strings::awaiting_input(&name));
    }

    /// sudo asks for a password: its window, over everything but a
    /// transport's question.
    pub(super) fn open_sudo_question(
        &mut self,
        question: SudoQuestion,
        reply: oneshot::Sender<Result<SudoAnswer, String>>,
    ) {
        if let Some(old) = self.sudo_question.take()
            && let Some(r) = old.reply
        {
            let _ = r.send(Err(strings::SUDO_REPLACED.into()));
        }
        self.sudo_question = Some(SudoState {
            question,
            input: String::new(),
            every_host: false,
            reply: Some(reply),
        });
        self.window_opened(Instant::now());
    }

    /// What the bell is to announce now, if it is to ring; it rings once.
    pub fn take_bell(&mut self) -> Option<String> {
        self.bell_due.take()
    }

    /// Drop a sudo question the engine no longer waits for.
    pub fn drop_abandoned_questions(&mut self) {
        if self
            .sudo_question
            .as_ref()
            .is_some_and(SudoState::abandoned)
        {
            self.sudo_question = None;
            self.dirty = true;
        }
    }

    /// Open the input line into the command running on the shown host.
    pub(super) fn open_typing(&mut self) {
        let Some(host) = self.shown_host() else {
            return;
        };
        let step = self.selected;
        let running = self
            .cells
            .get(step)
            .and_then(|c| c.get(host))
            .is_some_and(|c| {
                c.status == CellStatus::Running || c.undo == Some(CellStatus::Running)
            });
        if !running {
            self.status = Some(strings::not_running(self.host_name(host)));
            return;
        }
        let masked = self
            .output(step, host)
            .and_then(Pane::partial)
            .is_some_and(|l| asks_for_secret(&l.text));
        self.typing = Some(Typing::Input(InputLine {
            step,
            host,
            text: String::new(),
            masked,
        }));
    }

    /// The line being typed into a running command: the one to take a key.
    fn input_line(&mut self) -> Option<&mut InputLine> {
        match self.typing.as_mut()? {
            Typing::Input(line) => Some(line),
            Typing::Search(_) | Typing::SavePath(_) | Typing::Step(_) => None,
        }
    }

    /// Takes the line typed into a running command, closing it.
    fn take_input_line(&mut self) -> Option<InputLine> {
        match self.typing.take()? {
            Typing::Input(line) => Some(line),
            other => {
                self.typing = Some(other);
                None
            }
        }
    }

    pub(super) fn input_line_key(&mut self, key: KeyEvent) -> Option<Command> {
        let line = self.input_line()?;
        if ctrl(&key, 'd') {
            let line = self.take_input_line()?;
            return Some(Command::Type(TypedInput {
                step: line.step,
                host: line.host,
                typed: Typed::End,
            }));
        }
        if ctrl(&key, 'r') {
            line.masked = !line.masked;
            return None;
        }
        match key.code {
            KeyCode::Enter => {
                let line = self.take_input_line()?;
                return Some(Command::Type(TypedInput {
                    step: line.step,
                    host: line.host,
                    typed: Typed::Line {
                        text: line.text,
                        masked: line.masked,
                    },
                }));
            }
            KeyCode::Esc => self.typing = None,
            KeyCode::Backspace => {
                line.text.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                line.text.push(c);
            }
            _ => {}
        }
        None
    }

    /// sudo's password window: Enter sends, Esc declines, Tab says whether
    /// it is for every host; F1 opens the help over it.
    pub(super) fn sudo_key(&mut self, key: KeyEvent) {
        if key.code == KeyCode::F(1) {
            self.open_help();
            return;
        }
        let Some(q) = self.sudo_question.as_mut() else {
            return;
        };
        let answer = match key.code {
            KeyCode::Enter if !q.input.is_empty() => Some(Ok(SudoAnswer {
                password: std::mem::take(&mut q.input),
                every_host: q.every_host,
            })),
            KeyCode::Esc => Some(Err(strings::SUDO_DECLINED.to_string())),
            KeyCode::Tab => {
                q.every_host = !q.every_host;
                None
            }
            KeyCode::Backspace => {
                q.input.pop();
                None
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                q.input.push(c);
                None
            }
            _ => None,
        };
        if let Some(answer) = answer
            && let Some(reply) = self.sudo_question.take().and_then(|q| q.reply)
        {
            let _ = reply.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::asks_for_secret;

    #[test]
    fn password_prompts_are_told_from_others() {
        for secret in [
            "Password: ",
            "[sudo] password for deploy: ",
            "Enter passphrase for key: ",
        ] {
            assert!(asks_for_secret(secret), "{secret}");
        }
        for plain in ["Continue? [y/N] ", "Name: "] {
            assert!(!asks_for_secret(plain), "{plain}");
        }
    }
}
