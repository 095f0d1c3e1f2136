//! A TCP connection through the host (`direct-tcpip`), relayed between the
//! channel and one end of a socket pair whose other end the async side holds.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use nix::poll::PollFlags;
use ssh2::Channel;
use tokio::sync::oneshot;

use super::error::{Fatal, would_block};
use super::{Ctx, Turn};
use crate::remote::TransportError;

enum TunnelStage {
    Open,
    Pump,
    Close,
}

pub(super) struct TunnelJob {
    id: u64,
    host: String,
    port: u16,
    stage: TunnelStage,
    channel: Option<Channel>,
    pub socket: UnixStream,
    pub reply: Option<oneshot::Sender<Result<(), TransportError>>>,
    to_channel: Vec<u8>,
    to_socket: Vec<u8>,
    socket_eof: bool,
    channel_eof: bool,
    eof_sent: bool,
    write_shut: bool,
}

impl TunnelJob {
    /// As [`super::exec::ExecJob::awaits_reply`]: the open or the close.
    pub fn awaits_reply(&self) -> bool {
        !matches!(self.stage, TunnelStage::Pump)
    }

    /// As [`super::exec::ExecJob::has_unread`], when there is room to take it.
    pub fn has_unread(&self) -> bool {
        matches!(self.stage, TunnelStage::Pump)
            && self.to_socket.is_empty()
            && !self.channel_eof
            && self
                .channel
                .as_ref()
                .is_some_and(|c| c.read_window().available > 0)
    }

    pub fn new(
        id: u64,
        host: String,
        port: u16,
        socket: UnixStream,
        reply: oneshot::Sender<Result<(), TransportError>>,
    ) -> Self {
        Self {
            id,
            host,
            port,
            stage: TunnelStage::Open,
            channel: None,
            socket,
            reply: Some(reply),
            to_channel: Vec::new(),
            to_socket: Vec::new(),
            socket_eof: false,
            channel_eof: false,
            eof_sent: false,
            write_shut: false,
        }
    }

    pub fn poll(&mut self, ctx: &mut Ctx<'_>) -> Result<Turn, Fatal> {
        match self.stage {
            TunnelStage::Open => {
                let (host, port) = (self.host.clone(), self.port);
                let Some(r) = ctx.open(self.id, |s| s.channel_direct_tcpip(&host, port, None))
                else {
                    return Ok(Turn::Idle);
                };
                match r {
                    Ok(ch) => {
                        tracing::debug!(job = self.id, host = %self.host, port = self.port, "tunnel opened");
                        self.channel = Some(ch);
                        self.stage = TunnelStage::Pump;
                        if let Some(reply) = self.reply.take() {
                            let _ = reply.send(Ok(()));
                        }
                        self.pump(ctx)
                    }
                    Err(e) => {
                        let msg = ctx.error(&e)?;
                        tracing::debug!(job = self.id, host = %self.host, port = self.port, error = %msg, "tunnel refused");
                        if let Some(reply) = self.reply.take() {
                            let _ = reply.send(Err(TransportError::Failed(format!(
                                "the host could not open {}:{}: {msg}",
                                self.host, self.port
                            ))));
                        }
                        Ok(Turn::Done)
                    }
                }
            }
            TunnelStage::Pump => self.pump(ctx),
            TunnelStage::Close => {
                let Some(ch) = self.channel.as_mut() else {
                    return Ok(Turn::Done);
                };
                match ch.close() {
                    Err(e) if would_block(&e) => return Ok(Turn::Idle),
                    Err(e) => {
                        ctx.error(&e)?;
                    }
                    Ok(()) => {}
                }
                tracing::debug!(job = self.id, "tunnel closed");
                Ok(Turn::Done)
            }
        }
    }

    fn pump(&mut self, ctx: &mut Ctx<'_>) -> Result<Turn, Fatal> {
        let Some(ch) = self.channel.as_mut() else {
            return Ok(Turn::Done);
        };
        let mut turn = Turn::Idle;
        let mut buf = [0u8; 32 * 1024];
        // Channel to socket.
        while !self.channel_eof && self.to_socket.len() < 256 * 1024 {
            match ch.read(&mut buf) {
                Ok(0) => {
                    self.channel_eof = true;
                    turn = Turn::Progress;
                }
                Ok(n) => {
                    self.to_socket.extend_from_slice(&buf[..n]);
                    turn = Turn::Progress;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    ctx.io_error(&e)?;
                    self.channel_eof = true;
                }
            }
        }
        while !self.to_socket.is_empty() {
            match self.socket.write(&self.to_socket) {
                Ok(n) => {
                    self.to_socket.drain(..n);
                    turn = Turn::Progress;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // The async side dropped its end: nobody wants the data.
                Err(_) => {
                    self.to_socket.clear();
                    self.socket_eof = true;
                    self.channel_eof = true;
                }
            }
        }
        if self.channel_eof && self.to_socket.is_empty() && !self.write_shut {
            let _ = self.socket.shutdown(Shutdown::Write);
            self.write_shut = true;
        }
        // Socket to channel.
        loop {
            if self.to_channel.is_empty() && !self.socket_eof {
                match self.socket.read(&mut buf) {
                    Ok(0) => self.socket_eof = true,
                    Ok(n) => self.to_channel.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => self.socket_eof = true,
                }
            }
            if self.to_channel.is_empty() {
                break;
            }
            match ch.write(&self.to_channel) {
                Ok(n) => {
                    self.to_channel.drain(..n);
                    turn = Turn::Progress;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    ctx.io_error(&e)?;
                    self.to_channel.clear();
                    self.socket_eof = true;
                }
            }
        }
        if self.socket_eof && self.to_channel.is_empty() && !self.eof_sent {
            match ch.send_eof() {
                Err(e) if would_block(&e) => {}
                _ => {
                    self.eof_sent = true;
                    turn = Turn::Progress;
                }
            }
        }
        if self.eof_sent && self.channel_eof && self.to_socket.is_empty() {
            self.stage = TunnelStage::Close;
            return self.poll(ctx);
        }
        Ok(turn)
    }

    /// What to wait for on the socket to our side.
    pub fn interest(&self) -> PollFlags {
        let mut f = PollFlags::empty();
        if !matches!(self.stage, TunnelStage::Pump) {
            return f;
        }
        if self.to_channel.is_empty() && !self.socket_eof {
            f |= PollFlags::POLLIN;
        }
        if !self.to_socket.is_empty() {
            f |= PollFlags::POLLOUT;
        }
        f
    }
}
