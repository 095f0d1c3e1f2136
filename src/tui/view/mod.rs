//! Drawing: pure functions of the state. No I/O, no sends.
//! The layout and the whole screen here; each part in its own file.

mod checklist;
mod header;
mod modals;
mod panes;

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use super::app::App;
use super::keys::BINDINGS;
use super::state::{LogLayout, Mode, Overlay};
use super::strings as s;
use super::theme::Theme;
use checklist::render_checklist;
use header::render_header;
use modals::{
    render_confirm, render_help, render_prompt, render_question, render_sudo_question,
    render_summary,
};
use panes::{panel_lines, render_logs, render_output};

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

/// The layout. Key handling never asks for it: the parts that scroll record
/// the height they were drawn at (see `DrawnHeights`).
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
    a.output = Some(output);
    let text = inner(output);
    let panel_h = if panel_lines(app).is_some() { 4 } else { 0 };
    let [panel, rest] = text.layout(&Layout::vertical([
        Constraint::Length(panel_h),
        Constraint::Fill(1),
    ]));
    a.panel = (panel_h > 0).then_some(panel);
    a.output_text = Some(rest);
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
    render_header(app, theme, a.header, buf);
    if app.mode == Mode::Run && app.finished.is_some() && !app.summary_hidden {
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
        Some(Overlay::Help) => render_help(theme, area, buf),
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
        None => {}
    }
    if let Some(q) = &app.sudo_question {
        render_sudo_question(theme, q, area, buf);
    }
    if let Some(q) = &app.question {
        render_question(theme, q, area, buf);
    }
}

fn render_footer(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let line = if let Some(t) = &app.typing {
        // A masked line shows nothing of what is typed, not even its length.
        let text = if t.masked {
            s::HIDDEN_TYPING.to_string()
        } else {
            format!("{}▏", t.text)
        };
        Line::from(vec![
            Span::styled(s::type_into(app.host_name(t.host)), theme.key()),
            Span::styled(text, theme.text()),
            Span::styled(format!("   {}", s::TYPE_KEYS), theme.muted()),
        ])
    } else if let Some(q) = &app.search_input {
        Line::from(vec![
            Span::styled("/", theme.key()),
            Span::styled(format!("{q}▏"), theme.text()),
            Span::styled("   Enter search · Esc cancel", theme.muted()),
        ])
    } else if app.prompt.as_ref().is_some_and(|p| p.hidden) {
        Line::from(Span::styled(s::WAITING_ANSWER, theme.alert()))
    } else if app.finished.is_some() {
        Line::from(Span::styled(s::LEAVE, theme.muted()))
    } else {
        let mut spans = Vec::new();
        if let Some(st) = &app.status {
            spans.push(Span::styled(format!("{st}   "), theme.alert()));
        }
        for b in BINDINGS.iter().filter(|b| b.footer) {
            spans.push(Span::styled(b.label, theme.key()));
            spans.push(Span::styled(format!(" {}  ", b.short), theme.muted()));
        }
        Line::from(spans)
    };
    Paragraph::new(line).render(area, buf);
}

pub fn clock(d: Duration) -> String {
    let t = d.as_secs();
    format!("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
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
