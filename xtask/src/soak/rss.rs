//! `rss_flat`: memory that grows steadily (a leak) against memory taken at a load peak and
//! kept by the allocator (a step).

use serde_json::json;

use super::verdict::{Check, Input, check};

fn mean_kib(s: &[&(u64, usize, u32, u64)]) -> f64 {
    s.iter().map(|x| x.3 as f64).sum::<f64>() / s.len().max(1) as f64
}

/// Least-squares slope of `(ms, KiB)` samples, KiB per ms.
fn slope_kib_per_ms(s: &[&(u64, usize, u32, u64)]) -> f64 {
    let n = s.len() as f64;
    let (mx, my) = (
        s.iter().map(|x| x.0 as f64).sum::<f64>() / n,
        s.iter().map(|x| x.3 as f64).sum::<f64>() / n,
    );
    let cov: f64 = s
        .iter()
        .map(|x| (x.0 as f64 - mx) * (x.3 as f64 - my))
        .sum();
    let var: f64 = s.iter().map(|x| (x.0 as f64 - mx).powi(2)).sum();
    if var > 0.0 { cov / var } else { 0.0 }
}

/// The calm stretches of the run: between one fault or burst's end (5 s to settle) and the
/// next one's start, each at least 20 s long. Memory taken at a load peak (requests queued
/// behind a 429 burst, usage records buffered while the database is down) is kept by the
/// allocator afterwards: a step at the fault, flat after it. A leak grows in calm too.
fn calm_stretches(inp: &Input) -> Vec<(u64, u64)> {
    let mut events: Vec<(u64, u64)> = inp.events.iter().map(|e| (e.start_ms, e.end_ms)).collect();
    events.sort_unstable();
    let (mut calm, mut from) = (Vec::new(), 0u64);
    for (start, end) in events {
        if start >= from + 20_000 {
            calm.push((from, start));
        }
        from = from.max(end + 5_000);
    }
    if inp.duration_ms >= from + 20_000 {
        calm.push((from, inp.duration_ms));
    }
    calm
}

/// Each replica's VmRSS (sampled from `/proc` once a second since its last start). Where the
/// run has calm stretches covering at least a third of it ([`calm_stretches`]; long runs),
/// the growth rate within them (least squares per stretch, weighted by length), projected
/// over the whole run, must stay within 10 %: a leak grows steadily, a step at a load peak
/// does not continue. Otherwise (short runs), after a warm-up the mean of the last third of
/// the samples against the mean of the first third. The whole-run thirds are reported either
/// way.
pub(super) fn rss_flat(inp: &Input) -> Check {
    let calm = calm_stretches(inp);
    let warmup = (inp.duration_ms / 10).max(10_000);
    let short = inp.duration_ms < 5 * 60_000;
    let slack_kib = if short { 4096.0 } else { 0.0 };
    let mut ok = true;
    let mut data = Vec::new();
    for r in 0..inp.opts.replicas {
        let last_gen = inp.rss.iter().filter(|s| s.1 == r).map(|s| s.2).max();
        let Some(g) = last_gen else {
            ok = false;
            data.push(json!({"replica": r, "error": "no samples"}));
            continue;
        };
        let all: Vec<&(u64, usize, u32, u64)> =
            inp.rss.iter().filter(|s| s.1 == r && s.2 == g).collect();
        let Some(first) = all.first().map(|x| x.0) else {
            continue;
        };
        let s: Vec<&(u64, usize, u32, u64)> = all
            .iter()
            .copied()
            .filter(|x| x.0 >= first + warmup)
            .collect();
        if s.len() < 6 {
            data.push(json!({"replica": r, "start": g, "samples": s.len(),
                "note": "restarted too late for three thirds after warm-up"}));
            continue;
        }
        let third = s.len() / 3;
        let (head, tail) = (&s[..third], &s[s.len() - third..]);
        let (base, end) = (mean_kib(head), mean_kib(tail));
        let limit = base * 1.10 + slack_kib;
        let (mut rate_sum, mut calm_ms, mut calm_kib) = (0.0, 0u64, 0.0);
        for &(a, b) in &calm {
            let part: Vec<&(u64, usize, u32, u64)> =
                s.iter().copied().filter(|x| x.0 >= a && x.0 < b).collect();
            if part.len() >= 10 {
                let span = b - a;
                rate_sum += slope_kib_per_ms(&part) * span as f64;
                calm_kib += mean_kib(&part) * span as f64;
                calm_ms += span;
            }
        }
        if calm_ms * 3 >= inp.duration_ms {
            let mean = calm_kib / calm_ms as f64;
            let projected = rate_sum / calm_ms as f64 * inp.duration_ms as f64;
            ok &= projected <= mean * 0.10 + slack_kib;
            data.push(json!({"replica": r, "judged_on": "growth rate in calm stretches",
                "calm_s": calm_ms / 1000,
                "steady_mean_kib": mean.round(),
                "projected_growth_over_run_kib": projected.round(),
                "projected_growth_pct": projected / mean * 100.0,
                "whole_run_growth_pct": (end / base - 1.0) * 100.0,
                "first_third_mean_kib": base.round(), "last_third_mean_kib": end.round(),
                "peak_kib": s.iter().map(|x| x.3).max().unwrap_or(0),
                "series_s_kib": s.iter().step_by(10).map(|x| [x.0 / 1000, x.3]).collect::<Vec<_>>()}));
            continue;
        }
        ok &= end <= limit;
        let peak = s.iter().map(|x| x.3).max().unwrap_or(0);
        // One sample every 10 s, to tell a plateau from a leak.
        let series: Vec<[u64; 2]> = s.iter().step_by(10).map(|x| [x.0 / 1000, x.3]).collect();
        data.push(json!({"replica": r, "start": g, "samples": s.len(),
            "first_third_s": [head[0].0 / 1000, head[third - 1].0 / 1000],
            "last_third_s": [tail[0].0 / 1000, tail[third - 1].0 / 1000],
            "first_third_mean_kib": base.round(), "last_third_mean_kib": end.round(),
            "peak_kib": peak, "growth_pct": (end / base - 1.0) * 100.0,
            "limit_kib": limit.round(), "series_s_kib": series}));
    }
    check(
        "rss_flat",
        ok,
        format!(
            "VmRSS after a {} s warm-up, limit +10 %{}; judged on the growth rate between faults and bursts (projected over the run) where calm covers a third of the run, else on the last third of the samples vs the first: {}",
            warmup / 1000,
            if short {
                " + 4 MiB (short run: allocator noise)"
            } else {
                ""
            },
            data.iter()
                .map(|d| match (d.get("projected_growth_pct"), d.get("growth_pct")) {
                    (Some(p), _) => format!(
                        "replica {} at {} KiB, growing {:+.1} % per run in {} s of calm (whole run {} → {} KiB, {:+.1} %: steps at faults and bursts)",
                        d["replica"],
                        d["steady_mean_kib"],
                        p.as_f64().unwrap_or(0.0),
                        d["calm_s"],
                        d["first_third_mean_kib"],
                        d["last_third_mean_kib"],
                        d["whole_run_growth_pct"].as_f64().unwrap_or(0.0)
                    ),
                    (None, Some(g)) => format!(
                        "replica {} {} → {} KiB ({:+.1} %)",
                        d["replica"],
                        d["first_third_mean_kib"],
                        d["last_third_mean_kib"],
                        g.as_f64().unwrap_or(0.0)
                    ),
                    (None, None) => format!("replica {} unchecked", d["replica"]),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        json!(data),
    )
}
