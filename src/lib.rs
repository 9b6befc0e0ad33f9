//! zdd: declarative rolling deploys.
//!
//! The pipeline, one module per phase: `inventory` and `parse` load, `validate` checks,
//! `plan` batches (pure), `runner` runs over `host` connections with `modules`, emitting
//! `events` that `report` renders.

pub mod access;
pub mod audit;
pub mod cli;
mod commands;
pub mod config;
pub mod error;
pub mod events;
pub mod host;
pub mod inventory;
pub mod journal;
pub mod keyword_values;
pub mod lb;
pub mod load;
pub mod lock;
pub mod modules;
pub mod parse;
pub mod plan;
pub mod playbook;
pub mod probe;
pub mod report;
mod run;
pub mod run_info;
pub mod runner;
pub mod template;
pub mod validate;
pub mod vars;
pub mod vault;
pub mod watch;
pub mod yaml;

pub use run::{run, usage_error};
