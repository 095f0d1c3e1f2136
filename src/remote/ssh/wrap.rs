//! How a command is sent so that cancelling it can end everything it started.
//!
//! Without a pty the command runs as the leader of its own process group, and
//! prints that group's id on stdout first, behind a marker that the session
//! strips; cancelling then sends SIGTERM (later SIGKILL) to the whole group
//! through the connection's reaper (see [`reaper`]). sshd already makes the
//! login shell a session leader, so usually `$$` is the group; elsewhere
//! `setsid` makes it so (once: the `again` argument stops a second re-exec,
//! whatever `kill` says).

/// The line the wrapper prints before the command, followed by the group id.
pub const PGID_MARKER: &str = "\u{1e}drydock-pgid ";

const SCRIPT: &str = r#"if [ -z "$3" ] && ! kill -0 -$$ 2>/dev/null && command -v setsid >/dev/null 2>&1; then exec setsid sh -c "$2" drydock "$1" "$2" again; fi; printf '\036drydock-pgid %s\n' "$$"; exec sh -c "$1""#;

/// Quote for any POSIX shell (and for the login shell sshd hands it to).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The command line sent on the exec channel for `command`.
pub fn wrap(command: &str, pty: bool) -> String {
    if pty {
        // A pty's hangup ends its process group when the channel closes.
        return format!("exec sh -c {}", quote(command));
    }
    format!(
        "exec sh -c {} drydock {} {}",
        quote(SCRIPT),
        quote(command),
        quote(SCRIPT)
    )
}

/// Shell text that ends the process groups in the word list `groups` (such
/// as `12 34`, or `$line` unquoted): TERM to each, up to 3 s for all of them
/// to go, then KILL. A group id that is no group is the wrapper's own pid
/// (it could not lead a group), which then gets the TERM.
fn end_groups(groups: &str) -> String {
    format!(
        "for g in {groups}; do kill -TERM -$g 2>/dev/null || kill -TERM $g 2>/dev/null; done; \
         i=0; while [ $i -lt 30 ]; do alive=; \
         for g in {groups}; do kill -0 -$g 2>/dev/null && alive=1; done; \
         [ -z \"$alive\" ] && break; sleep 0.1; i=$((i+1)); done; \
         for g in {groups}; do kill -KILL -$g 2>/dev/null; done"
    )
}

/// A command that ends the process groups `pgids` (ids of 0 and 1, which
/// `kill` reads as "ours" and "all", are left out).
pub fn kill_groups(pgids: &[u32]) -> String {
    let list: Vec<String> = pgids
        .iter()
        .filter(|&&pgid| pgid > 1)
        .map(ToString::to_string)
        .collect();
    format!("{}; exit 0", end_groups(&list.join(" ")))
}

/// The reaper: a shell on the host, started on the connection's spare
/// channel at the first cancellation, that reads lines of group ids and
/// ends those groups in the background. Anything but digits and spaces is
/// ignored.
pub fn reaper() -> String {
    let script = format!(
        "while read -r line; do case $line in *[!0-9\\ ]*) continue;; esac; ( {} ) & done",
        end_groups("$line")
    );
    format!("exec sh -c {}", quote(&script))
}

/// Strips the group id line from the start of stdout.
#[derive(Default)]
pub struct PgidFilter {
    buf: Vec<u8>,
    done: bool,
    pub pgid: Option<u32>,
}

/// Stop looking for the marker after this much output (it comes first, or never).
const LOOK_LIMIT: usize = 64 * 1024;

impl PgidFilter {
    pub fn passthrough() -> Self {
        Self {
            done: true,
            ..Self::default()
        }
    }

    /// Feed stdout bytes; returns what should be shown.
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        if self.done {
            return data.to_vec();
        }
        self.buf.extend_from_slice(data);
        let marker = PGID_MARKER.as_bytes();
        let mut start = 0;
        while let Some(nl) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let line = &self.buf[start..start + nl];
            if let Some(rest) = line.strip_prefix(marker) {
                // `kill -TERM -1` would signal every process of the user:
                // only a real group id is kept.
                self.pgid = std::str::from_utf8(rest)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .filter(|&pgid| pgid > 1);
                let mut out = self.buf[..start].to_vec();
                out.extend_from_slice(&self.buf[start + nl + 1..]);
                self.buf.clear();
                self.done = true;
                return out;
            }
            start += nl + 1;
        }
        if self.buf.len() > LOOK_LIMIT {
            self.done = true;
            return std::mem::take(&mut self.buf);
        }
        Vec::new()
    }

    /// At end of stdout: whatever was held back.
    pub fn finish(&mut self) -> Vec<u8> {
        self.done = true;
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_marker_in_pieces() {
        let mut f = PgidFilter::default();
        assert!(f.push(b"motd\n\x1edrydock-pg").is_empty());
        assert_eq!(f.push(b"id 4242\nhello\n"), b"motd\nhello\n");
        assert_eq!(f.pgid, Some(4242));
        assert_eq!(f.push(b"more"), b"more");
    }

    #[test]
    fn wrapper_runs_and_reports_group() {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(wrap("echo 'it''s'; exit 3", false))
            .output()
            .expect("sh runs");
        let mut f = PgidFilter::default();
        let mut shown = f.push(&out.stdout);
        shown.extend(f.finish());
        assert_eq!(String::from_utf8_lossy(&shown), "its\n");
        assert!(f.pgid.is_some());
        assert_eq!(out.status.code(), Some(3));
    }

    /// The reaper, run by sh here: it ends the groups written to it, ignores
    /// lines that are not group ids, and ends with its input.
    #[test]
    fn reaper_ends_the_groups_it_is_given() {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let mut victim = Command::new("sh")
            .arg("-c")
            .arg("sleep 600")
            .process_group(0)
            .spawn()
            .expect("sh runs");
        let mut reaper = Command::new("sh")
            .arg("-c")
            .arg(reaper())
            .stdin(Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut input = reaper.stdin.take().expect("stdin");
        writeln!(input, "x; echo no").expect("write");
        writeln!(input, "{}", victim.id()).expect("write");
        drop(input);
        let status = victim.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(15)
        );
        assert!(reaper.wait().expect("wait").success());
    }
}
