fn main() -> std::process::ExitCode {
    segsql::cli::main()
}
