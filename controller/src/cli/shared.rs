//! What the commands share, below all of them: the config from a file or from flags, the
//! ledger (`<data_dir>/ledger.redb`, one file shared with the fleet link) opened with a clear
//! message when a running controller holds it, the private data directory, address parsing,
//! the TLS crypto provider.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::store::{EmbeddedStore, StoreError};
use anyhow::{Context, bail};
use clap::Args;
use hotspot_storage::StorageError;

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

#[cfg(test)]
mod tests {
    use super::*;
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
