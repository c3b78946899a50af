//! `hotspot-demo`: the README's first command.
//!
//! Until the controller exists, "the system" is one simulated MikroTik router (RouterOS API on
//! TCP and API-SSL, simulated customers using their vouchers) and the agent's RouterOS client
//! driving it the way the agent will: the demo creates the hotspot profile and a batch of
//! vouchers through the pipelined client, then prints what `hotspot-agent probe` prints, and
//! keeps the router running so a person can probe it again or poke it through its control port.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use hotspot_agent::routeros::{HotspotUser, ProfileSpec, Router, RouterConfig, SecretString};
use hotspot_shared::units::RosDuration;
use hotspot_shared::voucher::CodeSpec;
use hotspot_tests::sim::{self, CustomerConfig, SimConfig};
use rand::RngExt;

#[derive(Parser)]
#[command(
    name = "hotspot-demo",
    version,
    about = "Start a demo: a simulated router and the agent probing it"
)]
struct Args {
    /// RouterOS API address of the simulated router.
    #[arg(long, default_value = "127.0.0.1:8728")]
    listen: SocketAddr,
    /// API-SSL address of the simulated router.
    #[arg(long, default_value = "127.0.0.1:8729")]
    api_ssl: SocketAddr,
    /// Control port of the simulator (fault orders: reboot, reset, latency…).
    #[arg(long, default_value = "127.0.0.1:9728")]
    control: SocketAddr,
    /// Vouchers to create on the router at start.
    #[arg(long, default_value_t = 12)]
    vouchers: usize,
    /// Exit after printing, instead of keeping the router running.
    #[arg(long)]
    once: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let password: String = {
        let mut rng = rand::rng();
        (0..16)
            .map(|_| char::from(b"abcdefghjkmnpqrstuvwxyz23456789"[rng.random_range(0..31)]))
            .collect()
    };
    let sim = sim::start(SimConfig {
        listen: args.listen,
        api_ssl: Some(args.api_ssl),
        control: Some(args.control),
        password: password.clone(),
        identity: "demo-cafe".into(),
        customers: Some(CustomerConfig { logins_per_minute: 30.0, time_scale: 60.0, bytes_per_second: 40_000 }),
        ..SimConfig::local()
    })
    .await
    .with_context(|| format!("starting the simulated router (is {} or {} in use? choose others with --listen / --api-ssl / --control)", args.listen, args.api_ssl))?;

    let api = sim.api_addr();
    println!(
        "simulated MikroTik router (RouterOS {}):",
        SimConfig::local().ros_version
    );
    println!("  API      {api}   user admin   password {password}");
    if let (Some(ssl), Some(pin)) = (sim.api_ssl_addr(), sim.cert_sha256()) {
        println!("  API-SSL  {ssl}   certificate sha256 {}", hex::encode(pin));
    }
    if let Some(control) = sim.control_addr() {
        println!(
            "  control  {control}   (try: echo reboot | nc {} {})",
            control.ip(),
            control.port()
        );
    }

    let router = Router::new(RouterConfig::plain(
        api.ip().to_string(),
        api.port(),
        "admin",
        SecretString::new(password.clone()),
    ));
    let created = router
        .ensure_profile(&ProfileSpec {
            name: "1h-2M".into(),
            rate_limit: Some("2M/5M".into()),
            shared_users: Some(1),
        })
        .await?;
    println!(
        "\nagent: hotspot profile 1h-2M {}",
        if created { "created" } else { "already there" }
    );

    let spec = CodeSpec::new(None, Some(8))?;
    let users: Vec<HotspotUser> = {
        let mut rng = rand::rng();
        (0..args.vouchers)
            .map(|i| {
                let code = spec.generate(&mut rng);
                HotspotUser {
                    profile: "1h-2M".into(),
                    limit_uptime: Some(RosDuration::from_secs(3600)),
                    limit_bytes_total: Some(1 << 30),
                    comment: Some(format!("hotspot-fleet demo voucher {}", i + 1).into_bytes()),
                    ..HotspotUser::new(code.clone(), code)
                }
            })
            .collect()
    };
    let results = router.add_hotspot_users_pipelined(&users).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    println!(
        "agent: {ok} of {} vouchers created on the router (pipelined)",
        users.len()
    );
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        println!("  failed: {e}");
    }

    println!("\n== hotspot-agent probe {api} ==");
    hotspot_agent::probe::print_report(&router).await?;

    if args.once {
        router.close().await;
        sim.shutdown().await;
        return Ok(());
    }
    println!("\nThe router keeps running with simulated customers; probe it again with:");
    println!(
        "  HOTSPOT_ROUTER_PASSWORD={password} cargo run --release --bin hotspot-agent -- probe --host {} --port {} --user admin",
        api.ip(),
        api.port()
    );
    println!("Ctrl-C stops the demo.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    router.close().await;
    tokio::time::timeout(Duration::from_secs(5), sim.shutdown())
        .await
        .ok();
    Ok(())
}
