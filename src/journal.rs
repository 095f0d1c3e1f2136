//! The append-only record of a run: JSON Lines, one event a line, in
//! `<journal-dir>/<run_id>.jsonl`. Read back for `--resume` and `history`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::remote::Stream;
use crate::sanitize::strip_sgr;

/// How a step ended on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
    Skipped,
    Timeout,
    Lost,
    Unknown,
}

impl Outcome {
    /// Done for good: not run again on resume.
    pub fn is_settled(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Skipped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Timeout => "timeout",
            Outcome::Lost => "lost",
            Outcome::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Failed,
    Aborted,
}

/// An answer to a question, as the journal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDecision {
    Run,
    Skip,
    Retry,
    Undo,
    Abort,
    Override,
    BreakLock,
}

/// The text of an `output` record: one line, or lines that arrived together
/// on one stream. Written as `line` or `lines`; both are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputText {
    Line(String),
    Lines(Vec<String>),
}

impl OutputText {
    pub fn lines(&self) -> &[String] {
        match self {
            OutputText::Line(line) => std::slice::from_ref(line),
            OutputText::Lines(lines) => lines,
        }
    }
}

/// One journal line's event and fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Record {
    RunStarted {
        run_id: String,
        runbook: String,
        runbook_sha256: String,
        user: String,
        hosts: Vec<String>,
    },
    StepStarted {
        step: String,
        host: String,
        command: String,
        /// `undo` when this is the step's undo command run during a rollback.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
    },
    Output {
        step: String,
        host: String,
        stream: Stream,
        /// `undo` for the output of a step's undo command.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
        #[serde(flatten)]
        text: OutputText,
    },
    /// An answer. A question about a host rather than a step (breaking its
    /// lock) names the host and no step.
    Gate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        decision: GateDecision,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
    GuardPoll {
        step: String,
        host: String,
        ok: bool,
    },
    StepFinished {
        step: String,
        host: String,
        status: Outcome,
        exit_code: Option<i32>,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
        /// Why a step was skipped or failed without an exit code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// When a banner step put the banner up: the start time it announced.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        starts_at: Option<String>,
    },
    RunFinished {
        status: RunStatus,
        exit_code: i32,
    },
    /// A step's preview: the command and what it printed (its first lines),
    /// as the admin saw it before answering.
    Preview {
        step: String,
        host: String,
        command: String,
        lines: Vec<String>,
        exit_code: Option<i32>,
        /// Why it could not be run or did not finish.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A step's `when` condition on a host, and whether it held.
    Condition {
        step: String,
        host: String,
        command: String,
        holds: bool,
        /// Why it could not be checked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A host's connection: made, lost, made again, or not made (with why).
    Connection {
        host: String,
        state: ConnectionState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Something drydock told the admin that is no step's outcome: a retry,
    /// a lock it could not release, a host without SFTP.
    Notice {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        text: String,
    },
}

/// The state a `connection` record tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Connected,
    Lost,
    Reconnected,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    pub ts: String,
    #[serde(flatten)]
    pub record: Record,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write the journal {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the journal {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How much output is gathered before it is handed to the writer thread.
const CHUNK: usize = 256 * 1024;
/// Chunks queued for the writer thread before writers wait for it.
const QUEUE: usize = 8;

/// What the writer thread is asked to do.
enum ToWriter {
    Bytes(Vec<u8>),
    /// Answer once everything before has reached the file.
    Sync(oneshot::Sender<std::io::Result<()>>),
}

/// The journal's file, written on a thread of its own: the run's single
/// runtime thread never waits on the disk. Writers wait (asynchronously)
/// only where the record must be on disk before the run goes on (a step's
/// start, before its command is sent), or when the disk falls behind.
pub struct Journal {
    path: PathBuf,
    /// Records not yet handed to the writer. An async lock, held while a
    /// full chunk is handed over, so that chunks reach the file in order.
    buf: tokio::sync::Mutex<Vec<u8>>,
    writer: mpsc::Sender<ToWriter>,
}

impl Journal {
    /// A new journal for `run_id` in `dir` (created if needed).
    pub fn create(dir: &Path, run_id: &str) -> Result<Self, JournalError> {
        let path = dir.join(format!("{run_id}.jsonl"));
        let err = |source| JournalError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(err)?;
        Self::start(path, file)
    }

    /// Continue an existing journal (`--resume`).
    pub fn append_to(path: &Path) -> Result<Self, JournalError> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| JournalError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        Self::start(path.to_path_buf(), file)
    }

    fn start(path: PathBuf, mut file: File) -> Result<Self, JournalError> {
        let (tx, mut rx) = mpsc::channel::<ToWriter>(QUEUE);
        std::thread::Builder::new()
            .name("drydock-journal".into())
            .spawn(move || {
                let mut failed: Option<std::io::Error> = None;
                // Ends when every sender is gone and the queue is drained.
                while let Some(message) = rx.blocking_recv() {
                    match message {
                        ToWriter::Bytes(bytes) => {
                            if failed.is_none() {
                                failed = file.write_all(&bytes).err();
                            }
                        }
                        ToWriter::Sync(ack) => {
                            let _ = ack.send(failed.take().map_or(Ok(()), Err));
                        }
                    }
                }
            })
            .map_err(|source| JournalError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            path,
            buf: tokio::sync::Mutex::new(Vec::with_capacity(CHUNK)),
            writer: tx,
        })
    }

    fn error(&self, source: std::io::Error) -> JournalError {
        JournalError::Write {
            path: self.path.clone(),
            source,
        }
    }

    fn stopped(&self) -> JournalError {
        self.error(std::io::Error::other("the journal writer stopped"))
    }

    async fn hand_over(&self, buf: &mut Vec<u8>) -> Result<(), JournalError> {
        if buf.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::replace(buf, Vec::with_capacity(CHUNK));
        self.writer
            .send(ToWriter::Bytes(bytes))
            .await
            .map_err(|_| self.stopped())
    }

    /// Everything written so far is in the file when this returns.
    pub async fn flush(&self) -> Result<(), JournalError> {
        let (ack_tx, ack_rx) = oneshot::channel();
        {
            let mut buf = self.buf.lock().await;
            self.hand_over(&mut buf).await?;
            self.writer
                .send(ToWriter::Sync(ack_tx))
                .await
                .map_err(|_| self.stopped())?;
        }
        match ack_rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.error(e)),
            Err(_) => Err(self.stopped()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record. Output lines are buffered; every other record is
    /// on disk when this returns, so a step is recorded as started before it runs.
    pub async fn write(&self, record: Record) -> Result<(), JournalError> {
        let flush = !matches!(record, Record::Output { .. });
        let line = Line {
            ts: crate::clock::now_rfc3339(),
            record,
        };
        {
            let mut buf = self.buf.lock().await;
            serde_json::to_writer(&mut *buf, &line)
                .map_err(|e| self.error(std::io::Error::other(e)))?;
            buf.push(b'\n');
            if !flush && buf.len() >= CHUNK {
                self.hand_over(&mut buf).await?;
            }
        }
        if flush { self.flush().await } else { Ok(()) }
    }

    /// Append the `output` records of lines a command printed in one read,
    /// stamped with the time now: one record per run of lines on one stream,
    /// with `line` for a single line and `lines` for several, colour codes
    /// removed. The hot path of a step that prints millions of lines:
    /// written field by field, with the layout [`Journal::write`] gives it,
    /// the fixed part made once.
    pub async fn write_output<'l>(
        &self,
        step: &str,
        host: &str,
        undo: bool,
        lines: impl IntoIterator<Item = (Stream, &'l str)>,
    ) -> Result<(), JournalError> {
        let mut lines = lines.into_iter().peekable();
        if lines.peek().is_none() {
            return Ok(());
        }
        let mut buf = self.buf.lock().await;
        let result = (|| -> std::io::Result<()> {
            let mut head = Vec::with_capacity(128);
            head.extend_from_slice(b"{\"ts\":\"");
            head.extend_from_slice(crate::clock::now_rfc3339().as_bytes());
            head.extend_from_slice(b"\",\"event\":\"output\",\"step\":");
            serde_json::to_writer(&mut head, step)?;
            head.extend_from_slice(b",\"host\":");
            serde_json::to_writer(&mut head, host)?;
            head.extend_from_slice(b",\"stream\":\"");
            let phase: &[u8] = if undo { b",\"phase\":\"undo\"" } else { b"" };
            // One record per run of lines on one stream.
            while let Some((stream, first)) = lines.next() {
                buf.extend_from_slice(&head);
                buf.extend_from_slice(match stream {
                    Stream::Stdout => b"stdout\"",
                    Stream::Stderr => b"stderr\"",
                });
                buf.extend_from_slice(phase);
                if lines.peek().is_none_or(|(next, _)| *next != stream) {
                    buf.extend_from_slice(b",\"line\":");
                    json_str(&mut buf, &strip_sgr(first))?;
                } else {
                    buf.extend_from_slice(b",\"lines\":[");
                    json_str(&mut buf, &strip_sgr(first))?;
                    while let Some((_, line)) = lines.next_if(|(next, _)| *next == stream) {
                        buf.push(b',');
                        json_str(&mut buf, &strip_sgr(line))?;
                    }
                    buf.push(b']');
                }
                buf.extend_from_slice(b"}\n");
            }
            Ok(())
        })();
        result.map_err(|source| self.error(source))?;
        if buf.len() >= CHUNK {
            self.hand_over(&mut buf).await?;
        }
        Ok(())
    }
}

/// `text` as a JSON string, as serde_json writes it: most output needs no
/// escape at all, and is copied as it is.
fn json_str(buf: &mut Vec<u8>, text: &str) -> std::io::Result<()> {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        buf.reserve(text.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(text.as_bytes());
        buf.push(b'"');
        return Ok(());
    }
    serde_json::to_writer(&mut *buf, text).map_err(std::io::Error::other)
}

impl Drop for Journal {
    /// A journal dropped without a last [`Journal::flush`] (a run that was
    /// itself dropped) still hands its records to the writer, which writes
    /// them and ends.
    fn drop(&mut self) {
        let rest = std::mem::take(self.buf.get_mut());
        if rest.is_empty() {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(message)) =
            self.writer.try_send(ToWriter::Bytes(rest))
        {
            // The queue is full: wait for room off the runtime's thread.
            let writer = self.writer.clone();
            std::thread::spawn(move || {
                let _ = writer.blocking_send(message);
            });
        }
    }
}

/// Read every parseable line of a journal. A line cut short by a crash is
/// passed over: everything before it still tells the story.
pub fn read(path: &Path) -> Result<Vec<Line>, JournalError> {
    let file = File::open(path).map_err(|source| JournalError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|source| JournalError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if let Ok(parsed) = serde_json::from_str::<Line>(&line) {
            lines.push(parsed);
        }
    }
    Ok(lines)
}

/// What a journal says about one run, for `history` and `--resume`.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub path: PathBuf,
    pub run_id: String,
    pub runbook: String,
    pub user: String,
    pub started: String,
    pub finished: Option<(RunStatus, i32)>,
    /// The last outcome of each (step, host).
    pub outcomes: HashMap<(String, String), Outcome>,
    /// Steps written as started and never as finished: their outcome is unknown.
    pub interrupted: Vec<(String, String)>,
    pub starts_at: Option<String>,
}

pub fn summarize(path: &Path) -> Result<Option<RunSummary>, JournalError> {
    let lines = read(path)?;
    let Some(first) = lines.first() else {
        return Ok(None);
    };
    let Record::RunStarted {
        run_id,
        runbook,
        user,
        ..
    } = &first.record
    else {
        return Ok(None);
    };
    let mut summary = RunSummary {
        path: path.to_path_buf(),
        run_id: run_id.clone(),
        runbook: runbook.clone(),
        user: user.clone(),
        started: first.ts.clone(),
        finished: None,
        outcomes: HashMap::new(),
        interrupted: Vec::new(),
        starts_at: None,
    };
    let mut running: Vec<(String, String)> = Vec::new();
    for line in &lines {
        match &line.record {
            Record::StepStarted { step, host, .. } => {
                running.push((step.clone(), host.clone()));
            }
            Record::StepFinished {
                step,
                host,
                status,
                phase,
                starts_at,
                ..
            } => {
                let key = (step.clone(), host.clone());
                running.retain(|k| k != &key);
                if phase.is_none() {
                    summary.outcomes.insert(key, *status);
                }
                if starts_at.is_some() {
                    summary.starts_at.clone_from(starts_at);
                }
            }
            Record::RunFinished { status, exit_code } => {
                summary.finished = Some((*status, *exit_code));
            }
            _ => {}
        }
    }
    summary.interrupted = running;
    Ok(Some(summary))
}

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
        if path.extension().is_some_and(|e| e == "jsonl") {
            if let Some(summary) = summarize(&path)? {
                runs.push(summary);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn output_records(
        dir: &Path,
        undo: bool,
        lines: &[(Stream, &str)],
    ) -> (Vec<String>, Vec<Line>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let journal = Journal::create(dir, "run").expect("journal");
        rt.block_on(async {
            journal
                .write_output("step", "host", undo, lines.iter().copied())
                .await
                .expect("written");
            journal.flush().await.expect("flushed");
        });
        let text = std::fs::read_to_string(journal.path()).expect("read");
        let parsed = read(journal.path()).expect("parsed");
        (text.lines().map(str::to_string).collect(), parsed)
    }

    #[test]
    fn output_is_written_as_line_or_lines_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (text, parsed) = output_records(
            dir.path(),
            false,
            &[
                (Stream::Stdout, "one"),
                (Stream::Stdout, "two \"quoted\""),
                (Stream::Stderr, "warn"),
                (Stream::Stdout, "three"),
            ],
        );
        assert_eq!(text.len(), 3, "{text:?}");
        let texts: Vec<(Stream, Vec<String>)> = parsed
            .iter()
            .map(|l| match &l.record {
                Record::Output {
                    stream,
                    text,
                    phase: None,
                    ..
                } => (*stream, text.lines().to_vec()),
                other => panic!("not output: {other:?}"),
            })
            .collect();
        assert_eq!(
            texts,
            [
                (Stream::Stdout, vec!["one".into(), "two \"quoted\"".into()]),
                (Stream::Stderr, vec!["warn".into()]),
                (Stream::Stdout, vec!["three".into()]),
            ]
        );
        assert!(text[0].contains("\"lines\":[\"one\","), "{}", text[0]);
        assert!(text[1].contains("\"line\":\"warn\""), "{}", text[1]);
    }

    #[test]
    fn the_fast_path_writes_what_serde_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (text, parsed) = output_records(
            dir.path(),
            true,
            &[
                (Stream::Stderr, "a"),
                (Stream::Stdout, "b \"quoted\" \\ back\tslash é"),
                (Stream::Stdout, "c"),
            ],
        );
        for (written, line) in text.iter().zip(&parsed) {
            let again = serde_json::to_string(line).expect("serialize");
            assert_eq!(written, &again);
        }
        assert!(text[0].contains("\"phase\":\"undo\""), "{}", text[0]);
    }

    #[test]
    fn a_lock_break_is_a_gate_on_a_host() {
        let line = r#"{"ts":"t","event":"gate","decision":"break_lock","host":"web"}"#;
        let parsed: Line = serde_json::from_str(line).expect("parses");
        assert_eq!(
            parsed.record,
            Record::Gate {
                step: None,
                decision: GateDecision::BreakLock,
                host: Some("web".into()),
            }
        );
        assert_eq!(serde_json::to_string(&parsed).expect("serialize"), line);
    }
}
