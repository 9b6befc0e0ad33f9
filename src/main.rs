use clap::Parser;

fn main() {
    let code = match zdd::cli::Cli::try_parse() {
        Ok(cli) => zdd::run(cli),
        Err(usage) => zdd::usage_error(usage),
    };
    std::process::exit(code);
}
