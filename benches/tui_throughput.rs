//! How much the TUI costs: one step printing 2,000,000 lines, run through the
//! real TUI loop on a headless backend and through headless mode writing to
//! /dev/null; then the TUI idle while a guard waits. Each case runs in a child
//! process of its own so that CPU time and peak memory are its alone.
//!
//! Run with `cargo bench --bench tui_throughput` (not run by CI). Targets
//! (issue 4): TUI CPU no worse than 2x headless, peak RSS under 100 MB, idle
//! under 1% of a core.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};

const LINES: u64 = 2_000_000;

fn runbook(dir: &Path, idle: bool) -> std::path::PathBuf {
    let step = if idle {
        format!(
            "guard = {{ file_present = \"{}/never\", poll = \"30s\", timeout = \"1h\" }}",
            dir.display()
        )
    } else {
        format!(
            "run = \"seq -f 'output line %.0f of the step, with a little text after it' 1 {LINES}\""
        )
    };
    let text = format!(
        "[runbook]\nname = \"bench\"\nlock = \"{}/lock\"\n\n[hosts.local]\ntransport = \"local\"\n\n[[steps]]\nid = \"print\"\ntitle = \"Print many lines\"\n{step}\n",
        dir.display()
    );
    let path = dir.join(if idle { "idle.toml" } else { "print.toml" });
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn cpu() -> Duration {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| {
                Duration::new(tv.tv_sec() as u64, tv.tv_usec() as u32 * 1000)
            };
            t(u.user_time()) + t(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

fn max_rss_kb() -> i64 {
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| u.max_rss())
        .unwrap_or(0)
}

fn options(dir: &Path, prompter: Arc<dyn drydock::remote::Prompter>) -> drydock::engine::Options {
    drydock::engine::Options {
        yes: true,
        step_mode: false,
        dry_run: false,
        from: None,
        only_hosts: Vec::new(),
        journal_dir: dir.join("journal"),
        resume: None,
        prompter,
        offer_lock_break: false,
        tail_logs: false,
    }
}

/// One case, in this (child) process; prints its measurements on stderr.
fn child(mode: &str, dir: &Path) {
    let idle = mode == "idle";
    let plan = match drydock::runbook::load(&runbook(dir, idle), &[]) {
        Ok(p) => Arc::new(p),
        Err(e) => panic!("{e}"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let wall = Instant::now();
    let cpu0 = cpu();
    let mut idle_cpu = Duration::ZERO;
    rt.block_on(async {
        let (tx, mut ui_rx) = drydock::tui::ui_channel();
        let prompter: Arc<dyn drydock::remote::Prompter> =
            Arc::new(drydock::tui::TuiPrompter::new(tx));
        let mut handle = drydock::engine::start(plan.clone(), options(dir, prompter))
            .unwrap_or_else(|e| panic!("{e}"));
        if mode == "headless" {
            drydock::headless::drive(&plan, handle).await;
            return;
        }
        let theme = drydock::tui::theme::Theme::fallback();
        let mut app = drydock::tui::app::App::new(
            plan.clone(),
            drydock::tui::state::Mode::Run,
            Instant::now(),
            chrono::Utc::now(),
        );
        let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40))
            .unwrap_or_else(|e| panic!("{e}"));
        let link = drydock::tui::EngineLink {
            events: &mut handle.events,
            decisions: handle.decisions.clone(),
            inputs: Some(handle.inputs.clone()),
        };
        // Long lines wrapped: the pane lays out only the rows on screen.
        app.output_reading.wrap = true;
        let mut terminal_out = std::io::sink();
        let run = drydock::tui::event_loop(
            &mut app,
            &theme,
            &mut terminal,
            &mut terminal_out,
            Some(link),
            &mut ui_rx,
            futures::stream::pending(),
            drydock::tui::LoopOptions {
                exit_when_finished: true,
                ..Default::default()
            },
        );
        if idle {
            // Let it reach the guard, then measure ten seconds of waiting.
            tokio::pin!(run);
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut run).await;
            let before = cpu();
            let _ = tokio::time::timeout(Duration::from_secs(10), &mut run).await;
            idle_cpu = cpu() - before;
        } else {
            let _ = run.await;
            let _ = handle.task.await;
        }
    });
    let cpu_used = cpu() - cpu0;
    eprintln!(
        "RESULT wall_ms={} cpu_ms={} idle_cpu_ms={} maxrss_kb={}",
        wall.elapsed().as_millis(),
        cpu_used.as_millis(),
        idle_cpu.as_millis(),
        max_rss_kb()
    );
    // An idle run is still waiting on its guard: leave without winding it down.
    std::process::exit(0);
}

struct Measured {
    wall_ms: f64,
    cpu_ms: f64,
    idle_cpu_ms: f64,
    maxrss_kb: f64,
}

fn measure(mode: &str, dir: &Path) -> Measured {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(exe)
        .args(["child", mode, &dir.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .unwrap_or_else(|| panic!("{mode}: no result:\n{err}"));
    let get = |k: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    Measured {
        wall_ms: get("wall_ms"),
        cpu_ms: get("cpu_ms"),
        idle_cpu_ms: get("idle_cpu_ms"),
        maxrss_kb: get("maxrss_kb"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        let (Some(mode), Some(dir)) = (args.get(2), args.get(3)) else {
            panic!("child MODE DIR")
        };
        child(mode, Path::new(dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sub = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        d
    };
    println!("{LINES} lines of output from one step (journal written in both cases)");
    let h = measure("headless", &sub("headless"));
    println!(
        "headless > /dev/null : wall {:>8.0} ms  cpu {:>8.0} ms  peak RSS {:>6.1} MB",
        h.wall_ms,
        h.cpu_ms,
        h.maxrss_kb / 1024.0
    );
    let t = measure("tui", &sub("tui"));
    println!(
        "TUI (test backend)   : wall {:>8.0} ms  cpu {:>8.0} ms  peak RSS {:>6.1} MB",
        t.wall_ms,
        t.cpu_ms,
        t.maxrss_kb / 1024.0
    );
    println!(
        "CPU ratio TUI/headless: {:.2} (target <= 2)",
        t.cpu_ms / h.cpu_ms
    );
    let i = measure("idle", &sub("idle"));
    println!(
        "idle on a guard       : {:.0} ms of CPU in 10 s = {:.2}% of a core (target < 1%)",
        i.idle_cpu_ms,
        i.idle_cpu_ms / 100.0
    );
}
