//! Reading a journal one line at a time, also while it is still being
//! written (`watch`): only complete lines are taken; a line being written
//! waits for the next read.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{JournalError, Line};

pub struct Follower {
    path: PathBuf,
    reader: BufReader<File>,
    /// A line read so far, up to its newline when it has one.
    pending: Vec<u8>,
}

impl Follower {
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let file = File::open(path).map_err(|source| JournalError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::new(file),
            pending: Vec::new(),
        })
    }

    fn error(&self, source: std::io::Error) -> JournalError {
        JournalError::Read {
            path: self.path.clone(),
            source,
        }
    }

    /// The next line that parses, or `None` when no complete line follows
    /// (yet). Lines that do not parse (cut short by a crash, an event of a
    /// later version) are passed over.
    pub fn next_line(&mut self) -> Result<Option<Line>, JournalError> {
        loop {
            let read = self
                .reader
                .read_until(b'\n', &mut self.pending)
                .map_err(|e| self.error(e))?;
            if read == 0 || !self.pending.ends_with(b"\n") {
                // A line without its newline at the end of the file is whole
                // only when it parses: JSON cut short never does.
                let whole = serde_json::from_slice::<Line>(&self.pending).ok();
                if whole.is_some() {
                    self.pending.clear();
                }
                return Ok(whole);
            }
            let parsed = serde_json::from_slice::<Line>(&self.pending);
            self.pending.clear();
            if let Ok(line) = parsed {
                return Ok(Some(line));
            }
        }
    }

    /// Back to the first line.
    pub fn rewind(&mut self) -> Result<(), JournalError> {
        self.pending.clear();
        self.reader
            .seek(SeekFrom::Start(0))
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Whether the process writing the journal is alive (see `holder`).
    pub fn writer_alive(&self) -> bool {
        super::writer_alive(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::journal::Record;

    const STARTED: &str =
        r#"{"ts":"t","event":"step_started","step":"a","host":"h","command":"c"}"#;
    const FINISHED: &str = r#"{"ts":"t","event":"run_finished","status":"ok","exit_code":0}"#;

    #[test]
    fn a_line_being_written_waits_and_a_broken_one_is_passed_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.jsonl");
        let mut file = std::fs::File::create(&path).expect("create");
        writeln!(file, "{STARTED}\nnot json").expect("write");
        let half = FINISHED.len() / 2;
        write!(file, "{}", &FINISHED[..half]).expect("write");
        let mut follower = Follower::open(&path).expect("open");
        let first = follower.next_line().expect("read").expect("a line");
        assert!(matches!(first.record, Record::StepStarted { .. }));
        assert!(follower.next_line().expect("read").is_none(), "half a line");
        assert!(follower.next_line().expect("read").is_none(), "still half");
        writeln!(file, "{}", &FINISHED[half..]).expect("write");
        let last = follower.next_line().expect("read").expect("the whole line");
        assert!(matches!(last.record, Record::RunFinished { .. }));
        assert!(follower.next_line().expect("read").is_none());
        follower.rewind().expect("rewind");
        let again = follower.next_line().expect("read").expect("a line");
        assert!(matches!(again.record, Record::StepStarted { .. }));
    }

    #[test]
    fn a_last_line_without_its_newline_is_read_when_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, format!("{STARTED}\n{FINISHED}")).expect("write");
        let mut follower = Follower::open(&path).expect("open");
        assert!(follower.next_line().expect("read").is_some());
        assert!(follower.next_line().expect("read").is_some());
        assert!(follower.next_line().expect("read").is_none());
    }
}
