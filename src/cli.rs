//! The command line, as DESIGN.md fixes it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "drydock",
    version,
    about = "Walk a production update runbook, step by step, over SSH"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a runbook (the TUI on a terminal, else or with --headless line by line).
    Run(RunArgs),
    /// Validate a runbook; print every error as FILE:LINE:COL: message.
    Check { runbook: PathBuf },
    /// Print each step, its hosts and the exact command after templating.
    Plan {
        runbook: PathBuf,
        #[command(flatten)]
        select: Selection,
    },
    /// Only the log viewer, on the runbook's [logs].
    Logs {
        runbook: PathBuf,
        /// The [logs] entries to show (default: all).
        log: Vec<String>,
        /// Colour theme.
        #[arg(long, value_name = "NAME")]
        theme: Option<String>,
    },
    /// Past runs: id, runbook, user, start, result.
    History {
        #[arg(long, value_name = "DIR")]
        journal_dir: Option<PathBuf>,
    },
    /// The example runbook on a throwaway local site, in the TUI.
    Demo(DemoArgs),
    /// List the themes found.
    Themes,
    /// Print the runbook format as a JSON Schema, for editors (a `#:schema` line for Taplo).
    Schema,
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Args, Clone, Default)]
pub struct Selection {
    /// Only this host (repeatable).
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Set a variable, overriding [vars] and host vars (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub runbook: PathBuf,
    /// One line per event; gate answers read from standard input.
    #[arg(long)]
    pub headless: bool,
    /// Answer every gate with run and tick off every manual step.
    #[arg(long)]
    pub yes: bool,
    /// Gate every step.
    #[arg(long)]
    pub step: bool,
    /// Connect, check guards and show previews; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start at this step.
    #[arg(long, value_name = "STEP")]
    pub from: Option<String>,
    /// Continue the latest unfinished run of this runbook, or the run named.
    #[arg(long, value_name = "RUN_ID", num_args = 0..=1, default_missing_value = "")]
    pub resume: Option<String>,
    #[command(flatten)]
    pub select: Selection,
    /// Colour theme of the TUI.
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Where the journal is written.
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not KEY=VALUE; write it like --var site=/srv/app"))?;
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "'{key}' is not a variable name; use letters, digits and '_'"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

#[derive(Debug, Args, Clone, Default)]
pub struct DemoArgs {
    /// Colour theme of the TUI.
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Keep the throwaway site (its path is printed) instead of removing it.
    #[arg(long)]
    pub keep: bool,
    /// Run line by line instead of in the TUI (answers read from standard input).
    #[arg(long)]
    pub headless: bool,
}
