//! Reading a bench run's serial log into figures, and pairing Bedrock's
//! figures with Linux's.
//!
//! The programs print each timed round's total cycles (see
//! `bedrock_bench_core::line`); the figure of a benchmark is the median of
//! the rounds' cycles per operation, which one preempted or disturbed round
//! cannot move much.

use std::collections::BTreeMap;

use bedrock_bench_core::{BENCHMARKS, Line};

/// One benchmark's rounds on one side, in cycles per operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Each timed round's cycles per operation, sorted.
    per_op: Vec<f64>,
}

impl Figure {
    /// The figure of rounds that did `ops` operations in these cycles each.
    /// `None` without rounds.
    pub fn from_rounds(ops: u64, cycles: impl IntoIterator<Item = u64>) -> Option<Figure> {
        let per_op = cycles.into_iter().map(|c| c as f64 / ops as f64).collect();
        Figure::from_per_op(per_op)
    }

    fn from_per_op(mut per_op: Vec<f64>) -> Option<Figure> {
        per_op.sort_by(f64::total_cmp);
        (!per_op.is_empty()).then_some(Figure { per_op })
    }

    /// The rounds of both figures (of the same benchmark, other passes).
    fn pooled(&self, other: &Figure) -> Figure {
        let mut per_op = self.per_op.clone();
        per_op.extend_from_slice(&other.per_op);
        per_op.sort_by(f64::total_cmp);
        Figure { per_op }
    }

    /// The figure reported: the median round.
    pub fn median(&self) -> f64 {
        median(&self.per_op).unwrap_or(f64::NAN)
    }

    pub fn min(&self) -> f64 {
        self.per_op.first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.per_op.last().copied().unwrap_or(f64::NAN)
    }

    pub fn rounds(&self) -> usize {
        self.per_op.len()
    }
}

/// The median of sorted values (the mean of the middle two for an even
/// count); `None` for no values.
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// What one side's run reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    /// Benchmark name to figure.
    pub figures: BTreeMap<String, Figure>,
    /// The `BENCH info key=value` facts, in order.
    pub info: Vec<(String, String)>,
}

impl Run {
    /// The runs of several passes of one side as one: each benchmark's
    /// rounds pooled, the facts of the first pass.
    pub fn pooled(runs: &[Run]) -> Run {
        let mut pooled = Run {
            figures: BTreeMap::new(),
            info: runs.first().map(|r| r.info.clone()).unwrap_or_default(),
        };
        for run in runs {
            for (name, figure) in &run.figures {
                let merged = match pooled.figures.get(name) {
                    Some(seen) => seen.pooled(figure),
                    None => figure.clone(),
                };
                pooled.figures.insert(name.clone(), merged);
            }
        }
        pooled
    }

    pub fn info(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The run in a serial log, or why there is no complete one: the program
/// reported an error, printed a malformed line, never said `BENCH done`,
/// or left out a benchmark every run must have.
pub fn parse_log(log: &str) -> Result<Run, String> {
    let mut run = Run::default();
    let mut done = false;
    for text in log.lines() {
        let line = match Line::find(text) {
            None => continue,
            Some(Ok(line)) => line,
            Some(Err(e)) => return Err(format!("malformed line {:?}: {e}", text.trim_end())),
        };
        match line {
            Line::Result { name, ops, cycles } => {
                let figure = Figure::from_rounds(ops, cycles.iter())
                    .ok_or_else(|| format!("no rounds for {name}"))?;
                if run.figures.insert(name.to_owned(), figure).is_some() {
                    return Err(format!("{name} was reported twice"));
                }
            }
            Line::Info { key, value } => run.info.push((key.to_owned(), value.to_owned())),
            Line::Error(why) => return Err(format!("the bench program failed: {why}")),
            Line::Done => done = true,
        }
    }
    if !done {
        return Err("no `BENCH done` line: the bench program did not finish".to_owned());
    }
    if let Some(missing) = BENCHMARKS
        .iter()
        .find(|b| b.always && !run.figures.contains_key(b.name))
    {
        return Err(format!("no result for {}", missing.name));
    }
    Ok(run)
}

/// The issues' goals: Bedrock's time over Linux's must be at most this
/// (issue 4: syscall, ctx_switch, page_fault; issue 5: IPC; issue 6: std).
pub const GOALS: [(&str, f64); 8] = [
    ("syscall", 0.8),
    ("ctx_switch", 0.8),
    ("page_fault", 1.0),
    ("ipc_same_core", 0.5),
    ("bulk_read", 1.5),
    ("std_spawn_join", 1.5),
    ("std_mutex_contended", 1.5),
    ("std_malloc", 1.1),
];

/// Facts a side reports with `BENCH info` that belong in the results,
/// as `(info key, results.json key prefix)`: numbers take the median over
/// the passes, texts the first pass's value.
pub const REPORTED_INFO: [(&str, &str); 3] = [
    ("bulk_read_mb_s", "bulk_read_mb_s"),
    ("ipc_same_core_mechanism", "ipc_same_core_mechanism"),
    ("ipc_cross_core_mechanism", "ipc_cross_core_mechanism"),
];

/// The [`REPORTED_INFO`] of both sides: `<prefix>_bedrock`, `<prefix>_linux`.
pub fn reported_info(bedrock: &[Run], linux: &[Run]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, prefix) in REPORTED_INFO {
        for (side, runs) in [("bedrock", bedrock), ("linux", linux)] {
            let values: Vec<&str> = runs.iter().filter_map(|r| r.info(key)).collect();
            let mut numbers: Vec<f64> = values.iter().filter_map(|v| v.parse().ok()).collect();
            let value = if !numbers.is_empty() && numbers.len() == values.len() {
                numbers.sort_by(f64::total_cmp);
                median(&numbers).map(|m| format!("{m:.0}"))
            } else {
                values.first().map(|v| (*v).to_owned())
            };
            if let Some(value) = value {
                out.push((format!("{prefix}_{side}"), value));
            }
        }
    }
    out
}

/// One benchmark on both sides.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub name: &'static str,
    pub unit: &'static str,
    pub bedrock: Figure,
    pub linux: Figure,
    pub goal: Option<f64>,
}

impl Comparison {
    /// Bedrock's median over Linux's: below 1 Bedrock is faster.
    pub fn ratio(&self) -> f64 {
        self.bedrock.median() / self.linux.median()
    }

    pub fn goal_met(&self) -> Option<bool> {
        self.goal.map(|goal| self.ratio() <= goal)
    }
}

/// The benchmarks both sides ran, in the programs' order.
pub fn compare(bedrock: &Run, linux: &Run) -> Vec<Comparison> {
    BENCHMARKS
        .iter()
        .filter_map(|b| {
            Some(Comparison {
                name: b.name,
                unit: b.unit,
                bedrock: bedrock.figures.get(b.name)?.clone(),
                linux: linux.figures.get(b.name)?.clone(),
                goal: GOALS.iter().find(|(n, _)| *n == b.name).map(|(_, g)| *g),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
Bedrock 0.1.0 x86_64: 511 MiB usable
[    0.23] cpu0 INFO  silo 1 (usertest): BENCH info cpus=2
[    0.28] cpu0 INFO  silo 1 (usertest): BENCH result name=syscall ops=10 cycles=100,300,200
[    0.30] cpu0 INFO  silo 1 (usertest): BENCH result name=page_fault ops=2 cycles=10,30,20,40
[    0.68] cpu0 INFO  silo 1 (usertest): BENCH result name=ctx_switch ops=1 cycles=5
[    0.69] cpu0 INFO  silo 1 (usertest): BENCH result name=ipc_same_core ops=1 cycles=7
[    0.69] cpu0 INFO  silo 1 (usertest): BENCH result name=notify ops=1 cycles=8
[    0.69] cpu0 INFO  silo 1 (usertest): BENCH result name=bulk_read ops=1 cycles=9
[    0.69] cpu1 INFO  silo 4 (std-bench): BENCH result name=std_spawn_join ops=2 cycles=60,80
[    0.69] cpu1 INFO  silo 4 (std-bench): BENCH result name=std_mutex_uncontended ops=1 cycles=3
[    0.69] cpu0 INFO  silo 4 (std-bench): BENCH result name=std_mutex_contended ops=4 cycles=40
[    0.69] cpu0 INFO  silo 4 (std-bench): BENCH result name=std_malloc ops=64 cycles=640
[    0.69] cpu0 INFO  silo 4 (std-bench) ended: exit code 0
[    0.70] cpu0 INFO  silo 1 (usertest): BENCH done
[    0.71] cpu0 INFO  powering off
";

    #[test]
    fn reported_info_takes_median_numbers_and_first_texts() {
        let run = |mb: &str, mech: &str| Run {
            figures: BTreeMap::new(),
            info: vec![
                ("bulk_read_mb_s".to_owned(), mb.to_owned()),
                ("ipc_same_core_mechanism".to_owned(), mech.to_owned()),
            ],
        };
        let b = [run("100", "port"), run("300", "port"), run("200", "port")];
        let l = [run("50", "futex"), run("70", "pipe")];
        let got = reported_info(&b, &l);
        let get = |k: &str| {
            got.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("bulk_read_mb_s_bedrock"), Some("200"));
        assert_eq!(get("bulk_read_mb_s_linux"), Some("60"));
        assert_eq!(get("ipc_same_core_mechanism_linux"), Some("futex"));
        assert_eq!(get("ipc_cross_core_mechanism_linux"), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[1.0, 2.0, 10.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 4.0, 10.0]), Some(3.0));
    }

    #[test]
    fn figures_are_per_operation_medians() {
        let f = Figure::from_rounds(10, [300, 100, 200]).unwrap();
        assert_eq!(
            (f.median(), f.min(), f.max(), f.rounds()),
            (20.0, 10.0, 30.0, 3)
        );
        assert_eq!(Figure::from_rounds(10, []), None);
    }

    #[test]
    fn passes_pool_their_rounds() {
        let first = parse_log(LOG).unwrap();
        let second =
            parse_log(&LOG.replace("cycles=100,300,200", "cycles=1000,1000,1000")).unwrap();
        let pooled = Run::pooled(&[first.clone(), second]);
        let syscall = &pooled.figures["syscall"];
        // 10, 20, 30, 100, 100, 100 per call.
        assert_eq!(
            (syscall.rounds(), syscall.median(), syscall.max()),
            (6, 65.0, 100.0)
        );
        assert_eq!(pooled.figures["ctx_switch"].rounds(), 2);
        assert_eq!(pooled.info, first.info);
        assert_eq!(Run::pooled(std::slice::from_ref(&first)), first);
        assert_eq!(Run::pooled(&[]), Run::default());
    }

    #[test]
    fn a_complete_log_parses() {
        let run = parse_log(LOG).unwrap();
        assert_eq!(run.figures["syscall"].median(), 20.0);
        assert_eq!(run.figures["page_fault"].median(), 12.5);
        assert_eq!(run.figures["ctx_switch"].rounds(), 1);
        assert!(!run.figures.contains_key("ctx_switch_cross"));
        assert_eq!(run.info("cpus"), Some("2"));
        assert_eq!(run.info("kernel"), None);
    }

    #[test]
    fn incomplete_or_failed_runs_are_errors() {
        let unfinished = LOG.replace("BENCH done", "");
        assert!(parse_log(&unfinished).unwrap_err().contains("BENCH done"));
        let missing = LOG.replace("name=page_fault", "name=other");
        assert_eq!(parse_log(&missing).unwrap_err(), "no result for page_fault");
        // A std program that did not run or stopped early.
        let missing = LOG.replace("name=std_malloc", "name=other");
        assert_eq!(parse_log(&missing).unwrap_err(), "no result for std_malloc");
        let failed = LOG.replace(
            "BENCH result name=std_malloc ops=64 cycles=640",
            "BENCH error malloc failed",
        );
        assert_eq!(
            parse_log(&failed).unwrap_err(),
            "the bench program failed: malloc failed"
        );
        let failed = format!("BENCH error cannot pin\n{LOG}");
        assert_eq!(
            parse_log(&failed).unwrap_err(),
            "the bench program failed: cannot pin"
        );
        let malformed = format!("{LOG}BENCH result name=x ops=1\n");
        assert!(
            parse_log(&malformed)
                .unwrap_err()
                .contains("malformed line")
        );
        let twice = LOG.replace("name=ctx_switch ", "name=syscall ");
        assert_eq!(parse_log(&twice).unwrap_err(), "syscall was reported twice");
        assert!(parse_log("").is_err());
    }

    #[test]
    fn comparisons_pair_both_sides_with_ratio_and_goal() {
        let bedrock = parse_log(LOG).unwrap();
        let linux = parse_log(&LOG.replace("cycles=5", "cycles=10")).unwrap();
        let rows = compare(&bedrock, &linux);
        let names: Vec<_> = rows.iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "syscall",
                "page_fault",
                "ctx_switch",
                "ipc_same_core",
                "notify",
                "bulk_read",
                "std_spawn_join",
                "std_mutex_uncontended",
                "std_mutex_contended",
                "std_malloc"
            ]
        );
        let ctx = &rows[2];
        assert_eq!(ctx.ratio(), 0.5);
        assert_eq!(ctx.goal, Some(0.8));
        assert_eq!(ctx.goal_met(), Some(true));
        assert_eq!(rows[0].ratio(), 1.0);
        assert_eq!(rows[0].goal_met(), Some(false));
        assert_eq!(rows[1].goal_met(), Some(true));
        // The std program's lines, from another silo of the same boot.
        let malloc = rows.iter().find(|r| r.name == "std_malloc").unwrap();
        assert_eq!((malloc.bedrock.median(), malloc.goal), (10.0, Some(1.1)));
        let spawn = &bedrock.figures["std_spawn_join"];
        assert_eq!((spawn.median(), spawn.rounds()), (35.0, 2));
        let uncontended = rows.iter().find(|r| r.name == "std_mutex_uncontended");
        assert_eq!(uncontended.unwrap().goal, None);
    }
}
