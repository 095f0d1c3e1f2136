//! Remote output is data: split into lines, invalid UTF-8 replaced, and every
//! control sequence removed except colours (SGR), so that nothing a server
//! prints can drive the admin's terminal.

/// Longest line kept whole; longer output is cut into lines of this size so
/// that a command printing without newlines cannot grow memory without end.
pub const MAX_LINE: usize = 16 * 1024;

/// Splits a byte stream into lines.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feed bytes; complete lines (without their newline) are passed to `emit`.
    pub fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some(pos) = memchr(b'\n', data) {
            if self.partial.is_empty() {
                emit(&data[..pos]);
            } else {
                self.partial.extend_from_slice(&data[..pos]);
                emit(&self.partial);
                self.partial.clear();
            }
            data = &data[pos + 1..];
        }
        self.partial.extend_from_slice(data);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            emit(&self.partial);
            self.partial = rest;
        }
    }

    /// The last line, when the output did not end with a newline.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            emit(&self.partial);
            self.partial.clear();
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Make one line of remote output safe to show: keep SGR colour sequences,
/// drop every other escape sequence and control character, keep only what
/// follows the last carriage return (what a terminal would have shown).
pub fn sanitize(line: &[u8]) -> String {
    // Most output is plain printable ASCII: nothing to remove or replace.
    if line
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) || b == b'\t')
    {
        return String::from_utf8_lossy(line).into_owned();
    }
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    let text = match text.rfind('\r') {
        Some(i) => &text[i + 1..],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    let mut seq = String::new();
                    let mut final_byte = None;
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            final_byte = Some(c);
                            break;
                        }
                        seq.push(c);
                    }
                    let is_sgr = final_byte == Some('m')
                        && seq
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == ';' || c == ':');
                    if is_sgr {
                        out.push_str("\x1b[");
                        out.push_str(&seq);
                        out.push('m');
                    }
                }
                Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
                    // OSC, DCS, SOS, PM, APC: up to BEL or ST.
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                Some(_) => {
                    // Two- or three-character escapes (charset selection etc.).
                    if let Some(c) = chars.next() {
                        if ('\x20'..='\x2f').contains(&c) {
                            chars.next();
                        }
                    }
                }
                None => {}
            },
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The text without any escape sequence at all, for the journal and plain output.
pub fn strip_sgr(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains('\x1b') {
        return std::borrow::Cow::Borrowed(line);
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
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |l| out.push(String::from_utf8_lossy(l).into_owned()));
        }
        s.finish(|l| out.push(String::from_utf8_lossy(l).into_owned()));
        out
    }

    #[test]
    fn splits_lines_across_chunks() {
        assert_eq!(
            lines(&[b"ab", b"c\nde", b"f\n\ng"]),
            ["abc", "def", "", "g"]
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let big = vec![b'x'; MAX_LINE * 2 + 5];
        let out = lines(&[&big]);
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].len(), 5);
    }

    #[test]
    fn keeps_colours_and_drops_other_sequences() {
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
    fn strips_colours_for_plain_text() {
        assert_eq!(strip_sgr("\x1b[1;32mok\x1b[0m done"), "ok done");
    }
}
