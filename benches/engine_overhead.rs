//! Does the engine add waiting of its own? A 200-step runbook of `true` on
//! one `local` host, against 200 `sh -c true` run one after the other in the
//! same process. Prints both times and their ratio (target: about 1x).
//!
//! Run: `cargo bench --bench engine_overhead`

use std::sync::Arc;
use std::time::{Duration, Instant};

use drydock::engine::{self, Event};
use drydock::runbook;

const STEPS: usize = 200;
const ROUNDS: usize = 5;

fn runbook_text(lock_dir: &std::path::Path) -> String {
    let mut text = format!(
        "[runbook]\nname = \"overhead\"\nlock = \"{}/lock\"\n\n[hosts.here]\ntransport = \"local\"\n",
        lock_dir.display()
    );
    for i in 0..STEPS {
        text.push_str(&format!(
            "\n[[steps]]\nid = \"s{i}\"\ntitle = \"step {i}\"\nrun = \"true\"\n"
        ));
    }
    text
}

async fn engine_run(plan: Arc<runbook::Plan>, journal_dir: &std::path::Path) -> Duration {
    let options = engine::Options {
        yes: true,
        step_mode: false,
        dry_run: false,
        from: None,
        only_hosts: Vec::new(),
        journal_dir: journal_dir.to_path_buf(),
        resume: None,
        prompter: Arc::new(drydock::remote::Declining),
        offer_lock_break: false,
        tail_logs: false,
    };
    let started = Instant::now();
    let mut handle = engine::start(plan, options).expect("start");
    while let Some(event) = handle.events.recv().await {
        if let Event::RunFinished { exit_code, .. } = event {
            assert_eq!(exit_code, 0);
        }
    }
    handle.task.await.expect("engine task");
    started.elapsed()
}

async fn plain_run() -> Duration {
    let started = Instant::now();
    for _ in 0..STEPS {
        let status = tokio::process::Command::new("sh")
            .arg("-c")
            .arg("true")
            .status()
            .await
            .expect("sh");
        assert!(status.success());
    }
    started.elapsed()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("overhead.toml");
    std::fs::write(&path, runbook_text(dir.path())).expect("write runbook");
    let plan = Arc::new(runbook::load(&path, &[]).expect("runbook loads"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let journal_dir = dir.path().join("journal");
    let (mut best_engine, mut best_plain) = (Duration::MAX, Duration::MAX);
    runtime.block_on(async {
        for _ in 0..ROUNDS {
            best_plain = best_plain.min(plain_run().await);
            best_engine = best_engine.min(engine_run(plan.clone(), &journal_dir).await);
        }
    });
    let ratio = best_engine.as_secs_f64() / best_plain.as_secs_f64();
    println!("{STEPS} steps of `true` on a local host (best of {ROUNDS}):");
    println!(
        "  drydock engine:        {:>8.1} ms ({:.2} ms a step)",
        best_engine.as_secs_f64() * 1e3,
        best_engine.as_secs_f64() * 1e3 / STEPS as f64
    );
    println!(
        "  {STEPS} x `sh -c true`:   {:>8.1} ms ({:.2} ms a step)",
        best_plain.as_secs_f64() * 1e3,
        best_plain.as_secs_f64() * 1e3 / STEPS as f64
    );
    println!("  ratio engine / plain:  {ratio:.2}x");
}
