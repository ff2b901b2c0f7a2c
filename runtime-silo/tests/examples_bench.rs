//! `runtime-silo bench` runs end to end (at the smallest scale, once) and
//! prints every figure it documents. (Its JSON form has a unit test: one
//! run here is seconds of test time.)

#[macro_use]
mod examples_support;

use std::path::Path;
use std::process::Command;

use examples_support::text;

/// Keys every report has (per-module and per-kernel keys included).
const KEYS: [&str; 13] = [
    "host.cpu",
    "bench.date",
    "compile_kib_per_s",
    "instantiate.hello.us",
    "deploy_first_output.cold_ms",
    "deploy_first_output.cached_ms",
    "compute.sha256.ratio",
    "compute.nbody.silo_ms",
    "compute.matmul.default_ms",
    "compute.fib.silo_no_epoch_ms",
    "compute_ratio_geomean",
    "compute_ratio_geomean_goal",
    "deploy_first_output.cached_ms_goal",
];

fn bench(examples: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_runtime-silo"))
        .args(["bench", "--runs", "1", "--scale", "1", "--examples"])
        .arg(examples)
        .output()
        .expect("spawn runtime-silo");
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn bench_prints_every_documented_figure() {
    let compute = require_example!("compute");
    let examples = compute.parent().expect("the examples' directory");
    let lines = bench(examples);
    for key in KEYS {
        let line = lines
            .lines()
            .find(|line| line.split_once(' ').is_some_and(|(k, _)| k == key))
            .unwrap_or_else(|| panic!("no `{key}` line in:\n{lines}"));
        let value = &line[key.len() + 1..];
        assert!(!value.is_empty(), "{line}");
        if key.ends_with("_ms") || key.ends_with("ratio") || key.ends_with("_s") {
            let number: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            assert!(number > 0.0, "{line}");
        }
    }
}
