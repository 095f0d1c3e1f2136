//! A scrollable pane of text lines: bounded scrollback (a ring buffer),
//! follow mode, wrapped or not, search with a count of matches, and a
//! selection of lines to copy. Every position is worked out from the lines
//! on screen and their neighbours, never by laying out the whole buffer.

use std::collections::VecDeque;
use std::ops::RangeInclusive;

use ratatui::style::Style;

pub use super::styled::{mark, sgr_line};
use super::wrap;
use crate::remote::Stream;

pub const DEFAULT_SCROLLBACK: usize = 50_000;

#[derive(Debug, Clone)]
pub struct PaneLine {
    pub stream: Stream,
    /// Sanitized text: SGR colour sequences may remain, nothing else.
    pub text: String,
}

/// A place in a pane: a line, and which of its rows when lines wrap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub row: usize,
}

/// How a pane is laid out on screen: the rows it has, and the width lines
/// wrap at (`None`: every line takes one row, cut at the edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    pub height: usize,
    pub wrap: Option<usize>,
}

impl Fit {
    /// One row per line.
    pub fn unwrapped(height: usize) -> Self {
        Self { height, wrap: None }
    }
}

#[derive(Debug, Clone)]
pub struct Search {
    pub query: String,
    lower: String,
    /// Lines that match, among those the pane holds now.
    pub total: usize,
    /// The match last moved to: its line, counted from the first line ever
    /// pushed, and its place among the matches (from 1).
    current: Option<(u64, usize)>,
}

impl Search {
    /// The place of the match last moved to among all matches (from 1).
    pub fn ordinal(&self) -> Option<usize> {
        self.current.map(|(_, n)| n)
    }
}

/// Lines picked to copy, counted from the first line ever pushed so that
/// lines dropping off the front do not move them.
#[derive(Debug, Clone, Copy)]
struct Selection {
    anchor: u64,
    cursor: u64,
}

#[derive(Debug, Clone)]
pub struct Pane {
    lines: VecDeque<PaneLine>,
    cap: usize,
    /// Lines dropped off the front so far.
    dropped: u64,
    /// The first row shown when not following.
    top: Pos,
    pub follow: bool,
    search: Option<Search>,
    selection: Option<Selection>,
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
            top: Pos::default(),
            follow: true,
            search: None,
            selection: None,
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
            let Some(gone) = self.lines.pop_front() else {
                break;
            };
            self.forget_match(&gone.text);
            self.dropped += 1;
            if self.top.line == 0 {
                self.top.row = 0;
            }
            self.top.line = self.top.line.saturating_sub(1);
        }
        if let Some(s) = self.search.as_mut()
            && contains_ci(&text, &s.lower)
        {
            s.total += 1;
        }
        self.lines.push_back(PaneLine { stream, text });
        self.lines.extend(waiting);
    }

    /// A whole line a command printed: it ends the partial line of its
    /// stream shown so far, which it replaces.
    pub fn complete(&mut self, stream: Stream, text: String) {
        if self.partial == Some(stream) {
            self.partial = None;
            self.replace_last(text);
            return;
        }
        self.push(stream, text);
    }

    /// The line a command has begun, shown until it ends.
    pub fn set_partial(&mut self, stream: Stream, text: String) {
        if self.partial == Some(stream) {
            self.replace_last(text);
            return;
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

    /// The last line's text becomes `text` (a partial line went on or
    /// ended), and the search's count follows.
    fn replace_last(&mut self, text: String) {
        let Some(last) = self.lines.back_mut() else {
            return;
        };
        if let Some(s) = self.search.as_mut() {
            let was = contains_ci(&last.text, &s.lower);
            let is = contains_ci(&text, &s.lower);
            s.total = (s.total + usize::from(is)).saturating_sub(usize::from(was));
        }
        last.text = text;
    }

    /// Keep the search's count right when a line drops off the front.
    fn forget_match(&mut self, text: &str) {
        let dropped = self.dropped;
        let Some(s) = self.search.as_mut() else {
            return;
        };
        if !contains_ci(text, &s.lower) {
            return;
        }
        s.total = s.total.saturating_sub(1);
        s.current = match s.current {
            Some((line, _)) if line <= dropped => None,
            Some((line, n)) => Some((line, n.saturating_sub(1).max(1))),
            None => None,
        };
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

    pub fn line(&self, i: usize) -> Option<&PaneLine> {
        self.lines.get(i)
    }

    /// The rows line `i` takes.
    pub fn rows(&self, i: usize, fit: Fit) -> usize {
        match (fit.wrap, self.lines.get(i)) {
            (Some(width), Some(l)) => {
                wrap::row_count(&sgr_line(&l.text, Style::default(), false).spans, width)
            }
            _ => 1,
        }
    }

    /// `n` rows further down from `p`, stopping at the last row.
    fn forward(&self, mut p: Pos, mut n: usize, fit: Fit) -> Pos {
        while n > 0 {
            let rows = self.rows(p.line, fit);
            let left = rows.saturating_sub(1 + p.row);
            if n <= left {
                p.row += n;
                return p;
            }
            if p.line + 1 >= self.lines.len() {
                p.row = rows - 1;
                return p;
            }
            n -= left + 1;
            p = Pos {
                line: p.line + 1,
                row: 0,
            };
        }
        p
    }

    /// `n` rows further up from `p`, stopping at the first row.
    fn back(&self, mut p: Pos, mut n: usize, fit: Fit) -> Pos {
        while n > 0 {
            if n <= p.row {
                p.row -= n;
                return p;
            }
            if p.line == 0 {
                p.row = 0;
                return p;
            }
            n -= p.row + 1;
            p.line -= 1;
            p.row = self.rows(p.line, fit) - 1;
        }
        p
    }

    /// The last row of the last line.
    fn end(&self, fit: Fit) -> Pos {
        match self.lines.len() {
            0 => Pos::default(),
            n => Pos {
                line: n - 1,
                row: self.rows(n - 1, fit) - 1,
            },
        }
    }

    /// The first row shown when the end is on the bottom row.
    fn last_top(&self, fit: Fit) -> Pos {
        self.back(self.end(fit), fit.height.saturating_sub(1), fit)
    }

    /// The first row shown.
    pub fn first_visible(&self, fit: Fit) -> Pos {
        let last_top = self.last_top(fit);
        if self.follow {
            last_top
        } else {
            self.top.min(last_top)
        }
    }

    /// Show rows from `p` on, or the end when that would leave space below.
    fn show_from(&mut self, p: Pos, fit: Fit) {
        let last_top = self.last_top(fit);
        self.top = p.min(last_top);
        self.follow = p >= last_top;
    }

    /// Scroll by `delta` rows; scrolling up leaves follow mode, reaching the
    /// end resumes it.
    pub fn scroll(&mut self, delta: isize, fit: Fit) {
        let first = self.first_visible(fit);
        let next = if delta < 0 {
            self.back(first, delta.unsigned_abs(), fit)
        } else {
            self.forward(first, delta.unsigned_abs(), fit)
        };
        self.show_from(next, fit);
    }

    pub fn go_top(&mut self) {
        self.top = Pos::default();
        self.follow = self.lines.is_empty();
    }

    pub fn go_end(&mut self) {
        self.follow = true;
    }

    /// Line `i` counted from the first line ever pushed.
    fn absolute(&self, i: usize) -> u64 {
        self.dropped + i as u64
    }

    /// The index now of a line counted from the first ever pushed.
    fn index(&self, absolute: u64) -> Option<usize> {
        let i = usize::try_from(absolute.checked_sub(self.dropped)?).ok()?;
        (i < self.lines.len()).then_some(i)
    }

    // ---- search ----------------------------------------------------------

    pub fn search(&self) -> Option<&Search> {
        self.search.as_ref()
    }

    /// Search for `query` (none: stop searching); counts the matches.
    pub fn set_query(&mut self, query: Option<String>) {
        self.search = query.filter(|q| !q.is_empty()).map(|query| {
            let lower = query.to_lowercase();
            let total = self
                .lines
                .iter()
                .filter(|l| contains_ci(&l.text, &lower))
                .count();
            Search {
                query,
                lower,
                total,
                current: None,
            }
        });
    }

    /// Move to the next (or previous) match: after the match last moved to
    /// while it is still held, else from the first line shown. Returns
    /// whether there is one.
    pub fn find(&mut self, forward: bool, fit: Fit) -> bool {
        let Some(s) = self.search.as_ref() else {
            return false;
        };
        let n = self.lines.len();
        if s.total == 0 || n == 0 {
            return false;
        }
        let lower = s.lower.clone();
        let current = s.current.and_then(|(line, _)| self.index(line));
        let matches = |i: &usize| contains_ci(&self.lines[*i].text, &lower);
        let hit = match (forward, current) {
            (true, Some(c)) => (c + 1..n).chain(0..=c).find(matches),
            (true, None) => {
                let first = self.first_visible(fit).line;
                (first..n).chain(0..first).find(matches)
            }
            (false, Some(c)) => (0..c).rev().chain((c..n).rev()).find(matches),
            (false, None) => {
                let first = self.first_visible(fit).line;
                (0..first).rev().chain((first..n).rev()).find(matches)
            }
        };
        let Some(i) = hit else { return false };
        let ordinal = (0..=i).filter(matches).count();
        let absolute = self.absolute(i);
        if let Some(s) = self.search.as_mut() {
            s.current = Some((absolute, ordinal));
        }
        self.show_from(Pos { line: i, row: 0 }, fit);
        self.follow = false;
        true
    }

    // ---- selection -------------------------------------------------------

    /// The lines selected, as indices now.
    pub fn selected(&self) -> Option<RangeInclusive<usize>> {
        let s = self.selection?;
        let (lo, hi) = (s.anchor.min(s.cursor), s.anchor.max(s.cursor));
        let last = self.lines.len().checked_sub(1)?;
        let hi = self.index(hi)?;
        let lo = self.index(lo).unwrap_or(0);
        Some(lo..=hi.min(last))
    }

    pub fn selecting(&self) -> bool {
        self.selection.is_some()
    }

    /// Start selecting at the bottom line shown; the view holds still.
    pub fn start_selection(&mut self, fit: Fit) {
        if self.lines.is_empty() {
            return;
        }
        let first = self.first_visible(fit);
        let bottom = self.forward(first, fit.height.saturating_sub(1), fit);
        let at = self.absolute(bottom.line);
        self.selection = Some(Selection {
            anchor: at,
            cursor: at,
        });
        self.top = first;
        self.follow = false;
    }

    pub fn clear_selection(&mut self) {
        self.selection = None;
    }

    /// Move the selection's moving end by `delta` lines, keeping it in view.
    pub fn move_cursor(&mut self, delta: isize, fit: Fit) {
        let Some(s) = self.selection else { return };
        let Some(last) = self.lines.len().checked_sub(1) else {
            return;
        };
        let now = self.index(s.cursor).unwrap_or(0);
        let to = now.saturating_add_signed(delta).min(last);
        self.move_cursor_to(to, fit);
    }

    /// Put the selection's moving end on line `to`, keeping it in view.
    pub fn move_cursor_to(&mut self, to: usize, fit: Fit) {
        let absolute = self.absolute(to);
        if let Some(s) = self.selection.as_mut() {
            s.cursor = absolute;
        }
        self.reveal(to, fit);
    }

    /// Scroll just enough for line `i` to be in view.
    fn reveal(&mut self, i: usize, fit: Fit) {
        let first = self.first_visible(fit);
        if i < first.line || (i == first.line && first.row > 0) {
            self.show_from(Pos { line: i, row: 0 }, fit);
        } else {
            let bottom = self.forward(first, fit.height.saturating_sub(1), fit);
            if i > bottom.line {
                let end_of_i = Pos {
                    line: i,
                    row: self.rows(i, fit) - 1,
                };
                let top = self.back(end_of_i, fit.height.saturating_sub(1), fit);
                self.show_from(top, fit);
            }
        }
        self.follow = false;
    }

    /// The text of `range` (every line when `None`), without colours, one
    /// line each; and how many lines that is.
    pub fn plain_text(&self, range: Option<RangeInclusive<usize>>) -> (String, usize) {
        let Some(last) = self.lines.len().checked_sub(1) else {
            return (String::new(), 0);
        };
        let range = range.unwrap_or(0..=last);
        let range = *range.start()..=(*range.end()).min(last);
        let mut out = String::new();
        let mut n = 0;
        for l in self.lines.range(range) {
            out.push_str(&crate::engine::output::strip_sgr(&l.text));
            out.push('\n');
            n += 1;
        }
        (out, n)
    }
}

fn contains_ci(text: &str, lower_query: &str) -> bool {
    crate::engine::output::strip_sgr(text)
        .to_lowercase()
        .contains(lower_query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(lines: impl IntoIterator<Item = String>) -> Pane {
        let mut p = Pane::new(1000);
        for l in lines {
            p.push(Stream::Stdout, l);
        }
        p
    }

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
    fn a_partial_line_keeps_the_search_count() {
        let mut p = Pane::new(3);
        p.set_query(Some("yes".into()));
        p.set_partial(Stream::Stdout, "Continue? ".into());
        p.set_partial(Stream::Stdout, "Continue? yes".into());
        assert_eq!(p.search().map(|s| s.total), Some(1));
        p.complete(Stream::Stdout, "Continue? no".into());
        assert_eq!(p.search().map(|s| s.total), Some(0));
        // Lines pushed below the partial line count; it stays counted once.
        p.set_partial(Stream::Stdout, "yes? ".into());
        p.push(Stream::Stderr, "drydock: yes".into());
        p.push(Stream::Stderr, "drydock: yes".into());
        assert_eq!(p.search().map(|s| s.total), Some(3));
    }

    #[test]
    fn scrolling_up_leaves_follow_and_end_resumes_it() {
        let mut p = pane((0..50).map(|i| i.to_string()));
        let fit = Fit::unwrapped(10);
        p.scroll(-5, fit);
        assert!(!p.follow);
        assert_eq!(p.first_visible(fit).line, 35);
        p.push(Stream::Stdout, "more".into());
        assert_eq!(p.first_visible(fit).line, 35);
        p.scroll(100, fit);
        assert!(p.follow);
    }

    #[test]
    fn wrapped_rows_scroll_one_at_a_time() {
        // Ten lines of 25 characters: three rows each at width 10.
        let mut p = pane((0..10).map(|i| format!("{i}{}", "x".repeat(24))));
        let fit = Fit {
            height: 4,
            wrap: Some(10),
        };
        assert_eq!(p.rows(0, fit), 3);
        // Following: the last row of the last line is on the bottom row.
        assert_eq!(p.first_visible(fit), Pos { line: 8, row: 2 });
        p.scroll(-1, fit);
        assert_eq!(p.first_visible(fit), Pos { line: 8, row: 1 });
        p.scroll(-3, fit);
        assert_eq!(p.first_visible(fit), Pos { line: 7, row: 1 });
        p.go_top();
        p.scroll(4, fit);
        assert_eq!(p.first_visible(fit), Pos { line: 1, row: 1 });
        p.scroll(1000, fit);
        assert!(p.follow);
    }

    #[test]
    fn search_counts_and_moves_both_ways() {
        let mut p = pane((0..30).map(|i| {
            if i % 10 == 3 {
                format!("ERROR {i}")
            } else {
                format!("line {i}")
            }
        }));
        let fit = Fit::unwrapped(5);
        p.set_query(Some("error".into()));
        assert_eq!(p.search().map(|s| s.total), Some(3));
        p.go_top();
        assert!(p.find(true, fit));
        assert_eq!(p.first_visible(fit).line, 3);
        assert!(p.find(true, fit));
        assert_eq!(p.first_visible(fit).line, 13);
        assert_eq!(p.search().and_then(Search::ordinal), Some(2));
        assert!(p.find(false, fit));
        assert_eq!(p.first_visible(fit).line, 3);
        p.push(Stream::Stdout, "another error".into());
        assert_eq!(p.search().map(|s| s.total), Some(4));
        p.set_query(Some("nothing like it".into()));
        assert!(!p.find(true, fit));
    }

    #[test]
    fn a_match_near_the_end_is_not_found_twice() {
        let mut p = pane((0..20).map(|i| format!("line {i}")));
        p.push(Stream::Stdout, "match one".into());
        p.push(Stream::Stdout, "filler".into());
        p.push(Stream::Stdout, "match two".into());
        let fit = Fit::unwrapped(10);
        p.set_query(Some("match".into()));
        p.go_top();
        assert!(p.find(true, fit));
        assert!(p.find(true, fit));
        assert_eq!(p.search().and_then(Search::ordinal), Some(2));
    }

    #[test]
    fn dropped_lines_leave_the_count() {
        let mut p = Pane::new(3);
        p.set_query(Some("x".into()));
        for t in ["x1", "a", "x2", "b", "c"] {
            p.push(Stream::Stdout, t.into());
        }
        assert_eq!(p.search().map(|s| s.total), Some(1));
    }

    #[test]
    fn selection_follows_the_cursor_and_copies_plain_text() {
        let mut p = pane((0..20).map(|i| format!("\x1b[1m{i}\x1b[0m")));
        let fit = Fit::unwrapped(5);
        p.start_selection(fit);
        assert_eq!(p.selected(), Some(19..=19));
        p.move_cursor(-6, fit);
        assert_eq!(p.selected(), Some(13..=19));
        assert_eq!(p.first_visible(fit).line, 13, "the cursor stays in view");
        let (text, n) = p.plain_text(p.selected());
        assert_eq!(n, 7);
        assert!(text.starts_with("13\n14\n"), "{text:?}");
        p.clear_selection();
        assert_eq!(p.selected(), None);
        assert_eq!(p.plain_text(None).1, 20);
    }
}
