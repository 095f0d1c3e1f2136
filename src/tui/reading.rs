//! Reading the panes, as intents on the `App`: scrolling and following,
//! wrapping and scrolling sideways, zoom, search, selecting lines, and
//! taking text away (to the clipboard, to a file). Positions are worked out
//! from the sizes the last frame recorded.

use std::path::PathBuf;

use super::app::App;
use super::input::Command;
use super::notify;
use super::pane::{Fit, Pane};
use super::state::{DrawnPane, Focus, Mode, Reading, Typing};
use super::strings;

/// The least a sideways step moves, in columns.
const MIN_SIDEWAYS: usize = 8;

impl App {
    /// The checklist has the keys (a run, not `drydock logs`).
    pub(super) fn in_checklist(&self) -> bool {
        self.focus == Focus::Checklist && self.mode == Mode::Run
    }

    /// The log pane has the focus; else keys act on the output pane (also
    /// from the checklist, which has no text of its own).
    fn logs_focused(&self) -> bool {
        self.focus == Focus::Logs
    }

    pub(super) fn focused_pane(&mut self) -> Option<&mut Pane> {
        if self.logs_focused() {
            return self.logs.get_mut(self.log_tab).map(|l| &mut l.pane);
        }
        let host = self.shown_host()?;
        let step = self.selected;
        Some(self.pane_mut(step, host))
    }

    fn focused_pane_ref(&self) -> Option<&Pane> {
        if self.logs_focused() {
            return self.logs.get(self.log_tab).map(|l| &l.pane);
        }
        self.output(self.selected, self.shown_host()?)
    }

    fn focused_drawn(&self) -> &DrawnPane {
        if self.logs_focused() {
            &self.drawn.logs
        } else {
            &self.drawn.output
        }
    }

    pub fn focused_reading(&self) -> Reading {
        if self.logs_focused() {
            self.log_reading
        } else {
            self.output_reading
        }
    }

    fn focused_reading_mut(&mut self) -> &mut Reading {
        if self.logs_focused() {
            &mut self.log_reading
        } else {
            &mut self.output_reading
        }
    }

    /// The focused pane's layout in the last frame.
    pub(super) fn focused_fit(&self) -> Fit {
        let drawn = self.focused_drawn();
        Fit {
            height: drawn.rows(),
            wrap: self.focused_reading().wrap.then(|| drawn.columns()),
        }
    }

    /// How far PageUp/PageDown move: the focused part's height as last drawn,
    /// so paging never skips a line.
    pub(super) fn page(&self) -> usize {
        if self.in_checklist() {
            self.drawn.checklist_steps()
        } else {
            self.focused_fit().height
        }
    }

    /// Lines are being selected in the focused pane.
    pub(super) fn selecting(&self) -> bool {
        self.focused_pane_ref().is_some_and(Pane::selecting)
    }

    pub(super) fn move_by(&mut self, delta: isize) {
        if self.in_checklist() {
            let n = self.plan.steps.len();
            if n == 0 {
                return;
            }
            let next = (self.selected as isize + delta).clamp(0, n as isize - 1) as usize;
            if next != self.selected {
                self.selected = next;
                self.host_sel = 0;
            }
            // Picking another step stops following the run; picking the
            // running one follows it again.
            self.auto_select = self.current == Some(self.selected);
            tracing::debug!(
                step = self.selected,
                follows = self.auto_select,
                "step picked"
            );
            return;
        }
        let fit = self.focused_fit();
        let selecting = self.selecting();
        if let Some(p) = self.focused_pane() {
            if selecting {
                p.move_cursor(delta, fit);
            } else {
                p.scroll(delta, fit);
            }
        }
    }

    pub(super) fn go_top(&mut self) {
        if self.in_checklist() {
            self.selected = 0;
            self.auto_select = self.current == Some(0);
            return;
        }
        let fit = self.focused_fit();
        let selecting = self.selecting();
        if let Some(p) = self.focused_pane() {
            if selecting {
                p.move_cursor_to(0, fit);
            } else {
                p.go_top();
            }
        }
    }

    pub(super) fn go_end(&mut self) {
        if self.in_checklist() {
            self.follow_run();
            return;
        }
        let fit = self.focused_fit();
        let selecting = self.selecting();
        if let Some(p) = self.focused_pane() {
            if selecting {
                p.move_cursor_to(p.len().saturating_sub(1), fit);
            } else {
                p.go_end();
            }
        }
    }

    /// Show the running step again, as it goes.
    fn follow_run(&mut self) {
        self.auto_select = true;
        if let Some(c) = self.current
            && self.selected != c
        {
            self.selected = c;
            self.host_sel = 0;
        }
        tracing::debug!(step = self.selected, "following the run");
    }

    /// `f`: the running step, and the end of the focused pane.
    pub(super) fn follow(&mut self) {
        if !self.logs_focused() {
            self.follow_run();
        }
        if let Some(p) = self.focused_pane() {
            p.clear_selection();
            p.go_end();
        }
    }

    pub(super) fn toggle_wrap(&mut self) {
        let r = self.focused_reading_mut();
        r.wrap = !r.wrap;
        r.sideways = 0;
        let wrap = r.wrap;
        tracing::debug!(wrap, logs = self.logs_focused(), "wrap toggled");
    }

    pub(super) fn sideways(&mut self, right: bool) {
        if self.focused_reading().wrap {
            self.status = Some(strings::WRAPPED_NO_SIDEWAYS.into());
            return;
        }
        let drawn = self.focused_drawn();
        let step = (drawn.columns() / 2).max(MIN_SIDEWAYS);
        let furthest = drawn.widest().saturating_sub(drawn.columns());
        let r = self.focused_reading_mut();
        r.sideways = if right {
            (r.sideways + step).min(furthest)
        } else {
            r.sideways.saturating_sub(step)
        };
    }

    pub(super) fn toggle_zoom(&mut self) {
        self.zoomed = !self.zoomed;
        tracing::debug!(zoomed = self.zoomed, focus = ?self.focus, "zoom toggled");
    }

    pub(super) fn start_selection(&mut self) {
        let fit = self.focused_fit();
        let logs = self.logs_focused();
        let Some(p) = self.focused_pane() else { return };
        if p.selecting() {
            p.clear_selection();
            return;
        }
        p.start_selection(fit);
        let started = p.selecting();
        if started && !logs {
            // New steps must not take the lines away while they are picked.
            self.auto_select = false;
        }
        if started {
            // The footer says how to select instead.
            self.status = None;
        }
    }

    pub(super) fn clear_selection(&mut self) {
        if let Some(p) = self.focused_pane() {
            p.clear_selection();
        }
    }

    /// The selected lines, else the whole focused pane, as plain text; the
    /// selection ends.
    fn take_text(&mut self) -> Option<(String, usize)> {
        let p = self.focused_pane()?;
        let taken = p.plain_text(p.selected());
        p.clear_selection();
        (taken.1 > 0).then_some(taken)
    }

    pub(super) fn copy(&mut self) -> Option<Command> {
        let Some((text, lines)) = self.take_text() else {
            self.status = Some(strings::NOTHING_TO_TAKE.into());
            return None;
        };
        let (part, kept) = notify::clipboard_part(&text, lines);
        self.status = Some(strings::copied(kept, lines));
        tracing::info!(lines = kept, "copied to the clipboard");
        Some(Command::Write(notify::clipboard(part)))
    }

    /// Open the footer line for a file name, with a name that says what it holds.
    pub(super) fn ask_save_path(&mut self) {
        if self.focused_pane_ref().is_none_or(Pane::is_empty) {
            self.status = Some(strings::NOTHING_TO_TAKE.into());
            return;
        }
        let run = self.run_id.clone().unwrap_or_else(|| strings::APP.into());
        let what = if self.logs_focused() {
            self.logs
                .get(self.log_tab)
                .map_or_else(String::new, |l| l.name.clone())
        } else {
            let host = self.shown_host().map_or("", |h| self.host_name(h));
            format!("{}-{host}", self.step_id(self.selected))
        };
        let name: String = format!("drydock-{run}-{what}.txt")
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        self.typing = Some(Typing::SavePath(name));
    }

    pub(super) fn save(&mut self, path: String) -> Option<Command> {
        let path = path.trim();
        if path.is_empty() {
            return None;
        }
        let Some((text, lines)) = self.take_text() else {
            self.status = Some(strings::NOTHING_TO_TAKE.into());
            return None;
        };
        Some(Command::Save {
            path: PathBuf::from(path),
            text,
            lines,
        })
    }

    /// How saving went, from the event loop that wrote the file.
    pub fn saved(&mut self, typed: PathBuf, lines: usize, result: std::io::Result<PathBuf>) {
        self.dirty = true;
        match result {
            Ok(at) => {
                tracing::info!(path = %at.display(), lines, "pane saved");
                self.status = Some(strings::saved(lines, &at.display().to_string()));
            }
            Err(e) => {
                tracing::warn!(path = %typed.display(), error = %e, "saving the pane failed");
                self.status = Some(strings::cannot_save(&typed.display().to_string(), &e));
                // Let the admin change the name and try again.
                self.typing = Some(Typing::SavePath(typed.display().to_string()));
            }
        }
    }

    pub(super) fn start_search(&mut self, query: String) {
        let fit = self.focused_fit();
        let found = match self.focused_pane() {
            Some(p) => {
                p.set_query(Some(query.clone()));
                p.find(true, fit)
            }
            None => false,
        };
        self.status = if found {
            self.match_status()
        } else {
            (!query.is_empty()).then(|| strings::not_found(&query))
        };
    }

    pub(super) fn find(&mut self, forward: bool) {
        let fit = self.focused_fit();
        let found = self.focused_pane().is_some_and(|p| p.find(forward, fit));
        self.status = if found {
            self.match_status()
        } else {
            Some(strings::NO_MATCH.into())
        };
    }

    /// Which match is shown, for the footer: the pane's title may be cut.
    fn match_status(&self) -> Option<String> {
        let s = self.focused_pane_ref()?.search()?;
        Some(strings::match_of(&s.query, s.ordinal()?, s.total))
    }
}
