//! Styled text from a line of remote output: its SGR colour sequences turned
//! into ratatui styles, and the spans of a search or highlight marked.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

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
    fn sgr_colours_become_styles() {
        let line = sgr_line("a\x1b[31mred\x1b[0m b", Style::default(), true);
        assert_eq!(line.spans.len(), 3);
        assert_eq!(line.spans[1].style.fg, Some(Color::Red));
        let plain = sgr_line("a\x1b[31mred\x1b[0m b", Style::default(), false);
        assert!(plain.spans.iter().all(|s| s.style.fg.is_none()));
    }
}
