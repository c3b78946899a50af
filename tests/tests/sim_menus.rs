//! Menus as a router answers them: hotspot users (add, print with queries and `.proplist`,
//! set, remove), the router's own error wording, profiles, active sessions and the system
//! menus — over raw sentences with the shared codec.

use hotspot_shared::routeros::{ReplyKind, Request};
use hotspot_tests::sim::testing::{
    add_user, kinds, logged_in, ret, rows, sim_version, trap_message,
};
use hotspot_tests::sim::{NewUser, SimConfig, start};

#[tokio::test]
async fn users_add_print_query_proplist_set_remove() {
    let h = sim_version("7.16").await;
    let mut c = logged_in(h.api_addr()).await;
    let mut ids = Vec::new();
    for name in ["V1", "V2", "V3"] {
        ids.push(ret(&c.call(&add_user(name)).await.expect("added")));
    }
    assert_eq!(ids, ["*1", "*2", "*3"], "ids count up in upper-case hex");

    // Full print carries the documented properties.
    let r = c
        .call(&Request::new("/ip/hotspot/user/print"))
        .await
        .expect("print");
    let all = rows(&r);
    assert_eq!(all.len(), 3);
    for key in [
        ".id",
        "name",
        "password",
        "profile",
        "uptime",
        "bytes-in",
        "bytes-out",
        "limit-uptime",
        "disabled",
    ] {
        assert!(
            all[0].attrs.get(key).is_some(),
            "print shows {key}: {:?}",
            all[0]
        );
    }
    assert_eq!(all[0].attrs.get_str("limit-uptime").as_deref(), Some("1h"));

    // Query plus both .proplist forms.
    for req in [
        Request::new("/ip/hotspot/user/print")
            .proplist(&[".id", "name"])
            .query("name=V2"),
        Request::new("/ip/hotspot/user/print")
            .attr(".proplist", ".id,name")
            .query("name=V2"),
    ] {
        let r = c.call(&req).await.expect("print");
        let found = rows(&r);
        assert_eq!(found.len(), 1, "{r:?}");
        let props: Vec<&[u8]> = found[0].attrs.iter().map(|(k, _)| k).collect();
        assert_eq!(props, [&b".id"[..], b"name"]);
        assert_eq!(found[0].attrs.get_str(".id").as_deref(), Some("*2"));
    }

    // OR and NOT through the stack.
    let r = c
        .call(
            &Request::new("/ip/hotspot/user/print")
                .query("name=V1")
                .query("name=V3")
                .query("#|")
                .query("#!"),
        )
        .await
        .expect("print");
    let names: Vec<String> = rows(&r)
        .iter()
        .filter_map(|x| x.attrs.get_str("name").map(|n| n.into_owned()))
        .collect();
    assert_eq!(names, ["V2"]);

    let r = c
        .call(&Request::new("/ip/hotspot/user/print").attr("count-only", ""))
        .await
        .expect("count");
    assert_eq!(ret(&r), "3");

    // set by .id and by numbers=<name>, remove several at once.
    let r = c
        .call(
            &Request::new("/ip/hotspot/user/set")
                .attr(".id", "*1")
                .attr("comment", b"Caf\xe9".to_vec()),
        )
        .await;
    assert_eq!(kinds(&r.expect("set")), [ReplyKind::Done]);
    let r = c
        .call(
            &Request::new("/ip/hotspot/user/set")
                .attr("numbers", "V2")
                .attr("disabled", "yes"),
        )
        .await;
    assert_eq!(kinds(&r.expect("set")), [ReplyKind::Done]);
    let r = c
        .call(&Request::new("/ip/hotspot/user/print").query("comment"))
        .await
        .expect("print");
    assert_eq!(
        rows(&r)[0].attrs.get("comment"),
        Some(&b"Caf\xe9"[..]),
        "non-UTF-8 bytes survive"
    );
    let r = c
        .call(&Request::new("/ip/hotspot/user/print").query("disabled=true"))
        .await
        .expect("print");
    assert_eq!(rows(&r)[0].attrs.get_str("name").as_deref(), Some("V2"));

    let r = c
        .call(&Request::new("/ip/hotspot/user/remove").attr(".id", "*1,*3"))
        .await
        .expect("remove");
    assert_eq!(kinds(&r), [ReplyKind::Done]);
    assert_eq!(
        h.users()
            .iter()
            .map(|u| u.name.as_str())
            .collect::<Vec<_>>(),
        ["V2"]
    );
    // Ids are never reused.
    assert_eq!(ret(&c.call(&add_user("V4")).await.expect("added")), "*4");
    h.shutdown().await;
}

#[tokio::test]
async fn the_routers_own_error_wording() {
    let h = sim_version("7.16").await;
    let mut c = logged_in(h.api_addr()).await;
    ret(&c.call(&add_user("DUP")).await.expect("added"));
    let r = c.call(&add_user("DUP")).await.expect("answered");
    assert_eq!(
        trap_message(&r),
        "failure: already have user with this name for this server"
    );

    let r = c
        .call(&Request::new("/ip/hotspot/user/remove").attr(".id", "*99"))
        .await
        .expect("answered");
    assert_eq!(trap_message(&r), "no such item");
    let r = c
        .call(
            &Request::new("/ip/hotspot/user/set")
                .attr(".id", "*99")
                .attr("comment", "x"),
        )
        .await
        .expect("answered");
    assert_eq!(trap_message(&r), "no such item");

    let r = c
        .call(&add_user("P1").attr("profile", "gold"))
        .await
        .expect("answered");
    assert_eq!(
        trap_message(&r),
        "input does not match any value of profile"
    );
    let r = c
        .call(&add_user("B1").attr("limit-uptime", "forever"))
        .await
        .expect("answered");
    assert_eq!(trap_message(&r), "invalid value for argument limit-uptime");
    let r = c
        .call(&add_user("B2").attr("limit-bytes-total", "lots"))
        .await
        .expect("answered");
    assert_eq!(
        trap_message(&r),
        "invalid value for argument limit-bytes-total"
    );
    assert_eq!(h.user_count(), 1, "refused adds change nothing");

    let r = c
        .call(&Request::new("/no/such/menu/print"))
        .await
        .expect("answered");
    assert_eq!(trap_message(&r), "no such command prefix");
    let r = c
        .call(&Request::new("/ip/hotspot/user/frobnicate"))
        .await
        .expect("answered");
    assert_eq!(trap_message(&r), "no such command");
    // Still usable.
    let r = c
        .call(&Request::new("/ip/hotspot/user/print").attr("count-only", ""))
        .await
        .expect("count");
    assert_eq!(ret(&r), "1");
    h.shutdown().await;
}

#[tokio::test]
async fn profiles_active_sessions_and_system_menus() {
    let h = sim_version("7.16").await;
    let mut c = logged_in(h.api_addr()).await;
    let r = c
        .call(&Request::new("/ip/hotspot/user/profile/print").query("name=default"))
        .await
        .expect("print");
    assert_eq!(rows(&r).len(), 1, "default profile exists");
    let r = c
        .call(&Request::new("/ip/hotspot/user/profile/remove").attr("numbers", "default"))
        .await
        .expect("answered");
    assert!(trap_message(&r).contains("default"));
    let add = Request::new("/ip/hotspot/user/profile/add")
        .attr("name", "1h-2users")
        .attr("shared-users", "2")
        .attr("rate-limit", "2M/5M");
    let pid = ret(&c.call(&add).await.expect("added"));
    ret(&c
        .call(&add_user("FAM").attr("profile", "1h-2users"))
        .await
        .expect("added"));
    let r = c
        .call(&Request::new("/ip/hotspot/user/profile/print").query(format!(".id={pid}")))
        .await
        .expect("print");
    assert_eq!(
        rows(&r)[0].attrs.get_str("shared-users").as_deref(),
        Some("2")
    );

    // Two customers may share this voucher, not three.
    h.login_customer("FAM").expect("first");
    h.login_customer("FAM").expect("second");
    assert!(h.login_customer("FAM").is_err(), "shared-users=2");
    let r = c
        .call(&Request::new("/ip/hotspot/active/print"))
        .await
        .expect("print");
    let active = rows(&r);
    assert_eq!(active.len(), 2);
    for key in [
        "user",
        "address",
        "mac-address",
        "uptime",
        "bytes-in",
        "bytes-out",
        "login-by",
    ] {
        assert!(
            active[0].attrs.get(key).is_some(),
            "active shows {key}: {:?}",
            active[0]
        );
    }
    assert!(
        active[0]
            .attrs
            .get_str("address")
            .is_some_and(|a| a.starts_with("10.5.50."))
    );
    let kick = active[0].attrs.get_str(".id").expect("id").into_owned();
    let r = c
        .call(&Request::new("/ip/hotspot/active/remove").attr(".id", kick))
        .await
        .expect("kick");
    assert_eq!(kinds(&r), [ReplyKind::Done]);
    assert_eq!(h.active().len(), 1);

    let r = c
        .call(&Request::new("/system/resource/print"))
        .await
        .expect("print");
    let res = rows(&r)[0];
    assert_eq!(
        res.attrs.get_str("version").as_deref(),
        Some("7.16 (stable)")
    );
    assert_eq!(
        res.attrs.get_str("board-name").as_deref(),
        Some("RB5009UG+S+")
    );
    assert!(
        res.attrs
            .get_str("cpu-load")
            .is_some_and(|l| l.parse::<u8>().is_ok())
    );
    let r = c
        .call(&Request::new("/system/routerboard/print"))
        .await
        .expect("print");
    assert_eq!(
        rows(&r)[0].attrs.get_str("model").as_deref(),
        Some("RB5009UG+S+")
    );
    let r = c
        .call(&Request::new("/system/identity/set").attr("name", "site-7"))
        .await
        .expect("set");
    assert_eq!(kinds(&r), [ReplyKind::Done]);
    let r = c
        .call(&Request::new("/system/identity/print"))
        .await
        .expect("print");
    assert_eq!(rows(&r)[0].attrs.get_str("name").as_deref(), Some("site-7"));
    let r = c
        .call(&Request::new("/ip/hotspot/print"))
        .await
        .expect("print");
    assert_eq!(
        rows(&r)[0].attrs.get_str("interface").as_deref(),
        Some("bridge")
    );
    h.shutdown().await;

    // A virtual router has no routerboard menu.
    let h = start(SimConfig {
        model: "CHR".into(),
        ..SimConfig::local()
    })
    .await
    .expect("starts");
    let mut c = logged_in(h.api_addr()).await;
    let r = c
        .call(&Request::new("/system/routerboard/print"))
        .await
        .expect("answered");
    assert_eq!(trap_message(&r), "no such command prefix");
    assert!(h.add_user_direct(NewUser::new("X", "y")).is_ok());
    h.shutdown().await;
}
