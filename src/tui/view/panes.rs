//! The output pane (with the guard or banner-wait panel above it) and the
//! log pane: scrollable text in a frame that says what it shows.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use super::strip::{self, Strip};
use super::{Areas, clock};
use crate::remote::Stream;
use crate::tui::app::App;
use crate::tui::pane::{Fit, Pane, mark, sgr_line};
use crate::tui::state::{CellStatus, DrawnPane, Focus, LogState, Reading};
use crate::tui::strings as s;
use crate::tui::theme::Theme;
use crate::tui::wrap;

/// The guard or banner-wait panel above the output, when the shown step has
/// one, in `style`: wrapped, never cut.
pub(super) fn panel(app: &App, style: Style) -> Option<Paragraph<'static>> {
    let lines = panel_lines(app)?
        .into_iter()
        .map(|l| l.style(style))
        .collect::<Vec<_>>();
    Some(Paragraph::new(lines).wrap(Wrap { trim: false }))
}

fn panel_lines(app: &App) -> Option<Vec<Line<'static>>> {
    let step = app.selected;
    if let Some(g) = app.guards.get(&step) {
        let waiting = app.waiting_guard() == Some(step);
        if !waiting {
            return None;
        }
        let since = app.now.saturating_duration_since(g.since);
        let next = g
            .next_check
            .map(|n| n.saturating_sub(app.now.saturating_duration_since(g.polled_at)))
            .map_or_else(String::new, |n| s::next_check(&clock(n)));
        let last = if g.checks == 0 {
            s::GUARD_NOT_CHECKED.to_string()
        } else {
            s::guard_last(&g.detail)
        };
        return Some(vec![
            Line::from(s::guard_since(
                &g.since_wall.format("%H:%M:%S").to_string(),
                &clock(since),
                g.checks,
                &next,
            )),
            Line::from(last),
            Line::from(s::GUARD_KEYS),
        ]);
    }
    if let Some((s, until)) = app.waiting_until
        && s == step
    {
        let left = (until - app.wall).to_std().unwrap_or_default();
        return Some(vec![
            Line::from(s::banner_at(&until.format("%H:%M:%S UTC").to_string())),
            Line::from(s::starting_in(&clock(left))),
            Line::from(s::BANNER_KEYS),
        ]);
    }
    None
}

/// The rows a pane shows, made from the lines on screen only.
struct PaneRows {
    lines: Vec<Line<'static>>,
    /// Columns scrolled sideways, as drawn (never past the widest line).
    sideways: usize,
}

/// A line's text as shown: colours, highlights and search matches.
fn styled_body(
    text: &str,
    base: Style,
    theme: &Theme,
    highlight: &[String],
    query: &str,
) -> Vec<Span<'static>> {
    let mut body = sgr_line(text, base, !theme.mono).spans;
    for h in highlight {
        body = mark(body, h, theme.alert());
    }
    if !query.is_empty() {
        body = mark(body, query, theme.search_match());
    }
    body
}

fn pane_rows(
    pane: &Pane,
    reading: Reading,
    theme: &Theme,
    area: Rect,
    highlight: &[String],
    drawn: &DrawnPane,
) -> PaneRows {
    let height = usize::from(area.height);
    let columns = usize::from(area.width).saturating_sub(s::STDOUT_GUTTER.width());
    let fit = Fit {
        height,
        wrap: reading.wrap.then_some(columns),
    };
    let query = pane.search().map(|s| s.query.clone()).unwrap_or_default();
    let selected = pane.selected();
    let first = pane.first_visible(fit);
    // Unwrapped lines are cut once the widest one on screen is known.
    let mut cut_later: Vec<(Span<'static>, Vec<Span<'static>>)> = Vec::new();
    let mut lines = Vec::with_capacity(height);
    let mut widest = 0;
    let mut shown = 0;
    let mut i = first.line;
    while shown < height {
        let Some(l) = pane.line(i) else { break };
        let (gutter, base, gutter_style) = match l.stream {
            Stream::Stderr => (s::STDERR_GUTTER, theme.stderr(), theme.stderr()),
            Stream::Stdout => (s::STDOUT_GUTTER, theme.text(), theme.muted()),
        };
        let mut body = styled_body(&l.text, base, theme, highlight, &query);
        let mut gutter_style = gutter_style;
        if selected.as_ref().is_some_and(|r| r.contains(&i)) {
            let sel = theme.selection();
            body = body.into_iter().map(|sp| sp.patch_style(sel)).collect();
            gutter_style = sel;
        }
        if reading.wrap {
            let skip = if i == first.line { first.row } else { 0 };
            for (k, row) in wrap::wrap(&body, columns)
                .into_iter()
                .enumerate()
                .skip(skip)
            {
                if shown == height {
                    break;
                }
                let g = if k == 0 { gutter } else { s::WRAP_GUTTER };
                let mut spans = vec![Span::styled(g, gutter_style)];
                spans.extend(row);
                lines.push(Line::from(spans));
                shown += 1;
            }
        } else {
            widest = widest.max(wrap::width(&body));
            cut_later.push((Span::styled(gutter, gutter_style), body));
            shown += 1;
        }
        i += 1;
    }
    let sideways = reading.sideways.min(widest.saturating_sub(columns));
    for (gutter, body) in cut_later {
        let mut spans = vec![gutter];
        spans.extend(wrap::columns(&body, sideways, columns));
        lines.push(Line::from(spans));
    }
    drawn.record(
        area.height,
        u16::try_from(columns).unwrap_or(u16::MAX),
        widest,
    );
    PaneRows { lines, sideways }
}

/// What the pane's bottom border says of it: search, selection, lines,
/// where it is, how it is read.
fn pane_state(pane: Option<&Pane>, reading: Reading, sideways: usize) -> String {
    let Some(p) = pane else {
        return s::line_count(0);
    };
    // What the admin is doing with the pane first: the title is cut from the end.
    let mut parts = Vec::new();
    if let Some(q) = p.search() {
        parts.push(s::search_state(&q.query, q.ordinal(), q.total));
    }
    if let Some(r) = p.selected() {
        parts.push(s::selected_lines(r.count()));
    }
    parts.push(s::line_count(p.len()));
    if p.dropped() > 0 {
        parts.push(s::dropped(p.dropped()));
    }
    parts.push(if p.follow { s::AT_END } else { s::SCROLLED }.to_string());
    if reading.wrap {
        parts.push(s::WRAPPED.to_string());
    } else if sideways > 0 {
        parts.push(s::from_column(sideways + 1));
    }
    parts.join(" · ")
}

/// The hosts in the output pane's title, the shown one marked: all of them
/// while they fit; else from the shown one on (the order → goes in), and
/// how many are left out.
fn title_hosts(
    app: &App,
    theme: &Theme,
    hosts: &[usize],
    shown: Option<usize>,
    pane_width: u16,
    before: &[Span<'_>],
) -> Vec<Span<'static>> {
    let item = |h: usize| {
        let style = if Some(h) == shown {
            theme.selection()
        } else {
            theme.muted()
        };
        vec![Span::styled(format!(" {} ", app.host_name(h)), style)]
    };
    // Inside the corners.
    let room = usize::from(pane_width)
        .saturating_sub(2)
        .saturating_sub(strip::width(before));
    let whole = Strip {
        lead: Vec::new(),
        items: hosts.iter().map(|&h| item(h)).collect(),
        gap: " ",
        hint: true,
    };
    if whole.width() <= room + 1 {
        let mut spans = whole.fit(usize::MAX, theme.key());
        // No gap after the last one.
        spans.pop();
        return spans;
    }
    let from = shown
        .and_then(|s| hosts.iter().position(|&h| h == s))
        .unwrap_or(0);
    // Too narrow for a host and the mark: the shown host, cut at the corner.
    let first = hosts.get(from).map(|&h| item(h)).unwrap_or_default();
    if strip::width(&first) + 1 + s::more_count(hosts.len()).width() > room {
        return first;
    }
    let mut spans = Strip {
        lead: Vec::new(),
        items: hosts[from..]
            .iter()
            .chain(&hosts[..from])
            .map(|&h| item(h))
            .collect(),
        gap: " ",
        hint: true,
    }
    .fit(room, theme.key());
    spans.push(Span::raw(" "));
    spans
}

pub(super) fn render_output(app: &App, theme: &Theme, area: Rect, a: &Areas, buf: &mut Buffer) {
    let focused = app.focus == Focus::Output;
    let step = app.selected;
    let hosts = app.step_hosts(step);
    let shown = app.shown_host();
    let pane = shown.and_then(|h| app.output(step, h));
    let text = a.output_text.unwrap_or_default();
    let rows = pane.map(|p| pane_rows(p, app.output_reading, theme, text, &[], &app.drawn.output));
    // Which step this is and whether it moves on with the run come first:
    // a narrow pane cuts its title from the end.
    let mut title = vec![Span::styled(
        format!(" {} ", s::OUTPUT),
        theme.title(focused),
    )];
    if let Some(st) = app.plan.steps.get(step) {
        title.push(Span::styled(
            format!("{} {} ", step + 1, st.id),
            theme.text(),
        ));
    }
    // Which host the output is from matters more than how to follow the
    // run again: on a narrow pane the mode takes its short form.
    let host_room = shown.map_or(0, |h| app.host_name(h).width() + 4);
    let fits = |label: &str| {
        strip::width(&title) + label.width() + 1 + host_room <= usize::from(area.width)
    };
    let mode = match app.auto_select {
        true if fits(s::FOLLOWS_RUN) => Span::styled(format!("{} ", s::FOLLOWS_RUN), theme.muted()),
        true => Span::styled(format!("{} ", s::FOLLOWS_RUN_SHORT), theme.muted()),
        false if fits(s::PICKED) => Span::styled(format!("{} ", s::PICKED), theme.alert()),
        false => Span::styled(format!("{} ", s::PICKED_SHORT), theme.alert()),
    };
    title.push(mode);
    title.extend(title_hosts(app, theme, hosts, shown, area.width, &title));
    let sideways = rows.as_ref().map_or(0, |r| r.sideways);
    let state = pane_state(pane, app.output_reading, sideways);
    pane_block(theme, focused, title)
        .title_bottom(Span::styled(format!(" {state} "), theme.muted()))
        .render(area, buf);
    if let (Some(area), Some(panel)) = (a.panel, panel(app, theme.status(CellStatus::Waiting))) {
        panel.render(area, buf);
    }
    match rows {
        Some(r) if pane.is_some_and(|p| !p.is_empty()) => {
            Paragraph::new(r.lines).render(text, buf);
        }
        _ => {
            app.drawn.output.record(text.height, text.width, 0);
            let msg = if hosts.is_empty() {
                s::NO_HOSTS
            } else {
                s::NO_OUTPUT
            };
            let mut lines = vec![Line::styled(msg, theme.muted())];
            if let Some(h) = shown
                && let Some(note) = &app.cells[step][h].note
            {
                lines.push(Line::styled(note.clone(), theme.muted()));
            }
            Paragraph::new(lines).render(text, buf);
        }
    }
}

/// A pane's frame: thick when it has the focus.
pub(super) fn pane_block<'a>(theme: &Theme, focused: bool, title: Vec<Span<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(theme.border(focused))
        .title(Line::from(title))
}

pub(super) fn render_logs(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let focused = app.focus == Focus::Logs;
    let log = app.logs.get(app.log_tab);
    let inner = Block::default().borders(Borders::ALL).inner(area);
    let [tabs, text] = inner.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
    ]));
    let rows = log.map(|l| {
        pane_rows(
            &l.pane,
            app.log_reading,
            theme,
            text,
            &l.highlight,
            &app.drawn.logs,
        )
    });
    let sideways = rows.as_ref().map_or(0, |r| r.sideways);
    let state = pane_state(log.map(|l| &l.pane), app.log_reading, sideways);
    let title = vec![Span::styled(format!(" {} ", s::LOGS), theme.title(focused))];
    pane_block(theme, focused, title)
        .title_bottom(Span::styled(format!(" {state} "), theme.muted()))
        .render(area, buf);
    let mut spans = Vec::new();
    for (i, l) in app.logs.iter().enumerate() {
        let style = if i == app.log_tab {
            theme.selection()
        } else {
            theme.muted()
        };
        spans.push(Span::styled(format!(" {} ", l.name), style));
        spans.push(Span::raw(" "));
    }
    if let Some(l) = log {
        let state = match &l.state {
            LogState::Connecting => s::LOG_CONNECTING.to_string(),
            LogState::Tailing => s::LOG_LIVE.to_string(),
            LogState::Ended(why) => s::log_ended(why),
        };
        spans.push(Span::styled(
            format!(" {}:{} ({state})", l.host, l.path),
            theme.muted(),
        ));
    }
    Paragraph::new(Line::from(spans)).render(tabs, buf);
    match rows {
        Some(r) => Paragraph::new(r.lines).render(text, buf),
        None => {
            app.drawn.logs.record(text.height, text.width, 0);
            Paragraph::new(Line::styled(s::NO_LOGS, theme.muted())).render(text, buf)
        }
    }
}
