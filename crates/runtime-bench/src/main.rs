//! `modelrt-bench`: the mock upstream and the load generator of `cargo xtask bench`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use runtime_bench::{load, mock};

/// Benchmark tools for modelrt.
#[derive(Debug, Parser)]
#[command(name = "modelrt-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the OpenAI-compatible mock upstream; prints `listening on ADDR` first.
    Mock {
        /// Address to bind (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Content chunks per streamed answer.
        #[arg(long, default_value_t = 20)]
        chunks: usize,
        /// Delay before every answer, ms.
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        /// Delay between stream chunks, ms.
        #[arg(long, default_value_t = 0)]
        chunk_delay_ms: u64,
    },
    /// Run a closed-loop load and print a JSON report.
    Load {
        /// URL of the chat completions endpoint.
        #[arg(long)]
        url: String,
        /// The `model` field.
        #[arg(long, default_value = "bench-model")]
        model: String,
        /// Concurrent workers.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Recorded seconds.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        /// Unrecorded warm-up seconds.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Stream the answers (SSE).
        #[arg(long)]
        stream: bool,
        /// A different prompt per request and temperature 0 (response-cache misses).
        #[arg(long)]
        unique: bool,
    },
}

fn secs(s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|e| format!("invalid duration {s}: {e}"))
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Mock {
            listen,
            chunks,
            delay_ms,
            chunk_delay_ms,
        } => {
            let (listener, addr) = mock::bind(listen)
                .await
                .map_err(|e| format!("cannot bind {listen}: {e}"))?;
            let mut out = std::io::stdout();
            writeln!(out, "listening on {addr}").map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            let config = mock::MockConfig {
                stream_chunks: chunks,
                delay: Duration::from_millis(delay_ms),
                chunk_delay: Duration::from_millis(chunk_delay_ms),
                ..mock::MockConfig::default()
            };
            mock::serve(listener, config)
                .await
                .map_err(|e| format!("mock server: {e}"))
        }
        Command::Load {
            url,
            model,
            concurrency,
            duration,
            warmup,
            stream,
            unique,
        } => {
            let report = load::run(load::LoadConfig {
                url,
                model,
                concurrency,
                duration: secs(duration)?,
                warmup: secs(warmup)?,
                stream,
                unique,
            })
            .await
            .map_err(|e| e.to_string())?;
            let json = serde_json::to_string(&report).map_err(|e| e.to_string())?;
            println!("{json}");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: the bench pins the mock and the load generator to one core.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("modelrt-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modelrt-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
