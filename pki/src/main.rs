//! `hotspot-pki`: the operator's CLI over the `hotspot_pki` library.
//!
//! It creates the fleet CA and the controller's certificate and shows what is
//! in a PKI directory. Enrollment tokens are not made here: they belong to the
//! controller, which stores their hashes in its own database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hotspot_pki::tls::certs_from_pem;
use hotspot_pki::{
    CA_CERT_FILE, CA_KEY_FILE, CONTROLLER_CERT_FILE, CONTROLLER_KEY_FILE, FleetCa,
    fingerprint_sha256, serial_of,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;

use hotspot_pki::inspect::SITE_URI_PREFIX;

/// Fleet CA and certificate operations for hotspot-fleet.
#[derive(Parser)]
#[command(name = "hotspot-pki", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the fleet CA: fleet-ca.cert.pem and fleet-ca.key.pem (mode 0600).
    /// Refuses if either file already exists.
    Init {
        /// Directory for the CA files (created with mode 0700 if missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Issue the controller's TLS server certificate: controller.cert.pem
    /// (certificate, then the CA) and controller.key.pem (mode 0600).
    ControllerCert {
        /// Directory holding the fleet CA; the certificate is written here too.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Name agents use to reach the controller: DNS name or IP address.
        /// Repeat or list several: --san ctl.example.net --san 203.0.113.7
        #[arg(long = "san", value_name = "HOST", required = true, num_args = 1..)]
        sans: Vec<String>,
        /// Lifetime in days.
        #[arg(long, value_name = "N", default_value_t = hotspot_pki::DEFAULT_CONTROLLER_CERT_VALIDITY.whole_days())]
        days: i64,
        /// Replace an existing controller certificate and key.
        #[arg(long)]
        replace: bool,
    },
    /// Show the CA (fingerprint, subject, expiry) and controller certificate in DIR.
    Show {
        /// Directory holding the fleet CA.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    // Only ring in this workspace; install it so nothing picks another.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The cause chain on one line, each cause once; no backtrace for operators.
            eprintln!("error: {}", hotspot_shared::report::Chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Init { dir } => init(&dir),
        Command::ControllerCert {
            dir,
            sans,
            days,
            replace,
        } => controller_cert(&dir, &sans, days, replace),
        Command::Show { dir } => show(&dir),
    }
}

fn init(dir: &Path) -> Result<()> {
    let ca = FleetCa::init(dir).context("cannot create the fleet CA")?;
    println!("created fleet CA");
    println!("  certificate  {}", dir.join(CA_CERT_FILE).display());
    println!(
        "  private key  {} (mode 0600; keep it offline if you can)",
        dir.join(CA_KEY_FILE).display()
    );
    println!("  sha256       {}", hex::encode(ca.fingerprint_sha256()));
    Ok(())
}

fn controller_cert(dir: &Path, sans: &[String], days: i64, replace: bool) -> Result<()> {
    let ca = FleetCa::load(dir).context("cannot load the fleet CA")?;
    let issued = ca
        .issue_controller_cert(sans, Duration::days(days))
        .context("cannot issue the controller certificate")?;
    issued
        .write_to(dir, replace)
        .context("cannot write the controller certificate (use --replace to renew it)")?;
    println!("issued controller certificate for {}", sans.join(", "));
    println!(
        "  chain        {}",
        dir.join(CONTROLLER_CERT_FILE).display()
    );
    println!(
        "  private key  {} (mode 0600)",
        dir.join(CONTROLLER_KEY_FILE).display()
    );
    println!("  serial       {}", issued.cert.serial);
    println!("  expires      {}", rfc3339(issued.cert.not_after));
    Ok(())
}

fn show(dir: &Path) -> Result<()> {
    let ca_path = dir.join(CA_CERT_FILE);
    let ca_pem = std::fs::read_to_string(&ca_path).with_context(|| {
        format!(
            "cannot read {} (is this a PKI directory?)",
            ca_path.display()
        )
    })?;
    let ca_chain = certs_from_pem(&ca_path.display().to_string(), &ca_pem)?;
    println!("fleet CA       {}", ca_path.display());
    describe(&ca_chain[0])?;

    let ctl_path = dir.join(CONTROLLER_CERT_FILE);
    match std::fs::read_to_string(&ctl_path) {
        Ok(pem) => {
            let chain = certs_from_pem(&ctl_path.display().to_string(), &pem)?;
            println!("controller     {}", ctl_path.display());
            describe(&chain[0])?;
            let sends_ca = chain[1..]
                .iter()
                .any(|c| c.as_ref() == ca_chain[0].as_ref());
            println!(
                "  chain        {} certificate(s){}",
                chain.len(),
                if sends_ca {
                    ", includes this CA"
                } else {
                    ", does NOT include this CA"
                }
            );
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "controller     none (create with `hotspot-pki controller-cert --dir {} --san HOST`)",
                dir.display()
            );
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", ctl_path.display())),
    }
    Ok(())
}

fn describe(der: &[u8]) -> Result<()> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| anyhow::anyhow!("certificate does not parse: {e}"))?;
    let not_after = cert.validity().not_after.to_datetime();
    let days_left = (not_after - OffsetDateTime::now_utc()).whole_days();
    println!("  subject      {}", cert.subject());
    println!("  issuer       {}", cert.issuer());
    if let Ok(serial) = serial_of(der) {
        println!("  serial       {serial}");
    }
    println!("  sha256       {}", hex::encode(fingerprint_sha256(der)));
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => format!("DNS:{d}"),
                GeneralName::IPAddress(ip) => format_ip(ip),
                GeneralName::URI(u) if u.starts_with(SITE_URI_PREFIX) => {
                    format!("site:{}", &u[SITE_URI_PREFIX.len()..])
                }
                other => format!("{other}"),
            })
            .collect();
        println!("  names        {}", names.join(", "));
    }
    println!(
        "  not before   {}",
        rfc3339(cert.validity().not_before.to_datetime())
    );
    println!(
        "  not after    {} ({})",
        rfc3339(not_after),
        if days_left >= 0 {
            format!("{days_left} days left")
        } else {
            "EXPIRED".to_string()
        }
    );
    Ok(())
}

fn format_ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => format!(
            "IP:{}",
            std::net::Ipv4Addr::from([bytes[0], bytes[1], bytes[2], bytes[3]])
        ),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            format!("IP:{}", std::net::Ipv6Addr::from(a))
        }
        _ => format!("IP:{}", hex::encode(bytes)),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
