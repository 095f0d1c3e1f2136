//! One function per command: load what it needs, hand off, map to an exit status.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use clap::CommandFactory;

use crate::cli::{Cli, Command, RunArgs, Selection};
use crate::engine::{self, exit};
use crate::journal::{self, RunStatus};
use crate::runbook::{
    self, Action, BannerSwitch, GuardCheck, LoadError, Plan, RunVars, WaitFor, duration::short,
};
use crate::sanitize;

pub fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Command::Check { runbook } => check(&runbook),
        Command::Plan { runbook, select } => plan(&runbook, &select),
        Command::Run(args) => run(args),
        Command::History { journal_dir } => history(journal_dir.as_deref()),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "drydock",
                &mut std::io::stdout(),
            );
            exit::OK
        }
        Command::Logs {
            runbook,
            log,
            theme,
        } => logs(&runbook, &log, theme.as_deref()),
        Command::Demo(args) => crate::demo::run(args),
        Command::Themes => themes(),
        Command::Schema => schema(),
    }
}

fn schema() -> i32 {
    let schema = crate::json_schema::runbook_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap_or_else(|_| schema.to_string());
    // A closed pipe (`drydock schema | head`) is not an error worth a message.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    exit::OK
}

fn themes() -> i32 {
    let mut out = std::io::stdout().lock();
    let mut code = exit::OK;
    for (name, from) in crate::tui::theme::list() {
        let default = if name == crate::tui::theme::DEFAULT {
            " (default)"
        } else {
            ""
        };
        let _ = writeln!(out, "{name:<16} {from}{default}");
        if let Err(e) = crate::tui::theme::resolve(Some(&name), false) {
            let _ = writeln!(out, "{:<16} invalid: {e}", "");
            code = exit::USAGE;
        }
    }
    if let Some(dir) = crate::tui::theme::user_dir() {
        let _ = writeln!(
            out,
            "\nYour own themes go in {}/NAME.toml; each role left out comes from the default.",
            dir.display()
        );
    }
    code
}

/// The theme for a TUI: `--theme`, else the runbook's, else the default.
pub fn pick_theme(flag: Option<&str>, plan: &Plan) -> Result<crate::tui::theme::Theme, i32> {
    let name = flag.or(plan.theme.as_deref());
    crate::tui::theme::resolve(name, crate::tui::theme::no_color_env()).map_err(|e| {
        eprintln!("drydock: theme: {e}");
        exit::USAGE
    })
}

pub fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("drydock: cannot start: {e}");
            exit::FAILED
        })
}

fn logs(path: &Path, names: &[String], theme: Option<&str>) -> i32 {
    let plan = match load(path, &[]) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if plan.logs.is_empty() {
        eprintln!("drydock: {} has no [logs] entries to show", path.display());
        return exit::USAGE;
    }
    let mut wanted = Vec::new();
    for name in names {
        match plan.logs.iter().position(|l| &l.name == name) {
            Some(i) => wanted.push(i),
            None => {
                let known: Vec<&str> = plan.logs.iter().map(|l| l.name.as_str()).collect();
                eprintln!(
                    "drydock: no log '{name}' in {}; logs are: {}",
                    path.display(),
                    known.join(", ")
                );
                return exit::USAGE;
            }
        }
    }
    if wanted.is_empty() {
        wanted = (0..plan.logs.len()).collect();
    }
    if !std::io::stdout().is_terminal() {
        eprintln!("drydock: logs needs a terminal");
        return exit::USAGE;
    }
    let theme = match pick_theme(theme, &plan) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    rt.block_on(crate::tui::logs_only(Arc::new(plan), wanted, theme))
}

/// A path as shown: the runbook's own name may hold anything.
fn shown(path: &Path) -> String {
    sanitize::line(&path.display().to_string()).into_owned()
}

fn load(path: &Path, vars: &[(String, String)]) -> Result<Plan, i32> {
    runbook::load(path, vars).map_err(|e| {
        match &e {
            LoadError::Invalid(errors) => {
                eprintln!("{errors}");
                let n = errors.errors.len();
                eprintln!(
                    "drydock: {} has {n} error{}",
                    shown(path),
                    if n == 1 { "" } else { "s" }
                );
            }
            other => eprintln!("drydock: {other}"),
        }
        exit::USAGE
    })
}

/// Host indices named by `--host`, or an error naming the unknown one.
fn select_hosts(plan: &Plan, select: &Selection) -> Result<Vec<usize>, i32> {
    select
        .hosts
        .iter()
        .map(|name| {
            plan.host_index(name).ok_or_else(|| {
                let known: Vec<&str> = plan.hosts.iter().map(|h| h.name.as_str()).collect();
                eprintln!(
                    "drydock: --host {}: no such host in the runbook; hosts are: {}",
                    sanitize::line(name),
                    sanitize::line(&known.join(", "))
                );
                exit::USAGE
            })
        })
        .collect()
}

fn check(path: &Path) -> i32 {
    match load(path, &[]) {
        Ok(plan) => {
            println!(
                "{}: ok: \"{}\", {} step{}, {} host{}",
                shown(path),
                sanitize::line(&plan.name),
                plan.steps.len(),
                if plan.steps.len() == 1 { "" } else { "s" },
                plan.hosts.len(),
                if plan.hosts.len() == 1 { "" } else { "s" }
            );
            exit::OK
        }
        Err(code) => code,
    }
}

fn plan(path: &Path, select: &Selection) -> i32 {
    let plan = match load(path, &select.vars) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let only = match select_hosts(&plan, select) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", render_plan(&plan, &only));
    exit::OK
}

/// The plan as text: each step with its markers, then per host the exact
/// command. Every string from the runbook goes through the sanitiser.
pub fn render_plan(plan: &Plan, only: &[usize]) -> String {
    use std::fmt::Write as _;
    let vars = RunVars {
        run_id: Some("<run_id>".into()),
        starts_at: Some("<starts_at>".into()),
    };
    let text = |s: &str| sanitize::text(s).into_owned();
    let render = |t: &runbook::template::Template, h: usize| {
        plan.render(t, h, &vars).map_or_else(
            |e| format!("<{}>", sanitize::line(&e.to_string())),
            |s| text(&s),
        )
    };
    let mut s = String::new();
    let _ = writeln!(s, "{}", text(&plan.name));
    if let Some(d) = &plan.description {
        let _ = writeln!(s, "{}", text(d));
    }
    let _ = writeln!(s);
    let width = plan.steps.len().to_string().len();
    for (i, step) in plan.steps.iter().enumerate() {
        let hosts: Vec<usize> = step
            .hosts
            .iter()
            .copied()
            .filter(|h| only.is_empty() || only.contains(h))
            .collect();
        let mut marks = Vec::new();
        if step.confirm || matches!(step.action, Action::Manual(_)) {
            marks.push("[gate]".to_string());
        }
        if matches!(step.action, Action::Guard(_)) {
            marks.push("[guard]".to_string());
        }
        if step.when.is_some() {
            marks.push("[when]".to_string());
        }
        if let Some(label) = &step.rolling {
            marks.push(format!("[rolling: {}]", text(label)));
        }
        if step.always {
            marks.push("[always]".to_string());
        }
        if step.on_failure != runbook::OnFailure::Pause {
            marks.push(format!(
                "[on failure: {}]",
                match step.on_failure {
                    runbook::OnFailure::Abort => "abort",
                    runbook::OnFailure::Continue => "continue",
                    runbook::OnFailure::Pause => "pause",
                }
            ));
        }
        let _ = writeln!(
            s,
            "{:>width$}. {}  {}{}{}",
            i + 1,
            text(&step.id),
            text(&step.title),
            if marks.is_empty() { "" } else { "  " },
            marks.join(" ")
        );
        if hosts.is_empty() {
            let _ = writeln!(s, "     (no selected host)");
        }
        for &h in &hosts {
            let name = text(&plan.hosts[h].name);
            if let Some(when) = &step.when {
                let _ = writeln!(s, "     {name}: when: {}", render(when, h));
            }
            if let Some(preview) = &step.preview {
                let _ = writeln!(s, "     {name}: preview: {}", render(preview, h));
            }
            let action = match &step.action {
                Action::Run(t) => format!("$ {}", render(t, h)),
                Action::Manual(t) => format!("manual: {}", render(t, h)),
                Action::Guard(g) => {
                    let what = match &g.check {
                        GuardCheck::FileAbsent(p) => format!("file_absent {}", render(p, h)),
                        GuardCheck::FilePresent(p) => format!("file_present {}", render(p, h)),
                        GuardCheck::Command(c) => format!("command {}", render(c, h)),
                        GuardCheck::Http(c) => format!(
                            "http {} status {}",
                            render(&c.url, c.via_for(h).unwrap_or(h)),
                            c.status
                        ),
                    };
                    let timeout = g
                        .timeout
                        .map(|t| format!(", timeout {}", short(t)))
                        .unwrap_or_default();
                    format!("guard: {what} (poll {}{timeout})", short(g.poll))
                }
                Action::Banner(BannerSwitch::On) => {
                    let b = plan.banner.as_ref();
                    let path = b.map(|b| render(&b.path, h)).unwrap_or_default();
                    let msg = b.map(|b| render(&b.message, h)).unwrap_or_default();
                    format!("banner on: {path}: {msg}")
                }
                Action::Banner(BannerSwitch::Off) => {
                    let path = plan
                        .banner
                        .as_ref()
                        .map(|b| render(&b.path, h))
                        .unwrap_or_default();
                    format!("banner off: {path}")
                }
                Action::Wait(WaitFor::Banner) => "wait until the banner's start time".into(),
                Action::Wait(WaitFor::For(d)) => format!("wait {}", short(*d)),
                Action::Http(c) => {
                    let via = c
                        .via_for(h)
                        .map(|v| format!(" via {}", text(&plan.hosts[v].name)))
                        .unwrap_or_default();
                    let contains = c
                        .contains
                        .as_ref()
                        .map(|t| format!(" containing '{}'", render(t, h)))
                        .unwrap_or_default();
                    format!(
                        "http: GET {}{via} expect {}{contains}",
                        render(&c.url, c.via_for(h).unwrap_or(h)),
                        c.status
                    )
                }
            };
            let _ = writeln!(s, "     {name}: {action}");
            if let Some(undo) = &step.undo {
                let _ = writeln!(s, "     {name}: undo: {}", render(undo, h));
            }
        }
    }
    s
}

fn history(dir: Option<&Path>) -> i32 {
    let dir = dir.map_or_else(journal::default_dir, Path::to_path_buf);
    let runs = match journal::list_runs(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("drydock: {e}");
            return exit::USAGE;
        }
    };
    if runs.is_empty() {
        println!("no runs in {}", dir.display());
        return exit::OK;
    }
    println!(
        "{:<22} {:<10} {:<24} {:<16} RUNBOOK",
        "RUN", "USER", "STARTED", "RESULT"
    );
    for run in runs {
        let result = match run.finished {
            Some((RunStatus::Ok, code)) => format!("ok ({code})"),
            Some((RunStatus::Failed, code)) => format!("failed ({code})"),
            Some((RunStatus::Aborted, code)) => format!("aborted ({code})"),
            None => "unfinished".to_string(),
        };
        // A journal is a file anyone may have written: its strings are data.
        let field = |s: &str| sanitize::line(s).into_owned();
        println!(
            "{:<22} {:<10} {:<24} {:<16} {}",
            field(&run.run_id),
            field(&run.user),
            field(&run.started),
            result,
            field(&run.runbook)
        );
    }
    exit::OK
}

fn run(args: RunArgs) -> i32 {
    let plan = match load(&args.runbook, &args.select.vars) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let only_hosts = match select_hosts(&plan, &args.select) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let from = match &args.from {
        Some(id) => match plan.step_index(id) {
            Some(i) => Some(i),
            None => {
                let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
                eprintln!(
                    "drydock: --from {id}: no step has that id; steps are: {}",
                    ids.join(", ")
                );
                return exit::USAGE;
            }
        },
        None => None,
    };
    let journal_dir = args
        .journal_dir
        .clone()
        .unwrap_or_else(journal::default_dir);
    let resume = match &args.resume {
        Some(id) => {
            let id = (!id.is_empty()).then_some(id.as_str());
            match engine::find_resumable(&journal_dir, &args.runbook, id) {
                Ok(summary) => Some(summary),
                Err(e) => {
                    eprintln!("drydock: --resume: {e}");
                    return exit::USAGE;
                }
            }
        }
        None => None,
    };
    let tui = !args.headless && std::io::stdout().is_terminal();
    // A bad --theme is a usage error even where the TUI does not open.
    let theme = if tui || args.theme.is_some() {
        match pick_theme(args.theme.as_deref(), &plan) {
            Ok(t) => Some(t).filter(|_| tui),
            Err(code) => return code,
        }
    } else {
        None
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let plan = Arc::new(plan);
    let ui = crate::tui::ui_channel();
    let prompter: Arc<dyn crate::remote::Prompter> = if tui {
        Arc::new(crate::tui::TuiPrompter::new(ui.0.clone()))
    } else {
        Arc::new(crate::headless::TerminalPrompter)
    };
    let options = engine::Options {
        yes: args.yes,
        step_mode: args.step,
        dry_run: args.dry_run,
        from,
        only_hosts,
        journal_dir,
        resume,
        prompter,
        // Breaking a held lock needs someone to type the step id: only the TUI offers it.
        offer_lock_break: tui,
        // Only the TUI shows the servers' logs.
        tail_logs: tui,
    };
    runtime.block_on(drive(plan, options, theme, ui))
}

/// Start the engine and hand the run to the TUI (given a theme) or to headless mode.
pub(crate) async fn drive(
    plan: Arc<Plan>,
    options: engine::Options,
    theme: Option<crate::tui::theme::Theme>,
    ui: crate::tui::UiChannel,
) -> i32 {
    let handle = match engine::start(plan.clone(), options) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("drydock: {e}");
            return exit::FAILED;
        }
    };
    match theme {
        Some(theme) => crate::tui::drive(plan, handle, theme, ui).await,
        None => crate::headless::drive(&plan, handle).await,
    }
}
