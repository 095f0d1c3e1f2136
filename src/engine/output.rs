//! Remote output is data: split into lines, invalid UTF-8 replaced, and every
//! control sequence removed except colours (SGR), so that nothing a server
//! prints can drive the admin's terminal.

use super::budget::Credit;
use crate::remote::Stream;
/// The one sanitiser for everything shown, here where the engine looks for it.
pub use crate::sanitize::{sanitize, sanitize_into, strip_sgr};

/// Longest line kept whole; longer output is cut into lines of this size so
/// that a command printing without newlines cannot grow memory without end.
pub const MAX_LINE: usize = 16 * 1024;

/// Lines of output that arrived together, in one buffer: a step that
/// prints millions of lines costs no allocation per line on its way to the
/// journal and the front end.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    text: String,
    /// Each line's stream and where it ends in `text`.
    ends: Vec<(Stream, usize)>,
    /// Some line keeps an escape sequence (a colour).
    coloured: bool,
    /// The bytes of the output budget these lines hold on their way to the
    /// front end, given back when they are dropped (see `budget`).
    credit: Credit,
}

impl PartialEq for Lines {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && self.ends == other.ends
    }
}

impl Eq for Lines {}

impl Lines {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a line that is clean already.
    pub fn push(&mut self, stream: Stream, line: &str) {
        self.coloured |= line.as_bytes().contains(&0x1b);
        self.text.push_str(line);
        self.ends.push((stream, self.text.len()));
    }

    /// Add a line as a command printed it: sanitized on the way in.
    pub fn push_raw(&mut self, stream: Stream, line: &[u8]) {
        self.coloured |= sanitize_into(line, &mut self.text);
        self.ends.push((stream, self.text.len()));
    }

    /// Add the lines `data` ends, as a command printed them: cut by
    /// `splitter`, which keeps the line not ended yet, and sanitized on the
    /// way in. Plain output is checked once for all its lines.
    pub fn push_output(&mut self, stream: Stream, splitter: &mut LineSplitter, mut data: &[u8]) {
        if !splitter.partial.is_empty() {
            // The line begun in an earlier chunk ends the slow way.
            let Some(end) = memchr::memchr(b'\n', data) else {
                splitter.push(data, |line| self.push_raw(stream, line));
                return;
            };
            splitter.push(&data[..=end], |line| self.push_raw(stream, line));
            data = &data[end + 1..];
        }
        let Some(plain) = crate::sanitize::plain_lines(data) else {
            splitter.push(data, |line| self.push_raw(stream, line));
            return;
        };
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            self.text.push_str(&plain[start..end]);
            self.ends.push((stream, self.text.len()));
            start = end + 1;
        }
        splitter.push(&data[start..], |line| self.push_raw(stream, line));
    }

    /// Whether every line can go into a JSON string as it is: no colour to
    /// strip, nothing to escape. Checked once for all the lines.
    pub fn json_plain(&self) -> bool {
        !self.coloured
            && crate::sanitize::all_bytes(self.text.as_bytes(), |b| {
                b >= 0x20 && b != b'"' && b != b'\\'
            })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Whether some line came on `stream`.
    pub fn has(&self, stream: Stream) -> bool {
        self.ends.iter().any(|&(s, _)| s == stream)
    }

    /// Whether some line keeps an escape sequence: without, there is no
    /// colour to strip for plain output.
    pub fn coloured(&self) -> bool {
        self.coloured
    }

    /// The bytes the lines take, with their bookkeeping.
    pub fn size(&self) -> usize {
        self.text.len() + self.ends.len() * std::mem::size_of::<(Stream, usize)>()
    }

    /// Hold `credit` until these lines are dropped.
    pub(super) fn hold(&mut self, credit: Credit) {
        self.credit = credit;
    }

    pub fn iter(&self) -> impl Iterator<Item = (Stream, &str)> {
        let mut start = 0;
        self.ends.iter().map(move |&(stream, end)| {
            let line = self.text.get(start..end).unwrap_or_default();
            start = end;
            (stream, line)
        })
    }

    /// Change every line with `f` (which sees each line alone), when
    /// `touches` says the text may need it.
    pub fn edit(&mut self, touches: impl Fn(&str) -> bool, mut f: impl FnMut(&mut String)) {
        if !touches(&self.text) {
            return;
        }
        let mut edited = Self::new();
        for (stream, line) in self.iter() {
            let mut line = line.to_string();
            f(&mut line);
            edited.push(stream, &line);
        }
        edited.credit = std::mem::take(&mut self.credit);
        *self = edited;
    }
}

impl<S: AsRef<str>> FromIterator<(Stream, S)> for Lines {
    fn from_iter<I: IntoIterator<Item = (Stream, S)>>(iter: I) -> Self {
        let mut lines = Self::new();
        for (stream, line) in iter {
            lines.push(stream, line.as_ref());
        }
        lines
    }
}

impl<S: AsRef<str>> From<Vec<(Stream, S)>> for Lines {
    fn from(lines: Vec<(Stream, S)>) -> Self {
        lines.into_iter().collect()
    }
}

/// Splits a byte stream into lines.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feed bytes; complete lines (without their newline) are passed to `emit`.
    pub fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some(pos) = memchr::memchr(b'\n', data) {
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
    fn lines_share_one_buffer_and_read_back_in_order() {
        let mut lines = Lines::new();
        lines.push_raw(Stream::Stdout, b"one");
        lines.push_raw(Stream::Stderr, b"two \x1b[31mred\x1b[0m \x1b]0;x\x07");
        lines.push(Stream::Stdout, "");
        assert!(lines.coloured());
        let read: Vec<(Stream, &str)> = lines.iter().collect();
        assert_eq!(
            read,
            [
                (Stream::Stdout, "one"),
                (Stream::Stderr, "two \x1b[31mred\x1b[0m "),
                (Stream::Stdout, ""),
            ]
        );
        lines.edit(|t| t.contains("red"), |l| *l = l.replace("red", "***"));
        assert_eq!(
            lines.iter().nth(1),
            Some((Stream::Stderr, "two \x1b[31m***\x1b[0m "))
        );
        assert_eq!(lines.len(), 3);
    }

    /// The lines of `chunks` as `push_output` gives them, chunk by chunk,
    /// and as the line-by-line way gives them: they must agree.
    fn both_ways(chunks: &[&[u8]]) -> (Vec<String>, Vec<String>) {
        let mut splitter = LineSplitter::default();
        let mut fast = Vec::new();
        for chunk in chunks {
            let mut lines = Lines::new();
            lines.push_output(Stream::Stdout, &mut splitter, chunk);
            fast.extend(lines.iter().map(|(_, l)| l.to_string()));
        }
        splitter.finish(|l| fast.push(sanitize(l)));
        let mut splitter = LineSplitter::default();
        let mut slow = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, |l| slow.push(sanitize(l)));
        }
        splitter.finish(|l| slow.push(sanitize(l)));
        (fast, slow)
    }

    #[test]
    fn plain_chunks_split_as_line_by_line_does() {
        let long = [vec![b'y'; MAX_LINE + 3], b"\nz".to_vec()].concat();
        let cases: [&[&[u8]]; 6] = [
            &[b"one\ntwo\n", b"three\n"],
            &[b"par", b"tial\nnext\nrest", b" of it\n\n"],
            &[b"no newline at all", b" still none"],
            &[b"tab\there\n", b"colour \x1b[31mred\x1b[0m\nplain\n"],
            &[b"half\r", b"way\rdone\n", b"caf\xc3", b"\xa9\n"],
            &[&long, b"\n"],
        ];
        for chunks in cases {
            let (fast, slow) = both_ways(chunks);
            assert_eq!(fast, slow, "{chunks:?}");
        }
        let (fast, _) = both_ways(&[&long, b"\n"]);
        assert_eq!(
            fast.iter().map(String::len).collect::<Vec<_>>(),
            [MAX_LINE + 3, 1]
        );
    }

    #[test]
    fn only_lines_without_colour_quote_or_backslash_go_into_json_as_they_are() {
        let plain: Lines = vec![(Stream::Stdout, "a line"), (Stream::Stderr, "42")].into();
        assert!(plain.json_plain());
        for needs in ["say \"hi\"", "C:\\dir", "a\ttab", "\x1b[31mred\x1b[0m"] {
            let lines: Lines = vec![(Stream::Stdout, "a line"), (Stream::Stdout, needs)].into();
            assert!(!lines.json_plain(), "{needs:?}");
        }
    }

    #[test]
    fn strips_colours_for_plain_text() {
        assert_eq!(strip_sgr("\x1b[1;32mok\x1b[0m done"), "ok done");
    }
}
