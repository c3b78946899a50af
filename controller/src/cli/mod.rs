//! The commands and their flags (clap). What they share lives in [`shared`], below them, so
//! that each command's module uses it and none uses this one.

mod backup;
mod https;
mod ledger_cmds;
pub mod serve;
mod shared;

pub use shared::{
    ConfigSource, DB_FILE, create_private_dir, db_path, install_crypto, open_db, parse_addr,
};

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

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
    /// Remove an account's two-factor sign-in (a lost phone and lost recovery codes; the
    /// controller stopped). Other super admins can do it on the Staff page instead.
    #[command(name = "reset-2fa")]
    ResetTwoFactor(ledger_cmds::ResetTwoFactorArgs),
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

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Admin(AdminCommand::Create(args)) => ledger_cmds::admin_create(args),
        Command::Admin(AdminCommand::ResetTwoFactor(args)) => {
            ledger_cmds::admin_reset_two_factor(args)
        }
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
            eprintln!(
                "hotspot-controller: {}",
                hotspot_shared::report::Chain(e.as_ref())
            );
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
}
