// mimalloc reuses freed memory instead of returning it to the kernel and faulting it back
// in; the per-user histories of the cohort and BTYD functions spend a quarter of their time
// in page faults with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    segsql::cli::main()
}
