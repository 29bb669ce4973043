fn main() -> std::process::ExitCode {
    compact_api::cli::run()
}
