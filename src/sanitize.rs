//! What may reach the admin's terminal. Strings from a runbook, a host or a
//! remote command are data, not terminal input: every escape sequence and
//! control character is removed (colours are kept where the caller asks), and
//! so are the bidi overrides that make text read other than it is stored.
//! Every output goes through [`clean`]; the other functions are its uses.

use std::borrow::Cow;
use std::iter::Peekable;
use std::str::Chars;

/// What cleaned text keeps besides printable characters and tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// Colour sequences (SGR, `ESC [ ... m`).
    pub colours: bool,
    /// Line feeds; without them each becomes a space, so one string stays one line.
    pub newlines: bool,
}

/// The bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// C1 controls that open a string ended by BEL or ST: DCS, SOS, OSC, PM, APC.
fn opens_c1_string(c: char) -> bool {
    matches!(c, '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}')
}

/// `text` with no escape sequence (but colours when `keep` says), no control
/// character but tabs (and line feeds when `keep` says), no bidi control.
pub fn clean(text: &str, keep: Keep) -> Cow<'_, str> {
    // Most text is printable ASCII: nothing to remove.
    if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || b == b'\t')
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    control_sequence(&mut chars, keep, &mut out);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                Some(_) => {
                    // Two- or three-character escapes (charset selection etc.).
                    if let Some(c) = chars.next()
                        && ('\x20'..='\x2f').contains(&c)
                    {
                        chars.next();
                    }
                }
                None => {}
            },
            '\u{9b}' => control_sequence(&mut chars, keep, &mut out),
            c if opens_c1_string(c) => skip_string(&mut chars),
            '\t' => out.push('\t'),
            '\n' if keep.newlines => out.push('\n'),
            '\n' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The rest of a CSI sequence; kept only when it sets colours and `keep` says so.
fn control_sequence(chars: &mut Peekable<Chars<'_>>, keep: Keep, out: &mut String) {
    let mut params = String::new();
    let mut final_byte = None;
    for c in chars.by_ref() {
        if ('\x40'..='\x7e').contains(&c) {
            final_byte = Some(c);
            break;
        }
        params.push(c);
    }
    let is_sgr = final_byte == Some('m')
        && params
            .chars()
            .all(|c| c.is_ascii_digit() || c == ';' || c == ':');
    if is_sgr && keep.colours {
        out.push_str("\x1b[");
        out.push_str(&params);
        out.push('m');
    }
}

/// The rest of an OSC/DCS/SOS/PM/APC string, up to BEL or ST.
fn skip_string(chars: &mut Peekable<Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\x07' | '\u{9c}' => break,
            '\x1b' if chars.peek() == Some(&'\\') => {
                chars.next();
                break;
            }
            _ => {}
        }
    }
}

/// Printable ASCII and tabs only: nothing to clean (the common case).
fn is_plain(line: &[u8]) -> Option<&str> {
    if all_bytes(line, |b| (0x20..0x7f).contains(&b) || b == b'\t') {
        std::str::from_utf8(line).ok()
    } else {
        None
    }
}

/// Output that is printable ASCII, tabs and line feeds only, as text: its
/// lines need no cleaning (the common case, checked once for many lines).
pub fn plain_lines(output: &[u8]) -> Option<&str> {
    if all_bytes(output, |b| {
        (0x20..0x7f).contains(&b) || b == b'\t' || b == b'\n'
    }) {
        std::str::from_utf8(output).ok()
    } else {
        None
    }
}

/// Whether `ok` holds for every byte; block by block without an early exit
/// inside a block, so that the compiler can check many bytes at once.
pub fn all_bytes(bytes: &[u8], ok: impl Fn(u8) -> bool) -> bool {
    bytes
        .chunks(64)
        .all(|block| block.iter().fold(true, |all, &b| all & ok(b)))
}

/// One line of remote output: invalid UTF-8 replaced, colours kept, and only
/// what follows the last carriage return (what a terminal would have shown).
pub fn sanitize(line: &[u8]) -> String {
    if let Some(plain) = is_plain(line) {
        return plain.to_string();
    }
    sanitize_slow(line)
}

/// [`sanitize`], appended to `out` (no allocation of its own for plain
/// text); whether the line kept an escape sequence (a colour).
pub fn sanitize_into(line: &[u8], out: &mut String) -> bool {
    if let Some(plain) = is_plain(line) {
        out.push_str(plain);
        return false;
    }
    let clean = sanitize_slow(line);
    out.push_str(&clean);
    clean.contains('\x1b')
}

fn sanitize_slow(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    let text = match text.rfind('\r') {
        Some(i) => &text[i + 1..],
        None => text,
    };
    clean(
        text,
        Keep {
            colours: true,
            newlines: false,
        },
    )
    .into_owned()
}

/// The text without any escape sequence at all, for the journal and plain
/// output (of text the sanitiser kept colours in).
pub fn strip_sgr(line: &str) -> Cow<'_, str> {
    if !line.as_bytes().contains(&0x1b) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for plain output that keeps its line breaks (a plan, a listing).
pub fn text(s: &str) -> Cow<'_, str> {
    clean(
        s,
        Keep {
            colours: false,
            newlines: true,
        },
    )
}

/// Text that must stay on one line (an error message, a name in a list).
pub fn line(s: &str) -> Cow<'_, str> {
    clean(
        s,
        Keep {
            colours: false,
            newlines: false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_output_keeps_colours_and_drops_other_sequences() {
        assert_eq!(sanitize(b"\x1b[31mred\x1b[0m"), "\x1b[31mred\x1b[0m");
        assert_eq!(sanitize(b"a\x1b[2Jb\x1b[10;1Hc"), "abc");
        assert_eq!(sanitize(b"\x1b]0;evil title\x07ok"), "ok");
        assert_eq!(sanitize(b"\x1b]52;c;ZXZpbA==\x1b\\ok"), "ok");
        assert_eq!(
            sanitize(b"bell\x07 and \x08backspace"),
            "bell and backspace"
        );
        assert_eq!(sanitize(b"10%\r50%\r100%"), "100%");
        assert_eq!(sanitize(b"crlf\r"), "crlf");
        assert_eq!(sanitize(b"bad \xff utf8"), "bad \u{fffd} utf8");
        assert_eq!(sanitize(b"\x1b(Bcharset"), "charset");
    }

    #[test]
    fn bidi_controls_are_dropped_everywhere() {
        let evil = "abc\u{202e}fed\u{2066}x\u{2069}";
        assert_eq!(sanitize(evil.as_bytes()), "abcfedx");
        assert_eq!(text(evil), "abcfedx");
        assert_eq!(line(evil), "abcfedx");
        // Letters of right-to-left scripts are text, not controls.
        assert_eq!(line("שלום"), "שלום");
    }

    #[test]
    fn c1_controls_are_sequences_too() {
        assert_eq!(line("a\u{9b}2Jb"), "ab");
        assert_eq!(line("a\u{9d}0;title\u{9c}b"), "ab");
        assert_eq!(line("a\u{85}b"), "ab");
    }

    #[test]
    fn runbook_text_keeps_no_escape_at_all() {
        let hostile = "web\u{1b}]0;pwned\u{07}\u{1b}[2J\u{1b}[31mred";
        assert_eq!(line(hostile), "webred");
        assert_eq!(text("one\ntwo\r\n\tthree"), "one\ntwo\n\tthree");
        assert_eq!(line("one\ntwo"), "one two");
        assert!(matches!(line("plain"), Cow::Borrowed("plain")));
    }
}
