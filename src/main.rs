fn main() {
    std::process::exit(pm_native::cli::main());
}
