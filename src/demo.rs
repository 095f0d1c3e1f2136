//! `drydock demo`: the example runbook on a throwaway local site.

use crate::cli::DemoArgs;

pub fn run(_args: DemoArgs) -> i32 {
    eprintln!("drydock: demo: not yet");
    crate::engine::exit::USAGE
}
