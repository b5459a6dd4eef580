fn main() -> std::process::ExitCode {
    zmqtrace::cli::main()
}
