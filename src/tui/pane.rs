//! A scrollable pane of text lines: bounded scrollback, follow mode, search.

use std::collections::VecDeque;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::remote::Stream;

pub const DEFAULT_SCROLLBACK: usize = 50_000;

#[derive(Debug, Clone)]
pub struct PaneLine {
    pub stream: Stream,
    /// Sanitized text: SGR colour sequences may remain, nothing else.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Pane {
    lines: VecDeque<PaneLine>,
    cap: usize,
    /// Lines dropped off the front so far, so a search position survives them.
    dropped: u64,
    /// Index of the first line shown when not following.
    top: usize,
    pub follow: bool,
    pub query: Option<String>,
    /// The last line is a command's partial line (of this stream), to be
    /// replaced by the next partial or by the whole line.
    partial: Option<Stream>,
}

impl Pane {
    pub fn new(cap: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            cap: cap.max(1),
            dropped: 0,
            top: 0,
            follow: true,
            query: None,
            partial: None,
        }
    }

    /// A line of drydock's own, or a whole line of a command's that has no
    /// partial line shown: below the last line, but above a partial line,
    /// which stays last while its command waits.
    pub fn push(&mut self, stream: Stream, text: String) {
        let waiting = if self.partial.is_some() && self.cap > 1 {
            self.lines.pop_back()
        } else {
            self.partial = None;
            None
        };
        while self.lines.len() + 1 + usize::from(waiting.is_some()) > self.cap {
            self.lines.pop_front();
            self.dropped += 1;
            self.top = self.top.saturating_sub(1);
        }
        self.lines.push_back(PaneLine { stream, text });
        self.lines.extend(waiting);
    }

    /// A whole line a command printed: it ends the partial line of its
    /// stream shown so far, which it replaces.
    pub fn complete(&mut self, stream: Stream, text: String) {
        if self.partial == Some(stream) {
            if let Some(last) = self.lines.back_mut() {
                last.text = text;
                self.partial = None;
                return;
            }
        }
        self.push(stream, text);
    }

    /// The line a command has begun, shown until it ends.
    pub fn set_partial(&mut self, stream: Stream, text: String) {
        if self.partial == Some(stream) {
            if let Some(last) = self.lines.back_mut() {
                last.text = text;
                return;
            }
        }
        // A partial line of the other stream stays, as a line of its own.
        self.partial = None;
        self.push(stream, text);
        self.partial = Some(stream);
    }

    /// The partial line shown last, if the command has not ended it.
    pub fn partial(&self) -> Option<&PaneLine> {
        self.partial.and(self.lines.back())
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &PaneLine> + ExactSizeIterator {
        self.lines.iter()
    }

    /// The first visible line for a view `height` lines tall.
    pub fn first_visible(&self, height: usize) -> usize {
        let last_top = self.lines.len().saturating_sub(height);
        if self.follow {
            last_top
        } else {
            self.top.min(last_top)
        }
    }

    pub fn visible(&self, height: usize) -> impl Iterator<Item = &PaneLine> {
        let first = self.first_visible(height);
        self.lines
            .range(first..(first + height).min(self.lines.len()))
    }

    /// Scroll by `delta` lines; scrolling up leaves follow mode, reaching the
    /// end resumes it.
    pub fn scroll(&mut self, delta: isize, height: usize) {
        let first = self.first_visible(height) as isize;
        let last_top = self.lines.len().saturating_sub(height) as isize;
        let next = (first + delta).clamp(0, last_top.max(0));
        self.top = next as usize;
        self.follow = next >= last_top;
    }

    pub fn go_top(&mut self) {
        self.top = 0;
        self.follow = self.lines.is_empty();
    }

    pub fn go_end(&mut self) {
        self.follow = true;
    }

    /// Jump to the next (or previous) line matching the query, from the
    /// current view; returns whether one was found.
    pub fn find(&mut self, forward: bool, height: usize) -> bool {
        let Some(q) = self.query.as_ref().map(|q| q.to_lowercase()) else {
            return false;
        };
        if q.is_empty() || self.lines.is_empty() {
            return false;
        }
        let first = self.first_visible(height);
        let n = self.lines.len();
        let matches = |i: usize| contains_ci(&self.lines[i].text, &q);
        // Search starts just past the first visible line so repeated `n` moves on.
        let hit = if forward {
            (first + 1..n)
                .chain(0..=first.min(n - 1))
                .find(|&i| matches(i))
        } else {
            (0..first)
                .rev()
                .chain((first..n).rev())
                .find(|&i| matches(i))
        };
        match hit {
            Some(i) => {
                self.top = i;
                self.follow = false;
                let last_top = n.saturating_sub(height);
                if i >= last_top {
                    self.top = last_top;
                }
                true
            }
            None => false,
        }
    }
}

fn contains_ci(text: &str, lower_query: &str) -> bool {
    crate::engine::output::strip_sgr(text)
        .to_lowercase()
        .contains(lower_query)
}

/// Split `text` into spans at case-insensitive occurrences of `needle`.
pub fn mark(spans: Vec<Span<'static>>, needle: &str, style: Style) -> Vec<Span<'static>> {
    if needle.is_empty() {
        return spans;
    }
    let needle = needle.to_lowercase();
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        let content = span.content.to_string();
        let lower = content.to_lowercase();
        // Lower-casing can change byte lengths outside ASCII; mark only when it did not.
        if lower.len() != content.len() || !lower.contains(&needle) {
            out.push(span);
            continue;
        }
        let mut rest = 0;
        for (i, _) in lower.match_indices(&needle) {
            if i > rest {
                out.push(Span::styled(content[rest..i].to_string(), span.style));
            }
            out.push(Span::styled(
                content[i..i + needle.len()].to_string(),
                span.style.patch(style),
            ));
            rest = i + needle.len();
        }
        if rest < content.len() {
            out.push(Span::styled(content[rest..].to_string(), span.style));
        }
    }
    out
}

/// Turn a line with SGR sequences into styled spans over `base`. With
/// `colour` false the sequences are dropped and only `base` applies.
pub fn sgr_line(text: &str, base: Style, colour: bool) -> Line<'static> {
    if !text.contains('\x1b') {
        return Line::from(Span::styled(text.to_string(), base));
    }
    let mut spans = Vec::new();
    let mut style = base;
    let mut rest = text;
    while let Some(esc) = rest.find('\x1b') {
        if esc > 0 {
            spans.push(Span::styled(rest[..esc].to_string(), style));
        }
        let after = &rest[esc + 1..];
        let Some(params) = after.strip_prefix('[') else {
            rest = after;
            continue;
        };
        let Some(end) = params.find('m') else { break };
        if colour {
            style = apply_sgr(style, base, &params[..end]);
        }
        rest = &params[end + 1..];
    }
    if !rest.is_empty() {
        spans.push(Span::styled(rest.to_string(), style));
    }
    Line::from(spans)
}

fn basic(n: u16) -> Color {
    match n {
        0 => Color::Black,
        1 => Color::Red,
        2 => Color::Green,
        3 => Color::Yellow,
        4 => Color::Blue,
        5 => Color::Magenta,
        6 => Color::Cyan,
        7 => Color::Gray,
        8 => Color::DarkGray,
        9 => Color::LightRed,
        10 => Color::LightGreen,
        11 => Color::LightYellow,
        12 => Color::LightBlue,
        13 => Color::LightMagenta,
        14 => Color::LightCyan,
        _ => Color::White,
    }
}

fn apply_sgr(mut style: Style, base: Style, params: &str) -> Style {
    let codes: Vec<u16> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
    let mut i = 0;
    while i < codes.len() {
        let c = codes[i];
        match c {
            0 => style = base,
            1 => style = style.add_modifier(Modifier::BOLD),
            2 => style = style.add_modifier(Modifier::DIM),
            3 => style = style.add_modifier(Modifier::ITALIC),
            4 => style = style.add_modifier(Modifier::UNDERLINED),
            7 => style = style.add_modifier(Modifier::REVERSED),
            22 => style = style.remove_modifier(Modifier::BOLD | Modifier::DIM),
            23 => style = style.remove_modifier(Modifier::ITALIC),
            24 => style = style.remove_modifier(Modifier::UNDERLINED),
            27 => style = style.remove_modifier(Modifier::REVERSED),
            30..=37 => style = style.fg(basic(c - 30)),
            39 => style = style.fg(base.fg.unwrap_or(Color::Reset)),
            40..=47 => style = style.bg(basic(c - 40)),
            49 => style = style.bg(base.bg.unwrap_or(Color::Reset)),
            90..=97 => style = style.fg(basic(c - 90 + 8)),
            100..=107 => style = style.bg(basic(c - 100 + 8)),
            38 | 48 => {
                let color = match codes.get(i + 1) {
                    Some(5) => {
                        let n = codes.get(i + 2).copied().unwrap_or(0);
                        i += 2;
                        Color::Indexed(u8::try_from(n).unwrap_or(255))
                    }
                    Some(2) => {
                        let ch = |k: usize| {
                            u8::try_from(codes.get(i + k).copied().unwrap_or(0)).unwrap_or(255)
                        };
                        let color = Color::Rgb(ch(2), ch(3), ch(4));
                        i += 4;
                        color
                    }
                    _ => Color::Reset,
                };
                style = if c == 38 {
                    style.fg(color)
                } else {
                    style.bg(color)
                };
            }
            _ => {}
        }
        i += 1;
    }
    style
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_buffer_is_bounded() {
        let mut p = Pane::new(3);
        for i in 0..10 {
            p.push(Stream::Stdout, i.to_string());
        }
        assert_eq!(p.len(), 3);
        assert_eq!(p.dropped(), 7);
        let v: Vec<&str> = p.lines().map(|l| l.text.as_str()).collect();
        assert_eq!(v, ["7", "8", "9"]);
    }

    #[test]
    fn a_partial_line_stays_last_until_its_line_ends() {
        let mut p = Pane::new(3);
        p.push(Stream::Stdout, "a".into());
        p.set_partial(Stream::Stdout, "Continue? ".into());
        p.set_partial(Stream::Stdout, "Continue? [y/N] ".into());
        p.push(Stream::Stderr, "drydock: note".into());
        p.push(Stream::Stderr, "drydock: another".into());
        let v: Vec<&str> = p.lines().map(|l| l.text.as_str()).collect();
        assert_eq!(v, ["drydock: note", "drydock: another", "Continue? [y/N] "]);
        assert_eq!(
            p.partial().map(|l| l.text.as_str()),
            Some("Continue? [y/N] ")
        );
        p.complete(Stream::Stdout, "Continue? [y/N] yes".into());
        assert!(p.partial().is_none());
        p.complete(Stream::Stdout, "going on".into());
        let v: Vec<&str> = p.lines().map(|l| l.text.as_str()).collect();
        assert_eq!(v, ["drydock: another", "Continue? [y/N] yes", "going on"]);
    }

    #[test]
    fn scrolling_up_leaves_follow_and_end_resumes_it() {
        let mut p = Pane::new(100);
        for i in 0..50 {
            p.push(Stream::Stdout, i.to_string());
        }
        p.scroll(-5, 10);
        assert!(!p.follow);
        assert_eq!(p.first_visible(10), 35);
        p.push(Stream::Stdout, "more".into());
        assert_eq!(p.first_visible(10), 35);
        p.scroll(100, 10);
        assert!(p.follow);
    }

    #[test]
    fn search_moves_to_matches_both_ways() {
        let mut p = Pane::new(100);
        for i in 0..30 {
            p.push(
                Stream::Stdout,
                if i % 10 == 3 {
                    format!("ERROR {i}")
                } else {
                    format!("line {i}")
                },
            );
        }
        p.query = Some("error".into());
        p.go_top();
        assert!(p.find(true, 5));
        assert_eq!(p.first_visible(5), 3);
        assert!(p.find(true, 5));
        assert_eq!(p.first_visible(5), 13);
        assert!(p.find(false, 5));
        assert_eq!(p.first_visible(5), 3);
    }

    #[test]
    fn sgr_colours_become_styles() {
        let line = sgr_line("a\x1b[31mred\x1b[0m b", Style::default(), true);
        assert_eq!(line.spans.len(), 3);
        assert_eq!(line.spans[1].style.fg, Some(Color::Red));
        let plain = sgr_line("a\x1b[31mred\x1b[0m b", Style::default(), false);
        assert!(plain.spans.iter().all(|s| s.style.fg.is_none()));
    }
}
