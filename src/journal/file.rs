//! The journal's file, appended on a thread of its own.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{JournalError, Line, Record};
use crate::remote::Stream;
use crate::sanitize::strip_sgr;

/// How much output is gathered before it is handed to the writer thread.
pub(super) const CHUNK: usize = 256 * 1024;
/// Chunks queued for the writer thread before writers wait for it.
const QUEUE: usize = 8;

/// What the writer thread is asked to do.
pub(super) enum ToWriter {
    Bytes(Vec<u8>),
    /// Answer once everything before has reached the file; with `retry`,
    /// first try again to write what a failed write left.
    Sync {
        retry: bool,
        ack: oneshot::Sender<std::io::Result<()>>,
    },
}

/// The writer thread's file. A failed write keeps the bytes it could not
/// write, and everything after them, so that a retry continues exactly where
/// the disk stopped: no line is lost, cut or written twice.
struct Writer<W: Write> {
    file: W,
    unwritten: Vec<u8>,
    /// Why the bytes in `unwritten` are not on disk yet.
    failure: Option<(std::io::ErrorKind, String)>,
}

impl<W: Write> Writer<W> {
    fn write(&mut self, bytes: &[u8]) {
        if self.failure.is_some() {
            self.unwritten.extend_from_slice(bytes);
            return;
        }
        let mut done = 0;
        while done < bytes.len() {
            match self.file.write(&bytes[done..]) {
                Ok(0) => {
                    self.fail(
                        std::io::Error::from(std::io::ErrorKind::WriteZero),
                        &bytes[done..],
                    );
                    return;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(e, &bytes[done..]);
                    return;
                }
            }
        }
    }

    fn fail(&mut self, error: std::io::Error, rest: &[u8]) {
        self.failure = Some((error.kind(), error.to_string()));
        self.unwritten.extend_from_slice(rest);
    }

    fn retry(&mut self) {
        if self.failure.take().is_some() {
            let pending = std::mem::take(&mut self.unwritten);
            self.write(&pending);
        }
    }

    fn state(&self) -> std::io::Result<()> {
        match &self.failure {
            None => Ok(()),
            Some((kind, message)) => Err(std::io::Error::new(*kind, message.clone())),
        }
    }
}

/// The journal's file, written on a thread of its own: the run's single
/// runtime thread never waits on the disk. Writers wait (asynchronously)
/// only where the record must be on disk before the run goes on (a step's
/// start, before its command is sent), or when the disk falls behind.
/// Output waits at most `OUTPUT_DELAY` (see `linger`) before it is handed over.
pub struct Journal {
    path: PathBuf,
    /// Records not yet handed to the writer. An async lock, held while a
    /// chunk is handed over, so that chunks reach the file in order.
    buf: Arc<tokio::sync::Mutex<Vec<u8>>>,
    writer: mpsc::Sender<ToWriter>,
    /// Tells a watcher that the run's drydock is alive.
    _held: Option<super::holder::Held>,
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

    fn start(path: PathBuf, file: File) -> Result<Self, JournalError> {
        let (tx, mut rx) = mpsc::channel::<ToWriter>(QUEUE);
        let mut writer = Writer {
            file,
            unwritten: Vec::new(),
            failure: None,
        };
        std::thread::Builder::new()
            .name("drydock-journal".into())
            .spawn(move || {
                // Ends when every sender is gone and the queue is drained.
                while let Some(message) = rx.blocking_recv() {
                    match message {
                        ToWriter::Bytes(bytes) => writer.write(&bytes),
                        ToWriter::Sync { retry, ack } => {
                            if retry {
                                writer.retry();
                            }
                            let _ = ack.send(writer.state());
                        }
                    }
                }
            })
            .map_err(|source| JournalError::Write {
                path: path.clone(),
                source,
            })?;
        let buf = Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(CHUNK)));
        super::linger::hand_over_lingering(Arc::downgrade(&buf), tx.clone()).map_err(|source| {
            JournalError::Write {
                path: path.clone(),
                source,
            }
        })?;
        let held = super::holder::hold(&path);
        Ok(Self {
            path,
            buf,
            writer: tx,
            _held: held,
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

    /// Everything written so far is in the file when this returns. After a
    /// failed write every flush fails, until [`Journal::retry`] succeeds.
    pub async fn flush(&self) -> Result<(), JournalError> {
        self.sync(false).await
    }

    /// Try again to write what a failed write left, and everything since.
    pub async fn retry(&self) -> Result<(), JournalError> {
        self.sync(true).await
    }

    async fn sync(&self, retry: bool) -> Result<(), JournalError> {
        let (ack, ack_rx) = oneshot::channel();
        {
            let mut buf = self.buf.lock().await;
            self.hand_over(&mut buf).await?;
            self.writer
                .send(ToWriter::Sync { retry, ack })
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
        verbatim: Verbatim,
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
                let put = |buf: &mut Vec<u8>, line: &str| match verbatim {
                    Verbatim::Yes => {
                        buf.push(b'"');
                        buf.extend_from_slice(line.as_bytes());
                        buf.push(b'"');
                        Ok(())
                    }
                    Verbatim::Unknown => json_str(buf, &strip_sgr(line)),
                };
                if lines.peek().is_none_or(|(next, _)| *next != stream) {
                    buf.extend_from_slice(b",\"line\":");
                    put(&mut buf, first)?;
                } else {
                    buf.extend_from_slice(b",\"lines\":[");
                    put(&mut buf, first)?;
                    while let Some((_, line)) = lines.next_if(|(next, _)| *next == stream) {
                        buf.push(b',');
                        put(&mut buf, line)?;
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

/// Whether output lines may be written into the journal's JSON as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbatim {
    /// The writer knows: no line has a colour to strip or a character that
    /// JSON escapes (checked once for a batch of lines).
    Yes,
    /// Each line is checked, stripped and escaped as it needs.
    Unknown,
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
        // Locked: the flushing thread is handing the records over itself.
        let Ok(mut buf) = self.buf.try_lock() else {
            return;
        };
        let rest = std::mem::take(&mut *buf);
        drop(buf);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::read;

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
                .write_output(
                    "step",
                    "host",
                    undo,
                    lines.iter().copied(),
                    Verbatim::Unknown,
                )
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
    fn output_reaches_the_file_without_a_flush_and_the_file_is_held() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let journal = Journal::create(dir.path(), "run").expect("journal");
        assert!(crate::journal::writer_alive(journal.path()));
        rt.block_on(async {
            journal
                .write_output(
                    "step",
                    "host",
                    false,
                    [(Stream::Stdout, "lone line")],
                    Verbatim::Yes,
                )
                .await
                .expect("written");
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            let text = std::fs::read_to_string(journal.path()).expect("read");
            if text.contains("lone line") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the line never reached the file: {text:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let path = journal.path().to_path_buf();
        drop(journal);
        assert!(
            !crate::journal::writer_alive(&path),
            "let go when the journal is dropped"
        );
    }

    /// Writes `room` bytes, then fails as a full disk does, until given more room.
    struct Disk {
        written: Vec<u8>,
        room: usize,
    }

    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_is_retried_from_where_the_disk_stopped() {
        let mut writer = Writer {
            file: Disk {
                written: Vec::new(),
                room: 10,
            },
            unwritten: Vec::new(),
            failure: None,
        };
        writer.write(b"first line\nsecond line\n");
        assert!(writer.state().is_err(), "the full disk is told");
        writer.write(b"third line\n");
        assert_eq!(writer.file.written, b"first line");
        writer.retry();
        assert!(writer.state().is_err(), "still full");
        writer.file.room = 1000;
        writer.retry();
        assert!(writer.state().is_ok());
        assert_eq!(
            writer.file.written, b"first line\nsecond line\nthird line\n",
            "nothing lost, cut or written twice"
        );
    }
}
