//! The figures, in the order measured, and their two output forms.
//!
//! `key value` lines: one figure per line, the key (dotted words, no
//! blanks), one blank, the value to the end of the line (a number, or text
//! such as the CPU's name). JSON: one flat object with the same keys, numbers
//! as numbers and text as strings. Numbers are rounded for reading, not
//! computed from rounded values.

use std::fmt::Write;

/// One figure's value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// A measurement, printed with this many decimals.
    Number(f64, usize),
    Text(String),
}

/// Every figure of one bench run.
#[derive(Debug, Default)]
pub struct Report {
    entries: Vec<(String, Value)>,
}

impl Report {
    /// Adds a measurement shown with `decimals` decimals.
    pub fn number(&mut self, key: impl Into<String>, value: f64, decimals: usize) {
        self.entries
            .push((key.into(), Value::Number(value, decimals)));
    }

    /// Adds a text figure (a name, a date).
    pub fn text(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries.push((key.into(), Value::Text(value.into())));
    }

    /// `key value` lines.
    pub fn to_lines(&self) -> String {
        let mut out = String::new();
        for (key, value) in &self.entries {
            // Writing to a String cannot fail.
            let _ = match value {
                Value::Number(n, decimals) => writeln!(out, "{key} {n:.decimals$}"),
                Value::Text(text) => writeln!(out, "{key} {}", text.replace('\n', " ")),
            };
        }
        out
    }

    /// `BENCH info wasm.KEY=VALUE` lines (the info lines of
    /// `bedrock_bench_core`, which `cargo xtask bench` reads from both
    /// guests' logs), then `BENCH info wasm.done=1`.
    pub fn to_bench_lines(&self) -> String {
        let mut out = String::new();
        for (key, value) in &self.entries {
            let value = match value {
                Value::Number(n, decimals) => format!("{n:.decimals$}"),
                Value::Text(text) => text.replace('\n', " "),
            };
            let _ = writeln!(out, "BENCH info wasm.{key}={value}");
        }
        out.push_str("BENCH info wasm.done=1\n");
        out
    }

    /// One JSON object, keys in measurement order.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (key, value)) in self.entries.iter().enumerate() {
            let separator = if i == 0 { "\n  " } else { ",\n  " };
            let value = match value {
                Value::Number(n, decimals) if n.is_finite() => format!("{n:.decimals$}"),
                Value::Number(..) => "null".to_owned(),
                Value::Text(text) => json_string(text),
            };
            let _ = write!(out, "{separator}{}: {value}", json_string(key));
        }
        out.push_str("\n}\n");
        out
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let mut report = Report::default();
        report.text("host.cpu", "Some \"CPU\"");
        report.number("compile_kib_per_s", 1234.567, 1);
        report.number("ratio", f64::NAN, 3);
        assert_eq!(
            report.to_lines(),
            "host.cpu Some \"CPU\"\ncompile_kib_per_s 1234.6\nratio NaN\n"
        );
        assert_eq!(
            report.to_bench_lines(),
            "BENCH info wasm.host.cpu=Some \"CPU\"\nBENCH info wasm.compile_kib_per_s=1234.6\nBENCH info wasm.ratio=NaN\nBENCH info wasm.done=1\n"
        );
        assert_eq!(
            report.to_json(),
            "{\n  \"host.cpu\": \"Some \\\"CPU\\\"\",\n  \"compile_kib_per_s\": 1234.6,\n  \"ratio\": null\n}\n"
        );
    }
}
