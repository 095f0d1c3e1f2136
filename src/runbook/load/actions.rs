//! What a step does: exactly one action, each checked on its own terms.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::Loader;
use super::read::{Read, is_placeholder};
use super::vars::Scope;
use crate::runbook::duration;
use crate::runbook::plan::{Action, Guard, GuardCheck, HttpCheck, Plan, Via, WaitFor};
use crate::runbook::schema::{self, StepSection, Text};

const ACTIONS: &[&str] = &["run", "guard", "banner", "wait", "manual", "http"];
const GUARD_CHECKS: &[&str] = &["file_absent", "file_present", "command", "http"];
const DEFAULT_POLL: Duration = Duration::from_secs(10);
/// The least a guard's check may take by default, whatever its `poll`.
const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// An http check's fields, as written in a step's `http` table or in a guard.
struct HttpFields<'a> {
    url: &'a Text,
    status: Option<&'a Spanned<u16>>,
    contains: Option<&'a Text>,
    via: Option<&'a Text>,
}

impl<'s> Loader<'s> {
    /// The step's action; every action written is checked, so that a step
    /// with two reports what is wrong inside each as well.
    pub(super) fn action(
        &mut self,
        read: &Read<StepSection>,
        plan: &Plan,
        hosts: &[usize],
        banner_on_seen: bool,
    ) -> Option<Action> {
        let s = &read.value;
        let id = s.id.get_ref();
        let scope = Scope::Hosts(hosts);
        let mut written: Vec<(&str, Range<usize>, Option<Action>)> = Vec::new();
        if let Some(run) = &s.run {
            let action = Action::Run(self.checked_template(run, plan, scope));
            written.push(("run", run.span(), Some(action)));
        }
        if let Some(g) = &s.guard {
            let guard = self.guard(read, g, plan, hosts).map(Action::Guard);
            written.push(("guard", g.span(), guard));
        }
        if let Some(b) = &s.banner {
            if !self.banner_written {
                self.error(
                    b.span(),
                    "a banner step needs a [banner] section saying where and what to write",
                );
            }
            written.push(("banner", b.span(), Some(Action::Banner(*b.get_ref()))));
        }
        if let Some(w) = &s.wait {
            let wait = self.wait(w, banner_on_seen).map(Action::Wait);
            written.push(("wait", w.span(), wait));
        }
        if let Some(m) = &s.manual {
            let action = Action::Manual(self.checked_template(m, plan, scope));
            written.push(("manual", m.span(), Some(action)));
        }
        if let Some(spanned) = &s.http {
            let h = spanned.get_ref();
            let fields = HttpFields {
                url: &h.url,
                status: h.status.as_ref(),
                contains: h.contains.as_ref(),
                via: h.via.as_ref(),
            };
            let check = self.http(&fields, plan, hosts);
            written.push(("http", spanned.span(), Some(Action::Http(check))));
        }
        written.sort_by_key(|(_, span, _)| span.start);
        match written.len() {
            0 => {
                // An action whose value was refused is reported already.
                if !ACTIONS.iter().any(|a| read.refused(a)) {
                    self.error(
                        s.id.span(),
                        format!("step '{id}' has no action; give it one of run, guard, banner, wait, manual, http"),
                    );
                }
                None
            }
            1 => written.pop().and_then(|(_, _, action)| action),
            n => {
                let names: Vec<&str> = written.iter().map(|(name, _, _)| *name).collect();
                self.error(
                    written[1].1.clone(),
                    format!(
                        "step '{id}' has {n} actions ({}); a step does exactly one thing",
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn wait(&mut self, w: &Text, banner_on_seen: bool) -> Option<WaitFor> {
        if w.get_ref() == "banner" {
            if !self.banner_written {
                self.error(w.span(), "wait = \"banner\" needs a [banner] section");
            } else if !banner_on_seen {
                self.error(
                    w.span(),
                    "wait = \"banner\" must come after a step with banner = \"on\"",
                );
            }
            return Some(WaitFor::Banner);
        }
        match duration::parse(w.get_ref()) {
            Ok(d) => Some(WaitFor::For(d)),
            Err(msg) => {
                self.error(
                    w.span(),
                    format!("wait must be \"banner\" or a duration: {msg}"),
                );
                None
            }
        }
    }

    fn guard(
        &mut self,
        read: &Read<StepSection>,
        g: &Spanned<schema::GuardSection>,
        plan: &Plan,
        hosts: &[usize],
    ) -> Option<Guard> {
        let gs = g.get_ref();
        let scope = Scope::Hosts(hosts);
        let mut checks: Vec<(Range<usize>, GuardCheck)> = Vec::new();
        if let Some(t) = &gs.file_absent {
            let check = GuardCheck::FileAbsent(self.checked_template(t, plan, scope));
            checks.push((t.span(), check));
        }
        if let Some(t) = &gs.file_present {
            let check = GuardCheck::FilePresent(self.checked_template(t, plan, scope));
            checks.push((t.span(), check));
        }
        if let Some(t) = &gs.command {
            let check = GuardCheck::Command(self.checked_template(t, plan, scope));
            checks.push((t.span(), check));
        }
        if let Some(url) = &gs.http {
            let fields = HttpFields {
                url,
                status: gs.status.as_ref(),
                contains: gs.contains.as_ref(),
                via: gs.via.as_ref(),
            };
            checks.push((
                url.span(),
                GuardCheck::Http(self.http(&fields, plan, hosts)),
            ));
        } else {
            for (key, span) in [
                ("status", gs.status.as_ref().map(|s| s.span())),
                ("contains", gs.contains.as_ref().map(|s| s.span())),
                ("via", gs.via.as_ref().map(|s| s.span())),
            ] {
                if let Some(span) = span {
                    self.error(span, format!("'{key}' belongs to an http guard"));
                }
            }
        }
        let poll = gs
            .poll
            .as_ref()
            .and_then(|p| self.nonzero_duration(p, "poll"))
            .unwrap_or(DEFAULT_POLL);
        // A check may take longer than `poll` (a slow database, a slow page).
        let check_timeout = gs
            .check_timeout
            .as_ref()
            .and_then(|t| self.nonzero_duration(t, "check_timeout"))
            .unwrap_or_else(|| poll.max(DEFAULT_CHECK_TIMEOUT));
        let timeout = gs
            .timeout
            .as_ref()
            .and_then(|t| self.nonzero_duration(t, "timeout"));
        checks.sort_by_key(|(span, _)| span.start);
        let refused_check = GUARD_CHECKS
            .iter()
            .any(|c| read.refused(&format!("guard.{c}")));
        if checks.len() != 1 {
            if !(checks.is_empty() && refused_check) {
                let span = checks.get(1).map_or(g.span(), |(span, _)| span.clone());
                self.error(
                    span,
                    "a guard checks exactly one of file_absent, file_present, command, http",
                );
            }
            return None;
        }
        let (_, check) = checks.pop()?;
        Some(Guard {
            check,
            poll,
            check_timeout,
            timeout,
        })
    }

    fn http(&mut self, fields: &HttpFields<'_>, plan: &Plan, hosts: &[usize]) -> HttpCheck {
        let via = fields.via.and_then(|v| {
            if v.get_ref().trim() == "{{host}}" {
                Some(Via::Itself)
            } else {
                self.host_ref(v, &plan.hosts).map(Via::Host)
            }
        });
        let scope_hosts: Vec<usize> = match via {
            Some(Via::Host(v)) => vec![v],
            _ => hosts.to_vec(),
        };
        let url = fields.url;
        let url_template = self.checked_template(url, plan, Scope::Hosts(&scope_hosts));
        // A URL that starts with a variable is checked once rendered.
        let text = url.get_ref();
        if !text.starts_with("http://") && !text.starts_with("{{") && !is_placeholder(url) {
            self.error(url.span(), format!("'{text}' is not an http:// URL (https is not supported: check the server's own port)"));
        }
        if let Some(s) = fields.status
            && !(100..=599).contains(s.get_ref())
        {
            self.error(s.span(), format!("'{}' is not an HTTP status", s.get_ref()));
        }
        HttpCheck {
            url: url_template,
            status: fields.status.map_or(200, |s| *s.get_ref()),
            contains: fields
                .contains
                .map(|c| self.checked_template(c, plan, Scope::Hosts(&scope_hosts))),
            via,
        }
    }
}
