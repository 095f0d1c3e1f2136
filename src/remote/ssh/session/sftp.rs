//! File operations over the session's one SFTP channel, one at a time, each
//! in stages that may have to be repeated when libssh2 says it would block.

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use ssh2::{OpenFlags, OpenType, Sftp};
use tokio::sync::oneshot;

use super::error::{Fatal, SftpStatus, would_block};
use super::{Ctx, SftpOp, SftpValue, Turn};
use crate::remote::TransportError;

/// Where an SFTP operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The operation's first call: stat, unlink, rmdir, mkdir, or opening the file.
    Start,
    /// `mkdir` failed; SFTP v3 says "exists" only as a plain failure, so look.
    CheckExists,
    /// Reading the file, or writing the temporary file.
    Transfer,
    CloseFile,
    /// Renaming the temporary file over the target.
    Rename,
    /// The rename was refused: the target goes first (OpenSSH will not overwrite).
    RemoveTarget,
    RenameAgain,
    /// The write failed: remove the temporary file, then report.
    RemoveTemp,
}

pub(super) struct SftpJob {
    op: SftpOp,
    stage: Stage,
    file: Option<ssh2::File>,
    data: Vec<u8>,
    done: usize,
    reply: Option<oneshot::Sender<Result<SftpValue, TransportError>>>,
    /// The first failure, reported once the job has tidied up.
    error: Option<String>,
}

fn temp_path(path: &Path) -> PathBuf {
    let mut t = path.as_os_str().to_owned();
    t.push(format!(".drydock-{}.tmp", std::process::id()));
    PathBuf::from(t)
}

/// What a call of an SFTP job came to.
enum Call<T> {
    Again,
    Ok(T),
    Err(ssh2::Error),
}

fn call<T>(r: Result<T, ssh2::Error>) -> Call<T> {
    match r {
        Ok(v) => Call::Ok(v),
        Err(e) if would_block(&e) => Call::Again,
        Err(e) => Call::Err(e),
    }
}

fn is_missing(e: &ssh2::Error) -> bool {
    SftpStatus::of(e).is_some_and(SftpStatus::is_missing)
}

impl SftpJob {
    pub fn new(op: SftpOp, reply: oneshot::Sender<Result<SftpValue, TransportError>>) -> Self {
        Self {
            op,
            stage: Stage::Start,
            file: None,
            data: Vec::new(),
            done: 0,
            reply: Some(reply),
            error: None,
        }
    }

    pub fn reply(&mut self, r: Result<SftpValue, TransportError>) -> Turn {
        if let Some(tx) = self.reply.take() {
            let _ = tx.send(r);
        }
        Turn::Done
    }

    fn fail(
        &mut self,
        ctx: &Ctx<'_>,
        what: &str,
        path: &Path,
        e: &ssh2::Error,
    ) -> Result<Turn, Fatal> {
        let msg = ctx.error(e)?;
        Ok(self.reply(Err(TransportError::Failed(format!(
            "cannot {what} {}: {msg}",
            path.display()
        )))))
    }

    pub fn poll(&mut self, sftp: &Sftp, ctx: &Ctx<'_>) -> Result<Turn, Fatal> {
        match &self.op {
            SftpOp::Exists(p) => {
                let p = p.clone();
                match call(sftp.stat(&p)) {
                    Call::Again => Ok(Turn::Idle),
                    Call::Ok(_) => Ok(self.reply(Ok(SftpValue::Bool(true)))),
                    Call::Err(e) if is_missing(&e) => Ok(self.reply(Ok(SftpValue::Bool(false)))),
                    Call::Err(e) => self.fail(ctx, "check", &p, &e),
                }
            }
            SftpOp::RemoveFile(p) => {
                let p = p.clone();
                match call(sftp.unlink(&p)) {
                    Call::Again => Ok(Turn::Idle),
                    Call::Ok(()) => Ok(self.reply(Ok(SftpValue::Unit))),
                    Call::Err(e) if is_missing(&e) => Ok(self.reply(Ok(SftpValue::Unit))),
                    Call::Err(e) => self.fail(ctx, "remove", &p, &e),
                }
            }
            SftpOp::RemoveDir(p) => {
                let p = p.clone();
                match call(sftp.rmdir(&p)) {
                    Call::Again => Ok(Turn::Idle),
                    Call::Ok(()) => Ok(self.reply(Ok(SftpValue::Unit))),
                    Call::Err(e) if is_missing(&e) => Ok(self.reply(Ok(SftpValue::Unit))),
                    Call::Err(e) => self.fail(ctx, "remove the directory", &p, &e),
                }
            }
            SftpOp::CreateDir(p) => {
                let p = p.clone();
                self.poll_create_dir(sftp, ctx, &p)
            }
            SftpOp::Read(p) => {
                let p = p.clone();
                self.poll_read(sftp, ctx, &p)
            }
            SftpOp::Write(p, _) => {
                let p = p.clone();
                self.poll_write(sftp, ctx, &p)
            }
        }
    }

    /// `Ok(false)` when the directory was there already: the atomic lock.
    fn poll_create_dir(&mut self, sftp: &Sftp, ctx: &Ctx<'_>, p: &Path) -> Result<Turn, Fatal> {
        if self.stage == Stage::Start {
            match call(sftp.mkdir(p, 0o755)) {
                Call::Again => return Ok(Turn::Idle),
                Call::Ok(()) => return Ok(self.reply(Ok(SftpValue::Bool(true)))),
                Call::Err(e) => {
                    self.error = Some(ctx.error(&e)?);
                    self.stage = Stage::CheckExists;
                }
            }
        }
        match call(sftp.stat(p)) {
            Call::Again => Ok(Turn::Idle),
            Call::Ok(_) => Ok(self.reply(Ok(SftpValue::Bool(false)))),
            Call::Err(e) => {
                ctx.error(&e)?;
                let msg = self.error.take().unwrap_or_default();
                Ok(self.reply(Err(TransportError::Failed(format!(
                    "cannot create directory {}: {msg}",
                    p.display()
                )))))
            }
        }
    }

    fn poll_read(&mut self, sftp: &Sftp, ctx: &Ctx<'_>, p: &Path) -> Result<Turn, Fatal> {
        loop {
            match self.stage {
                Stage::Start => match call(sftp.open(p)) {
                    Call::Again => return Ok(Turn::Idle),
                    Call::Ok(f) => {
                        self.file = Some(f);
                        self.stage = Stage::Transfer;
                    }
                    Call::Err(e) => return self.fail(ctx, "read", p, &e),
                },
                Stage::Transfer => {
                    let Some(f) = self.file.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    let mut buf = [0u8; 32 * 1024];
                    match f.read(&mut buf) {
                        Ok(0) => self.stage = Stage::CloseFile,
                        Ok(n) => self.data.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Turn::Idle),
                        Err(e) => {
                            self.error = Some(ctx.io_error(&e)?);
                            self.stage = Stage::CloseFile;
                        }
                    }
                }
                _ => {
                    if let Some(f) = self.file.as_mut() {
                        match call(f.close()) {
                            Call::Again => return Ok(Turn::Idle),
                            Call::Ok(()) => {}
                            Call::Err(e) => {
                                ctx.error(&e)?;
                            }
                        }
                        self.file = None;
                    }
                    let r = match self.error.take() {
                        Some(msg) => Err(TransportError::Failed(format!(
                            "cannot read {}: {msg}",
                            p.display()
                        ))),
                        None => Ok(SftpValue::Bytes(std::mem::take(&mut self.data))),
                    };
                    return Ok(self.reply(r));
                }
            }
        }
    }

    /// Write a temporary file beside the target, then rename it over the
    /// target. OpenSSH's SFTP rename refuses an existing target, so then the
    /// target is removed and the rename repeated: readers may briefly find no
    /// file, never half of one.
    fn poll_write(&mut self, sftp: &Sftp, ctx: &Ctx<'_>, p: &Path) -> Result<Turn, Fatal> {
        let tmp = temp_path(p);
        loop {
            match self.stage {
                Stage::Start => {
                    let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
                    match call(sftp.open_mode(&tmp, flags, 0o644, OpenType::File)) {
                        Call::Again => return Ok(Turn::Idle),
                        Call::Ok(f) => {
                            self.file = Some(f);
                            self.stage = Stage::Transfer;
                        }
                        Call::Err(e) => return self.fail(ctx, "write", p, &e),
                    }
                }
                Stage::Transfer => {
                    let SftpOp::Write(_, data) = &self.op else {
                        return Ok(Turn::Done);
                    };
                    let Some(f) = self.file.as_mut() else {
                        return Ok(Turn::Done);
                    };
                    if self.done >= data.len() {
                        self.stage = Stage::CloseFile;
                        continue;
                    }
                    match f.write(&data[self.done..]) {
                        Ok(n) => self.done += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Turn::Idle),
                        Err(e) => {
                            self.error = Some(ctx.io_error(&e)?);
                            self.stage = Stage::CloseFile;
                        }
                    }
                }
                Stage::CloseFile => {
                    if let Some(f) = self.file.as_mut() {
                        match call(f.close()) {
                            Call::Again => return Ok(Turn::Idle),
                            Call::Ok(()) => {}
                            Call::Err(e) => self.error = Some(ctx.error(&e)?),
                        }
                        self.file = None;
                    }
                    self.stage = if self.error.is_some() {
                        Stage::RemoveTemp
                    } else {
                        Stage::Rename
                    };
                }
                Stage::Rename => match call(sftp.rename(&tmp, p, None)) {
                    Call::Again => return Ok(Turn::Idle),
                    Call::Ok(()) => return Ok(self.reply(Ok(SftpValue::Unit))),
                    Call::Err(e) => {
                        self.error = Some(ctx.error(&e)?);
                        self.stage = Stage::RemoveTarget;
                    }
                },
                Stage::RemoveTarget => match call(sftp.unlink(p)) {
                    Call::Again => return Ok(Turn::Idle),
                    Call::Ok(()) => self.stage = Stage::RenameAgain,
                    Call::Err(e) => {
                        ctx.error(&e)?;
                        self.stage = Stage::RemoveTemp;
                    }
                },
                Stage::RenameAgain => match call(sftp.rename(&tmp, p, None)) {
                    Call::Again => return Ok(Turn::Idle),
                    Call::Ok(()) => return Ok(self.reply(Ok(SftpValue::Unit))),
                    Call::Err(e) => {
                        self.error = Some(ctx.error(&e)?);
                        self.stage = Stage::RemoveTemp;
                    }
                },
                Stage::RemoveTemp | Stage::CheckExists => {
                    match call(sftp.unlink(&tmp)) {
                        Call::Again => return Ok(Turn::Idle),
                        Call::Ok(()) => {}
                        Call::Err(e) => {
                            ctx.error(&e)?;
                        }
                    }
                    let msg = self.error.take().unwrap_or_default();
                    return Ok(self.reply(Err(TransportError::Failed(format!(
                        "cannot write {}: {msg}",
                        p.display()
                    )))));
                }
            }
        }
    }
}
