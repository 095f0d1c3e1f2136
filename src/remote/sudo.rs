//! Running a step's command through sudo so that drydock can answer sudo's
//! password prompt. sudo asks with a prompt of drydock's own (`-p`) and reads
//! the password from standard input (`-S`); once it lets the command run, a
//! line of drydock's own says so on stderr before the command starts. The
//! [`SudoFilter`] finds both in the output, takes them out and tells the
//! engine: a prompt is never shown, and nothing after the command started is
//! ever taken for one.

use super::ssh::wrap::quote;
use crate::runbook::Sudo;

/// sudo's prompt, as `-p` sets it: sudo puts the user whose password it
/// wants in place of `%p` (the login user, or root or the target user where
/// sudoers says `rootpw` or `targetpw`). Printable, so that nothing between
/// sudo and drydock can take it for a control sequence.
pub const PROMPT: &str = "[drydock: sudo password for %p]";
/// How the prompt begins once sudo filled it in, and how it ends.
const PROMPT_START: &str = "[drydock: sudo password for ";
const PROMPT_END: u8 = b']';
/// A user name longer than this is no user name: the text is not a prompt.
const MAX_USER: usize = 256;
/// The line the command prints (on stderr) once sudo let it run.
pub const AUTHENTICATED: &str = ":drydock-sudo-ok:";

/// The command line that runs `command` through sudo, as root or as `user`.
pub fn wrap(command: &str, user: Option<&str>) -> String {
    let user = user
        .map(|u| format!(" -u {}", quote(u)))
        .unwrap_or_default();
    let script = format!("echo {AUTHENTICATED} >&2; {command}");
    format!(
        "sudo -S -p {}{user} -- sh -c {}",
        quote(PROMPT),
        quote(&script)
    )
}

/// A step's command line (its `run` or `undo`) as it is sent: through sudo
/// when the step says so. The line's own `export`s then run inside sudo's
/// `sh -c`, past sudo's environment reset.
pub fn as_sent(command: String, sudo: Option<&Sudo>) -> String {
    match sudo {
        Some(sudo) => wrap(&command, sudo.user()),
        None => command,
    }
}

/// What the filter found, in the order it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// sudo asks for `user`'s password and waits for it.
    Asked { user: String },
    /// sudo let the command run: from here on the output is the command's.
    Authenticated,
}

/// Takes sudo's prompts and the authenticated line out of one output stream.
/// Each stream has its own; once either found [`Signal::Authenticated`], the
/// engine stops both, and they pass everything on unchanged.
#[derive(Debug, Default)]
pub struct SudoFilter {
    /// The start of a marker, perhaps, waiting for the rest.
    held: Vec<u8>,
    /// The newline that ends the authenticated line is still to be dropped.
    newline_due: bool,
    stopped: bool,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Length of the longest end of `data` that begins `marker`.
fn partial_marker(data: &[u8], marker: &[u8]) -> usize {
    (1..marker.len().min(data.len() + 1))
        .rev()
        .find(|&n| data.ends_with(&marker[..n]))
        .unwrap_or(0)
}

impl SudoFilter {
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Feed bytes; returns what is to be shown, and adds what was found to
    /// `signals`.
    pub fn push(&mut self, data: &[u8], signals: &mut Vec<Signal>) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.held);
        buf.extend_from_slice(data);
        let mut rest: &[u8] = &buf;
        let mut shown = Vec::with_capacity(buf.len());
        loop {
            if self.newline_due {
                match rest.first() {
                    None => break,
                    Some(b'\r') => rest = &rest[1..],
                    Some(b'\n') => {
                        rest = &rest[1..];
                        self.newline_due = false;
                    }
                    Some(_) => self.newline_due = false,
                }
                continue;
            }
            if self.stopped {
                shown.extend_from_slice(rest);
                return shown;
            }
            let prompt = find(rest, PROMPT_START.as_bytes());
            let authenticated = find(rest, AUTHENTICATED.as_bytes());
            let first = match (prompt, authenticated) {
                (Some(p), Some(a)) if a < p => Some((a, true)),
                (Some(p), _) => Some((p, false)),
                (None, a) => a.map(|a| (a, true)),
            };
            match first {
                Some((at, false)) => {
                    let after = &rest[at + PROMPT_START.len()..];
                    match after
                        .iter()
                        .take(MAX_USER + 1)
                        .position(|&b| b == PROMPT_END)
                    {
                        Some(end) => {
                            shown.extend_from_slice(&rest[..at]);
                            let user = String::from_utf8_lossy(&after[..end]).into_owned();
                            signals.push(Signal::Asked { user });
                            rest = &after[end + 1..];
                        }
                        // The rest of the prompt is still to come.
                        None if after.len() <= MAX_USER => {
                            shown.extend_from_slice(&rest[..at]);
                            self.held = rest[at..].to_vec();
                            return shown;
                        }
                        // Not a prompt after all: shown as it is.
                        None => {
                            shown.extend_from_slice(&rest[..at + PROMPT_START.len()]);
                            rest = after;
                        }
                    }
                }
                Some((at, true)) => {
                    shown.extend_from_slice(&rest[..at]);
                    rest = &rest[at + AUTHENTICATED.len()..];
                    signals.push(Signal::Authenticated);
                    self.stopped = true;
                    self.newline_due = true;
                }
                None => {
                    let keep = partial_marker(rest, PROMPT_START.as_bytes())
                        .max(partial_marker(rest, AUTHENTICATED.as_bytes()));
                    let (show, hold) = rest.split_at(rest.len() - keep);
                    shown.extend_from_slice(show);
                    self.held = hold.to_vec();
                    return shown;
                }
            }
        }
        shown
    }

    /// Pass everything on from now on (sudo is done on another stream);
    /// returns what was held.
    pub fn stop(&mut self) -> Vec<u8> {
        self.stopped = true;
        std::mem::take(&mut self.held)
    }

    /// At the end of the stream: whatever was held back.
    pub fn finish(&mut self) -> Vec<u8> {
        self.stop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (String, Vec<Signal>) {
        let mut f = SudoFilter::default();
        let mut signals = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(f.push(c, &mut signals));
        }
        out.extend(f.finish());
        (String::from_utf8_lossy(&out).into_owned(), signals)
    }

    #[test]
    fn prompts_and_the_authenticated_line_are_taken_out() {
        // As sudo writes them when its input is not a terminal.
        let prompt = PROMPT.replace("%p", "deploy");
        let text = format!("{prompt}Sorry, try again.\n{prompt}{AUTHENTICATED}\nhello\n{prompt}");
        let (shown, signals) = run(&[text.as_bytes()]);
        assert_eq!(shown, format!("Sorry, try again.\nhello\n{prompt}"));
        let asked = Signal::Asked {
            user: "deploy".into(),
        };
        assert_eq!(
            signals,
            [asked.clone(), asked, Signal::Authenticated],
            "a prompt after the command started is the command's output"
        );
    }

    #[test]
    fn markers_split_across_chunks_are_found() {
        let prompt = PROMPT.replace("%p", "root");
        let text = format!("motd\n{prompt}{AUTHENTICATED}\r\nroot\r\n");
        let bytes = text.as_bytes();
        for cut in 1..bytes.len() {
            let (shown, signals) = run(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(shown, "motd\nroot\r\n", "cut at {cut}");
            let asked = Signal::Asked {
                user: "root".into(),
            };
            assert_eq!(signals, [asked, Signal::Authenticated]);
        }
    }

    #[test]
    fn text_that_only_begins_like_a_prompt_is_shown() {
        let long = format!("{PROMPT_START}{}", "x".repeat(MAX_USER + 5));
        let (shown, signals) = run(&[long.as_bytes()]);
        assert_eq!(shown, long);
        assert!(signals.is_empty());
    }

    #[test]
    fn a_stopped_filter_passes_everything() {
        let mut f = SudoFilter::default();
        let mut signals = Vec::new();
        assert!(f.push(b"[drydock", &mut signals).is_empty());
        assert_eq!(f.stop(), b"[drydock");
        let prompt = PROMPT.replace("%p", "root");
        assert_eq!(f.push(prompt.as_bytes(), &mut signals), prompt.as_bytes());
        assert!(signals.is_empty());
    }

    /// The wrapped command, run by sh with sudo's part played by `sh -c`
    /// itself: quoting holds for any command.
    #[test]
    fn the_wrapped_command_runs_any_command_as_written() {
        let command = r#"printf '%s|' "it's" "$HOME" 'a"b'; echo"#;
        let line = wrap(command, Some("o'neil"));
        let sudo = r"sudo -S -p '[drydock: sudo password for %p]' -u 'o'\''neil' -- ";
        let as_sh = line
            .strip_prefix(sudo)
            .expect("sudo, its prompt and the user first");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(as_sh)
            .env("HOME", "/h")
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's|/h|a\"b|\n");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{AUTHENTICATED}\n")
        );
    }
}
