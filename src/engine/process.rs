//! The remote process group of a command, looked at and ended through the
//! host's own transport: `kill` run on the host, so one way for every
//! transport.

use tokio_util::sync::CancellationToken;

use super::ctx::Ctx;
use super::event::HostIx;
use crate::remote::ssh::wrap::kill_groups;

impl Ctx {
    /// Whether process group `pgid` still has a process on `host`. A check
    /// that cannot be made counts as alive: a step must never run twice at
    /// once on one host.
    pub(super) async fn process_alive(&self, host: HostIx, pgid: u32) -> bool {
        // An ended process nobody has reaped yet (a zombie) answers `kill -0`:
        // `ps` tells it apart where it can; `kill -0` is the fallback.
        let command = format!(
            "if ps -e -o pgid= -o stat= >/dev/null 2>&1; then \
             ps -e -o pgid= -o stat= | awk -v g={pgid} '$1 == g && $2 !~ /^Z/ {{ a = 1 }} END {{ exit !a }}'; \
             else kill -0 -{pgid} 2>/dev/null; fi"
        );
        match self
            .collect(host, &command, &CancellationToken::new())
            .await
        {
            Ok((status, _)) => status.success(),
            Err(e) => {
                tracing::warn!(host = %self.plan.hosts[host].name, pgid, error = %e, "cannot look at a process group");
                true
            }
        }
    }

    /// End process group `pgid` on `host`: TERM, a grace, then KILL.
    pub(super) async fn end_process(&self, host: HostIx, pgid: u32) {
        let result = self
            .collect(host, &kill_groups(&[pgid]), &CancellationToken::new())
            .await;
        tracing::info!(host = %self.plan.hosts[host].name, pgid, ok = result.is_ok(), "process group ended");
    }
}
