//! `zdd watch` and `zdd heal`: health checks, the state of each watched host and of the
//! service, and the healer that takes a critical host out of rotation, redeploys it with
//! the playbook and puts it back once its health check passes.

mod capture;
pub mod check;
pub mod consul;
pub mod engine;
pub mod heal_config;
pub mod human;
pub mod rotation;
pub mod spec;
pub mod state_file;
pub mod tracker;
