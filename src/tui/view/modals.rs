//! Windows over the main view: the engine's prompt, the confirmations, the
//! transport's questions, the help; and the summary that replaces the body
//! when the run has finished. All framed by one helper.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};

use super::pad;
use crate::engine::{Decision, PromptKind, exit};
use crate::journal::RunStatus;
use crate::remote::Question;
use crate::runbook::duration::short;
use crate::tui::app::{App, PromptState};
use crate::tui::keys::{ANSWERS, BINDINGS, QUESTION_KEYS, answer_key};
use crate::tui::pane::sgr_line;
use crate::tui::state::{CellStatus, Conn, QuestionState};
use crate::tui::strings as s;
use crate::tui::theme::Theme;

/// How much of the screen a window takes, in percent of its width and height.
struct Size(u16, u16);

const PROMPT: Size = Size(86, 80);
const CONFIRM: Size = Size(60, 40);
const HELP: Size = Size(80, 100);
const WHOLE: Size = Size(100, 100);

/// Every window's frame: clear a centred part of `area`, draw a double border
/// titled `title` (in the alert colour when `danger`), and return the inside.
fn window(
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
    let danger = matches!(prompt.kind, PromptKind::Failure { .. }) || lock_break;
    let title = s::prompt_title(&prompt.kind, lock_break);
    let inner = window(theme, title, danger, PROMPT, area, buf);
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

pub(super) fn render_confirm(
    theme: &Theme,
    title: &str,
    body: &str,
    keys: &str,
    area: Rect,
    buf: &mut Buffer,
) {
    let inner = window(theme, title, true, CONFIRM, area, buf);
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

pub(super) fn render_question(theme: &Theme, q: &QuestionState, area: Rect, buf: &mut Buffer) {
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

pub(super) fn render_help(theme: &Theme, area: Rect, buf: &mut Buffer) {
    let inner = window(theme, s::HELP, false, HELP, area, buf);
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

pub(super) fn render_summary(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some(f) = &app.finished else { return };
    let (word, style) = match f.status {
        RunStatus::Ok => (s::RUN_OK, theme.ok().add_modifier(Modifier::BOLD)),
        RunStatus::Failed if f.exit_code == exit::LOCKED => (s::RUN_LOCKED, theme.alert()),
        RunStatus::Failed if f.exit_code == exit::UNREACHABLE => (s::RUN_UNUSABLE, theme.alert()),
        RunStatus::Failed => (s::RUN_FAILED, theme.alert()),
        RunStatus::Aborted => (s::RUN_ABORTED, theme.alert()),
    };
    // Framed like a window, over the whole body.
    let inner = window(theme, s::SUMMARY, false, WHOLE, area, buf);
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
    // Why hosts could not be reached or used: the first thing to fix.
    for (h, view) in app.hosts.iter().enumerate() {
        if let Conn::Failed { error, .. } = &view.conn {
            lines.push(Line::styled(
                s::host_unusable(app.host_name(h), error),
                theme.alert(),
            ));
        }
    }
    let head = lines.len();
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
            let d = c.duration.map(short).unwrap_or_default();
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
    // Keep the head (status, journal, hosts that failed, a blank line) and
    // show the end of the step list when it does not fit.
    let head = head + 1;
    let lines: Vec<Line> = if skip > 0 {
        lines
            .iter()
            .take(head)
            .cloned()
            .chain(lines.iter().skip(head + skip).cloned())
            .collect()
    } else {
        lines
    };
    Paragraph::new(lines).render(inner, buf);
}
