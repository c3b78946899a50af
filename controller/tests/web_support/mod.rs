//! A cookie-keeping HTTP client that uses the dashboard like a browser: signs in through the
//! form, keeps the cookies, posts forms with the page's CSRF token and our origin.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

/// A cookie-keeping client posting forms like a browser on the dashboard.
pub struct Browser {
    pub addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            cookies: BTreeMap::new(),
        }
    }

    pub async fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path)
            .header(HOST, self.addr.to_string());
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(COOKIE, jar.join("; "));
        }
        let body = match form {
            Some(fields) => {
                req = req
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(ORIGIN, format!("http://{}", self.addr));
                serde_urlencoded::to_string(fields).expect("form")
            }
            None => String::new(),
        };
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(body))).expect("request"))
            .await
            .expect("response");
        for c in resp.headers().get_all(SET_COOKIE) {
            let text = c.to_str().expect("cookie");
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let location = header(LOCATION);
        let content_type = header(CONTENT_TYPE).unwrap_or_default();
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Page {
            status,
            location,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, None).await
    }

    /// Posts `fields` with the page CSRF token (from the `hf_csrf` cookie, as pages carry it).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.cookies.get("hf_csrf").cloned().unwrap_or_default();
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.send("POST", path, Some(&all)).await
    }

    pub async fn sign_in(addr: SocketAddr, user: &str, password: &str) -> Browser {
        let mut b = Browser::new(addr);
        let r = b
            .send(
                "POST",
                "/login",
                Some(&[("username", user), ("password", password)]),
            )
            .await;
        assert_eq!(r.status, 303, "sign-in of {user}: {}", r.body);
        assert!(b.cookies.contains_key("hf_csrf"), "{:?}", b.cookies);
        b
    }
}
