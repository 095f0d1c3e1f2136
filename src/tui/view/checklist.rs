//! The checklist: one line per step (and one of host cells when there are
//! several hosts), scrolled to keep the selected step in view.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::pad;
use super::panes::pane_block;
use super::strip::Strip;
use crate::runbook::Action;
use crate::runbook::duration::short;
use crate::tui::app::App;
use crate::tui::state::{CellStatus, Focus};
use crate::tui::strings as s;
use crate::tui::theme::Theme;

fn markers(app: &App, step: usize) -> Vec<&'static str> {
    let st = &app.plan.steps[step];
    let mut m = Vec::new();
    if matches!(st.action, Action::Manual(_)) {
        m.push(s::MARK_MANUAL);
    } else if st.confirm {
        m.push(s::MARK_GATE);
    }
    if matches!(st.action, Action::Guard(_)) {
        m.push(s::MARK_GUARD);
    }
    if st.when.is_some() {
        m.push(s::MARK_WHEN);
    }
    if st.rolling.is_some() {
        m.push(s::MARK_ROLLING);
    }
    if st.always {
        m.push(s::MARK_ALWAYS);
    }
    if st.sudo.is_some() {
        m.push(s::MARK_SUDO);
    }
    m
}

/// Whether a command of the step waits for input on some host.
fn awaits_input(app: &App, step: usize) -> bool {
    app.step_hosts(step)
        .iter()
        .any(|&h| app.cells[step][h].awaiting_input)
}

/// The status a step shows as a whole: the most pressing of its hosts'.
pub(super) fn step_status(app: &App, step: usize) -> CellStatus {
    let cells: Vec<CellStatus> = app
        .step_hosts(step)
        .iter()
        .map(|&h| app.cells[step][h].status)
        .collect();
    let order = [
        CellStatus::NeedsConfirm,
        CellStatus::Failed,
        CellStatus::Timeout,
        CellStatus::Lost,
        CellStatus::Running,
        CellStatus::Waiting,
        CellStatus::Unknown,
        CellStatus::Pending,
        CellStatus::Ok,
        CellStatus::Skipped,
    ];
    if cells.is_empty() {
        return CellStatus::Skipped;
    }
    if cells.iter().all(|c| *c == CellStatus::Skipped) {
        return CellStatus::Skipped;
    }
    if cells
        .iter()
        .all(|c| matches!(c, CellStatus::Ok | CellStatus::Skipped))
    {
        return CellStatus::Ok;
    }
    order
        .into_iter()
        .find(|o| cells.contains(o))
        .unwrap_or(CellStatus::Pending)
}

pub(super) fn step_duration(app: &App, step: usize) -> Option<Duration> {
    app.step_hosts(step)
        .iter()
        .filter_map(|&h| {
            let c = &app.cells[step][h];
            c.duration.or_else(|| {
                matches!(c.status, CellStatus::Running | CellStatus::Waiting)
                    .then(|| c.started.map(|s| app.now.saturating_duration_since(s)))
                    .flatten()
            })
        })
        .max()
}

/// How far a host's state at a step asks to be seen when not all fit:
/// failures first, then what is under way, then the rest.
fn urgency(status: CellStatus) -> u8 {
    match status {
        _ if status.is_failure() => 0,
        CellStatus::NeedsConfirm | CellStatus::Running | CellStatus::Waiting => 1,
        _ => 2,
    }
}

/// A step's line of host cells, after `indent` columns: every host while
/// they fit; else how many hosts are in each state, then hosts by urgency
/// as they fit, and how many are left out.
fn host_cells(
    app: &App,
    theme: &Theme,
    step: usize,
    indent: usize,
    width: usize,
) -> Vec<Span<'static>> {
    let lead = vec![Span::raw(" ".repeat(indent))];
    let cell = |h: usize| {
        let c = &app.cells[step][h];
        let mut item = vec![Span::styled(
            format!("{} {}", c.status.symbol(), app.host_name(h)),
            theme.status(c.status),
        )];
        if let Some(u) = c.undo {
            item.push(Span::styled(s::undo_state(u.word()), theme.status(u)));
        }
        item
    };
    let hosts = app.step_hosts(step);
    let whole = Strip {
        lead: lead.clone(),
        items: hosts.iter().map(|&h| cell(h)).collect(),
        gap: "  ",
        hint: false,
    };
    if whole.width() <= width {
        return whole.fit(width, theme.key());
    }
    let mut counts: Vec<(CellStatus, usize)> = Vec::new();
    for &h in hosts {
        let status = app.cells[step][h].status;
        match counts.iter_mut().find(|c| c.0 == status) {
            Some(c) => c.1 += 1,
            None => counts.push((status, 1)),
        }
    }
    counts.sort_by_key(|&(status, _)| urgency(status));
    let mut tally = lead;
    for (status, n) in counts {
        tally.push(Span::styled(
            format!("{}{n} ", status.symbol()),
            theme.status(status),
        ));
    }
    tally.push(Span::styled("│ ", theme.muted()));
    let mut by_urgency = hosts.to_vec();
    by_urgency.sort_by_key(|&h| urgency(app.cells[step][h].status));
    Strip {
        lead: tally,
        items: by_urgency.into_iter().map(cell).collect(),
        gap: "  ",
        hint: false,
    }
    .fit(width, theme.key())
}

pub(super) fn render_checklist(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let focused = app.focus == Focus::Checklist;
    let done = (0..app.plan.steps.len())
        .filter(|&i| matches!(step_status(app, i), CellStatus::Ok | CellStatus::Skipped))
        .count();
    let title = Span::styled(
        format!(" {} {done}/{} ", s::CHECKLIST, app.plan.steps.len()),
        theme.title(focused),
    );
    let block = pane_block(theme, focused, vec![title]);
    let inner = block.inner(area);
    block.render(area, buf);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    // Each step takes a line, plus a line of host cells when it has several hosts.
    let multi = app.plan.hosts.len() > 1;
    let rows_per = if multi { 2 } else { 1 };
    let n = app.plan.steps.len();
    let visible_steps = (height / rows_per).max(1);
    app.drawn.record_checklist_steps(visible_steps);
    let first = if app.selected >= visible_steps {
        (app.selected + 1 - visible_steps).min(n.saturating_sub(visible_steps))
    } else {
        0
    };
    let numw = n.to_string().len();
    let mut lines = Vec::new();
    for i in first..(first + visible_steps).min(n) {
        let st = &app.plan.steps[i];
        let status = step_status(app, i);
        let selected = i == app.selected;
        let dur_text = step_duration(app, i).map(short).unwrap_or_default();
        let marks: String = markers(app, i).iter().map(|m| format!(" [{m}]")).collect();
        let waits = if awaits_input(app, i) {
            format!(" {}", s::MARK_INPUT)
        } else {
            String::new()
        };
        let fixed = numw + 3 + 1 + dur_text.len() + 1;
        let title_w = width.saturating_sub(fixed + marks.width() + waits.width());
        let base = if selected {
            theme.selection()
        } else {
            Style::default()
        };
        let mut spans = vec![
            Span::styled(format!("{:>numw$} ", i + 1), base.patch(theme.muted())),
            Span::styled(
                format!("{} ", status.symbol()),
                if selected { base } else { theme.status(status) },
            ),
            Span::styled(
                pad(&st.title, title_w),
                base.patch(if selected {
                    Style::default()
                } else {
                    theme.text()
                }),
            ),
            Span::styled(marks, base.patch(theme.muted())),
            Span::styled(waits, base.patch(theme.alert())),
            Span::styled(
                format!(" {dur_text:>w$}", w = dur_text.len()),
                base.patch(theme.muted()),
            ),
        ];
        if app.current == Some(i) && !selected {
            spans[0] = Span::styled(format!("{:>numw$}›", i + 1), theme.key());
        }
        lines.push(Line::from(spans));
        if multi {
            lines.push(Line::from(host_cells(app, theme, i, numw + 3, width)));
        }
    }
    Paragraph::new(lines).render(inner, buf);
}
