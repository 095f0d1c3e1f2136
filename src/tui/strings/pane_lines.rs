//! Lines drydock adds to a step's output pane, set apart from the command's own.

use crate::remote::ExitStatus;

pub fn skipped_line(reason: &str) -> String {
    format!("drydock: skipped: {reason}")
}

/// The command as it starts, dimmed so it reads as drydock's, not the host's;
/// an undo or a later attempt says so.
pub fn started_line(command: &str, undo: bool, attempt: u32) -> String {
    let what = match (undo, attempt) {
        (true, _) => "   (undo)".to_string(),
        (false, a) if a > 1 => format!("   (attempt {a})"),
        _ => String::new(),
    };
    format!("\x1b[2m$ {command}{what}\x1b[0m")
}

pub fn finished_line(
    outcome: &str,
    took: &str,
    exit: Option<&ExitStatus>,
    message: Option<&str>,
) -> String {
    let how = exit.map(|e| format!(" ({e})")).unwrap_or_default();
    let msg = message.map(|m| format!(": {m}")).unwrap_or_default();
    format!("drydock: {outcome} in {took}{how}{msg}")
}

pub fn guard_check_line(checks: u32, ok: bool, detail: &str) -> String {
    let state = if ok { "holds" } else { "does not hold yet" };
    format!("guard check {checks}: {state}: {detail}")
}

pub fn preview_line(command: &str, error: Option<&str>) -> String {
    match error {
        Some(e) => format!("drydock: preview `{command}` failed: {e}"),
        None => format!("drydock: preview `{command}`"),
    }
}

pub fn condition_line(command: &str, holds: bool, error: Option<&str>) -> String {
    let verdict = match (holds, error) {
        (_, Some(e)) => format!("could not be checked: {e}"),
        (true, None) => "holds".to_string(),
        (false, None) => "does not hold".to_string(),
    };
    format!("drydock: condition `{command}` {verdict}")
}

pub fn captured_line(var: &str, value: &str) -> String {
    format!("drydock: captured {{{{{var}}}}} = {value}")
}

pub fn notice_line(text: &str) -> String {
    format!("drydock: {text}")
}
