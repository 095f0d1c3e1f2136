//! Wall-clock formatting shared by the journal, the banner and run ids.

use chrono::{SecondsFormat, Utc};

pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A run id that sorts by start time and is unique on this machine:
/// `20261121-141503-3f2a`.
pub fn new_run_id() -> String {
    let now = Utc::now();
    let noise = (now.timestamp_subsec_nanos() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{}-{noise:04x}", now.format("%Y%m%d-%H%M%S"))
}
