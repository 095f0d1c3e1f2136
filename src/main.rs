use std::process::ExitCode;

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    // `COMPLETE=bash drydock ...`: the shell asking for completions.
    clap_complete::CompleteEnv::with_factory(drydock::cli::Cli::command).complete();
    let cli = drydock::cli::Cli::parse();
    let _log = drydock::diag::init();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "drydock started");
    drydock::commands::raise_open_file_limit();
    let code = drydock::commands::dispatch(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
