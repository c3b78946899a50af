//! Request/response with a deadline, both ways: answered, refused by the responder, timed out
//! when the responder is slow, and `Offline` at once when the peer is not connected. Plus
//! heartbeats keeping an idle site online.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hotspot_link::{LinkError, ServerConfig};

#[tokio::test]
async fn requests_are_answered_refused_or_time_out_and_never_hang() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let (server, _) = start_server(&pki, &db).await;
    let addr = server.local_addr().expect("addr");
    let s = site("site-q");

    // Not connected: Offline, at once.
    let t = Instant::now();
    let e = server
        .request(&s, Query::Echo("x".into()), Duration::from_secs(5))
        .await
        .expect_err("offline");
    assert!(matches!(e, LinkError::Offline { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_millis(100));

    let (tls, _) = pki.agent("site-q");
    let adb = open_db(&dir.path().join("agent"));
    let (agent, _) = start_agent(tls, &adb, addr).await;
    assert!(eventually(Duration::from_secs(5), || agent.status().connected).await);
    assert!(
        eventually(Duration::from_secs(5), || server
            .connected_sites()
            .contains(&s))
        .await
    );

    // Answered, both ways, with the asker named by the answering side.
    let answer = server
        .request(
            &s,
            Query::Echo("test router 1".into()),
            Duration::from_secs(2),
        )
        .await
        .expect("answered");
    assert_eq!(answer, "test router 1 (asked by the controller)");
    let answer = agent
        .request(Query::Echo("catalogue?".into()), Duration::from_secs(2))
        .await
        .expect("answered");
    assert_eq!(answer, "catalogue? (asked by site site-q)");

    // The responder's refusal reaches the asker.
    let e = server
        .request(
            &s,
            Query::Fail("router unknown".into()),
            Duration::from_secs(2),
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(&e, LinkError::Denied(r) if r == "router unknown"),
        "{e}"
    );

    // A slow responder: Timeout at the deadline, not later; the link stays usable.
    let t = Instant::now();
    let e = server
        .request(&s, Query::SleepMs(3000), Duration::from_millis(300))
        .await
        .expect_err("too slow");
    assert!(matches!(e, LinkError::Timeout(_)), "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let e = agent
        .request(Query::SleepMs(3000), Duration::from_millis(300))
        .await
        .expect_err("too slow");
    assert!(matches!(e, LinkError::Timeout(_)), "{e}");
    assert!(t.elapsed() < Duration::from_millis(600));
    let answer = server
        .request(
            &s,
            Query::Echo("still there".into()),
            Duration::from_secs(2),
        )
        .await
        .expect("answered");
    assert!(answer.starts_with("still there"));

    // Many at once are answered concurrently (a slow one does not block the rest).
    let t = Instant::now();
    let mut asks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (server, s) = (server.clone(), s.clone());
        asks.spawn(async move {
            server
                .request(&s, Query::SleepMs(200 + i), Duration::from_secs(3))
                .await
        });
    }
    let answers = asks.join_all().await;
    assert!(
        answers.iter().all(|a| matches!(a.as_deref(), Ok("slept"))),
        "{answers:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    // A request whose connection goes away ends with Closed or Offline, not a hang.
    let pending = server.request(&s, Query::SleepMs(5000), Duration::from_secs(10));
    let cut = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.disconnect(&s, "test: cut");
    };
    let t = Instant::now();
    let (result, ()) = tokio::join!(pending, cut);
    assert!(matches!(result, Err(LinkError::Closed)), "{result:?}");
    assert!(t.elapsed() < Duration::from_secs(2));

    // The agent, once not connected, answers Offline at once.
    agent.shutdown().await.expect("stops");
    let t = Instant::now();
    let e = agent
        .request(Query::Echo("x".into()), Duration::from_secs(5))
        .await
        .expect_err("offline");
    assert!(matches!(e, LinkError::Offline { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_millis(100));
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn an_idle_agent_stays_online_through_heartbeats() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(&dir.path().join("controller"));
    let config = ServerConfig {
        offline_after: Duration::from_millis(700),
        ..server_config()
    };
    let (server, _) = start_server_with(&pki, &db, config, hotspot_link::ControlHooks::new()).await;
    let (tls, _) = pki.agent("site-idle");
    let adb = open_db(&dir.path().join("agent"));
    let (agent, _) = start_agent(tls, &adb, server.local_addr().expect("addr")).await;
    let s = site("site-idle");
    assert!(
        eventually(Duration::from_secs(5), || server
            .site_status(&s)
            .map(|st| st.online)
            .unwrap_or(false))
        .await
    );
    // Nothing to send for well past `offline_after`: heartbeats (every 200 ms) keep it online.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(server.site_status(&s).expect("status").online);
    }
    assert_eq!(agent.status().sessions, 1, "never dropped");
    agent.shutdown().await.expect("stops");
    server.shutdown().await.expect("stops");
}
