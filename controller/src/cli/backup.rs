//! `hotspot-controller backup | restore`: the data directory (the ledger as one consistent
//! snapshot, the fleet PKI, the master key) in one archive, and back.
//!
//! `backup` works while `serve` runs (through its backup socket, `hotspot_storage::control`) and
//! while it is stopped; it prints its line only once the archive is fsynced. `restore` needs a
//! stopped controller, refuses a non-empty directory without `--force`, and with it moves the
//! old directory aside instead of deleting it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use hotspot_storage::backup::{self, BackupError};

use super::shared::{ConfigSource, DB_FILE};
use crate::store::embedded::CACHE_BYTES;

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// The archive to write (a new file; an existing one is refused).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// The archive to restore, written by `backup`.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// Restore over a non-empty data directory, which is moved aside (not deleted).
    #[arg(long)]
    force: bool,
}

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let config = args.source.load()?;
    let options = hotspot_storage::Options {
        cache_bytes: CACHE_BYTES,
    };
    let summary = hotspot_storage::control::take(&config.data_dir, DB_FILE, options, &args.to)
        .with_context(|| format!("backing up {}", config.data_dir.display()))?;
    println!(
        "backup written to {}: {} ledger entries and {} other files, {} bytes",
        args.to.display(),
        summary.entries,
        summary.files,
        summary.bytes
    );
    warn_key_outside(&config);
    Ok(())
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let config = args.source.load()?;
    let restored = backup::restore(&args.from, &config.data_dir, DB_FILE, args.force).map_err(
        |e| match e {
            BackupError::InUse(_) => anyhow::anyhow!("{e} (stop `hotspot-controller serve`)"),
            other => anyhow::Error::new(other),
        },
    )?;
    println!(
        "restored {} files into {}",
        restored.files,
        config.data_dir.display()
    );
    if let Some(aside) = restored.moved_aside {
        println!("the directory that was there is now {}", aside.display());
    }
    warn_key_outside(&config);
    Ok(())
}

/// The master key is in the archive only when it lives in the data directory.
fn warn_key_outside(config: &crate::config::Config) {
    let key = config.master_key_file();
    if !key.starts_with(&config.data_dir) {
        eprintln!(
            "note: the master key file {} is outside the data directory, so not in the archive: \
             keep a copy of it beside the backups (sealed router passwords need it)",
            key.display()
        );
    }
}
