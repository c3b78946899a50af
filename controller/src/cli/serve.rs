//! `hotspot-controller serve`: everything that runs, started in order and stopped in reverse.
//!
//! Start: logs, config, the ledger (`<data_dir>/ledger.redb`, one process), the master key
//! (created on first start, but never when the ledger already holds passwords sealed under a key
//! that has gone missing), the one-time migration of plain-text router passwords, the fleet
//! certificates (made on first start), the fleet endpoint, the backup socket (`backup` while
//! this runs), the presence follower, the jobs, and last HTTP.
//!
//! Stop (SIGINT or SIGTERM): HTTP stops accepting and finishes its requests, the jobs stop, the
//! fleet link closes every connection with a reason and waits for a durability barrier, and the
//! ledger waits for one too.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::app::{AppInner, AppState, system_clock};
use crate::auth::password::PasswordHasher;
use crate::auth::throttle::LoginThrottle;
use crate::config::{Config, MASTER_KEY_ENV};
use crate::fleet::{self, Presence, pki};
use crate::metrics::Metrics;
use crate::store::{EmbeddedStore, Stamp, Store};
use crate::{api, jobs};
use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use clap::Args;
use hotspot_pki::keyfile::{load_or_create_from_env, resolve_key_path};
use hotspot_shared::secretbox::Keyring;
use tokio::sync::watch;

use super::shared::{ConfigSource, DB_FILE, install_crypto, open_db, parse_addr};

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// Address of the HTTP API and dashboard (overrides `http.listen`).
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    http: Option<SocketAddr>,
    /// UDP address of the fleet endpoint for agents (overrides `fleet.listen`).
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    fleet: Option<SocketAddr>,
    /// Name agents dial, put in the controller certificate (overrides `fleet.server_name`).
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// Log JSON lines instead of text (the level comes from RUST_LOG, default `info`).
    #[arg(long)]
    log_json: bool,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if args.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    let mut config = args.source.load()?;
    if let Some(addr) = args.http {
        config.http.listen = addr;
    }
    if let Some(addr) = args.fleet {
        config.fleet.listen = addr;
    }
    if let Some(name) = args.server_name {
        config.fleet.server_name = name;
    }
    config
        .validate("")
        .context("the settings given on the command line")?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(config))
}

/// The master keyring; refuses to make a new key for a ledger holding sealed passwords.
fn master_keyring(config: &Config, store: &EmbeddedStore) -> anyhow::Result<Keyring> {
    let default = config.master_key_file();
    let path = resolve_key_path(MASTER_KEY_ENV, &default);
    if path == default && !path.exists() {
        let sealed = store.routers(None)?.iter().any(|r| !r.password.is_plain());
        if sealed {
            bail!(
                "the ledger holds sealed router passwords but the master key file {} is missing: \
                 restore it from a backup (a new key could not open them), or name it with {MASTER_KEY_ENV}",
                path.display()
            );
        }
        tracing::info!(path = %path.display(), "creating the master key");
    }
    let key = load_or_create_from_env(MASTER_KEY_ENV, &default)?;
    Ok(Keyring::new(key))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot listen for SIGTERM: {e}");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
}

/// The backup socket (`hotspot-controller backup` while this runs). Without it the controller
/// still serves; a backup then needs a stop.
fn serve_backups(
    store: &EmbeddedStore,
    data_dir: &std::path::Path,
) -> Option<tokio::task::JoinHandle<()>> {
    match hotspot_storage::control::serve(store.db().clone(), data_dir, DB_FILE) {
        Ok(task) => Some(tokio::spawn(task)),
        Err(e) => {
            tracing::warn!("no backup socket, so backups need a stopped controller: {e}");
            None
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    serve_until(config, shutdown_signal()).await
}

/// Runs the controller until `stop` completes (the demo runs it in-process this way).
pub async fn serve_until(
    config: Config,
    until: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_until_with(config, until, None).await
}

/// [`serve_until`], handing the application's state to `started` once it serves: the demo
/// writes its simulated past into the running ledger through it. The receiver must drop the
/// state before the controller is stopped (the ledger closes when the last handle goes).
pub async fn serve_until_with(
    config: Config,
    until: impl std::future::Future<Output = ()> + Send + 'static,
    started: Option<tokio::sync::oneshot::Sender<AppState>>,
) -> anyhow::Result<()> {
    install_crypto();
    let store = open_db(
        &config,
        "another controller is running with this data directory",
    )?;
    let keyring = Arc::new(master_keyring(&config, &store)?);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let migrated = store
        .migrate_plain_passwords(&keyring, &Stamp::system(now))?
        .durable()
        .await?;
    if migrated > 0 {
        tracing::info!(migrated, "plain-text router passwords sealed");
    }
    let created = pki::bootstrap(&config).context("fleet certificates")?;
    if created.ca {
        tracing::info!(
            "created the fleet CA in {}",
            pki::ca_dir(&config)?.display()
        );
    }
    let clock = system_clock();
    let fleet = fleet::start(&config, &store, clock.clone()).await?;
    let state = AppState(Arc::new(AppInner {
        hasher: PasswordHasher::new(config.auth.password_params())?,
        throttle: Mutex::new(LoginThrottle::new(config.auth.throttle.throttle_config())),
        sign_in_tickets: Mutex::default(),
        store: Arc::new(store.clone()),
        keyring,
        fleet: fleet.clone(),
        metrics: Metrics::new(),
        clock,
        config,
    }));
    // A crash between the ledger and the outbox left these with nobody to send them.
    let requeued = jobs::drift::requeue_never_queued(&state)
        .await
        .context("re-queueing vouchers a previous run left unsent")?;
    if requeued > 0 {
        tracing::warn!(requeued, "vouchers left unsent by a previous run re-queued");
    }
    let backups = serve_backups(&store, &state.config.data_dir);
    let presence = Presence::new();
    let follower = presence.spawn(state.clone());
    let healer = crate::fleet::heal::spawn(state.clone());
    let (stop, stopped) = watch::channel(false);
    let scheduler = jobs::spawn(state.clone(), presence, jobs::DEFAULT_TICK, stopped);

    let scrape = match state.config.metrics.listen {
        Some(addr) => Some(serve_open_metrics(&state, addr).await?),
        None => None,
    };
    let app = api::router(state.clone())?.into_make_service_with_connect_info::<SocketAddr>();
    let http = &state.config.http;
    let listener = tokio::net::TcpListener::bind(http.listen)
        .await
        .with_context(|| format!("listening on {}", http.listen))?;
    tracing::info!(http = %http.listen, fleet = %fleet.local_addr()?, "controller serving");
    if let Some(started) = started {
        let _ = started.send(state.clone());
    }
    let served = match (&http.tls_cert, &http.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = super::https::TlsListener::new(
                listener,
                super::https::acceptor(cert, key)?,
                "dashboard",
            )?;
            axum::serve(tls.tap_io(|_| {}), app)
                .with_graceful_shutdown(until)
                .await
        }
        _ => {
            axum::serve(listener, app)
                .with_graceful_shutdown(until)
                .await
        }
    };
    let _ = stop.send(true);
    if tokio::time::timeout(Duration::from_secs(15), scheduler)
        .await
        .is_err()
    {
        tracing::warn!("a job did not stop within 15 s");
    }
    fleet.shutdown().await.context("closing the fleet link")?;
    // Aborted, then awaited: once this returns, nothing of this run holds the ledger.
    let tasks = [Some(follower), Some(healer), scrape, backups];
    for task in tasks.into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    state
        .store
        .sync()
        .durable()
        .await
        .context("making the ledger durable")?;
    served.context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// The loopback listener of `metrics.listen`: only `GET /metrics`, without sign-in.
async fn serve_open_metrics(
    state: &AppState,
    addr: SocketAddr,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening for metrics scrapes on {addr}"))?;
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(crate::api::system::open_metrics),
        )
        .with_state(state.clone());
    tracing::info!(%addr, "serving /metrics without sign-in (loopback)");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the metrics listener stopped: {e}");
        }
    }))
}
