//! While the run lasts, each host's connection is watched: a loss, a new
//! connection after it, and what the transport had to do without (a host
//! without SFTP) reach the front end and the journal as they happen.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::emitter::Emitter;
use super::event::{Event, HostIx};
use super::runner::Engine;
use crate::remote::ConnectionChange;

/// Pass the changes of `host`'s connection on as events until `stop`.
async fn forward(
    host: HostIx,
    name: String,
    mut changes: mpsc::UnboundedReceiver<ConnectionChange>,
    emitter: Arc<Emitter>,
    stop: CancellationToken,
) {
    loop {
        let change = tokio::select! {
            // What happened before the stop is told first.
            biased;
            c = changes.recv() => c,
            () = stop.cancelled() => None,
        };
        let Some(change) = change else { return };
        tracing::info!(host = %name, ?change, "connection changed");
        let event = match change {
            ConnectionChange::Lost(reason) => Event::HostLost { host, reason },
            ConnectionChange::Reconnected => Event::HostReconnected { host },
            ConnectionChange::ReconnectFailed(cause) => Event::HostFailed {
                host,
                error: format!("cannot connect to {name} again: {cause}"),
                cause,
            },
            ConnectionChange::FallingBack(text) => Event::Notice {
                step: None,
                text: format!("{name}: {text}"),
            },
        };
        emitter.emit(event).await;
    }
}

impl Engine {
    /// Watch every connected host's connection until the run finishes.
    pub(super) fn watch_connections(&self) {
        for (host, transport) in self.ctx.transports.iter().enumerate() {
            let Some(transport) = transport else { continue };
            let (tx, rx) = mpsc::unbounded_channel();
            transport.watch(tx);
            let name = self.plan().hosts[host].name.clone();
            let emitter = self.ctx.emitter.clone();
            tokio::spawn(forward(host, name, rx, emitter, self.tails.clone()));
        }
    }
}
