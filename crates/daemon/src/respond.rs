//! Building responses: JSON, errors, Docker's common headers.

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;

use crate::body::{empty, full, Body};
use crate::error::ApiError;

/// A handler's result.
pub type ApiResult = Result<Response<Body>, ApiError>;

/// A JSON response (with a trailing newline, as Go's encoder writes).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> ApiResult {
    let mut bytes = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("encoding response: {e}")))?;
    bytes.push(b'\n');
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// 200 with JSON.
pub fn ok_json<T: Serialize>(value: &T) -> ApiResult {
    json(StatusCode::OK, value)
}

/// A status with no body.
pub fn status(status: StatusCode) -> ApiResult {
    let mut resp = Response::new(empty());
    *resp.status_mut() = status;
    Ok(resp)
}

/// A response with `body` and content type.
pub fn with_body(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The error response `{"message": ...}`.
pub fn error(err: &ApiError) -> Response<Body> {
    if err.status == StatusCode::NOT_MODIFIED {
        let mut resp = Response::new(empty());
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return resp;
    }
    let body = berth_spec::api::ErrorResponse {
        message: err.message.clone(),
    };
    let mut bytes =
        serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"message\":\"internal error\"}".to_vec());
    bytes.push(b'\n');
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = err.status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Add the headers dockerd sends on every response.
pub fn add_common_headers(resp: &mut Response<Body>) {
    let h = resp.headers_mut();
    h.insert(
        "Api-Version",
        HeaderValue::from_static(berth_spec::API_VERSION),
    );
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
}
