//! The runtime silo in both guests (issue 7): the bench programs end with
//! `runtime-silo bench --guest` (Bedrock: the native-silo build from the
//! boot archive; Linux: a static Linux build of the same crate in the
//! initramfs), which compiles and runs the same `hello.wasm` and
//! `compute.wasm` with the same wasmtime and Cranelift and prints `BENCH
//! info wasm.KEY=VALUE` lines. This module pairs the two sides' figures:
//! each compute kernel's time, deploy-to-first-output cold and cached, and
//! the compile time of `compute.wasm`; every ratio is Bedrock's time over
//! Linux's (below 1 Bedrock is faster).

use std::fmt::Write as _;

use super::report::Value;
use super::results::{Run, median};

/// The info-key prefix of the runtime silo's lines.
const PREFIX: &str = "wasm.";
/// The compute kernels `runtime-silo bench` runs (its `compute.rs`).
const KERNELS: [&str; 4] = ["sha256", "nbody", "matmul", "fib"];

/// Goals of issue 7: at most this.
pub const GOAL_EXEC_WORST: f64 = 1.10;
pub const GOAL_DEPLOY_CACHED: f64 = 1.0;
pub const GOAL_DEPLOY_COLD: f64 = 1.2;

/// One figure on both sides, in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The `results.json` key stem (`deploy_cached`, `wasm_exec_sha256`).
    pub key: String,
    pub label: String,
    pub bedrock: f64,
    pub linux: f64,
    /// Bound on the ratio (none for a kernel: its goal is the worst one's).
    pub goal: Option<f64>,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        self.bedrock / self.linux
    }
}

/// A row as printed: Bedrock's and Linux's times (none for the worst
/// kernel's line), the ratio and the goal's verdict.
struct Line {
    label: String,
    times: Option<(f64, f64)>,
    ratio: f64,
    goal: String,
}

/// The figures of both sides.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    pub rows: Vec<Row>,
}

/// The runtime silo's number `key` on one side: the median over the
/// passes that reported it.
fn number(runs: &[Run], key: &str) -> Option<f64> {
    let full = format!("{PREFIX}{key}");
    let mut values: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.info(&full)?.parse().ok())
        .filter(|v: &f64| v.is_finite())
        .collect();
    values.sort_by(f64::total_cmp);
    median(&values)
}

/// Pairs the two sides' figures; `Err` names what a side did not report
/// (its runtime silo did not run to the end).
pub fn compare(bedrock: &[Run], linux: &[Run]) -> Result<Figures, String> {
    for (side, runs) in [("Bedrock", bedrock), ("Linux", linux)] {
        if !runs
            .iter()
            .all(|r| r.info(&format!("{PREFIX}done")) == Some("1"))
        {
            return Err(format!(
                "{side}: the runtime silo's wasm bench did not finish"
            ));
        }
    }
    let pair = |key: &str, stem: &str, label: &str, goal: Option<f64>| match (
        number(bedrock, key),
        number(linux, key),
    ) {
        (Some(b), Some(l)) => Ok(Row {
            key: stem.to_owned(),
            label: label.to_owned(),
            bedrock: b,
            linux: l,
            goal,
        }),
        _ => Err(format!("no `{PREFIX}{key}` from both sides")),
    };
    let mut rows = Vec::new();
    for kernel in KERNELS {
        rows.push(pair(
            &format!("compute.{kernel}.silo_ms"),
            &format!("wasm_exec_{kernel}"),
            &format!("compute kernel `{kernel}`"),
            // The goal is the worst kernel's (`wasm_exec_worst_ratio`).
            None,
        )?);
    }
    rows.push(pair(
        "deploy_first_output.cached_ms",
        "deploy_cached",
        "deploy to first output, code cached",
        Some(GOAL_DEPLOY_CACHED),
    )?);
    rows.push(pair(
        "deploy_first_output.cold_ms",
        "deploy_cold",
        "deploy to first output, cold (compile included)",
        Some(GOAL_DEPLOY_COLD),
    )?);
    rows.push(pair(
        "compile.compute.ms",
        "compile",
        "compile `compute.wasm` (validation + Cranelift)",
        None,
    )?);
    Ok(Figures { rows })
}

impl Figures {
    fn exec_rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.key.starts_with("wasm_exec_"))
    }

    /// The worst compute kernel's ratio (the figure the goal is about).
    pub fn worst_exec_ratio(&self) -> f64 {
        self.exec_rows().map(Row::ratio).fold(f64::NAN, f64::max)
    }

    /// `results.json` fields: `<key>_bedrock`, `_linux` (ms), `_ratio`,
    /// `_goal` where there is one, and `wasm_exec_worst_ratio` (+ goal).
    pub fn fields(&self) -> Vec<(String, Value)> {
        let mut fields = Vec::new();
        for row in &self.rows {
            fields.push((
                format!("{}_bedrock", row.key),
                Value::Number(row.bedrock, 3),
            ));
            fields.push((format!("{}_linux", row.key), Value::Number(row.linux, 3)));
            fields.push((format!("{}_ratio", row.key), Value::Number(row.ratio(), 3)));
            if let Some(goal) = row.goal {
                fields.push((format!("{}_ratio_goal", row.key), Value::Number(goal, 2)));
            }
        }
        fields.push((
            "wasm_exec_worst_ratio".to_owned(),
            Value::Number(self.worst_exec_ratio(), 3),
        ));
        fields.push((
            "wasm_exec_worst_ratio_goal".to_owned(),
            Value::Number(GOAL_EXEC_WORST, 2),
        ));
        fields
    }

    fn verdict(ratio: f64, goal: Option<f64>) -> String {
        match goal {
            Some(goal) if ratio <= goal => format!("goal <= {goal:.2} met"),
            Some(goal) => format!("goal <= {goal:.2} MISSED"),
            None => String::new(),
        }
    }

    /// Each row, then the worst kernel's ratio (no times), which the
    /// kernels' goal is about.
    fn lines(&self) -> Vec<Line> {
        let mut lines: Vec<_> = self
            .rows
            .iter()
            .map(|row| Line {
                label: row.label.clone(),
                times: Some((row.bedrock, row.linux)),
                ratio: row.ratio(),
                goal: Self::verdict(row.ratio(), row.goal),
            })
            .collect();
        let worst = self.worst_exec_ratio();
        lines.push(Line {
            label: "worst compute kernel (`wasm_exec_worst_ratio`)".to_owned(),
            times: None,
            ratio: worst,
            goal: Self::verdict(worst, Some(GOAL_EXEC_WORST)),
        });
        lines
    }

    /// Lines for stdout.
    pub fn table(&self) -> String {
        let mut out = String::from("runtime silo in both guests (ms; ratio = Bedrock / Linux):\n");
        for Line {
            label,
            times,
            ratio,
            goal,
        } in self.lines()
        {
            let times = times.map_or_else(
                || format!("{:21}", ""),
                |(b, l)| format!("{b:>10.2} {l:>10.2}"),
            );
            let _ = writeln!(out, "  {label:<52} {times} {ratio:>7.3}  {goal}");
        }
        out
    }

    /// The part of the generated section of `docs/benchmarks.md`.
    pub fn doc_section(&self) -> String {
        let mut out = String::from("\n### Runtime silo in both guests (issue 7)\n\n");
        out.push_str(
            "`runtime-silo bench --guest` run last by each side's bench program: on Bedrock the \
             runtime silo (native silo, JIT in ring 3), on Linux a static Linux build of the same \
             crate; same wasm, same wasmtime and Cranelift, medians over the runs and passes. \
             Milliseconds; ratio = Bedrock / Linux.\n\n",
        );
        out.push_str(
            "| figure | Bedrock ms | Linux ms | ratio | goal |\n|---|---:|---:|---:|---|\n",
        );
        for Line {
            label,
            times,
            ratio,
            goal,
        } in self.lines()
        {
            let times = times.map_or_else(|| " | ".to_owned(), |(b, l)| format!("{b:.2} | {l:.2}"));
            let _ = writeln!(out, "| {label} | {times} | {ratio:.3} | {goal} |");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pairs: &[(&str, &str)]) -> Run {
        Run {
            figures: Default::default(),
            info: pairs
                .iter()
                .map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_owned()))
                .collect(),
        }
    }

    fn side(scale: f64) -> Vec<(String, String)> {
        let mut info = Vec::new();
        for (i, kernel) in KERNELS.iter().enumerate() {
            info.push((
                format!("compute.{kernel}.silo_ms"),
                format!("{}", 100.0 * (i + 1) as f64 * scale),
            ));
        }
        info.push((
            "deploy_first_output.cached_ms".into(),
            format!("{}", 2.0 * scale),
        ));
        info.push((
            "deploy_first_output.cold_ms".into(),
            format!("{}", 50.0 * scale),
        ));
        info.push(("compile.compute.ms".into(), format!("{}", 40.0 * scale)));
        info.push(("done".into(), "1".into()));
        info
    }

    fn runs(info: &[(String, String)]) -> Vec<Run> {
        let pairs: Vec<(&str, &str)> = info.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        vec![run(&pairs)]
    }

    #[test]
    fn pairs_the_sides_and_finds_the_worst_kernel() {
        let mut bedrock = side(1.0);
        // matmul is 1.5x slower on Bedrock.
        bedrock[2].1 = "450".into();
        let figures = compare(&runs(&bedrock), &runs(&side(1.0))).unwrap();
        assert_eq!(figures.rows.len(), KERNELS.len() + 3);
        assert!((figures.worst_exec_ratio() - 1.5).abs() < 1e-9);
        let fields = figures.fields();
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("wasm_exec_worst_ratio"), Some(Value::Number(1.5, 3)));
        assert_eq!(get("deploy_cached_ratio"), Some(Value::Number(1.0, 3)));
        assert_eq!(
            get("deploy_cold_ratio_goal"),
            Some(Value::Number(GOAL_DEPLOY_COLD, 2))
        );
        assert_eq!(get("compile_bedrock"), Some(Value::Number(40.0, 3)));
        assert!(figures.table().contains("MISSED"));
    }

    #[test]
    fn a_side_that_did_not_finish_is_an_error() {
        let mut linux = side(1.0);
        linux.retain(|(k, _)| k != "done");
        let err = compare(&runs(&side(1.0)), &runs(&linux)).unwrap_err();
        assert!(err.contains("Linux"), "{err}");
        let mut bedrock = side(1.0);
        bedrock.retain(|(k, _)| k != "deploy_first_output.cold_ms");
        let err = compare(&runs(&bedrock), &runs(&side(1.0))).unwrap_err();
        assert!(err.contains("deploy_first_output.cold_ms"), "{err}");
    }

    #[test]
    fn medians_over_passes() {
        let a = side(1.0);
        let b = side(3.0);
        let both: Vec<Run> = [a, b].iter().map(|info| runs(info).remove(0)).collect();
        let figures = compare(&both, &runs(&side(1.0))).unwrap();
        let cached = figures
            .rows
            .iter()
            .find(|r| r.key == "deploy_cached")
            .unwrap();
        assert!((cached.bedrock - 4.0).abs() < 1e-9, "{}", cached.bedrock);
    }
}
