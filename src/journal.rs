//! The append-only record of a run: JSON Lines, one event a line, in
//! `<journal-dir>/<run_id>.jsonl`. Read back for `--resume` and `history`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::remote::Stream;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateDecision {
    Run,
    Skip,
    Abort,
    Override,
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
        line: String,
    },
    Gate {
        step: String,
        decision: GateDecision,
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

/// What the writer thread is asked to do.
enum ToWriter {
    Bytes(Vec<u8>),
    /// Answer once everything before has reached the file.
    Sync(std::sync::mpsc::SyncSender<std::io::Result<()>>),
}

/// The journal's file, written on a thread of its own: a step printing
/// millions of lines must not wait on the disk, while a step's start is on
/// disk before its command is sent.
pub struct Journal {
    path: PathBuf,
    buf: Vec<u8>,
    writer: Option<std::sync::mpsc::SyncSender<ToWriter>>,
    thread: Option<std::thread::JoinHandle<()>>,
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
        let (tx, rx) = std::sync::mpsc::sync_channel::<ToWriter>(8);
        let thread = std::thread::Builder::new()
            .name("drydock-journal".into())
            .spawn(move || {
                let mut failed: Option<std::io::Error> = None;
                for message in rx {
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
            buf: Vec::with_capacity(CHUNK),
            writer: Some(tx),
            thread: Some(thread),
        })
    }

    fn error(&self, source: std::io::Error) -> JournalError {
        JournalError::Write {
            path: self.path.clone(),
            source,
        }
    }

    fn hand_over(&mut self) -> Result<(), JournalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let sent = self.writer.as_ref().map(|w| w.send(ToWriter::Bytes(bytes)));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.error(std::io::Error::other("the journal writer stopped"))),
        }
    }

    /// Everything written so far is in the file when this returns.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        self.hand_over()?;
        let (ack_tx, ack_rx) = std::sync::mpsc::sync_channel(1);
        let sent = self.writer.as_ref().map(|w| w.send(ToWriter::Sync(ack_tx)));
        let answer = match sent {
            Some(Ok(())) => ack_rx.recv().ok(),
            _ => None,
        };
        match answer {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(self.error(e)),
            None => Err(self.error(std::io::Error::other("the journal writer stopped"))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record. Output lines are buffered; every other record is
    /// flushed at once, so a step is on disk as started before it runs.
    pub fn write(&mut self, record: Record) -> Result<(), JournalError> {
        let flush = !matches!(record, Record::Output { .. });
        let line = Line {
            ts: crate::clock::now_rfc3339(),
            record,
        };
        serde_json::to_writer(&mut self.buf, &line)
            .map_err(|e| self.error(std::io::Error::other(e)))?;
        self.buf.push(b'\n');
        if flush {
            self.flush()
        } else if self.buf.len() >= CHUNK {
            self.hand_over()
        } else {
            Ok(())
        }
    }

    /// Append the `output` records of lines a command printed in one read,
    /// stamped with the time now. The hot path of a step that prints
    /// millions of lines: written field by field, with the same layout as
    /// [`Journal::write`] gives it, the fixed part of the record made once.
    pub fn write_output<L: AsRef<str>>(
        &mut self,
        step: &str,
        host: &str,
        lines: impl Iterator<Item = (Stream, L)>,
    ) -> Result<(), JournalError> {
        let mut head = Vec::with_capacity(128);
        head.extend_from_slice(b"{\"ts\":\"");
        head.extend_from_slice(crate::clock::now_rfc3339().as_bytes());
        head.extend_from_slice(b"\",\"event\":\"output\",\"step\":");
        let result = (|| -> std::io::Result<()> {
            serde_json::to_writer(&mut head, step)?;
            head.extend_from_slice(b",\"host\":");
            serde_json::to_writer(&mut head, host)?;
            head.extend_from_slice(b",\"stream\":\"");
            for (stream, line) in lines {
                self.buf.extend_from_slice(&head);
                self.buf.extend_from_slice(match stream {
                    Stream::Stdout => b"stdout\",\"line\":",
                    Stream::Stderr => b"stderr\",\"line\":",
                });
                serde_json::to_writer(&mut self.buf, line.as_ref())?;
                self.buf.extend_from_slice(b"}\n");
            }
            Ok(())
        })();
        result.map_err(|source| self.error(source))?;
        if self.buf.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.hand_over();
        self.writer = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
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
