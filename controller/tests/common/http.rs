//! One HTTP/1.1 request over a loopback socket (hyper's client connection, no TLS, one
//! connection per request): what the test clients of every controller harness send through
//! (`support::http::Client`, `fleet_support::http::Http`, `web_support::Browser`).

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// An answer: status, headers and the body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// `content-type`, empty when absent.
    pub content_type: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `error.code` of an error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// A request body and its content type.
pub enum Body {
    Empty,
    Json(Value),
    Form(String),
}

/// Sends `method path` with `headers` and `body` to `addr`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the controller");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(path)
        .header(HOST, addr.to_string());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Json(v) => {
            req = req.header(CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(&v).expect("encodes"))
        }
        Body::Form(text) => {
            req = req.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
            Bytes::from(text)
        }
    };
    let res = sender
        .send_request(req.body(Full::new(bytes)).expect("request"))
        .await
        .expect("response");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}
