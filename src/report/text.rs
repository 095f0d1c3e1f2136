//! A report as text, for `drydock show`. Give it a sanitised report
//! ([`Report::sanitized`]): every string it prints comes from there.

use std::fmt::Write as _;
use std::time::Duration;

use super::{HostReport, Report, RunbookFile};
use crate::runbook::duration::short;

/// The time of day of an RFC 3339 stamp (`01:39:19.127`), or the stamp.
fn time_of_day(ts: &str) -> &str {
    ts.split_once('T')
        .map_or(ts, |(_, t)| t.trim_end_matches('Z'))
}

fn ms(ms: u64) -> String {
    short(Duration::from_millis(ms))
}

pub fn render(report: &Report) -> String {
    let mut s = String::new();
    header(&mut s, report);
    let width = report
        .steps
        .iter()
        .flat_map(|st| st.hosts.iter().map(|h| h.host.chars().count()))
        .max()
        .unwrap_or(0);
    let _ = writeln!(s, "\nsteps");
    if report.steps.is_empty() {
        let _ = writeln!(s, "  (none started)");
    }
    for step in &report.steps {
        match &step.title {
            Some(title) => {
                let _ = writeln!(s, "  {}  {title}", step.step);
            }
            None => {
                let _ = writeln!(s, "  {}", step.step);
            }
        }
        for h in &step.hosts {
            host(&mut s, h, width);
        }
    }
    if !report.answers.is_empty() {
        let _ = writeln!(s, "\nanswers");
        for a in &report.answers {
            let about = about(a);
            let by =
                a.by.as_ref()
                    .map(|b| format!("  by {b}"))
                    .unwrap_or_default();
            let _ = writeln!(s, "  {}  {about}: {}{by}", time_of_day(&a.at), a.decision);
        }
    }
    if !report.connections.is_empty() {
        let _ = writeln!(s, "\nconnections");
        for c in &report.connections {
            let reason = c
                .route
                .as_ref()
                .map(|r| format!(" to {r}"))
                .into_iter()
                .chain(c.reason.as_ref().map(|r| format!(": {r}")))
                .collect::<String>();
            let _ = writeln!(
                s,
                "  {}  {} {}{reason}",
                time_of_day(&c.at),
                c.host,
                c.state
            );
        }
    }
    if !report.notices.is_empty() {
        let _ = writeln!(s, "\nnotices");
        for n in &report.notices {
            let step = n
                .step
                .as_ref()
                .map(|st| format!("{st}: "))
                .unwrap_or_default();
            let _ = writeln!(s, "  {}  {step}{}", time_of_day(&n.at), n.text);
        }
    }
    let _ = writeln!(s, "\nleft undone");
    if report.left_undone.is_empty() {
        let _ = writeln!(s, "  nothing");
    }
    for l in &report.left_undone {
        let _ = writeln!(s, "  {} on {}: {}", l.step, l.host, l.why);
    }
    for note in &report.notes {
        let _ = writeln!(s, "\nnote: {note}");
    }
    s
}

fn header(s: &mut String, report: &Report) {
    let file = match report.runbook_file {
        RunbookFile::Unchanged => "",
        RunbookFile::Changed => "  (changed since the run)",
        RunbookFile::Gone => "  (gone)",
    };
    let result = match report.exit_code {
        Some(code) => format!("{} (exit {code})", report.result),
        None => report.result.clone(),
    };
    let _ = writeln!(s, "run      {}", report.run_id);
    let _ = writeln!(s, "runbook  {}{file}", report.runbook);
    let _ = writeln!(s, "sha256   {}", report.runbook_sha256);
    let _ = writeln!(s, "user     {}", report.user);
    let _ = writeln!(s, "hosts    {}", report.hosts.join(", "));
    let _ = writeln!(s, "started  {}", report.started);
    let _ = writeln!(s, "ended    {}", report.ended.as_deref().unwrap_or("-"));
    let _ = writeln!(s, "result   {result}");
    if let Some(i) = &report.interrupted {
        let _ = writeln!(s, "         interrupted by {}", i.signal);
        for r in &i.running {
            let pid = r.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            let _ = writeln!(s, "         left running: {} on {}{pid}", r.step, r.host);
        }
    }
}

fn host(s: &mut String, h: &HostReport, width: usize) {
    let mut line = format!("    {:<width$}  {}", h.host, h.status);
    if let Some(d) = h.duration_ms {
        let _ = write!(line, " in {}", ms(d));
    }
    if let Some(code) = h.exit_code {
        let _ = write!(line, ", exit {code}");
    }
    if h.attempts > 1 {
        let _ = write!(line, ", {} attempts", h.attempts);
    }
    if h.guard_polls > 0 {
        let _ = write!(line, ", {} checks ({} held)", h.guard_polls, h.guard_held);
    }
    if let Some(pid) = h.pid {
        let _ = write!(line, ", pid {pid}");
    }
    let _ = writeln!(s, "{line}");
    let pad = " ".repeat(6);
    if let Some(command) = &h.command {
        let _ = writeln!(s, "{pad}$ {command}");
    }
    if let Some(reason) = h.reason.as_ref().filter(|_| h.failures.is_empty()) {
        let _ = writeln!(s, "{pad}{reason}");
    }
    if let Some(c) = &h.condition {
        let holds = match (&c.reason, c.holds) {
            (Some(why), _) => format!("could not be checked ({why})"),
            (None, true) => "holds".to_string(),
            (None, false) => "does not hold".to_string(),
        };
        let _ = writeln!(s, "{pad}when {holds}: $ {}", c.command);
    }
    for p in &h.previews {
        let how = match (&p.reason, p.exit_code) {
            (Some(reason), _) => format!(": {reason}"),
            (None, Some(code)) => format!(" (exit {code})"),
            (None, None) => String::new(),
        };
        let _ = writeln!(s, "{pad}preview{how}: $ {}", p.command);
        for l in &p.lines {
            let _ = writeln!(s, "{pad}  | {l}");
        }
    }
    for c in &h.captures {
        let _ = writeln!(s, "{pad}captured {} = {}", c.var, c.value);
    }
    for i in &h.inputs {
        let text = match (&i.text, i.end_of_input) {
            (_, true) => "end of input (^D)",
            (Some(text), false) => text.as_str(),
            (None, false) => "(masked)",
        };
        let _ = writeln!(s, "{pad}input at {}: {text}", time_of_day(&i.at));
    }
    for su in &h.sudo {
        let how = match (su.asked, su.ok) {
            (false, _) => "sudo needed no password",
            (true, true) => "sudo asked for the password: accepted",
            (true, false) => "sudo asked for the password: refused",
        };
        let _ = writeln!(s, "{pad}{how}");
    }
    for f in &h.failures {
        let how = match (&f.reason, f.exit_code) {
            (Some(reason), _) => reason.clone(),
            (None, Some(code)) => format!("exit status {code}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(s, "{pad}attempt {} {}: {how}", f.attempt, f.status);
        for l in &f.last_stderr {
            let _ = writeln!(s, "{pad}  ! {l}");
        }
    }
    if let Some(u) = &h.undo {
        let mut line = format!("{pad}undo {}", u.status);
        if let Some(d) = u.duration_ms {
            let _ = write!(line, " in {}", ms(d));
        }
        if let Some(code) = u.exit_code.filter(|c| *c != 0) {
            let _ = write!(line, ", exit {code}");
        }
        if let Some(pid) = u.pid {
            let _ = write!(line, ", pid {pid}");
        }
        if let Some(reason) = &u.reason {
            let _ = write!(line, " ({reason})");
        }
        let _ = writeln!(s, "{line}: $ {}", u.command);
        for l in &u.last_stderr {
            let _ = writeln!(s, "{pad}  ! {l}");
        }
    }
}

/// What an answer answered, in words: the step, and the question when it
/// was not whether to run it.
fn about(a: &crate::report::Answer) -> String {
    let step = a.step.as_deref().unwrap_or_default();
    let host = a.host.as_deref().unwrap_or_default();
    match a.question.as_deref() {
        Some("still_running") => format!("{step} on {host}, still running"),
        Some("undo") => format!("{step}, its undo"),
        Some("always") => format!("{step}, an always step in the rollback"),
        Some("failure") => format!("{step}, failed"),
        Some("resume") => format!("resume at {step}"),
        Some("rollback_plan") => "the rollback's plan".to_string(),
        Some("runbook_changed") => "the runbook changed since the run began".to_string(),
        Some("journal") => format!("{step}, the journal could not be written"),
        Some("from") => format!("--from {step}"),
        Some(other) if step.is_empty() => other.to_string(),
        Some(other) => format!("{step}, {other}"),
        None if !host.is_empty() => format!("lock on {host}"),
        None => step.to_string(),
    }
}
