//! `hotspot-agent enroll`: a token in, a certificate and a master key out, one line either way.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::enroll::{EnrollFailure, EnrollOptions, enroll};
use clap::Args;

#[derive(Args)]
pub struct EnrollArgs {
    /// The controller's fleet link, HOST:PORT (UDP, usually port 4433).
    #[arg(long, value_name = "HOST:PORT")]
    controller: String,
    /// The one-time enrollment token from the controller (`hfe1.…`).
    #[arg(long)]
    token: String,
    /// Where to keep the agent's key, certificate, master key and database (created 0700).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Name the controller's certificate carries [default: the host part of --controller].
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// Seconds allowed for the whole exchange.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// 2: bad token or directory, 3: network, 4: refused by the controller, 5: TLS or CA mismatch.
fn exit_code(e: &EnrollFailure) -> u8 {
    match e {
        EnrollFailure::Token(_) | EnrollFailure::Identity(_) => 2,
        EnrollFailure::Resolve { .. } | EnrollFailure::Unreachable { .. } => 3,
        EnrollFailure::Refused(_) => 4,
        EnrollFailure::CaMismatch { .. } | EnrollFailure::Tls { .. } => 5,
        EnrollFailure::Other(_) => 1,
    }
}

pub async fn run(args: EnrollArgs) -> ExitCode {
    let opts = EnrollOptions {
        controller: args.controller.clone(),
        token: args.token,
        data_dir: args.data_dir.clone(),
        server_name: args.server_name,
        deadline: Duration::from_secs(args.timeout.max(1)),
    };
    match enroll(&opts).await {
        Ok(done) => {
            println!(
                "enrolled as site {} (certificate valid until {}); start the agent with: hotspot-agent run --data-dir {} --controller {}",
                done.site,
                done.not_after,
                done.data_dir.display(),
                args.controller
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}
