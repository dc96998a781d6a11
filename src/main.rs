use clap::Parser;

/// mimalloc instead of glibc's allocator: a flow's life is many short-lived allocations
/// freed on another thread with `--threads N`, where glibc spends a fifth of the run in
/// malloc, free and consolidation (measured with perf on the benchmark capture).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = tlstriage::cli::Cli::parse();
    std::process::exit(tlstriage::cli::run(cli));
}
