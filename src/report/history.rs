//! `drydock history`: one row per run in a journal dir, as a table or JSON.
//! Every string is sanitised when the row is made, so both forms are safe.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::journal::{self, JournalError, RunStatus};
use crate::sanitize;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub run_id: String,
    pub runbook: String,
    /// The runbook file is no longer where the run found it.
    pub runbook_gone: bool,
    pub user: String,
    pub started: String,
    /// `ok`, `failed`, `aborted`, or `unfinished`.
    pub result: String,
    pub exit_code: Option<i32>,
    pub journal: String,
}

/// Every run in `dir`, oldest first.
pub fn rows(dir: &Path) -> Result<Vec<RunRow>, JournalError> {
    let clean = |s: &str| sanitize::line(s).into_owned();
    Ok(journal::list_runs(dir)?
        .into_iter()
        .map(|run| {
            let (result, exit_code) = match run.finished {
                Some((RunStatus::Ok, code)) => ("ok", Some(code)),
                Some((RunStatus::Failed, code)) => ("failed", Some(code)),
                Some((RunStatus::Aborted, code)) => ("aborted", Some(code)),
                None => ("unfinished", None),
            };
            RunRow {
                run_id: clean(&run.run_id),
                runbook_gone: !Path::new(&run.runbook).exists(),
                runbook: clean(&run.runbook),
                user: clean(&run.user),
                started: clean(&run.started),
                result: result.into(),
                exit_code,
                journal: clean(&run.path.display().to_string()),
            }
        })
        .collect())
}

/// The rows as a table; a runbook that is gone is marked so.
pub fn table(rows: &[RunRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<22} {:<10} {:<24} {:<16} RUNBOOK",
        "RUN", "USER", "STARTED", "RESULT"
    );
    for row in rows {
        let result = match row.exit_code {
            Some(code) => format!("{} ({code})", row.result),
            None => row.result.clone(),
        };
        let gone = if row.runbook_gone { "  (gone)" } else { "" };
        let _ = writeln!(
            s,
            "{:<22} {:<10} {:<24} {:<16} {}{gone}",
            row.run_id, row.user, row.started, result, row.runbook
        );
    }
    s
}

/// The rows as one JSON array.
pub fn json(rows: &[RunRow]) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into())
}
