//! Drawing: pure functions of the state. No I/O, no sends.
//! The layout and the whole screen here; each part in its own file.

mod checklist;
mod header;
mod modals;
mod panes;
mod picker;
mod strip;
mod summary;

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use super::app::App;
use super::keys::{BINDINGS, Intent, REPLAY_KEYS};
use super::state::{Focus, LogLayout, Mode, Overlay, Source, Typing};
use super::strings as s;
use super::theme::Theme;
use checklist::render_checklist;
use header::render_header;
use modals::{render_confirm, render_help, render_prompt, render_question, render_sudo_question};
use panes::{panel, render_logs, render_output};
use picker::render_picker;
use summary::render_summary;

pub const MIN_W: u16 = 60;
pub const MIN_H: u16 = 15;

/// Where each part of the screen goes.
struct Areas {
    header: Rect,
    body: Rect,
    footer: Rect,
    checklist: Option<Rect>,
    output: Option<Rect>,
    /// Where output lines go, inside the border and below any status panel.
    output_text: Option<Rect>,
    panel: Option<Rect>,
    logs_block: Option<Rect>,
}

fn inner(r: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(r)
}

/// The output pane's parts: where its lines go, below any status panel.
fn output_parts(app: &App, a: &mut Areas, output: Rect) {
    a.output = Some(output);
    let text = inner(output);
    let panel_h = panel(app, ratatui::style::Style::default()).map_or(0, |p| {
        let rows = u16::try_from(p.line_count(text.width)).unwrap_or(u16::MAX);
        // With the blank row that parts it from the output; at least three
        // rows of output stay in sight.
        rows.saturating_add(1)
            .min(text.height.saturating_sub(3).max(1))
    });
    let [panel, rest] = text.layout(&Layout::vertical([
        Constraint::Length(panel_h),
        Constraint::Fill(1),
    ]));
    a.panel = (panel_h > 0).then_some(panel);
    a.output_text = Some(rest);
}

/// The layout. Key handling never asks for it: the parts that scroll record
/// the sizes they were drawn at (see `DrawnSizes`).
fn areas(app: &App, area: Rect) -> Areas {
    let [header, body, footer] = area.layout(&Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ]));
    let mut a = Areas {
        header,
        body,
        footer,
        checklist: None,
        output: None,
        output_text: None,
        panel: None,
        logs_block: None,
    };
    if app.zoomed && !app.summary_shown() {
        // The focused part takes every row but the footer's.
        let [whole, _] = area.layout(&Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(1),
        ]));
        a.header = Rect::default();
        a.body = whole;
        match app.focus {
            Focus::Logs if !app.logs.is_empty() || app.mode == Mode::Logs => {
                a.logs_block = Some(whole)
            }
            Focus::Checklist if app.mode == Mode::Run => a.checklist = Some(whole),
            _ if app.mode == Mode::Logs => a.logs_block = Some(whole),
            _ => output_parts(app, &mut a, whole),
        }
        return a;
    }
    if app.mode == Mode::Logs {
        a.logs_block = Some(body);
        return a;
    }
    let [left, right] = body.layout(&Layout::horizontal([
        Constraint::Percentage(38),
        Constraint::Fill(1),
    ]));
    a.checklist = Some(left);
    let log_pct = match app.log_layout {
        _ if app.logs.is_empty() => 0,
        LogLayout::Hidden => 0,
        LogLayout::Normal => 35,
        LogLayout::Enlarged => 70,
    };
    let (output, logs) = if log_pct == 0 {
        (right, None)
    } else {
        let [o, l] = right.layout(&Layout::vertical([
            Constraint::Percentage(100 - log_pct),
            Constraint::Percentage(log_pct),
        ]));
        (o, Some(l))
    };
    output_parts(app, &mut a, output);
    a.logs_block = logs;
    a
}

/// The whole screen.
pub fn draw(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    if area.width < MIN_W || area.height < MIN_H {
        Paragraph::new(s::too_small(area.width, area.height, MIN_W, MIN_H))
            .style(theme.alert())
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    }
    let a = areas(app, area);
    if !a.header.is_empty() {
        render_header(app, theme, a.header, buf);
    }
    if app.summary_shown() {
        render_summary(app, theme, a.body, buf);
    } else {
        if let Some(r) = a.checklist {
            render_checklist(app, theme, r, buf);
        }
        if let Some(r) = a.output {
            render_output(app, theme, r, &a, buf);
        }
        if let Some(r) = a.logs_block {
            render_logs(app, theme, r, buf);
        }
    }
    render_footer(app, theme, a.footer, buf);
    if let Some(p) = app.prompt.as_ref().filter(|p| !p.hidden) {
        render_prompt(app, theme, p, area, buf);
    }
    match &app.overlay {
        // Drawn last, over a question too.
        Some(Overlay::Help) => {}
        Some(Overlay::ConfirmQuit) => render_confirm(
            theme,
            s::CONFIRM_QUIT_TITLE,
            s::CONFIRM_QUIT,
            s::CONFIRM_KEYS,
            area,
            buf,
        ),
        Some(Overlay::ConfirmAbort) => render_confirm(
            theme,
            s::CONFIRM_ABORT_TITLE,
            s::CONFIRM_ABORT,
            s::CONFIRM_KEYS,
            area,
            buf,
        ),
        Some(Overlay::OverrideGuard { step, typed, wrong }) => {
            let id = app.step_id(*step);
            let mut body = s::override_guard(id);
            body.push_str(&format!("\n\n> {typed}▏"));
            if *wrong {
                body.push_str(&format!("\n{}", s::NOT_A_MATCH));
            }
            render_confirm(theme, s::OVERRIDE_TITLE, &body, s::TYPE_ENTER, area, buf);
        }
        Some(Overlay::PickHost(picker)) => render_picker(app, theme, picker, area, buf),
        None => {}
    }
    if let Some(q) = &app.sudo_question {
        render_sudo_question(theme, q, area, buf);
    }
    if let Some(q) = &app.question {
        render_question(theme, q, area, buf);
    }
    if app.overlay == Some(Overlay::Help) {
        render_help(app, theme, area, buf);
    }
}

/// What the footer says besides the keys: a line being typed, or the state
/// that decides what keys do now.
fn footer_state(app: &App, theme: &Theme) -> Option<Vec<Span<'static>>> {
    let typed = |prefix: &'static str, text: &str, keys: &'static str| {
        vec![
            Span::styled(prefix, theme.key()),
            Span::styled(format!("{text}▏"), theme.text()),
            Span::styled(keys, theme.muted()),
        ]
    };
    if let Some(t) = &app.typing {
        return Some(match t {
            Typing::Search(q) => typed("/", q, s::SEARCH_KEYS),
            Typing::SavePath(p) => typed(s::SAVE_TO, p, s::SAVE_KEYS),
            Typing::Input(line) => {
                // A masked line shows nothing of what is typed, not even its length.
                let text = if line.masked {
                    s::HIDDEN_TYPING.to_string()
                } else {
                    format!("{}▏", line.text)
                };
                vec![
                    Span::styled(s::type_into(app.host_name(line.host)), theme.key()),
                    Span::styled(text, theme.text()),
                    Span::styled(s::TYPE_KEYS, theme.muted()),
                ]
            }
            Typing::Step(id) => typed(s::GO_TO_STEP, id, s::GO_TO_STEP_KEYS),
        });
    }
    if app.prompt.as_ref().is_some_and(|p| p.hidden) {
        return Some(vec![Span::styled(s::WAITING_ANSWER, theme.alert())]);
    }
    if app.selecting() {
        return Some(vec![Span::styled(s::SELECTING_KEYS, theme.muted())]);
    }
    // A finished watch has nothing left to follow: the finished run's keys.
    let following =
        |ro: &&crate::tui::state::ReadOnly| ro.source == Source::Replay || app.finished.is_none();
    if let Some(ro) = app.read_only.as_ref().filter(following) {
        return Some(read_only_keys(ro.source, theme));
    }
    if app.finished.is_some() {
        return Some(vec![Span::styled(s::LEAVE, theme.muted())]);
    }
    None
}

/// What keys do on a screen fed by a journal: a replay's own, or none.
fn read_only_keys(source: Source, theme: &Theme) -> Vec<Span<'static>> {
    match source {
        Source::Watch => vec![Span::styled(s::WATCHING, theme.muted())],
        Source::Replay => {
            let mut spans = Vec::new();
            for b in REPLAY_KEYS {
                spans.push(Span::styled(b.label, theme.key()));
                spans.push(Span::styled(format!(" {}  ", b.short), theme.muted()));
            }
            spans.push(Span::styled("? q", theme.key()));
            spans
        }
    }
}

/// The footer: a status message (always, so that "no match" is never
/// hidden), then what keys do now. Key hints that do not fit are left out
/// whole, all but the help's.
fn render_footer(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let mut spans = Vec::new();
    if let Some(st) = app.status.as_ref().filter(|_| app.typing.is_none()) {
        // A message wider than the screen ends in an ellipsis, so that it
        // does not look whole; the summary and the terminal after the run
        // show it all.
        let room = usize::from(area.width);
        let shown = if st.width() > room {
            pad(st, room)
        } else {
            st.clone()
        };
        spans.push(Span::styled(format!("{shown}   "), theme.alert()));
    }
    if let Some(state) = footer_state(app, theme) {
        spans.extend(state);
    } else {
        let hint = |label: &'static str, short: &'static str| {
            [
                Span::styled(label, theme.key()),
                Span::styled(format!(" {short}  "), theme.muted()),
            ]
        };
        let width = |spans: &[Span]| spans.iter().map(|s| s.content.width()).sum::<usize>();
        let is_help =
            |b: &&crate::tui::keys::Binding| b.keys.iter().any(|k| k.intent == Intent::Help);
        let help: Vec<Span> = BINDINGS
            .iter()
            .filter(is_help)
            .flat_map(|b| hint(b.label, b.short))
            .collect();
        let mut room = usize::from(area.width).saturating_sub(width(&spans) + width(&help));
        for b in BINDINGS.iter().filter(|b| b.footer && !is_help(b)) {
            let h = hint(b.label, b.short);
            let w = width(&h);
            if w <= room {
                room -= w;
                spans.extend(h);
            }
        }
        spans.extend(help);
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

pub fn clock(d: Duration) -> String {
    let t = d.as_secs();
    format!("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
}

/// `text` in exactly `width` columns: padded with spaces, or cut in its
/// middle, where names of one fleet are alike (web-fro…eu-west-03), so
/// that their ends still tell them apart.
fn pad_middle(text: &str, width: usize) -> String {
    let w = text.width();
    if w <= width {
        return format!("{text}{}", " ".repeat(width - w));
    }
    let room = width.saturating_sub(1);
    let tail_room = room - room / 2;
    let mut tail = Vec::new();
    let mut tail_used = 0;
    for ch in text.chars().rev() {
        let cw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if tail_used + cw > tail_room {
            break;
        }
        tail.push(ch);
        tail_used += cw;
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + cw > room - tail_used {
            break;
        }
        out.push(ch);
        used += cw;
    }
    out.push('…');
    out.extend(tail.into_iter().rev());
    out.push_str(&" ".repeat(width.saturating_sub(used + 1 + tail_used)));
    out
}

/// `text` in exactly `width` columns: padded with spaces, or cut with an ellipsis.
fn pad(text: &str, width: usize) -> String {
    let w = text.width();
    if w > width {
        let mut out = String::new();
        let mut used = 0;
        for ch in text.chars() {
            let cw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
            if used + cw + 1 > width {
                out.push('…');
                used += 1;
                break;
            }
            out.push(ch);
            used += cw;
        }
        out.push_str(&" ".repeat(width.saturating_sub(used)));
        out
    } else {
        format!("{text}{}", " ".repeat(width - w))
    }
}
