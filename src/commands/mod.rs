//! One file per subcommand (`apply`, `check`, `plan`, `status`, `rollback`, `watch`, `heal`, `report`, `completions`, `man`), and the parts of `apply`
//! that sit around the runner: `--list-hosts`/`--list-tasks` and the journal (resume).

pub mod apply;
pub mod check;
pub mod completions;
pub mod config;
pub mod heal;
pub mod list;
pub mod man;
pub mod plan;
pub mod prompt;
pub mod report;
pub mod resume;
pub mod rollback;
pub mod status;
pub mod watch;

/// Write generated text (completions, the man page) to stdout; a reader that stops early
/// (`zdd man | head`) is not an error.
fn print_generated(text: &[u8]) -> Result<i32, crate::error::Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(crate::error::Error::Internal(format!(
            "cannot write to stdout: {e}"
        ))),
        _ => Ok(crate::error::exit::OK),
    }
}
