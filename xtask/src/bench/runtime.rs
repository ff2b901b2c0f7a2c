//! The runtime silo's host figures (issue 3), part of `cargo xtask bench`.
//!
//! No QEMU here: `runtime-silo bench --json` (release build) measures
//! itself on the host with the wasm examples (release build) and prints
//! one flat JSON object (see `runtime-silo/README.md`). This module builds
//! both, runs it, and turns its object into `runtime_*` keys of
//! `results.json`, a table on stdout and a part of the generated section
//! of `docs/benchmarks.md`. A key `<figure>_goal` states the goal of
//! `<figure>` (at most that); missing it is reported, never an error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::report::Value;
use crate::build::Profile;
use crate::error::{Context, Result, bail};
use crate::process::{describe, run_until};
use crate::toolchain::CrossToolchain;
use crate::wasm::build_examples;
use crate::workspace::Workspace;

/// The prefix of this part's keys in `results.json`.
const PREFIX: &str = "runtime_";
/// Suffix of a goal key: `<figure>_goal` bounds `<figure>` from above.
const GOAL_SUFFIX: &str = "_goal";
/// The whole run takes 20-60 s here; the bound only stops a hung one.
const RUN_TIMEOUT: Duration = Duration::from_mins(10);

/// What [`build`] made ready.
#[derive(Debug)]
pub struct Prepared {
    binary: PathBuf,
    examples: PathBuf,
    output: PathBuf,
}

/// Builds `runtime-silo` and the wasm examples, both release.
pub fn build(toolchain: &CrossToolchain, ws: &Workspace) -> Result<Prepared> {
    eprintln!("xtask: building runtime-silo and the wasm examples (release)");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&ws.root)
        .args(["build", "--release", "--package", "runtime-silo"])
        .stdin(Stdio::null())
        .stdout(std::io::stderr());
    let shown = describe(&command);
    let status = command.status().context(|| format!("running {shown}"))?;
    if !status.success() {
        bail!("building runtime-silo failed ({status}): {shown}");
    }
    let examples = build_examples(toolchain, ws, Profile::Release)?;
    Ok(Prepared {
        binary: ws.target_dir.join("release").join("runtime-silo"),
        examples: examples.dir,
        output: ws.target_dir.join("bench").join("runtime.json"),
    })
}

impl Prepared {
    /// The directory of the release wasm examples (`hello.wasm`, ...).
    pub fn examples(&self) -> &std::path::Path {
        &self.examples
    }
}

/// Runs `runtime-silo bench --json` (its progress on stderr, its object
/// kept in `<target>/bench/runtime.json`) and reads the figures.
pub fn measure(prepared: &Prepared) -> Result<Figures> {
    let Prepared {
        binary,
        examples,
        output,
    } = prepared;
    if let Some(dir) = output.parent() {
        fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    let file = File::create(output).context(|| format!("creating {}", output.display()))?;
    let mut command = Command::new(binary);
    command
        .args(["bench", "--json", "--examples"])
        .arg(examples)
        .stdin(Stdio::null())
        .stdout(file);
    eprintln!("xtask: benchmarking the runtime silo on the host");
    let started = Instant::now();
    run_until(&mut command, started + RUN_TIMEOUT)?;
    eprintln!(
        "xtask: runtime silo done in {} s",
        started.elapsed().as_secs()
    );
    let json = fs::read_to_string(output).context(|| format!("reading {}", output.display()))?;
    Figures::parse(&json).context(|| format!("reading the figures in {}", output.display()))
}

/// One `runtime-silo bench` report: its keys (`compute.sha256.ratio`,
/// `host.cpu`, ...) to numbers or text.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures(BTreeMap<String, Json>);

impl Figures {
    /// Reads the JSON object `runtime-silo bench --json` prints; anything
    /// but a flat object of numbers, strings and nulls (a non-finite
    /// number) is an error.
    pub fn parse(json: &str) -> Result<Figures> {
        let object = match serde_json::from_str(json).context(|| "not JSON".into())? {
            Json::Object(object) => object,
            other => bail!("expected one JSON object, found {other}"),
        };
        let mut figures = BTreeMap::new();
        for (key, value) in object {
            if !matches!(value, Json::Number(_) | Json::String(_) | Json::Null) {
                bail!("`{key}` is {value}, not a number or a string");
            }
            figures.insert(key, value);
        }
        Ok(Figures(figures))
    }

    fn number(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(Json::as_f64)
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Json::as_str)
    }

    /// `key` as a number with `decimals` decimals, or `n/a`.
    fn shown(&self, key: &str, decimals: usize) -> String {
        self.number(key)
            .map_or_else(|| "n/a".to_owned(), |n| format!("{n:.decimals$}"))
    }

    /// The `results.json` fields: every figure as `runtime_<key>` with
    /// dots turned into underscores, values as runtime-silo printed them
    /// (rounded for reading; only trailing zeros get lost).
    pub fn fields(&self) -> Vec<(String, Value)> {
        self.0
            .iter()
            .map(|(key, value)| {
                let key = format!("{PREFIX}{}", key.replace('.', "_"));
                let value = match value {
                    Json::String(text) => Value::Text(text.clone()),
                    Json::Number(n) => {
                        // Keep the decimals runtime-silo chose for reading.
                        let text = n.to_string();
                        let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
                        Value::Number(n.as_f64().unwrap_or(f64::NAN), decimals)
                    }
                    _ => Value::Number(f64::NAN, 0),
                };
                (key, value)
            })
            .collect()
    }

    /// Each `(figure, goal)` pair the report states.
    fn goals(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().filter_map(|(key, value)| {
            let figure = key.strip_suffix(GOAL_SUFFIX)?;
            Some((figure, value.as_f64()?))
        })
    }

    /// `<= 1.15 met`, `<= 1.15 MISSED` or nothing, for `figure`.
    fn goal_text(&self, figure: &str) -> String {
        let Some((_, goal)) = self.goals().find(|(f, _)| *f == figure) else {
            return String::new();
        };
        match self.number(figure) {
            Some(value) if value <= goal => format!("<= {goal} met"),
            _ => format!("<= {goal} MISSED"),
        }
    }

    /// The names of the compute kernels, in the report's (sorted) order.
    fn kernels(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| key.strip_prefix("compute.")?.strip_suffix(".ratio"))
            .collect()
    }

    /// The lines `cargo xtask bench` prints after its QEMU table.
    pub fn table(&self) -> String {
        let mut out = String::from("runtime silo (host):\n");
        for (label, key, decimals) in SUMMARY {
            let _ = writeln!(
                out,
                "  {label:<52} {:>10}  {}",
                self.shown(key, *decimals),
                self.goal_text(key)
            );
        }
        for kernel in self.kernels() {
            let key = format!("compute.{kernel}.ratio");
            let _ = writeln!(
                out,
                "  {:<52} {:>10}  (silo {} ms, default {} ms)",
                format!("compute ratio, {kernel}"),
                self.shown(&key, 3),
                self.shown(&format!("compute.{kernel}.silo_ms"), 1),
                self.shown(&format!("compute.{kernel}.default_ms"), 1),
            );
        }
        out
    }

    /// The runtime silo's part of the generated section of
    /// `docs/benchmarks.md`.
    pub fn doc_section(&self) -> String {
        let text = |key| self.text(key).unwrap_or("unknown");
        let mut out = String::from("\n### Runtime silo on the host (issue 3)\n\n");
        let _ = writeln!(
            out,
            "Run of {} on the host (`{}`, {} CPUs), runtime-silo {} ({} build), medians of {} runs; \
             ratios are silo time over wasmtime's default configuration's.\n",
            text("bench.date"),
            text("host.cpu"),
            self.shown("host.cpus", 0),
            text("bench.runtime_silo"),
            text("bench.profile"),
            self.shown("bench.runs", 0),
        );
        out.push_str("| figure | value | goal |\n|---|---:|---|\n");
        for (label, key, decimals) in SUMMARY {
            let _ = writeln!(
                out,
                "| {label} | {} | {} |",
                self.shown(key, *decimals),
                self.goal_text(key)
            );
        }
        out.push_str(
            "\n| kernel (scale) | default wasmtime ms | silo ms | silo without epochs ms | ratio | ratio without epochs |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        for kernel in self.kernels() {
            let key = |what: &str| format!("compute.{kernel}.{what}");
            let _ = writeln!(
                out,
                "| `{kernel}` ({}) | {} | {} | {} | {} | {} |",
                self.text(&key("scale")).unwrap_or("?"),
                self.shown(&key("default_ms"), 1),
                self.shown(&key("silo_ms"), 1),
                self.shown(&key("silo_no_epoch_ms"), 1),
                self.shown(&key("ratio"), 3),
                self.shown(&key("ratio_no_epoch"), 3),
            );
        }
        out
    }
}

/// The headline figures: label, runtime-silo key, decimals shown.
const SUMMARY: &[(&str, &str, usize)] = &[
    ("compile throughput, KiB/s", "compile_kib_per_s", 1),
    ("instantiate `hello`, µs", "instantiate.hello.us", 1),
    ("instantiate `compute`, µs", "instantiate.compute.us", 1),
    (
        "deploy to first output, cold, ms",
        "deploy_first_output.cold_ms",
        2,
    ),
    (
        "deploy to first output, cached, ms",
        "deploy_first_output.cached_ms",
        3,
    ),
    (
        "compute ratio, geometric mean of the kernels",
        "compute_ratio_geomean",
        3,
    ),
    (
        "compute ratio without epoch checks, geometric mean",
        "compute_ratio_no_epoch_geomean",
        3,
    ),
];

#[cfg(test)]
mod tests {
    use super::super::report::to_json;
    use super::*;

    /// The shape `runtime-silo bench --json` prints (see its `report.rs`).
    const REPORT: &str = r#"{
  "host.cpu": "Intel(R) Xeon(R) Processor",
  "host.cpus": 2,
  "bench.date": "2026-11-26T15:20:00Z",
  "bench.runtime_silo": "0.1.0",
  "bench.profile": "release",
  "bench.runs": 5,
  "compile_kib_per_s": 612.0,
  "instantiate.hello.us": 6.6,
  "deploy_first_output.cold_ms": 146.10,
  "deploy_first_output.cached_ms": 0.096,
  "compute.sha256.scale": "24",
  "compute.sha256.default_ms": 122.20,
  "compute.sha256.silo_ms": 161.80,
  "compute.sha256.ratio": 1.324,
  "compute.fib.scale": "200",
  "compute.fib.default_ms": 122.10,
  "compute.fib.silo_ms": 130.00,
  "compute.fib.ratio": 1.065,
  "compute.fib.ratio_no_epoch": null,
  "compute_ratio_geomean": 1.187,
  "compute_ratio_geomean_goal": 1.15,
  "deploy_first_output.cached_ms_goal": 2.0
}
"#;

    #[test]
    fn figures_become_prefixed_flat_fields_as_printed() {
        let figures = Figures::parse(REPORT).unwrap();
        let json = to_json(&figures.fields());
        let lines: Vec<_> = json.lines().collect();
        for expected in [
            r#"  "runtime_host_cpu": "Intel(R) Xeon(R) Processor","#,
            r#"  "runtime_host_cpus": 2,"#,
            r#"  "runtime_compile_kib_per_s": 612.0,"#,
            // Trailing zeros do not survive the round trip through f64.
            r#"  "runtime_deploy_first_output_cold_ms": 146.1,"#,
            r#"  "runtime_deploy_first_output_cached_ms": 0.096,"#,
            r#"  "runtime_deploy_first_output_cached_ms_goal": 2.0,"#,
            r#"  "runtime_compute_sha256_ratio": 1.324,"#,
            r#"  "runtime_compute_sha256_scale": "24","#,
            r#"  "runtime_compute_fib_ratio_no_epoch": null,"#,
            r#"  "runtime_compute_ratio_geomean_goal": 1.15,"#,
        ] {
            assert!(lines.contains(&expected), "no {expected} in\n{json}");
        }
        assert_eq!(figures.fields().len(), 22);
    }

    #[test]
    fn goals_are_judged_not_enforced() {
        let figures = Figures::parse(REPORT).unwrap();
        assert_eq!(figures.goal_text("compute_ratio_geomean"), "<= 1.15 MISSED");
        assert_eq!(
            figures.goal_text("deploy_first_output.cached_ms"),
            "<= 2 met"
        );
        assert_eq!(figures.goal_text("compile_kib_per_s"), "");
        let met = Figures::parse(&REPORT.replace("1.187", "1.15")).unwrap();
        assert_eq!(met.goal_text("compute_ratio_geomean"), "<= 1.15 met");
        // A goal whose figure is missing is not met.
        let lost = Figures::parse(&REPORT.replace("\"compute_ratio_geomean\":", "\"x\":")).unwrap();
        assert_eq!(lost.goal_text("compute_ratio_geomean"), "<= 1.15 MISSED");
    }

    #[test]
    fn table_and_doc_show_kernels_and_goals() {
        let figures = Figures::parse(REPORT).unwrap();
        assert_eq!(figures.kernels(), ["fib", "sha256"]);
        let table = figures.table();
        assert!(table.contains("1.187  <= 1.15 MISSED"), "{table}");
        assert!(
            table.contains("(silo 161.8 ms, default 122.2 ms)"),
            "{table}"
        );
        let doc = figures.doc_section();
        assert!(
            doc.contains("| deploy to first output, cached, ms | 0.096 | <= 2 met |"),
            "{doc}"
        );
        assert!(
            doc.contains("| `sha256` (24) | 122.2 | 161.8 | n/a | 1.324 | n/a |"),
            "{doc}"
        );
        assert!(
            doc.contains("`Intel(R) Xeon(R) Processor`, 2 CPUs"),
            "{doc}"
        );
    }

    #[test]
    fn anything_but_a_flat_object_is_refused() {
        assert!(Figures::parse("").is_err());
        assert!(Figures::parse("[1, 2]").is_err());
        assert!(Figures::parse(r#"{"a": {"b": 1}}"#).is_err());
        assert!(Figures::parse(r#"{"a": [1]}"#).is_err());
        assert!(Figures::parse(r#"{"a": true}"#).is_err());
        assert_eq!(
            Figures::parse(r#"{"a": 1.5}"#).unwrap().number("a"),
            Some(1.5)
        );
    }
}
