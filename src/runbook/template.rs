//! `{{name}}` templates. Parsed once at load time so that an unknown variable
//! is reported with its exact position, and rendered per host at run time.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var { name: String, span: Range<usize> },
}

/// A parsed template; `span` is where it stands in the runbook source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// A variable a template refers to, with its position in the runbook source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef<'a> {
    pub name: &'a str,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub span: Range<usize>,
    pub message: String,
}

/// A template's variable could not be resolved at render time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable '{name}' has no value here{}", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
pub struct RenderError {
    pub name: String,
    pub reason: Option<String>,
}

impl Template {
    /// Parse `text`. `raw` is the text as written in the runbook (with quotes
    /// and escapes) and `raw_start` its byte offset, used to place variables.
    pub fn parse(text: &str, raw: &str, raw_start: usize) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut search_from = 0usize; // position in `raw` to look for the next `{{`
        let locate = |needle: &str, from: usize| -> usize {
            raw.get(from..)
                .and_then(|r| r.find(needle))
                .map_or(raw_start, |i| raw_start + from + i)
        };
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                let at = locate("{{", search_from);
                return Err(TemplateError {
                    span: at..at + 2,
                    message: "'{{' is not closed by '}}'".into(),
                });
            };
            let inner = &after[..close];
            let name = inner.trim();
            let at = locate("{{", search_from);
            let whole = format!("{{{{{inner}}}}}");
            let span_end = at + whole.len();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(TemplateError {
                    span: at..span_end,
                    message: format!(
                        "'{whole}' is not a variable; names are letters, digits and '_'"
                    ),
                });
            }
            parts.push(Part::Var {
                name: name.to_string(),
                span: at..span_end,
            });
            search_from = (at - raw_start) + 2;
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Self {
            source: text.to_string(),
            parts,
        })
    }

    /// A template with no variables, for text that did not come from a runbook.
    pub fn literal(text: &str) -> Self {
        Self {
            source: text.to_string(),
            parts: vec![Part::Literal(text.to_string())],
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn vars(&self) -> impl Iterator<Item = VarRef<'_>> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, span } => Some(VarRef {
                name,
                span: span.clone(),
            }),
            Part::Literal(_) => None,
        })
    }

    pub fn render(
        &self,
        lookup: &dyn Fn(&str) -> Result<String, RenderError>,
    ) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var { name, .. } => out.push_str(&lookup(name)?),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Result<String, RenderError> {
        match name {
            "site" => Ok("/srv/site".into()),
            _ => Err(RenderError {
                name: name.into(),
                reason: None,
            }),
        }
    }

    #[test]
    fn renders_variables_and_literals() {
        let src = r#"run = "cd {{site}} && ls {{ site }}/x""#;
        let raw = &src[6..];
        let t =
            Template::parse("cd {{site}} && ls {{ site }}/x", raw, 6).expect("the template parses");
        assert_eq!(
            t.render(&lookup).expect("every variable is known"),
            "cd /srv/site && ls /srv/site/x"
        );
        let spans: Vec<_> = t.vars().map(|v| v.span).collect();
        assert_eq!(&src[spans[0].clone()], "{{site}}");
        assert_eq!(&src[spans[1].clone()], "{{ site }}");
    }

    #[test]
    fn unclosed_and_bad_names_are_errors() {
        assert!(Template::parse("a {{site", "\"a {{site\"", 0).is_err());
        assert!(Template::parse("a {{si te}}", "\"a {{si te}}\"", 0).is_err());
    }

    #[test]
    fn unknown_variable_fails_to_render() {
        let t = Template::parse("{{nope}}", "\"{{nope}}\"", 0).expect("the template parses");
        assert_eq!(
            t.render(&lookup).expect_err("the variable is unknown").name,
            "nope"
        );
    }
}
