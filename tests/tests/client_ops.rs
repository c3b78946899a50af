//! Every typed operation of the agent's RouterOS client against the simulator.

use hotspot_agent::routeros::{
    HotspotUser, ProfileSpec, Router, RouterConfig, RouterError, RouterId, UserChanges, UserQuery,
};
use hotspot_shared::units::RosDuration;
use hotspot_tests::sim::{self, SimConfig, SimHandle};

fn router_for(sim: &SimHandle) -> Router {
    let addr = sim.api_addr();
    Router::new(RouterConfig::plain(
        addr.ip().to_string(),
        addr.port(),
        "admin",
        "sim-password",
    ))
}

async fn start(cfg: SimConfig) -> (SimHandle, Router) {
    let sim = sim::start(cfg).await.expect("simulator starts");
    let router = router_for(&sim);
    (sim, router)
}

fn voucher(name: &str) -> HotspotUser {
    HotspotUser {
        limit_uptime: Some(RosDuration::from_secs(3600)),
        limit_bytes_total: Some(500 * 1024 * 1024),
        comment: Some(b"ledger:v1 Caf\xe9".to_vec()),
        ..HotspotUser::new(name, format!("{name}-pw"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_print_find_set_remove_a_user() {
    let (sim, router) = start(SimConfig::local()).await;
    let id = router
        .add_hotspot_user(&voucher("V7K2"))
        .await
        .expect("added");
    assert!(id.as_str().starts_with('*'));

    let on_sim = sim.user("V7K2").expect("on the router");
    assert_eq!(on_sim.password, "V7K2-pw");
    assert_eq!(on_sim.limit_uptime, Some(3600));
    assert_eq!(
        on_sim.comment,
        b"ledger:v1 Caf\xe9".to_vec(),
        "comment bytes kept as sent"
    );

    let found = router
        .find_hotspot_user("V7K2")
        .await
        .expect("print")
        .expect("found");
    assert_eq!(found.id, id);
    assert_eq!(found.profile.as_deref(), Some("default"));
    assert_eq!(found.limit_uptime, Some(RosDuration::from_secs(3600)));
    assert_eq!(found.limit_bytes_total, Some(500 * 1024 * 1024));
    assert_eq!(found.comment.as_deref(), Some(&b"ledger:v1 Caf\xe9"[..]));
    assert_eq!(
        (
            found.uptime,
            found.bytes_in,
            found.bytes_out,
            found.disabled
        ),
        (RosDuration::ZERO, 0, 0, false)
    );

    let duplicate = router
        .add_hotspot_user(&voucher("V7K2"))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(duplicate, RouterError::AlreadyExists { .. }),
        "{duplicate:?}"
    );

    let changes = UserChanges {
        disabled: Some(true),
        limit_uptime: Some(RosDuration::from_secs(7200)),
        ..Default::default()
    };
    router.set_hotspot_user(&id, &changes).await.expect("set");
    let after = sim.user("V7K2").expect("still there");
    assert!(after.disabled);
    assert_eq!(after.limit_uptime, Some(7200));

    let names_only = UserQuery {
        name: None,
        proplist: Some(vec!["name".into()]),
    };
    let listed = router
        .print_hotspot_users(&names_only)
        .await
        .expect("print");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].password.as_deref()),
        ("V7K2", None)
    );

    router.remove_hotspot_user(&id).await.expect("removed");
    assert_eq!(sim.user_count(), 0);
    assert_eq!(router.find_hotspot_user("V7K2").await.expect("print"), None);
    let gone = router
        .remove_hotspot_user(&id)
        .await
        .expect_err("already gone");
    assert!(matches!(gone, RouterError::NoSuchItem { .. }), "{gone:?}");
    let unknown = RouterId::new("*FFFF").expect("id");
    assert!(matches!(
        router.set_hotspot_user(&unknown, &changes).await,
        Err(RouterError::NoSuchItem { .. })
    ));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_profile_is_a_trap_with_the_routers_message() {
    let (sim, router) = start(SimConfig::local()).await;
    let user = HotspotUser {
        profile: "no-such-profile".into(),
        ..voucher("P1")
    };
    match router.add_hotspot_user(&user).await {
        Err(RouterError::Trap { message, .. }) => assert!(message.contains("profile"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_profile_creates_updates_and_leaves_alone() {
    let (sim, router) = start(SimConfig::local()).await;
    let spec = ProfileSpec {
        name: "1h-2M".into(),
        rate_limit: Some("2M/5M".into()),
        shared_users: Some(1),
    };
    assert!(router.ensure_profile(&spec).await.expect("created"));
    assert!(!router.ensure_profile(&spec).await.expect("exists"));
    let faster = ProfileSpec {
        rate_limit: Some("5M/10M".into()),
        shared_users: Some(2),
        ..spec.clone()
    };
    let served = sim.commands_served();
    assert!(!router.ensure_profile(&faster).await.expect("updated"));
    assert_eq!(sim.commands_served() - served, 2, "one print and one set");
    let served = sim.commands_served();
    assert!(!router.ensure_profile(&faster).await.expect("converged"));
    assert_eq!(
        sim.commands_served() - served,
        1,
        "print only: nothing differs"
    );

    // The profile exists for users now.
    let user = HotspotUser {
        profile: "1h-2M".into(),
        ..voucher("P2")
    };
    router
        .add_hotspot_user(&user)
        .await
        .expect("added with the new profile");
    assert_eq!(sim.user("P2").expect("user").profile, "1h-2M");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_menus_and_hotspot_servers() {
    let (sim, router) = start(SimConfig::local()).await;
    assert_eq!(router.identity().await.expect("identity"), "sim-router");
    let res = router.system_resource().await.expect("resource");
    assert!(res.version.starts_with("7.16"), "{}", res.version);
    assert!(res.total_memory > 0 && res.free_memory <= res.total_memory);
    assert!(res.cpu_count >= 1 && res.cpu_load <= 100);
    assert_eq!(res.board_name, "RB5009UG+S+");
    assert!(!res.architecture.is_empty());

    let board = router
        .routerboard()
        .await
        .expect("routerboard")
        .expect("a RouterBOARD");
    assert_eq!(board.model, "RB5009UG+S+");
    assert!(board.serial.is_some() && board.current_firmware.is_some());

    let servers = router.hotspot_servers().await.expect("servers");
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].name, "hotspot1");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chr_has_no_routerboard() {
    let (sim, router) = start(SimConfig {
        model: "CHR".into(),
        ..SimConfig::local()
    })
    .await;
    assert_eq!(router.routerboard().await.expect("not an error"), None);
    // The session stays usable after the trap.
    assert_eq!(router.identity().await.expect("identity"), "sim-router");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_replies_of_7_19_are_no_items() {
    let (sim, router) = start(SimConfig {
        ros_version: "7.19".parse().expect("v"),
        ..SimConfig::local()
    })
    .await;
    assert_eq!(
        router.find_hotspot_user("nobody").await.expect("no error"),
        None
    );
    assert!(router.active_sessions().await.expect("no error").is_empty());
    assert!(
        router
            .print_hotspot_users(&UserQuery::default())
            .await
            .expect("no error")
            .is_empty()
    );
    router
        .add_hotspot_user(&voucher("E1"))
        .await
        .expect("added");
    assert_eq!(
        router
            .print_hotspot_users(&UserQuery::default())
            .await
            .expect("print")
            .len(),
        1
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_sessions_and_kick() {
    let (sim, router) = start(SimConfig::local()).await;
    router
        .add_hotspot_user(&voucher("A1"))
        .await
        .expect("added");
    let session_id = sim.login_customer("A1").expect("customer logs in");
    let sessions = router.active_sessions().await.expect("active");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id.as_str(), session_id);
    assert_eq!(sessions[0].user, "A1");
    assert!(
        sessions[0].session_time_left.is_some(),
        "the voucher has a time limit"
    );
    router.kick_session(&sessions[0].id).await.expect("kicked");
    assert!(sim.active().is_empty());
    assert!(matches!(
        router.kick_session(&sessions[0].id).await,
        Err(RouterError::NoSuchItem { .. })
    ));
    sim.shutdown().await;
}
