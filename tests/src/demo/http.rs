//! A tiny JSON-over-HTTP client for the demo and end-to-end tests (plain HTTP on loopback).

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Calls the controller's API as one signed-in user (or none).
#[derive(Clone)]
pub struct Api {
    base: String,
    token: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        Api {
            base: format!("http://{addr}"),
            token: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// This client sending `token` (a session's or an API key) as its bearer token.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// Signs in with `POST /api/auth/login`; the returned client sends the bearer token.
    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<Api> {
        let body = serde_json::json!({ "username": username, "password": password });
        let answer = self
            .expect_ok("POST", "/api/auth/login", Some(&body))
            .await?;
        let token = answer["token"]
            .as_str()
            .context("login answer without a token")?;
        Ok(self.with_token(token))
    }

    /// Any call: the status and the JSON body (`Value::Null` for an empty or non-JSON body).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|b| ("authorization", b))
            .into_iter()
            .collect();
        let (status, _, answer) =
            send_json(&self.client, &self.base, method, path, &headers, body).await?;
        Ok((status, answer))
    }

    /// A call that must answer 2xx; its JSON body.
    pub async fn expect_ok(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.call(method, path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    /// `POST /api/routers` with `body` once the site's agent is connected (the API answers
    /// 409 until then), trying for up to `within`; the new router's id.
    pub async fn add_router_when_online(
        &self,
        body: &Value,
        within: std::time::Duration,
    ) -> anyhow::Result<u64> {
        let deadline = std::time::Instant::now() + within;
        loop {
            match self.call("POST", "/api/routers", Some(body)).await? {
                (200 | 201, r) => return r["id"].as_u64().context("router id"),
                (409, _) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                (409, r) => bail!("the site's agent did not come online within {within:?}: {r}"),
                (status, r) => bail!("adding the router answered {status}: {r}"),
            }
        }
    }
}

/// One JSON request to `base` + `path` with extra `headers`: the status, the response headers,
/// and the JSON body (`Value::Null` for an empty or non-JSON body). Shared by the test clients.
pub async fn send_json(
    client: &Client<HttpConnector, Full<Bytes>>,
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> anyhow::Result<(u16, hyper::HeaderMap, Value)> {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let bytes = body
        .map(serde_json::to_vec)
        .transpose()?
        .unwrap_or_default();
    let response = client
        .request(req.body(Full::new(Bytes::from(bytes)))?)
        .await
        .with_context(|| format!("{method} {path}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((
        status,
        headers,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    ))
}
