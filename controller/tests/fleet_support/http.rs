//! The fleet and jobs tests' HTTP client: JSON in, status and body out, with the super admin's
//! bearer token when set.

use std::net::SocketAddr;

use serde_json::Value;

pub use crate::common::http::Reply;
use crate::common::http::{Body, request};

#[derive(Clone, Debug)]
pub struct Http {
    pub addr: SocketAddr,
    /// Bearer token sent with every request, when set.
    pub bearer: Option<String>,
}

impl Http {
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let auth = self.bearer.as_ref().map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let body = body.map_or(Body::Empty, Body::Json);
        request(self.addr, method, path, &headers, body).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some(body)).await
    }
}
