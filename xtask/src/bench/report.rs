//! Presenting a bench run: the table on stdout, `results.json` (one flat
//! object of numbers and strings, written by hand: no serde for a dozen
//! keys), and the generated section of `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::results::Comparison;

/// What a run was, besides its figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// `tcg` or `kvm`.
    pub accel: &'static str,
    /// e.g. `linux-6.1 same qemu`.
    pub anchor: String,
    /// The Linux guest's `uname -r`.
    pub linux_kernel: String,
    /// The guests' hardware, identical for both.
    pub machine: String,
    /// `qemu-system-x86_64 --version`'s first line.
    pub qemu: String,
    /// When the run ended, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// Facts the Linux guest printed about itself (e.g. mitigations).
    pub linux_facts: Vec<(String, String)>,
}

/// A value of the flat `results.json` object.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number printed with this many decimals (`null` if not finite).
    Number(f64, usize),
    Text(String),
}

impl Value {
    /// A `BENCH info` value: a number if it reads as one.
    pub fn from_info(value: &str) -> Value {
        match value.parse::<f64>() {
            Ok(n) if n.is_finite() => Value::Number(n, 0),
            _ => Value::Text(value.to_owned()),
        }
    }
}

/// The `results.json` fields of a run, in output order.
pub fn fields(setting: &Setting, rows: &[Comparison]) -> Vec<(String, Value)> {
    let text = |s: &str| Value::Text(s.to_owned());
    let mut fields = vec![
        ("accel".to_owned(), text(setting.accel)),
        ("anchor".to_owned(), text(&setting.anchor)),
        ("date".to_owned(), text(&setting.date)),
        ("qemu".to_owned(), text(&setting.qemu)),
        ("machine".to_owned(), text(&setting.machine)),
        ("linux_kernel".to_owned(), text(&setting.linux_kernel)),
        (
            "unit".to_owned(),
            text("TSC cycles per operation, median of the timed rounds"),
        ),
    ];
    for (key, value) in &setting.linux_facts {
        fields.push((format!("linux_{key}"), text(value)));
    }
    for row in rows {
        let name = row.name;
        fields.push((
            format!("{name}_bedrock"),
            Value::Number(row.bedrock.median(), 1),
        ));
        fields.push((
            format!("{name}_linux"),
            Value::Number(row.linux.median(), 1),
        ));
        fields.push((format!("{name}_ratio"), Value::Number(row.ratio(), 3)));
        fields.push((format!("{name}_unit"), text(row.unit)));
        let rounds = row.bedrock.rounds().min(row.linux.rounds());
        fields.push((format!("{name}_rounds"), Value::Number(rounds as f64, 0)));
        if let Some(goal) = row.goal {
            fields.push((format!("{name}_goal"), Value::Number(goal, 2)));
        }
    }
    fields
}

/// A flat JSON object, one field per line.
pub fn to_json(fields: &[(String, Value)]) -> String {
    let mut out = String::from("{\n");
    for (i, (key, value)) in fields.iter().enumerate() {
        let value = match value {
            Value::Number(n, decimals) if n.is_finite() => format!("{n:.decimals$}"),
            Value::Number(..) => "null".to_owned(),
            Value::Text(s) => json_string(s),
        };
        let comma = if i + 1 < fields.len() { "," } else { "" };
        let _ = writeln!(out, "  {}: {value}{comma}", json_string(key));
    }
    out.push_str("}\n");
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `<= 0.80 met`, `<= 0.80 MISSED`, or nothing without a goal.
fn goal_text(row: &Comparison) -> String {
    match (row.goal, row.goal_met()) {
        (Some(goal), Some(true)) => format!("<= {goal:.2} met"),
        (Some(goal), _) => format!("<= {goal:.2} MISSED"),
        _ => String::new(),
    }
}

/// The stdout table: medians with the rounds' spread, ratio and goal.
pub fn table(setting: &Setting, rows: &[Comparison]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<17} {:>22} {:>22} {:>7}  {:<15} unit",
        "benchmark", "Bedrock (min..max)", "Linux (min..max)", "ratio", "goal"
    );
    for row in rows {
        let spread = |f: &super::results::Figure| {
            format!("{:.0} ({:.0}..{:.0})", f.median(), f.min(), f.max())
        };
        let _ = writeln!(
            out,
            "{:<17} {:>22} {:>22} {:>7.3}  {:<15} {}",
            row.name,
            spread(&row.bedrock),
            spread(&row.linux),
            row.ratio(),
            goal_text(row),
            row.unit
        );
    }
    let _ = writeln!(
        out,
        "accelerator {}; anchor {} ({}); {}; {}",
        setting.accel, setting.anchor, setting.linux_kernel, setting.machine, setting.qemu
    );
    out
}

/// Where `docs/benchmarks.md`'s generated figures start and end.
pub const DOC_BEGIN: &str = "<!-- cargo xtask bench: figures begin -->";
pub const DOC_END: &str = "<!-- cargo xtask bench: figures end -->";

/// The generated part of `docs/benchmarks.md` (between the markers).
pub fn doc_section(setting: &Setting, rows: &[Comparison]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Run of {}, accelerator **{}**, {}, {}; anchor {} (Debian `{}`).\n",
        setting.date,
        setting.accel,
        setting.machine,
        setting.qemu,
        setting.anchor,
        setting.linux_kernel
    );
    out.push_str("| benchmark | unit | Bedrock | Linux | ratio | goal |\n");
    out.push_str("|---|---|---:|---:|---:|---|\n");
    for row in rows {
        let _ = writeln!(
            out,
            "| `{}` | {} | {:.0} | {:.0} | {:.3} | {} |",
            row.name,
            row.unit,
            row.bedrock.median(),
            row.linux.median(),
            row.ratio(),
            goal_text(row)
        );
    }
    if !setting.linux_facts.is_empty() {
        out.push_str("\nThe Linux guest reported:");
        for (key, value) in &setting.linux_facts {
            let _ = write!(out, " {key} `{value}`;");
        }
        out.pop();
        out.push_str(".\n");
    }
    out
}

/// `doc` with the text between the markers replaced by `section`; `None`
/// if the markers are missing or out of order.
pub fn replace_doc_section(doc: &str, section: &str) -> Option<String> {
    let begin = doc.find(DOC_BEGIN)? + DOC_BEGIN.len();
    let end = begin + doc[begin..].find(DOC_END)?;
    Some(format!("{}\n{section}{}", &doc[..begin], &doc[end..]))
}

/// The current time as `YYYY-MM-DD HH:MM UTC`.
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Seconds since the Unix epoch as `YYYY-MM-DD HH:MM UTC` (proleptic
/// Gregorian calendar; Howard Hinnant's `civil_from_days`).
fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let minutes = secs % 86_400 / 60;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::super::results::Figure;
    use super::*;

    /// Three rounds of one operation: `median` and one cycle either side.
    fn figure(median: f64) -> Figure {
        let m = median as u64;
        Figure::from_rounds(1, [m - 1, m, m + 1]).unwrap()
    }

    fn setting() -> Setting {
        Setting {
            accel: "tcg",
            anchor: "linux-6.1 same qemu".into(),
            linux_kernel: "6.1.0-56-amd64".into(),
            machine: "q35".into(),
            qemu: "QEMU emulator version 7.2.19".into(),
            date: "2026-11-26 13:10 UTC".into(),
            linux_facts: vec![("meltdown".into(), "Not affected".into())],
        }
    }

    fn rows() -> Vec<Comparison> {
        vec![
            Comparison {
                name: "syscall",
                unit: "cycles per call",
                bedrock: figure(900.0),
                linux: figure(1600.0),
                goal: Some(0.8),
            },
            Comparison {
                name: "ctx_switch_cross",
                unit: "cycles per round trip",
                bedrock: figure(300.0),
                linux: figure(200.0),
                goal: None,
            },
        ]
    }

    #[test]
    fn json_is_one_flat_object_with_the_required_keys() {
        let json = to_json(&fields(&setting(), &rows()));
        let expected = [
            "{",
            r#"  "accel": "tcg","#,
            r#"  "anchor": "linux-6.1 same qemu","#,
            r#"  "date": "2026-11-26 13:10 UTC","#,
            r#"  "qemu": "QEMU emulator version 7.2.19","#,
            r#"  "machine": "q35","#,
            r#"  "linux_kernel": "6.1.0-56-amd64","#,
            r#"  "unit": "TSC cycles per operation, median of the timed rounds","#,
            r#"  "linux_meltdown": "Not affected","#,
            r#"  "syscall_bedrock": 900.0,"#,
            r#"  "syscall_linux": 1600.0,"#,
            r#"  "syscall_ratio": 0.562,"#,
            r#"  "syscall_unit": "cycles per call","#,
            r#"  "syscall_rounds": 3,"#,
            r#"  "syscall_goal": 0.80,"#,
            r#"  "ctx_switch_cross_bedrock": 300.0,"#,
            r#"  "ctx_switch_cross_linux": 200.0,"#,
            r#"  "ctx_switch_cross_ratio": 1.500,"#,
            r#"  "ctx_switch_cross_unit": "cycles per round trip","#,
            r#"  "ctx_switch_cross_rounds": 3"#,
            "}",
        ];
        assert_eq!(json.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn json_escapes_strings_and_refuses_non_finite_numbers() {
        let fields = [
            ("q\"k".to_owned(), Value::Text("a\\b\n\u{1}".to_owned())),
            ("n".to_owned(), Value::Number(f64::NAN, 1)),
        ];
        assert_eq!(
            to_json(&fields),
            "{\n  \"q\\\"k\": \"a\\\\b\\n\\u0001\",\n  \"n\": null\n}\n"
        );
    }

    #[test]
    fn table_and_doc_say_whether_goals_are_met() {
        let table = table(&setting(), &rows());
        assert!(table.contains("900 (899..901)"), "{table}");
        assert!(table.contains("<= 0.80 met"), "{table}");
        assert!(table.contains("accelerator tcg"), "{table}");
        let mut missed = rows();
        missed[0].bedrock = figure(1500.0);
        let doc = doc_section(&setting(), &missed);
        assert!(
            doc.contains("| `syscall` | cycles per call | 1500 | 1600 | 0.938 | <= 0.80 MISSED |"),
            "{doc}"
        );
        assert!(
            doc.contains("| `ctx_switch_cross` | cycles per round trip | 300 | 200 | 1.500 |  |")
        );
        assert!(doc.contains("accelerator **tcg**"));
        assert!(doc.ends_with("meltdown `Not affected`.\n"), "{doc}");
    }

    #[test]
    fn doc_section_is_replaced_between_the_markers_only() {
        let doc = format!("# T\nintro\n{DOC_BEGIN}\nold\nfigures\n{DOC_END}\nafter\n");
        let new = replace_doc_section(&doc, "new\n").unwrap();
        assert_eq!(
            new,
            format!("# T\nintro\n{DOC_BEGIN}\nnew\n{DOC_END}\nafter\n")
        );
        assert_eq!(replace_doc_section(&new, "new\n").unwrap(), new);
        assert_eq!(replace_doc_section("# no markers", "x"), None);
        assert_eq!(
            replace_doc_section(&format!("{DOC_END}{DOC_BEGIN}"), "x"),
            None
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_795_698_645), "2026-11-26 13:10 UTC");
        assert_eq!(format_utc(4_107_542_399), "2100-02-28 23:59 UTC");
    }
}
