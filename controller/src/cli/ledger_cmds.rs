//! Commands that work on the ledger directly: `admin create|reset-2fa`,
//! `site add|token|revoke`.
//!
//! They open the same database file as `serve`, which holds it exclusively: run them while the
//! controller is stopped, or use the HTTP API. Each says what it did in one line and makes its
//! change durable (awaits the store's barrier) before printing success. Secrets are printed
//! only where they must be (the enrollment token, once); a super admin's password is never
//! printed and never defaulted.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use crate::auth::password::{PasswordHasher, check_new_password};
use crate::fleet::{pki, sites};
use crate::store::{NewStaff, Role, Stamp, Store};
use anyhow::{Context, bail};
use clap::Args;
use hotspot_pki::SiteId;

use super::shared::{ConfigSource, install_crypto, open_db};

const BUSY_API: &str = "stop the controller, or use the HTTP API";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[derive(Debug, Args)]
pub struct ResetTwoFactorArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// The account whose second factor goes (its phone and recovery codes are lost).
    #[arg(long)]
    username: String,
}

/// Removes an account's second factor: the way back in when the last super admin lost both
/// the phone and the recovery codes (anyone else is reset by a super admin on the Staff page).
pub fn admin_reset_two_factor(args: ResetTwoFactorArgs) -> anyhow::Result<()> {
    let config = args.source.load()?;
    let store = open_db(&config, "stop the controller first")?;
    let Some(staff) = store.staff_by_username(args.username.trim())? else {
        bail!("there is no account {:?}", args.username.trim());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let removed = runtime.block_on(async {
        store
            .remove_two_factor(staff.id, &Stamp::system(now()))?
            .durable()
            .await
    })?;
    if removed {
        println!(
            "two-factor sign-in of {} removed; it signs in with the password{}",
            staff.username,
            if staff.role == Role::SuperAdmin && config.auth.require_2fa_for_admins {
                " and is asked to set it up again"
            } else {
                ""
            }
        );
    } else {
        println!(
            "{} has no two-factor sign-in; nothing changed",
            staff.username
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct AdminCreateArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// The new super admin's user name.
    #[arg(long)]
    username: String,
    /// Read the password from this environment variable (else one line from stdin).
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
}

fn read_password(var: Option<&str>) -> anyhow::Result<String> {
    if let Some(var) = var {
        let pw =
            std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?;
        if pw.is_empty() {
            bail!("environment variable {var} is empty");
        }
        return Ok(pw);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!(
            "Password for the new super admin (the input is shown; --password-env avoids that): "
        );
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_owned();
    if pw.is_empty() {
        bail!("no password given (pipe it on stdin, or use --password-env VAR)");
    }
    Ok(pw)
}

pub fn admin_create(args: AdminCreateArgs) -> anyhow::Result<()> {
    let config = args.source.load()?;
    let username = args.username.trim().to_owned();
    if username.is_empty()
        || username.chars().count() > 64
        || username.chars().any(char::is_control)
    {
        bail!("the user name must be 1 to 64 printable characters");
    }
    let password = read_password(args.password_env.as_deref())?;
    check_new_password(&password, &username)?;
    let hasher = PasswordHasher::new(config.auth.password_params())?;
    let password_hash = hasher.hash(&password)?;
    let store = open_db(&config, "stop the controller first")?;
    let new = NewStaff {
        username: username.clone(),
        password_hash,
        role: Role::SuperAdmin,
        routers: Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let staff = runtime.block_on(async {
        store
            .create_staff(new, &Stamp::system(now()))?
            .durable()
            .await
    })?;
    println!("created super admin {username} ({})", staff.id);
    Ok(())
}

#[derive(Debug, Args)]
pub struct SiteAddArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// The site id: 1 to 64 of a-z, 0-9 and '-'.
    #[arg(long)]
    id: String,
    /// A name for people.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    token: TokenArgs,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Lifetime of the enrollment token, hours.
    #[arg(long, default_value_t = 24, value_name = "HOURS")]
    valid_hours: u64,
    /// HOST:PORT agents dial, for the printed command [default: fleet.server_name and port].
    #[arg(long, value_name = "HOST:PORT")]
    controller: Option<String>,
}

#[derive(Debug, Args)]
pub struct SiteTokenArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// The site id.
    #[arg(long)]
    id: String,
    #[command(flatten)]
    token: TokenArgs,
}

#[derive(Debug, Args)]
pub struct SiteRevokeArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// The site id.
    #[arg(long)]
    id: String,
}

fn site_id(text: &str) -> anyhow::Result<SiteId> {
    text.trim().parse().context("--id")
}

/// Makes, stores and prints an enrollment token for `site`.
fn print_token(
    config: &crate::config::Config,
    store: &dyn Store,
    site: &SiteId,
    token: &TokenArgs,
) -> anyhow::Result<()> {
    install_crypto();
    pki::bootstrap(config).context("fleet certificates")?;
    let fingerprint = pki::ca_fingerprint(config)?;
    let controller = token
        .controller
        .clone()
        .unwrap_or_else(|| sites::controller_address(config));
    let valid = Duration::from_secs(token.valid_hours.saturating_mul(3600));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let issued = runtime.block_on(sites::issue_token(
        store,
        fingerprint,
        &controller,
        site,
        valid,
        &Stamp::system(now()),
    ))?;
    let until = issued
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| issued.expires_at.to_string());
    println!("enrollment token for site {site}, valid until {until} (shown only now):");
    println!("  {}", issued.token);
    println!("at the site, run:");
    println!("  {}", issued.command);
    Ok(())
}

pub fn site_add(args: SiteAddArgs) -> anyhow::Result<()> {
    let config = args.source.load()?;
    let id = site_id(&args.id)?;
    let store = open_db(&config, &format!("{BUSY_API} (POST /api/sites)"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let site = runtime.block_on(async {
        store
            .create_site(id.clone(), args.name.trim(), &Stamp::system(now()))?
            .durable()
            .await
    })?;
    println!(
        "created site {} ({}), offline code prefix {}",
        site.id, site.name, site.code_prefix
    );
    print_token(&config, &store, &id, &args.token)
}

pub fn site_token(args: SiteTokenArgs) -> anyhow::Result<()> {
    let config = args.source.load()?;
    let id = site_id(&args.id)?;
    let store = open_db(
        &config,
        &format!("{BUSY_API} (POST /api/sites/{id}/enrollment)"),
    )?;
    print_token(&config, &store, &id, &args.token)
}

pub fn site_revoke(args: SiteRevokeArgs) -> anyhow::Result<()> {
    let config = args.source.load()?;
    let id = site_id(&args.id)?;
    let store = open_db(
        &config,
        &format!("{BUSY_API} (POST /api/sites/{id}/revoke)"),
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let done = runtime.block_on(sites::revoke_site(&store, None, &id, &Stamp::system(now())))?;
    let serials: Vec<String> = done.serials.iter().map(ToString::to_string).collect();
    println!(
        "revoked site {} ({} certificate(s): {}); it is refused from the controller's next start",
        done.site,
        serials.len(),
        if serials.is_empty() {
            "none issued yet".to_string()
        } else {
            serials.join(", ")
        }
    );
    Ok(())
}
