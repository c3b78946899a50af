//! The ledger behind the real fleet link: an agent's events travel over QUIC with mutual TLS,
//! and `LedgerInbound::apply` runs inside the link's own inbox transaction, on the ledger's
//! database. The site is the
//! one named by the agent's certificate.

mod store_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hotspot_controller::store::{AuditFilter, PageRequest, Stamp, Store};
use hotspot_link::{
    ClientConfig, ClientTls, ControlHooks, LinkClient, LinkConfig, LinkServer, RecordingInbox,
    RefuseRequests, ServerConfig, ServerTls,
};
use hotspot_pki::tls::{certs_from_pem, private_key_from_pem};
use hotspot_pki::{AgentKey, DEFAULT_CONTROLLER_CERT_VALIDITY, FleetCa, Revocations};
use hotspot_shared::domain::{PackageId, RouterId, StaffId, VoucherState};
use hotspot_shared::fleet::msg::{Answer, Command, Event, Query, SiteVoucher};
use hotspot_storage::{Db, Options};
use store_support::*;
use time::OffsetDateTime;

type Controller = LinkServer<Command, Event, Query, Answer>;
type Agent = LinkClient<Event, Command, Query, Answer>;

async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

#[tokio::test]
async fn events_from_an_agent_reach_the_ledger_once_and_only_for_its_site() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let f = fleet().await;
    let batch = ["V1", "V2"].map(|c| voucher(c, 1, 2, 1, T0)).to_vec();
    f.store
        .insert_vouchers(batch, &Stamp::staff(StaffId(2), T0))
        .unwrap()
        .durable()
        .await
        .unwrap();
    let v3 = voucher("V3", 3, 1, 1, T0);
    f.store
        .insert_vouchers(vec![v3], &Stamp::system(T0))
        .unwrap()
        .durable()
        .await
        .unwrap();

    let (ca, _) = FleetCa::generate(OffsetDateTime::now_utc()).unwrap();
    let cc = ca
        .issue_controller_cert(&["localhost".into()], DEFAULT_CONTROLLER_CERT_VALIDITY)
        .unwrap();
    let server_tls = ServerTls {
        cert_chain: certs_from_pem("chain", &cc.chain_pem).unwrap(),
        key: private_key_from_pem("key", &cc.key_pem).unwrap(),
        ca: ca.cert_der().clone(),
        revocations: Revocations::new().into_shared(),
    };
    let config = ServerConfig {
        link: LinkConfig::fast_for_tests(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServerConfig::default()
    };
    let db = f.store.db().clone();
    let inbound = f.store.inbound();
    let controller = Controller::start(
        config,
        &db,
        server_tls,
        inbound,
        RefuseRequests,
        ControlHooks::new(),
    )
    .await
    .expect("controller link starts");
    let addr = controller.local_addr().unwrap();

    let key = AgentKey::generate().unwrap();
    let csr = key.make_csr(&site("s1")).unwrap();
    let cert = ca
        .sign_agent_csr(
            &csr,
            &site("s1"),
            time::Duration::days(30),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let tls = ClientTls {
        ca: ca.cert_der().clone(),
        cert_chain: vec![cert.cert_der.clone()],
        key: key.private_key_der(),
    };
    let agent_dir = tempfile::tempdir().unwrap();
    let agent_db = Db::open(agent_dir.path().join("agent.redb"), Options::default()).unwrap();
    let commands = RecordingInbox::new(&agent_db, "test/commands");
    let client_config = ClientConfig {
        link: LinkConfig::fast_for_tests(),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        ..ClientConfig::new(addr, "localhost")
    };
    let agent = Agent::start(client_config, &agent_db, tls, commands, RefuseRequests)
        .await
        .unwrap();

    let prefix = f.store.site(&site("s1")).unwrap().unwrap().code_prefix;
    let sold = SiteVoucher {
        router: RouterId(2),
        package: PackageId(1),
        staff: StaffId(2),
        code: format!("{prefix}SITE22"),
        password: "pw".into(),
        price: usd(100),
        issued_at: T0 - 60,
    };
    let events = [
        Event::Applied {
            router: RouterId(1),
            code: "V1".into(),
            at: T0 + 1,
        },
        Event::IssuedAtSite(sold.clone()),
        Event::Applied {
            router: RouterId(2),
            code: sold.code.clone(),
            at: T0 + 2,
        },
        // Router 3 belongs to s2: refused whatever the message says.
        Event::Applied {
            router: RouterId(3),
            code: "V3".into(),
            at: T0 + 3,
        },
        Event::Failed {
            router: RouterId(1),
            code: "V2".into(),
            reason: "no".into(),
            conflict: false,
            at: T0 + 4,
        },
    ];
    agent
        .send_batch(&events)
        .await
        .expect("queued at the agent");

    let s = &f.store;
    let done = eventually(Duration::from_secs(20), || {
        s.voucher("V2")
            .unwrap()
            .is_some_and(|v| v.state == VoucherState::Failed)
    })
    .await;
    assert!(done, "events did not arrive");
    assert_eq!(
        s.voucher("V1").unwrap().unwrap().state,
        VoucherState::Active
    );
    let site_voucher = s.voucher(&sold.code).unwrap().unwrap();
    assert_eq!(
        (site_voucher.state, site_voucher.issued_at),
        (VoucherState::Active, T0 - 60)
    );
    assert_eq!(
        s.voucher("V3").unwrap().unwrap().state,
        VoucherState::Issued
    );
    let foreign = AuditFilter {
        action_prefix: Some("fleet.foreign-router".into()),
        ..Default::default()
    };
    let lines = s.audit(&foreign, &PageRequest::first(10)).unwrap().items;
    assert_eq!(lines.len(), 1);
    let issued = AuditFilter {
        action_prefix: Some("voucher.issue-at-site".into()),
        ..Default::default()
    };
    assert_eq!(
        s.audit(&issued, &PageRequest::first(10))
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(s.verify_vouchers().unwrap(), Ok(()));

    agent.shutdown().await.unwrap();
    controller.shutdown().await.unwrap();
}
