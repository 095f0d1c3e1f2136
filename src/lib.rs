//! drydock: a terminal maintenance console that walks an admin through a
//! production update runbook.

pub mod cli;
pub mod clock;
pub mod commands;
pub mod demo;
pub mod diag;
pub mod engine;
pub mod headless;
pub mod journal;
pub mod json_schema;
pub mod remote;
pub mod report;
pub mod runbook;
pub mod sanitize;
pub mod tui;
