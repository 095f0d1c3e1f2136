//! Connections to jump hosts, one per hop, shared by every host behind it.
//!
//! A hop is an SSH session like a host's, on its own thread, that runs no
//! commands: it only opens `direct-tcpip` channels, each relayed to one end
//! of a socket pair whose other end the next session (a further hop, or the
//! host) uses as its connection. Each session over a hop holds it (an
//! `Arc`), so the hop's connection lasts as long as something goes through
//! it, and closes after the last.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use tokio::sync::oneshot;

use super::route::{Route, Target};
use super::session::{Handle, Request, link::LinkPlan};
use crate::remote::{ConnectError, Prompter};

/// A live connection to a jump host.
pub struct Hop {
    handle: Handle,
    /// `user@host:port` of the hop, for messages.
    pub login: String,
}

impl Hop {
    /// A connection from the hop to `host:port`, as our end of a socket
    /// pair: what is written to it reaches the server through the hop.
    pub async fn tunnel(&self, host: &str, port: u16) -> Result<UnixStream, String> {
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| format!("cannot create a socket pair: {e}"))?;
        theirs
            .set_nonblocking(true)
            .map_err(|e| format!("socket pair: {e}"))?;
        let (reply, rx) = oneshot::channel();
        let sent = self.handle.send(Request::Tunnel {
            host: host.to_string(),
            port,
            socket: theirs,
            reply,
        });
        let gone = || format!("the connection to {} ended", self.login);
        if !sent {
            return Err(gone());
        }
        match rx.await {
            Ok(Ok(())) => Ok(ours),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(gone()),
        }
    }
}

/// One hop's place in the registry: connecting it is done by one host at a
/// time, and those that waited meanwhile share the outcome.
#[derive(Default)]
struct Slot {
    state: tokio::sync::Mutex<SlotState>,
    /// Attempts finished so far.
    attempts: AtomicU64,
}

#[derive(Default)]
enum SlotState {
    #[default]
    Empty,
    Live(Weak<Hop>),
    /// The attempt numbered `attempt` failed so.
    Failed {
        error: ConnectError,
        attempt: u64,
    },
}

static REGISTRY: LazyLock<Mutex<HashMap<String, Arc<Slot>>>> = LazyLock::new(Mutex::default);

/// The connection to the hop at the end of `route`, connecting it (and the
/// hops before it) unless a live one is shared already. Its host-key and
/// passphrase questions go to `prompter`.
pub async fn connect(
    route: &Route,
    prompter: &Arc<dyn Prompter>,
) -> Result<Arc<Hop>, ConnectError> {
    let key = route.key();
    let slot = match REGISTRY.lock() {
        Ok(mut registry) => registry.entry(key).or_default().clone(),
        // A poisoned registry only costs the sharing.
        Err(_) => Arc::new(Slot::default()),
    };
    let seen = slot.attempts.load(Ordering::SeqCst);
    let mut state = slot.state.lock().await;
    match &*state {
        SlotState::Live(hop) => {
            if let Some(hop) = hop.upgrade().filter(|h| !h.handle.has_ended()) {
                tracing::debug!(hop = %hop.login, "sharing the connection to the jump host");
                return Ok(hop);
            }
        }
        // It failed while we waited for it: the same answer, not a second try.
        SlotState::Failed { error, attempt } if *attempt > seen => return Err(error.clone()),
        _ => {}
    }
    let outcome = Box::pin(open(route, prompter)).await;
    let attempt = slot.attempts.fetch_add(1, Ordering::SeqCst) + 1;
    *state = match &outcome {
        Ok(hop) => SlotState::Live(Arc::downgrade(hop)),
        Err(error) => SlotState::Failed {
            error: error.clone(),
            attempt,
        },
    };
    outcome
}

async fn open(route: &Route, prompter: &Arc<dyn Prompter>) -> Result<Arc<Hop>, ConnectError> {
    let target = route.target.clone();
    tracing::info!(hop = %target.login(), way = %route.way(), "connecting to a jump host");
    let link = link_for(route, prompter).await?;
    let handle = super::start(target.clone(), link, prompter.as_ref()).await?;
    tracing::info!(hop = %target.login(), "connected to the jump host");
    Ok(Arc::new(Hop {
        handle,
        login: target.login(),
    }))
}

/// How to reach `route`'s target: straight, by its ProxyCommand, or through
/// its jump host (connected first, or shared). A failure on the way is
/// named after the hop that failed.
pub async fn link_for(
    route: &Route,
    prompter: &Arc<dyn Prompter>,
) -> Result<LinkPlan, ConnectError> {
    use super::route::Via;
    let target: &Target = &route.target;
    let hop_route = match &route.via {
        Via::Direct => return Ok(LinkPlan::Direct),
        Via::Command(command) => return Ok(LinkPlan::Command(command.clone())),
        Via::Hop(hop) => hop.as_ref(),
    };
    let hop = connect(hop_route, prompter).await.map_err(|e| match e {
        // Failed further out: name the hop that failed, not this one.
        ConnectError::Hop { hop, source, .. } => ConnectError::Hop {
            host: target.name.clone(),
            hop,
            source,
        },
        other => ConnectError::Hop {
            host: target.name.clone(),
            hop: hop_route.target.login(),
            source: Box::new(other),
        },
    })?;
    let socket = hop
        .tunnel(&target.hostname, target.port)
        .await
        .map_err(|reason| ConnectError::Unreachable {
            host: target.name.clone(),
            address: format!(
                "{} via {}{}",
                target.login(),
                hop.login,
                target.provenance()
            ),
            reason: format!("the jump host could not connect to it: {reason}"),
        })?;
    tracing::debug!(host = %target.name, hop = %hop.login, "tunnel through the jump host open");
    Ok(LinkPlan::Tunnel { socket, keep: hop })
}
