//! `hotspot-agent probe`: connect to a router the way the agent will (same client, same TLS
//! trust modes) and print what it finds: the quickest way for an operator to check host, port,
//! credentials and certificate before enrolling a site. Errors are one line a person can act
//! on, with a distinct exit code per kind of cause.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::routeros::{ReconnectPolicy, Router, RouterConfig, RouterError, SecretString, TlsTrust};
use anyhow::Context;
use clap::Args;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

#[derive(Args)]
pub struct ProbeArgs {
    /// Router address (name or IP).
    #[arg(long)]
    host: String,
    /// API port [default: 8728, or 8729 with --tls].
    #[arg(long)]
    port: Option<u16>,
    /// API user name.
    #[arg(long)]
    user: String,
    /// Environment variable holding the password.
    #[arg(long, default_value = "HOTSPOT_ROUTER_PASSWORD", conflicts_with_all = ["password_file", "password"])]
    password_env: String,
    /// File holding the password (a trailing newline is ignored).
    #[arg(long, conflicts_with = "password")]
    password_file: Option<PathBuf>,
    /// The password itself (visible to other local users in the process list: prefer the others).
    #[arg(long)]
    password: Option<String>,
    /// Use API-SSL; needs --pin or --ca.
    #[arg(long)]
    tls: bool,
    /// SHA-256 of the router certificate (64 hex digits, colons allowed).
    #[arg(long, requires = "tls", conflicts_with = "ca")]
    pin: Option<String>,
    /// PEM file of the CA (or the router's own certificate) to trust.
    #[arg(long, requires = "tls")]
    ca: Option<PathBuf>,
    /// Seconds allowed for connecting and for each command.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

pub async fn probe(args: ProbeArgs) -> ExitCode {
    let config = match probe_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}", hotspot_shared::report::Chain(e.as_ref()));
            return ExitCode::from(2);
        }
    };
    let router = Router::new(config.clone());
    let result = crate::probe::print_report(&router).await;
    router.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", crate::probe::human_error(&e, &config));
            ExitCode::from(exit_code(&e))
        }
    }
}

fn probe_config(args: &ProbeArgs) -> anyhow::Result<RouterConfig> {
    let password = if let Some(p) = &args.password {
        p.clone()
    } else if let Some(path) = &args.password_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        text.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        std::env::var(&args.password_env).with_context(|| {
            format!(
                "no password: set {} or use --password-file",
                args.password_env
            )
        })?
    };
    let trust = match (args.tls, &args.pin, &args.ca) {
        (false, _, _) => None,
        (true, Some(pin), _) => Some(TlsTrust::pin_from_hex(pin).map_err(anyhow::Error::msg)?),
        (true, None, Some(path)) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let roots = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("{} is not PEM", path.display()))?;
            anyhow::ensure!(!roots.is_empty(), "{} holds no certificate", path.display());
            Some(TlsTrust::Ca(roots))
        }
        (true, None, None) => {
            anyhow::bail!("--tls needs --pin HEX or --ca FILE.pem (no unverified TLS)")
        }
    };
    let port = args.port.unwrap_or(if args.tls { 8729 } else { 8728 });
    let mut config = RouterConfig::plain(&args.host, port, &args.user, SecretString::new(password));
    config.tls = trust;
    config.connect_timeout = Duration::from_secs(args.timeout.max(1));
    config.command_timeout = Duration::from_secs(args.timeout.max(1));
    config.reconnect = ReconnectPolicy::no_retry();
    Ok(config)
}

/// 3: network, 4: credentials, 5: TLS or pin, 6: the router's answer.
fn exit_code(err: &RouterError) -> u8 {
    match err {
        RouterError::Unreachable(_)
        | RouterError::Refused(_)
        | RouterError::Timeout { .. }
        | RouterError::ConnectionLost { .. }
        | RouterError::Closed(_)
        | RouterError::Busy { .. }
        | RouterError::Fatal(_) => 3,
        RouterError::BadCredentials => 4,
        RouterError::Tls(_) | RouterError::PinMismatch { .. } => 5,
        RouterError::Protocol(_)
        | RouterError::Trap { .. }
        | RouterError::AlreadyExists { .. }
        | RouterError::NoSuchItem { .. } => 6,
    }
}
