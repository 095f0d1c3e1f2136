//! The runs in a journal dir: where it is, every run's summary (`history`,
//! `--resume`), and a run by its id (`show`, completions). A run's journal
//! is `<run_id>.jsonl`, so its id is found without reading it.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{JournalError, RunSummary, summarize};

/// Every run in `dir`, oldest first.
pub fn list_runs(dir: &Path) -> Result<Vec<RunSummary>, JournalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(JournalError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut runs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "jsonl")
            && let Some(summary) = summarize(&path)?
        {
            runs.push(summary);
        }
    }
    runs.sort_by(|a, b| a.started.cmp(&b.started).then(a.run_id.cmp(&b.run_id)));
    Ok(runs)
}

/// Where journals go: `--journal-dir`, `$DRYDOCK_STATE_DIR`,
/// `$XDG_STATE_HOME/drydock/runs`, `~/.local/state/drydock/runs`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DRYDOCK_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("drydock").join("runs");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local")
        .join("state")
        .join("drydock")
        .join("runs")
}

/// Why no single run answers to an id.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("no run '{id}' in {}; `drydock history` lists the runs", crate::sanitize::line(&dir.display().to_string()))]
    NoSuchRun { id: String, dir: PathBuf },
    #[error("'{id}' names {} runs ({}); give more of the id", matches.len(), matches.join(", "))]
    Ambiguous { id: String, matches: Vec<String> },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The ids of the runs in `dir`, oldest first (run ids sort by start time).
pub fn run_ids(dir: &Path) -> Result<Vec<String>, JournalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(JournalError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    ids.sort();
    Ok(ids)
}

/// The journal of the run `id`, or of the only run whose id starts with it.
pub fn find_run(dir: &Path, id: &str) -> Result<PathBuf, FindError> {
    let ids = run_ids(dir)?;
    let path = |id: &str| dir.join(format!("{id}.jsonl"));
    if ids.iter().any(|known| known == id) {
        return Ok(path(id));
    }
    let matches: Vec<String> = if id.is_empty() {
        Vec::new()
    } else {
        ids.into_iter().filter(|k| k.starts_with(id)).collect()
    };
    match matches.as_slice() {
        [only] => Ok(path(only)),
        [] => Err(FindError::NoSuchRun {
            id: crate::sanitize::line(id).into_owned(),
            dir: dir.to_path_buf(),
        }),
        _ => Err(FindError::Ambiguous {
            id: crate::sanitize::line(id).into_owned(),
            matches,
        }),
    }
}

/// The newest run still going: no `run_finished` yet, and its drydock
/// alive (it holds its journal; see `holder`). For `watch`.
pub fn latest_live_run(dir: &Path) -> Result<Option<PathBuf>, JournalError> {
    let mut ids = run_ids(dir)?;
    ids.reverse();
    Ok(ids
        .into_iter()
        .map(|id| dir.join(format!("{id}.jsonl")))
        .find(|path| !is_finished(path) && super::writer_alive(path)))
}

/// Whether a journal ends with `run_finished`, read from its last bytes
/// only: a run's journal may be hundreds of megabytes of output.
pub fn is_finished(path: &Path) -> bool {
    const TAIL: u64 = 4096;
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    if file
        .seek(SeekFrom::Start(len.saturating_sub(TAIL)))
        .is_err()
    {
        return false;
    }
    let mut tail = Vec::new();
    if file.read_to_end(&mut tail).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&tail);
    text.trim_end()
        .rsplit('\n')
        .next()
        .and_then(|last| serde_json::from_str::<super::Line>(last).ok())
        .is_some_and(|line| matches!(line.record, super::Record::RunFinished { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unique_prefix_names_a_run_and_an_ambiguous_one_says_which() {
        let dir = tempfile::tempdir().expect("temp dir");
        for id in [
            "20261122-010000-aaaa",
            "20261122-020000-bbbb",
            "20261123-010000-cccc",
        ] {
            std::fs::write(dir.path().join(format!("{id}.jsonl")), "").expect("write");
        }
        let found = find_run(dir.path(), "20261123").expect("unique");
        assert!(found.ends_with("20261123-010000-cccc.jsonl"), "{found:?}");
        match find_run(dir.path(), "20261122") {
            Err(FindError::Ambiguous { matches, .. }) => assert_eq!(matches.len(), 2),
            other => panic!("not ambiguous: {other:?}"),
        }
        assert!(matches!(
            find_run(dir.path(), "1999"),
            Err(FindError::NoSuchRun { .. })
        ));
        assert!(matches!(
            find_run(dir.path(), ""),
            Err(FindError::NoSuchRun { .. })
        ));
    }

    #[test]
    fn the_latest_live_run_is_unfinished_and_held() {
        let dir = tempfile::tempdir().expect("temp dir");
        let started = r#"{"ts":"t","event":"step_started","step":"a","host":"h","command":"c"}"#;
        let finished = r#"{"ts":"t","event":"run_finished","status":"ok","exit_code":0}"#;
        let write = |id: &str, text: String| {
            let path = dir.path().join(format!("{id}.jsonl"));
            std::fs::write(&path, text).expect("write");
            path
        };
        let older = write("20261122-010000-aaaa", format!("{started}\n"));
        let done = write("20261122-020000-bbbb", format!("{started}\n{finished}\n"));
        let crashed = write("20261122-030000-cccc", format!("{started}\n"));
        assert_eq!(latest_live_run(dir.path()).expect("read"), None);
        let _older = super::super::holder::hold(&older).expect("held");
        let _done = super::super::holder::hold(&done).expect("held");
        assert_eq!(
            latest_live_run(dir.path()).expect("read"),
            Some(older.clone()),
            "a finished run is not live, a crashed one (not held) neither"
        );
        let _crashed = super::super::holder::hold(&crashed).expect("held");
        assert_eq!(latest_live_run(dir.path()).expect("read"), Some(crashed));
    }

    #[test]
    fn a_run_is_finished_when_its_last_line_says_so() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.jsonl");
        let started = r#"{"ts":"t","event":"step_started","step":"a","host":"h","command":"c"}"#;
        std::fs::write(&path, format!("{started}\n")).expect("write");
        assert!(!is_finished(&path));
        let finished = r#"{"ts":"t","event":"run_finished","status":"ok","exit_code":0}"#;
        std::fs::write(&path, format!("{started}\n{finished}\n")).expect("write");
        assert!(is_finished(&path));
    }
}
