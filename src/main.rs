fn main() {
    std::process::exit(csamctl::cli::main());
}
