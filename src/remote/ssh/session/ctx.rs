//! What a job of the session thread may use while it takes its turn
//! (`Ctx`), and a channel open the server refused (`RefusedOpen`).

use std::time::{Duration, Instant};

use ssh2::Session;

use super::error::{self, Fatal, classify, classify_io, would_block};

/// How long a channel the server refused may wait for one of ours to close.
const REFUSED_OPEN_WAIT: Duration = Duration::from_secs(30);
/// How often a channel refused while none of ours closes is tried again,
/// and how long after each refusal (times the refusals so far).
const REFUSED_RETRIES: u32 = 3;
const REFUSED_RETRY_PAUSE: Duration = Duration::from_millis(300);

/// The result of one turn of a job.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Turn {
    Idle,
    Progress,
    Done,
}

/// What a job may use of the session while it takes its turn.
pub(super) struct Ctx<'a> {
    pub(super) session: &'a Session,
    pub(super) open_slot: &'a mut Option<u64>,
    /// Process groups of cancelled commands, to be ended after this pass.
    pub(super) groups_to_end: &'a mut Vec<u32>,
    /// Some job waits for the engine to take output.
    pub(super) backpressure: &'a mut bool,
    /// Channels of ours on their way out (cancelled commands).
    pub(super) closing: usize,
    /// Channels closed so far on this connection.
    pub(super) closed: u64,
    /// Session channels of ours open now (commands, SFTP, the spare): what
    /// the server's `MaxSessions` counts.
    pub(super) sessions: usize,
    /// The server refused a channel in this turn.
    pub(super) refused: bool,
}

/// A channel open the server refused. While channels of ours are closing
/// (its session limit, sshd's `MaxSessions`, frees a place as each one
/// closes) it is tried again as each one closes, for a while; otherwise a
/// few times, a moment apart: a server busy with hundreds of connections
/// refuses one now and then (a fork that failed), and one refusal must not
/// fail a lock or a step.
#[derive(Clone, Copy)]
pub(super) struct RefusedOpen {
    pub(super) closed_then: u64,
    pub(super) since: Instant,
    /// Refusals so far, and when the last one came.
    pub(super) refusals: u32,
    pub(super) last: Instant,
}

impl RefusedOpen {
    /// Whether to try again now.
    pub(super) fn may_retry(self, ctx: &Ctx<'_>) -> bool {
        ctx.closed != self.closed_then || Instant::now() >= self.retry_at()
    }

    /// When to try again if no channel closes first.
    pub(super) fn retry_at(self) -> Instant {
        let pause = REFUSED_RETRY_PAUSE * self.refusals;
        (self.last + pause).min(self.since + REFUSED_OPEN_WAIT)
    }
}

/// The server refused to open a channel (rather than lacking what the
/// channel was for, such as the SFTP subsystem).
fn is_refusal(e: &ssh2::Error) -> bool {
    error::session_code(e) == Some(error::code::CHANNEL_FAILURE) && !error::is_missing_subsystem(e)
}

impl Ctx<'_> {
    /// Classify a failure: fatal for the connection, or this job's own.
    pub(super) fn error(&self, e: &ssh2::Error) -> Result<String, Fatal> {
        classify(e)
    }

    pub(super) fn io_error(&self, e: &std::io::Error) -> Result<String, Fatal> {
        classify_io(self.session, e)
    }

    /// Whether a failed open should wait (see [`RefusedOpen`]) rather than
    /// fail; `earlier` is the refusal it already waited after, if any.
    pub(super) fn wait_after_refusal(
        &mut self,
        e: &ssh2::Error,
        earlier: Option<RefusedOpen>,
    ) -> Option<RefusedOpen> {
        let refused = is_refusal(e);
        self.refused |= refused;
        let now = Instant::now();
        let since = earlier.map_or(now, |r| r.since);
        let refusals = earlier.map_or(0, |r| r.refusals) + 1;
        let may_wait = self.closing > 0 || refusals <= REFUSED_RETRIES;
        (refused && may_wait && since.elapsed() <= REFUSED_OPEN_WAIT).then_some(RefusedOpen {
            closed_then: self.closed,
            since,
            refusals,
            last: now,
        })
    }

    /// Why a channel could not be opened, for the admin. A refusal says
    /// what most often causes it: the server's limit of sessions per
    /// connection, lower than what the run holds open at once.
    pub(super) fn open_failure(&self, e: &ssh2::Error) -> Result<String, Fatal> {
        let msg = self.error(e)?;
        if !is_refusal(e) {
            return Ok(msg);
        }
        Ok(format!(
            "the server refused it with {} of ours open ({msg}): its MaxSessions \
             (sshd_config, 10 unless set) is likely lower than the run needs at once, \
             one channel for each running command, followed log and file transfer",
            self.sessions
        ))
    }

    pub(super) fn end_group(&mut self, pgid: u32) {
        self.groups_to_end.push(pgid);
    }

    /// libssh2 is in the middle of opening a channel for job `id`.
    pub(super) fn holds_open_slot(&self, id: u64) -> bool {
        *self.open_slot == Some(id)
    }

    /// Try to open a channel with `open`, holding the session's one open slot
    /// while libssh2 is in the middle of it.
    pub(super) fn open<T>(
        &mut self,
        id: u64,
        open: impl FnOnce(&Session) -> Result<T, ssh2::Error>,
    ) -> Option<Result<T, ssh2::Error>> {
        if self.open_slot.is_some_and(|o| o != id) {
            return None;
        }
        match open(self.session) {
            Err(e) if would_block(&e) => {
                *self.open_slot = Some(id);
                None
            }
            r => {
                *self.open_slot = None;
                Some(r)
            }
        }
    }
}
