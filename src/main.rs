use clap::Parser;

fn main() {
    // Started by ssh as its askpass program (`-k`): answer it, and nothing else.
    if let Some(code) = zdd::host::askpass::answer_if_asked() {
        std::process::exit(code);
    }
    let code = match zdd::cli::Cli::try_parse() {
        Ok(cli) => zdd::run(cli),
        Err(usage) => zdd::usage_error(usage),
    };
    std::process::exit(code);
}
