use clap::Parser;

fn main() {
    let cli = tlstriage::cli::Cli::parse();
    std::process::exit(tlstriage::cli::run(cli));
}
