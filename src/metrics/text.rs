//! The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per
//! family, then its samples, label values escaped so that text from outside (a sink's name, a
//! source's) can never break a line or a quote.

use std::fmt::Write;

/// What a family's samples mean to Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only ever goes up (until the process restarts); its name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// A sample's value: counts stay exact integers, the rest are floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

/// Builds one scrape's text. Families are written whole, one after the other.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
    family: String,
}

impl Exposition {
    /// Starts a family: its help line and type. Its samples follow with [`sample`](Self::sample).
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        debug_assert!(valid_name(name), "metric name {name:?}");
        debug_assert!(
            kind != Kind::Counter || name.ends_with("_total"),
            "counter {name} must end in _total"
        );
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        self.family.clear();
        self.family.push_str(name);
        self
    }

    /// One sample of the current family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) -> &mut Self {
        self.out.push_str(&self.family);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                debug_assert!(valid_label_name(k), "label name {k:?}");
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        self.out.push(' ');
        match value.into() {
            Value::Int(v) => {
                let _ = write!(self.out, "{v}");
            }
            Value::Float(v) => self.out.push_str(&float(v)),
        }
        self.out.push('\n');
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A float as the format spells it: `NaN`, `+Inf`, `-Inf`, else Rust's shortest round-trip form.
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// A label value: backslash, double quote and line feed escaped.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Help text: backslash and line feed escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_is_help_type_then_its_samples() {
        let mut e = Exposition::default();
        e.family("tw_events_total", Kind::Counter, "Events.")
            .sample(&[("source", "sim")], 3u64)
            .sample(&[("source", "binance")], 0u64);
        e.family("tw_pending", Kind::Gauge, "Rows.")
            .sample(&[], 1.5);
        assert_eq!(
            e.finish(),
            "# HELP tw_events_total Events.\n# TYPE tw_events_total counter\n\
             tw_events_total{source=\"sim\"} 3\ntw_events_total{source=\"binance\"} 0\n\
             # HELP tw_pending Rows.\n# TYPE tw_pending gauge\ntw_pending 1.5\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("line\nbreak"), "line\\nbreak");
        assert_eq!(escape_label("webhook:ops ✓"), "webhook:ops ✓");
        let mut e = Exposition::default();
        e.family("x", Kind::Gauge, "one\\two\nthree")
            .sample(&[("sink", "command:\"rm\"\n")], 1u64);
        let text = e.finish();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("# HELP x one\\\\two\\nthree\n"), "{text}");
        assert!(
            text.contains("x{sink=\"command:\\\"rm\\\"\\n\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn floats_use_the_formats_spelling() {
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(2.0), "2");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(1.7e9), "1700000000");
    }

    #[test]
    fn names_follow_the_format() {
        assert!(valid_name("tickwatch_events_total"));
        assert!(valid_name("a:b_c9"));
        assert!(!valid_name("9a"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name(""));
        assert!(valid_label_name("source"));
        assert!(!valid_label_name("a:b"));
    }
}
