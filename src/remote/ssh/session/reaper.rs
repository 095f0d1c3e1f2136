//! The connection's spare session channel. Until something is cancelled it
//! runs nothing: reading it keeps libssh2 reading the socket while nothing
//! else does, so the server's keepalives are answered and a closed
//! connection is noticed even between steps. At the first cancellation it
//! becomes the reaper ([`wrap::reaper`]), and cancelled commands' process
//! groups are written to it, one line per batch: ending them then needs no
//! new channel, which the server may refuse while the cancelled commands
//! still hold theirs (sshd allows ten sessions per connection).
//!
//! [`wrap::reaper`]: super::super::wrap::reaper

use std::io::{ErrorKind, Read, Write};

use ssh2::{Channel, Session};

use super::super::wrap;
use super::Turn;
use super::error::{Fatal, check_session, classify, classify_io, would_block};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Open, running nothing.
    Idle,
    /// The reaper script is being started on it.
    Starting,
    Running,
    /// Given up while idle, to free a session for something the server refused.
    Closing,
}

pub(super) struct Reaper {
    channel: Channel,
    stage: Stage,
    /// Groups not yet written.
    queued: Vec<u32>,
    /// The line being written, and the groups in it.
    line: Vec<u8>,
    in_line: Vec<u32>,
}

impl Reaper {
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            stage: Stage::Idle,
            queued: Vec::new(),
            line: Vec::new(),
            in_line: Vec::new(),
        }
    }

    /// Ask for `pgids` to be ended.
    pub fn end(&mut self, pgids: &[u32]) {
        self.queued
            .extend(pgids.iter().copied().filter(|&pgid| pgid > 1));
        if self.stage == Stage::Idle && !self.queued.is_empty() {
            self.stage = Stage::Starting;
        }
    }

    /// Close the channel when it runs nothing, so that the server has one
    /// session more for a channel it refused; whether it will.
    pub fn give_up(&mut self) -> bool {
        if self.stage != Stage::Idle || !self.is_idle() {
            return false;
        }
        self.stage = Stage::Closing;
        true
    }

    /// Every group handed over was written.
    pub fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.line.is_empty()
    }

    /// Groups handed over but perhaps not written, for another way once the
    /// reaper is gone (ending a group twice does no harm).
    pub fn unsent(self) -> Vec<u32> {
        let mut all = self.in_line;
        all.extend(self.queued);
        all
    }

    /// Start the reaper when it is wanted, write what is queued, and read
    /// (and drop) whatever comes. `Done` when the channel is gone while the
    /// connection is not.
    pub fn pump(&mut self, session: &Session) -> Result<Turn, Fatal> {
        let mut turn = self.drain(session)?;
        if turn == Turn::Done {
            return Ok(turn);
        }
        if self.stage == Stage::Closing {
            return match self.channel.close() {
                Ok(()) => {
                    tracing::debug!("the spare channel is closed");
                    Ok(Turn::Done)
                }
                Err(e) if would_block(&e) => Ok(turn),
                Err(e) => {
                    let msg = classify(&e)?;
                    tracing::debug!(error = %msg, "the spare channel did not close");
                    Ok(Turn::Done)
                }
            };
        }
        if self.stage == Stage::Starting {
            match self.channel.exec(&wrap::reaper()) {
                Ok(()) => {
                    tracing::debug!("reaper started");
                    self.stage = Stage::Running;
                    turn = Turn::Progress;
                }
                Err(e) if would_block(&e) => return Ok(turn),
                Err(e) => {
                    let msg = classify(&e)?;
                    tracing::debug!(error = %msg, "the reaper did not start");
                    return Ok(Turn::Done);
                }
            }
        }
        if self.stage != Stage::Running {
            return Ok(turn);
        }
        loop {
            if self.line.is_empty() {
                if self.queued.is_empty() {
                    return Ok(turn);
                }
                self.in_line = std::mem::take(&mut self.queued);
                let ids: Vec<String> = self.in_line.iter().map(ToString::to_string).collect();
                self.line = format!("{}\n", ids.join(" ")).into_bytes();
                tracing::debug!(groups = ?self.in_line, "ending process groups");
            }
            match self.channel.write(&self.line) {
                Ok(n) => {
                    self.line.drain(..n);
                    if self.line.is_empty() {
                        self.in_line.clear();
                    }
                    turn = Turn::Progress;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(turn),
                Err(e) => {
                    let msg = classify_io(session, &e)?;
                    tracing::debug!(error = %msg, "cannot write to the reaper");
                    return Ok(Turn::Done);
                }
            }
        }
    }

    /// Read what the channel has (nothing is expected) and notice its end.
    fn drain(&mut self, session: &Session) -> Result<Turn, Fatal> {
        let mut turn = Turn::Idle;
        let mut sink = [0u8; 1024];
        loop {
            match self.channel.read(&mut sink) {
                // libssh2 also reads nothing when the connection broke.
                Ok(0) => {
                    check_session(session)?;
                    if self.channel.eof() {
                        tracing::debug!("the spare channel ended");
                        return Ok(Turn::Done);
                    }
                    return Ok(turn);
                }
                Ok(_) => turn = Turn::Progress,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(turn),
                Err(e) => {
                    let msg = classify_io(session, &e)?;
                    tracing::debug!(error = %msg, "the spare channel failed");
                    return Ok(Turn::Done);
                }
            }
        }
    }
}
