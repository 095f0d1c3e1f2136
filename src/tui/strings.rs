//! Every piece of text the TUI shows, in one place.

use crate::engine::{Decision, PromptKind};

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
