//! The result lines the bench programs print and the host parses.
//!
//! Every line starts with the marker `BENCH `, which may appear anywhere in
//! a serial-log line (Bedrock's kernel log prefixes a timestamp and the
//! silo's name; Linux prints bare lines):
//!
//! ```text
//! BENCH result name=syscall ops=50000 cycles=7713000,7702345,7698000
//! BENCH info cpus=2
//! BENCH error a pinned thread runs on another CPU
//! BENCH done
//! ```
//!
//! `cycles` lists each timed round's total; one round did `ops` operations.

use core::fmt;

/// Starts every line; upper case so that no command line (`init.args=bench`)
/// or kernel message is mistaken for one.
pub const MARKER: &str = "BENCH ";

/// A line as the bench programs write it.
#[derive(Clone, Copy)]
pub enum Record<'a> {
    Result {
        name: &'a str,
        ops: u64,
        cycles: &'a [u64],
    },
    /// A fact about the run (e.g. the CPU count).
    Info(&'a str, &'a dyn fmt::Display),
    /// Why the run stopped.
    Error(&'a str),
    /// Every benchmark ran.
    Done,
}

impl fmt::Display for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MARKER)?;
        match self {
            Record::Result { name, ops, cycles } => {
                write!(f, "result name={name} ops={ops} cycles=")?;
                for (i, c) in cycles.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep}{c}")?;
                }
                Ok(())
            }
            Record::Info(key, value) => write!(f, "info {key}={value}"),
            Record::Error(why) => write!(f, "error {why}"),
            Record::Done => f.write_str("done"),
        }
    }
}

/// A line as the host reads it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Result {
        name: &'a str,
        ops: u64,
        cycles: Cycles<'a>,
    },
    Info {
        key: &'a str,
        value: &'a str,
    },
    Error(&'a str),
    Done,
}

/// The per-round cycle counts of a result line, all checked to be numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cycles<'a>(&'a str);

impl<'a> Cycles<'a> {
    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        // Every item parsed when the line was read.
        self.0.split(',').filter_map(|c| c.parse().ok())
    }
}

/// What is wrong with a line that carries the marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not `result`, `info`, `error` or `done`.
    UnknownKind,
    /// A `result` line without this field.
    MissingField(&'static str),
    /// A field that must be a positive number is not.
    BadNumber(&'static str),
    /// An `info` line that is not `key=value`.
    BadInfo,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnknownKind => f.write_str("unknown kind of bench line"),
            ParseError::MissingField(field) => write!(f, "no `{field}=` field"),
            ParseError::BadNumber(field) => write!(f, "`{field}` is not a positive number"),
            ParseError::BadInfo => f.write_str("info line without `key=value`"),
        }
    }
}

impl<'a> Line<'a> {
    /// The bench line in a serial-log line: `None` without the marker,
    /// an error if the marker is followed by something malformed.
    pub fn find(log_line: &'a str) -> Option<Result<Line<'a>, ParseError>> {
        let at = log_line.find(MARKER)?;
        Some(Self::parse(log_line[at + MARKER.len()..].trim_end()))
    }

    fn parse(text: &'a str) -> Result<Line<'a>, ParseError> {
        let (kind, rest) = text.split_once(' ').unwrap_or((text, ""));
        match kind {
            "result" => parse_result(rest),
            "info" => {
                let (key, value) = rest.split_once('=').ok_or(ParseError::BadInfo)?;
                if key.is_empty() || key.contains(' ') {
                    return Err(ParseError::BadInfo);
                }
                Ok(Line::Info { key, value })
            }
            "error" => Ok(Line::Error(rest)),
            "done" if rest.is_empty() => Ok(Line::Done),
            _ => Err(ParseError::UnknownKind),
        }
    }
}

fn parse_result(fields: &str) -> Result<Line<'_>, ParseError> {
    let field = |key: &'static str| {
        fields
            .split(' ')
            .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
            .ok_or(ParseError::MissingField(key))
    };
    let positive = |key: &'static str, text: &str| match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ParseError::BadNumber(key)),
    };
    let name = field("name")?;
    if name.is_empty() {
        return Err(ParseError::MissingField("name"));
    }
    let ops = positive("ops", field("ops")?)?;
    let cycles = field("cycles")?;
    for c in cycles.split(',') {
        positive("cycles", c)?;
    }
    Ok(Line::Result {
        name,
        ops,
        cycles: Cycles(cycles),
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;
    use std::vec::Vec;

    #[test]
    fn records_round_trip_through_a_prefixed_log_line() {
        let cycles = [7_713_000, 7_702_345, 1];
        let record = Record::Result {
            name: "syscall",
            ops: 50_000,
            cycles: &cycles,
        };
        let text = format!("[   1.234] silo 1 (init): {record}\r");
        let Some(Ok(Line::Result { name, ops, cycles })) = Line::find(&text) else {
            panic!("not parsed: {text:?}");
        };
        assert_eq!((name, ops), ("syscall", 50_000));
        assert_eq!(cycles.iter().collect::<Vec<_>>(), [7_713_000, 7_702_345, 1]);

        let two = 2;
        let info = format!("{}", Record::Info("cpus", &two));
        assert_eq!(info, "BENCH info cpus=2");
        assert_eq!(
            Line::find(&info),
            Some(Ok(Line::Info {
                key: "cpus",
                value: "2"
            }))
        );
        let error = format!("{}", Record::Error("no futex"));
        assert_eq!(Line::find(&error), Some(Ok(Line::Error("no futex"))));
        assert_eq!(Line::find("BENCH done\n"), Some(Ok(Line::Done)));
    }

    #[test]
    fn other_lines_are_not_bench_lines() {
        assert_eq!(Line::find("command line \"init.args=bench\""), None);
        assert_eq!(Line::find("BENCHMARK"), None);
        assert_eq!(Line::find(""), None);
    }

    #[test]
    fn malformed_lines_are_errors() {
        let cases = [
            ("BENCH frobnicate", ParseError::UnknownKind),
            ("BENCH done now", ParseError::UnknownKind),
            ("BENCH info cpus", ParseError::BadInfo),
            (
                "BENCH result ops=1 cycles=1",
                ParseError::MissingField("name"),
            ),
            (
                "BENCH result name=x cycles=1",
                ParseError::MissingField("ops"),
            ),
            (
                "BENCH result name=x ops=1",
                ParseError::MissingField("cycles"),
            ),
            (
                "BENCH result name=x ops=0 cycles=1",
                ParseError::BadNumber("ops"),
            ),
            (
                "BENCH result name=x ops=1 cycles=",
                ParseError::BadNumber("cycles"),
            ),
            (
                "BENCH result name=x ops=1 cycles=1,,2",
                ParseError::BadNumber("cycles"),
            ),
            (
                "BENCH result name=x ops=1 cycles=1,0",
                ParseError::BadNumber("cycles"),
            ),
            (
                "BENCH result name=x ops=1 cycles=-5",
                ParseError::BadNumber("cycles"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Line::find(text), Some(Err(want)), "{text}");
        }
    }
}
