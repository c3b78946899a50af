//! `hotspot-agent backup | restore`: the data directory (the queue database as one consistent
//! snapshot, the key, certificates and master key) in one archive, and back.
//!
//! `backup` works while `run` is up (through its backup socket, `hotspot_storage::control`) and
//! while it is stopped; its line is printed only once the archive is fsynced. `restore` needs a
//! stopped agent, refuses a non-empty directory without `--force`, and with it moves the old
//! directory aside instead of deleting it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use hotspot_storage::backup;

use crate::config::ConfigFile;
use crate::identity::DB_FILE;

/// Where the data directory is: a config file's `data_dir`, or given directly.
#[derive(Args)]
pub struct DirSource {
    /// TOML configuration file (its `data_dir` is used).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The agent's data directory (overrides the file's `data_dir`).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl DirSource {
    fn data_dir(&self) -> anyhow::Result<PathBuf> {
        match (&self.data_dir, &self.config) {
            (Some(dir), _) => Ok(dir.clone()),
            (None, Some(path)) => Ok(ConfigFile::load(path)?.data_dir),
            (None, None) => anyhow::bail!("give --config FILE or --data-dir DIR"),
        }
    }
}

#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    source: DirSource,
    /// The archive to write (a new file; an existing one is refused).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    source: DirSource,
    /// The archive to restore, written by `backup`.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// Restore over a non-empty data directory, which is moved aside (not deleted).
    #[arg(long)]
    force: bool,
}

fn report(result: anyhow::Result<String>) -> ExitCode {
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", hotspot_shared::report::Chain(e.as_ref()));
            ExitCode::from(1)
        }
    }
}

pub fn backup(args: BackupArgs) -> ExitCode {
    report(take(&args))
}

fn take(args: &BackupArgs) -> anyhow::Result<String> {
    let dir = args.source.data_dir()?;
    let options = hotspot_storage::Options {
        cache_bytes: crate::store::CACHE_BYTES,
    };
    let s = hotspot_storage::control::take(&dir, DB_FILE, options, &args.to)?;
    Ok(format!(
        "backup written to {}: {} queue entries and {} other files, {} bytes",
        args.to.display(),
        s.entries,
        s.files,
        s.bytes
    ))
}

pub fn restore(args: RestoreArgs) -> ExitCode {
    report(put_back(&args))
}

fn put_back(args: &RestoreArgs) -> anyhow::Result<String> {
    let dir = args.source.data_dir()?;
    let restored = backup::restore(&args.from, &dir, DB_FILE, args.force)?;
    Ok(match restored.moved_aside {
        Some(aside) => format!(
            "restored {} files into {}; the directory that was there is now {}",
            restored.files,
            dir.display(),
            aside.display()
        ),
        None => format!("restored {} files into {}", restored.files, dir.display()),
    })
}
