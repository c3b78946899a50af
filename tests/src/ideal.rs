//! The ideal client the voucher benchmark measures the system against: one plain API session,
//! every hotspot-user add written at once (each with its own `.tag`), timed until the last
//! `!done`. Nothing is held back and nothing is read back; no real client can be faster on the
//! same router, so `project / ideal` is the overhead of everything between a sale and the
//! router.
//!
//! Written on the shared wire codec only (not the agent's client) so that it measures the
//! router, not our pipelining.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use hotspot_shared::routeros::{Decoder, Reply, ReplyKind, Request};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// What one ideal run measured.
#[derive(Debug, Clone, Copy)]
pub struct IdealRun {
    /// From the first byte written to the last `!done` read.
    pub elapsed: Duration,
    /// Adds the router answered with a trap (a duplicate name, say).
    pub refused: usize,
}

/// Logs in to `addr` (plain login, RouterOS 6.43+) and adds `names` as hotspot users (password =
/// name, profile `profile`, `limit-uptime=1h`), all written at once.
pub async fn add_users(
    addr: SocketAddr,
    user: &str,
    password: &str,
    profile: &str,
    names: &[String],
) -> anyhow::Result<IdealRun> {
    let stream = TcpStream::connect(addr).await.context("connecting")?;
    stream.set_nodelay(true)?;
    let (mut rx, mut tx) = stream.into_split();
    let mut decoder = Decoder::default();
    let mut buf = vec![0u8; 64 * 1024];

    let mut login = Vec::new();
    Request::new("/login")
        .attr("name", user)
        .attr("password", password)
        .encode(&mut login)?;
    tx.write_all(&login).await?;
    let first = next_reply(&mut rx, &mut decoder, &mut buf).await?;
    if first.kind != ReplyKind::Done {
        bail!("login refused: {:?}", first.message());
    }

    let mut adds = Vec::with_capacity(names.len() * 96);
    for (i, name) in names.iter().enumerate() {
        Request::new("/ip/hotspot/user/add")
            .attr("name", name.as_str())
            .attr("password", name.as_str())
            .attr("profile", profile)
            .attr("limit-uptime", "1h")
            .with_tag(i.to_string())
            .encode(&mut adds)?;
    }
    let started = Instant::now();
    // Written by its own task so that reading answers never waits on a full send buffer.
    let writer = tokio::spawn(async move {
        tx.write_all(&adds).await?;
        tx.flush().await?;
        Ok::<_, std::io::Error>(tx)
    });
    let (mut done, mut refused) = (0, 0);
    while done < names.len() {
        let reply = next_reply(&mut rx, &mut decoder, &mut buf).await?;
        match reply.kind {
            ReplyKind::Done => done += 1,
            ReplyKind::Trap => refused += 1,
            ReplyKind::Fatal => bail!("the router closed the session: {:?}", reply.text),
            ReplyKind::Re | ReplyKind::Empty => {}
        }
    }
    let elapsed = started.elapsed();
    let _tx = writer.await.context("writer task")??;
    Ok(IdealRun { elapsed, refused })
}

async fn next_reply(
    rx: &mut tokio::net::tcp::OwnedReadHalf,
    decoder: &mut Decoder,
    buf: &mut [u8],
) -> anyhow::Result<Reply> {
    loop {
        if let Some(sentence) = decoder.next_sentence()? {
            return Ok(Reply::parse(&sentence)?);
        }
        let n = rx.read(buf).await?;
        ensure!(n > 0, "the router closed the connection");
        decoder.feed(&buf[..n]);
    }
}
