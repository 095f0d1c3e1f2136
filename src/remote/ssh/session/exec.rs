//! A command on its own channel: open, pty if asked, exec, write what is
//! typed to its stdin and then EOF (at once when nothing is), relay stdout
//! and stderr with backpressure, close, then the exit signal or status.
//! Cancelling ends its process group on the host.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ssh2::{Channel, Session};
use tokio::sync::{mpsc, oneshot};

use super::super::wrap;
use super::error::{Fatal, would_block};
use super::{Ctx, READ_BUDGET, RefusedOpen, Turn};
use crate::remote::{Chunk, ExitStatus, Stdin, Stream, TransportError};

/// What a terminal's line discipline turns into end of input.
const END_OF_FILE_CHAR: u8 = 0x04;

/// How long a cancelled command may take to end before its channel is closed anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// Where a command's channel is; each stage may have to be repeated when
/// libssh2 says it would block.
enum ExecStage {
    Open,
    Pty,
    Exec,
    Read,
    Close,
    WaitClose,
}

pub(super) struct ExecJob {
    pub id: u64,
    command: String,
    pty: bool,
    stage: ExecStage,
    channel: Option<Channel>,
    /// None for internal commands and once the engine stopped listening.
    output: Option<mpsc::Sender<Chunk>>,
    starved: Arc<AtomicBool>,
    pub reply: Option<oneshot::Sender<Result<ExitStatus, TransportError>>>,
    /// Told the process group once the wrapper has printed it.
    pub started: Option<oneshot::Sender<u32>>,
    held: VecDeque<Chunk>,
    /// What is to be written to the command's stdin; `None` once it ended.
    input: Option<mpsc::UnboundedReceiver<Stdin>>,
    /// Typed bytes the channel has not taken yet.
    typed: Vec<u8>,
    /// The command's stdin is to end (EOF) once `typed` is written.
    eof_due: bool,
    eof_sent: bool,
    filter: wrap::PgidFilter,
    out_eof: bool,
    err_eof: bool,
    /// libssh2 may have sent the exec request: the command may be running.
    exec_sent: bool,
    pub cancelled_at: Option<Instant>,
    /// Its process group was handed over to be ended (or its pty hung up).
    group_end_asked: bool,
    /// The server refused its channel while others were closing.
    pub(super) refused_open: Option<RefusedOpen>,
}

impl ExecJob {
    /// A command the engine asked for, wrapped so that it reports its group.
    pub fn requested(
        id: u64,
        command: &str,
        pty: bool,
        input: mpsc::UnboundedReceiver<Stdin>,
        output: mpsc::Sender<Chunk>,
        starved: Arc<AtomicBool>,
        reply: oneshot::Sender<Result<ExitStatus, TransportError>>,
    ) -> Self {
        let filter = if pty {
            wrap::PgidFilter::passthrough()
        } else {
            wrap::PgidFilter::default()
        };
        Self {
            output: Some(output),
            starved,
            reply: Some(reply),
            input: Some(input),
            eof_due: false,
            ..Self::bare(id, wrap::wrap(command, pty), pty, filter)
        }
    }

    /// A command of drydock's own (ending cancelled groups): sent as is, no
    /// output, no reply.
    pub fn internal(id: u64, command: &str) -> Self {
        Self::bare(
            id,
            command.to_string(),
            false,
            wrap::PgidFilter::passthrough(),
        )
    }

    fn bare(id: u64, command: String, pty: bool, filter: wrap::PgidFilter) -> Self {
        Self {
            id,
            command,
            pty,
            stage: ExecStage::Open,
            channel: None,
            output: None,
            starved: Arc::new(AtomicBool::new(false)),
            reply: None,
            started: None,
            held: VecDeque::new(),
            input: None,
            typed: Vec::new(),
            // Nothing is typed into drydock's own commands; a pty's input
            // never ends by itself.
            eof_due: !pty,
            eof_sent: false,
            filter,
            out_eof: false,
            err_eof: false,
            exec_sent: false,
            cancelled_at: None,
            group_end_asked: false,
            refused_open: None,
        }
    }

    /// Holds a channel of its own (a session, to the server).
    pub fn has_channel(&self) -> bool {
        self.channel.is_some()
    }

    /// Cancelled while it holds a channel: a session the server will have back soon.
    /// Waits for the server's answer to a request of ours (an open, a pty,
    /// the exec, a close). libssh2 may read that answer while it serves
    /// another channel, and then nothing on the socket wakes the pump.
    pub fn awaits_reply(&self) -> bool {
        !matches!(self.stage, ExecStage::Read) && self.refused_open.is_none()
    }

    /// Output (or its end) that libssh2 has already read for this channel
    /// and the job has not taken: the socket stays silent about it.
    pub fn has_unread(&self) -> bool {
        matches!(self.stage, ExecStage::Read)
            && self.held.is_empty()
            && self
                .channel
                .as_ref()
                .is_some_and(|c| c.read_window().available > 0 || c.eof())
    }

    pub fn is_closing(&self) -> bool {
        self.cancelled_at.is_some() && self.channel.is_some()
    }

    fn finish(&mut self, result: Result<ExitStatus, TransportError>) -> Turn {
        tracing::debug!(job = self.id, result = ?result, cancelled = self.cancelled_at.is_some(), "command finished");
        if let Some(reply) = self.reply.take() {
            let result = if self.cancelled_at.is_some() {
                Err(TransportError::Cancelled)
            } else {
                result
            };
            let _ = reply.send(result);
        }
        Turn::Done
    }

    pub fn cancel(&mut self) {
        if self.cancelled_at.is_none() {
            tracing::debug!(job = self.id, "command cancelled");
            self.cancelled_at = Some(Instant::now());
            self.output = None;
            self.held.clear();
        }
    }

    fn deliver(&mut self, stream: Stream, data: &[u8]) {
        let data = if stream == Stream::Stdout {
            self.filter.push(data)
        } else {
            data.to_vec()
        };
        if let (Some(pgid), Some(_)) = (self.filter.pgid, &self.started)
            && let Some(started) = self.started.take()
        {
            let _ = started.send(pgid);
        }
        if data.is_empty() || self.output.is_none() {
            return;
        }
        self.held.push_back(Chunk {
            stream,
            data: Bytes::from(data),
        });
    }

    /// Hand held output to the engine; false while it has no room.
    fn flush(&mut self) -> bool {
        while let Some(chunk) = self.held.pop_front() {
            let Some(out) = &self.output else {
                self.held.clear();
                return true;
            };
            let mut attempt = out.try_send(chunk);
            if let Err(mpsc::error::TrySendError::Full(chunk)) = attempt {
                // Flag first, then try again: a taker that emptied the channel
                // in between is caught by the retry, a later one sees the flag.
                self.starved.store(true, Ordering::SeqCst);
                attempt = out.try_send(chunk);
            }
            match attempt {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(chunk)) => {
                    self.held.push_front(chunk);
                    return false;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.output = None;
                    self.held.clear();
                }
            }
        }
        true
    }

    /// A cancelled job's way out, before its next step: nothing to undo while
    /// nothing was opened, and the process group of a command that started
    /// is ended (then the job reads on until the channel ends, so its answer
    /// comes when the command is gone). A command that has not started never
    /// starts: see the `Exec` stage. `Some` when the job is done.
    fn wind_down(&mut self, ctx: &mut Ctx<'_>, cancelled_at: Instant) -> Option<Turn> {
        match self.stage {
            // Unless libssh2 is half-way through opening our channel, which
            // must be finished before anyone else may open one.
            ExecStage::Open if !ctx.holds_open_slot(self.id) => {
                Some(self.finish(Err(TransportError::Cancelled)))
            }
            ExecStage::Read => {
                if !self.group_end_asked {
                    if self.pty {
                        // Closing a pty hangs up its process group.
                        self.group_end_asked = true;
                        self.stage = ExecStage::Close;
                    } else if let Some(pgid) = self.filter.pgid {
                        ctx.end_group(pgid);
                        self.group_end_asked = true;
                    }
                }
                if cancelled_at.elapsed() > CANCEL_GRACE {
                    self.stage = ExecStage::Close;
                }
                None
            }
            _ => None,
        }
    }

    pub fn poll(&mut self, ctx: &mut Ctx<'_>) -> Result<Turn, Fatal> {
        if let Some(at) = self.cancelled_at
            && let Some(done) = self.wind_down(ctx, at)
        {
            return Ok(done);
        }
        let mut turn = Turn::Idle;
        loop {
            match self.stage {
                ExecStage::Open => {
                    if self.refused_open.is_some_and(|r| !r.may_retry(ctx)) {
                        return Ok(turn);
                    }
                    let Some(r) = ctx.open(self.id, Session::channel_session) else {
                        return Ok(turn);
                    };
                    match r {
                        Ok(ch) => {
                            tracing::debug!(job = self.id, "channel opened");
                            self.channel = Some(ch);
                            self.stage = if self.pty {
                                ExecStage::Pty
                            } else {
                                ExecStage::Exec
                            };
                        }
                        Err(e) => {
                            if let Some(wait) = ctx.wait_after_refusal(&e, self.refused_open) {
                                if self.refused_open.is_none() {
                                    tracing::debug!(
                                        job = self.id,
                                        "channel refused while others close; waiting for one"
                                    );
                                }
                                self.refused_open = Some(wait);
                                return Ok(turn);
                            }
                            let msg = ctx.open_failure(&e)?;
                            return Ok(self.finish(Err(TransportError::Failed(format!(
                                "cannot open a channel: {msg}"
                            )))));
                        }
                    }
                }
                ExecStage::Pty => {
                    let Some(ch) = self.channel.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    match ch.request_pty("xterm", None, Some((200, 50, 0, 0))) {
                        Ok(()) => self.stage = ExecStage::Exec,
                        Err(e) if would_block(&e) => return Ok(turn),
                        Err(e) => {
                            let msg = ctx.error(&e)?;
                            return Ok(self.finish(Err(TransportError::Failed(format!(
                                "the server refused a pty: {msg}"
                            )))));
                        }
                    }
                }
                ExecStage::Exec => {
                    if self.cancelled_at.is_some() && !self.exec_sent {
                        self.stage = ExecStage::Close;
                        continue;
                    }
                    let Some(ch) = self.channel.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    match ch.exec(&self.command) {
                        Ok(()) => {
                            self.exec_sent = true;
                            self.stage = ExecStage::Read;
                        }
                        Err(e) if would_block(&e) => {
                            self.exec_sent = true;
                            return Ok(turn);
                        }
                        Err(e) => {
                            let msg = ctx.error(&e)?;
                            return Ok(self.finish(Err(TransportError::Failed(format!(
                                "the server refused to run the command: {msg}"
                            )))));
                        }
                    }
                }
                ExecStage::Read => return self.read(ctx),
                ExecStage::Close => {
                    let Some(ch) = self.channel.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    match ch.close() {
                        Err(e) if would_block(&e) => return Ok(turn),
                        Err(e) => {
                            ctx.error(&e)?;
                            self.stage = ExecStage::WaitClose;
                        }
                        Ok(()) => self.stage = ExecStage::WaitClose,
                    }
                }
                ExecStage::WaitClose => {
                    let Some(ch) = self.channel.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    match ch.wait_close() {
                        Err(e) if would_block(&e) => return Ok(turn),
                        Err(e) => {
                            ctx.error(&e)?;
                        }
                        Ok(()) => {}
                    }
                    tracing::debug!(job = self.id, "channel closed");
                    // The signal first: a signalled command has no meaningful status.
                    let signal = ch
                        .exit_signal()
                        .ok()
                        .and_then(|s| s.exit_signal)
                        .map(|s| format!("SIG{s}"));
                    let code = if signal.is_some() {
                        None
                    } else {
                        ch.exit_status().ok()
                    };
                    return Ok(self.finish(Ok(ExitStatus { code, signal })));
                }
            }
            turn = Turn::Progress;
        }
    }

    /// Take what was typed and write as much of it as the channel takes,
    /// then the EOF when it is due; true when anything moved.
    fn type_input(&mut self, ctx: &mut Ctx<'_>) -> Result<bool, Fatal> {
        if self.cancelled_at.is_some() {
            return Ok(false);
        }
        let mut moved = false;
        while let Some(rx) = self.input.as_mut() {
            match rx.try_recv() {
                Ok(Stdin::Data(data)) => self.typed.extend_from_slice(&data),
                Ok(Stdin::End) if self.pty => self.typed.push(END_OF_FILE_CHAR),
                Ok(Stdin::End) => {
                    self.input = None;
                    self.eof_due = true;
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.input = None;
                    self.eof_due |= !self.pty;
                }
            }
            moved = true;
        }
        let Some(ch) = self.channel.as_mut() else {
            return Ok(moved);
        };
        while !self.typed.is_empty() {
            match ch.write(&self.typed) {
                Ok(0) => break,
                Ok(n) => {
                    self.typed.drain(..n);
                    moved = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    // The command's stdin is gone (it closed it, or ended).
                    ctx.io_error(&e)?;
                    tracing::debug!(job = self.id, error = %e, "typed input not written");
                    self.typed.clear();
                }
            }
        }
        if self.eof_due && !self.eof_sent && self.typed.is_empty() {
            match ch.send_eof() {
                Err(e) if would_block(&e) => {}
                Err(e) => {
                    ctx.error(&e)?;
                    self.eof_sent = true;
                }
                Ok(()) => {
                    self.eof_sent = true;
                    moved = true;
                }
            }
        }
        Ok(moved)
    }

    fn read(&mut self, ctx: &mut Ctx<'_>) -> Result<Turn, Fatal> {
        let typed = self.type_input(ctx)?;
        if !self.flush() {
            *ctx.backpressure = true;
            return Ok(if typed { Turn::Progress } else { Turn::Idle });
        }
        let mut turn = if typed { Turn::Progress } else { Turn::Idle };
        let mut buf = [0u8; crate::remote::MAX_CHUNK];
        let mut budget = READ_BUDGET;
        for (stream, id) in [(Stream::Stdout, 0), (Stream::Stderr, 1)] {
            loop {
                if (id == 0 && self.out_eof) || (id == 1 && self.err_eof) || budget == 0 {
                    break;
                }
                let Some(ch) = self.channel.as_mut() else {
                    return Ok(Turn::Done);
                };
                let r = ch.stream(id).read(&mut buf);
                match r {
                    Ok(0) => {
                        if id == 0 {
                            self.out_eof = true;
                        } else {
                            self.err_eof = true;
                        }
                        turn = Turn::Progress;
                    }
                    Ok(n) => {
                        budget = budget.saturating_sub(n);
                        turn = Turn::Progress;
                        self.deliver(stream, &buf[..n]);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        ctx.io_error(&e)?;
                        self.out_eof = true;
                        self.err_eof = true;
                    }
                }
            }
        }
        if !(self.out_eof && self.err_eof) {
            let Some(ch) = self.channel.as_ref() else {
                return Ok(Turn::Done);
            };
            if ch.eof() && turn == Turn::Idle {
                self.out_eof = true;
                self.err_eof = true;
            }
        }
        if self.out_eof && self.err_eof {
            let rest = self.filter.finish();
            if !rest.is_empty() && self.output.is_some() {
                self.held.push_back(Chunk {
                    stream: Stream::Stdout,
                    data: Bytes::from(rest),
                });
            }
            if !self.flush() {
                *ctx.backpressure = true;
                return Ok(Turn::Progress);
            }
            self.stage = ExecStage::Close;
            return self.poll(ctx);
        }
        if !self.flush() {
            *ctx.backpressure = true;
        }
        Ok(turn)
    }
}
