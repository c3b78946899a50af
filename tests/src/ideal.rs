//! The ideal client the voucher benchmark measures the system against: one plain API session,
//! every hotspot-user add written at once (each with its own `.tag`), timed until the last
//! `!done`. Nothing is held back and nothing is read back; no real client can be faster on the
//! same router, so `project / ideal` is the overhead of everything between a sale and the
//! router.
//!
//! Built on the simulator tests' [`RawClient`] (the shared wire codec, nothing of the agent's
//! client) so that it measures the router, not our pipelining.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hotspot_shared::routeros::{ReplyKind, Request};
use tokio::io::AsyncWriteExt as _;

use crate::sim::testing::{RawClient, kinds};

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
    let mut client = RawClient::connect(addr).await.context("connecting")?;
    let login = client.login(user, password).await?;
    if kinds(&login) != [ReplyKind::Done] {
        bail!("login refused: {login:?}");
    }
    // Nothing follows the login's `!done`, so the client's decoder holds no bytes: the stream
    // can be split, written from a task of its own and read here.
    let (rx, mut tx) = client.into_inner().into_split();
    let mut replies = RawClient::new(rx);

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
        let reply = replies
            .read_reply()
            .await?
            .context("the router closed the connection")?;
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
