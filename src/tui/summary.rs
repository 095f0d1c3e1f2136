//! The summary after the run, as intents on the `App`: a cursor on its
//! steps, and Enter (or p) for every host of the step under it.

use super::app::App;
use super::keys::Intent;
use super::state::Mode;

impl App {
    /// The summary replaces the body once the run has finished, until Esc.
    pub fn summary_shown(&self) -> bool {
        self.mode == Mode::Run && self.finished.is_some() && !self.summary_hidden
    }

    /// The first step that failed somewhere: where the summary opens.
    pub(super) fn first_failed_step(&self) -> Option<usize> {
        (0..self.plan.steps.len()).find(|&s| {
            self.step_hosts(s)
                .iter()
                .any(|&h| self.cells[s][h].status.is_failure())
        })
    }

    /// Handle `intent` in the summary; `false` when it means nothing there.
    pub(super) fn summary_intent(&mut self, intent: Intent) -> bool {
        let last = self.plan.steps.len().saturating_sub(1) as isize;
        let page = self.drawn.summary_steps() as isize;
        let step = self.summary_step as isize;
        let to = match intent {
            Intent::Up => step - 1,
            Intent::Down => step + 1,
            Intent::PageUp => step - page,
            Intent::PageDown => step + page,
            Intent::Top => 0,
            Intent::Bottom => last,
            Intent::Answer | Intent::PickHost => {
                self.open_picker(self.summary_step);
                return true;
            }
            _ => return false,
        };
        self.summary_step = to.clamp(0, last.max(0)) as usize;
        true
    }
}
