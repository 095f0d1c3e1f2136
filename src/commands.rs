//! One function per command: load what it needs, hand off, map to an exit status.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use crate::cli::{Cli, Command, RunArgs, Selection};
use crate::engine::{self, exit};
use crate::journal;
use crate::runbook::{
    self, Action, BannerSwitch, GuardCheck, LoadError, Plan, RunVars, WaitFor, duration::short,
};
use crate::sanitize;
use crate::tui::state::Source;

/// Raise this process's soft limit on open files to its hard limit. Each
/// SSH host holds a socket, a wake pipe and its command channels' pipes, so
/// the usual soft limit of 1024 (or less) would cap a run at a few hundred
/// hosts while the hard limit allows far more.
pub fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open file limit");
            return;
        }
    };
    if soft >= hard {
        tracing::debug!(soft, hard, "open file limit already at its hard limit");
        return;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => tracing::info!(from = soft, to = hard, "open file limit raised"),
        Err(e) => tracing::warn!(soft, hard, error = %e, "cannot raise the open file limit"),
    }
}

pub fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Command::Check { runbook } => check(&runbook),
        Command::Plan { runbook, select } => plan(&runbook, &select),
        Command::Run(args) => run(args),
        Command::History { json, journal_dir } => history(journal_dir.as_deref(), json),
        Command::Show {
            run_id,
            json,
            journal_dir,
        } => show(&run_id, json, journal_dir.as_deref()),
        Command::Replay {
            run_id,
            journal_dir,
        } => read_only(Some(&run_id), Source::Replay, journal_dir.as_deref()),
        Command::Watch {
            run_id,
            journal_dir,
        } => read_only(run_id.as_deref(), Source::Watch, journal_dir.as_deref()),
        Command::Completions { shell } => completions(shell),
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
            // Warnings do not fail the check: the runbook runs as written.
            for warning in &plan.warnings {
                eprintln!("{warning}");
            }
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
/// command. Every string from the runbook goes through the sanitiser, and
/// secrets are shown as `********`, as everywhere else.
pub fn render_plan(plan: &Plan, only: &[usize]) -> String {
    use std::fmt::Write as _;
    let mut vars = RunVars {
        run_id: Some("<run_id>".into()),
        starts_at: Some("<starts_at>".into()),
        ..RunVars::default()
    };
    // A captured value is known once its step has run: shown by its name.
    for step in &plan.steps {
        if let Some(var) = &step.capture {
            let shown = format!("<{var}>");
            let on_hosts = vars.captured.entry(var.clone()).or_default();
            for &h in &step.hosts {
                on_hosts.insert(h, shown.clone());
            }
        }
    }
    let text = |s: &str| sanitize::text(s).into_owned();
    let shown = |rendered: Result<String, runbook::template::RenderError>| {
        rendered.map_or_else(
            |e| format!("<{}>", sanitize::line(&e.to_string())),
            |s| text(&s),
        )
    };
    let render = |t: &runbook::template::Template, h: usize| shown(plan.render(t, h, &vars));
    // A command as it is sent: with the step's environment exported first,
    // and through sudo for the steps that say so.
    let command = |step: usize, t: &runbook::template::Template, h: usize| {
        let line = plan.command_line(step, h, t, &vars);
        shown(line.map(|line| crate::remote::sudo::as_sent(line, plan.steps[step].sudo.as_ref())))
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
        if let Some(batch) = step.batch {
            marks.push(format!("[batch: {batch}]"));
        }
        if let Some(max_fail) = step.max_fail {
            marks.push(format!("[max_fail: {max_fail}]"));
        }
        if step.always {
            marks.push("[always]".to_string());
        }
        match &step.sudo {
            Some(runbook::Sudo::Root) => marks.push("[sudo]".to_string()),
            Some(runbook::Sudo::User(u)) => marks.push(format!("[sudo as {}]", text(u))),
            None => {}
        }
        if let Some(var) = &step.capture {
            marks.push(format!("[capture: {}]", text(var)));
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
                let _ = writeln!(s, "     {name}: when: {}", command(i, when, h));
            }
            if let Some(preview) = &step.preview {
                let _ = writeln!(s, "     {name}: preview: {}", command(i, preview, h));
            }
            let action = match &step.action {
                Action::Run(t) => format!("$ {}", command(i, t, h)),
                Action::Manual(t) => format!("manual: {}", render(t, h)),
                Action::Guard(g) => {
                    let what = match &g.check {
                        GuardCheck::FileAbsent(p) => format!("file_absent {}", render(p, h)),
                        GuardCheck::FilePresent(p) => format!("file_present {}", render(p, h)),
                        GuardCheck::Command(c) => format!("command {}", command(i, c, h)),
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
                let _ = writeln!(s, "     {name}: undo: {}", command(i, undo, h));
            }
        }
    }
    engine::Redactor::for_plan(plan).text(&mut s);
    s
}

fn history(dir: Option<&Path>, json: bool) -> i32 {
    let dir = dir.map_or_else(journal::default_dir, Path::to_path_buf);
    let rows = match crate::report::history::rows(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("drydock: {e}");
            return exit::USAGE;
        }
    };
    let mut out = std::io::stdout().lock();
    if json {
        let _ = writeln!(out, "{}", crate::report::history::json(&rows));
    } else if rows.is_empty() {
        let _ = writeln!(out, "no runs in {}", shown(&dir));
    } else {
        let _ = write!(out, "{}", crate::report::history::table(&rows));
    }
    exit::OK
}

/// One run as a report: text, or one JSON document.
fn show(run_id: &str, json: bool, dir: Option<&Path>) -> i32 {
    let dir = dir.map_or_else(journal::default_dir, Path::to_path_buf);
    let report = match crate::report::for_run(&dir, run_id) {
        Ok(r) => r.sanitized(),
        Err(e) => {
            eprintln!("drydock: show: {e}");
            return exit::USAGE;
        }
    };
    let text = if json {
        let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
        text.push('\n');
        text
    } else {
        crate::report::render(&report)
    };
    // A closed pipe (`drydock show ID | head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    exit::OK
}

/// `replay` and `watch`: the TUI on a run's journal, read-only.
fn read_only(run_id: Option<&str>, source: Source, dir: Option<&Path>) -> i32 {
    let dir = dir.map_or_else(journal::default_dir, Path::to_path_buf);
    let word = match source {
        Source::Replay => "replay",
        Source::Watch => "watch",
    };
    let path = match run_id {
        Some(id) => journal::find_run(&dir, id).map_err(|e| e.to_string()),
        None => match journal::latest_live_run(&dir) {
            Ok(Some(path)) => Ok(path),
            Ok(None) => Err(format!(
                "no run is going on in {}; `drydock history` lists the runs",
                shown(&dir)
            )),
            Err(e) => Err(e.to_string()),
        },
    };
    let run = path.and_then(|path| {
        let run = crate::report::plan::for_journal(&path).map_err(|e| e.to_string())?;
        Ok((path, run))
    });
    let (path, run) = match run {
        Ok(found) => found,
        Err(e) => {
            eprintln!("drydock: {word}: {e}");
            return exit::USAGE;
        }
    };
    if !std::io::stdout().is_terminal() {
        eprintln!("drydock: {word} needs a terminal; `drydock show` prints a run as text");
        return exit::USAGE;
    }
    let plan = run.plan;
    let theme = match pick_theme(None, &plan) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let plan = Arc::new(plan);
    let playback = match crate::report::replay::Playback::open(&path, plan.clone()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("drydock: {word}: {e}");
            return exit::USAGE;
        }
    };
    let recording = crate::tui::replay::Recording::new(playback, plan, source, run.no_runbook);
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(crate::tui::replay::drive(recording, theme))
}

/// The shell's script: it registers drydock itself as the completer, so
/// that step ids, theme names and run ids are read when they are asked for.
fn completions(shell: clap_complete::Shell) -> i32 {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        eprintln!("drydock: completions: no completion for {name}");
        return exit::USAGE;
    };
    let program =
        std::env::current_exe().map_or_else(|_| "drydock".to_string(), |p| p.display().to_string());
    let mut out = std::io::stdout().lock();
    match completer.write_registration("COMPLETE", "drydock", "drydock", &program, &mut out) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("drydock: completions: {e}");
            exit::FAILED
        }
    }
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
    if from.is_some() && args.resume.is_some() {
        eprintln!(
            "drydock: --from and --resume do not go together: a resumed run starts where it stopped"
        );
        return exit::USAGE;
    }
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
    let mut prompter: Arc<dyn crate::remote::Prompter> = if tui {
        Arc::new(crate::tui::TuiPrompter::new(ui.0.clone()))
    } else {
        Arc::new(crate::headless::TerminalPrompter)
    };
    let password_file = args
        .sudo_password_file
        .clone()
        .or_else(|| std::env::var_os("DRYDOCK_SUDO_PASSWORD_FILE").map(Into::into));
    if let Some(path) = password_file {
        match crate::headless::SudoPasswordFile::read(&path, prompter) {
            Ok(file) => prompter = Arc::new(file),
            Err(e) => {
                eprintln!("drydock: {e}");
                return exit::USAGE;
            }
        }
    }
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
        // The journal comes first: without one nothing runs, as for any
        // other setting that does not work (exit 2, not a failed step's 1).
        Err(e) => {
            eprintln!(
                "drydock: {e}; nothing ran (the journal goes to --journal-dir, else $DRYDOCK_STATE_DIR)"
            );
            return exit::USAGE;
        }
    };
    let signals = match interrupt_on_signals(handle.interrupt.clone()) {
        Ok(task) => task,
        Err(e) => {
            eprintln!("drydock: cannot listen for signals: {e}");
            handle.task.abort();
            return exit::FAILED;
        }
    };
    let code = match theme {
        Some(theme) => crate::tui::drive(plan, handle, theme, ui).await,
        None => crate::headless::drive(&plan, handle).await,
    };
    signals.abort();
    code
}

/// SIGTERM or SIGHUP (the admin's terminal is gone) interrupt the run:
/// nobody can answer its questions any more.
fn interrupt_on_signals(
    interrupt: engine::Interrupt,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = hangup.recv() => "SIGHUP",
        };
        tracing::info!(signal = name, "signal received");
        interrupt.signal(name);
    }))
}
