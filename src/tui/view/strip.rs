//! A line of hosts that may not fit (the header's, a step's cells, the
//! output pane's title): whole hosts while they fit, then "+N more" for the
//! rest, so that a cut strip never passes for the whole list.

use ratatui::style::Style;
use ratatui::text::Span;
use unicode_width::UnicodeWidthStr;

use crate::tui::strings as s;

/// The ways to say how many hosts are left out, longest first.
const MARKS: [fn(usize) -> String; 3] = [s::more_hosts, s::more_hosts_short, s::more_count];

/// Columns `spans` take.
pub(super) fn width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.content.width()).sum()
}

/// A strip's parts: what leads it, and one item per host with the text put
/// after each item.
pub(super) struct Strip {
    pub lead: Vec<Span<'static>>,
    pub items: Vec<Vec<Span<'static>>>,
    pub gap: &'static str,
    /// The mark may say which key picks a host (else it only counts,
    /// leaving the room to hosts: another strip on screen says it).
    pub hint: bool,
}

impl Strip {
    /// Every item, with its gap.
    pub fn width(&self) -> usize {
        width(&self.lead)
            + self
                .items
                .iter()
                .map(|i| width(i) + self.gap.width())
                .sum::<usize>()
    }

    /// The strip in `room` columns: every item when they fit, else the
    /// items that fit whole and "+N more" naming how many are left out.
    pub fn fit(self, room: usize, more_style: Style) -> Vec<Span<'static>> {
        let Strip {
            lead,
            items,
            gap,
            hint,
        } = self;
        let total = items.len();
        let all = width(&lead) + items.iter().map(|i| width(i) + gap.width()).sum::<usize>();
        let mut out = lead;
        if all <= room {
            for item in items {
                out.extend(item);
                out.push(Span::raw(gap));
            }
            return out;
        }
        // The longest mark that fits, given room for its widest number
        // (every item left out).
        let lead_width = width(&out);
        let Some(mark) = MARKS
            .into_iter()
            .skip(usize::from(!hint))
            .find(|mark| lead_width + mark(total).width() <= room)
        else {
            return out;
        };
        let tail = mark(total).width();
        let mut used = lead_width;
        let mut shown = 0;
        for item in items {
            let w = width(&item) + gap.width();
            if used + w + tail > room {
                break;
            }
            used += w;
            out.extend(item);
            out.push(Span::raw(gap));
            shown += 1;
        }
        out.push(Span::styled(mark(total - shown), more_style));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(spans: &[Span]) -> String {
        spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn strip(n: usize) -> Strip {
        Strip {
            lead: vec![Span::raw("hosts ")],
            items: (1..=n).map(|i| vec![Span::raw(format!("h{i}"))]).collect(),
            gap: "  ",
            hint: true,
        }
    }

    #[test]
    fn everything_fits_without_a_mark() {
        let line = strip(3).fit(80, Style::default());
        assert_eq!(text(&line), "hosts h1  h2  h3  ");
    }

    #[test]
    fn a_narrow_strip_says_it_shorter() {
        let line = text(&strip(100).fit(20, Style::default()));
        assert_eq!(line, "hosts h1  +99 more");
        let line = text(&strip(100).fit(11, Style::default()));
        assert_eq!(line, "hosts +100");
        let quiet = Strip {
            hint: false,
            ..strip(100)
        };
        let line = text(&quiet.fit(40, Style::default()));
        assert!(line.ends_with(" more"), "{line}");
    }

    #[test]
    fn a_cut_strip_says_how_many_are_left_out() {
        let line = text(&strip(100).fit(40, Style::default()));
        assert!(line.starts_with("hosts h1  h2  h3  "), "{line}");
        let shown = line.matches('h').count() - 1;
        assert!(
            line.ends_with(&s::more_hosts(100 - shown)),
            "{line}: {shown} shown"
        );
        assert!(line.chars().count() <= 40, "{line}");
    }
}
