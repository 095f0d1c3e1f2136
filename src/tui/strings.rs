//! Every piece of text the TUI shows, in one place (with the summary's,
//! the output pane's own lines and the messages around the interface in the
//! files beside it).

mod around;
mod pane_lines;
mod summary;

pub use around::*;
pub use pane_lines::*;
pub use summary::*;

use super::state::CellStatus;
use crate::engine::{Decision, PromptKind};

pub const APP: &str = "drydock";
pub const DRY_RUN: &str = " DRY RUN ";
pub const ROLLING_BACK: &str = " ROLLING BACK ";
pub const RESUMED: &str = " RESUMED ";
pub const FINISHED: &str = " FINISHED ";
pub const WATCH: &str = " WATCH ";
pub const GO_TO_STEP: &str = "go to step: ";
pub const GO_TO_STEP_KEYS: &str = "   Enter goes · Esc cancels";
pub const HELP_REPLAY_KEYS: &str = "In a replay";
pub const WATCHING: &str = "read-only: following the run as its journal grows · ? help · q leave";
pub const WATCH_NO_STEPPING: &str =
    "watch follows the run as it goes; drydock replay RUN_ID steps through a run";
pub const WRITER_GONE: &str =
    "the run's drydock has gone without finishing the run; its journal ends here";
pub const CHECKLIST: &str = "Steps";
pub const OUTPUT: &str = "Output";
pub const LOGS: &str = "Logs";
pub const HELP: &str = "Help";
pub const SUMMARY: &str = "Summary";
pub const AT_END: &str = "at the end";
pub const SCROLLED: &str = "scrolled (End: to the end)";
pub const WRAPPED: &str = "wrapped";
pub const FOLLOWS_RUN: &str = "· follows the run";
pub const FOLLOWS_RUN_SHORT: &str = "· follows";
pub const PICKED: &str = "· picked (f: follow the run)";
pub const PICKED_SHORT: &str = "· picked";
pub const WRAPPED_NO_SIDEWAYS: &str =
    "the lines are wrapped: w cuts them again, then < > scroll sideways";
pub const NOTHING_TO_TAKE: &str = "nothing to copy or save: the pane is empty";
pub const SEARCH_KEYS: &str = "   Enter search · Esc cancel";
pub const SAVE_TO: &str = "save to: ";
pub const SAVE_KEYS: &str = "   Enter saves (a new file) · Esc cancels";
pub const SELECTING_KEYS: &str =
    "selecting lines: j/k PgUp/PgDn g/G move its end · C copy · S save · Esc stop";
/// The continuation of a wrapped line, in the gutter.
pub const WRAP_GUTTER: &str = "↪ ";
pub const NO_OUTPUT: &str = "(no output yet)";
pub const NO_HOSTS: &str = "(this step runs on no selected host)";
pub const NO_LOGS: &str = "(the runbook has no [logs])";
pub const TOO_SMALL: &str = "The terminal is too small for drydock.";
pub const WAITING_ANSWER: &str = "The run waits for your answer: press Enter.";
pub const HIDDEN_TYPING: &str = "(what you type is not shown)";
pub const HELP_MODAL_KEYS: &str = "In a question";
pub const HELP_MAIN_KEYS: &str = "Anywhere";
pub const HELP_CLOSE: &str = "Esc or ? closes this help";
pub const HELP_THIS_QUESTION: &str = "This question";
pub const HELP_IN_HELP: &str = "In this help";
pub const TYPE_THE_ID: &str = "step id, Enter";
pub const BREAKS_THE_LOCK: &str = "break the lock (Esc then a: abort instead)";
pub const AT_THE_END: &str = "▲ that is all · k, PgUp, g go back up";
pub const NOTIFY_QUESTION: &str = "drydock: a question waits for your answer";
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

/// The header's badge of a replay: where it stands, and whether it plays.
pub fn replay_badge(shown: usize, of: usize, playing: bool) -> String {
    let play = if playing { "▶ " } else { "" };
    format!(" REPLAY {play}{shown}/{of} ")
}

/// The header's word when the checklist is not the runbook's.
pub fn no_runbook_badge(why: crate::report::plan::NoRunbook) -> &'static str {
    use crate::report::plan::NoRunbook;
    match why {
        NoRunbook::Changed => " RUNBOOK CHANGED ",
        NoRunbook::Gone => " RUNBOOK GONE ",
        NoRunbook::DoesNotLoad => " RUNBOOK DOES NOT LOAD ",
    }
}

/// Said once a read-only screen opens without the runbook's checklist.
pub fn no_runbook(why: crate::report::plan::NoRunbook) -> String {
    use crate::report::plan::NoRunbook;
    let what = match why {
        NoRunbook::Changed => "the runbook has changed since the run",
        NoRunbook::Gone => "the runbook is gone",
        NoRunbook::DoesNotLoad => "the runbook does not load without the run's --var values",
    };
    format!("{what}: the steps are those the journal names, titled by their ids")
}

/// Said for a key that would answer or act on the run.
pub fn read_only(source: super::state::Source) -> String {
    let what = match source {
        super::state::Source::Replay => "a replay",
        super::state::Source::Watch => "a watch",
    };
    format!("read-only: this is {what}; nothing is answered from here")
}

pub fn no_such_step(typed: &str) -> String {
    format!("no step '{typed}' in this run")
}

pub fn steps_named(typed: &str, ids: &[&str]) -> String {
    format!("'{typed}' starts {}: type more of it", ids.join(", "))
}

pub fn step_not_recorded(id: &str) -> String {
    format!("nothing is recorded of the step '{id}' in this run")
}

pub fn cannot_read_journal(e: &dyn std::fmt::Display) -> String {
    format!("cannot read the journal: {e}")
}

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
        PromptKind::RollbackPlan { .. } => "Rollback: the plan",
        PromptKind::Undo => "Rollback: undo this step?",
        PromptKind::Always => "Rollback: run this always step?",
        PromptKind::LockBreak { .. } => "The lock is held",
        PromptKind::From { .. } => "Start at a later step?",
        PromptKind::RunbookChanged { .. } => "The runbook has changed",
        PromptKind::StillRunning { .. } => "A command still runs",
        PromptKind::JournalFailed { .. } => "The journal cannot be written",
    }
}

/// The word for a decision in a given question (`y done` at a manual step).
pub fn choice(decision: Decision, kind: &PromptKind) -> &'static str {
    match (decision, kind) {
        (Decision::Run, PromptKind::Manual { .. }) => "done",
        (Decision::Run, PromptKind::Resume { .. } | PromptKind::RunbookChanged { .. }) => "resume",
        (Decision::Run, PromptKind::RollbackPlan { .. }) => "go through it",
        (Decision::Abort, PromptKind::RollbackPlan { .. }) => "leave the undo steps",
        (Decision::Abort, PromptKind::Undo) => "leave the rest",
        (Decision::Run, PromptKind::From { .. }) => "start there",
        (Decision::Retry, PromptKind::JournalFailed { .. }) => "retry the write",
        (Decision::Abort, PromptKind::JournalFailed { .. }) => "stop the run",
        (Decision::Skip, PromptKind::Undo | PromptKind::Always) => "leave",
        (Decision::Run, _) => "run",
        (Decision::Skip, _) => "skip",
        (Decision::Retry, _) => "retry",
        (Decision::Undo, _) => "undo",
        (Decision::Abort, _) => "abort",
        (Decision::Override, _) => "override",
        (Decision::BreakLock { .. }, _) => "break the lock",
        (Decision::Leave, _) => "leave",
        (Decision::Wait, _) => "wait for it",
        (Decision::Kill, _) => "kill it",
    }
}

/// The start of a sha256, enough to tell two apart.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

pub fn lock_break(step_id: &str) -> String {
    format!(
        "To break it, type the step id '{step_id}' and press Enter. To abort the run instead, press Esc, then a (here a is typed into the id)."
    )
}

pub fn override_guard(step_id: &str) -> String {
    format!(
        "The guard does not hold yet. Overriding runs the next steps as if it did. Type the step id '{step_id}' and press Enter to override."
    )
}

pub fn trust_host_key(
    host: &str,
    address: &str,
    key_type: &str,
    fingerprint: &str,
    known_hosts: &str,
) -> String {
    format!(
        "The host key of '{host}' ({address}) is not in {known_hosts}.\n\n  {key_type} {fingerprint}\n\nCompare the fingerprint with the server's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub). Trust it and add it to {known_hosts}?"
    )
}

pub fn passphrase(host: &str, key_path: &str) -> String {
    format!("Passphrase for the key {key_path} (to connect to '{host}'):")
}

pub const SUDO_TITLE: &str = "sudo password";
pub const SUDO_KEYS: &str = "Enter sends · Tab every host · Esc declines";
pub const SUDO_DECLINED: &str = "the admin declined to give it";
pub const SUDO_REPLACED: &str = "another sudo question came first";

/// What sudo's password window says; never the password, nor its length.
pub fn sudo_question(user: &str, host: &str, address: &str, attempt: u32) -> String {
    let again = if attempt > 1 {
        format!("\nsudo refused the last password (try {attempt} of 3).\n")
    } else {
        String::new()
    };
    format!(
        "sudo on '{host}' ({address}) asks for the password of {user}@{host}.\n{again}\nIt is kept in memory for this run only and written nowhere."
    )
}

pub fn sudo_every_host(on: bool) -> String {
    let mark = if on { "x" } else { " " };
    format!("[{mark}] use it for every host of this run (Tab)")
}

pub const MARK_SUDO: &str = "sudo";
pub const MARK_INPUT: &str = "waits for input";
pub const TYPE_KEYS: &str = "   Enter sends · ^D end of input · ^R show/hide · Esc closes";

pub fn type_into(host: &str) -> String {
    format!("type into {host} › ")
}

pub fn awaiting_input(host: &str) -> String {
    format!("{host} waits for input: i types into it")
}

pub fn not_running(host: &str) -> String {
    format!("no command of this step is running on {host}")
}

/// A line in the output pane for what came of sudo's question.
pub fn sudo_line(asked: bool, ok: bool) -> String {
    let what = match (asked, ok) {
        (true, true) => "password accepted",
        (false, true) => "no password needed",
        (true, false) => "the password was refused, or none was given",
        (false, false) => "sudo did not run the command",
    };
    format!("drydock: sudo: {what}")
}

/// A line in the output pane for what was typed into the command.
pub fn input_line(text: Option<&str>, end: bool) -> String {
    match (text, end) {
        (_, true) => "drydock: end of input sent".to_string(),
        (Some(t), false) => format!("drydock: typed: {t}"),
        (None, false) => "drydock: typed: (hidden)".to_string(),
    }
}

pub const TRUST_KEYS: &str = "y trust and remember · n refuse";
pub const PASSPHRASE_KEYS: &str = "Enter sends · Esc declines";

pub const OVERRIDE_TITLE: &str = "Override the guard?";
pub const HOST_KEY_TITLE: &str = "Unknown host key";
pub const PASSPHRASE_TITLE: &str = "Passphrase";
pub const CONN_PENDING: &str = "pending";
pub const CONN_QUEUED: &str = "waiting to connect";
pub const CONN_CONNECTING: &str = "connecting";
pub const CONN_CONNECTED: &str = "connected";
pub const CONN_FAILED: &str = "failed";
pub const CONN_LOST: &str = "lost";
/// A host in the header's strip where a step failed (its connection is fine).
pub const STEP_FAILED: &str = "step failed";
pub const LOCK_HELD: &str = "lock held";
pub const MARK_GATE: &str = "gate";
pub const MARK_MANUAL: &str = "manual";
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
pub const ALWAYS_OWN_ANSWER: &str =
    "leaving an always step takes its own answer: s leaves this one, y runs it";
pub const ROLLBACK_UNDO: &str = "The undo of each step that ran, newest first:";
pub const ROLLBACK_ALWAYS: &str = "Then the always steps, each asked on its own:";
pub const ROLLBACK_NOTHING: &str = "  (none)";
pub const FROM_SKIPPED: &str = "These steps before it will not run:";
pub const FROM_GUARDS: &str = "These guards before it are still checked:";
pub const UNDO_RESULTS: &str = "The undo ran:";
pub const JOURNAL_STOPS: &str = "No new step starts until the journal is written. Free space or fix the disk, then retry; or stop the run here.";

pub fn runbook_changed(journaled: &str, now: &str) -> String {
    format!(
        "The runbook is not the one this run started with: its sha256 was {} then and is {} now. Resume with the runbook as it is now? (--yes does not answer this.)",
        short_sha(journaled),
        short_sha(now)
    )
}

pub fn still_running(host: &str, pid: u32) -> String {
    format!(
        "On {host}, process group {pid}, which an earlier try of this step started (an interrupted run, or a lost connection), still runs. Running the step again now would run it twice at once."
    )
}

pub fn not_done_line(why: &str) -> String {
    format!("  {why}")
}

pub fn interrupted(signal: &str) -> String {
    format!("drydock: interrupted by {signal}: nothing more runs; the lock and the banner stay")
}

pub fn left_running(step: &str, host: &str, pid: Option<u32>) -> String {
    let pid = pid
        .map(|p| format!(" (process group {p})"))
        .unwrap_or_default();
    format!("drydock: left running: {step} on {host}{pid}")
}

pub fn resume_hint(runbook: &std::path::Path) -> String {
    format!(
        "drydock: `drydock run {} --resume` continues the run",
        runbook.display()
    )
}

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

/// Hosts that could not be reached or used past those the summary names.
pub fn more_unusable(n: usize) -> String {
    format!("  and {n} more (p picks a host)")
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

pub const BANNER_MESSAGE: &str = "message:";
pub const BANNER_CONTENT: &str = "file:";
pub const BANNER_STARTS: &str = "starts at:";

pub fn banner_publishes(host: &str, path: &str) -> String {
    format!("Publishes the maintenance banner on {host} at {path}:")
}

pub fn banner_publishes_unknown(host: &str) -> String {
    format!("Publishes the maintenance banner on {host}; its text cannot be worked out:")
}

/// The start time a banner announces: worked out when the step runs.
pub fn banner_starts_about(at: &str, lead: &str) -> String {
    format!("about {at} ({lead} after it goes up: the time is taken when the step runs)")
}

/// The end of a strip of hosts cut at the edge.
pub fn more_hosts(n: usize) -> String {
    format!("+{n} more · p picks")
}

/// After the first hosts a question names.
pub fn and_more_hosts(more: usize, total: usize) -> String {
    format!("and {more} more ({total} hosts)")
}

/// The same, where there is less room.
pub fn more_hosts_short(n: usize) -> String {
    format!("+{n} more")
}

/// The same, where there is hardly any room.
pub fn more_count(n: usize) -> String {
    format!("+{n}")
}

pub const PICKER_KEYS: &str = "type to find · ↑↓ move · Tab next failed · Enter show · Esc close";
pub const PICKER_NONE: &str = "(no host's name holds that)";

pub fn picker_title(step: usize, id: &str) -> String {
    format!("Hosts of step {step} {id}")
}

/// How many hosts the picker lists, of how many.
pub fn picker_count(shown: usize, total: usize) -> String {
    if shown == total {
        format!("{total} hosts")
    } else {
        format!("{shown} of {total} hosts")
    }
}

pub fn no_failed_host(step_id: &str) -> String {
    format!("no host failed at the step '{step_id}' (among those listed)")
}

/// "1 line", "2 lines".
pub fn line_count(n: usize) -> String {
    if n == 1 {
        "1 line".into()
    } else {
        format!("{n} lines")
    }
}

pub fn dropped(n: u64) -> String {
    format!("{n} older dropped")
}

pub fn from_column(column: usize) -> String {
    format!("from column {column}")
}

pub fn selected_lines(n: usize) -> String {
    format!("{n} selected")
}

/// A search in a pane's title: where among the matches, or that there is none.
pub fn search_state(query: &str, at: Option<usize>, total: usize) -> String {
    match (total, at) {
        (0, _) => format!("/{query} no match"),
        (t, Some(a)) => format!("/{query} {a}/{t}"),
        (t, None) => format!("/{query} {t} matches"),
    }
}

pub fn steps(steps: usize) -> String {
    if steps == 1 {
        "1 step".into()
    } else {
        format!("{steps} steps")
    }
}

pub fn match_of(query: &str, at: usize, total: usize) -> String {
    format!("/{query}: match {at} of {total}")
}

pub fn step_of(step: usize, steps: usize) -> String {
    format!("step {step}/{steps}")
}

pub fn elapsed(clock: &str) -> String {
    format!("elapsed {clock}")
}

pub fn banner_starts_in(countdown: &str) -> String {
    format!("banner in {countdown}")
}

pub fn more_below(n: usize) -> String {
    format!("▼ more below ({}) · j, PgDn, G", line_count(n))
}

pub fn copied(kept: usize, total: usize) -> String {
    if kept == total {
        format!("copied {} to the clipboard (OSC 52)", line_count(total))
    } else {
        format!(
            "copied the last {kept} of {total} lines to the clipboard (OSC 52 takes at most 512 KiB; S saves them all)"
        )
    }
}

pub fn saved(lines: usize, path: &str) -> String {
    format!("saved {} to {path}", line_count(lines))
}

pub fn cannot_save(path: &str, e: &dyn std::fmt::Display) -> String {
    format!("cannot save to {path}: {e}")
}

pub fn no_undo(step_id: &str) -> String {
    format!("u: the step '{step_id}' has no undo")
}

pub fn not_offered(key: char, word: &str) -> String {
    format!("{key} ({word}) is not offered in this question")
}

pub fn notify_prompt(step_id: &str) -> String {
    format!("drydock: the step '{step_id}' waits for your answer")
}

pub fn notify_input(step_id: &str, host: &str) -> String {
    format!("drydock: the step '{step_id}' waits for input on {host}")
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

/// The header's note of a rolling block's batch in flight.
pub fn batch_in_flight(batch: usize, batches: usize) -> String {
    format!("  batch {batch}/{batches}")
}
