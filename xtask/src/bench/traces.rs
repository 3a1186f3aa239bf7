//! `cargo xtask bench --traces`: the cost of OpenTelemetry tracing. The lean gateway is
//! measured with traces off, then with traces on — every request sampled (`sampling_ratio =
//! 1`) and exported over OTLP/HTTP to a local receiver (a thread here that reads each export
//! and answers `200` as a collector does) — and the spans exported and dropped are noted.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::setup::{Bench, start_gateway};

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    exports: AtomicU64,
    bytes: AtomicU64,
}

/// Starts the receiver on a free port of 127.0.0.1 (its threads end with the process).
fn receiver() -> Result<(SocketAddr, Arc<Seen>), String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("OTLP receiver: {e}"))?;
    let addr = l.local_addr().map_err(|e| format!("OTLP receiver: {e}"))?;
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let s = s.clone();
            std::thread::spawn(move || serve(conn, &s));
        }
    });
    Ok((addr, seen))
}

/// Reads export requests off one keep-alive connection and answers each with an empty
/// `ExportTraceServiceResponse`.
fn serve(mut conn: TcpStream, seen: &Seen) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + len);
        seen.exports.fetch_add(1, Ordering::Relaxed);
        seen.bytes.fetch_add(len as u64, Ordering::Relaxed);
        let reply =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if conn.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// `GET /metrics` of the gateway at `addr`, as text (empty on failure).
fn metrics(addr: SocketAddr) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    if s.write_all(req.as_bytes()).is_ok() {
        let _ = s.read_to_string(&mut out);
    }
    out
}

/// The value of an unlabelled or labelled sample line starting with `series`.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs the lean gateway with traces off, then on (100 % sampled, exported to a local
/// receiver).
pub(super) fn run(
    bench: &mut Bench,
    modelrt: &Path,
    dir: &Path,
    mock: SocketAddr,
) -> Result<(), String> {
    let (mut p, addr) = start_gateway(bench, modelrt, dir, mock, "modelrt lean", false)?;
    bench.target(
        "modelrt lean",
        &format!("http://{addr}/v1/chat/completions"),
        "mock/bench-model",
        Some(&mut p),
    )?;
    p.stop();

    let (rx, seen) = receiver()?;
    bench.telemetry = Some(format!(
        "\n[telemetry]\nendpoint = \"http://{rx}\"\nprotocol = \"http/protobuf\"\nsampling_ratio = 1.0\n"
    ));
    let name = "modelrt lean traced";
    let started = start_gateway(bench, modelrt, dir, mock, name, false);
    bench.telemetry = None;
    let (mut p, addr) = started?;
    bench.target(
        name,
        &format!("http://{addr}/v1/chat/completions"),
        "mock/bench-model",
        Some(&mut p),
    )?;
    // Let the last batch go out (the SDK exports every 5 s by default).
    std::thread::sleep(Duration::from_secs(6));
    let text = metrics(addr);
    p.stop();
    bench.notes.push(format!(
        "traced: every request sampled, OTLP/HTTP to a local receiver: {:.0} spans exported, {:.0} dropped (queue full or export failed), {} export requests, {:.1} MB of protobuf received",
        sample(&text, "modelrt_otel_spans_exported_total"),
        sample(&text, "modelrt_otel_spans_dropped_total"),
        seen.exports.load(Ordering::Relaxed),
        seen.bytes.load(Ordering::Relaxed) as f64 / 1e6
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_summed_over_labels() {
        let text = "# HELP x y\nmodelrt_otel_spans_dropped_total{reason=\"queue_full\"} 2\nmodelrt_otel_spans_dropped_total{reason=\"export_failed\"} 3\n";
        assert_eq!(sample(text, "modelrt_otel_spans_dropped_total"), 5.0);
        assert_eq!(sample(text, "missing"), 0.0);
    }
}
