//! The fault suite in a row (issue 6 §3): every scenario (or those named) over real processes,
//! then the summary table, printed and written to `target/fault-summary.txt`.
//!
//! ```text
//! cargo build -p hotspot-tests --bins --release
//! target/release/fault-suite            # CI sizes
//! target/release/fault-suite --soak     # 4× the vouchers, 3× the faults
//! target/release/fault-suite --scale 0.2 3-agent-kill9
//! FAULT_SUITE_CONGESTION=cubic target/release/fault-suite 6-loss-and-delay   # vs BBR
//! ```
//!
//! `FAULT_SUITE_LOG` sets the processes' log filter (logs stay in `--data-dir`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use hotspot_tests::faultkit::{Binaries, Scale, scenarios, summary};

#[derive(Parser)]
#[command(about = "Runs the fault suite's scenarios and prints the summary table")]
struct Args {
    /// Larger runs: 4× the vouchers, 3× the faults.
    #[arg(long)]
    soak: bool,
    /// A factor for voucher counts and fault repetitions (overrides --soak).
    #[arg(long)]
    scale: Option<f64>,
    /// Where the fleets keep their data (default: a temporary directory, removed after).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Scenarios to run (default: all).
    scenarios: Vec<String>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scale = match (args.scale, args.soak) {
        (Some(f), _) => Scale {
            vouchers: f,
            faults: f,
        },
        (None, true) => Scale::SOAK,
        (None, false) => Scale::CI,
    };
    let bins = Binaries::beside_current_exe()?;
    let tmp = tempfile::tempdir()?;
    let base = args.data_dir.unwrap_or_else(|| tmp.path().to_path_buf());
    let names: Vec<String> = if args.scenarios.is_empty() {
        scenarios::ALL.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.scenarios
    };
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for name in &names {
        eprintln!("== {name}");
        match scenarios::run(name, &bins, &base.join(name), scale).await {
            Ok(row) => {
                if !row.verdict.clean() {
                    failed.push(format!("{name}: {}", row.verdict.problems_text()));
                }
                eprint!("{}", summary::table(std::slice::from_ref(&row)));
                rows.push(row);
            }
            Err(e) => failed.push(format!("{name}: {e:#}")),
        }
    }
    let target = bins
        .controller
        .parent()
        .and_then(|p| p.parent())
        .context("target directory")?
        .to_path_buf();
    let table = summary::write_table(&target, &rows)?;
    println!("{table}");
    if !failed.is_empty() {
        anyhow::bail!("failed:\n{}", failed.join("\n"));
    }
    Ok(())
}
