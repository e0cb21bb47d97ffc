use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = strata::cli::Cli::parse();
    std::process::exit(strata::cli::main_with(cli));
}
