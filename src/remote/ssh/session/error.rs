//! libssh2's error codes by name, and what each means for drydock: try
//! again, the connection is gone, or only this operation failed.
//!
//! The numbers are libssh2's ABI (`libssh2.h`, `libssh2_sftp.h`); the ssh2
//! crate hands them over bare in [`ssh2::ErrorCode`].

use ssh2::ErrorCode;

/// Session error codes (`LIBSSH2_ERROR_*`) that drydock acts on.
pub mod code {
    /// `LIBSSH2_ERROR_SOCKET_NONE`: no socket, or it is unusable.
    pub const SOCKET_NONE: i32 = -1;
    /// `LIBSSH2_ERROR_BANNER_RECV`: the server's banner never came.
    pub const BANNER_RECV: i32 = -2;
    /// `LIBSSH2_ERROR_INVALID_MAC`: a packet failed its integrity check.
    pub const INVALID_MAC: i32 = -4;
    /// `LIBSSH2_ERROR_KEX_FAILURE`: no key exchange method in common.
    pub const KEX_FAILURE: i32 = -5;
    /// `LIBSSH2_ERROR_SOCKET_SEND`: writing to the socket failed.
    pub const SOCKET_SEND: i32 = -7;
    /// `LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE`: the (re)keying failed.
    pub const KEY_EXCHANGE_FAILURE: i32 = -8;
    /// `LIBSSH2_ERROR_TIMEOUT`: a blocking call ran past the session timeout.
    pub const TIMEOUT: i32 = -9;
    /// `LIBSSH2_ERROR_DECRYPT`: a packet could not be decrypted.
    pub const DECRYPT: i32 = -12;
    /// `LIBSSH2_ERROR_SOCKET_DISCONNECT`: the server closed the connection.
    pub const SOCKET_DISCONNECT: i32 = -13;
    /// `LIBSSH2_ERROR_PROTO`: the server broke the protocol.
    pub const PROTO: i32 = -14;
    /// `LIBSSH2_ERROR_FILE`: a key file could not be used (also a wrong passphrase).
    pub const FILE: i32 = -16;
    /// `LIBSSH2_ERROR_CHANNEL_FAILURE`: the server refused to open a channel
    /// (sshd does so past `MaxSessions`).
    pub const CHANNEL_FAILURE: i32 = -21;
    /// `LIBSSH2_ERROR_SOCKET_TIMEOUT`: the socket gave nothing in time.
    pub const SOCKET_TIMEOUT: i32 = -30;
    /// `LIBSSH2_ERROR_EAGAIN`: a non-blocking call would block; call it again.
    pub const EAGAIN: i32 = -37;
    /// `LIBSSH2_ERROR_SOCKET_RECV`: reading from the socket failed.
    pub const SOCKET_RECV: i32 = -43;
    /// `LIBSSH2_ERROR_ENCRYPT`: a packet could not be encrypted.
    pub const ENCRYPT: i32 = -44;
    /// `LIBSSH2_ERROR_BAD_SOCKET`: the socket is not valid.
    pub const BAD_SOCKET: i32 = -45;
    /// `LIBSSH2_ERROR_KEYFILE_AUTH_FAILED`: a key file was refused, also for
    /// a wrong passphrase.
    pub const KEYFILE_AUTH_FAILED: i32 = -48;
}

/// SFTP status codes (`LIBSSH2_FX_*`) the server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SftpStatus {
    Eof,
    NoSuchFile,
    PermissionDenied,
    Failure,
    BadMessage,
    NoConnection,
    ConnectionLost,
    OpUnsupported,
    InvalidHandle,
    NoSuchPath,
    FileAlreadyExists,
    WriteProtect,
    NoMedia,
    NoSpaceOnFilesystem,
    QuotaExceeded,
    UnknownPrincipal,
    LockConflict,
    DirNotEmpty,
    NotADirectory,
    InvalidFilename,
    LinkLoop,
}

impl SftpStatus {
    /// The status for `LIBSSH2_FX_*` number `code`; `None` for OK and unknown codes.
    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            1 => Self::Eof,
            2 => Self::NoSuchFile,
            3 => Self::PermissionDenied,
            4 => Self::Failure,
            5 => Self::BadMessage,
            6 => Self::NoConnection,
            7 => Self::ConnectionLost,
            8 => Self::OpUnsupported,
            9 => Self::InvalidHandle,
            10 => Self::NoSuchPath,
            11 => Self::FileAlreadyExists,
            12 => Self::WriteProtect,
            13 => Self::NoMedia,
            14 => Self::NoSpaceOnFilesystem,
            15 => Self::QuotaExceeded,
            16 => Self::UnknownPrincipal,
            17 => Self::LockConflict,
            18 => Self::DirNotEmpty,
            19 => Self::NotADirectory,
            20 => Self::InvalidFilename,
            21 => Self::LinkLoop,
            _ => return None,
        })
    }

    /// The server's SFTP status in `e`, when it is one.
    pub fn of(e: &ssh2::Error) -> Option<Self> {
        match e.code() {
            ErrorCode::SFTP(c) => Self::from_code(c),
            ErrorCode::Session(_) => None,
        }
    }

    /// The path is not there: removing it is then already done.
    pub fn is_missing(self) -> bool {
        matches!(self, Self::NoSuchFile | Self::NoSuchPath)
    }
}

/// The session error code of `e` (`None` for an SFTP status).
pub fn session_code(e: &ssh2::Error) -> Option<i32> {
    match e.code() {
        ErrorCode::Session(c) => Some(c),
        ErrorCode::SFTP(_) => None,
    }
}

/// libssh2 asks to be called again once the socket is ready.
pub fn would_block(e: &ssh2::Error) -> bool {
    session_code(e) == Some(code::EAGAIN)
}

/// Codes after which the whole connection is unusable: the socket broke, the
/// server left, or the transport layer's crypto or protocol failed.
pub fn is_fatal(c: i32) -> bool {
    use code::*;
    matches!(
        c,
        SOCKET_NONE
            | BANNER_RECV
            | INVALID_MAC
            | KEX_FAILURE
            | SOCKET_SEND
            | KEY_EXCHANGE_FAILURE
            | TIMEOUT
            | DECRYPT
            | SOCKET_DISCONNECT
            | PROTO
            | SOCKET_TIMEOUT
            | SOCKET_RECV
            | ENCRYPT
            | BAD_SOCKET
    )
}

/// Why a connection ended, in words for the admin (libssh2's own message
/// names only the operation that noticed).
pub fn describe_loss(e: &ssh2::Error) -> String {
    match session_code(e) {
        Some(code::SOCKET_DISCONNECT) => "the server closed the connection".into(),
        Some(c @ (code::SOCKET_RECV | code::SOCKET_SEND)) => {
            // libssh2 keeps the socket's error to itself; errno, set by the
            // read or write that just failed on this thread, still tells it
            // (the pump clears it before each turn). A read that failed
            // without an error is the end of the stream: the server closed.
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .map_or(nix::errno::Errno::UnknownErrno, nix::errno::Errno::from_raw);
            socket_error(errno, NO_ANSWER_SECS.get()).unwrap_or_else(|| {
                if c == code::SOCKET_RECV {
                    "the server closed the connection".into()
                } else {
                    "the connection broke: sending to the server failed".into()
                }
            })
        }
        Some(code::TIMEOUT | code::SOCKET_TIMEOUT) => "the server stopped answering".into(),
        _ => format!("the connection failed ({})", e.message()),
    }
}

thread_local! {
    /// Seconds of silence after which the kernel gives up on this thread's
    /// connection (its TCP user timeout, see `link`). Each session has a
    /// thread of its own, which sets it once; the reasons of a loss name it.
    static NO_ANSWER_SECS: std::cell::Cell<u64> = const { std::cell::Cell::new(60) };
}

/// Set the silence this thread's connection tolerates, for [`describe_loss`].
pub fn set_no_answer_secs(secs: u64) {
    NO_ANSWER_SECS.set(secs);
}

/// A socket error in words, for the errors that name why a connection
/// ended; `None` for others.
fn socket_error(errno: nix::errno::Errno, no_answer_secs: u64) -> Option<String> {
    use nix::errno::Errno;
    match errno {
        Errno::ETIMEDOUT => Some(format!("no answer for {no_answer_secs} s")),
        Errno::ECONNRESET | Errno::EPIPE => {
            Some("the connection was reset by the server or the network".into())
        }
        Errno::EHOSTUNREACH | Errno::ENETUNREACH => {
            Some(format!("the server became unreachable ({})", errno.desc()))
        }
        _ => None,
    }
}

/// The server refused the SFTP subsystem itself (sshd without `Subsystem
/// sftp`), rather than a channel for it. libssh2 names both
/// `CHANNEL_FAILURE`; only its message tells them apart.
pub fn is_missing_subsystem(e: &ssh2::Error) -> bool {
    session_code(e) == Some(code::CHANNEL_FAILURE) && e.message().contains("SFTP subsystem")
}

/// Why the socket ended, when `poll` says it has: from its pending error,
/// the kernel gave up on a server that stopped answering (after the TCP
/// user timeout: a firewall dropped the connection, the network or the
/// server went away), or the server closed or reset it.
pub fn describe_socket_end(socket: std::os::fd::BorrowedFd<'_>) -> String {
    let pending = nix::sys::socket::getsockopt(&socket, nix::sys::socket::sockopt::SocketError)
        .map_or(nix::errno::Errno::UnknownErrno, nix::errno::Errno::from_raw);
    socket_error(pending, NO_ANSWER_SECS.get())
        .unwrap_or_else(|| "the server closed the connection".into())
}

/// A failure that ends the connection, with the reason for the admin.
#[derive(Debug)]
pub struct Fatal(pub String);

/// Classify a failure: `Err` when it ends the connection, else the message
/// for the operation that failed.
pub fn classify(e: &ssh2::Error) -> Result<String, Fatal> {
    match session_code(e) {
        Some(c) if is_fatal(c) => Err(Fatal(describe_loss(e))),
        _ => Ok(e.message().to_string()),
    }
}

/// `Err` when the session's last error ended the connection: reads that
/// return a bare `std::io::Error`, or nothing at all, leave the cause there.
pub fn check_session(session: &ssh2::Session) -> Result<(), Fatal> {
    match ssh2::Error::last_session_error(session) {
        Some(last) if session_code(&last).is_some_and(is_fatal) => Err(Fatal(describe_loss(&last))),
        _ => Ok(()),
    }
}

/// As [`classify`], for the `std::io::Error` that channel and file reads return.
pub fn classify_io(session: &ssh2::Session, e: &std::io::Error) -> Result<String, Fatal> {
    check_session(session)?;
    Ok(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_codes_classify() {
        let eagain = ssh2::Error::new(ErrorCode::Session(code::EAGAIN), "would block");
        assert!(would_block(&eagain));
        assert!(classify(&eagain).is_ok());
        let gone = ssh2::Error::new(ErrorCode::Session(code::SOCKET_DISCONNECT), "recv");
        let Err(Fatal(reason)) = classify(&gone) else {
            panic!("a disconnect ends the connection");
        };
        assert_eq!(reason, "the server closed the connection");
        let missing = ssh2::Error::new(ErrorCode::SFTP(2), "no such file");
        assert_eq!(SftpStatus::of(&missing), Some(SftpStatus::NoSuchFile));
        assert!(SftpStatus::of(&missing).is_some_and(SftpStatus::is_missing));
        assert!(!would_block(&missing));
        assert_eq!(SftpStatus::from_code(0), None);
    }

    #[test]
    fn silence_and_a_server_that_left_are_told_apart() {
        use nix::errno::Errno;
        assert_eq!(
            socket_error(Errno::ETIMEDOUT, 45).as_deref(),
            Some("no answer for 45 s")
        );
        assert_eq!(
            socket_error(Errno::ECONNRESET, 45).as_deref(),
            Some("the connection was reset by the server or the network")
        );
        assert_eq!(socket_error(Errno::EAGAIN, 45), None);
        let no_subsystem = ssh2::Error::new(
            ErrorCode::Session(code::CHANNEL_FAILURE),
            "Unable to request SFTP subsystem",
        );
        let no_channel = ssh2::Error::new(
            ErrorCode::Session(code::CHANNEL_FAILURE),
            "Unable to startup channel",
        );
        assert!(is_missing_subsystem(&no_subsystem));
        assert!(!is_missing_subsystem(&no_channel));
    }
}
