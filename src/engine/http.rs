//! The `http` step and guard: one GET over any byte stream, so the same code
//! checks a URL from this machine or through a host's SSH connection.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use super::ctx::{Ctx, HostResult};
use super::error::StepError;
use super::event::{HostIx, Phase, StepIx};
use crate::journal::Outcome;
use crate::remote::{BoxedIo, Stream};
use crate::runbook::HttpCheck;
use crate::runbook::duration::short;

/// How much of a response body is read to look for `contains`.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Time limit of a request, and of an `http` step that sets none.
pub(super) const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between two tries of an `http` step.
const HTTP_RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub path_and_query: String,
    pub authority: String,
}

/// A URL the `http` step or guard cannot request.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("'{url}' is not a URL: {source}")]
    Invalid {
        url: String,
        source: hyper::http::uri::InvalidUri,
    },
    #[error("'{0}' is not an http:// URL")]
    NotHttp(String),
    #[error("'{0}' has no host")]
    NoHost(String),
}

/// A request that did not get a whole answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("HTTP handshake failed: {0}")]
    Handshake(#[source] hyper::Error),
    #[error("bad request: {0}")]
    Request(#[source] hyper::http::Error),
    #[error("request failed: {0}")]
    Send(#[source] hyper::Error),
    #[error("reading the response failed: {0}")]
    Read(#[source] hyper::Error),
    #[error("no answer within {}", short(*.0))]
    Timeout(Duration),
}

pub fn parse_url(url: &str) -> Result<Target, UrlError> {
    let uri: hyper::Uri = url.parse().map_err(|source| UrlError::Invalid {
        url: url.to_string(),
        source,
    })?;
    if uri.scheme_str() != Some("http") {
        return Err(UrlError::NotHttp(url.to_string()));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| UrlError::NoHost(url.to_string()))?
        .clone();
    Ok(Target {
        host: authority.host().trim_matches(['[', ']']).to_string(),
        port: authority.port_u16().unwrap_or(80),
        path_and_query: uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        authority: authority.as_str().to_string(),
    })
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// GET `target` over `io`.
pub async fn get(io: BoxedIo, target: &Target, timeout: Duration) -> Result<Response, HttpError> {
    let work = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(HttpError::Handshake)?;
        let driver = tokio::spawn(conn);
        let request = Request::get(target.path_and_query.as_str())
            .header(hyper::header::HOST, target.authority.as_str())
            .header(
                hyper::header::USER_AGENT,
                concat!("drydock/", env!("CARGO_PKG_VERSION")),
            )
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(HttpError::Request)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(HttpError::Send)?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(HttpError::Read)?;
            if let Some(data) = frame.data_ref() {
                bytes.extend_from_slice(data);
                if bytes.len() >= MAX_BODY {
                    break;
                }
            }
        }
        driver.abort();
        Ok(Response {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout(timeout))?
}

impl Ctx {
    /// Request the check's URL from this machine, or through a host's
    /// connection with `via`; `Ok` says what answered.
    pub(super) async fn http_check(
        &self,
        host: HostIx,
        check: &HttpCheck,
    ) -> Result<String, StepError> {
        let url_host = check.via_for(host).unwrap_or(host);
        let url = self.render(&check.url, url_host)?;
        let target = parse_url(&url)?;
        let io: BoxedIo = match check.via_for(host) {
            Some(via) => self
                .transport(via)?
                .open_tcp(&target.host, target.port)
                .await
                .map_err(|source| StepError::Tunnel {
                    url: url.clone(),
                    via: self.plan.hosts[via].name.clone(),
                    source,
                })?,
            None => {
                let connect = tokio::net::TcpStream::connect((target.host.as_str(), target.port));
                let stream = tokio::time::timeout(HTTP_TIMEOUT, connect)
                    .await
                    .map_err(|_| StepError::ConnectTimeout {
                        url: url.clone(),
                        limit: HTTP_TIMEOUT,
                    })?
                    .map_err(|source| StepError::Connect {
                        url: url.clone(),
                        source,
                    })?;
                Box::new(stream)
            }
        };
        let response = get(io, &target, HTTP_TIMEOUT)
            .await
            .map_err(|source| StepError::Http {
                url: url.clone(),
                source,
            })?;
        if response.status != check.status {
            return Err(StepError::Status {
                url,
                got: response.status,
                want: check.status,
            });
        }
        let Some(contains) = &check.contains else {
            return Ok(format!("{url} answered HTTP {}", response.status));
        };
        let needle = self.render(contains, url_host)?;
        if !response.body.contains(&needle) {
            return Err(StepError::Missing {
                url,
                status: response.status,
                needle,
            });
        }
        Ok(format!(
            "{url} answered HTTP {} containing '{needle}'",
            response.status
        ))
    }

    /// The `http` step on one host: one request, its answer as the step's output.
    async fn http_once(&self, step: StepIx, host: HostIx, check: &HttpCheck) -> HostResult {
        let started = Instant::now();
        self.start_step(step, host, self.describe(step, host), Phase::Main, 1)
            .await;
        let timeout = self.plan.steps[step].timeout.unwrap_or(HTTP_TIMEOUT);
        let result = match tokio::time::timeout(timeout, self.http_check(host, check)).await {
            Ok(result) => result,
            Err(_) => Err(StepError::Http {
                url: self
                    .render(&check.url, check.via_for(host).unwrap_or(host))
                    .unwrap_or_default(),
                source: HttpError::Timeout(timeout),
            }),
        };
        let (res, stream, line) = match result {
            Ok(detail) => (HostResult::new(host, Outcome::Ok), Stream::Stdout, detail),
            Err(e) => {
                let detail = e.to_string();
                let res = HostResult::new(host, Outcome::Failed).with_message(detail.clone());
                (res, Stream::Stderr, detail)
            }
        };
        self.emitter
            .emit_output(step, host, Phase::Main, vec![(stream, line)].into())
            .await;
        self.finish_step(step, host, Phase::Main, &res, started)
            .await;
        res
    }

    /// The `http` step, tried again while `retries` allow: a server that was
    /// just started may need a moment.
    pub(super) async fn http_step(
        &self,
        step: StepIx,
        host: HostIx,
        check: &HttpCheck,
        cancel: &CancellationToken,
    ) -> HostResult {
        let retries = self.plan.steps[step].retries;
        let mut attempt = 0;
        loop {
            let result = self.http_once(step, host, check).await;
            if result.outcome == Outcome::Ok || attempt >= retries || cancel.is_cancelled() {
                return result;
            }
            attempt += 1;
            tokio::select! {
                () = tokio::time::sleep(HTTP_RETRY) => {}
                () = cancel.cancelled() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = parse_url("http://127.0.0.1:8000/health?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path_and_query.as_str()),
            ("127.0.0.1", 8000, "/health?x=1")
        );
        let t = parse_url("http://example.org").unwrap();
        assert_eq!((t.port, t.path_and_query.as_str()), (80, "/"));
        assert!(parse_url("https://example.org/").is_err());
    }
}
