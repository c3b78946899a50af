//! The simulator's words on the wire, checked with raw sentences (the shared codec, not our
//! agent's client): logins, hotspot users, queries, traps, `!empty`, pipelining, menus.
//!
//! What MikroTik's documentation says and these tests hold the simulator to:
//! - API manual, "Queries": `?name=x`, `?name`, `?-name`, `?<name=x`, `?>name=x` push one
//!   value; `?#` applies `|` `&` `!` `.` and stack indexes; what is left is ANDed.
//! - API manual, login: 6.43+ `/login =name= =password=`; older routers a challenge (`=ret=`)
//!   answered with `00` + MD5(0 ++ password ++ challenge).
//! - RouterOS 7.18 changelog / client fixes (jaov/mikrotik-java "Fix of !empty response
//!   introduced in RouterOS 7.18"; Net_RouterOS_PHP): a command without items answers `!empty`
//!   before `!done`.
//! - Replies to a tagged command all carry its `.tag`; every command ends with `!done`; a
//!   `!trap` is followed by `!done`; `!fatal` closes the connection.

use std::collections::HashMap;

use hotspot_shared::routeros::{ReplyKind, Request};
use hotspot_tests::sim::RosVersion;
use hotspot_tests::sim::testing::{
    RawClient, add_user, kinds, logged_in, ret, rows, sim_version, trap_message,
};

#[tokio::test]
async fn plain_login_and_the_bad_password_wording() {
    let h = sim_version("7.16").await;
    let mut c = RawClient::connect(h.api_addr()).await.expect("connects");
    let r = c.login("admin", "wrong").await.expect("answered");
    assert_eq!(trap_message(&r), "invalid user name or password (6)");
    let r = c.login("nobody", "sim-password").await.expect("answered");
    assert_eq!(trap_message(&r), "invalid user name or password (6)");
    // The session survives a failed login, and the right password then works.
    let r = c.login("admin", "sim-password").await.expect("answered");
    assert_eq!(kinds(&r), [ReplyKind::Done]);
    let r = c
        .call(&Request::new("/system/identity/print"))
        .await
        .expect("answered");
    assert_eq!(
        rows(&r)[0].attrs.get_str("name").as_deref(),
        Some("sim-router")
    );
    h.shutdown().await;
}

#[tokio::test]
async fn legacy_md5_login_before_6_43() {
    let h = sim_version("6.40").await;
    assert!(
        "6.40"
            .parse::<RosVersion>()
            .expect("version")
            .legacy_login()
    );
    let mut c = RawClient::connect(h.api_addr()).await.expect("connects");
    // Even with a password sent along, an old router answers with a challenge.
    let r = c.login("admin", "sim-password").await.expect("answered");
    let challenge = ret(&r);
    assert_eq!(challenge.len(), 32, "16 bytes in hex: {challenge}");
    assert!(challenge.bytes().all(|b| b.is_ascii_hexdigit()));
    let r = c
        .login_legacy("admin", "sim-password")
        .await
        .expect("answered");
    assert_eq!(kinds(&r), [ReplyKind::Done], "{r:?}");

    let mut bad = RawClient::connect(h.api_addr()).await.expect("connects");
    let r = bad.login_legacy("admin", "wrong").await.expect("answered");
    assert_eq!(trap_message(&r), "cannot log in");
    h.shutdown().await;
}

#[tokio::test]
async fn a_command_before_login_is_fatal() {
    let h = sim_version("7.16").await;
    let mut c = RawClient::connect(h.api_addr()).await.expect("connects");
    let r = c
        .call(&Request::new("/ip/hotspot/user/print"))
        .await
        .expect("answered");
    assert_eq!(kinds(&r), [ReplyKind::Fatal]);
    assert_eq!(r[0].message().as_deref(), Some("not logged in"));
    assert!(
        c.read_reply().await.expect("clean close").is_none(),
        "connection closed after !fatal"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn quit_and_malformed_input_end_the_session_with_fatal() {
    let h = sim_version("7.16").await;
    let mut c = logged_in(h.api_addr()).await;
    let r = c.call(&Request::new("/quit")).await.expect("answered");
    assert_eq!(
        r[0].message().as_deref(),
        Some("session terminated on request")
    );
    assert!(c.read_reply().await.expect("closed").is_none());

    let mut c = logged_in(h.api_addr()).await;
    c.send_bytes(&[0xF8, 0x01]).await.expect("sent");
    let r = c.read_reply().await.expect("answered").expect("a reply");
    assert_eq!(r.kind, ReplyKind::Fatal);
    assert!(
        r.message().is_some_and(|m| m.contains("control byte")),
        "{r:?}"
    );
    assert!(c.read_reply().await.expect("closed").is_none());

    let mut c = logged_in(h.api_addr()).await;
    c.send_words(&[&b"/ip/hotspot/user/print"[..], b"bare-word"])
        .await
        .expect("sent");
    assert_eq!(
        c.read_reply()
            .await
            .expect("answered")
            .expect("a reply")
            .kind,
        ReplyKind::Fatal
    );
    h.shutdown().await;
}

#[tokio::test]
async fn empty_reply_from_7_18_only() {
    for (version, expected) in [
        ("7.19", vec![ReplyKind::Empty, ReplyKind::Done]),
        ("7.18", vec![ReplyKind::Empty, ReplyKind::Done]),
        ("7.16", vec![ReplyKind::Done]),
        ("6.49.10", vec![ReplyKind::Done]),
    ] {
        let h = sim_version(version).await;
        let mut c = logged_in(h.api_addr()).await;
        let r = c
            .call(&Request::new("/ip/hotspot/user/print").with_tag("5"))
            .await
            .expect("print");
        assert_eq!(kinds(&r), expected, "version {version}");
        assert!(
            r.iter().all(|x| x.tag.as_deref() == Some(&b"5"[..])),
            "tagged: {r:?}"
        );
        h.shutdown().await;
    }
}

#[tokio::test]
async fn pipelined_tagged_commands_are_answered_in_order_with_their_tags() {
    let h = sim_version("7.19").await;
    let mut c = logged_in(h.api_addr()).await;
    const N: usize = 200;
    for i in 0..N {
        c.send(&add_user(&format!("PIPE{i:03}")).with_tag(i.to_string()))
            .await
            .expect("sent");
    }
    c.send(&add_user("PIPE000").with_tag("dup"))
        .await
        .expect("sent");
    c.send(
        &Request::new("/ip/hotspot/user/print")
            .attr("count-only", "")
            .with_tag("count"),
    )
    .await
    .expect("sent");
    let mut done_ids: HashMap<String, String> = HashMap::new();
    let mut order = Vec::new();
    while done_ids.len() < N + 2 {
        let r = c.read_reply().await.expect("read").expect("a reply");
        let tag =
            String::from_utf8(r.tag.clone().expect("every reply is tagged")).expect("ascii tag");
        match r.kind {
            ReplyKind::Done => {
                order.push(tag.clone());
                done_ids.insert(
                    tag,
                    r.attrs
                        .get_str("ret")
                        .map(|s| s.into_owned())
                        .unwrap_or_default(),
                );
            }
            ReplyKind::Trap => assert_eq!(tag, "dup", "only the duplicate fails"),
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected: Vec<String> = (0..N)
        .map(|i| i.to_string())
        .chain(["dup".into(), "count".into()])
        .collect();
    assert_eq!(order, expected, "one session's commands run in order");
    assert_eq!(done_ids["0"], "*1");
    assert_eq!(done_ids[&(N - 1).to_string()], format!("*{N:X}"));
    assert_eq!(done_ids["count"], N.to_string());
    assert_eq!(h.user_count(), N);
    h.shutdown().await;
}
