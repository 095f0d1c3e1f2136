//! Messages on standard error, around the full-screen interface.

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
