//! A strict parser of the Prometheus text exposition format (version 0.0.4), for tests that
//! read `/metrics`.
//!
//! Stricter than a scraper on purpose: every family must have `# HELP` and `# TYPE` before its
//! samples, a family's lines must be contiguous, a series may appear once, names and label
//! names must be valid, and a histogram's buckets must be cumulative with `+Inf` equal to
//! `_count`.
//!
//! ```
//! let text = "# HELP x_total Things.\n# TYPE x_total counter\nx_total{a=\"1\"} 2\nx_total{a=\"2\"} 3\n";
//! let e = runtime_testkit::prom::parse(text).unwrap();
//! assert_eq!(e.sum("x_total", &[]), 5.0);
//! assert_eq!(e.sum("x_total", &[("a", "2")]), 3.0);
//! ```

use std::collections::{BTreeMap, HashSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (`x_bucket`, `x_sum`… for histograms).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// One metric family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Family {
    /// `counter`, `gauge`, `histogram`, `summary` or `untyped`.
    pub kind: String,
    /// The `# HELP` text.
    pub help: String,
    /// Its samples, in order.
    pub samples: Vec<Sample>,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// Families by name.
    pub families: BTreeMap<String, Family>,
}

impl Exposition {
    /// The sum of the samples named `name` (a family name, or `x_count`, `x_sum`) whose labels
    /// include all of `want`.
    pub fn sum(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.samples(name, want).map(|s| s.value).sum()
    }

    /// The samples named `name` whose labels include all of `want`.
    pub fn samples<'a>(
        &'a self,
        name: &'a str,
        want: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.families
            .values()
            .flat_map(|f| f.samples.iter())
            .filter(move |s| {
                s.name == name
                    && want
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
    }

    /// The family that `sample_name` belongs to.
    pub fn family_of(&self, sample_name: &str) -> Option<(&str, &Family)> {
        self.families
            .iter()
            .find(|(_, f)| f.samples.iter().any(|s| s.name == sample_name))
            .map(|(n, f)| (n.as_str(), f))
    }
}

fn valid_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'));
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad value `{s}`")),
    }
}

/// Parses `{a="x",b="y"}`; returns the labels and the rest of the line.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without `=`")?;
        let name = rest[..eq].trim();
        if !valid_name(name, false) {
            return Err(format!("bad label name `{name}`"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label `{name}` repeated"));
        }
        rest = &rest[end + 1..];
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected `,` or `}` after a label".into());
        }
    }
}

/// The family a sample name belongs to, given the declared types.
fn family_name<'a>(sample: &'a str, types: &BTreeMap<String, Family>) -> &'a str {
    if types.contains_key(sample) {
        return sample;
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            if types
                .get(base)
                .is_some_and(|f| f.kind == "histogram" || f.kind == "summary")
            {
                return base;
            }
        }
    }
    sample
}

/// Parses and checks `text`; the error names the line.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    let mut helped = HashSet::new();
    let mut typed = HashSet::new();
    let mut closed: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut seen = HashSet::new();
    for (no, line) in text.lines().enumerate() {
        let err = |m: String| format!("line {}: {m}: `{line}`", no + 1);
        if line.trim().is_empty() {
            continue;
        }
        let mut switch_to = |name: &str, current: &mut Option<String>| -> Result<(), String> {
            if current.as_deref() != Some(name) {
                if closed.contains(name) {
                    return Err(format!("family `{name}` is not contiguous"));
                }
                if let Some(c) = current.take() {
                    closed.insert(c);
                }
                *current = Some(name.to_owned());
            }
            Ok(())
        };
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            switch_to(name, &mut current).map_err(err)?;
            if !helped.insert(name.to_owned()) {
                return Err(err("HELP repeated".into()));
            }
            out.families.entry(name.to_owned()).or_default().help = help.to_owned();
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| err("TYPE without a type".into()))?;
            if !matches!(
                kind,
                "counter" | "gauge" | "histogram" | "summary" | "untyped"
            ) {
                return Err(err(format!("unknown type `{kind}`")));
            }
            if !valid_name(name, true) {
                return Err(err(format!("bad metric name `{name}`")));
            }
            switch_to(name, &mut current).map_err(err)?;
            if !typed.insert(name.to_owned()) {
                return Err(err("TYPE repeated".into()));
            }
            let f = out.families.entry(name.to_owned()).or_default();
            if !f.samples.is_empty() {
                return Err(err("TYPE after the family's samples".into()));
            }
            f.kind = kind.to_owned();
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| err("sample without a value".into()))?;
        let name = &line[..name_end];
        if !valid_name(name, true) {
            return Err(err(format!("bad metric name `{name}`")));
        }
        let (labels, rest) = match line[name_end..].strip_prefix('{') {
            Some(r) => parse_labels(r).map_err(err)?,
            None => (BTreeMap::new(), &line[name_end..]),
        };
        let mut parts = rest.split_whitespace();
        let value =
            parse_value(parts.next().ok_or_else(|| err("no value".into()))?).map_err(err)?;
        if let Some(ts) = parts.next() {
            ts.parse::<i64>()
                .map_err(|_| err(format!("bad timestamp `{ts}`")))?;
        }
        if parts.next().is_some() {
            return Err(err("trailing text".into()));
        }
        let family = family_name(name, &out.families).to_owned();
        if !typed.contains(&family) {
            return Err(err(format!("sample of `{family}` without a TYPE")));
        }
        if !helped.contains(&family) {
            return Err(err(format!("sample of `{family}` without a HELP")));
        }
        switch_to(&family, &mut current).map_err(err)?;
        let key = (name.to_owned(), format!("{labels:?}"));
        if !seen.insert(key) {
            return Err(err("series repeated".into()));
        }
        if let Some(f) = out.families.get_mut(&family) {
            f.samples.push(Sample {
                name: name.to_owned(),
                labels,
                value,
            });
        }
    }
    for (name, f) in &out.families {
        if f.kind.is_empty() {
            return Err(format!("family `{name}` has HELP but no TYPE"));
        }
        if f.kind == "histogram" {
            check_histogram(name, f)?;
        }
    }
    Ok(out)
}

/// Buckets cumulative, `+Inf` present and equal to `_count`, per series.
fn check_histogram(name: &str, f: &Family) -> Result<(), String> {
    let series_of = |s: &Sample| {
        let mut l = s.labels.clone();
        l.remove("le");
        format!("{l:?}")
    };
    let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for s in &f.samples {
        if s.name == format!("{name}_bucket") {
            let le = s
                .labels
                .get("le")
                .ok_or_else(|| format!("{name}_bucket without `le`"))?;
            buckets
                .entry(series_of(s))
                .or_default()
                .push((parse_value(le)?, s.value));
        } else if s.name == format!("{name}_count") {
            counts.insert(series_of(s), s.value);
        }
    }
    for (series, mut b) in buckets {
        b.sort_by(|x, y| x.0.total_cmp(&y.0));
        if b.windows(2).any(|w| w[1].1 < w[0].1) {
            return Err(format!("{name}{series}: buckets are not cumulative"));
        }
        let inf = b
            .last()
            .filter(|(le, _)| le.is_infinite())
            .ok_or_else(|| format!("{name}{series}: no +Inf bucket"))?;
        if counts.get(&series) != Some(&inf.1) {
            return Err(format!("{name}{series}: +Inf bucket differs from _count"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# HELP h_seconds Time.\n# TYPE h_seconds histogram\nh_seconds_bucket{a=\"x\",le=\"0.1\"} 1\nh_seconds_bucket{a=\"x\",le=\"+Inf\"} 2\nh_seconds_sum{a=\"x\"} 0.3\nh_seconds_count{a=\"x\"} 2\n# HELP c_total Count \\\"q\\\".\n# TYPE c_total counter\nc_total{v=\"a\\\"b\\\\c\"} 1\n";

    #[test]
    fn parses_a_good_exposition() {
        let e = parse(GOOD).unwrap();
        assert_eq!(e.families["h_seconds"].kind, "histogram");
        assert_eq!(e.sum("h_seconds_count", &[("a", "x")]), 2.0);
        assert_eq!(e.sum("c_total", &[("v", "a\"b\\c")]), 1.0);
        assert_eq!(e.family_of("h_seconds_sum").unwrap().0, "h_seconds");
    }

    #[test]
    fn reads_back_the_values_core_escapes() {
        use runtime_core::prom::{Family, Kind};
        let mut out = String::new();
        Family::new(&mut out, "g", Kind::Gauge, "A \\ \"quoted\"\nhelp.")
            .sample(&[("v", &"back\\slash \"q\"\nnl")], 1);
        let e = parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(e.sum("g", &[("v", "back\\slash \"q\"\nnl")]), 1.0);
    }

    #[test]
    fn rejects_what_a_lenient_parser_would_let_through() {
        for bad in [
            "# TYPE c_total counter\nc_total 1\n",
            "# HELP c_total C.\nc_total 1\n",
            "# HELP c_total C.\n# TYPE c_total counter\nc_total 1\nc_total 2\n",
            "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n",
            "# HELP a A.\n# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",
            "# HELP a A.\n# TYPE a gauge\na{1x=\"1\"} 1\n",
            "# HELP a A.\n# TYPE a gauge\na one\n",
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",
        ] {
            assert!(parse(bad).is_err(), "accepted:\n{bad}");
        }
    }
}
