//! Windows over the main view: the engine's prompt, the confirmations, the
//! transport's questions, sudo's password, the help; and the summary that
//! replaces the body when the run has finished. All framed by one helper.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};

use crate::engine::{BannerPreview, Decision, PromptKind};
use crate::remote::Question;
use crate::runbook::duration::short;
use crate::tui::app::{App, PromptState};
use crate::tui::keys::{ANSWERS, BINDINGS, HELP_KEYS, QUESTION_KEYS, REPLAY_KEYS, answer_key};
use crate::tui::pane::sgr_line;
use crate::tui::state::{CellStatus, DrawnScroll, QuestionState, Source, SudoState};
use crate::tui::strings as s;
use crate::tui::theme::Theme;

/// How much of the screen a window takes, in percent of its width and height.
pub(super) struct Size(pub u16, pub u16);

const PROMPT: Size = Size(86, 80);
const CONFIRM: Size = Size(60, 40);
/// sudo's password window: room for its lines at 80x24.
const SUDO: Size = Size(70, 60);
const HELP: Size = Size(80, 100);
/// The help is never narrower than this (or the screen): its lines are short.
const HELP_MIN_WIDTH: u16 = 78;
/// A question names this many of its hosts; the rest are counted (each
/// host's command, failure or preview is listed below anyway).
const HOSTS_NAMED: usize = 8;

/// Every window's frame: clear a centred part of `area`, draw a double border
/// titled `title` (in the alert colour when `danger`), and return the inside.
pub(super) fn window(
    theme: &Theme,
    title: &str,
    danger: bool,
    size: Size,
    area: Rect,
    buf: &mut Buffer,
) -> Rect {
    let r = area.centered(
        Constraint::Percentage(size.0),
        Constraint::Percentage(size.1),
    );
    window_at(theme, title, danger, r, buf)
}

/// A window's frame at `r`.
fn window_at(theme: &Theme, title: &str, danger: bool, r: Rect, buf: &mut Buffer) -> Rect {
    Clear.render(r, buf);
    let (border, title_style) = if danger {
        (theme.alert(), theme.alert())
    } else {
        (theme.border(true), theme.title(true))
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(border)
        .title(Span::styled(format!(" {title} "), title_style));
    let inner = block.inner(r);
    block.render(r, buf);
    inner
}

pub(super) fn render_prompt(
    app: &App,
    theme: &Theme,
    p: &PromptState,
    area: Rect,
    buf: &mut Buffer,
) {
    let prompt = &p.prompt;
    let lock_break = p.is_lock_break();
    let danger = matches!(
        prompt.kind,
        PromptKind::Failure { .. }
            | PromptKind::RunbookChanged { .. }
            | PromptKind::StillRunning { .. }
            | PromptKind::JournalFailed { .. }
    ) || lock_break;
    let title = s::prompt_title(&prompt.kind, lock_break);
    let inner = window(theme, title, danger, PROMPT, area, buf);
    let keys = answer_keys(theme, p, inner.width);
    let keys_h = u16::try_from(keys.len()).unwrap_or(u16::MAX);
    let [body, keys_area] = inner.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(keys_h),
    ]));
    // A lock break is about a host, the rollback's plan about every step it
    // lists: no one step heads them.
    let step = app
        .plan
        .steps
        .get(prompt.step)
        .filter(|_| !lock_break && !matches!(prompt.kind, PromptKind::RollbackPlan { .. }));
    let mut t: Vec<Line> = Vec::new();
    if let Some(st) = step {
        t.push(Line::from(vec![
            Span::styled(
                format!("{}/{} {}", prompt.step + 1, app.plan.steps.len(), st.id),
                theme.muted(),
            ),
            Span::raw("  "),
            Span::styled(st.title.clone(), theme.title(false)),
        ]));
    }
    let mut hosts: Vec<&str> = prompt
        .hosts
        .iter()
        .take(HOSTS_NAMED)
        .map(|&h| app.host_name(h))
        .collect();
    let more = prompt.hosts.len().saturating_sub(HOSTS_NAMED);
    let more = (more > 0).then(|| s::and_more_hosts(more, prompt.hosts.len()));
    hosts.extend(more.as_deref());
    t.push(Line::from(vec![
        Span::styled(s::HOSTS_LABEL, theme.muted()),
        Span::styled(hosts.join(", "), theme.text()),
    ]));
    if let Some(st) = step
        && let Some(notes) = &st.notes
    {
        t.push(Line::raw(""));
        for l in notes.lines() {
            t.push(Line::styled(l.to_string(), theme.text()));
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
        PromptKind::Failure { failures, undo } => {
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
            if !undo.is_empty() {
                t.push(Line::raw(""));
                t.push(Line::styled(s::UNDO_RESULTS, theme.muted()));
            }
            for u in undo {
                let status = CellStatus::from_outcome(u.outcome);
                let how = u
                    .exit
                    .as_ref()
                    .filter(|e| !e.success())
                    .map(|e| format!(" ({e})"))
                    .or_else(|| u.message.as_ref().map(|m| format!(": {m}")))
                    .unwrap_or_default();
                t.push(Line::from(vec![
                    Span::styled(format!("  {}: ", app.host_name(u.host)), theme.text()),
                    Span::styled(
                        format!("{} {}{how}", status.symbol(), status.word()),
                        theme.status(status),
                    ),
                ]));
            }
        }
        PromptKind::RollbackPlan { undo, always } => {
            for (title, steps) in [(s::ROLLBACK_UNDO, undo), (s::ROLLBACK_ALWAYS, always)] {
                t.push(Line::raw(""));
                t.push(Line::styled(title, theme.muted()));
                if steps.is_empty() {
                    t.push(Line::styled(s::ROLLBACK_NOTHING, theme.muted()));
                }
                for (st, hosts) in steps {
                    t.push(step_line(app, theme, *st, hosts));
                }
            }
        }
        PromptKind::From { skipped, guards } => {
            for (title, steps) in [(s::FROM_SKIPPED, skipped), (s::FROM_GUARDS, guards)] {
                if steps.is_empty() {
                    continue;
                }
                t.push(Line::raw(""));
                t.push(Line::styled(title, theme.muted()));
                for st in steps {
                    t.push(step_line(app, theme, *st, &[]));
                }
            }
        }
        PromptKind::RunbookChanged { journaled, now } => {
            t.push(Line::raw(""));
            t.push(Line::styled(
                s::runbook_changed(journaled, now),
                theme.alert(),
            ));
        }
        PromptKind::StillRunning { host, pid } => {
            t.push(Line::raw(""));
            t.push(Line::styled(
                s::still_running(app.host_name(*host), *pid),
                theme.alert(),
            ));
        }
        PromptKind::JournalFailed { error } => {
            t.push(Line::raw(""));
            t.push(Line::styled(error.clone(), theme.alert()));
            t.push(Line::raw(""));
            t.push(Line::styled(s::JOURNAL_STOPS, theme.text()));
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
    // A banner says what it publishes instead of a command.
    let commands: Vec<&(usize, String)> = prompt
        .commands
        .iter()
        .filter(|(h, _)| !prompt.banner.iter().any(|b| b.host == *h))
        .collect();
    if !commands.is_empty() && !matches!(prompt.kind, PromptKind::Manual { .. }) {
        t.push(Line::raw(""));
        t.push(Line::styled(
            if lock_break {
                s::WHAT_IT_DOES
            } else {
                s::EXACT_COMMANDS
            },
            theme.muted(),
        ));
        for (h, c) in commands {
            t.push(Line::from(vec![
                Span::styled(format!("  {} $ ", app.host_name(*h)), theme.muted()),
                Span::styled(c.clone(), theme.title(false)),
            ]));
        }
    }
    for b in &prompt.banner {
        t.push(Line::raw(""));
        t.extend(banner_lines(app, theme, b));
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
    render_scrolled(theme, Text::from(t), p.scroll, &app.drawn.prompt, body, buf);
    Paragraph::new(keys).render(keys_area, buf);
}

/// The question's keys below a blank row, each with what it does, in as
/// many rows as `width` needs: none is cut off, and none split in two.
fn answer_keys(theme: &Theme, p: &PromptState, width: u16) -> Vec<Line<'static>> {
    let prompt = &p.prompt;
    if p.is_lock_break() {
        return vec![Line::raw(""), Line::styled(s::TYPE_ENTER, theme.muted())];
    }
    let mut items: Vec<(Span<'static>, String)> = Vec::new();
    for d in &prompt.choices {
        let key = answer_key(*d).map(String::from).unwrap_or_default();
        let style = if *d == Decision::Abort {
            theme.danger()
        } else {
            theme.key()
        };
        items.push((
            Span::styled(key, style),
            s::choice(*d, &prompt.kind).to_string(),
        ));
    }
    for (key, what) in s::PROMPT_KEYS {
        items.push((Span::styled(*key, theme.key()), (*what).to_string()));
    }
    const GAP: &str = "   ";
    let width = usize::from(width);
    let mut rows = vec![Line::raw("")];
    let mut row: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for (key, what) in items {
        let item = key.width() + 1 + unicode_width::UnicodeWidthStr::width(what.as_str());
        if used > 0 && used + GAP.len() + item > width {
            rows.push(Line::from(std::mem::take(&mut row)));
            used = 0;
        }
        if used > 0 {
            row.push(Span::raw(GAP));
            used += GAP.len();
        }
        row.push(key);
        row.push(Span::styled(format!(" {what}"), theme.text()));
        used += item;
    }
    rows.push(Line::from(row));
    rows
}

/// One step in a list inside a question: number, id, title, and its hosts.
fn step_line(app: &App, theme: &Theme, step: usize, hosts: &[usize]) -> Line<'static> {
    let Some(st) = app.plan.steps.get(step) else {
        return Line::raw("");
    };
    let mut spans = vec![
        Span::styled(
            format!("  {}/{} {}  ", step + 1, app.plan.steps.len(), st.id),
            theme.muted(),
        ),
        Span::styled(st.title.clone(), theme.text()),
    ];
    if !hosts.is_empty() {
        let on: Vec<&str> = hosts.iter().map(|&h| app.host_name(h)).collect();
        spans.push(Span::styled(
            format!("  {}{}", s::HOSTS_LABEL, on.join(", ")),
            theme.muted(),
        ));
    }
    Line::from(spans)
}

/// What a banner step will publish on one host, in plain words.
fn banner_lines(app: &App, theme: &Theme, b: &BannerPreview) -> Vec<Line<'static>> {
    let host = app.host_name(b.host);
    if let Some(e) = &b.error {
        return vec![
            Line::styled(s::banner_publishes_unknown(host), theme.muted()),
            Line::styled(format!("  ! {e}"), theme.alert()),
        ];
    }
    let field = |label: &str, value: Line<'static>| {
        let mut line = value;
        line.spans
            .insert(0, Span::styled(format!("  {label:<11}"), theme.muted()));
        line
    };
    let mut lines = vec![
        Line::styled(s::banner_publishes(host, &b.path), theme.muted()),
        field(
            s::BANNER_MESSAGE,
            sgr_line(&b.message, theme.title(false), !theme.mono),
        ),
    ];
    if let Some(content) = &b.content {
        for (i, l) in content.lines().enumerate() {
            let label = if i == 0 { s::BANNER_CONTENT } else { "" };
            lines.push(field(label, sgr_line(l, theme.text(), !theme.mono)));
        }
    }
    lines.push(field(
        s::BANNER_STARTS,
        Line::styled(
            s::banner_starts_about(&b.starts_at, &short(b.lead)),
            theme.text(),
        ),
    ));
    lines
}

pub(super) fn render_confirm(
    theme: &Theme,
    title: &str,
    body: &str,
    keys: &str,
    area: Rect,
    buf: &mut Buffer,
) {
    text_window(theme, title, CONFIRM, body, keys, area, buf);
}

/// Text windows are never narrower than this (or the screen).
const TEXT_WINDOW_MIN_WIDTH: u16 = 66;

/// A window of text with its keys on the last rows: at least `size`, and
/// taller when its text needs it (up to the whole screen), so that what it
/// asks is read to its end.
fn text_window(
    theme: &Theme,
    title: &str,
    size: Size,
    body: &str,
    keys: &str,
    area: Rect,
    buf: &mut Buffer,
) {
    let at_least = area.centered(
        Constraint::Percentage(size.0),
        Constraint::Percentage(size.1),
    );
    let width = at_least.width.max(TEXT_WINDOW_MIN_WIDTH).min(area.width);
    let inner_width = width.saturating_sub(2);
    let body = Paragraph::new(body.to_string())
        .style(theme.text())
        .wrap(Wrap { trim: false });
    let keys =
        Paragraph::new(Span::styled(keys.to_string(), theme.key())).wrap(Wrap { trim: true });
    let rows = |p: &Paragraph| u16::try_from(p.line_count(inner_width)).unwrap_or(u16::MAX);
    let (body_rows, key_rows) = (rows(&body), rows(&keys));
    // Borders, the text, a blank row, the keys.
    let needed = body_rows.saturating_add(key_rows).saturating_add(3);
    let r = area.centered(
        Constraint::Length(width),
        Constraint::Length(at_least.height.max(needed).min(area.height)),
    );
    let inner = window_at(theme, title, true, r, buf);
    let [b, k] = inner.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(key_rows),
    ]));
    body.render(b, buf);
    keys.render(k, buf);
}

pub(super) fn render_question(theme: &Theme, q: &QuestionState, area: Rect, buf: &mut Buffer) {
    match &q.question {
        Question::TrustHostKey {
            host,
            address,
            key_type,
            fingerprint,
            known_hosts,
        } => {
            render_confirm(
                theme,
                s::HOST_KEY_TITLE,
                &s::trust_host_key(host, address, key_type, fingerprint, known_hosts),
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

/// sudo's password window: whose password, on which host; what is typed is
/// never drawn, not even its length.
pub(super) fn render_sudo_question(theme: &Theme, q: &SudoState, area: Rect, buf: &mut Buffer) {
    let ask = &q.question;
    let body = format!(
        "{}\n\n> {}\n\n{}",
        s::sudo_question(&ask.user, &ask.host, &ask.address, ask.attempt),
        s::HIDDEN_TYPING,
        s::sudo_every_host(q.every_host)
    );
    text_window(theme, s::SUDO_TITLE, SUDO, &body, s::SUDO_KEYS, area, buf);
}

/// A window's text, wrapped and scrolled by `scroll` rows; when it does not
/// fit, its last row says how much more there is below. Records its size
/// for the keys that scroll it.
fn render_scrolled(
    theme: &Theme,
    text: Text<'_>,
    scroll: u16,
    drawn: &DrawnScroll,
    area: Rect,
    buf: &mut Buffer,
) {
    let para = Paragraph::new(text).wrap(Wrap { trim: false });
    let total = para.line_count(area.width);
    if total <= usize::from(area.height) {
        drawn.record(area.height, total);
        para.render(area, buf);
        return;
    }
    let [body, mark] = area.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(1),
    ]));
    drawn.record(body.height, total);
    let scroll = scroll.min(drawn.max_scroll());
    para.scroll((scroll, 0)).render(body, buf);
    let below = total.saturating_sub(usize::from(scroll) + usize::from(body.height));
    let line = if below > 0 {
        Line::styled(s::more_below(below), theme.key())
    } else {
        Line::styled(s::AT_THE_END, theme.muted())
    };
    Paragraph::new(line).render(mark, buf);
}

/// Two columns: keys, and what they do.
fn key_line(theme: &Theme, keys: &str, what: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("  {keys:<16}  "), theme.key()),
        Span::styled(what.to_string(), theme.text()),
    ])
}

/// The keys of the question open under the help, first in it.
fn question_help(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(q) = &app.question {
        lines.push(Line::styled(s::HELP_THIS_QUESTION, theme.title(false)));
        let keys = match q.question {
            Question::TrustHostKey { .. } => s::TRUST_KEYS,
            Question::Passphrase { .. } => s::PASSPHRASE_KEYS,
        };
        lines.push(Line::styled(format!("  {keys}"), theme.text()));
    } else if app.sudo_question.is_some() {
        lines.push(Line::styled(s::HELP_THIS_QUESTION, theme.title(false)));
        lines.push(Line::styled(format!("  {}", s::SUDO_KEYS), theme.text()));
    } else if let Some(p) = app.prompt.as_ref().filter(|p| !p.hidden) {
        lines.push(Line::styled(s::HELP_THIS_QUESTION, theme.title(false)));
        if p.is_lock_break() {
            lines.push(key_line(theme, s::TYPE_THE_ID, s::BREAKS_THE_LOCK));
        } else {
            for d in &p.prompt.choices {
                let key = answer_key(*d).map(String::from).unwrap_or_default();
                lines.push(key_line(theme, &key, s::choice(*d, &p.prompt.kind)));
            }
        }
        for (k, h) in QUESTION_KEYS {
            lines.push(key_line(theme, k, h));
        }
    } else {
        return lines;
    }
    lines.push(Line::raw(""));
    lines
}

pub(super) fn render_help(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let width = (area.width * HELP.0 / 100).max(HELP_MIN_WIDTH.min(area.width));
    let r = area.centered(Constraint::Length(width), Constraint::Percentage(HELP.1));
    let inner = window_at(theme, s::HELP, false, r, buf);
    let mut lines = question_help(app, theme);
    if app
        .read_only
        .as_ref()
        .is_some_and(|r| r.source == Source::Replay)
    {
        lines.push(Line::styled(s::HELP_REPLAY_KEYS, theme.title(false)));
        for b in REPLAY_KEYS {
            lines.push(key_line(theme, b.label, b.help));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(s::HELP_MAIN_KEYS, theme.title(false)));
    for b in BINDINGS {
        lines.push(key_line(theme, b.label, b.help));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(s::HELP_MODAL_KEYS, theme.title(false)));
    for (k, _, h) in ANSWERS {
        lines.push(key_line(theme, &k.to_string(), h));
    }
    for (k, h) in QUESTION_KEYS {
        lines.push(key_line(theme, k, h));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(s::HELP_IN_HELP, theme.title(false)));
    for (k, h) in HELP_KEYS {
        lines.push(key_line(theme, k, h));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(s::HELP_CLOSE, theme.muted()));
    render_scrolled(
        theme,
        Text::from(lines),
        app.help_scroll,
        &app.drawn.help,
        inner,
        buf,
    );
}
