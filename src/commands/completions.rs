//! `zdd completions SHELL`: the shell completion script, generated from the same clap
//! definition that parses the command line, so it never lags behind a new flag.

use crate::cli::{Cli, CompletionsArgs};
use crate::error::Error;
use clap::CommandFactory;

pub fn completions(args: CompletionsArgs) -> Result<i32, Error> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "zdd", &mut script);
    super::print_generated(&script)
}
