//! The command line, as DESIGN.md fixes it.
// The doc comments here are the help text, where `[logs]` and `[vars]` name
// a runbook's tables, not items to link to.
#![allow(rustdoc::broken_intra_doc_links)]

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

#[derive(Debug, Parser)]
#[command(
    name = "drydock",
    version,
    about = "Walk a production update runbook, step by step, over SSH",
    after_help = help::MAIN
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a runbook (the TUI on a terminal, else or with --headless line by line).
    #[command(after_help = help::RUN)]
    Run(RunArgs),
    /// Validate a runbook; print every error as FILE:LINE:COL: message.
    #[command(after_help = help::CHECK)]
    Check { runbook: PathBuf },
    /// Print each step, its hosts and the exact command after templating.
    #[command(after_help = help::PLAN)]
    Plan {
        runbook: PathBuf,
        #[command(flatten)]
        select: Selection,
    },
    /// Only the log viewer, on the runbook's [logs].
    #[command(after_help = help::LOGS)]
    Logs {
        runbook: PathBuf,
        /// The [logs] entries to show (default: all).
        log: Vec<String>,
        /// Colour theme.
        #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(theme_names))]
        theme: Option<String>,
    },
    /// Past runs: id, runbook, user, start, result; a runbook that is gone is marked.
    #[command(after_help = help::HISTORY)]
    History {
        /// One JSON array of the runs instead of a table.
        #[arg(long)]
        json: bool,
        /// Where the journals are (default: as `run` writes them).
        #[arg(long, value_name = "DIR")]
        journal_dir: Option<PathBuf>,
    },
    /// One past run: every step per host, status, duration, answers, previews,
    /// failures and what was left undone.
    #[command(after_help = help::SHOW)]
    Show {
        /// The run's id, or enough of its start to name one run.
        #[arg(value_name = "RUN_ID", add = ArgValueCompleter::new(run_ids))]
        run_id: String,
        /// The same report as one JSON document.
        #[arg(long)]
        json: bool,
        /// Where the journals are (default: as `run` writes them).
        #[arg(long, value_name = "DIR")]
        journal_dir: Option<PathBuf>,
    },
    /// A past run in the TUI, read-only, from its journal: step through it, jump
    /// to a step, or play it.
    #[command(after_help = help::REPLAY)]
    Replay {
        /// The run's id, or enough of its start to name one run.
        #[arg(value_name = "RUN_ID", add = ArgValueCompleter::new(run_ids))]
        run_id: String,
        /// Where the journals are (default: as `run` writes them).
        #[arg(long, value_name = "DIR")]
        journal_dir: Option<PathBuf>,
    },
    /// A run going on in the TUI, read-only, following its journal (for a second
    /// admin on the same machine).
    #[command(after_help = help::WATCH)]
    Watch {
        /// The run's id, or enough of its start (default: the latest run going on).
        #[arg(value_name = "RUN_ID", add = ArgValueCompleter::new(unfinished_run_ids))]
        run_id: Option<String>,
        /// Where the journals are (default: as `run` writes them).
        #[arg(long, value_name = "DIR")]
        journal_dir: Option<PathBuf>,
    },
    /// The example runbook on a throwaway local site, in the TUI.
    #[command(after_help = help::DEMO)]
    Demo(DemoArgs),
    /// List the themes found.
    #[command(after_help = help::THEMES)]
    Themes,
    /// Print the runbook format as a JSON Schema, for editors (a `#:schema` line for Taplo).
    #[command(after_help = help::SCHEMA)]
    Schema,
    /// Print the shell's completion script: it completes commands, flags, step
    /// ids for --from, theme names and run ids.
    #[command(after_help = help::COMPLETIONS)]
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
    #[arg(long, value_name = "STEP", add = ArgValueCompleter::new(step_ids))]
    pub from: Option<String>,
    /// Continue the latest unfinished run of this runbook, or the run named.
    #[arg(
        long,
        value_name = "RUN_ID",
        num_args = 0..=1,
        default_missing_value = "",
        add = ArgValueCompleter::new(unfinished_run_ids)
    )]
    pub resume: Option<String>,
    #[command(flatten)]
    pub select: Selection,
    /// Colour theme of the TUI.
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(theme_names))]
    pub theme: Option<String>,
    /// Where the journal is written.
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// The sudo password, on the first line of FILE, for the steps with
    /// sudo (else $DRYDOCK_SUDO_PASSWORD_FILE; else it is asked for).
    #[arg(long, value_name = "FILE")]
    pub sudo_password_file: Option<PathBuf>,
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
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(theme_names))]
    pub theme: Option<String>,
    /// Keep the throwaway site (its path is printed) instead of removing it.
    #[arg(long)]
    pub keep: bool,
    /// Run line by line instead of in the TUI (answers read from standard input).
    #[arg(long)]
    pub headless: bool,
}

/// What `--help` adds after the options: an example and the exit statuses.
mod help {
    pub const MAIN: &str = "\
Examples:
  drydock check update.toml
  drydock run update.toml
  drydock show 20261121-1415
  drydock replay 20261121-1415

`drydock COMMAND --help` tells each command's exit statuses.";

    pub const RUN: &str = "\
Examples:
  drydock run update.toml                      the TUI
  drydock run update.toml --dry-run            connect, check guards, show previews; change nothing
  printf 'y\\ny\\n' | drydock run update.toml --headless   answers read from standard input
  drydock run update.toml --resume             continue the latest unfinished run

Exit status:
  0  every step done or skipped
  1  the run stopped itself on a failed step (on_failure = \"abort\", a guard timed out, a failure under --yes)
  2  usage or runbook error: nothing ran
  3  aborted by the admin (also at end of input), or interrupted by SIGTERM/SIGHUP
  4  the lock is held by another run
  5  a host could not be reached or used (connection, host key, authentication, lock), with the reason";

    pub const CHECK: &str = "\
Example:
  drydock check update.toml

Exit status:
  0  the runbook is valid
  2  it has errors (each printed as FILE:LINE:COL: message), or cannot be read";

    pub const PLAN: &str = "\
Example:
  drydock plan update.toml --host web --var site=/srv/staging

Exit status:
  0  the plan is printed
  2  the runbook has errors, or --host names no host of it";

    pub const LOGS: &str = "\
Example:
  drydock logs update.toml apache

Exit status:
  0  the viewer was closed
  2  the runbook has errors or no such [logs] entry, or standard output is not a terminal";

    pub const HISTORY: &str = "\
Examples:
  drydock history
  drydock history --json | jq '.[] | select(.result != \"ok\")'

Exit status:
  0  the runs are listed (perhaps none)
  2  the journal dir cannot be read";

    pub const SHOW: &str = "\
Examples:
  drydock show 20261121-141503-3f2a
  drydock show 20261121-14 --json | jq '.left_undone'

Exit status:
  0  the run is shown
  2  no run has that id, several runs start with it, or its journal cannot be read";

    pub const REPLAY: &str = "\
Examples:
  drydock replay 20261121-141503-3f2a
  drydock replay 20261121-14 --journal-dir /var/lib/drydock/runs

Keys besides the run's own: . and , the next and previous recorded event, ] and [
the next and previous step's start, : a step's id to see the run as that step
ended, Space play, ( and ) the start and the end. Nothing is answered from it.

Exit status:
  0  the replay was closed
  1  the terminal interface failed
  2  no run has that id, several runs start with it, its journal cannot be read,
     or standard output is not a terminal";

    pub const WATCH: &str = "\
Examples:
  drydock watch                              the latest run going on
  drydock watch 20261121-141503-3f2a

A run going on has no run_finished in its journal yet and its drydock is alive.
New lines show within a second; the header says FINISHED when the run ends.
Nothing is answered from it.

Exit status:
  0  the watch was closed
  1  the terminal interface failed
  2  no run has that id (or none is going on), its journal cannot be read,
     or standard output is not a terminal";

    pub const DEMO: &str = "\
Example:
  drydock demo --keep

Exit status: as `drydock run` (see `drydock run --help`).";

    pub const THEMES: &str = "\
Example:
  drydock themes

Exit status:
  0  every theme is valid
  2  a theme file is invalid (it is named)";

    pub const SCHEMA: &str = "\
Example:
  drydock schema > drydock.schema.json   then begin a runbook with #:schema ./drydock.schema.json

Exit status:
  0  always";

    pub const COMPLETIONS: &str = "\
Examples:
  drydock completions bash > ~/.local/share/bash-completion/completions/drydock
  drydock completions zsh > \"${fpath[1]}/_drydock\"
  drydock completions fish > ~/.config/fish/completions/drydock.fish

The script asks drydock itself for step ids, theme names and run ids as you type.

Exit status:
  0  the script is printed";
}

/// The words of the command line being completed, before the one under the
/// cursor, as clap reads them: a completer sees only its own word, but step
/// ids need the runbook named earlier on the line.
fn line_so_far() -> Option<clap::ArgMatches> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let start = args.iter().position(|a| a == "--")? + 1;
    let mut words = args.get(start..)?.to_vec();
    match std::env::var("_CLAP_COMPLETE_INDEX")
        .ok()
        .and_then(|i| i.parse::<usize>().ok())
    {
        Some(index) if index < words.len() => words.truncate(index),
        _ => {
            words.pop();
        }
    }
    Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(words)
        .ok()
}

fn candidates(
    current: &OsStr,
    values: impl IntoIterator<Item = (String, Option<String>)>,
) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    values
        .into_iter()
        .filter(|(value, _)| value.starts_with(current.as_ref()))
        .map(|(value, help)| {
            let help = help.map(|h| crate::sanitize::line(&h).into_owned().into());
            CompletionCandidate::new(value).help(help)
        })
        .collect()
}

/// `--from`: the step ids of the runbook on the line, with their titles.
fn step_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(matches) = line_so_far() else {
        return Vec::new();
    };
    let Some(run) = matches.subcommand_matches("run") else {
        return Vec::new();
    };
    let Some(runbook) = run.get_one::<PathBuf>("runbook") else {
        return Vec::new();
    };
    let vars: Vec<(String, String)> = run
        .get_many::<(String, String)>("vars")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let Ok(plan) = crate::runbook::load(runbook, &vars) else {
        return Vec::new();
    };
    candidates(
        current,
        plan.steps.into_iter().map(|s| (s.id, Some(s.title))),
    )
}

/// `--theme`: the themes found.
fn theme_names(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(
        current,
        crate::tui::theme::list()
            .into_iter()
            .map(|(name, from)| (name, Some(from))),
    )
}

/// The journal dir the line names, else the default.
fn journal_dir_on_line() -> PathBuf {
    line_so_far()
        .and_then(|m| {
            let (_, sub) = m.subcommand()?;
            sub.try_get_one::<PathBuf>("journal_dir")
                .ok()
                .flatten()
                .cloned()
        })
        .unwrap_or_else(crate::journal::default_dir)
}

/// `show RUN_ID`, `replay RUN_ID`: every run, newest first.
fn run_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut ids = crate::journal::run_ids(&journal_dir_on_line()).unwrap_or_default();
    ids.reverse();
    candidates(current, ids.into_iter().map(|id| (id, None)))
}

/// `--resume RUN_ID`, `watch RUN_ID`: the runs that did not finish, newest first.
fn unfinished_run_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let dir = journal_dir_on_line();
    let mut ids = crate::journal::run_ids(&dir).unwrap_or_default();
    ids.retain(|id| !crate::journal::is_finished(&dir.join(format!("{id}.jsonl"))));
    ids.reverse();
    candidates(current, ids.into_iter().map(|id| (id, None)))
}
