//! A small HTTP/1.1 client over a loopback socket (hyper's client connection, no TLS): one
//! connection per request, JSON in and out, headers given per call.

use std::net::SocketAddr;

use serde_json::Value;

pub use crate::common::http::Reply;
use crate::common::http::{Body, request};

/// The API's address and the origin a browser on it would send.
#[derive(Clone, Debug)]
pub struct Client {
    pub addr: SocketAddr,
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
        let body = body.map_or(Body::Empty, |v| Body::Json(v.clone()));
        request(self.addr, method, path, headers, body).await
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
