//! Every piece of text the TUI shows, in one place.

use super::state::CellStatus;
use crate::engine::{Decision, PromptKind};
use crate::remote::ExitStatus;

pub const APP: &str = "drydock";
pub const DRY_RUN: &str = " DRY RUN ";
pub const ROLLING_BACK: &str = " ROLLING BACK ";
pub const CHECKLIST: &str = "Steps";
pub const OUTPUT: &str = "Output";
pub const LOGS: &str = "Logs";
pub const HELP: &str = "Help";
pub const SUMMARY: &str = "Summary";
pub const FOLLOWING: &str = "following";
pub const SCROLLED: &str = "scrolled (f or End: follow)";
pub const NO_OUTPUT: &str = "(no output yet)";
pub const NO_HOSTS: &str = "(this step runs on no selected host)";
pub const NO_LOGS: &str = "(the runbook has no [logs])";
pub const TOO_SMALL: &str = "The terminal is too small for drydock.";
pub const WAITING_ANSWER: &str = "The run waits for your answer: press Enter.";
pub const HIDDEN_TYPING: &str = "(what you type is not shown)";
pub const HELP_MODAL_KEYS: &str = "In a question";
pub const HELP_MAIN_KEYS: &str = "Anywhere";
pub const HELP_CLOSE: &str = "Esc or ? closes this help";
pub const CONFIRM_QUIT_TITLE: &str = "Leave drydock?";
pub const CONFIRM_QUIT: &str = "A run is in progress. Leaving aborts it: the running command is ended, and the undo and always steps are offered before drydock exits.";
pub const CONFIRM_ABORT_TITLE: &str = "Abort the run?";
pub const CONFIRM_ABORT: &str = "The running command is ended, then the undo steps of what has run (newest first) and the always steps are offered one by one.";
pub const CONFIRM_KEYS: &str = "y yes · n or Esc no";
pub const TYPE_ENTER: &str = "Enter confirms · Esc closes";
pub const LEAVE: &str = "q leave · Esc look around";
pub const QUITTING: &str = "leaving after the run ends";
pub const NOT_A_MATCH: &str = "that is not the step id; type it exactly";
pub const STDERR_GUTTER: &str = "! ";
pub const STDOUT_GUTTER: &str = "│ ";

pub fn too_small(w: u16, h: u16, min_w: u16, min_h: u16) -> String {
    format!("{TOO_SMALL} It is {w}x{h}; make it at least {min_w}x{min_h}.")
}

pub fn prompt_title(kind: &PromptKind, lock_break: bool) -> &'static str {
    if lock_break {
        return "The lock is held";
    }
    match kind {
        PromptKind::Gate => "Confirm this step",
        PromptKind::Manual { .. } => "Do this by hand",
        PromptKind::Failure { .. } => "The step failed",
        PromptKind::Resume { .. } => "Resume the interrupted run",
        PromptKind::Undo => "Rollback: undo this step?",
        PromptKind::Always => "Rollback: run this always step?",
        PromptKind::LockBreak { .. } => "The lock is held",
    }
}

/// The word for a decision in a given question (`y done` at a manual step).
pub fn choice(decision: Decision, kind: &PromptKind) -> &'static str {
    match (decision, kind) {
        (Decision::Run, PromptKind::Manual { .. }) => "done",
        (Decision::Run, PromptKind::Resume { .. }) => "resume",
        (Decision::Skip, PromptKind::Undo | PromptKind::Always) => "leave",
        (Decision::Run, _) => "run",
        (Decision::Skip, _) => "skip",
        (Decision::Retry, _) => "retry",
        (Decision::Undo, _) => "undo",
        (Decision::Abort, _) => "abort",
        (Decision::Override, _) => "override",
        (Decision::BreakLock { .. }, _) => "break the lock",
    }
}

pub fn lock_break(step_id: &str) -> String {
    format!(
        "To break it, type the step id '{step_id}' and press Enter. Esc looks around; a aborts the run."
    )
}

pub fn override_guard(step_id: &str) -> String {
    format!(
        "The guard does not hold yet. Overriding runs the next steps as if it did. Type the step id '{step_id}' and press Enter to override."
    )
}

pub fn trust_host_key(host: &str, key_type: &str, fingerprint: &str) -> String {
    format!(
        "The host key of '{host}' is not in known_hosts.\n\n  {key_type} {fingerprint}\n\nCompare the fingerprint with the server's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub). Trust it and add it to known_hosts?"
    )
}

pub fn passphrase(host: &str, key_path: &str) -> String {
    format!("Passphrase for the key {key_path} (to connect to '{host}'):")
}

pub const TRUST_KEYS: &str = "y trust and remember · n refuse";
pub const PASSPHRASE_KEYS: &str = "Enter sends · Esc declines";

pub const OVERRIDE_TITLE: &str = "Override the guard?";
pub const HOST_KEY_TITLE: &str = "Unknown host key";
pub const PASSPHRASE_TITLE: &str = "Passphrase";
pub const CONN_PENDING: &str = "pending";
pub const CONN_CONNECTING: &str = "connecting";
pub const CONN_CONNECTED: &str = "connected";
pub const MARK_GATE: &str = "gate";
pub const MARK_GUARD: &str = "guard";
pub const MARK_WHEN: &str = "when";
pub const MARK_ROLLING: &str = "rolling";
pub const MARK_ALWAYS: &str = "always";
pub const GUARD_NOT_CHECKED: &str = "not checked yet";
pub const GUARD_KEYS: &str = "keep waiting: do nothing · o override (type the step id) · a abort";
pub const BANNER_KEYS: &str = "a abort";
pub const LOG_CONNECTING: &str = "connecting";
pub const LOG_LIVE: &str = "live";
pub const HOSTS_LABEL: &str = "hosts: ";
pub const BY_HAND: &str = "By hand:";
pub const INTERRUPTED: &str = "Interrupted, outcome unknown (check these by hand):";
pub const WHAT_IT_DOES: &str = "What it does:";
pub const EXACT_COMMANDS: &str = "Exact command per host:";
pub const PROMPT_KEYS: &[(&str, &str)] = &[("Esc", "look around"), ("j/k", "scroll")];
pub const RUN_OK: &str = "finished: every step done or skipped";
pub const RUN_FAILED: &str = "stopped: a step failed";
pub const RUN_LOCKED: &str = "stopped: the lock is held by another run";
pub const RUN_UNUSABLE: &str = "stopped: a host could not be reached or used";
pub const RUN_ABORTED: &str = "aborted";
pub const NO_JOURNAL: &str = "(none: dry run)";
pub const JOURNAL_LABEL: &str = "Journal: ";
pub const NO_MATCH: &str = "no match";
pub const ENDED_WITHOUT_SUMMARY: &str = "the run ended without a summary; see the journal";

/// A host that could not be connected or used, on the host line.
pub fn conn_failed(cause: &str) -> String {
    format!("failed: {cause}")
}

/// A host whose connection ended during the run, on the host line.
pub fn conn_lost(reason: &str) -> String {
    format!("connection lost: {reason}")
}

/// A host that could not be reached or used, in the summary.
pub fn host_unusable(host: &str, error: &str) -> String {
    format!("  {host}: {error}")
}

pub fn next_check(countdown: &str) -> String {
    format!(" · next check in {countdown}")
}

pub fn guard_last(detail: &str) -> String {
    format!("last: {detail}")
}

pub fn guard_since(at: &str, ago: &str, checks: u32, next: &str) -> String {
    format!("Waiting on the guard since {at} ({ago} ago) · {checks} checks{next}")
}

pub fn banner_at(at: &str) -> String {
    format!("The banner announces the start at {at}.")
}

pub fn starting_in(countdown: &str) -> String {
    format!("Starting in {countdown}")
}

pub fn log_ended(why: &str) -> String {
    format!("ended: {why}")
}

pub fn preview_on(host: &str, command: &str) -> String {
    format!("Preview on {host}: {command}")
}

pub fn run_result(word: &str) -> String {
    format!("Run {word}")
}

pub fn exit_status(code: i32) -> String {
    format!(" (exit status {code})")
}

pub fn undo_state(word: &str) -> String {
    format!(" (undo {word})")
}

pub fn not_found(query: &str) -> String {
    format!("'{query}' not found")
}

pub fn decided(step_id: &str, decision: &str) -> String {
    format!("{step_id}: {decision}")
}

pub fn status_word(status: CellStatus) -> &'static str {
    match status {
        CellStatus::Pending => "pending",
        CellStatus::Running => "running",
        CellStatus::Waiting => "waiting",
        CellStatus::NeedsConfirm => "needs confirmation",
        CellStatus::Ok => "ok",
        CellStatus::Failed => "failed",
        CellStatus::Skipped => "skipped",
        CellStatus::Lost => "lost",
        CellStatus::Timeout => "timeout",
        CellStatus::Unknown => "unknown",
    }
}

// Lines drydock adds to a step's output pane, set apart from the command's own.

pub fn skipped_line(reason: &str) -> String {
    format!("drydock: skipped: {reason}")
}

/// The command as it starts, dimmed so it reads as drydock's, not the host's.
pub fn started_line(command: &str, undo: bool, attempt: u32) -> String {
    let what = match (undo, attempt) {
        (true, _) => "undo".to_string(),
        (false, a) if a > 1 => format!("attempt {a}"),
        _ => "start".to_string(),
    };
    format!("\x1b[2m$ {command}   ({what})\x1b[0m")
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

pub fn notice_line(text: &str) -> String {
    format!("drydock: {text}")
}

// Messages on standard error, around the full-screen interface.

pub fn cannot_open_terminal(e: &dyn std::fmt::Display) -> String {
    format!("drydock: cannot open the terminal interface: {e}; use --headless")
}

pub fn terminal_failed(e: &dyn std::fmt::Display) -> String {
    format!("drydock: the terminal interface failed: {e}")
}

pub const ABORTING_WITHOUT_YOU: &str =
    "drydock: aborting the run; the undo steps are not run without you (see the journal)";

pub fn host_failed(host: &str, error: &str) -> String {
    format!("drydock: {host}: {error}")
}

pub fn journal_at(path: &std::path::Path) -> String {
    format!("drydock: journal {}", path.display())
}

pub fn failed_inside(e: &dyn std::fmt::Display) -> String {
    format!("drydock: the run failed inside: {e}")
}
