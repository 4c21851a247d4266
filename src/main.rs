// DataFusion allocates and frees large batch buffers all the time; glibc hands them back to
// the kernel and faults them in again, which cost a third of the CPU time of a 50M-row RFM.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    segsql::cli::main()
}
