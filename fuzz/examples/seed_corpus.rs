//! Writes the seed inputs of every fuzz target into `corpus/<target>/seed-*`: a handful of valid
//! inputs each, made with the project's own encoders so they track the formats.
//!
//! `cd fuzz && cargo +nightly run --example seed_corpus` (plain build, no fuzzing flags).
//! Seeds are overwritten in place; other corpus files are left alone.

use std::fs;
use std::path::Path;

use hotspot_link::wire::{EnrollGrant, EnrollReply, EnrollRequest, LinkRequest, LinkResponse};
use hotspot_pki::{AgentKey, DEFAULT_AGENT_CERT_VALIDITY, FleetCa, SiteId};
use hotspot_shared::domain::{
    ActiveSession, Currency, FailureKind, HealthSample, Money, Origin, Package, PackageId,
    ProfileSpec, RemovalReason, RouterFailure, RouterId, RouterInfo, RouterSpec, RouterTls,
    StaffId, UsageSample, VoucherUser,
};
use hotspot_shared::fleet::msg::{
    Answer, Command, Event, HeldStatus, HeldVoucher, Issue, Query, SiteVoucher, StaffEntry,
};
use hotspot_shared::fleet::{Envelope, MAX_FRAME_LEN, Numbering, Refusal, encode_frame};
use hotspot_shared::routeros::{Reply, Request, encode_sentence};
use hotspot_shared::units::RosDuration;
use time::OffsetDateTime;

type ToAgent = Envelope<Command, LinkRequest<Query>, LinkResponse<Answer>>;
type ToController = Envelope<Event, LinkRequest<Query>, LinkResponse<Answer>>;

const HEX64: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("corpus dir");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("seed written");
}

fn frame<T: serde::Serialize>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        encode_frame(v, MAX_FRAME_LEN, &mut out).expect("frame");
    }
    out
}

/// A seed byte, then the bytes (targets that take a leading control byte).
fn with_seed(seed: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![seed];
    v.extend_from_slice(bytes);
    v
}

fn sentence(words: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_sentence(words, &mut out).expect("sentence");
    out
}

fn routeros() {
    let login = sentence(&[b"/login", b"=name=admin", b"=password=secret"]);
    let mut print = Vec::new();
    Request::new("/ip/hotspot/user/print")
        .proplist(&[".id", "name", "uptime", "bytes-in"])
        .query("name=V7K2")
        .query("-disabled")
        .query("#|")
        .with_tag("12")
        .encode(&mut print)
        .expect("request");
    let mut replies = Vec::new();
    for r in [
        Reply::re(
            [
                (".id", "*1A"),
                ("name", "V7K2"),
                ("uptime", "1d02:03:04"),
                ("bytes-in", "1048576"),
                ("comment", "a=b==c"),
            ]
            .into_iter()
            .collect(),
        )
        .with_tag(Some(b"12")),
        Reply::new(hotspot_shared::routeros::ReplyKind::Empty).with_tag(Some(b"7")),
        Reply::trap(
            Some(hotspot_shared::routeros::TrapCategory::ArgumentValueFailure),
            "failure: already have user with this name for this server",
        )
        .with_tag(Some(b"4")),
        Reply::done().with_tag(Some(b"12")),
        Reply::fatal("not logged in"),
    ] {
        r.encode(&mut replies).expect("reply");
    }
    // A 200-byte word (2-byte length prefix) in the middle of a `!re`.
    let long = [b"=comment=".as_slice(), &[b'x'; 191]].concat();
    let long = [sentence(&[b"!re", &long]), sentence(&[b"!done"])].concat();
    let empty = vec![0u8];

    for (name, bytes) in [
        ("login", &login),
        ("print", &print),
        ("replies", &replies),
        ("long-word", &long),
        ("empty-sentence", &empty),
    ] {
        write("routeros_reply", name, bytes);
        write("routeros_words", name, &with_seed(3, bytes));
    }
    write(
        "routeros_words",
        "five-byte-prefix",
        &[0, 0xF0, 0, 0, 0, 3, b'a', b'b', b'c', 0],
    );
}

fn router_id() -> RouterId {
    RouterId(7)
}

fn voucher(code: &str) -> VoucherUser {
    VoucherUser {
        code: code.into(),
        password: "pw".into(),
        profile: "1h-1g".into(),
        limit_uptime: Some(RosDuration::from_secs(3600)),
        limit_bytes_total: Some(1 << 30),
        validity: Some(RosDuration::from_secs(86_400)),
        comment: "hotspot-fleet".into(),
    }
}

fn issue() -> Issue {
    Issue {
        package: PackageId(3),
        package_name: "1 hour".into(),
        staff: StaffId(2),
        price: Money::new(500, Currency::new("USD").expect("currency")),
        issued_at: 1_777_000_000,
        origin: Origin::Central,
    }
}

fn info() -> RouterInfo {
    RouterInfo {
        identity: "MikroTik".into(),
        model: Some("hAP ax2".into()),
        board_name: "hAP ax^2".into(),
        version: "7.18.2 (stable)".into(),
        firmware: Some("7.18.2".into()),
        serial: Some("HF1234567".into()),
        architecture: "arm64".into(),
    }
}

fn health() -> HealthSample {
    HealthSample {
        at: 1_777_000_000,
        cpu_load: 12,
        free_memory: 700 << 20,
        total_memory: 1 << 30,
        uptime_secs: 86_400,
        active_users: 3,
        version: "7.18.2".into(),
    }
}

fn spec() -> RouterSpec {
    RouterSpec {
        id: router_id(),
        name: "lobby".into(),
        host: "192.168.88.1".into(),
        port: 8729,
        username: "fleet".into(),
        password: "secret".into(),
        tls: Some(RouterTls::Pin([9; 32])),
    }
}

fn side_channel() -> Vec<Envelope<(), LinkRequest<Query>, LinkResponse<Answer>>> {
    vec![
        Envelope::Request {
            id: 1,
            deadline_ms: 5000,
            body: LinkRequest::App(Query::TestRouter(RouterSpec {
                tls: Some(RouterTls::CaPem("-----BEGIN CERTIFICATE-----\n".into())),
                ..spec()
            })),
        },
        Envelope::Request {
            id: 2,
            deadline_ms: 5000,
            body: LinkRequest::App(Query::Kick {
                router: router_id(),
                session: "*2".into(),
            }),
        },
        Envelope::Request {
            id: 3,
            deadline_ms: 5000,
            body: LinkRequest::Renew {
                csr_der: vec![0x30, 0x81, 0xE0],
            },
        },
        Envelope::Response {
            id: 1,
            body: LinkResponse::App(Answer::Tested(info())),
        },
        Envelope::Response {
            id: 2,
            body: LinkResponse::App(Answer::Active(vec![ActiveSession {
                id: "*2".into(),
                user: "V7K2".into(),
                address: "10.5.50.9".into(),
                mac_address: "AA:BB:CC:DD:EE:FF".into(),
                uptime_secs: 60,
                bytes_in: 1000,
                bytes_out: 2000,
            }])),
        },
        Envelope::Response {
            id: 3,
            body: LinkResponse::App(Answer::Failed(RouterFailure::new(
                FailureKind::Timeout,
                "no answer within 5s",
            ))),
        },
        Envelope::Response {
            id: 4,
            body: LinkResponse::Renewed {
                cert_chain_pem: "-----BEGIN CERTIFICATE-----\n".into(),
            },
        },
    ]
}

/// Re-types a frame whose data slot is unused (postcard writes variants by index).
fn retype<D: serde::de::DeserializeOwned>(
    e: &Envelope<(), LinkRequest<Query>, LinkResponse<Answer>>,
) -> Envelope<D, LinkRequest<Query>, LinkResponse<Answer>> {
    postcard::from_bytes(&postcard::to_stdvec(e).expect("encodes")).expect("re-types")
}

fn fleet(ca_pem: &str, chain_pem: &str, csr_der: &[u8]) {
    let numbering = Numbering {
        epoch: 0x1234_5678_9abc_def0,
        base: 0,
        received_epoch: 0x0fed_cba9_8765_4321,
    };
    let commands = vec![
        Command::CreateVouchers {
            router: router_id(),
            profile: ProfileSpec {
                name: "1h-1g".into(),
                rate_limit: Some("2M/4M".into()),
                shared_users: Some(1),
            },
            issue: issue(),
            vouchers: vec![voucher("V7K2"), voucher("Q9X4")],
        },
        Command::RemoveVoucher {
            router: router_id(),
            code: "V7K2".into(),
            reason: RemovalReason::Revoked,
        },
        Command::Catalogue {
            packages: vec![Package {
                id: PackageId(3),
                name: "1 hour".into(),
                price: Money::new(500, Currency::new("UGX").expect("currency")),
                time_limit: Some(RosDuration::from_secs(3600)),
                data_limit: None,
                validity: Some(RosDuration::from_secs(86_400)),
                rate_limit: None,
                shared_users: 1,
                profile: "1h".into(),
            }],
        },
        Command::StaffDirectory {
            staff: vec![StaffEntry {
                id: StaffId(2),
                username: "ann".into(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                routers: vec![router_id()],
                disabled: false,
            }],
        },
        Command::CodeGrant {
            prefix: "S3".into(),
            budget: 200,
        },
        Command::SyncNow { router: None },
        Command::SendInventory {
            reason: "lost state".into(),
        },
    ];
    let mut to_agent: Vec<ToAgent> = vec![ToAgent::hello(3, "hotspot-controller 0.1.0", numbering)];
    to_agent.extend(
        commands
            .into_iter()
            .enumerate()
            .map(|(i, body)| Envelope::Data {
                seq: i as u64 + 1,
                body,
            }),
    );
    to_agent.push(Envelope::Ack { seq: 5 });
    to_agent.push(Envelope::Heartbeat {
        sent_at_ms: 1_777_000_000_000,
    });
    let side: Vec<ToAgent> = side_channel().iter().map(retype).collect();
    let refuse = ToAgent::Refuse(Refusal::UnsupportedVersion {
        got: 1,
        supported: 2,
    });
    write(
        "fleet_to_agent",
        "session",
        &with_seed(0, &frame(&to_agent)),
    );
    write(
        "fleet_to_agent",
        "side-channel",
        &with_seed(2, &frame(&side)),
    );
    write("fleet_to_agent", "refuse", &with_seed(4, &frame(&[refuse])));
    let granted = EnrollReply::Granted(EnrollGrant {
        site_id: SiteId::new("site-1").expect("site"),
        cert_chain_pem: chain_pem.into(),
        ca_pem: ca_pem.into(),
    });
    write(
        "fleet_to_agent",
        "enroll-granted",
        &with_seed(1, &frame(&[granted])),
    );
    let refused = EnrollReply::Refused("enrollment token was already used".into());
    write(
        "fleet_to_agent",
        "enroll-refused",
        &with_seed(3, &frame(&[refused])),
    );

    let held = HeldVoucher {
        router: router_id(),
        user: voucher("V7K2"),
        issue: issue(),
        status: HeldStatus::OnRouter,
        first_used_at: Some(1_777_000_100),
    };
    let events = vec![
        Event::Applied {
            router: router_id(),
            code: "V7K2".into(),
            at: 1_777_000_000,
        },
        Event::Failed {
            router: router_id(),
            code: "Q9X4".into(),
            reason: "already have user with this name".into(),
            conflict: true,
            at: 1_777_000_001,
        },
        Event::IssuedAtSite(SiteVoucher {
            router: router_id(),
            package: PackageId(3),
            staff: StaffId(2),
            code: "S3AB12".into(),
            password: "pw".into(),
            price: Money::new(500, Currency::new("USD").expect("currency")),
            issued_at: 1_777_000_002,
        }),
        Event::Usage {
            router: router_id(),
            at: 1_777_000_003,
            samples: vec![UsageSample {
                code: "V7K2".into(),
                uptime_secs: 600,
                bytes_in: 1 << 20,
                bytes_out: 1 << 22,
                online: true,
            }],
        },
        Event::Health {
            router: router_id(),
            sample: health(),
        },
        Event::Drift {
            router: router_id(),
            at: 1_777_000_004,
            unknown: vec!["X1".into()],
            restored: vec!["V7K2".into()],
        },
        Event::RouterDown {
            router: router_id(),
            failure: RouterFailure::new(FailureKind::Unreachable, "connection refused"),
            at: 1_777_000_005,
        },
        Event::Inventory {
            round: 1,
            reason: "wiped disk".into(),
            vouchers: vec![held],
            last: true,
        },
    ];
    let mut to_controller: Vec<ToController> =
        vec![ToController::hello(0, "hotspot-agent 0.1.0", numbering)];
    to_controller.extend(
        events
            .into_iter()
            .enumerate()
            .map(|(i, body)| Envelope::Data {
                seq: i as u64 + 1,
                body,
            }),
    );
    to_controller.push(Envelope::Ack { seq: 2 });
    let side: Vec<ToController> = side_channel().iter().map(retype).collect();
    write(
        "fleet_to_controller",
        "session",
        &with_seed(0, &frame(&to_controller)),
    );
    write(
        "fleet_to_controller",
        "side-channel",
        &with_seed(2, &frame(&side)),
    );
    let token = format!("hfe1.site-1.{}.{HEX64}", &HEX64[..32]);
    let enroll = EnrollRequest {
        version: 1,
        token,
        csr_der: csr_der.to_vec(),
    };
    write(
        "fleet_to_controller",
        "enroll",
        &with_seed(1, &frame(&[enroll])),
    );
}

fn pki() -> (String, String, Vec<u8>) {
    let now = OffsetDateTime::now_utc();
    let (ca, ca_key_pem) = FleetCa::generate(now).expect("CA");
    let site = SiteId::new("site-1").expect("site");
    let key = AgentKey::generate().expect("key");
    let csr = key.make_csr(&site).expect("csr");
    let agent = ca
        .sign_agent_csr(&csr, &site, DEFAULT_AGENT_CERT_VALIDITY, now)
        .expect("signed");
    let chain_pem = format!("{}{}", agent.cert_pem, ca.cert_pem());
    let controller = ca
        .issue_controller_cert(
            &["ctl.example.net".into(), "10.0.0.1".into()],
            hotspot_pki::DEFAULT_CONTROLLER_CERT_VALIDITY,
        )
        .expect("controller cert");

    write("pki_pem", "agent-chain", chain_pem.as_bytes());
    write(
        "pki_pem",
        "controller-chain",
        controller.chain_pem.as_bytes(),
    );
    write("pki_pem", "agent-key", key.key_pem().as_bytes());
    write("pki_pem", "ca-key", ca_key_pem.as_bytes());
    write("pki_cert_der", "agent", agent.cert_der.as_ref());
    write("pki_cert_der", "ca", ca.cert_der().as_ref());
    write(
        "pki_cert_der",
        "controller",
        controller.cert.cert_der.as_ref(),
    );
    write("pki_csr", "agent-p256", &csr);

    let token = format!("hfe1.site-1.{}.{HEX64}", &HEX64[16..48]);
    write("enroll_token", "token", token.as_bytes());
    write(
        "enroll_token",
        "token-padded",
        format!(
            "  {}\n",
            token.to_uppercase().replace("HFE1.SITE-1", "hfe1.site-1")
        )
        .as_bytes(),
    );
    write("enroll_token", "serial-colons", b"01:23:45:67:89:ab:cd:ef");
    write("enroll_token", "serial-der", &[0x00, 0x9f, 0x31, 0x02]);
    write("enroll_token", "site", b"kampala-central-2");

    (ca.cert_pem().to_owned(), chain_pem, csr)
}

fn text_targets() {
    for (name, s) in [
        ("compact", "1w2d3h4m5s"),
        ("clock-days", "2w3d04:05:06"),
        ("clock-fraction", "00:00:00.5"),
        ("millis", "1s500ms"),
        ("human-words", "1 hour 30 minutes"),
        ("human-min", "90 min"),
        ("bytes", "1073741824"),
        ("size-fraction", "1.5G"),
        ("size-unit", "2 GiB"),
    ] {
        write("units", name, s.as_bytes());
    }
    write("units", "max", &[0xFF; 8]);

    let key = format!(
        "hotspot-fleet-master-key v1 id=7\n# AES-256-GCM master key sealing router passwords at rest.\n\n{HEX64}\n"
    );
    write("master_key_file", "v1", key.as_bytes());
    write(
        "master_key_file",
        "crlf",
        format!("hotspot-fleet-master-key v1 id=12\r\n{HEX64}").as_bytes(),
    );

    write(
        "agent_config",
        "default",
        hotspot_agent::config::DEFAULT_CONFIG.as_bytes(),
    );
    write(
        "agent_config",
        "small",
        b"data_dir = \"/var/lib/hotspot-agent\"\n\n[controller]\naddress = \"[2001:db8::1]:4433\"\nserver_name = \"ctl.example.net\"\nreconnect_max = \"30 s\"\ncongestion = \"cubic\"\n\n[apply]\nbatch_size = 100\n\n[local]\nlisten = \"192.168.88.2:8443\"\ntls = false\n",
    );
    write(
        "controller_config",
        "default",
        hotspot_controller::config::default_toml().as_bytes(),
    );
    write(
        "controller_config",
        "small",
        b"data_dir = \"/srv/hotspot\"\n\n[http]\nlisten = \"0.0.0.0:8080\"\npublic_url = \"https://hotspot.example.com/\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\ncookie_secure = true\n\n[jobs]\nreconcile_at = \"03:30\"\nutc_offset = \"+03:00\"\n\n[auth.throttle]\nlockout_base_secs = 30\n",
    );
}

/// The seeds that must be accepted are: a seed that is refused tests only the error path.
fn check_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let read = |target: &str, name: &str| {
        fs::read_to_string(dir.join(target).join(format!("seed-{name}"))).expect("seed")
    };
    for name in ["default", "small"] {
        let config = hotspot_agent::ConfigFile::parse(&read("agent_config", name)).expect(name);
        config.validate().expect(name);
        hotspot_controller::config::Config::from_toml(&read("controller_config", name))
            .expect(name);
    }
    for name in ["v1", "crlf"] {
        let text = read("master_key_file", name);
        hotspot_pki::keyfile::parse(Path::new(name), text.as_bytes()).expect(name);
    }
    for name in ["token", "token-padded"] {
        read("enroll_token", name)
            .parse::<hotspot_pki::EnrollmentToken>()
            .expect(name);
    }
    for name in [
        "compact",
        "clock-days",
        "clock-fraction",
        "millis",
        "human-words",
        "human-min",
    ] {
        RosDuration::parse_human(&read("units", name)).expect(name);
    }
    for name in ["bytes", "size-fraction", "size-unit"] {
        hotspot_shared::units::ByteCount::parse_human(&read("units", name)).expect(name);
    }
}

fn main() {
    routeros();
    let (ca_pem, chain_pem, csr) = pki();
    fleet(&ca_pem, &chain_pem, &csr);
    text_targets();
    check_seeds();
}
