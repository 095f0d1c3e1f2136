//! Colour themes: TOML files that name a colour per semantic role. A user theme
//! overlays the default one, so it may name only the roles it changes.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

use super::state::CellStatus;

pub const DEFAULT: &str = "dark";

/// The themes built into the binary, so a bare install has them.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("{file}:{line}:{col}: {message}")]
    Invalid {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("no theme '{name}'; themes are: {known}")]
    Unknown { name: String, known: String },
    #[error("cannot read {file}: {reason}")]
    Read { file: String, reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    /// `NO_COLOR`: every role falls back to the terminal's own colours, and
    /// emphasis is carried by bold, reverse and underline alone.
    pub mono: bool,
    pub c: Colors,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Colors {
    pub text: Color,
    pub muted: Color,
    pub border: Color,
    pub border_focus: Color,
    pub title: Color,
    pub selection_fg: Color,
    pub selection_bg: Color,
    pub alert: Color,
    pub ok: Color,
    pub failed: Color,
    pub running: Color,
    pub waiting: Color,
    pub pending: Color,
    pub skipped: Color,
    pub stderr: Color,
    pub search_match_fg: Color,
    pub search_match_bg: Color,
    pub dry_run: Color,
    pub header_bg: Color,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    colors: ColorsFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColorsFile {
    text: Option<Spanned<String>>,
    muted: Option<Spanned<String>>,
    border: Option<Spanned<String>>,
    border_focus: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    selection_fg: Option<Spanned<String>>,
    selection_bg: Option<Spanned<String>>,
    alert: Option<Spanned<String>>,
    ok: Option<Spanned<String>>,
    failed: Option<Spanned<String>>,
    running: Option<Spanned<String>>,
    waiting: Option<Spanned<String>>,
    pending: Option<Spanned<String>>,
    skipped: Option<Spanned<String>>,
    stderr: Option<Spanned<String>>,
    search_match_fg: Option<Spanned<String>>,
    search_match_bg: Option<Spanned<String>>,
    dry_run: Option<Spanned<String>>,
    header_bg: Option<Spanned<String>>,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl Theme {
    /// The built-in default, which every theme file overlays.
    pub fn fallback() -> Self {
        let base = Colors {
            text: Color::Gray,
            muted: Color::DarkGray,
            border: Color::DarkGray,
            border_focus: Color::LightCyan,
            title: Color::White,
            selection_fg: Color::Black,
            selection_bg: Color::LightCyan,
            alert: Color::LightRed,
            ok: Color::LightGreen,
            failed: Color::LightRed,
            running: Color::LightYellow,
            waiting: Color::LightMagenta,
            pending: Color::DarkGray,
            skipped: Color::DarkGray,
            stderr: Color::Rgb(0xe0, 0xa0, 0x60),
            search_match_fg: Color::Black,
            search_match_bg: Color::Yellow,
            dry_run: Color::LightYellow,
            header_bg: Color::Rgb(0x1c, 0x1f, 0x26),
        };
        // The embedded dark theme is the real default; the literal above only
        // guards against it failing to parse in a broken build.
        let dark = EMBEDDED[0].1;
        Self::parse("dark", "<built-in dark>", dark, base.clone()).unwrap_or(Theme {
            name: "dark".into(),
            mono: false,
            c: base,
        })
    }

    /// Parse a theme file's text over `base`.
    pub fn parse(name: &str, file: &str, text: &str, base: Colors) -> Result<Theme, ThemeError> {
        let invalid = |offset: usize, message: String| {
            let (line, col) = line_col(text, offset);
            ThemeError::Invalid {
                file: file.to_string(),
                line,
                col,
                message,
            }
        };
        let parsed: ThemeFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            invalid(offset, e.message().trim().to_string())
        })?;
        let mut c = base;
        let f = parsed.colors;
        let slots: [(&mut Color, Option<Spanned<String>>); 19] = [
            (&mut c.text, f.text),
            (&mut c.muted, f.muted),
            (&mut c.border, f.border),
            (&mut c.border_focus, f.border_focus),
            (&mut c.title, f.title),
            (&mut c.selection_fg, f.selection_fg),
            (&mut c.selection_bg, f.selection_bg),
            (&mut c.alert, f.alert),
            (&mut c.ok, f.ok),
            (&mut c.failed, f.failed),
            (&mut c.running, f.running),
            (&mut c.waiting, f.waiting),
            (&mut c.pending, f.pending),
            (&mut c.skipped, f.skipped),
            (&mut c.stderr, f.stderr),
            (&mut c.search_match_fg, f.search_match_fg),
            (&mut c.search_match_bg, f.search_match_bg),
            (&mut c.dry_run, f.dry_run),
            (&mut c.header_bg, f.header_bg),
        ];
        for (slot, value) in slots {
            if let Some(v) = value {
                *slot = Color::from_str(v.get_ref()).map_err(|_| {
                    invalid(
                        v.span().start,
                        format!(
                            "'{}' is not a colour; use a name (red, lightblue, darkgray), \"#rrggbb\" or 0-255",
                            v.get_ref()
                        ),
                    )
                })?;
            }
        }
        Ok(Theme {
            name: name.to_string(),
            mono: false,
            c,
        })
    }

    pub fn no_color(mut self) -> Self {
        self.mono = true;
        self
    }

    fn fg(&self, color: Color) -> Style {
        if self.mono {
            Style::default()
        } else {
            Style::default().fg(color)
        }
    }

    pub fn text(&self) -> Style {
        self.fg(self.c.text)
    }
    pub fn muted(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::DIM)
        } else {
            self.fg(self.c.muted)
        }
    }
    pub fn border(&self, focused: bool) -> Style {
        match (self.mono, focused) {
            (true, true) => Style::default().add_modifier(Modifier::BOLD),
            (true, false) => Style::default(),
            (false, true) => self.fg(self.c.border_focus),
            (false, false) => self.fg(self.c.border),
        }
    }
    pub fn title(&self, focused: bool) -> Style {
        let s = if focused {
            self.fg(self.c.border_focus)
        } else {
            self.fg(self.c.title)
        };
        s.add_modifier(Modifier::BOLD)
    }
    pub fn selection(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
                .fg(self.c.selection_fg)
                .bg(self.c.selection_bg)
        }
    }
    pub fn alert(&self) -> Style {
        self.fg(self.c.alert).add_modifier(Modifier::BOLD)
    }
    pub fn danger(&self) -> Style {
        self.alert()
    }
    pub fn ok(&self) -> Style {
        self.fg(self.c.ok)
    }
    pub fn stderr(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::ITALIC)
        } else {
            self.fg(self.c.stderr)
        }
    }
    pub fn search_match(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::UNDERLINED)
        } else {
            Style::default()
                .fg(self.c.search_match_fg)
                .bg(self.c.search_match_bg)
        }
    }
    pub fn dry_run(&self) -> Style {
        self.fg(self.c.dry_run)
            .add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }
    pub fn header(&self) -> Style {
        if self.mono {
            Style::default()
        } else {
            Style::default().bg(self.c.header_bg).fg(self.c.title)
        }
    }
    pub fn key(&self) -> Style {
        self.fg(self.c.border_focus).add_modifier(Modifier::BOLD)
    }
    pub fn status(&self, status: CellStatus) -> Style {
        let color = match status {
            CellStatus::Pending => self.c.pending,
            CellStatus::Running => self.c.running,
            CellStatus::Waiting | CellStatus::NeedsConfirm => self.c.waiting,
            CellStatus::Ok => self.c.ok,
            CellStatus::Failed | CellStatus::Lost | CellStatus::Timeout => self.c.failed,
            CellStatus::Skipped | CellStatus::Unknown => self.c.skipped,
        };
        let s = self.fg(color);
        match status {
            CellStatus::Failed
            | CellStatus::Lost
            | CellStatus::Timeout
            | CellStatus::NeedsConfirm => s.add_modifier(Modifier::BOLD),
            _ => s,
        }
    }
}

/// Where user themes live: `<config dir>/drydock/themes/*.toml`.
pub fn user_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "drydock").map(|d| d.config_dir().join("themes"))
}

/// Every theme found: (name, where it comes from).
pub fn list() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = EMBEDDED
        .iter()
        .map(|(n, _)| (n.to_string(), "built in".to_string()))
        .collect();
    if let Some(dir) = user_dir()
        && let Ok(entries) = std::fs::read_dir(&dir)
    {
        let mut user: Vec<(String, String)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .filter_map(|p| {
                Some((
                    p.file_stem()?.to_string_lossy().into_owned(),
                    p.display().to_string(),
                ))
            })
            .collect();
        user.sort();
        for (name, path) in user {
            out.retain(|(n, _)| *n != name);
            out.push((name, path));
        }
    }
    out
}

/// Resolve a theme by name (user dir first, then built in) or by path, and
/// apply `NO_COLOR`.
pub fn resolve(name: Option<&str>, no_color: bool) -> Result<Theme, ThemeError> {
    let name = name.unwrap_or(DEFAULT);
    let base = Theme::fallback().c;
    let theme = if name.ends_with(".toml") || name.contains('/') {
        load_file(Path::new(name), base)?
    } else if let Some(path) = user_dir()
        .map(|d| d.join(format!("{name}.toml")))
        .filter(|p| p.is_file())
    {
        load_file(&path, base)?
    } else if let Some((_, text)) = EMBEDDED.iter().find(|(n, _)| *n == name) {
        Theme::parse(name, &format!("themes/{name}.toml"), text, base)?
    } else {
        let known: Vec<String> = list().into_iter().map(|(n, _)| n).collect();
        return Err(ThemeError::Unknown {
            name: name.to_string(),
            known: known.join(", "),
        });
    };
    Ok(if no_color { theme.no_color() } else { theme })
}

fn load_file(path: &Path, base: Colors) -> Result<Theme, ThemeError> {
    let text = std::fs::read_to_string(path).map_err(|e| ThemeError::Read {
        file: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let name = path
        .file_stem()
        .map_or_else(|| "custom".into(), |s| s.to_string_lossy().into_owned());
    Theme::parse(&name, &path.display().to_string(), &text, base)
}

/// Whether the environment asks for no colour (<https://no-color.org>).
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_themes_parse() {
        for (name, text) in EMBEDDED {
            let t = Theme::parse(name, name, text, Theme::fallback().c);
            assert!(t.is_ok(), "{name}: {t:?}");
        }
    }

    #[test]
    fn bad_colour_names_line_and_column() {
        let text = "[colors]\ntext = \"white\"\nalert = \"blurple\"\n";
        let e = Theme::parse("x", "x.toml", text, Theme::fallback().c)
            .err()
            .map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(
            e.starts_with("x.toml:3:9: 'blurple' is not a colour"),
            "{e}"
        );
    }

    #[test]
    fn unknown_role_is_an_error_with_position() {
        let text = "[colors]\nbackground = \"red\"\n";
        let e = Theme::parse("x", "x.toml", text, Theme::fallback().c)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("x.toml:2:1:"), "{e}");
    }

    #[test]
    fn user_theme_overlays_defaults() {
        let t = Theme::parse("x", "x", "[colors]\nok = \"blue\"\n", Theme::fallback().c);
        let t = t.ok().map(|t| t.c);
        assert_eq!(t.as_ref().map(|c| c.ok), Some(Color::Blue));
        assert_eq!(t.map(|c| c.failed), Some(Theme::fallback().c.failed));
    }
}
