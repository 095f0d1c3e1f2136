//! What drydock writes to the terminal besides its frames: the clipboard
//! (OSC 52) and the bell with a desktop notification (OSC 9, OSC 777). Every
//! sequence is built here from drydock's own text with control characters
//! removed, so nothing a remote printed ever reaches the terminal as a
//! sequence.

use std::time::{Duration, Instant};

use base64::Engine as _;

use super::app::App;
use super::strings as s;

/// The most text one copy sends: terminals and tmux refuse longer OSC 52
/// sequences. Longer text is cut to its last lines (saving takes it all).
pub const CLIPBOARD_MAX: usize = 512 * 1024;

/// The default quiet spell after which a question rings.
pub const NOTIFY_AFTER: Duration = Duration::from_secs(30);

/// Text as it may go inside an OSC sequence: no control characters.
fn plain(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// The OSC 52 sequence that puts `text` on the clipboard.
pub fn clipboard(text: &str) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    format!("\x1b]52;c;{encoded}\x07").into_bytes()
}

/// The last lines of `text` that fit in the clipboard, and how many lines that is.
pub fn clipboard_part(text: &str, lines: usize) -> (&str, usize) {
    if text.len() <= CLIPBOARD_MAX {
        return (text, lines);
    }
    let mut start = text.len() - CLIPBOARD_MAX;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    // From the start of a line, so the first one is whole.
    let start = text[start..].find('\n').map_or(start, |i| start + i + 1);
    let part = &text[start..];
    (part, part.matches('\n').count())
}

/// Which desktop notification sequences the terminal understands, from what
/// it says about itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notifier {
    /// OSC 9 (iTerm2, WezTerm, kitty, Windows Terminal, ghostty).
    pub osc9: bool,
    /// OSC 777 (VTE terminals such as GNOME Terminal, foot, urxvt, WezTerm).
    pub osc777: bool,
}

impl Notifier {
    /// From the environment of the terminal drydock runs in.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let program = var("TERM_PROGRAM");
        let term = var("TERM");
        Self {
            osc9: matches!(program.as_str(), "iTerm.app" | "WezTerm" | "ghostty")
                || !var("KITTY_WINDOW_ID").is_empty()
                || !var("WT_SESSION").is_empty(),
            osc777: !var("VTE_VERSION").is_empty()
                || program == "WezTerm"
                || term.starts_with("foot")
                || term.starts_with("rxvt"),
        }
    }

    /// The bell, and a desktop notification saying `text` where supported.
    pub fn sequence(self, text: &str) -> Vec<u8> {
        let text = plain(text);
        let mut out = String::from("\x07");
        if self.osc9 {
            out.push_str(&format!("\x1b]9;{text}\x07"));
        }
        if self.osc777 {
            out.push_str(&format!("\x1b]777;notify;{};{text}\x07", s::APP));
        }
        out.into_bytes()
    }
}

/// When a question rings: after how long without a key (`None`: never).
/// `NO_BELL` turns it off; `DRYDOCK_NOTIFY_AFTER` sets the spell ("30s",
/// "5m", "0" for every question, "off").
pub fn notify_after_from_env() -> Option<Duration> {
    if std::env::var_os("NO_BELL").is_some() {
        return None;
    }
    match std::env::var("DRYDOCK_NOTIFY_AFTER") {
        Ok(v) => parse_after(&v),
        Err(_) => Some(NOTIFY_AFTER),
    }
}

fn parse_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("never") {
        return None;
    }
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    match humantime::parse_duration(v) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(value = v, error = %e, "DRYDOCK_NOTIFY_AFTER not understood; using the default");
            Some(NOTIFY_AFTER)
        }
    }
}

impl App {
    /// Whether a run's question or a connection's question waits for the admin.
    pub fn asking(&self) -> bool {
        self.prompt.is_some() || self.question.is_some()
    }

    /// What to announce, when a question has just opened after the admin left
    /// the keyboard alone for `after` or longer.
    pub fn notification_due(&mut self, now: Instant, after: Option<Duration>) -> Option<String> {
        let asking = self.asking();
        let opened = asking && !self.was_asking;
        self.was_asking = asking;
        let after = after?;
        // No key yet: quiet since drydock started.
        let quiet_since = self.last_key.unwrap_or(self.started);
        if !opened || now.saturating_duration_since(quiet_since) < after {
            return None;
        }
        let text = match &self.prompt {
            Some(p) => s::notify_prompt(self.step_id(p.prompt.step)),
            None => s::NOTIFY_QUESTION.to_string(),
        };
        tracing::info!(%text, "question after a quiet spell: bell and notification");
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipboard_is_base64_in_osc_52() {
        assert_eq!(clipboard("hi\n"), b"\x1b]52;c;aGkK\x07".to_vec());
    }

    #[test]
    fn a_long_copy_keeps_whole_last_lines() {
        let line = "x".repeat(99) + "\n";
        let text = line.repeat(10_000);
        let (part, n) = clipboard_part(&text, 10_000);
        assert!(part.len() <= CLIPBOARD_MAX);
        assert!(part.starts_with('x') && part.ends_with('\n'));
        assert_eq!(n, part.len() / 100);
        assert_eq!(clipboard_part("a\nb\n", 2), ("a\nb\n", 2));
    }

    #[test]
    fn notifications_carry_no_control_characters() {
        let n = Notifier {
            osc9: true,
            osc777: true,
        };
        let seq =
            String::from_utf8(n.sequence("step \x1b]52;c;evil\x07 waits")).unwrap_or_default();
        assert_eq!(
            seq,
            "\x07\x1b]9;step ]52;c;evil waits\x07\x1b]777;notify;drydock;step ]52;c;evil waits\x07"
        );
        assert_eq!(Notifier::default().sequence("x"), b"\x07".to_vec());
    }

    #[test]
    fn the_quiet_spell_is_configurable() {
        assert_eq!(parse_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_after("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_after(" off "), None);
        assert_eq!(parse_after("soon"), Some(NOTIFY_AFTER));
    }
}
