use clap::Parser;

fn main() {
    let cli = zdd::cli::Cli::parse();
    let code = zdd::run(cli);
    std::process::exit(code);
}
