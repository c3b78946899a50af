//! The commands and their flags (clap), and what they share: the config from a file or from
//! flags, and the ledger (`<data_dir>/ledger.redb`, one file shared with the fleet link) opened
//! with a clear message when a running controller holds it.

mod backup;
mod https;
mod ledger_cmds;
pub mod serve;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::Config;
use crate::store::{EmbeddedStore, StoreError};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use hotspot_storage::StorageError;

/// The central controller of hotspot-fleet: voucher ledger, web API, fleet endpoint, jobs.
#[derive(Debug, Parser)]
#[command(
    name = "hotspot-controller",
    version,
    about = "The central controller of hotspot-fleet: voucher ledger, web API, fleet endpoint, jobs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controller: HTTP API and dashboard, the fleet endpoint for agents, and jobs.
    Serve(serve::ServeArgs),
    /// Super admin accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Sites and their agents' enrollment (while `serve` is stopped; else use the API).
    #[command(subcommand)]
    Site(SiteCommand),
    /// Write the data directory (a consistent snapshot of the ledger, the fleet PKI, the
    /// master key) to one archive; works while `serve` runs.
    Backup(backup::BackupArgs),
    /// Put an archive written by `backup` in place as the data directory (controller stopped).
    Restore(backup::RestoreArgs),
    /// The configuration file.
    Config(ConfigArgs),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a super admin. The password is read from an environment variable or stdin;
    /// there is no default password.
    Create(ledger_cmds::AdminCreateArgs),
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Create a site and print its agent's enrollment command (the token is shown once).
    Add(ledger_cmds::SiteAddArgs),
    /// Make a new one-time enrollment token for an existing site.
    Token(ledger_cmds::SiteTokenArgs),
    /// Revoke a site: its certificates are refused from the controller's next start on.
    Revoke(ledger_cmds::SiteRevokeArgs),
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Print the default configuration file, every setting documented.
    #[arg(long)]
    print_default: bool,
    /// Check a configuration file and print it with defaults filled in.
    #[arg(long, value_name = "FILE", conflicts_with = "print_default")]
    check: Option<PathBuf>,
}

/// Where the config comes from: a file, or defaults with a data directory.
#[derive(Debug, Clone, Args)]
pub struct ConfigSource {
    /// The TOML config file (see `config --print-default`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory (overrides the file's `data_dir`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl ConfigSource {
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None if self.data_dir.is_some() => Config::default(),
            None => bail!("give --config FILE or --data-dir DIR"),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(config)
    }
}

/// The database file of the ledger and the link, inside the data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

/// The name of [`db_path`]'s file.
pub const DB_FILE: &str = "ledger.redb";

/// Opens the ledger's database; one held by another process (a running controller) is
/// refused with `busy_hint`.
pub fn open_db(config: &Config, busy_hint: &str) -> anyhow::Result<EmbeddedStore> {
    create_private_dir(&config.data_dir)?;
    refuse_old_layout(&config.data_dir)?;
    let path = db_path(&config.data_dir);
    match EmbeddedStore::open(&path) {
        Ok(store) => Ok(store),
        Err(StoreError::Storage(StorageError::InUse)) => bail!(
            "the ledger at {} is in use by another process (a running controller?): {busy_hint}",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("opening the ledger at {}", path.display())),
    }
}

/// Refuses a data directory that holds only the ledger of an older build (the `db/` directory,
/// in a format this build does not read), so that an upgrade never starts on an empty ledger
/// beside the real one.
fn refuse_old_layout(data_dir: &Path) -> anyhow::Result<()> {
    let old = data_dir.join("db");
    if old.join("conf").is_file() && !db_path(data_dir).exists() {
        bail!(
            "{} holds a ledger of an older build, in a format this build does not read; \
             it keeps the ledger in {} (move the old directory away to start empty)",
            old.display(),
            db_path(data_dir).display()
        );
    }
    Ok(())
}

/// Creates `dir` (mode 0700 on Unix) if it is missing.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))
}

/// Parses `HOST:PORT` as a socket address for `--http` and `--fleet`.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an address like 127.0.0.1:8080 or [::]:4433"))
}

/// Installs ring as the process's TLS crypto provider (once, before any TLS config).
pub fn install_crypto() {
    let provider = std::sync::Arc::unwrap_or_clone(hotspot_pki::tls::ring_provider());
    let _ = provider.install_default();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Admin(AdminCommand::Create(args)) => ledger_cmds::admin_create(args),
        Command::Site(SiteCommand::Add(args)) => ledger_cmds::site_add(args),
        Command::Site(SiteCommand::Token(args)) => ledger_cmds::site_token(args),
        Command::Site(SiteCommand::Revoke(args)) => ledger_cmds::site_revoke(args),
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
        Command::Config(args) => {
            if let Some(path) = args.check {
                let config = Config::load(&path)?;
                print!(
                    "{}",
                    toml::to_string(&config).context("printing the config")?
                );
                return Ok(());
            }
            if !args.print_default {
                bail!("say what to do: --print-default or --check FILE");
            }
            print!("{}", crate::config::default_toml());
            Ok(())
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hotspot-controller: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn config_in(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_owned(),
            ..Config::default()
        }
    }

    #[test]
    fn a_ledger_in_use_is_refused_with_the_hint() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let _held = open_db(&config, "first").expect("opens");
        assert!(db_path(dir.path()).is_file(), "one database file");
        let refused = open_db(&config, "stop the controller first").unwrap_err();
        let text = format!("{refused:#}");
        assert!(
            text.contains("in use by another process") && text.contains("stop the controller"),
            "{text}"
        );
    }

    #[test]
    fn a_ledger_of_an_older_build_is_refused_rather_than_started_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        std::fs::write(dir.path().join("db").join("conf"), b"segment_size: 524288").unwrap();
        let refused = open_db(&config_in(dir.path()), "-").unwrap_err();
        assert!(
            format!("{refused:#}").contains("of an older build"),
            "{refused:#}"
        );
        assert!(!db_path(dir.path()).exists(), "nothing created beside it");
    }
}
