fn main() -> std::process::ExitCode {
    compact_api::memory::keep_large_blocks_out_of_heaps();
    compact_api::cli::run()
}
