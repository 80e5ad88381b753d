// The tool makes many small allocations per cell (events, outcomes, results
// entries); mimalloc halves what glibc's malloc costs there (`wasm-matrix bench`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    wasm_matrix::cli::main()
}
