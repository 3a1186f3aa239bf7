//! `modelrt` with one more provider: linking `provider-voyage` registers it, and the gateway's
//! own entry point does the rest (`modelrt providers` lists `voyage`).

use provider_voyage as _;

fn main() -> std::process::ExitCode {
    runtime_gateway::cli::main()
}
