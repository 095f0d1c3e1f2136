//! The two header lines: the run and its state, then the hosts.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::clock;
use crate::tui::app::App;
use crate::tui::state::{CellStatus, Conn, LockView, Mode};
use crate::tui::strings as s;
use crate::tui::theme::Theme;

pub(super) fn render_header(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
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
            Conn::Pending => (
                "○",
                theme.status(CellStatus::Pending),
                s::CONN_PENDING.into(),
            ),
            Conn::Connecting => (
                "◌",
                theme.status(CellStatus::Running),
                s::CONN_CONNECTING.into(),
            ),
            Conn::Connected => ("●", theme.status(CellStatus::Ok), s::CONN_CONNECTED.into()),
            Conn::Failed { cause, .. } => {
                ("✗", theme.status(CellStatus::Failed), s::conn_failed(cause))
            }
            Conn::Lost(reason) => ("!", theme.status(CellStatus::Lost), s::conn_lost(reason)),
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
