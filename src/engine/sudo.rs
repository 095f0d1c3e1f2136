//! sudo's passwords: asked of the admin (through the front end's prompter)
//! when sudo asks on a host, kept in memory for the run, one host's or every
//! host's, and forgotten where sudo refuses them. What a command's sudo
//! exchange came to is kept in [`SudoExchange`].

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::ctx::Ctx;
use super::event::HostIx;
use crate::remote::SudoQuestion;

/// Passwords sent to one command before drydock stops answering.
pub(super) const SUDO_TRIES: u32 = 3;

/// The sudo passwords given in this run. Never written anywhere.
#[derive(Default)]
pub(super) struct SudoPasswords {
    by_host: Mutex<HashMap<HostIx, String>>,
    /// Given "for every host of this run".
    every_host: Mutex<Option<String>>,
    /// Hosts where sudo refused the every-host password.
    not_every: Mutex<HashSet<HostIx>>,
    /// One question at a time: hosts that ask together wait for the first
    /// answer, which may be for every host.
    asking: tokio::sync::Mutex<()>,
}

impl SudoPasswords {
    fn known(&self, host: HostIx) -> Option<String> {
        let own = self.by_host.lock().ok().and_then(|p| p.get(&host).cloned());
        own.or_else(|| {
            let refused = self.not_every.lock().map_or(true, |n| n.contains(&host));
            if refused {
                return None;
            }
            self.every_host.lock().ok().and_then(|p| p.clone())
        })
    }

    /// sudo refused the password it was given on `host`.
    pub(super) fn refused(&self, host: HostIx) {
        if let Ok(mut p) = self.by_host.lock() {
            p.remove(&host);
        }
        if let Ok(mut n) = self.not_every.lock() {
            n.insert(host);
        }
    }

    fn remember(&self, host: HostIx, password: &str, every_host: bool) {
        if let Ok(mut p) = self.by_host.lock() {
            p.insert(host, password.to_string());
        }
        if every_host && let Ok(mut p) = self.every_host.lock() {
            *p = Some(password.to_string());
        }
    }
}

/// What came of sudo's questions to one command.
#[derive(Debug, Default)]
pub(super) struct SudoExchange {
    /// Times sudo asked.
    pub prompts: u32,
    /// Passwords sent so far.
    pub answers: u32,
    /// sudo let the command run.
    pub authenticated: bool,
    /// Why drydock stopped answering, when it did.
    pub gave_up: Option<String>,
    /// sudo's last word before the command ran (`sudo: ...`).
    pub said: Option<String>,
}

impl SudoExchange {
    /// A line the command printed before sudo let it run: sudo's, then.
    pub fn note(&mut self, line: &str) {
        if !self.authenticated && line.starts_with("sudo:") {
            self.said = Some(line.to_string());
        }
    }

    /// Why sudo did not run the command, when it did not.
    pub fn failure(&self) -> Option<String> {
        if self.authenticated {
            return None;
        }
        self.gave_up
            .clone()
            .or_else(|| self.said.clone())
            .or_else(|| Some("sudo did not run the command".to_string()))
    }
}

impl Ctx {
    /// The password to answer sudo with on `host`: the one given earlier in
    /// the run (unless sudo just refused it), else the admin's answer.
    /// `Err` says why there is none; a cancelled command asks nothing more.
    pub(super) async fn sudo_password(
        &self,
        host: HostIx,
        user: &str,
        attempt: u32,
        cancel: &CancellationToken,
    ) -> Result<String, String> {
        let turn = tokio::select! {
            turn = self.sudo.asking.lock() => turn,
            () = cancel.cancelled() => return Err("cancelled".into()),
        };
        if let Some(known) = self.sudo.known(host) {
            return Ok(known);
        }
        let h = &self.plan.hosts[host];
        let question = SudoQuestion {
            host: h.name.clone(),
            address: h.address.clone(),
            user: user.to_string(),
            attempt,
        };
        tracing::debug!(host = %h.name, attempt, "asking for the sudo password");
        let answer = tokio::select! {
            answer = self.prompter.sudo_password(question) => answer,
            () = cancel.cancelled() => return Err("cancelled".into()),
        };
        drop(turn);
        let answer = answer?;
        // Before anything could show it.
        self.emitter.redact_also(&answer.password);
        self.sudo
            .remember(host, &answer.password, answer.every_host);
        Ok(answer.password)
    }
}
