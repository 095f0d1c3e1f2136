//! The runbook format: parse, validate with source positions, resolve to a [`Plan`].

mod describe;
pub mod diag;
pub mod duration;
mod env;
pub mod jump;
mod load;
pub mod plan;
mod rolling;
pub mod schema;
pub mod template;

pub use diag::{Diagnostic, Located, RunbookErrors};
pub use load::{LoadError, load, load_str, sha256_hex, valid_id};
pub use plan::*;
pub use rolling::RollingLimits;
