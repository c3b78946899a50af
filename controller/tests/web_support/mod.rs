//! A cookie-keeping HTTP client that uses the dashboard like a browser: signs in through the
//! form, keeps the cookies, posts forms with the page's CSRF token and our origin.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use hyper::header::{LOCATION, SET_COOKIE};

use crate::common::http::{Body, request};

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
    pub headers: hyper::HeaderMap,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            cookies: BTreeMap::new(),
        }
    }

    pub async fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let (jar, origin) = (jar.join("; "), format!("http://{}", self.addr));
        let mut headers = Vec::new();
        if !jar.is_empty() {
            headers.push(("cookie", jar.as_str()));
        }
        let body = match form {
            Some(fields) => {
                headers.push(("origin", origin.as_str()));
                Body::Form(serde_urlencoded::to_string(fields).expect("form"))
            }
            None => Body::Empty,
        };
        let reply = request(self.addr, method, path, &headers, body).await;
        for c in reply.headers.get_all(SET_COOKIE) {
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
        Page {
            status: reply.status,
            location: reply.header(LOCATION.as_str()),
            body: reply.text(),
            headers: reply.headers.clone(),
            content_type: reply.content_type,
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
