//! The summary's text: how each step ended on its hosts, and the run.

pub const SUMMARY_KEYS: &str = "↑↓ pick a step · Enter: every host of it, and why";

/// Which steps the summary shows, when not all fit.
pub fn summary_steps_shown(first: usize, last: usize, total: usize) -> String {
    format!(" · steps {first}-{last} of {total}")
}

/// How many hosts of a step ended one way: "✓ 97 ok".
pub fn tally(symbol: &str, n: usize, word: &str) -> String {
    format!("{symbol} {n} {word}")
}

/// Which hosts of a step ended one way, when they are few: "✓ ok: web".
pub fn tally_named(symbol: &str, word: &str, hosts: &str) -> String {
    format!("{symbol} {word}: {hosts}")
}

/// How many undos of a step ended one way: "1 undo ok".
pub fn undo_tally(n: usize, word: &str) -> String {
    format!("{n} undo {word}")
}

/// Which hosts' undos of a step ended one way: "undo ok: web".
pub fn undo_tally_named(word: &str, hosts: &str) -> String {
    format!("undo {word}: {hosts}")
}

pub fn every_host(n: usize) -> String {
    format!("all {n} hosts")
}

pub fn hosts_count(n: usize) -> String {
    format!("{n} hosts")
}

pub fn more_failed(n: usize) -> String {
    format!("… and {n} more: Enter lists every host")
}

pub fn more_reasons(n: usize) -> String {
    format!("… and {n} more reasons: Enter lists every host")
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
