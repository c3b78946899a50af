//! A client of the agent's local staff API (`agent::local`): session cookie + CSRF header.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// Name of the local session cookie.
const COOKIE: &str = "hs_local";

/// A staff member signed in at the site's local page.
#[derive(Clone)]
pub struct LocalApi {
    base: String,
    cookie: Option<String>,
    csrf: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl LocalApi {
    pub fn new(addr: SocketAddr) -> LocalApi {
        LocalApi {
            base: format!("http://{addr}"),
            cookie: None,
            csrf: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Any call: status and JSON body (`Null` when not JSON), plus the session cookie if set.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value, Option<String>)> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("{COOKIE}={c}"));
        }
        if let Some(t) = &self.csrf {
            req = req.header("x-csrf-token", t);
        }
        let bytes = body
            .map(serde_json::to_vec)
            .transpose()?
            .unwrap_or_default();
        let response = self
            .client
            .request(req.body(Full::new(Bytes::from(bytes)))?)
            .await
            .with_context(|| format!("{method} {path} (local)"))?;
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .next()?
                    .trim()
                    .strip_prefix(&format!("{COOKIE}="))
                    .map(str::to_owned)
            });
        let body = response.into_body().collect().await?.to_bytes();
        Ok((
            status,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
            cookie,
        ))
    }

    /// `POST /api/session`: a signed-in client, or the status and body of the refusal.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> anyhow::Result<Result<LocalApi, (u16, Value)>> {
        let body = json!({"username": username, "password": password});
        let (status, answer, cookie) = self.raw("POST", "/api/session", Some(&body)).await?;
        if status != 200 {
            return Ok(Err((status, answer)));
        }
        let csrf = answer["csrf_token"]
            .as_str()
            .context("session answer without csrf_token")?;
        let cookie = cookie.context("session answer without the hs_local cookie")?;
        Ok(Ok(LocalApi {
            cookie: Some(cookie),
            csrf: Some(csrf.to_owned()),
            ..self.clone()
        }))
    }

    /// `POST /api/vouchers`: the status and body as they came.
    pub async fn sell(
        &self,
        router: u64,
        package: u64,
        count: u32,
    ) -> anyhow::Result<(u16, Value)> {
        let body =
            json!({"router": router.to_string(), "package": package.to_string(), "count": count});
        let (status, answer, _) = self.raw("POST", "/api/vouchers", Some(&body)).await?;
        Ok((status, answer))
    }

    /// `POST /api/vouchers` that must answer 200: the codes sold.
    pub async fn sell_ok(
        &self,
        router: u64,
        package: u64,
        count: u32,
    ) -> anyhow::Result<Vec<String>> {
        let (status, answer) = self.sell(router, package, count).await?;
        if status != 200 {
            bail!("local sale answered {status}: {answer}");
        }
        super::fleet::codes_of(&answer)
    }

    /// `GET /api/status`.
    pub async fn status(&self) -> anyhow::Result<Value> {
        let (status, answer, _) = self.raw("GET", "/api/status", None).await?;
        if status != 200 {
            bail!("local status answered {status}: {answer}");
        }
        Ok(answer)
    }
}

impl LocalApi {
    /// Waits until the agent's status says the link is `online` (or not).
    pub async fn wait_link(&self, online: bool, within: std::time::Duration) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let status = self.status().await?;
            if status["link"]["online"] == online {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!("the agent's link is not online={online} within {within:?}: {status}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}
