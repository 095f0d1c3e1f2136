//! The summary that replaces the body once the run has finished: the run's
//! result, then one block per step — how many hosts ended each way, the
//! hosts where it failed with why, and why it was skipped — so that a
//! hundred hosts take a line a step, not a line a host. Every host of a
//! step is one Enter away (the host picker).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::checklist::{step_duration, step_status};
use super::modals::{Size, window};
use super::{pad, pad_middle};
use crate::engine::exit;
use crate::journal::RunStatus;
use crate::runbook::duration::short;
use crate::tui::app::App;
use crate::tui::state::{CellStatus, Conn};
use crate::tui::strings as s;
use crate::tui::theme::Theme;
use crate::tui::wrap::wrap;

const WHOLE: Size = Size(100, 100);
/// A step with this many hosts or fewer names them in its tally.
const NAMED_UP_TO: usize = 3;
/// Failed hosts named under a step; the rest are counted.
const FAILED_LISTED: usize = 5;
/// Reasons for skipping given under a step; the rest are counted.
const REASONS_LISTED: usize = 2;
/// The order states are counted in.
const TALLY_ORDER: [CellStatus; 10] = [
    CellStatus::Ok,
    CellStatus::Failed,
    CellStatus::Timeout,
    CellStatus::Lost,
    CellStatus::Unknown,
    CellStatus::Skipped,
    CellStatus::NeedsConfirm,
    CellStatus::Running,
    CellStatus::Waiting,
    CellStatus::Pending,
];

/// Why `step` ended as it did on `host`, in words: how its command ended
/// and the engine's message (a failure), the reason it was skipped, or why
/// the host could not be reached.
pub(super) fn reason(app: &App, step: usize, host: usize) -> Option<String> {
    let c = app.cells.get(step)?.get(host)?;
    let exit = c
        .exit
        .as_ref()
        .filter(|e| c.status.is_failure() && !e.success())
        .map(ToString::to_string);
    let note = c
        .note
        .clone()
        .filter(|_| c.status.is_failure() || c.status == CellStatus::Skipped);
    match (exit, note) {
        (Some(e), Some(n)) => Some(format!("{e}: {n}")),
        (Some(e), None) => Some(e),
        (None, Some(n)) => Some(n),
        (None, None) => match &app.hosts.get(host)?.conn {
            Conn::Failed { cause, .. } if c.status != CellStatus::Ok => Some(s::conn_failed(cause)),
            _ => None,
        },
    }
}

/// Why the run says `step` was not done on `host`, when it says so.
fn not_done(app: &App, step: usize, host: usize) -> Option<String> {
    let finished = app.finished.as_ref()?;
    finished
        .not_done
        .iter()
        .find(|n| n.step == step && n.host == host)
        .map(|n| n.why.clone())
}

/// How many of `step`'s hosts ended each way, and how their undos went;
/// the hosts by name when the step has few.
fn tally(app: &App, theme: &Theme, step: usize) -> Vec<Span<'static>> {
    let hosts = app.step_hosts(step);
    let named = hosts.len() <= NAMED_UP_TO;
    let names = |on: &[usize]| {
        on.iter()
            .map(|&h| app.host_name(h))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut spans = Vec::new();
    for status in TALLY_ORDER {
        let on: Vec<usize> = hosts
            .iter()
            .copied()
            .filter(|&h| app.cells[step][h].status == status)
            .collect();
        if on.is_empty() {
            continue;
        }
        let text = if named {
            s::tally_named(status.symbol(), status.word(), &names(&on))
        } else {
            s::tally(status.symbol(), on.len(), status.word())
        };
        spans.push(Span::styled(text, theme.status(status)));
        spans.push(Span::raw("  "));
    }
    for status in TALLY_ORDER {
        let on: Vec<usize> = hosts
            .iter()
            .copied()
            .filter(|&h| app.cells[step][h].undo == Some(status))
            .collect();
        if on.is_empty() {
            continue;
        }
        let text = if named {
            s::undo_tally_named(status.word(), &names(&on))
        } else {
            s::undo_tally(on.len(), status.word())
        };
        spans.push(Span::styled(text, theme.status(status)));
        spans.push(Span::raw("  "));
    }
    if hosts.is_empty() {
        spans.push(Span::styled(s::NO_HOSTS, theme.muted()));
    }
    spans
}

/// Widths shared by every step's block.
struct Columns {
    number: usize,
    id: usize,
    host: usize,
}

/// One step's lines: its head (number, state, id, time, tally), the hosts
/// where it failed with why, and why it was skipped.
fn step_block(
    app: &App,
    theme: &Theme,
    step: usize,
    selected: bool,
    cols: &Columns,
) -> Vec<Line<'static>> {
    let Some(st) = app.plan.steps.get(step) else {
        return Vec::new();
    };
    let status = step_status(app, step);
    let base = if selected {
        theme.selection()
    } else {
        Style::default()
    };
    let took = step_duration(app, step).map(short).unwrap_or_default();
    let mut head = vec![
        Span::styled(
            format!(" {:>w$} ", step + 1, w = cols.number),
            base.patch(theme.muted()),
        ),
        Span::styled(
            format!("{} ", status.symbol()),
            if selected { base } else { theme.status(status) },
        ),
        Span::styled(pad(&st.id, cols.id), base.patch(theme.text())),
        Span::styled(format!(" {took:>7}  "), theme.muted()),
    ];
    head.extend(tally(app, theme, step));
    let mut lines = vec![Line::from(head)];
    let indent = " ".repeat(cols.number + 4);
    let hosts = app.step_hosts(step);
    let failed: Vec<usize> = hosts
        .iter()
        .copied()
        .filter(|&h| app.cells[step][h].status.is_failure())
        .collect();
    for &h in failed.iter().take(FAILED_LISTED) {
        let c = &app.cells[step][h];
        let why = reason(app, step, h)
            .map(|r| format!("  {r}"))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::raw(indent.clone()),
            Span::styled(
                format!(
                    "{} {}  ",
                    c.status.symbol(),
                    pad_middle(app.host_name(h), cols.host)
                ),
                theme.status(c.status),
            ),
            Span::styled(c.status.word(), theme.status(c.status)),
            Span::styled(why, theme.text()),
        ]));
    }
    if failed.len() > FAILED_LISTED {
        lines.push(Line::styled(
            format!("{indent}{}", s::more_failed(failed.len() - FAILED_LISTED)),
            theme.muted(),
        ));
    }
    // Hosts skipped, or not done for another reason the run gave (not
    // reached, left in the rollback), or passed only by the admin's word
    // (a guard overridden): one line a reason.
    let mut reasons: Vec<(String, CellStatus, Vec<usize>)> = Vec::new();
    for &h in hosts {
        let cell = &app.cells[step][h];
        let status = cell.status;
        let why = if status == CellStatus::Skipped {
            reason(app, step, h).unwrap_or_default()
        } else if status == CellStatus::Ok
            && cell.note.as_deref() == Some(crate::engine::GUARD_OVERRIDDEN)
        {
            crate::engine::GUARD_OVERRIDDEN.to_string()
        } else if status.is_failure() {
            continue;
        } else {
            match not_done(app, step, h) {
                Some(why) => why,
                None => continue,
            }
        };
        match reasons.iter_mut().find(|(r, _, _)| *r == why) {
            Some((_, _, on)) => on.push(h),
            None => reasons.push((why, status, vec![h])),
        }
    }
    for (why, status, on) in reasons.iter().take(REASONS_LISTED) {
        let who = match on.as_slice() {
            [h] => app.host_name(*h).to_string(),
            _ if on.len() == hosts.len() => s::every_host(on.len()),
            _ => s::hosts_count(on.len()),
        };
        lines.push(Line::from(vec![
            Span::raw(indent.clone()),
            Span::styled(format!("{} {who}: {why}", status.symbol()), theme.muted()),
        ]));
    }
    if reasons.len() > REASONS_LISTED {
        lines.push(Line::styled(
            format!(
                "{indent}{}",
                s::more_reasons(reasons.len() - REASONS_LISTED)
            ),
            theme.muted(),
        ));
    }
    lines
}

/// The first step to show so that the picked one is in view: the top
/// while it fits, else as far down as needed.
fn first_shown(heights: &[usize], selected: usize, rows: usize) -> usize {
    if heights.is_empty() {
        return 0;
    }
    let selected = selected.min(heights.len() - 1);
    (0..=selected)
        .find(|&first| heights[first..=selected].iter().sum::<usize>() <= rows)
        .unwrap_or(selected)
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
    let journal = f
        .journal
        .as_ref()
        .map_or_else(|| s::NO_JOURNAL.to_string(), |j| j.display().to_string());
    let mut head = vec![
        Line::from(vec![
            Span::styled(s::run_result(word), style),
            Span::styled(s::exit_status(f.exit_code), theme.muted()),
        ]),
        Line::from(vec![
            Span::styled(s::JOURNAL_LABEL, theme.muted()),
            Span::styled(journal, theme.text()),
        ]),
    ];
    // Why hosts could not be reached or used: the first thing to fix.
    let unusable: Vec<(usize, &str)> = app
        .order
        .all()
        .iter()
        .filter_map(|&h| match &app.hosts[h].conn {
            Conn::Failed { error, .. } => Some((h, error.as_str())),
            _ => None,
        })
        .collect();
    // Wrapped, not cut: the message says what to do about it.
    for &(h, error) in unusable.iter().take(FAILED_LISTED) {
        let line = [Span::styled(
            s::host_unusable(app.host_name(h), error),
            theme.alert(),
        )];
        head.extend(
            wrap(&line, usize::from(inner.width))
                .into_iter()
                .map(Line::from),
        );
    }
    if unusable.len() > FAILED_LISTED {
        head.push(Line::styled(
            s::more_unusable(unusable.len() - FAILED_LISTED),
            theme.muted(),
        ));
    }
    let head_rows = u16::try_from(head.len()).unwrap_or(u16::MAX);
    let [top, _, body, keys] = inner.layout(&Layout::vertical([
        Constraint::Length(head_rows),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ]));
    Paragraph::new(head).render(top, buf);

    let steps = app.plan.steps.len();
    let cols = Columns {
        number: steps.to_string().len(),
        id: app
            .plan
            .steps
            .iter()
            .map(|s| s.id.len())
            .max()
            .unwrap_or(4)
            .min(24),
        // Whole where the width allows: a fleet's names often differ only
        // at their ends.
        host: app
            .plan
            .hosts
            .iter()
            .map(|h| unicode_width::UnicodeWidthStr::width(h.name.as_str()))
            .max()
            .unwrap_or(4)
            .min(usize::from(area.width / 2).max(24)),
    };
    let selected = app.summary_step.min(steps.saturating_sub(1));
    let blocks: Vec<Vec<Line>> = (0..steps)
        .map(|i| step_block(app, theme, i, i == selected, &cols))
        .collect();
    let heights: Vec<usize> = blocks.iter().map(Vec::len).collect();
    let rows = usize::from(body.height);
    let first = first_shown(&heights, selected, rows);
    let mut lines = Vec::new();
    let mut last = first;
    for (i, block) in blocks.into_iter().enumerate().skip(first) {
        if lines.len() + block.len() > rows && i > first {
            break;
        }
        lines.extend(block);
        last = i;
    }
    app.drawn.record_summary_steps(last + 1 - first);
    Paragraph::new(lines).render(body, buf);

    let mut hint = s::SUMMARY_KEYS.to_string();
    if first > 0 || last + 1 < steps {
        hint.push_str(&s::summary_steps_shown(first + 1, last + 1, steps));
    }
    Paragraph::new(Line::styled(hint, theme.muted())).render(keys, buf);
}

#[cfg(test)]
mod tests {
    use super::first_shown;

    #[test]
    fn the_picked_step_is_always_in_view() {
        let heights = [1, 3, 1, 6, 1, 1];
        assert_eq!(first_shown(&heights, 0, 5), 0);
        assert_eq!(first_shown(&heights, 2, 5), 0);
        assert_eq!(first_shown(&heights, 3, 7), 2);
        assert_eq!(first_shown(&heights, 5, 9), 2);
        // A block taller than the screen starts at its head.
        assert_eq!(first_shown(&heights, 3, 4), 3);
        assert_eq!(first_shown(&[], 0, 4), 0);
    }
}
