//! `hotspot-agent enroll` (its library function) against an in-process controller link with a
//! stub enroller: a good token gives a working identity, and each failure reads as the one
//! sentence an operator needs — the controller's words for a refused token, "CA fingerprint
//! mismatch" for a controller that is not the token's, and "already enrolled" before any token
//! is spent.

mod agent_harness;

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_harness::*;
use hotspot_agent::enroll::{EnrollFailure, EnrollOptions, enroll};
use hotspot_agent::identity::{CERT_FILE, KEY_FILE, KEYS_DIR};
use hotspot_link::{ControlHooks, EnrollGrant, EnrollRefusal, EnrollRequest, Enroller, Renewer};
use hotspot_pki::tls::certs_from_pem;
use hotspot_pki::{EnrollmentToken, FleetCa, SiteId, TokenRecord, serial_of};
use time::OffsetDateTime;

/// Checks tokens against the records it holds, as the controller does, and signs the CSR.
struct StubEnroller {
    ca: Arc<FleetCa>,
    records: Arc<Mutex<Vec<TokenRecord>>>,
}

impl Enroller for StubEnroller {
    async fn enroll(&self, request: EnrollRequest) -> Result<EnrollGrant, EnrollRefusal> {
        let token: EnrollmentToken = request
            .token
            .parse()
            .map_err(|e: hotspot_pki::TokenParseError| EnrollRefusal(e.to_string()))?;
        let mut records = self.records.lock().expect("lock");
        let record = records
            .iter_mut()
            .find(|r| r.site_id == *token.site_id())
            .ok_or_else(|| {
                EnrollRefusal("enrollment token is not valid for this controller".into())
            })?;
        record
            .check(&token, OffsetDateTime::now_utc())
            .map_err(|e| EnrollRefusal(e.to_string()))?;
        record.mark_used();
        let cert = self
            .ca
            .sign_agent_csr(
                &request.csr_der,
                token.site_id(),
                time::Duration::days(90),
                OffsetDateTime::now_utc(),
            )
            .map_err(|e| EnrollRefusal(e.to_string()))?;
        Ok(EnrollGrant {
            site_id: token.site_id().clone(),
            cert_chain_pem: format!("{}{}", cert.cert_pem, self.ca.cert_pem()),
            ca_pem: self.ca.cert_pem().to_string(),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_happy_path_and_every_refusal_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = Arc::new(Mutex::new(Vec::new()));
    let stub_records = records.clone();
    let controller = Controller::start_with(&dir.path().join("controller"), move |ca| {
        ControlHooks::new().with_enroller(StubEnroller {
            ca,
            records: stub_records,
        })
    })
    .await;
    let site: SiteId = "site-enroll".parse().expect("site");
    let (token, record) = EnrollmentToken::new(
        site.clone(),
        controller.ca.fingerprint_sha256(),
        OffsetDateTime::now_utc() + time::Duration::hours(1),
        &mut rand::rng(),
    );
    records.lock().expect("lock").push(record);
    let data_dir = dir.path().join("agent");
    let opts = |token: String| EnrollOptions {
        controller: controller.addr().to_string(),
        token,
        data_dir: data_dir.clone(),
        server_name: Some("localhost".into()),
        deadline: Duration::from_secs(10),
    };

    // A token for another fleet: its CA hash is not the controller's.
    let (foreign, _) = EnrollmentToken::new(
        site.clone(),
        [7u8; 32],
        OffsetDateTime::now_utc() + time::Duration::hours(1),
        &mut rand::rng(),
    );
    let err = enroll(&opts(foreign.to_string()))
        .await
        .expect_err("refused");
    assert!(matches!(err, EnrollFailure::CaMismatch { .. }), "{err}");
    assert!(err.to_string().contains("CA fingerprint mismatch"), "{err}");

    let done = enroll(&opts(token.to_string())).await.expect("enrolled");
    assert_eq!(done.site, site);
    let mode = std::fs::metadata(data_dir.join(KEY_FILE))
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "key file is private ({mode:o})");
    assert!(data_dir.join(CERT_FILE).exists() && data_dir.join(KEYS_DIR).is_dir());

    // The same directory again: refused before the token is spent.
    let err = enroll(&opts(token.to_string())).await.expect_err("already");
    assert!(
        err.to_string().contains("already holds an enrolled agent"),
        "{err}"
    );
    // The same token into a fresh directory: the controller's words.
    let again = EnrollOptions {
        data_dir: dir.path().join("agent-2"),
        ..opts(token.to_string())
    };
    let err = enroll(&again).await.expect_err("reused");
    assert!(matches!(err, EnrollFailure::Refused(_)), "{err}");
    assert!(err.to_string().contains("already used"), "{err}");

    // The enrolled identity connects.
    let agent = start_agent(settings(&data_dir, controller.addr())).await;
    let server = &controller.server;
    eventually(
        "the enrolled agent connects",
        Duration::from_secs(15),
        || server.connected_sites().contains(&site),
    )
    .await;
    agent.shutdown().await.expect("stops");
    controller.server.shutdown().await.expect("server stops");
}

struct StubRenewer {
    ca: Arc<FleetCa>,
}

impl Renewer for StubRenewer {
    async fn renew(&self, site: SiteId, csr_der: Vec<u8>) -> Result<String, String> {
        let cert = self
            .ca
            .sign_agent_csr(
                &csr_der,
                &site,
                time::Duration::days(90),
                OffsetDateTime::now_utc(),
            )
            .map_err(|e| e.to_string())?;
        Ok(format!("{}{}", cert.cert_pem, self.ca.cert_pem()))
    }
}

fn serial_in(path: &std::path::Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).expect("cert file");
    let certs = certs_from_pem("cert", &pem).expect("pem");
    format!("{:?}", serial_of(&certs[0]).expect("serial")).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_two_thirds_through_its_life_is_renewed_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let controller = Controller::start_with(&dir.path().join("controller"), |ca| {
        ControlHooks::new().with_renewer(StubRenewer { ca })
    })
    .await;
    let site: SiteId = "site-renew".parse().expect("site");
    let data_dir = dir.path().join("agent");
    let aged = OffsetDateTime::now_utc() - time::Duration::days(70);
    controller.enroll_dir_at(&site, &data_dir, aged);
    let old_serial = serial_in(&data_dir.join(CERT_FILE));
    let mut s = settings(&data_dir, controller.addr());
    s.jobs.renewal_check = Duration::from_millis(200);
    let agent = start_agent(s.clone()).await;
    eventually(
        "the certificate is replaced",
        Duration::from_secs(20),
        || serial_in(&data_dir.join(CERT_FILE)) != old_serial,
    )
    .await;
    let link = agent.link().expect("link");
    eventually(
        "reconnected with the new certificate",
        Duration::from_secs(15),
        || {
            let st = link.status();
            st.connected && st.sessions >= 2
        },
    )
    .await;
    let mode = std::fs::metadata(data_dir.join(KEY_FILE))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the new key is private too");
    drop(link);
    agent.shutdown().await.expect("stops");
    // The renewed pair is what the next start uses (and it is not due again).
    let agent = start_agent(s).await;
    let server = &controller.server;
    eventually("connects after restart", Duration::from_secs(15), || {
        server.connected_sites().contains(&site)
    })
    .await;
    assert!(!data_dir.join("renewal").exists(), "no staging left behind");
    agent.shutdown().await.expect("stops");
    controller.server.shutdown().await.expect("server stops");
}
