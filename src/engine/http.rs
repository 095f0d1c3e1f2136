//! The `http` step and guard: one GET over any byte stream, so the same code
//! checks a URL from this machine or through a host's SSH connection.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use crate::remote::BoxedIo;

/// How much of a response body is read to look for `contains`.
const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub path_and_query: String,
    pub authority: String,
}

pub fn parse_url(url: &str) -> Result<Target, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("'{url}' is not an http:// URL"));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("'{url}' has no host"))?
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
pub async fn get(io: BoxedIo, target: &Target, timeout: Duration) -> Result<Response, String> {
    let work = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP handshake failed: {e}"))?;
        let driver = tokio::spawn(conn);
        let request = Request::get(target.path_and_query.as_str())
            .header(hyper::header::HOST, target.authority.as_str())
            .header(hyper::header::USER_AGENT, concat!("drydock/", env!("CARGO_PKG_VERSION")))
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("bad request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading the response failed: {e}"))?;
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
        .map_err(|_| format!("no answer within {}", crate::runbook::duration::short(timeout)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = parse_url("http://127.0.0.1:8000/health?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path_and_query.as_str()), ("127.0.0.1", 8000, "/health?x=1"));
        let t = parse_url("http://example.org").unwrap();
        assert_eq!((t.port, t.path_and_query.as_str()), (80, "/"));
        assert!(parse_url("https://example.org/").is_err());
    }
}
