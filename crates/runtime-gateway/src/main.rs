//! The `modelrt` binary: see the `runtime-gateway` crate docs.

fn main() -> std::process::ExitCode {
    runtime_gateway::cli::main()
}
