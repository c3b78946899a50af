//! A small HTTP/1.1 client over a loopback socket (hyper's client connection, no TLS): one
//! connection per request, JSON in and out, headers given per call.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The API's address and the origin a browser on it would send.
#[derive(Clone, Debug)]
pub struct Client {
    pub addr: SocketAddr,
}

/// An answer: status, headers and the body (parsed as JSON when it is JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
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

impl Client {
    /// `http://127.0.0.1:<port>`: what a browser on the dashboard sends as `Origin`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends one request. `body`, when given, is sent as JSON.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect to the API");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP handshake");
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path)
            .header(HOST, self.addr.to_string());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let bytes = match body {
            Some(v) => {
                req = req.header(CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(v).expect("encodes"))
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(bytes)).expect("request");
        let res = sender.send_request(req).await.expect("response");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.send("GET", path, &[("authorization", &auth)], None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        let auth = format!("Bearer {token}");
        self.send("POST", path, &[("authorization", &auth)], Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Reply {
        let auth = format!("Bearer {token}");
        self.send("PUT", path, &[("authorization", &auth)], Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.send("DELETE", path, &[("authorization", &auth)], None)
            .await
    }
}
