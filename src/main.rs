use clap::Parser;

/// mimalloc instead of glibc's allocator: a flow's life is many short-lived allocations
/// freed on another thread with `--threads N`, where glibc spends a fifth of the run in
/// malloc, free and consolidation (measured with perf on the benchmark capture).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: 15 in the `mi_option_e` of both mimalloc 2 and 3 as bundled by
/// libmimalloc-sys (which names no constant for it). By default freed memory goes back to
/// the kernel after a short delay and the next allocation faults it in again, zeroing the
/// page each time (11% of a run was `clear_page_erms`). Memory is bounded by the flow table
/// and buffer limits, so keeping it costs a few MiB of peak RSS and saved a sixth of the
/// run time.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // SAFETY: sets a process-wide allocator option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let cli = tlstriage::cli::Cli::parse();
    std::process::exit(tlstriage::cli::run(cli));
}
