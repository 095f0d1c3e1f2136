//! Remote output is data: split into lines, invalid UTF-8 replaced, and every
//! control sequence removed except colours (SGR), so that nothing a server
//! prints can drive the admin's terminal.

/// The one sanitiser for everything shown, here where the engine looks for it.
pub use crate::sanitize::sanitize;

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

    /// The line begun and not ended yet.
    pub fn partial(&self) -> &[u8] {
        &self.partial
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
    fn strips_colours_for_plain_text() {
        assert_eq!(strip_sgr("\x1b[1;32mok\x1b[0m done"), "ok done");
    }
}
