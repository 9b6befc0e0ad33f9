//! One file per subcommand (`apply`, `check`, `plan`, `status`), and the parts of `apply`
//! that sit around the runner: `--list-hosts`/`--list-tasks` and the journal (resume).

pub mod apply;
pub mod check;
pub mod config;
pub mod list;
pub mod plan;
pub mod prompt;
pub mod resume;
pub mod status;
