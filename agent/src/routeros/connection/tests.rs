//! A session against a scripted fake router on an in-memory stream: replies out of order,
//! `!re` without `!done`, unknown reply words, EOF with commands in flight, a silent router and
//! a full window. The simulator tests cover the same paths over real sockets; these pin down the
//! exact sequencing.

use std::time::Duration;

use hotspot_shared::routeros::{Attributes, Decoder, Reply, ReplyKind, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

use super::Connection;
use crate::routeros::config::RouterConfig;
use crate::routeros::error::RouterError;

struct FakeRouter {
    stream: DuplexStream,
    decoder: Decoder,
}

impl FakeRouter {
    async fn request(&mut self) -> Request {
        let mut buf = vec![0u8; 4096];
        loop {
            if let Some(s) = self.decoder.next_sentence().expect("valid bytes") {
                return Request::parse(&s).expect("a request");
            }
            let n = self.stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "client closed");
            self.decoder.feed(&buf[..n]);
        }
    }

    async fn send(&mut self, tag: &[u8], replies: Vec<Reply>) {
        let mut out = Vec::new();
        for r in replies {
            r.with_tag(Some(tag)).encode(&mut out).expect("encode");
        }
        self.stream.write_all(&out).await.expect("write");
    }
}

fn session(window: usize, timeout: Duration) -> (Connection, FakeRouter) {
    let (client, server) = duplex(64 * 1024);
    let mut config = RouterConfig::plain("fake", 8728, "admin", "pw");
    config.window = window;
    config.command_timeout = timeout;
    let conn = Connection::start(
        Box::new(client),
        Decoder::default(),
        &config,
        "fake:8728".into(),
    );
    (
        conn,
        FakeRouter {
            stream: server,
            decoder: Decoder::default(),
        },
    )
}

fn item(name: &str) -> Attributes {
    [("name", name)].into_iter().collect()
}

#[tokio::test]
async fn replies_are_routed_by_tag_whatever_their_order() {
    let (conn, mut router) = session(8, Duration::from_secs(5));
    let a = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/a/print")).await }
    });
    let ra = router.request().await;
    let b = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/b/print")).await }
    });
    let rb = router.request().await;
    let (ta, tb) = (
        ra.tag().expect("tagged").to_vec(),
        rb.tag().expect("tagged").to_vec(),
    );
    assert_ne!(ta, tb);
    // Interleaved: b's item, a's item, b done, a's second item, a done.
    router.send(&tb, vec![Reply::re(item("b1"))]).await;
    router.send(&ta, vec![Reply::re(item("a1"))]).await;
    router.send(&tb, vec![Reply::done()]).await;
    router
        .send(&ta, vec![Reply::re(item("a2")), Reply::done()])
        .await;
    let a = a.await.expect("task").expect("ok");
    let b = b.await.expect("task").expect("ok");
    assert_eq!(a.items, vec![item("a1"), item("a2")]);
    assert_eq!(b.items, vec![item("b1")]);
}

#[tokio::test]
async fn a_command_is_done_only_at_done() {
    let (conn, mut router) = session(8, Duration::from_secs(5));
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/ip/hotspot/user/add")).await }
    });
    let tag = router.request().await.tag().expect("tagged").to_vec();
    router.send(&tag, vec![Reply::re(item("x"))]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!call.is_finished(), "!re is not the end");
    let mut done = Reply::done();
    done.attrs.set("ret", "*1A");
    router.send(&tag, vec![done]).await;
    let response = call.await.expect("task").expect("ok");
    assert_eq!(response.done.get("ret"), Some(&b"*1A"[..]));
}

#[tokio::test]
async fn unknown_reply_words_are_skipped() {
    let (conn, mut router) = session(8, Duration::from_secs(5));
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/x/print")).await }
    });
    let tag = router.request().await.tag().expect("tagged").to_vec();
    let mut bytes = Vec::new();
    hotspot_shared::routeros::encode_sentence(
        &[b"!progress".to_vec(), [b".tag=".as_slice(), &tag].concat()],
        &mut bytes,
    )
    .expect("encode");
    router.stream.write_all(&bytes).await.expect("write");
    router
        .send(&tag, vec![Reply::new(ReplyKind::Empty), Reply::done()])
        .await;
    assert_eq!(
        call.await.expect("task").expect("ok").items,
        Vec::<Attributes>::new()
    );
    assert!(!conn.is_dead());
}

#[tokio::test]
async fn eof_fails_commands_in_flight_and_later_ones_fast() {
    let (conn, mut router) = session(8, Duration::from_secs(5));
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/ip/hotspot/user/add")).await }
    });
    router.request().await;
    drop(router);
    let err = call.await.expect("task").expect_err("lost");
    assert!(matches!(err, RouterError::ConnectionLost { .. }), "{err:?}");
    assert!(err.is_outcome_unknown());
    assert!(conn.is_dead());
    let err = conn
        .call(Request::new("/x/print"))
        .await
        .expect_err("closed");
    assert!(matches!(err, RouterError::Closed(_)), "{err:?}");
}

#[tokio::test]
async fn fatal_ends_the_session() {
    let (conn, mut router) = session(8, Duration::from_secs(5));
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/x/print")).await }
    });
    router.request().await;
    let mut out = Vec::new();
    Reply::fatal("too many sessions")
        .encode(&mut out)
        .expect("encode");
    router.stream.write_all(&out).await.expect("write");
    let err = call.await.expect("task").expect_err("lost");
    assert!(
        matches!(&err, RouterError::ConnectionLost { reason } if reason.contains("too many sessions")),
        "{err:?}"
    );
}

#[tokio::test]
async fn silent_router_times_out_and_the_session_is_dropped() {
    let (conn, mut router) = session(8, Duration::from_millis(100));
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/ip/hotspot/user/add")).await }
    });
    router.request().await;
    let err = call.await.expect("task").expect_err("timeout");
    assert!(
        matches!(&err, RouterError::Timeout { what } if what == "/ip/hotspot/user/add"),
        "{err:?}"
    );
    assert!(
        conn.is_dead(),
        "a router silent for the whole deadline is treated as gone"
    );
}

#[tokio::test]
async fn a_late_reply_after_a_timeout_is_ignored() {
    let (conn, mut router) = session(8, Duration::from_millis(200));
    let slow = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/slow")).await }
    });
    let slow_tag = router.request().await.tag().expect("tagged").to_vec();
    // Keep the session talking so it is not judged silent.
    let fast = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/fast")).await }
    });
    let fast_tag = router.request().await.tag().expect("tagged").to_vec();
    router.send(&fast_tag, vec![Reply::done()]).await;
    assert!(fast.await.expect("task").is_ok());
    assert!(matches!(
        slow.await.expect("task"),
        Err(RouterError::Timeout { .. })
    ));
    router.send(&slow_tag, vec![Reply::done()]).await;
    let next = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call(Request::new("/next")).await }
    });
    let tag = router.request().await.tag().expect("tagged").to_vec();
    router.send(&tag, vec![Reply::done()]).await;
    assert!(next.await.expect("task").is_ok());
    assert!(!conn.is_dead());
}

#[tokio::test]
async fn window_bounds_commands_in_flight() {
    let (conn, mut router) = session(2, Duration::from_millis(300));
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.call(Request::new(&format!("/c{i}"))).await })
        })
        .collect();
    let first = router.request().await;
    let second = router.request().await;
    // Only two went out; answer them, and the third goes out after.
    router
        .send(first.tag().expect("tag"), vec![Reply::done()])
        .await;
    router
        .send(second.tag().expect("tag"), vec![Reply::done()])
        .await;
    let third = router.request().await;
    router
        .send(third.tag().expect("tag"), vec![Reply::done()])
        .await;
    for c in calls {
        assert!(c.await.expect("task").is_ok());
    }

    // A full window until the deadline: the waiting command is Busy, never sent.
    let held: Vec<_> = (0..2)
        .map(|i| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.call(Request::new(&format!("/hold{i}"))).await })
        })
        .collect();
    router.request().await;
    router.request().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = conn
        .call_with_timeout(Request::new("/waits"), Duration::from_millis(100))
        .await
        .expect_err("busy");
    assert!(matches!(err, RouterError::Busy { .. }), "{err:?}");
    assert!(!err.is_outcome_unknown());
    for h in held {
        let _ = h.await;
    }
}
