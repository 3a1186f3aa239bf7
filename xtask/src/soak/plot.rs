//! `soak.png`: latency p50/p99 per second (top), answers per second by kind — ok, typed
//! errors, failures (middle), each replica's VmRSS (bottom), with the faults marked.
//!
//! plotters draws text with `ab_glyph` from a TrueType file found on the machine (DejaVu Sans,
//! `cargo xtask services` installs `fonts-dejavu-core`), so no fontconfig or freetype is needed.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::load::Class;
use super::verdict::Input;

const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

fn register_font() -> Result<(), String> {
    let path = FONTS
        .iter()
        .find(|p| Path::new(p).is_file())
        .ok_or("no TrueType font found (apt-get install fonts-dejavu-core)")?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    // plotters keeps fonts for the life of the process.
    let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, leaked)
        .map_err(|_| format!("{path}: not a usable font"))
}

/// Per-second series.
struct Series {
    p50: Vec<(f64, f64)>,
    p99: Vec<(f64, f64)>,
    ok: Vec<(f64, f64)>,
    typed: Vec<(f64, f64)>,
    failed: Vec<(f64, f64)>,
}

fn series(inp: &Input) -> Series {
    let secs = (inp.duration_ms / 1000 + 1) as usize;
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); secs + 60];
    let mut counts = vec![[0u32; 3]; secs + 60];
    for o in &inp.outcomes {
        // Bucket by when the answer finished.
        let s = ((o.start_ms as f64 + o.latency_ms) / 1000.0) as usize;
        let Some(l) = lat.get_mut(s) else { continue };
        l.push(o.latency_ms.max(0.1));
        let k = match o.class {
            Class::Ok => 0,
            Class::TypedError | Class::StreamError => 1,
            _ => 2,
        };
        counts[s][k] += 1;
    }
    let mut out = Series {
        p50: Vec::new(),
        p99: Vec::new(),
        ok: Vec::new(),
        typed: Vec::new(),
        failed: Vec::new(),
    };
    for (s, l) in lat.iter_mut().enumerate() {
        if l.is_empty() {
            continue;
        }
        l.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| l[((l.len() as f64 - 1.0) * p).round() as usize];
        let x = s as f64;
        out.p50.push((x, at(0.5)));
        out.p99.push((x, at(0.99)));
        out.ok.push((x, f64::from(counts[s][0])));
        out.typed.push((x, f64::from(counts[s][1])));
        out.failed.push((x, f64::from(counts[s][2])));
    }
    out
}

/// Draws the plot to `path`.
pub fn draw(inp: &Input, path: &Path) -> Result<(), String> {
    register_font()?;
    let e = |e: &dyn std::fmt::Display| format!("plot: {e}");
    let s = series(inp);
    let x_max = s.p50.last().map_or(1.0, |p| p.0 + 1.0);
    let y_max = s.p99.iter().map(|p| p.1).fold(10.0, f64::max) * 1.5;
    let c_max =
        s.ok.iter()
            .chain(&s.typed)
            .chain(&s.failed)
            .map(|p| p.1)
            .fold(1.0, f64::max)
            * 1.1;
    let root = BitMapBackend::new(path, (1400, 1120)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let (top, rest) = root.split_vertically(480);
    let (bottom, memory) = rest.split_vertically(360);
    let title = format!(
        "modelrt soak: {} replicas, concurrency {}, {:.1} min ({} build)",
        inp.opts.replicas,
        inp.opts.concurrency,
        inp.opts.minutes,
        if inp.opts.debug { "debug" } else { "release" }
    );
    let mut chart = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, (0.5f64..y_max).log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .y_desc("latency per second, ms (log)")
        .draw()
        .map_err(|x| e(&x))?;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
    chart
        .draw_series(LineSeries::new(s.p50.clone(), blue.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label("p50")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(s.p99.clone(), orange.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label("p99")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(2)));
    for ev in inp.events.iter().filter(|v| !v.what.starts_with("burst")) {
        let (a, b) = (ev.start_ms as f64 / 1000.0, ev.end_ms as f64 / 1000.0);
        let label = match ev.replica {
            Some(r) => format!("{} r{r}", ev.what),
            None => ev.what.clone(),
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a, 0.5), (b.max(a + 0.5), y_max)],
                RGBColor(200, 0, 0).mix(0.12).filled(),
            )))
            .map_err(|x| e(&x))?;
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (a, y_max / 1.6),
                ("sans-serif", 14).into_font().color(&RGBColor(150, 0, 0)),
            )))
            .map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|x| e(&x))?;
    let mut counts = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..c_max)
        .map_err(|x| e(&x))?;
    counts
        .configure_mesh()
        .y_desc("answers per second")
        .draw()
        .map_err(|x| e(&x))?;
    let green = RGBColor(44, 160, 44);
    let purple = RGBColor(148, 103, 189);
    let red = RGBColor(214, 39, 40);
    for (data, color, name) in [
        (&s.ok, green, "2xx"),
        (
            &s.typed,
            purple,
            "typed errors (status or stream error frame)",
        ),
        (
            &s.failed,
            red,
            "no typed answer (transport, deadline, untyped)",
        ),
    ] {
        counts
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    for ev in inp.events.iter().filter(|v| v.what.starts_with("burst")) {
        let (a, b) = (ev.start_ms as f64 / 1000.0, ev.end_ms as f64 / 1000.0);
        counts
            .draw_series(std::iter::once(Rectangle::new(
                [(a, 0.0), (b, c_max)],
                RGBColor(120, 120, 120).mix(0.10).filled(),
            )))
            .map_err(|x| e(&x))?;
    }
    counts
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|x| e(&x))?;
    draw_rss(inp, &memory, x_max)?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// VmRSS of each replica, one line per process start.
fn draw_rss(
    inp: &Input,
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    x_max: f64,
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| format!("plot: {e}");
    let mib = |kib: u64| kib as f64 / 1024.0;
    let y_max = inp.rss.iter().map(|s| mib(s.3)).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("seconds since the load started")
        .y_desc("VmRSS, MiB")
        .draw()
        .map_err(|x| e(&x))?;
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
    ];
    for r in 0..inp.opts.replicas {
        let color = colors[r % colors.len()];
        let starts: std::collections::BTreeSet<u32> =
            inp.rss.iter().filter(|s| s.1 == r).map(|s| s.2).collect();
        for (k, g) in starts.iter().enumerate() {
            let pts: Vec<(f64, f64)> = inp
                .rss
                .iter()
                .filter(|s| s.1 == r && s.2 == *g)
                .map(|s| (s.0 as f64 / 1000.0, mib(s.3)))
                .collect();
            let series = chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(|x| e(&x))?;
            if k == 0 {
                series.label(format!("replica {r}")).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            }
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|x| e(&x))?;
    Ok(())
}
