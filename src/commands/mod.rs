//! Subcommands beyond check and apply, and the parts of `apply` that sit around the runner
//! (journal and resume).

pub mod list;
pub mod plan;
pub mod resume;
pub mod status;
