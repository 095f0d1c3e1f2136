//! What a step does on one host, in words. The engine's gates, step starts
//! and dry runs all say it this way.

use super::duration::short;
use super::plan::{Action, BannerSwitch, GuardCheck, Plan, RunVars, WaitFor};

impl Plan {
    /// The command of a `run` step (with its environment), the instructions
    /// of a `manual` one, or what the other actions do, with `host`'s values. A variable that has
    /// no value is shown as `<why>`.
    pub fn describe_action(&self, step: usize, host: usize, run: &RunVars) -> String {
        let render = |t, h| self.render(t, h, run).unwrap_or_else(|e| format!("<{e}>"));
        let command = |t| {
            self.command_line(step, host, t, run)
                .unwrap_or_else(|e| format!("<{e}>"))
        };
        match &self.steps[step].action {
            Action::Run(t) => command(t),
            Action::Manual(t) => render(t, host),
            Action::Guard(g) => match &g.check {
                GuardCheck::FileAbsent(p) => format!("wait until {} is absent", render(p, host)),
                GuardCheck::FilePresent(p) => {
                    format!("wait until {} is present", render(p, host))
                }
                GuardCheck::Command(c) => format!("wait until `{}` exits 0", command(c)),
                GuardCheck::Http(c) => format!(
                    "wait until {} answers HTTP {}",
                    render(&c.url, c.via_for(host).unwrap_or(host)),
                    c.status
                ),
            },
            Action::Banner(switch) => {
                let path = self
                    .banner
                    .as_ref()
                    .map(|b| render(&b.path, host))
                    .unwrap_or_default();
                match switch {
                    BannerSwitch::On => format!("write the maintenance banner to {path}"),
                    BannerSwitch::Off => format!("remove the maintenance banner {path}"),
                }
            }
            Action::Wait(WaitFor::Banner) => "wait until the banner's start time".to_string(),
            Action::Wait(WaitFor::For(d)) => format!("wait {}", short(*d)),
            Action::Http(c) => {
                let via = c
                    .via_for(host)
                    .map(|v| format!(" through {}", self.hosts[v].name))
                    .unwrap_or_default();
                format!(
                    "GET {}{via}",
                    render(&c.url, c.via_for(host).unwrap_or(host))
                )
            }
        }
    }
}
