//! The two header lines: the run and its state, then the hosts.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::strip::Strip;
use super::{clock, pad};
use crate::tui::app::App;
use crate::tui::state::{CellStatus, Conn, LockView, Mode, Source};
use crate::tui::strings as s;
use crate::tui::theme::Theme;

/// The run's modes, most telling first.
fn modes(app: &App, theme: &Theme) -> Vec<Span<'static>> {
    let mut m = Vec::new();
    if let Some(ro) = &app.read_only {
        let badge = match ro.source {
            Source::Replay => s::replay_badge(ro.shown, ro.of, ro.playing),
            Source::Watch => s::WATCH.to_string(),
        };
        m.push(Span::styled(badge, theme.dry_run()));
        if let Some(why) = ro.no_runbook {
            m.push(Span::styled(s::no_runbook_badge(why), theme.alert()));
        }
    }
    if app.dry_run {
        m.push(Span::styled(s::DRY_RUN, theme.dry_run()));
    }
    if app.resumed {
        m.push(Span::styled(s::RESUMED, theme.dry_run()));
    }
    if app.finished.is_some() {
        m.push(Span::styled(
            s::FINISHED,
            theme.ok().add_modifier(Modifier::REVERSED),
        ));
    } else if app.rollback {
        m.push(Span::styled(
            s::ROLLING_BACK,
            theme.alert().add_modifier(Modifier::REVERSED),
        ));
    }
    m
}

/// How long the run has taken: up to now, or to its end (questions and
/// rollback included).
fn elapsed(app: &App) -> Duration {
    let end = app.finished.as_ref().map_or(app.now, |f| f.at);
    end.saturating_duration_since(app.started)
}

/// The first line's parts in the order they give way when the line is too
/// narrow: the last ones go first. The run's name is cut rather than dropped.
fn first_line(app: &App, theme: &Theme) -> Vec<(Vec<Span<'static>>, bool)> {
    let mut parts = vec![(
        vec![Span::styled(format!(" {} ", s::APP), theme.title(true))],
        false,
    )];
    for m in modes(app, theme) {
        parts.push((vec![Span::raw(" "), m], false));
    }
    if app.mode == Mode::Run {
        let steps = app.plan.steps.len();
        let count = app
            .current
            .map_or_else(|| s::steps(steps), |c| s::step_of(c + 1, steps));
        parts.push((
            vec![Span::styled(format!("  {count}"), theme.text())],
            false,
        ));
        if let Some(b) = &app.batch {
            parts.push((
                vec![Span::styled(
                    s::batch_in_flight(b.batch, b.batches),
                    theme.text(),
                )],
                false,
            ));
        }
        parts.push((
            vec![Span::styled(
                format!("  {}", s::elapsed(&clock(elapsed(app)))),
                theme.text(),
            )],
            false,
        ));
    }
    if let Some((_, until)) = app.waiting_until {
        let left = (until - app.wall).to_std().unwrap_or_default();
        parts.push((
            vec![Span::styled(
                format!("  {}", s::banner_starts_in(&clock(left))),
                theme.alert(),
            )],
            false,
        ));
    }
    parts.push((
        vec![Span::styled(
            format!("  {}", app.plan.name),
            theme.title(false),
        )],
        true,
    ));
    if let Some(id) = &app.run_id {
        parts.push((
            vec![Span::styled(format!("  run {id}"), theme.muted())],
            false,
        ));
    }
    if let Some(d) = &app.plan.description {
        parts.push((vec![Span::styled(format!("  {d}"), theme.muted())], false));
    }
    parts
}

/// Lay `parts` out in `width` columns: whole while they fit, a part that
/// may be cut is cut with an ellipsis, and nothing after the first that
/// does not fit.
fn give_way(parts: Vec<(Vec<Span<'static>>, bool)>, width: usize) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut room = width;
    for (spans, may_cut) in parts {
        let w: usize = spans.iter().map(|s| s.content.width()).sum();
        if w <= room {
            room -= w;
            out.extend(spans);
            continue;
        }
        if may_cut && room > 3 {
            for sp in spans {
                let cut = pad(&sp.content, room.min(sp.content.width()));
                let cut = cut.trim_end().to_string();
                room = room.saturating_sub(cut.width());
                out.push(Span::styled(cut, sp.style));
                if room == 0 {
                    break;
                }
            }
        }
        break;
    }
    out
}

/// How a host's connection looks: its symbol, style and state in a word
/// (the same for every host in that state, for the tally).
fn conn_look(conn: &Conn, theme: &Theme) -> (&'static str, Style, &'static str) {
    match conn {
        Conn::Pending => ("○", theme.status(CellStatus::Pending), s::CONN_PENDING),
        Conn::Queued => ("○", theme.status(CellStatus::Pending), s::CONN_QUEUED),
        Conn::Connecting => ("◌", theme.status(CellStatus::Running), s::CONN_CONNECTING),
        Conn::Connected => ("●", theme.status(CellStatus::Ok), s::CONN_CONNECTED),
        Conn::Failed { .. } => ("✗", theme.status(CellStatus::Failed), s::CONN_FAILED),
        Conn::Lost(_) => ("!", theme.status(CellStatus::Lost), s::CONN_LOST),
    }
}

/// A host's connection in words on its own item: with the cause, when it
/// failed or was lost.
fn conn_words(conn: &Conn) -> String {
    match conn {
        Conn::Failed { cause, .. } => s::conn_failed(cause),
        Conn::Lost(reason) => s::conn_lost(reason),
        Conn::Pending => s::CONN_PENDING.into(),
        Conn::Queued => s::CONN_QUEUED.into(),
        Conn::Connecting => s::CONN_CONNECTING.into(),
        Conn::Connected => s::CONN_CONNECTED.into(),
    }
}

/// A host's lock, when it is worth a word.
fn lock_word(app: &App, lock: &LockView, theme: &Theme) -> Option<Span<'static>> {
    match lock {
        LockView::None => None,
        // The run releases its locks as it finishes.
        LockView::Taken(_) if app.finished.is_some() => None,
        LockView::Taken(_) => Some(Span::styled(" locked", theme.ok())),
        LockView::Held { holder, .. } => Some(Span::styled(
            format!(" lock held by {holder}"),
            theme.alert(),
        )),
    }
}

/// The hosts line: every host with its connection and lock while they fit;
/// else how many are in each state, the hosts in trouble (no connection,
/// a lock held elsewhere, a step failed) by name, as many
/// others as fit, and how many are left out.
fn host_strip(app: &App, theme: &Theme, room: usize) -> Vec<Span<'static>> {
    let lead = vec![Span::styled(" hosts ", theme.muted())];
    let full = |h: usize| {
        let view = &app.hosts[h];
        let (sym, style, _) = conn_look(&view.conn, theme);
        let mut item = vec![
            Span::styled(format!("{sym} {}", app.host_name(h)), style),
            Span::styled(format!(" {}", conn_words(&view.conn)), theme.muted()),
        ];
        item.extend(lock_word(app, &view.lock, theme));
        item
    };
    let order = app.order.all();
    let whole = Strip {
        lead: lead.clone(),
        items: order.iter().map(|&h| full(h)).collect(),
        gap: "   ",
        hint: true,
    };
    if whole.width() <= room {
        return whole.fit(room, theme.key());
    }
    let step_failed = |h: usize| {
        app.cells
            .iter()
            .any(|row| row.get(h).is_some_and(|c| c.status.is_failure()))
    };
    let conn_trouble = |h: usize| {
        let view = &app.hosts[h];
        matches!(view.conn, Conn::Failed { .. } | Conn::Lost(_))
            || matches!(view.lock, LockView::Held { .. })
    };
    let trouble = |h: usize| conn_trouble(h) || step_failed(h);
    let mut tally = lead;
    let mut counts: Vec<(&'static str, Style, &'static str, usize)> = Vec::new();
    for &h in order {
        let (sym, style, word) = conn_look(&app.hosts[h].conn, theme);
        match counts.iter_mut().find(|c| c.2 == word) {
            Some(c) => c.3 += 1,
            None => counts.push((sym, style, word, 1)),
        }
    }
    for (sym, style, word, n) in counts {
        tally.push(Span::styled(s::tally(sym, n, word), style));
        tally.push(Span::raw("  "));
    }
    tally.push(Span::styled("│ ", theme.muted()));
    // The trouble in a word; the host's own line of the screen says more.
    // No connection or a lock held elsewhere first, then failed steps.
    let in_trouble = order.iter().filter(|&&h| conn_trouble(h)).chain(
        order
            .iter()
            .filter(|&&h| !conn_trouble(h) && step_failed(h)),
    );
    let mut items: Vec<Vec<Span<'static>>> = in_trouble
        .map(|&h| {
            let view = &app.hosts[h];
            let (sym, style, word) = conn_look(&view.conn, theme);
            if !conn_trouble(h) {
                // Connected, and a step failed there.
                let failed = theme.status(CellStatus::Failed);
                return vec![
                    Span::styled(
                        format!("{} {}", CellStatus::Failed.symbol(), app.host_name(h)),
                        failed,
                    ),
                    Span::styled(format!(" {}", s::STEP_FAILED), theme.muted()),
                ];
            }
            let mut item = vec![Span::styled(format!("{sym} {}", app.host_name(h)), style)];
            match view.lock {
                LockView::Held { .. } => {
                    item.push(Span::styled(format!(" {}", s::LOCK_HELD), theme.alert()))
                }
                _ => item.push(Span::styled(format!(" {word}"), theme.muted())),
            }
            item
        })
        .collect();
    items.extend(order.iter().filter(|&&h| !trouble(h)).map(|&h| {
        let (sym, style, _) = conn_look(&app.hosts[h].conn, theme);
        vec![Span::styled(format!("{sym} {}", app.host_name(h)), style)]
    }));
    Strip {
        lead: tally,
        items,
        gap: "  ",
        hint: true,
    }
    .fit(room, theme.key())
}

pub(super) fn render_header(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, theme.header());
    let [l1, l2] = area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
    ]));
    let top = give_way(first_line(app, theme), usize::from(l1.width));
    Paragraph::new(Line::from(top)).render(l1, buf);

    let hosts = if app.mode == Mode::Logs {
        let names: Vec<String> = app
            .logs
            .iter()
            .map(|l| format!("{}:{}", l.host, l.path))
            .collect();
        vec![
            Span::styled(" hosts ", theme.muted()),
            Span::styled(names.join("  "), theme.text()),
        ]
    } else {
        host_strip(app, theme, usize::from(l2.width))
    };
    Paragraph::new(Line::from(hosts)).render(l2, buf);
}
