//! A fault-suite scenario: one controller and one agent as `fleet-peer` processes on
//! loopback, their certificates, data directories and logs under one directory.
//!
//! The directory is removed when the scenario ends normally; when a test panics (or
//! `FLEET_KEEP` is set) it is kept and its path printed, with the peers' log tails after a
//! panic, so a run can be examined.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Result;
use hotspot_link::PeerId;
use hotspot_pki::SiteId;

use super::check::{AppliedLog, Verdict};
use super::pki_files::{init_controller_pki, write_agent_certs};
use super::process::{PeerProcess, log_tail};

/// How a peer sends: `n` notes at `rate` per second (0 = flat out).
#[derive(Clone, Copy, Debug)]
pub struct Flow {
    pub n: u64,
    pub rate: u64,
}

/// One controller, one agent, one directory.
pub struct Fleet {
    root: PathBuf,
    bin: PathBuf,
    pub site: SiteId,
}

impl Fleet {
    /// Makes the PKI for a fleet of one `site` under `root` (which the fleet then owns).
    pub fn new(bin: &Path, root: PathBuf, site: &str) -> Result<Fleet> {
        let site: SiteId = site.parse()?;
        let ca = init_controller_pki(&root.join("pki"))?;
        write_agent_certs(&ca, &site, &root.join("agent-certs"))?;
        Ok(Fleet {
            root,
            bin: bin.to_path_buf(),
            site,
        })
    }

    /// [`Fleet::new`] in a fresh temporary directory named after `test`, kept after the run
    /// (the `Drop` below removes it unless the test failed).
    pub fn in_temp_dir(bin: &Path, test: &str, site: &str) -> Result<Fleet> {
        let root = tempfile::Builder::new()
            .prefix(&format!("{test}-"))
            .tempdir()?
            .keep();
        Fleet::new(bin, root, site)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn controller_dir(&self) -> PathBuf {
        self.root.join("controller")
    }

    pub fn agent_dir(&self) -> PathBuf {
        self.root.join("agent")
    }

    fn log(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.log"))
    }

    fn common(flow: Flow, data: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--data".into(), data.into()];
        for (flag, value) in [
            ("--send", flow.n),
            ("--send-rate", flow.rate),
            ("--expect", flow.n),
            ("--report-ms", 50),
        ] {
            args.push(flag.into());
            args.push(value.to_string().into());
        }
        args.extend([
            "--quit-on-stdin-eof".into(),
            "--intervals".into(),
            "fast".into(),
        ]);
        args
    }

    /// Starts the controller on `listen` (port 0: any; read `listening` from its progress),
    /// sending `flow` to the site and expecting as many notes back. `extra` flags are appended.
    pub fn controller(
        &self,
        listen: SocketAddr,
        flow: Flow,
        extra: &[&str],
    ) -> Result<PeerProcess> {
        let mut args: Vec<OsString> = vec!["controller".into()];
        args.extend(Fleet::common(flow, &self.controller_dir()));
        args.extend([
            "--listen".into(),
            listen.to_string().into(),
            "--pki".into(),
            self.root.join("pki").into(),
            "--site".into(),
            self.site.to_string().into(),
        ]);
        args.extend(extra.iter().map(OsString::from));
        PeerProcess::spawn("controller", &self.bin, args, &self.log("controller"))
    }

    /// Starts the agent, dialling `controller` (the controller or a proxy in front of it).
    pub fn agent(&self, controller: SocketAddr, flow: Flow, extra: &[&str]) -> Result<PeerProcess> {
        let mut args: Vec<OsString> = vec!["agent".into()];
        args.extend(Fleet::common(flow, &self.agent_dir()));
        args.extend([
            "--controller".into(),
            controller.to_string().into(),
            "--server-name".into(),
            "localhost".into(),
            "--cert-dir".into(),
            self.root.join("agent-certs").into(),
        ]);
        args.extend(extra.iter().map(OsString::from));
        PeerProcess::spawn("agent", &self.bin, args, &self.log("agent"))
    }

    /// What the stopped controller applied from the agent, judged against `1..=n`.
    pub fn controller_received(&self, n: u64) -> Result<(Verdict, AppliedLog)> {
        let log = AppliedLog::read_dir(&self.controller_dir(), &PeerId::Site(self.site.clone()))?;
        Ok((log.verify(&PeerId::Site(self.site.clone()), n), log))
    }

    /// What the stopped agent applied from the controller, judged against `1..=n`.
    pub fn agent_received(&self, n: u64) -> Result<(Verdict, AppliedLog)> {
        let log = AppliedLog::read_dir(&self.agent_dir(), &PeerId::Controller)?;
        Ok((log.verify(&PeerId::Controller, n), log))
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "fleet directory kept for inspection: {}",
                self.root.display()
            );
            for name in ["controller", "agent"] {
                eprintln!(
                    "--- {name}.log (tail) ---\n{}",
                    log_tail(&self.log(name), 40)
                );
            }
        } else if std::env::var_os("FLEET_KEEP").is_some() {
            eprintln!("fleet directory kept (FLEET_KEEP): {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
