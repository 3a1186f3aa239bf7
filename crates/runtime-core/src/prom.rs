//! Writes metric families in the Prometheus text format: the `# HELP` and `# TYPE` lines of a
//! family, then its samples, label values and HELP text escaped as the format asks. Every
//! crate that renders Prometheus text itself (the router, the facade's cache and Redis
//! families, the gateway's `/metrics`) writes it through [`Family`], so the escaping lives in
//! one place.

use std::fmt::{self, Display, Write as _};

/// The `# TYPE` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that only goes up.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets with `_bucket`, `_sum` and `_count` samples.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One label of a sample: its name and its value (escaped when written).
pub type Label<'a> = (&'a str, &'a dyn Display);

/// One family being written into a text exposition.
#[derive(Debug)]
pub struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
}

impl<'a> Family<'a> {
    /// Starts the family `name` in `out`: writes its `# HELP` (escaped) and `# TYPE` lines.
    pub fn new(out: &'a mut String, name: &'a str, kind: Kind, help: &str) -> Self {
        let _ = write!(out, "# HELP {name} ");
        for c in help.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        let _ = writeln!(out, "\n# TYPE {name} {}", kind.as_str());
        Self { out, name }
    }

    /// Writes the sample `name{labels} value` (`name value` without labels).
    pub fn sample(&mut self, labels: &[Label<'_>], value: impl Display) -> &mut Self {
        self.sample_of("", labels, value)
    }

    /// Writes the sample `name{suffix}{labels} value`: a histogram's `_sum` and `_count`.
    pub fn sample_of(
        &mut self,
        suffix: &str,
        labels: &[Label<'_>],
        value: impl Display,
    ) -> &mut Self {
        self.write(suffix, labels, None, value)
    }

    /// Writes a histogram's bucket `name_bucket{labels,le="le"} value`.
    pub fn bucket(
        &mut self,
        labels: &[Label<'_>],
        le: impl Display,
        value: impl Display,
    ) -> &mut Self {
        self.write("_bucket", labels, Some(("le", &le)), value)
    }

    fn write(
        &mut self,
        suffix: &str,
        labels: &[Label<'_>],
        last: Option<Label<'_>>,
        value: impl Display,
    ) -> &mut Self {
        let out = &mut *self.out;
        out.push_str(self.name);
        out.push_str(suffix);
        for (i, (name, v)) in labels.iter().chain(&last).enumerate() {
            out.push(if i == 0 { '{' } else { ',' });
            out.push_str(name);
            out.push_str("=\"");
            let _ = write!(LabelValue(out), "{v}");
            out.push('"');
        }
        if !labels.is_empty() || last.is_some() {
            out.push('}');
        }
        let _ = writeln!(out, " {value}");
        self
    }
}

/// Escapes what is written through it as a label value: `\`, `"` and newline.
struct LabelValue<'a>(&'a mut String);

impl fmt::Write for LabelValue<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '\\' => self.0.push_str("\\\\"),
                '"' => self.0.push_str("\\\""),
                '\n' => self.0.push_str("\\n"),
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_help_type_and_samples() {
        let mut out = String::new();
        Family::new(&mut out, "x_total", Kind::Counter, "Things.")
            .sample(&[], 2)
            .sample(&[("a", &"1"), ("b", &7u16)], 3);
        assert_eq!(
            out,
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 2\nx_total{a=\"1\",b=\"7\"} 3\n"
        );
    }

    #[test]
    fn escapes_label_values_and_help() {
        let mut out = String::new();
        Family::new(&mut out, "g", Kind::Gauge, "A \\ \"quoted\"\nhelp.")
            .sample(&[("v", &"back\\slash \"q\"\nnl")], 1);
        assert_eq!(
            out,
            "# HELP g A \\\\ \"quoted\"\\nhelp.\n# TYPE g gauge\ng{v=\"back\\\\slash \\\"q\\\"\\nnl\"} 1\n"
        );
    }

    #[test]
    fn histogram_samples_take_their_suffix() {
        let mut out = String::new();
        let mut f = Family::new(&mut out, "d_seconds", Kind::Histogram, "Durations.");
        f.bucket(&[("r", &"/")], 0.5, 1)
            .bucket(&[("r", &"/")], "+Inf", 2)
            .sample_of("_sum", &[("r", &"/")], 1.25)
            .sample_of("_count", &[("r", &"/")], 2);
        assert_eq!(
            out,
            "# HELP d_seconds Durations.\n# TYPE d_seconds histogram\n\
             d_seconds_bucket{r=\"/\",le=\"0.5\"} 1\n\
             d_seconds_bucket{r=\"/\",le=\"+Inf\"} 2\n\
             d_seconds_sum{r=\"/\"} 1.25\n\
             d_seconds_count{r=\"/\"} 2\n"
        );
    }
}
