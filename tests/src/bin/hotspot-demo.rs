//! `hotspot-demo`: the README's first command — a whole local fleet in one process.
//!
//! A controller (HTTP API on `--http`, fleet endpoint on `--fleet`), three sites each with an
//! enrolled agent beside a simulated MikroTik with customers, packages, a staff account and a
//! first batch of vouchers per router. Prints how to sign in and use it, then runs until Ctrl-C.
//! See [`hotspot_tests::demo`].

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use hotspot_tests::demo::http::Api;
use hotspot_tests::demo::{Demo, DemoOptions};

#[derive(Parser)]
#[command(
    name = "hotspot-demo",
    version,
    about = "Start a local demo fleet: controller, agents and simulated routers"
)]
struct Args {
    /// Address of the controller's HTTP API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// UDP address of the controller's fleet endpoint (QUIC).
    #[arg(long, default_value = "127.0.0.1:4433")]
    fleet: SocketAddr,
    /// Where the controller, agents and simulated routers keep their data. A demo found there
    /// is resumed with everything it had; see --fresh.
    #[arg(long, default_value = "target/hotspot-demo")]
    data_dir: PathBuf,
    /// Start over: wipe the demo in --data-dir and set up a new one.
    #[arg(long)]
    fresh: bool,
    /// The super admin's password of a new demo (random and printed when absent).
    #[arg(long)]
    admin_password: Option<String>,
    /// Number of sites of a new demo.
    #[arg(long, default_value_t = 3)]
    sites: usize,
    /// Vouchers generated per router when a new demo is set up.
    #[arg(long, default_value_t = 10)]
    vouchers: u32,
    /// Each agent's local staff page (plain HTTP): the first site's here, the next sites on the
    /// following ports. `off` serves none.
    #[arg(long, default_value = "127.0.0.1:8081")]
    site_pages: String,
    /// Exit after setting everything up (for scripted checks).
    #[arg(long)]
    once: bool,
    /// A new demo without its week of simulated past sales and reports.
    #[arg(long)]
    no_history: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,hotspot_controller::api::layers=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let site_pages = match args.site_pages.as_str() {
        "off" => None,
        addr => Some(
            addr.parse::<SocketAddr>()
                .with_context(|| format!("--site-pages {addr}: expected ADDR:PORT or off"))?,
        ),
    };
    println!("starting the demo fleet in {} …", args.data_dir.display());
    let demo = Demo::start(DemoOptions {
        http: args.http,
        fleet: args.fleet,
        data_dir: args.data_dir.clone(),
        admin_password: args.admin_password,
        sites: args.sites,
        vouchers_per_router: args.vouchers,
        customers_per_minute: 6.0,
        agents_dial: None,
        site_pages,
        fresh: args.fresh,
        history: !args.no_history,
    })
    .await
    .context("starting the demo (are the ports free? choose others with --http / --fleet)")?;

    let url = format!("http://{}", demo.http);
    if demo.resumed {
        println!(
            "\nhotspot-fleet demo is running, resumed with the data it had in {} (--fresh starts over)",
            args.data_dir.display()
        );
    } else {
        println!("\nhotspot-fleet demo is running");
    }
    println!(
        "  passwords   kept in {} (mode 0600)",
        args.data_dir.join("demo.json").display()
    );
    println!("  controller  {url}   (fleet endpoint udp {})", demo.fleet);
    println!("  super admin admin / {}", demo.admin_password);
    println!("  staff       staff / {}", demo.staff_password);
    for site in &demo.sites {
        println!(
            "  {}      agent enrolled, router {} = simulated MikroTik at {}",
            site.id,
            site.router_id,
            site.sim.api_addr()
        );
    }
    for site in &demo.sites {
        if let Some(page) = site.page {
            println!(
                "  {}      the agent's own staff page (works while the uplink is down): http://{page}/",
                site.id
            );
        }
    }
    if let Some(past) = &demo.past {
        println!(
            "\nA week of simulated past: {} vouchers sold {} to {} by staff, {}; reports made for each day (Reports).",
            past.vouchers,
            past.dates.first().map_or("", String::as_str),
            past.dates.last().map_or("", String::as_str),
            hotspot_tests::demo::history::SELLERS.join(" and "),
        );
        if let Some((date, site)) = &past.offline {
            println!(
                "  {site} was offline on the afternoon of {date}: its sales were made at the site and arrived later."
            );
        }
        if let Some((code, date)) = &past.stuck {
            println!(
                "  voucher {code}, sold {date}, never reached its router: the reconciliation of {date} found it and sent it again."
            );
        }
    }
    print_routers(&demo).await;
    let (first_package, name) = demo.packages.first().cloned().unwrap_or_default();
    let router = demo.sites.first().map_or(1, |s| s.router_id);
    println!("\nOpen the dashboard: {url}/ (sign in as admin or staff)");
    println!("\nTry it:");
    println!(
        "  TOKEN=$(curl -s {url}/api/auth/login -H 'content-type: application/json' -d '{{\"username\":\"staff\",\"password\":\"{}\"}}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')",
        demo.staff_password
    );
    println!(
        "  curl -s {url}/api/tokens/generate -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"router_id\":{router},\"package_id\":{first_package},\"count\":1}}'   # a \"{name}\" voucher"
    );
    println!("  curl -s {url}/api/tokens/my-tokens -H \"authorization: Bearer $TOKEN\"");
    println!("  curl -s {url}/api/openapi.json | head -c 300");
    println!(
        "  ADMIN=$(curl -s {url}/api/auth/login -H 'content-type: application/json' -d '{{\"username\":\"admin\",\"password\":\"{}\"}}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')",
        demo.admin_password
    );
    println!(
        "  curl -s {url}/metrics -H \"authorization: Bearer $ADMIN\" | head   # Prometheus: a super admin, or [metrics] token_file / listen"
    );

    if !args.once {
        println!("\nCtrl-C stops the demo.");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
    }
    demo.shutdown().await
}

/// Each router as the controller reads it through the site's agent (RouterOS API calls made
/// now: `/api/routers/{id}/info` and `/stats`), and the hotspot users the router holds.
async fn print_routers(demo: &Demo) {
    println!("\nRouters, read now through each site's agent:");
    let admin = match Api::new(demo.http)
        .login("admin", &demo.admin_password)
        .await
    {
        Ok(api) => api,
        Err(e) => {
            println!("  (cannot sign in to read them: {e:#})");
            return;
        }
    };
    for site in &demo.sites {
        let id = site.router_id;
        let read = async {
            let info = admin
                .expect_ok("GET", &format!("/api/routers/{id}/info"), None)
                .await?;
            let stats = admin
                .expect_ok("GET", &format!("/api/routers/{id}/stats"), None)
                .await?;
            anyhow::Ok((info["info"].clone(), stats["stats"].clone()))
        };
        match read.await {
            Ok((info, stats)) => println!(
                "  router {id}: identity {}, model {}, RouterOS {}, CPU {} %, {} hotspot users, {} logged in",
                info["identity"].as_str().unwrap_or("?"),
                info["model"].as_str().unwrap_or("?"),
                info["version"].as_str().unwrap_or("?"),
                stats["cpu_load"],
                site.sim.user_count(),
                stats["active_users"],
            ),
            Err(e) => println!("  router {id}: not readable now: {e:#}"),
        }
    }
}
