//! A client of the agent's local staff API (plain HTTP on loopback), for tests: logs in with
//! `POST /api/session`, keeps the `hs_local` cookie and the CSRF token, and calls the rest.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// One staff member's session on an agent's local page.
#[derive(Clone)]
pub struct LocalStaff {
    base: String,
    cookie: Option<String>,
    csrf: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl LocalStaff {
    /// Not logged in yet.
    pub fn new(addr: SocketAddr) -> LocalStaff {
        LocalStaff {
            base: format!("http://{addr}"),
            cookie: None,
            csrf: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Logs in; the answer's status and body (on 200 the session is kept).
    pub async fn login(&mut self, username: &str, password: &str) -> anyhow::Result<(u16, Value)> {
        let body = json!({ "username": username, "password": password });
        let (status, headers, answer) = self.raw("POST", "/api/session", Some(&body)).await?;
        if status == 200 {
            let set = headers
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .context("login without Set-Cookie")?;
            let pair = set.split(';').next().unwrap_or_default().to_owned();
            self.cookie = Some(pair);
            self.csrf = answer["csrf_token"].as_str().map(str::to_owned);
        }
        Ok((status, answer))
    }

    /// The same session without the CSRF token (to see it refused).
    pub fn without_csrf(&self) -> LocalStaff {
        LocalStaff {
            csrf: None,
            ..self.clone()
        }
    }

    /// `POST /api/vouchers`: status and body.
    pub async fn sell(
        &self,
        router: u64,
        package: u64,
        count: usize,
    ) -> anyhow::Result<(u16, Value)> {
        let body = json!({ "router": router, "package": package, "count": count });
        self.call("POST", "/api/vouchers", Some(&body)).await
    }

    /// `GET /api/status`.
    pub async fn status(&self) -> anyhow::Result<Value> {
        let (status, body) = self.call("GET", "/api/status", None).await?;
        if status != 200 {
            bail!("GET /api/status answered {status}: {body}");
        }
        Ok(body)
    }

    /// `GET /api/vouchers?limit=N`.
    pub async fn list(&self, limit: usize) -> anyhow::Result<Value> {
        let (status, body) = self
            .call("GET", &format!("/api/vouchers?limit={limit}"), None)
            .await?;
        if status != 200 {
            bail!("GET /api/vouchers answered {status}: {body}");
        }
        Ok(body)
    }

    /// Any call with the session cookie and CSRF header: status and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let (status, _, body) = self.raw(method, path, body).await?;
        Ok((status, body))
    }

    /// A page call: `GET` (no body) or a form `POST`; status, `Location` and the text.
    pub async fn page(
        &self,
        method: &str,
        path: &str,
        form: Option<&str>,
    ) -> anyhow::Result<(u16, Option<String>, String)> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let body = form.unwrap_or_default().as_bytes().to_vec();
        let response = self
            .client
            .request(req.body(Full::new(Bytes::from(body)))?)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.into_body().collect().await?.to_bytes();
        Ok((
            status,
            location,
            String::from_utf8_lossy(&text).into_owned(),
        ))
    }

    /// Logs in through the page's form; true when it redirected with a session cookie.
    pub async fn form_login(&mut self, username: &str, password: &str) -> anyhow::Result<bool> {
        let req = hyper::Request::builder()
            .method("POST")
            .uri(format!("{}/login", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(format!(
                "username={username}&password={}",
                password.replace(' ', "+")
            ))))?;
        let response = self.client.request(req).await.context("POST /login")?;
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let ok = response.status().as_u16() == 303 && cookie.is_some();
        if ok {
            self.cookie = cookie;
        }
        Ok(ok)
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, hyper::HeaderMap, Value)> {
        let mut headers = Vec::new();
        if let Some(c) = &self.cookie {
            headers.push(("cookie", c.as_str()));
        }
        if let Some(t) = &self.csrf {
            headers.push(("x-csrf-token", t.as_str()));
        }
        crate::demo::http::send_json(&self.client, &self.base, method, path, &headers, body).await
    }
}
