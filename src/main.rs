use clap::Parser;

fn main() {
    let cli = strata::cli::Cli::parse();
    std::process::exit(strata::cli::main_with(cli));
}
