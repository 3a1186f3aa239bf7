//! The bench's Markdown report: every cell against the direct target, memory, and the
//! issue's ratio targets.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::setup::{Bench, Cell, Mode, STREAM_CHUNKS};

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1e3)
}

pub(super) fn render(b: &Bench) -> String {
    let mut s = String::new();
    let direct: BTreeMap<(Mode, usize), &Cell> = b
        .cells
        .iter()
        .filter(|c| c.target == "direct")
        .map(|c| ((c.mode, c.concurrency), c))
        .collect();
    let _ = writeln!(
        s,
        "Duration {} s per cell after {} s warm-up; stream = {STREAM_CHUNKS} content chunks + usage + [DONE]; \
         latencies in ms to the last byte; overhead = target − direct at the same percentile (µs); \
         CPU = target CPU time per request (µs).\n",
        b.opts.duration, b.opts.warmup
    );
    s.push_str("| target | mode | conc | RPS | p50 | p90 | p99 | max | +p50 µs | +p99 µs | TTFT p50 | CPU µs/req | errors |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in &b.cells {
        let d = direct.get(&(c.mode, c.concurrency));
        let over = |p: &str| match d {
            Some(d) if c.target != "direct" => {
                format!("{:.0}", c.f(&["latency_us", p]) - d.f(&["latency_us", p]))
            }
            _ => "–".into(),
        };
        let ttft = if c.mode == Mode::Stream {
            ms(c.f(&["ttft_us", "p50"]))
        } else {
            "–".into()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.target,
            c.mode.name(),
            c.concurrency,
            c.f(&["rps"]),
            ms(c.f(&["latency_us", "p50"])),
            ms(c.f(&["latency_us", "p90"])),
            ms(c.f(&["latency_us", "p99"])),
            ms(c.f(&["latency_us", "max"])),
            over("p50"),
            over("p99"),
            ttft,
            c.cpu_us.map_or("–".into(), |v| format!("{v:.0}")),
            c.errors()
        );
    }
    if !b.memory.is_empty() {
        s.push_str("\n| target | RSS idle MB | RSS peak MB | RSS after MB | requests served |\n");
        s.push_str("|---|---:|---:|---:|---:|\n");
        for m in &b.memory {
            let _ = writeln!(
                s,
                "| {} | {:.1} | {:.1} | {:.1} | {} |",
                m.target,
                m.idle_kb as f64 / 1024.0,
                m.peak_kb as f64 / 1024.0,
                m.after_kb as f64 / 1024.0,
                m.requests
            );
        }
    }
    targets(b, &mut s);
    if !b.extra.is_empty() {
        s.push_str(
            "\n| memory target | measured | change | limit | met |\n|---|---|---:|---|---|\n",
        );
        for row in &b.extra {
            s.push_str(row);
            s.push('\n');
        }
    }
    for n in &b.notes {
        let _ = writeln!(s, "\nNote: {n}");
    }
    s
}

/// The ratio targets, for each gateway configuration, when nginx was measured.
fn targets(b: &Bench, s: &mut String) {
    let find = |t: &str, m: Mode, c: usize| {
        b.cells
            .iter()
            .find(|x| x.target == t && x.mode == m && x.concurrency == c)
    };
    let over = |t: &str, m: Mode, c: usize, p: &str| {
        let (x, d) = (find(t, m, c)?, find("direct", m, c)?);
        Some(x.f(&["latency_us", p]) - d.f(&["latency_us", p]))
    };
    let gateways: Vec<&str> = b
        .memory
        .iter()
        .map(|m| m.target.as_str())
        .filter(|t| t.starts_with("modelrt"))
        .collect();
    if gateways.is_empty() || find("nginx", Mode::Chat, 1).is_none() || b.opts.smoke {
        return;
    }
    s.push_str("\n| target (issue) | config | mode | modelrt | nginx | ratio | limit | met |\n");
    s.push_str("|---|---|---|---:|---:|---:|---:|---|\n");
    for g in &gateways {
        for m in [Mode::Chat, Mode::Stream] {
            let mut row = |what: &str, gv: Option<f64>, nv: Option<f64>, limit: f64, ge: bool| {
                let (Some(gv), Some(nv)) = (gv, nv) else {
                    return;
                };
                let cmp = if ge { "≥" } else { "≤" };
                if nv <= 0.0 {
                    // nginx's figure is within the direct run's noise: no meaningful ratio.
                    let _ = writeln!(
                        s,
                        "| {what} | {g} | {} | {gv:.0} | {nv:.0} | n/a | {cmp} {limit} | n/a (nginx ≤ direct) |",
                        m.name()
                    );
                    return;
                }
                let ratio = gv / nv;
                let met = if ge { ratio >= limit } else { ratio <= limit };
                let _ = writeln!(
                    s,
                    "| {what} | {g} | {} | {gv:.0} | {nv:.0} | {ratio:.2} | {cmp} {limit} | {} |",
                    m.name(),
                    if met { "yes" } else { "**no**" }
                );
            };
            row(
                "added p50 µs, c=1",
                over(g, m, 1, "p50"),
                over("nginx", m, 1, "p50"),
                1.5,
                false,
            );
            row(
                "added p99 µs, c=16",
                over(g, m, 16, "p99"),
                over("nginx", m, 16, "p99"),
                2.0,
                false,
            );
            row(
                "RPS, c=16",
                find(g, m, 16).map(|c| c.f(&["rps"])),
                find("nginx", m, 16).map(|c| c.f(&["rps"])),
                0.7,
                true,
            );
            row(
                "CPU µs/req, c=16",
                find(g, m, 16).and_then(|c| c.cpu_us),
                find("nginx", m, 16).and_then(|c| c.cpu_us),
                2.0,
                false,
            );
        }
    }
    for m in b.memory.iter().filter(|m| m.target.starts_with("modelrt")) {
        let mb = m.idle_kb as f64 / 1024.0;
        let _ = writeln!(
            s,
            "| RSS idle MB | {} | – | {mb:.1} | – | – | ≤ 20 | {} |",
            m.target,
            if mb <= 20.0 { "yes" } else { "**no**" }
        );
    }
}
