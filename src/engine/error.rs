//! Why a step's action, check or preview could not be done on a host. The
//! engine acts on the kind (a guard that errors does not hold, a failed
//! request fails the step); front ends see the message.

use std::time::Duration;

use super::http::{HttpError, UrlError};
use crate::remote::TransportError;
use crate::runbook::duration::short;
use crate::runbook::template::RenderError;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("host {0} is not connected")]
    NotConnected(String),
    #[error(transparent)]
    Template(#[from] RenderError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A preview or condition that outlived its time limit.
    #[error("no answer within {}", short(*.0))]
    NoAnswer(Duration),
    #[error("the runbook has no [banner]")]
    NoBanner,
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The tunnel to the URL through a host's connection could not be opened.
    #[error("{url} via {via}: {source}")]
    Tunnel {
        url: String,
        via: String,
        source: TransportError,
    },
    #[error("{url}: no connection within {}", short(*limit))]
    ConnectTimeout { url: String, limit: Duration },
    #[error("{url}: {source}")]
    Connect { url: String, source: std::io::Error },
    #[error("{url}: {source}")]
    Http { url: String, source: HttpError },
    /// The server answered, with another status than the one expected.
    #[error("{url} answered HTTP {got}, expected {want}")]
    Status { url: String, got: u16, want: u16 },
    /// The server answered as expected, without the text looked for.
    #[error("{url} answered HTTP {status} without '{needle}'")]
    Missing {
        url: String,
        status: u16,
        needle: String,
    },
}
