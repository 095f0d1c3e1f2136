//! The output pane (with the guard or banner-wait panel above it) and the
//! log pane: scrollable text in a frame that says what it shows.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget};

use super::{Areas, clock};
use crate::remote::Stream;
use crate::tui::app::App;
use crate::tui::pane::{Pane, mark, sgr_line};
use crate::tui::state::{CellStatus, Focus, LogState};
use crate::tui::strings as s;
use crate::tui::theme::Theme;

/// The guard or banner-wait panel above the output, when the shown step has one.
pub(super) fn panel_lines(app: &App) -> Option<Vec<Line<'static>>> {
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
    if let Some((s, until)) = app.waiting_until {
        if s == step {
            let left = (until - app.wall).to_std().unwrap_or_default();
            return Some(vec![
                Line::from(s::banner_at(&until.format("%H:%M:%S UTC").to_string())),
                Line::from(s::starting_in(&clock(left))),
                Line::from(s::BANNER_KEYS),
            ]);
        }
    }
    None
}

fn render_pane_lines(
    pane: &Pane,
    theme: &Theme,
    area: Rect,
    highlight: &[String],
    buf: &mut Buffer,
) {
    let height = usize::from(area.height);
    let query = pane.query.clone().unwrap_or_default();
    let colour = !theme.mono;
    let lines: Vec<Line> = pane
        .visible(height)
        .map(|l| {
            let (gutter, base) = match l.stream {
                Stream::Stderr => (s::STDERR_GUTTER, theme.stderr()),
                Stream::Stdout => (s::STDOUT_GUTTER, theme.text()),
            };
            let line = sgr_line(&l.text, base, colour);
            let mut spans = vec![Span::styled(
                gutter,
                if l.stream == Stream::Stderr {
                    theme.stderr()
                } else {
                    theme.muted()
                },
            )];
            let mut body = line.spans;
            for h in highlight {
                body = mark(body, h, theme.alert());
            }
            if !query.is_empty() {
                body = mark(body, &query, theme.search_match());
            }
            spans.extend(body);
            Line::from(spans)
        })
        .collect();
    Paragraph::new(lines).render(area, buf);
}

fn pane_state(pane: Option<&Pane>) -> String {
    match pane {
        Some(p) => {
            let follow = if p.follow { s::FOLLOWING } else { s::SCROLLED };
            let dropped = if p.dropped() > 0 {
                format!(", {} older dropped", p.dropped())
            } else {
                String::new()
            };
            let q = p
                .query
                .as_ref()
                .map(|q| format!(" · /{q}"))
                .unwrap_or_default();
            format!("{} lines{dropped} · {follow}{q}", p.len())
        }
        None => "0 lines".into(),
    }
}

pub(super) fn render_output(app: &App, theme: &Theme, area: Rect, a: &Areas, buf: &mut Buffer) {
    let focused = app.focus == Focus::Output;
    let step = app.selected;
    let hosts = app.step_hosts(step);
    let shown = app.shown_host();
    let pane = shown.and_then(|h| app.output(step, h));
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
    for (i, &h) in hosts.iter().enumerate() {
        let style = if Some(h) == shown {
            theme.selection()
        } else {
            theme.muted()
        };
        title.push(Span::styled(format!(" {} ", app.host_name(h)), style));
        if i + 1 < hosts.len() {
            title.push(Span::raw(" "));
        }
    }
    title.push(Span::styled(
        format!(" {} ", pane_state(pane)),
        theme.muted(),
    ));
    let block = pane_block(theme, focused, title);
    block.render(area, buf);
    if let (Some(panel), Some(lines)) = (a.panel, panel_lines(app)) {
        let lines: Vec<Line> = lines
            .into_iter()
            .map(|l| l.style(theme.status(CellStatus::Waiting)))
            .collect();
        Paragraph::new(lines).render(panel, buf);
    }
    let Some(text) = a.output_text else { return };
    app.heights.record_output(text.height);
    match pane {
        Some(p) if !p.is_empty() => render_pane_lines(p, theme, text, &[], buf),
        _ => {
            let msg = if hosts.is_empty() {
                s::NO_HOSTS
            } else {
                s::NO_OUTPUT
            };
            let mut lines = vec![Line::styled(msg, theme.muted())];
            if let Some(h) = shown {
                if let Some(note) = &app.cells[step][h].note {
                    lines.push(Line::styled(note.clone(), theme.muted()));
                }
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
    let mut title = vec![Span::styled(format!(" {} ", s::LOGS), theme.title(focused))];
    title.push(Span::styled(
        format!(" {} ", pane_state(log.map(|l| &l.pane))),
        theme.muted(),
    ));
    let block = pane_block(theme, focused, title);
    let inner = block.inner(area);
    block.render(area, buf);
    let [tabs, text] = inner.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
    ]));
    app.heights.record_logs(text.height);
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
    match log {
        Some(l) => render_pane_lines(&l.pane, theme, text, &l.highlight, buf),
        None => Paragraph::new(Line::styled(s::NO_LOGS, theme.muted())).render(text, buf),
    }
}
