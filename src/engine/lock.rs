//! The run lock on each host: an atomic `mkdir` with an `owner` file that
//! names the run holding it, and how a lock left by a run that is gone is
//! told from one held by a run still going.

use std::path::Path;

use super::event::{Decision, Event, HostIx, Prompt, PromptKind};
use super::runner::Engine;
use crate::journal::{self, RunStatus};
use crate::remote::{Transport, TransportError};

pub struct Owner {
    pub run_id: String,
    pub user: String,
    pub machine: String,
    pub since: String,
    pub runbook: String,
    /// The drydock process holding it, on `machine`.
    pub pid: Option<u32>,
}

impl Owner {
    pub fn current(run_id: &str, runbook: &str) -> Self {
        Self {
            run_id: run_id.to_string(),
            user: whoami::username(),
            machine: gethostname::gethostname().to_string_lossy().into_owned(),
            since: crate::clock::now_rfc3339(),
            runbook: runbook.to_string(),
            pid: Some(std::process::id()),
        }
    }

    fn to_text(&self) -> String {
        let pid = self.pid.map(|p| format!("pid={p}\n")).unwrap_or_default();
        format!(
            "run_id={}\nuser={}\nmachine={}\nsince={}\nrunbook={}\n{pid}",
            self.run_id, self.user, self.machine, self.since, self.runbook
        )
    }

    fn parse(text: &str) -> Self {
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
                .unwrap_or("?")
                .to_string()
        };
        Self {
            run_id: field("run_id"),
            user: field("user"),
            machine: field("machine"),
            since: field("since"),
            runbook: field("runbook"),
            pid: field("pid").parse().ok(),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "run {} by {} on {} since {} ({})",
            self.run_id, self.user, self.machine, self.since, self.runbook
        )
    }
}

pub enum Acquired {
    Taken,
    /// Another run holds it: its owner, unless the lock has no owner file.
    Held(Option<Owner>),
}

/// Why a lock's holder is gone, when it is: its drydock process no longer
/// runs on this machine, or its journal says the run finished.
fn stale(holder: &Owner, journal_dir: &Path) -> Option<String> {
    let here = gethostname::gethostname().to_string_lossy().into_owned();
    if holder.machine == here
        && let Some(pid) = holder.pid.and_then(|p| i32::try_from(p).ok())
    {
        let gone = matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        );
        if gone {
            return Some(format!("its process {pid} on this machine is gone"));
        }
    }
    let path = journal_dir.join(format!("{}.jsonl", holder.run_id));
    let finished = journal::summarize(&path).ok().flatten()?.finished?;
    let how = match finished.0 {
        RunStatus::Ok => "ok",
        RunStatus::Failed => "failed",
        RunStatus::Aborted => "aborted",
    };
    Some(format!("its run finished ({how}) without removing it"))
}

fn owner_path(dir: &str) -> String {
    format!("{}/owner", dir.trim_end_matches('/'))
}

/// Take the lock at `dir`. A lock already held by this same run (a resumed
/// run, or two `local` hosts sharing a path) counts as taken.
pub async fn acquire(t: &dyn Transport, dir: &str, me: &Owner) -> Result<Acquired, TransportError> {
    if t.create_dir(dir).await? {
        t.write_atomic(&owner_path(dir), me.to_text().as_bytes())
            .await?;
        return Ok(Acquired::Taken);
    }
    let text = match t.read_file(&owner_path(dir)).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => return Ok(Acquired::Held(None)),
    };
    let holder = Owner::parse(&text);
    if holder.run_id == me.run_id {
        t.write_atomic(&owner_path(dir), me.to_text().as_bytes())
            .await?;
        return Ok(Acquired::Taken);
    }
    Ok(Acquired::Held(Some(holder)))
}

pub async fn release(t: &dyn Transport, dir: &str) -> Result<(), TransportError> {
    t.remove_file(&owner_path(dir)).await?;
    t.remove_dir(dir).await
}

/// How taking the locks went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Locking {
    Taken,
    /// Another run holds a lock (exit 4).
    Held,
    /// A lock could not be made for another reason (exit 5, as a host that
    /// cannot be used).
    Failed,
}

impl Engine {
    /// A host that cannot be used because its lock cannot be made.
    async fn lock_failed(&mut self, host: HostIx, path: &str, cause: String) -> Locking {
        tracing::info!(host = %self.plan().hosts[host].name, path = %path, cause = %cause, "lock cannot be taken");
        self.emit(Event::HostFailed {
            host,
            error: format!(
                "cannot take the lock {path} on {}: {cause}",
                self.plan().hosts[host].name
            ),
            cause: format!("cannot take the lock: {cause}"),
        })
        .await;
        self.release_locks().await;
        Locking::Failed
    }

    /// Take the lock on every host that takes part; on a failure every lock
    /// taken so far is released.
    pub(super) async fn take_locks(&mut self) -> Locking {
        let me = Owner::current(&self.run_id, &self.plan().name);
        for h in self.participants.clone() {
            let path = match self.ctx.render(&self.plan().lock, h) {
                Ok(p) => p,
                Err(e) => {
                    let template = self.plan().lock.source().to_string();
                    return self.lock_failed(h, &template, e.to_string()).await;
                }
            };
            let transport = match self.ctx.transport(h) {
                Ok(t) => t,
                Err(e) => return self.lock_failed(h, &path, e.to_string()).await,
            };
            loop {
                match acquire(transport.as_ref(), &path, &me).await {
                    Ok(Acquired::Taken) => {
                        tracing::debug!(host = %self.plan().hosts[h].name, path = %path, "lock taken");
                        self.locks.push((h, path.clone()));
                        self.emit(Event::LockTaken {
                            host: h,
                            path: path.clone(),
                        })
                        .await;
                        break;
                    }
                    Ok(Acquired::Held(owner)) => {
                        let holder = self.describe_holder(owner.as_ref(), &path).await;
                        tracing::debug!(host = %self.plan().hosts[h].name, path = %path, holder = %holder, "lock held");
                        self.emit(Event::LockHeld {
                            host: h,
                            path: path.clone(),
                            holder: holder.clone(),
                        })
                        .await;
                        if self.opts.offer_lock_break
                            && self.ask_lock_break(h, &path, holder).await
                            && release(transport.as_ref(), &path).await.is_ok()
                        {
                            tracing::debug!(host = %self.plan().hosts[h].name, path = %path, "lock broken");
                            continue;
                        }
                        self.release_locks().await;
                        return Locking::Held;
                    }
                    Err(e) => return self.lock_failed(h, &path, e.to_string()).await,
                }
            }
        }
        Locking::Taken
    }

    /// Who holds a lock, and whether it is stale; when the holder is this
    /// runbook's own unfinished run, the admin is told to resume it.
    async fn describe_holder(&self, owner: Option<&Owner>, path: &str) -> String {
        let Some(owner) = owner else {
            return format!(
                "an unknown run (the lock {path} has no owner file; remove the directory if no run is going on)"
            );
        };
        let Some(why) = stale(owner, &self.opts.journal_dir) else {
            return owner.describe();
        };
        let path_of_run = self
            .opts
            .journal_dir
            .join(format!("{}.jsonl", owner.run_id));
        let own_unfinished = journal::summarize(&path_of_run)
            .ok()
            .flatten()
            .is_some_and(|run| {
                run.finished.is_none() && run.runbook == super::runbook_key(&self.plan().path)
            });
        if own_unfinished {
            let text = format!(
                "the lock {path} is stale: it is this runbook's own unfinished run {}; continue it with `drydock run {} --resume`",
                owner.run_id,
                self.plan().path.display()
            );
            self.emit(Event::Notice { step: None, text }).await;
        }
        format!("{} (stale: {why})", owner.describe())
    }

    /// Ask whether to break the lock another run holds on `host`.
    async fn ask_lock_break(&mut self, host: usize, path: &str, holder: String) -> bool {
        let decision = self
            .ask(Prompt {
                step: 0,
                hosts: vec![host],
                commands: vec![(host, format!("break the lock {path} held by {holder}"))],
                kind: PromptKind::LockBreak {
                    host,
                    path: path.to_string(),
                    holder,
                },
                previews: Vec::new(),
                banner: Vec::new(),
                choices: vec![Decision::BreakLock { host }, Decision::Abort],
            })
            .await;
        decision == Decision::BreakLock { host }
    }

    pub(super) async fn release_locks(&mut self) {
        for (h, path) in std::mem::take(&mut self.locks) {
            let Ok(t) = self.ctx.transport(h) else {
                continue;
            };
            let name = self.plan().hosts[h].name.clone();
            match release(t.as_ref(), &path).await {
                Ok(()) => tracing::debug!(host = %name, path = %path, "lock released"),
                Err(e) => {
                    self.emit(Event::Notice {
                        step: None,
                        text: format!("could not release the lock {path} on {name}: {e}"),
                    })
                    .await;
                }
            }
        }
    }
}
