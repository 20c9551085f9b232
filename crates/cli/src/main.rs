//! `pam-otp`: enrol, inspect and manage pam_otp one-time-code users.
//!
//! A thin shell over the library: codes come from `pam_otp_core::otp`, the file format from
//! `pam_otp_core::secret_file`, recovery hashes from `pam_otp_core::recovery`, state from
//! `pam_otp_core::store`, safe reads from `pam_otp_core::private_file` and safe writes from
//! `pam_otp_core::private_file`. One file per subcommand; the command line is described in
//! `cli_args.rs`, and this file only dispatches.

mod admin;
mod caller;
mod check;
mod cli_args;
mod clock;
mod deliver;
mod describe;
mod enroll;
mod error;
#[cfg(test)]
mod freed_memory_tests;
mod google_authenticator;
mod import;
mod input;
mod locked;
mod manage;
mod metrics;
mod otpauth;
mod qr;
mod random;
mod recovery;
mod repair;
mod show;
mod status;
mod status_delivery;
mod status_tokens;
mod store_cmd;
mod target;
mod tokens;

use std::process::ExitCode;

use clap::Parser;

use cli_args::{Cli, Command, DeliverCommand, StoreCommand, RETIRED_VARIABLES};

fn main() -> ExitCode {
    let cli = Cli::parse();
    for (name, option) in RETIRED_VARIABLES {
        if std::env::var_os(name).is_some() {
            eprintln!(
                "pam-otp: {name} is set, but pam-otp does not read it (an environment kept \
                 through sudo could point root at other files); give {option} on the command \
                 line instead and unset {name}. Nothing was done."
            );
            return ExitCode::FAILURE;
        }
    }
    let result = match cli.command {
        Command::Enroll(a) => enroll::run(&cli.module, &a),
        Command::Status(a) => status::run(&cli.module, &a),
        Command::Recovery(a) => recovery::run(&cli.module, &a),
        Command::Unlock(a) => manage::unlock(&cli.module, &a),
        Command::Locked(a) => locked::run(&cli.module, &a),
        Command::Metrics => metrics::run(&cli.module),
        Command::Reset(a) => manage::reset(&cli.module, &a),
        Command::Repair(a) => repair::run(&cli.module, &a),
        Command::Import(a) => import::run(&cli.module, &a),
        Command::Check(a) => check::run(&cli.module, &a),
        Command::Tokens(a) => tokens::list(&cli.module, &a),
        Command::Remove(a) => tokens::remove(&cli.module, &a),
        Command::Show(a) => show::run(&cli.module, &a),
        Command::Store(StoreCommand::Check(a)) => store_cmd::check(&cli.module, &a),
        Command::Store(StoreCommand::Migrate(a)) => store_cmd::migrate(&cli.module, &a),
        Command::Deliver(DeliverCommand::Test(a)) => deliver::test(&cli.module, &a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pam-otp: {e}");
            ExitCode::FAILURE
        }
    }
}
