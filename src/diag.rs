//! Diagnostics for whoever debugs drydock: `tracing` events written to a log
//! file when `DRYDOCK_LOG` is set (`DRYDOCK_LOG=debug`, or any
//! `tracing_subscriber` filter such as `drydock::remote=trace`). Never to the
//! screen: the TUI owns the terminal and headless output is the run's record.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Where the log file goes: beside the journals' folder, in drydock's state
/// dir (`$DRYDOCK_STATE_DIR` itself when that is set).
pub fn log_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("DRYDOCK_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("drydock.log");
    }
    let runs = crate::journal::default_dir();
    runs.parent()
        .map_or_else(|| runs.clone(), PathBuf::from)
        .join("drydock.log")
}

/// Start logging when `DRYDOCK_LOG` asks for it. Lines are written by a
/// thread of their own, so logging never blocks the runtime; keep the guard
/// alive until exit so the last lines are flushed.
pub fn init() -> Option<WorkerGuard> {
    let spec = std::env::var("DRYDOCK_LOG")
        .ok()
        .filter(|s| !s.is_empty())?;
    let filter = match EnvFilter::try_new(&spec) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("drydock: DRYDOCK_LOG={spec:?} is not a log filter ({e}); not logging");
            return None;
        }
    };
    let path = log_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) => {
            eprintln!(
                "drydock: cannot open the log file {}: {e}; not logging",
                path.display()
            );
            return None;
        }
    };
    let (writer, guard) = tracing_appender::non_blocking(file);
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .with_target(true)
        .try_init();
    installed.ok().map(|()| guard)
}
