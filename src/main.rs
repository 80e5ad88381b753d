fn main() {
    std::process::exit(wasm_matrix::cli::main());
}
