use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = drydock::cli::Cli::parse();
    let code = drydock::commands::dispatch(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
