//! [`Client`]: address, API version negotiation and the generic request
//! helpers the typed endpoints are built on.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ClientError, Result};
use crate::jsonstream::{message_error, JsonStreamDecoder};
use crate::transport::{
    build_request, check_status, connect, empty_body, full_body, read_body, RawStream, ReqBody,
};
use berth_spec::api::StreamMessage;

/// What `/_ping` tells about the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ping {
    /// `Api-Version` header.
    pub api_version: Option<String>,
    /// `Ostype` header.
    pub os_type: Option<String>,
}

/// A client of one daemon's Engine API.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    version: String,
}

impl Client {
    /// A client for `host` (`unix:///path` or `/path`), speaking API 1.41
    /// until [`Client::negotiate`] lowers it.
    pub fn new(host: &str) -> Result<Self> {
        Ok(Client {
            socket: crate::transport::parse_host(host)?,
            version: berth_spec::API_VERSION.to_string(),
        })
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The API version used in request paths.
    pub fn api_version(&self) -> &str {
        &self.version
    }

    /// `GET /_ping`.
    pub async fn ping(&self) -> Result<Ping> {
        let resp = self.raw(Method::GET, "/_ping", empty_body(), &[]).await?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let ping = Ping {
            api_version: header("api-version"),
            os_type: header("ostype"),
        };
        let resp = check_status(resp).await?;
        drop(read_body(resp).await);
        Ok(ping)
    }

    /// Ping the daemon and use min(1.41, the daemon's version).
    pub async fn negotiate(&mut self) -> Result<Ping> {
        let ping = self.ping().await?;
        if let Some(server) = &ping.api_version {
            if version_less(server, &self.version) {
                self.version = server.clone();
            }
        }
        Ok(ping)
    }

    /// Send a request to an unversioned path and return the response
    /// whatever its status.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        headers: &[(&str, &str)],
    ) -> Result<Response<Incoming>> {
        let mut sender = connect(&self.socket).await?;
        let req = build_request(method, path, body, headers)?;
        Ok(sender.send_request(req).await?)
    }

    /// Send a request to a versioned API path (`/containers/json?...`);
    /// error statuses become [`ClientError::Daemon`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        headers: &[(&str, &str)],
    ) -> Result<Response<Incoming>> {
        let uri = format!("/v{}{}", self.version, path);
        let resp = self.raw(method, &uri, body, headers).await?;
        check_status(resp).await
    }

    /// GET and decode JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.request(Method::GET, path, empty_body(), &[]).await?;
        let body = read_body(resp).await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// POST a JSON body and decode the JSON answer.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let data = serde_json::to_vec(body)?;
        let resp = self
            .request(
                Method::POST,
                path,
                full_body(data),
                &[("Content-Type", "application/json")],
            )
            .await?;
        let body = read_body(resp).await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// Send a request without body and return its status and body bytes.
    pub async fn call(&self, method: Method, path: &str) -> Result<(StatusCode, Bytes)> {
        let resp = self.request(method, path, empty_body(), &[]).await?;
        let status = resp.status();
        Ok((status, read_body(resp).await?))
    }

    /// A streamed response body.
    pub async fn stream(&self, method: Method, path: &str) -> Result<RawStream> {
        let resp = self.request(method, path, empty_body(), &[]).await?;
        Ok(RawStream::Body(resp.into_body()))
    }

    /// Send a request asking for a connection upgrade (`Upgrade: tcp`)
    /// and return the hijacked connection (or the body when the daemon
    /// answers 200 instead of 101).
    pub async fn hijack(&self, path: &str) -> Result<RawStream> {
        self.hijack_with(path, empty_body(), &[]).await
    }

    /// [`Client::hijack`] with a request body and extra headers (e.g. the
    /// JSON body of `POST /exec/{id}/start` and its `Content-Type`).
    pub async fn hijack_with(
        &self,
        path: &str,
        body: ReqBody,
        headers: &[(&str, &str)],
    ) -> Result<RawStream> {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("Connection", "Upgrade"));
        all.push(("Upgrade", "tcp"));
        let resp = self.request(Method::POST, path, body, &all).await?;
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            let upgraded = hyper::upgrade::on(resp).await?;
            Ok(RawStream::Upgraded(Box::new(hyper_util::rt::TokioIo::new(
                upgraded,
            ))))
        } else {
            Ok(RawStream::Body(resp.into_body()))
        }
    }

    /// Send a body (streamed or not) and return a JSON-message stream.
    pub async fn json_stream(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        content_type: &str,
    ) -> Result<JsonStream> {
        let resp = self
            .request(method, path, body, &[("Content-Type", content_type)])
            .await?;
        Ok(JsonStream {
            body: RawStream::Body(resp.into_body()),
            decoder: JsonStreamDecoder::new(),
            done: false,
        })
    }
}

/// A JSON-message stream (import, load, pull progress).
pub struct JsonStream {
    body: RawStream,
    decoder: JsonStreamDecoder,
    done: bool,
}

impl JsonStream {
    /// The next message; a message carrying an error ends the stream with
    /// [`ClientError::Stream`].
    pub async fn next(&mut self) -> Result<Option<StreamMessage>> {
        loop {
            if let Some(msg) = self.decoder.next_message()? {
                if let Some(err) = message_error(&msg) {
                    return Err(ClientError::Stream(err));
                }
                return Ok(Some(msg));
            }
            if self.done {
                if self.decoder.has_pending() {
                    return Err(ClientError::Protocol(
                        "truncated JSON message at end of stream".into(),
                    ));
                }
                return Ok(None);
            }
            match self.body.next_chunk().await? {
                Some(chunk) => self.decoder.push(&chunk),
                None => self.done = true,
            }
        }
    }

    /// The same stream as raw [`JsonMessage`](crate::JsonMessage)s (progress numbers
    /// and errors included), for a renderer such as the docker CLI's.
    pub fn into_messages(mut self) -> crate::message::MessageStream {
        let pending = self.decoder.take_pending();
        crate::message::MessageStream::with_pending(self.body, &pending, self.done)
    }

    /// Read every message, returning them all (errors stop early).
    pub async fn collect(mut self) -> Result<Vec<StreamMessage>> {
        let mut all = Vec::new();
        while let Some(m) = self.next().await? {
            all.push(m);
        }
        Ok(all)
    }
}

/// Whether API version `a` is lower than `b` (`1.40` < `1.41`).
pub fn version_less(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a) < parse(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_versions_numerically() {
        assert!(version_less("1.40", "1.41"));
        assert!(version_less("1.9", "1.41"));
        assert!(!version_less("1.43", "1.41"));
        assert!(!version_less("1.41", "1.41"));
    }

    #[test]
    fn new_rejects_tcp() {
        assert!(Client::new("tcp://localhost:2375").is_err());
        assert_eq!(Client::new("unix:///a.sock").unwrap().api_version(), "1.41");
    }
}
