//! The host picker's window: what is typed, the step's hosts that match
//! (each with how the step went there and why), the keys.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::modals::{Size, window};
use super::pad;
use super::summary::reason;
use crate::runbook::duration::short;
use crate::tui::app::App;
use crate::tui::state::HostPicker;
use crate::tui::strings as s;
use crate::tui::theme::Theme;

const PICKER: Size = Size(86, 80);

/// One host's row: cursor mark, state, name, time, why.
fn host_row(
    app: &App,
    theme: &Theme,
    step: usize,
    host: usize,
    at_cursor: bool,
    name_width: usize,
) -> Line<'static> {
    let c = &app.cells[step][host];
    let base = if at_cursor {
        theme.selection()
    } else {
        Style::default()
    };
    let took = c.duration.map(short).unwrap_or_default();
    let mut spans = vec![
        Span::styled(if at_cursor { "› " } else { "  " }, base),
        Span::styled(
            format!("{} ", c.status.symbol()),
            if at_cursor {
                base
            } else {
                theme.status(c.status)
            },
        ),
        Span::styled(
            pad(app.host_name(host), name_width),
            base.patch(theme.text()),
        ),
        Span::styled(
            format!("  {:<9}", c.status.word()),
            if at_cursor {
                base
            } else {
                theme.status(c.status)
            },
        ),
        Span::styled(format!("{took:>7}"), theme.muted()),
    ];
    if let Some(u) = c.undo {
        spans.push(Span::styled(s::undo_state(u.word()), theme.status(u)));
    }
    if let Some(why) = reason(app, step, host) {
        spans.push(Span::styled(format!("  {why}"), theme.text()));
    }
    Line::from(spans)
}

pub(super) fn render_picker(
    app: &App,
    theme: &Theme,
    picker: &HostPicker,
    area: Rect,
    buf: &mut Buffer,
) {
    let id = app.step_id(picker.step);
    let title = s::picker_title(picker.step + 1, id);
    let inner = window(theme, &title, false, PICKER, area, buf);
    let [typed, _, list, keys] = inner.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ]));
    let matches = app.picker_matches(picker);
    let total = app.step_hosts(picker.step).len();
    Paragraph::new(Line::from(vec![
        Span::styled("> ", theme.key()),
        Span::styled(format!("{}▏", picker.filter), theme.text()),
        Span::styled(
            format!("   {}", s::picker_count(matches.len(), total)),
            theme.muted(),
        ),
    ]))
    .render(typed, buf);

    let rows = usize::from(list.height).max(1);
    app.drawn.picker.record(list.height, matches.len());
    let cursor = picker.cursor.min(matches.len().saturating_sub(1));
    // The cursor's row stays in view; the list starts at its top while it can.
    let first = cursor.saturating_sub(rows - 1);
    let name_width = matches
        .iter()
        .map(|&h| app.host_name(h).len())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line> = matches
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, &h)| host_row(app, theme, picker.step, h, i == cursor, name_width))
        .collect();
    if matches.is_empty() {
        lines.push(Line::styled(s::PICKER_NONE, theme.muted()));
    }
    Paragraph::new(lines).render(list, buf);
    Paragraph::new(Line::styled(s::PICKER_KEYS, theme.muted())).render(keys, buf);
}
