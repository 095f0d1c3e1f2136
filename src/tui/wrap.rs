//! Cutting one styled line into what a pane shows of it: the rows it wraps
//! into at a width, or the columns seen after scrolling sideways. Panes call
//! this only for the lines on screen, never for their whole scrollback.
//!
//! Tabs become spaces up to the next multiple of 8 columns; other control
//! characters (none survive `sanitize`) take no room. Counting rows and
//! cutting them go through the same placement, so they always agree.

use ratatui::style::Style;
use ratatui::text::Span;
use unicode_width::UnicodeWidthChar;

const TAB: usize = 8;

/// Call `cell` for each character of `spans` as drawn: its text, width in
/// columns and style, with tabs expanded.
fn for_each_cell(spans: &[Span<'_>], mut cell: impl FnMut(char, usize, Style)) {
    let mut column = 0;
    for span in spans {
        for c in span.content.chars() {
            if c == '\t' {
                let n = TAB - column % TAB;
                for _ in 0..n {
                    cell(' ', 1, span.style);
                }
                column += n;
            } else if !c.is_control() {
                let w = c.width().unwrap_or(0);
                cell(c, w, span.style);
                column += w;
            }
        }
    }
}

/// Where the next character goes when wrapping at `width` columns.
struct Rows {
    width: usize,
    used: usize,
    row: usize,
}

impl Rows {
    fn new(width: usize) -> Self {
        Self {
            width: width.max(1),
            used: 0,
            row: 0,
        }
    }

    /// Place a character `w` columns wide; returns its row. A wide character
    /// that does not fit at the end of a row starts the next one.
    fn place(&mut self, w: usize) -> usize {
        if self.used + w > self.width && self.used > 0 {
            self.row += 1;
            self.used = 0;
        }
        self.used += w;
        self.row
    }
}

/// Appends `c` to the last span when it has the same style, else starts one.
fn push(spans: &mut Vec<Span<'static>>, c: char, style: Style) {
    match spans.last_mut() {
        Some(last) if last.style == style => last.content.to_mut().push(c),
        _ => spans.push(Span::styled(c.to_string(), style)),
    }
}

/// How many rows `spans` take wrapped at `width` columns; an empty line takes one.
pub fn row_count(spans: &[Span<'_>], width: usize) -> usize {
    let mut rows = Rows::new(width);
    let mut last = 0;
    for_each_cell(spans, |_, w, _| last = rows.place(w));
    last + 1
}

/// The rows of `spans` wrapped at `width` columns, at least one.
pub fn wrap(spans: &[Span<'_>], width: usize) -> Vec<Vec<Span<'static>>> {
    let mut rows = Rows::new(width);
    let mut out: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    for_each_cell(spans, |c, w, style| {
        let row = rows.place(w);
        if row == out.len() {
            out.push(Vec::new());
        }
        if let Some(r) = out.last_mut() {
            push(r, c, style);
        }
    });
    out
}

/// The part of `spans` in columns `from..from + width`. A wide character cut
/// by either edge shows as spaces.
pub fn columns(spans: &[Span<'_>], from: usize, width: usize) -> Vec<Span<'static>> {
    let end = from + width;
    let mut column = 0;
    let mut out = Vec::new();
    for_each_cell(spans, |c, w, style| {
        let start = column;
        column += w;
        if column <= from || start >= end {
            return;
        }
        if start >= from && column <= end {
            push(&mut out, c, style);
        } else {
            for _ in start.max(from)..column.min(end) {
                push(&mut out, ' ', style);
            }
        }
    });
    out
}

/// The width of `spans` in columns, as drawn.
pub fn width(spans: &[Span<'_>]) -> usize {
    let mut total = 0;
    for_each_cell(spans, |_, w, _| total += w);
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Color;

    fn text(row: &[Span<'_>]) -> String {
        row.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn wrapping_keeps_every_character_and_style() {
        let red = Style::default().fg(Color::Red);
        let spans = vec![Span::raw("abcde"), Span::styled("fghij", red)];
        let rows = wrap(&spans, 4);
        let texts: Vec<String> = rows.iter().map(|r| text(r)).collect();
        assert_eq!(texts, ["abcd", "efgh", "ij"]);
        assert_eq!(
            rows[1][1].style, red,
            "f.. keeps its colour on the next row"
        );
        assert_eq!(row_count(&spans, 4), rows.len());
        assert_eq!(row_count(&[], 4), 1);
        assert_eq!(wrap(&[], 4).len(), 1);
    }

    #[test]
    fn a_wide_character_that_does_not_fit_starts_the_next_row() {
        let spans = vec![Span::raw("abc漢字")];
        let rows = wrap(&spans, 4);
        let texts: Vec<String> = rows.iter().map(|r| text(r)).collect();
        assert_eq!(texts, ["abc", "漢字"]);
        assert_eq!(row_count(&spans, 4), 2);
    }

    #[test]
    fn tabs_expand_to_the_next_stop() {
        let spans = vec![Span::raw("a\tb")];
        assert_eq!(width(&spans), 9);
        assert_eq!(text(&columns(&spans, 0, 20)), "a       b");
    }

    #[test]
    fn columns_cut_both_ends() {
        let spans = vec![Span::raw("0123456789")];
        assert_eq!(text(&columns(&spans, 3, 4)), "3456");
        assert_eq!(text(&columns(&spans, 8, 4)), "89");
        assert!(columns(&spans, 20, 4).is_empty());
        // A wide character half outside shows as a space.
        assert_eq!(text(&columns(&[Span::raw("漢字x")], 1, 4)), " 字x");
    }
}
