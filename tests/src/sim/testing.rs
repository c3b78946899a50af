//! A raw RouterOS API client for tests of the simulator itself.
//!
//! Deliberately thin — sentences in, sentences out, over any stream (plain TCP or TLS), using
//! the shared codec — so that a test sees exactly what went over the wire: tags, `!empty`,
//! `!fatal`, and when the connection closed. Real clients (our agent, librouteros) are tested
//! elsewhere against the simulator; this one is for checking the simulator's words.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use hotspot_shared::routeros::{Decoder, Limits, Reply, ReplyKind, Request, encode_sentence};

use super::auth::challenge_response;

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Sentences over a stream.
pub struct RawClient<S> {
    stream: S,
    decoder: Decoder,
}

impl RawClient<TcpStream> {
    pub async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(RawClient::new(stream))
    }
}

impl<S> RawClient<S> {
    pub fn new(stream: S) -> Self {
        RawClient {
            stream,
            decoder: Decoder::new(Limits::default()),
        }
    }

    pub fn into_inner(self) -> S {
        self.stream
    }
}

/// Reading needs only the read half: a client may write from elsewhere (the ideal client of
/// `bench-vouchers` writes every command at once from another task).
impl<S: AsyncRead + Unpin> RawClient<S> {
    /// The next reply sentence; `Ok(None)` when the router closed the connection.
    pub async fn read_reply(&mut self) -> io::Result<Option<Reply>> {
        let mut buf = [0u8; 8192];
        loop {
            if let Some(s) = self.decoder.next_sentence().map_err(invalid)? {
                return Reply::parse(&s).map(Some).map_err(invalid);
            }
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.decoder.feed(&buf[..n]);
        }
    }

    /// Replies up to and including `!done` (or a `!fatal`, or the end of the stream).
    pub async fn read_until_done(&mut self) -> io::Result<Vec<Reply>> {
        let mut replies = Vec::new();
        while let Some(r) = self.read_reply().await? {
            let end = matches!(r.kind, ReplyKind::Done | ReplyKind::Fatal);
            replies.push(r);
            if end {
                break;
            }
        }
        Ok(replies)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawClient<S> {
    /// Sends raw bytes (for malformed-input tests).
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Sends one sentence of words.
    pub async fn send_words<W: AsRef<[u8]>>(&mut self, words: &[W]) -> io::Result<()> {
        let mut out = Vec::new();
        encode_sentence(words, &mut out).map_err(invalid)?;
        self.send_bytes(&out).await
    }

    pub async fn send(&mut self, req: &Request) -> io::Result<()> {
        self.send_words(&req.to_sentence()).await
    }

    /// Sends a command and reads its replies (for untagged, one-at-a-time use).
    pub async fn call(&mut self, req: &Request) -> io::Result<Vec<Reply>> {
        self.send(req).await?;
        self.read_until_done().await
    }

    /// Plain login (RouterOS 6.43+).
    pub async fn login(&mut self, user: &str, password: &str) -> io::Result<Vec<Reply>> {
        self.call(
            &Request::new("/login")
                .attr("name", user)
                .attr("password", password),
        )
        .await
    }

    /// Challenge-response login (before 6.43): `/login`, then the MD5 response.
    pub async fn login_legacy(&mut self, user: &str, password: &str) -> io::Result<Vec<Reply>> {
        let first = self.call(&Request::new("/login")).await?;
        let challenge = first
            .first()
            .and_then(|r| r.attrs.get_str("ret"))
            .and_then(|hex_text| hex::decode(hex_text.as_bytes()).ok())
            .ok_or_else(|| invalid(format!("no challenge in {first:?}")))?;
        let response = challenge_response(password.as_bytes(), &challenge);
        self.call(
            &Request::new("/login")
                .attr("name", user)
                .attr("response", response),
        )
        .await
    }
}

/// A simulator of RouterOS `version` (e.g. `"7.19"`) with the default local settings.
pub async fn sim_version(version: &str) -> super::SimHandle {
    let cfg = super::SimConfig {
        ros_version: version.parse().expect("a RouterOS version"),
        ..super::SimConfig::local()
    };
    super::start(cfg).await.expect("simulator starts")
}

/// A raw client logged in as the local default admin.
pub async fn logged_in(addr: std::net::SocketAddr) -> RawClient<tokio::net::TcpStream> {
    let mut c = RawClient::connect(addr).await.expect("connects");
    let r = c
        .login("admin", "sim-password")
        .await
        .expect("login answered");
    assert_eq!(kinds(&r), [ReplyKind::Done], "login: {r:?}");
    c
}

/// The reply types, in order.
pub fn kinds(replies: &[Reply]) -> Vec<ReplyKind> {
    replies.iter().map(|r| r.kind).collect()
}

/// The message of a `!trap` + `!done` answer (panics on any other answer).
pub fn trap_message(replies: &[Reply]) -> String {
    assert_eq!(
        kinds(replies),
        [ReplyKind::Trap, ReplyKind::Done],
        "expected a trap: {replies:?}"
    );
    replies[0]
        .message()
        .map(|m| m.into_owned())
        .unwrap_or_default()
}

/// The `!re` items.
pub fn rows(replies: &[Reply]) -> Vec<&Reply> {
    replies.iter().filter(|r| r.kind == ReplyKind::Re).collect()
}

/// The `=ret=` of the final `!done`.
pub fn ret(replies: &[Reply]) -> String {
    let done = replies.last().expect("a reply");
    assert_eq!(done.kind, ReplyKind::Done, "{replies:?}");
    done.attrs.get_str("ret").expect("=ret=").into_owned()
}

/// `/ip/hotspot/user/add` of `name` with a one-hour limit.
pub fn add_user(name: &str) -> Request {
    Request::new("/ip/hotspot/user/add")
        .attr("name", name)
        .attr("password", "pw")
        .attr("limit-uptime", "1h")
}
