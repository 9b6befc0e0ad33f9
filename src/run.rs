//! The pipeline behind every command: parse the command line, set up logging and the
//! runtime, dispatch to `commands/`, and turn the one error type into an exit code.

use crate::cli::{Cli, Command};
use crate::error::exit;
use crate::report::progress::StderrLog;

/// Run the command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let verbosity = match &cli.command {
        Command::Apply(a) => a.input.verbose,
        Command::Check(c) => c.input.verbose,
        Command::Plan(p) => p.input.verbose,
        Command::Rollback(r) => r.input.verbose,
        Command::Heal(h) => h.verbose,
        Command::Watch(w) => w.input.verbose,
        Command::Status(_)
        | Command::Completions(_)
        | Command::Man
        | Command::Config(_)
        | Command::Report(_) => 0,
    };
    init_tracing(verbosity);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let result = runtime.block_on(async {
        use crate::commands::*;
        match cli.command {
            Command::Apply(args) => apply::apply(args).await,
            Command::Check(args) => check::check(args),
            Command::Plan(args) => plan::plan(args),
            Command::Status(args) => status::status(args),
            Command::Rollback(args) => rollback::rollback(args).await,
            Command::Watch(args) => watch::watch(args).await,
            Command::Completions(args) => completions::completions(args),
            Command::Man => man::man(),
            Command::Config(args) => config::config(args),
            Command::Heal(args) => heal::heal(args).await,
            Command::Report(args) => report::report(args),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", e.render());
            e.exit_code()
        }
    }
}

/// A command line clap refused (exit 5, invalid input, not 2, which means a host failed),
/// or `--help`/`--version` (exit 0).
pub fn usage_error(e: clap::Error) -> i32 {
    let _ = e.print();
    if e.use_stderr() {
        exit::INVALID
    } else {
        exit::OK
    }
}

/// Logs on stderr: `-vv` the commands run on hosts (`zdd::cmd`), `-vvv` also SSH
/// details (`zdd::ssh`) and the rest of zdd's debug logs, `-vvvv` every crate's.
/// `ZDD_LOG` overrides with a filter of its own.
fn init_tracing(verbosity: u8) {
    let default = match verbosity {
        0 | 1 => "warn",
        2 => "warn,zdd::cmd=debug",
        3 => "warn,zdd=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZDD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrLog)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}
