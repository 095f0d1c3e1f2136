//! Drawing: pure functions of the state. No I/O, no sends.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use super::app::{
    App, CellStatus, Conn, Focus, LockView, LogLayout, LogState, Mode, Overlay, PromptState,
    QuestionState,
};
use super::keys::{ANSWERS, BINDINGS, QUESTION_KEYS, answer_key};
use super::pane::{Pane, mark, sgr_line};
use super::strings as s;
use super::theme::Theme;
use crate::engine::{Decision, PromptKind};
use crate::journal::RunStatus;
use crate::remote::{Question, Stream};
use crate::runbook::Action;

pub const MIN_W: u16 = 60;
pub const MIN_H: u16 = 15;

pub struct Areas {
    pub header: Rect,
    pub body: Rect,
    pub footer: Rect,
    pub checklist: Option<Rect>,
    pub output: Option<Rect>,
    /// Where output lines go, inside the border and below any status panel.
    pub output_text: Option<Rect>,
    pub panel: Option<Rect>,
    pub logs_block: Option<Rect>,
    pub logs: Option<Rect>,
}

fn inner(r: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(r)
}

/// The layout, shared by drawing and by input (page sizes).
pub fn areas(app: &App, area: Rect) -> Areas {
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
        logs: None,
    };
    if app.mode == Mode::Logs {
        a.logs_block = Some(body);
        a.logs = Some(
            inner(body).layout::<2>(&Layout::vertical([
                Constraint::Length(1),
                Constraint::Fill(1),
            ]))[1],
        );
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
    if let Some(l) = logs {
        a.logs_block = Some(l);
        a.logs = Some(
            inner(l).layout::<2>(&Layout::vertical([
                Constraint::Length(1),
                Constraint::Fill(1),
            ]))[1],
        );
    }
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
    if let Some(q) = &app.question {
        render_question(theme, q, area, buf);
    }
}

pub fn clock(d: Duration) -> String {
    let t = d.as_secs();
    format!("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
}

fn dur(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        let t = d.as_secs();
        format!("{}m{:02}s", t / 60, t % 60)
    } else {
        let t = d.as_secs();
        format!("{}h{:02}m", t / 3600, (t / 60) % 60)
    }
}

fn render_header(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, theme.header());
    let [l1, l2] = area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
    ]));
    let mut top = vec![
        Span::styled(format!(" {} ", s::APP), theme.title(true)),
        Span::styled(app.plan.name.clone(), theme.title(false)),
    ];
    if let Some(id) = &app.run_id {
        top.push(Span::styled(format!("  run {id}"), theme.muted()));
    }
    // The description goes last on the line: the line is cut at the screen's
    // edge, and the run's state matters more than its description.
    let description = app.plan.description.as_ref().map(|d| format!("  {d}"));
    if app.mode == Mode::Run {
        let elapsed =
            app.finished
                .as_ref()
                .map_or(app.now.saturating_duration_since(app.started), |_| {
                    app.cells
                        .iter()
                        .flatten()
                        .filter_map(|c| {
                            c.started.map(|s| {
                                s.saturating_duration_since(app.started)
                                    + c.duration.unwrap_or_default()
                            })
                        })
                        .max()
                        .unwrap_or_default()
                });
        top.push(Span::styled(
            format!("  elapsed {}", clock(elapsed)),
            theme.text(),
        ));
    }
    if app.dry_run {
        top.push(Span::raw("  "));
        top.push(Span::styled(s::DRY_RUN, theme.dry_run()));
    }
    if app.rollback {
        top.push(Span::raw("  "));
        top.push(Span::styled(
            s::ROLLING_BACK,
            theme.alert().add_modifier(Modifier::REVERSED),
        ));
    }
    if let Some((_, until)) = app.waiting_until {
        let left = (until - app.wall).to_std().unwrap_or_default();
        top.push(Span::styled(
            format!("  banner: starts in {}", clock(left)),
            theme.alert(),
        ));
    }
    if let Some(d) = description {
        top.push(Span::styled(d, theme.muted()));
    }
    Paragraph::new(Line::from(top)).render(l1, buf);

    let mut hosts = vec![Span::styled(" hosts ", theme.muted())];
    if app.mode == Mode::Logs {
        let names: Vec<String> = app
            .logs
            .iter()
            .map(|l| format!("{}:{}", l.host, l.path))
            .collect();
        hosts.push(Span::styled(names.join("  "), theme.text()));
    }
    for (i, h) in app.hosts.iter().enumerate() {
        if app.mode == Mode::Logs {
            break;
        }
        let (sym, style, word) = match &h.conn {
            Conn::Pending => ("○", theme.status(CellStatus::Pending), s::CONN_PENDING),
            Conn::Connecting => ("◌", theme.status(CellStatus::Running), s::CONN_CONNECTING),
            Conn::Connected => ("●", theme.status(CellStatus::Ok), s::CONN_CONNECTED),
            Conn::Failed(_) => ("✗", theme.status(CellStatus::Failed), s::CONN_FAILED),
        };
        hosts.push(Span::styled(format!("{sym} {}", app.host_name(i)), style));
        hosts.push(Span::styled(format!(" {word}"), theme.muted()));
        match &h.lock {
            LockView::None => {}
            LockView::Taken(_) => hosts.push(Span::styled(" locked", theme.ok())),
            LockView::Held { holder, .. } => hosts.push(Span::styled(
                format!(" lock held by {holder}"),
                theme.alert(),
            )),
        }
        hosts.push(Span::raw("   "));
    }
    Paragraph::new(Line::from(hosts)).render(l2, buf);
}

fn markers(app: &App, step: usize) -> Vec<&'static str> {
    let st = &app.plan.steps[step];
    let mut m = Vec::new();
    if st.confirm || matches!(st.action, Action::Manual(_)) {
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
    m
}

/// The status a step shows as a whole: the most pressing of its hosts'.
fn step_status(app: &App, step: usize) -> CellStatus {
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

fn step_duration(app: &App, step: usize) -> Option<Duration> {
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

fn render_checklist(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let focused = app.focus == Focus::Checklist;
    let done = (0..app.plan.steps.len())
        .filter(|&i| matches!(step_status(app, i), CellStatus::Ok | CellStatus::Skipped))
        .count();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(theme.border(focused))
        .title(Span::styled(
            format!(" {} {done}/{} ", s::CHECKLIST, app.plan.steps.len()),
            theme.title(focused),
        ));
    let inner = block.inner(area);
    block.render(area, buf);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    // Each step takes a line, plus a line of host cells when it has several hosts.
    let multi = app.plan.hosts.len() > 1;
    let rows_per = if multi { 2 } else { 1 };
    let n = app.plan.steps.len();
    let visible_steps = (height / rows_per).max(1);
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
        let dur_text = step_duration(app, i).map(dur).unwrap_or_default();
        let marks: String = markers(app, i).iter().map(|m| format!(" [{m}]")).collect();
        let fixed = numw + 3 + 1 + dur_text.len() + 1;
        let title_w = width.saturating_sub(fixed + marks.width());
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
            let mut cells = vec![Span::raw(" ".repeat(numw + 3))];
            for &h in app.step_hosts(i) {
                let c = &app.cells[i][h];
                cells.push(Span::styled(
                    format!("{} {}", c.status.symbol(), app.host_name(h)),
                    theme.status(c.status),
                ));
                if let Some(u) = c.undo {
                    cells.push(Span::styled(s::undo_state(u.word()), theme.status(u)));
                }
                cells.push(Span::raw("  "));
            }
            lines.push(Line::from(cells));
        }
    }
    Paragraph::new(lines).render(inner, buf);
}

/// The guard or banner-wait panel above the output, when the shown step has one.
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

fn render_output(app: &App, theme: &Theme, area: Rect, a: &Areas, buf: &mut Buffer) {
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
fn pane_block<'a>(theme: &Theme, focused: bool, title: Vec<Span<'a>>) -> Block<'a> {
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

fn render_logs(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
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

fn render_footer(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let line = if let Some(q) = &app.search_input {
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

fn modal_area(area: Rect, w_pct: u16, h_pct: u16) -> Rect {
    area.centered(Constraint::Percentage(w_pct), Constraint::Percentage(h_pct))
}

fn modal_block<'a>(theme: &Theme, title: &'a str, danger: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(if danger {
            theme.alert()
        } else {
            theme.border(true)
        })
        .title(Span::styled(
            format!(" {title} "),
            if danger {
                theme.alert()
            } else {
                theme.title(true)
            },
        ))
}

fn render_prompt(app: &App, theme: &Theme, p: &PromptState, area: Rect, buf: &mut Buffer) {
    let prompt = &p.prompt;
    let lock_break = p.is_lock_break();
    let danger = matches!(prompt.kind, PromptKind::Failure { .. }) || lock_break;
    let title = s::prompt_title(&prompt.kind, lock_break);
    let r = modal_area(area, 86, 80);
    Clear.render(r, buf);
    let block = modal_block(theme, title, danger);
    let inner = block.inner(r);
    block.render(r, buf);
    let [body, keys] = inner.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(2),
    ]));
    let step = app.plan.steps.get(prompt.step);
    let mut t: Vec<Line> = Vec::new();
    // A lock break is about a host, not a step: no step heads it.
    if let (Some(st), false) = (step, lock_break) {
        t.push(Line::from(vec![
            Span::styled(
                format!("{}/{} {}", prompt.step + 1, app.plan.steps.len(), st.id),
                theme.muted(),
            ),
            Span::raw("  "),
            Span::styled(st.title.clone(), theme.title(false)),
        ]));
    }
    let hosts: Vec<&str> = prompt.hosts.iter().map(|&h| app.host_name(h)).collect();
    t.push(Line::from(vec![
        Span::styled(s::HOSTS_LABEL, theme.muted()),
        Span::styled(hosts.join(", "), theme.text()),
    ]));
    if let (Some(st), false) = (step, lock_break) {
        if let Some(notes) = &st.notes {
            t.push(Line::raw(""));
            for l in notes.lines() {
                t.push(Line::styled(l.to_string(), theme.text()));
            }
        }
    }
    match &prompt.kind {
        PromptKind::Manual { instructions } => {
            t.push(Line::raw(""));
            t.push(Line::styled(s::BY_HAND, theme.muted()));
            for l in instructions.lines() {
                t.push(Line::styled(format!("  {l}"), theme.title(false)));
            }
        }
        PromptKind::Failure { failures } => {
            for f in failures {
                t.push(Line::raw(""));
                let how = f
                    .exit
                    .as_ref()
                    .map(ToString::to_string)
                    .or_else(|| f.message.clone())
                    .unwrap_or_else(|| f.outcome.as_str().into());
                t.push(Line::from(vec![
                    Span::styled(format!("{}: ", app.host_name(f.host)), theme.text()),
                    Span::styled(format!("{} ({how})", f.outcome.as_str()), theme.alert()),
                ]));
                if let Some(m) = &f.message {
                    t.push(Line::styled(format!("  {m}"), theme.text()));
                }
                if !f.last_stderr.is_empty() {
                    t.push(Line::styled("  last lines of stderr:", theme.muted()));
                }
                for l in &f.last_stderr {
                    let mut line = sgr_line(l, theme.stderr(), !theme.mono);
                    line.spans.insert(0, Span::styled("  ! ", theme.stderr()));
                    t.push(line);
                }
            }
        }
        PromptKind::Resume { interrupted } if !interrupted.is_empty() => {
            t.push(Line::raw(""));
            t.push(Line::styled(s::INTERRUPTED, theme.alert()));
            for (st, h) in interrupted {
                t.push(Line::styled(
                    format!("  {} on {}", app.step_id(*st), app.host_name(*h)),
                    theme.text(),
                ));
            }
        }
        _ => {}
    }
    if !prompt.commands.is_empty() && !matches!(prompt.kind, PromptKind::Manual { .. }) {
        t.push(Line::raw(""));
        t.push(Line::styled(
            if lock_break {
                s::WHAT_IT_DOES
            } else {
                s::EXACT_COMMANDS
            },
            theme.muted(),
        ));
        for (h, c) in &prompt.commands {
            t.push(Line::from(vec![
                Span::styled(format!("  {} $ ", app.host_name(*h)), theme.muted()),
                Span::styled(c.clone(), theme.title(false)),
            ]));
        }
    }
    for pv in &prompt.previews {
        t.push(Line::raw(""));
        t.push(Line::styled(
            s::preview_on(app.host_name(pv.host), &pv.command),
            theme.muted(),
        ));
        if pv.lines.is_empty() && pv.error.is_none() {
            t.push(Line::styled("  (no output)", theme.muted()));
        }
        for l in &pv.lines {
            let mut line = sgr_line(l, theme.text(), !theme.mono);
            line.spans.insert(0, Span::styled("  │ ", theme.muted()));
            t.push(line);
        }
        if let Some(e) = &pv.error {
            t.push(Line::styled(format!("  ! {e}"), theme.alert()));
        }
    }
    if lock_break {
        t.push(Line::raw(""));
        t.push(Line::styled(
            s::lock_break(app.step_id(prompt.step)),
            theme.text(),
        ));
        t.push(Line::from(vec![
            Span::styled("> ", theme.key()),
            Span::styled(format!("{}▏", p.typed), theme.text()),
        ]));
        if p.wrong {
            t.push(Line::styled(s::NOT_A_MATCH, theme.alert()));
        }
    }
    Paragraph::new(Text::from(t))
        .wrap(Wrap { trim: false })
        .scroll((p.scroll, 0))
        .render(body, buf);
    let mut k = Vec::new();
    if !lock_break {
        for d in &prompt.choices {
            let key = answer_key(*d).map(String::from).unwrap_or_default();
            let style = if *d == Decision::Abort {
                theme.danger()
            } else {
                theme.key()
            };
            k.push(Span::styled(key, style));
            k.push(Span::styled(
                format!(" {}   ", s::choice(*d, &prompt.kind)),
                theme.text(),
            ));
        }
        for (key, what) in s::PROMPT_KEYS {
            k.push(Span::styled(*key, theme.key()));
            k.push(Span::styled(format!(" {what}   "), theme.text()));
        }
    } else {
        k.push(Span::styled(s::TYPE_ENTER, theme.muted()));
    }
    Paragraph::new(vec![Line::raw(""), Line::from(k)]).render(keys, buf);
}

fn render_confirm(
    theme: &Theme,
    title: &str,
    body: &str,
    keys: &str,
    area: Rect,
    buf: &mut Buffer,
) {
    let r = modal_area(area, 60, 40);
    Clear.render(r, buf);
    let block = modal_block(theme, title, true);
    let inner = block.inner(r);
    block.render(r, buf);
    let [b, k] = inner.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(1),
    ]));
    Paragraph::new(body.to_string())
        .style(theme.text())
        .wrap(Wrap { trim: false })
        .render(b, buf);
    Paragraph::new(Span::styled(keys.to_string(), theme.key())).render(k, buf);
}

fn render_question(theme: &Theme, q: &QuestionState, area: Rect, buf: &mut Buffer) {
    match &q.question {
        Question::TrustHostKey {
            host,
            key_type,
            fingerprint,
        } => {
            render_confirm(
                theme,
                s::HOST_KEY_TITLE,
                &s::trust_host_key(host, key_type, fingerprint),
                s::TRUST_KEYS,
                area,
                buf,
            );
        }
        Question::Passphrase { host, key_path } => {
            // Never echoed: not the text, not its length.
            let body = format!(
                "{}\n\n> {}",
                s::passphrase(host, key_path),
                s::HIDDEN_TYPING
            );
            render_confirm(
                theme,
                s::PASSPHRASE_TITLE,
                &body,
                s::PASSPHRASE_KEYS,
                area,
                buf,
            );
        }
    }
}

fn render_help(theme: &Theme, area: Rect, buf: &mut Buffer) {
    let r = modal_area(area, 80, 100);
    Clear.render(r, buf);
    let block = modal_block(theme, s::HELP, false);
    let inner = block.inner(r);
    block.render(r, buf);
    let mut lines = vec![Line::styled(s::HELP_MAIN_KEYS, theme.title(false))];
    for b in BINDINGS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<18}", b.label), theme.key()),
            Span::styled(b.help, theme.text()),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(s::HELP_MODAL_KEYS, theme.title(false)));
    for (k, _, h) in ANSWERS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<18}"), theme.key()),
            Span::styled(*h, theme.text()),
        ]));
    }
    for (k, h) in QUESTION_KEYS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<18}"), theme.key()),
            Span::styled(*h, theme.text()),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(s::HELP_CLOSE, theme.muted()));
    Paragraph::new(lines).render(inner, buf);
}

fn render_summary(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some(f) = &app.finished else { return };
    let (word, style) = match f.status {
        RunStatus::Ok => (s::RUN_OK, theme.ok().add_modifier(Modifier::BOLD)),
        RunStatus::Failed => (s::RUN_FAILED, theme.alert()),
        RunStatus::Aborted => (s::RUN_ABORTED, theme.alert()),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.border(true))
        .title(Span::styled(format!(" {} ", s::SUMMARY), theme.title(true)));
    let inner = block.inner(area);
    block.render(area, buf);
    let mut lines = vec![Line::from(vec![
        Span::styled(s::run_result(word), style),
        Span::styled(s::exit_status(f.exit_code), theme.muted()),
    ])];
    let journal = f
        .journal
        .as_ref()
        .map_or_else(|| s::NO_JOURNAL.to_string(), |j| j.display().to_string());
    lines.push(Line::from(vec![
        Span::styled(s::JOURNAL_LABEL, theme.muted()),
        Span::styled(journal, theme.text()),
    ]));
    lines.push(Line::raw(""));
    let idw = app
        .plan
        .steps
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(4)
        .min(28);
    let hostw = app
        .plan
        .hosts
        .iter()
        .map(|h| h.name.len())
        .max()
        .unwrap_or(4);
    for (i, st) in app.plan.steps.iter().enumerate() {
        for (k, &h) in st.hosts.iter().enumerate() {
            let c = &app.cells[i][h];
            let head = if k == 0 {
                format!("{:>2} {}", i + 1, pad(&st.id, idw))
            } else {
                " ".repeat(idw + 3)
            };
            let d = c.duration.map(dur).unwrap_or_default();
            let mut spans = vec![
                Span::styled(format!("{head}  "), theme.text()),
                Span::styled(format!("{:<hostw$}  ", app.host_name(h)), theme.muted()),
                Span::styled(
                    format!("{} {:<9}", c.status.symbol(), c.status.word()),
                    theme.status(c.status),
                ),
                Span::styled(format!("{d:>7}"), theme.muted()),
            ];
            if let Some(u) = c.undo {
                spans.push(Span::styled(
                    format!(" {}", s::undo_state(u.word())),
                    theme.status(u),
                ));
            }
            if let (
                Some(n),
                CellStatus::Skipped | CellStatus::Failed | CellStatus::Timeout | CellStatus::Lost,
            ) = (&c.note, c.status)
            {
                spans.push(Span::styled(format!("  {n}"), theme.muted()));
            }
            lines.push(Line::from(spans));
        }
    }
    let height = usize::from(inner.height);
    let skip = lines.len().saturating_sub(height);
    // Keep the head (status, journal) and show the end of the step list when it does not fit.
    let lines: Vec<Line> = if skip > 0 {
        lines
            .iter()
            .take(3)
            .cloned()
            .chain(lines.iter().skip(3 + skip).cloned())
            .collect()
    } else {
        lines
    };
    Paragraph::new(lines).render(inner, buf);
}
