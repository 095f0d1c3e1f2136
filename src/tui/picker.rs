//! The host picker, as intents on the `App`: a step's hosts, narrowed by
//! typing part of a name; Tab goes to the next host where the step failed,
//! Enter shows that host's output. With a hundred hosts, → would take
//! seventy presses to reach h73; typing "h73" takes three.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::App;
use super::input::Command;
use super::state::{Conn, Focus, HostPicker, Mode, Overlay};
use super::strings;

impl App {
    /// Open the picker on `step`'s hosts, its cursor on the host shown.
    pub(super) fn open_picker(&mut self, step: usize) {
        if self.mode != Mode::Run {
            return;
        }
        if self.step_hosts(step).is_empty() {
            self.status = Some(strings::NO_HOSTS.into());
            return;
        }
        let cursor = if step == self.selected {
            self.host_sel
                .min(self.step_hosts(step).len().saturating_sub(1))
        } else {
            0
        };
        tracing::debug!(step, "host picker opened");
        self.overlay = Some(Overlay::PickHost(HostPicker {
            step,
            filter: String::new(),
            cursor,
        }));
    }

    /// The hosts of the picker's step whose names hold its filter (any
    /// case), in natural order.
    pub fn picker_matches(&self, picker: &HostPicker) -> Vec<usize> {
        let filter = picker.filter.to_lowercase();
        self.step_hosts(picker.step)
            .iter()
            .copied()
            .filter(|&h| self.host_name(h).to_lowercase().contains(&filter))
            .collect()
    }

    /// The step did not do its work on `host`, or could not reach it.
    pub fn host_failed(&self, step: usize, host: usize) -> bool {
        let cell_failed = self
            .cells
            .get(step)
            .and_then(|c| c.get(host))
            .is_some_and(|c| c.status.is_failure());
        let unreachable = self
            .hosts
            .get(host)
            .is_some_and(|h| matches!(h.conn, Conn::Failed { .. }));
        cell_failed || unreachable
    }

    pub(super) fn picker_key(
        &mut self,
        mut picker: HostPicker,
        key: KeyEvent,
        ctrl_c: bool,
    ) -> Option<Command> {
        if ctrl_c {
            self.overlay = None;
            return self.quit();
        }
        let matches = self.picker_matches(&picker);
        let last = matches.len().saturating_sub(1);
        let page = usize::from(self.drawn.picker.shown())
            .saturating_sub(1)
            .max(1);
        match key.code {
            KeyCode::Esc => {
                self.overlay = None;
                return None;
            }
            KeyCode::Enter => {
                self.overlay = None;
                if let Some(&host) = matches.get(picker.cursor) {
                    self.show_host(picker.step, host);
                }
                return None;
            }
            KeyCode::Tab => picker.cursor = self.next_failed(&picker, &matches, true),
            KeyCode::BackTab => picker.cursor = self.next_failed(&picker, &matches, false),
            KeyCode::Up => picker.cursor = picker.cursor.saturating_sub(1),
            KeyCode::Down => picker.cursor = (picker.cursor + 1).min(last),
            KeyCode::PageUp => picker.cursor = picker.cursor.saturating_sub(page),
            KeyCode::PageDown => picker.cursor = (picker.cursor + page).min(last),
            KeyCode::Home => picker.cursor = 0,
            KeyCode::End => picker.cursor = last,
            KeyCode::Backspace => {
                picker.filter.pop();
                picker.cursor = 0;
            }
            // Host names hold no control characters.
            KeyCode::Char(_) if key.modifiers.contains(KeyModifiers::CONTROL) => {}
            KeyCode::Char(c) => {
                picker.filter.push(c);
                picker.cursor = 0;
            }
            _ => {}
        }
        self.overlay = Some(Overlay::PickHost(picker));
        None
    }

    /// Where the next (or previous) failed host is among `matches`, after
    /// the cursor and round; the cursor stays when there is none.
    fn next_failed(&mut self, picker: &HostPicker, matches: &[usize], forward: bool) -> usize {
        let n = matches.len();
        let found = (1..=n)
            .map(|k| {
                if forward {
                    (picker.cursor + k) % n
                } else {
                    (picker.cursor + n * k - k) % n
                }
            })
            .find(|&i| self.host_failed(picker.step, matches[i]));
        match found {
            Some(i) => {
                self.status = None;
                i
            }
            None => {
                self.status = Some(strings::no_failed_host(self.step_id(picker.step)));
                picker.cursor
            }
        }
    }

    /// Show `host`'s output of `step`, as the admin picked it: the summary
    /// gives way, and picking a step other than the running one stops
    /// following the run.
    pub(super) fn show_host(&mut self, step: usize, host: usize) {
        let Some(place) = self.step_hosts(step).iter().position(|&h| h == host) else {
            return;
        };
        if self.selected != step {
            self.selected = step;
            self.auto_select = self.current == Some(step);
        }
        self.host_sel = place;
        self.focus = Focus::Output;
        if self.finished.is_some() {
            self.summary_hidden = true;
        }
        tracing::debug!(step, host = %self.host_name(host), "host picked");
    }
}
