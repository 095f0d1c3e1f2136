//! Keys on a screen fed by a journal (`replay`, `watch`): the keys that
//! would answer the run say it is read-only, and a replay's own keys move
//! it. Where it moves to is the journal loop's business (`replay.rs`).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::App;
use super::input::Command;
use super::keys::{self, Move, ReplayKey};
use super::state::{Source, Typing};
use super::strings;

impl App {
    /// A key a read-only screen takes itself: `Some` with what the loop
    /// must do, `None` for a key like any other.
    pub(super) fn read_only_key(&mut self, key: KeyEvent) -> Option<Option<Command>> {
        let source = self.read_only.as_ref()?.source;
        let KeyCode::Char(c) = key.code else {
            return None;
        };
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            return None;
        }
        if keys::ANSWERING.contains(&c) {
            self.status = Some(strings::read_only(source));
            return Some(None);
        }
        let what = keys::replay_key(c)?;
        if source == Source::Watch {
            self.status = Some(strings::WATCH_NO_STEPPING.into());
            return Some(None);
        }
        Some(match what {
            ReplayKey::AskStep => {
                self.typing = Some(Typing::Step(String::new()));
                None
            }
            ReplayKey::Go(to) => Some(Command::Replay(to)),
        })
    }

    /// The step typed after `:`: its id, or the only one it starts.
    pub(super) fn go_to_step(&mut self, typed: &str) -> Option<Command> {
        let typed = typed.trim();
        let ids: Vec<(usize, &str)> = (self.plan.steps.iter().enumerate())
            .map(|(i, s)| (i, s.id.as_str()))
            .collect();
        let starting: Vec<&(usize, &str)> = ids
            .iter()
            .filter(|(_, id)| !typed.is_empty() && id.starts_with(typed))
            .collect();
        let found = match ids.iter().find(|(_, id)| *id == typed) {
            Some(exact) => Some(exact),
            None => match starting.as_slice() {
                [only] => Some(*only),
                [] => None,
                several => {
                    let names: Vec<&str> = several.iter().map(|(_, id)| *id).collect();
                    self.status = Some(strings::steps_named(typed, &names));
                    return None;
                }
            },
        };
        match found {
            Some(&(step, _)) => Some(Command::Replay(Move::ToStep(step))),
            None => {
                self.status = Some(strings::no_such_step(&crate::sanitize::line(typed)));
                None
            }
        }
    }
}
