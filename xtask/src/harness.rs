//! `cargo xtask test`: host unit tests, then the kernel's scenarios in QEMU.
//!
//! Output is made for both people and CI: one result line per check
//! (`host unit tests ... ok`, `qemu <name> ... FAILED`), details indented
//! under failures, and the plain `N passed, M failed` as the very last line.
//! Everything else (cargo's diagnostics, progress) goes to stderr.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bedrock_testproto::{CMDLINE_KEY, ExitCode, LIST, Line};

use crate::build::{Profile, build_all};
use crate::error::{Context, Result, bail};
use crate::packages::Host;
use crate::process::describe;
use crate::qemu::{self, Accel, Machine, Outcome, Serial, describe_status};
use crate::scenarios::{self, Expect, SCENARIOS, Scenario};
use crate::wasm::{self, EXAMPLES_DIR_VAR};
use crate::workspace::Workspace;

/// Lines of serial log shown under a failed scenario: enough for a panic
/// or exception report, short enough to read.
const LOG_TAIL_LINES: usize = 40;

#[derive(Debug)]
pub struct Options {
    pub accel: Accel,
    /// Run only scenarios whose name contains this.
    pub filter: Option<String>,
    pub host_tests: bool,
    pub profile: Profile,
    /// Overrides every scenario's own timeout.
    pub timeout: Option<Duration>,
}

/// Counts of passed and failed checks, for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
}

impl Tally {
    fn record(&mut self, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }

    /// The closing line CI reads.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// Runs everything `options` asks for and tallies it. An `Err` means the
/// harness itself could not work (e.g. cannot write its logs), not that a
/// test failed.
pub fn run(host: &Host, ws: &Workspace, options: &Options) -> Result<Tally> {
    let scenarios = select(options.filter.as_deref())?;
    let mut tally = Tally::default();
    if options.host_tests {
        let examples_dir = wasm_examples(host, ws, options.profile, &mut tally);
        let host_tally = host_unit_tests(ws, &examples_dir)?;
        tally.passed += host_tally.passed;
        tally.failed += host_tally.failed;
    }

    eprintln!(
        "xtask: building the kernel and ring-3 programs with {}",
        host.toolchain.source
    );
    let images = match build_all(&host.toolchain, ws, options.profile) {
        Ok(images) => images,
        Err(error) => {
            report("kernel build", &[error.to_string()]);
            tally.record(false);
            return Ok(tally);
        }
    };
    eprintln!(
        "xtask: kernel {}, boot archive {}",
        images.kernel.display(),
        images.boot_archive.display()
    );

    let runner = Runner {
        qemu: &host.qemu,
        kernel: &images.kernel,
        boot_archive: &images.boot_archive,
        log_dir: ws.qemu_log_dir(),
        options,
    };
    tally.record(runner.check_scenario_table());
    for scenario in scenarios {
        tally.record(runner.run_scenario(scenario));
    }
    Ok(tally)
}

/// The scenarios to run; a filter matching none is a mistake, not a pass.
fn select(filter: Option<&str>) -> Result<Vec<&'static Scenario>> {
    let chosen: Vec<_> = SCENARIOS
        .iter()
        .filter(|s| filter.is_none_or(|f| s.name.contains(f)))
        .collect();
    if chosen.is_empty() {
        let names: Vec<_> = SCENARIOS.iter().map(|s| s.name).collect();
        bail!(
            "no scenario name contains {:?}; scenarios: {}",
            filter.unwrap_or_default(),
            names.join(", ")
        );
    }
    Ok(chosen)
}

/// Builds the wasm examples that the runtime-silo tests run, and returns
/// the value of [`EXAMPLES_DIR_VAR`] for those tests: the examples'
/// directory, or empty if the build failed (a failure of its own here, and
/// the tests that need the examples then fail saying why, instead of
/// skipping as they do when the variable is absent).
fn wasm_examples(host: &Host, ws: &Workspace, profile: Profile, tally: &mut Tally) -> OsString {
    eprintln!(
        "xtask: building the wasm examples with {}",
        host.toolchain.source
    );
    match wasm::build_examples(&host.toolchain, ws, profile) {
        Ok(examples) => {
            eprintln!("xtask: wasm examples in {}", examples.dir.display());
            examples.dir.into_os_string()
        }
        Err(error) => {
            report("wasm examples build", &[error.to_string()]);
            tally.record(false);
            OsString::new()
        }
    }
}

/// `cargo test --workspace` with the host toolchain (the `cargo` that
/// started xtask), output captured in a log and shown on failure; the
/// runtime-silo tests find the wasm examples in `examples_dir`.
fn host_unit_tests(ws: &Workspace, examples_dir: &OsStr) -> Result<Tally> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let log_path = ws.target_dir.join("host-tests.log");
    fs::create_dir_all(&ws.target_dir)
        .context(|| format!("creating {}", ws.target_dir.display()))?;
    let log = File::create(&log_path).context(|| format!("creating {}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .context(|| format!("duplicating {}", log_path.display()))?;
    let mut command = Command::new(cargo);
    command
        // Run every suite even after one fails, so the counts are complete.
        .args(["test", "--workspace", "--no-fail-fast"])
        .env(EXAMPLES_DIR_VAR, examples_dir)
        .current_dir(&ws.root)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    let shown = describe(&command);
    eprintln!("xtask: {shown} (output in {})", log_path.display());
    start("host unit tests");
    let status = command.status().context(|| format!("running {shown}"))?;
    let output =
        fs::read_to_string(&log_path).context(|| format!("reading {}", log_path.display()))?;

    let mut tally = parse_test_totals(&output);
    // A build error or a crashed test binary fails without a count.
    if !status.success() && tally.failed == 0 {
        tally.failed = 1;
    }
    if tally.failed == 0 {
        println!("ok ({} passed)", tally.passed);
    } else {
        println!("FAILED ({} passed, {} failed)", tally.passed, tally.failed);
        println!("    {shown} failed ({status}); its output:");
        print_indented(&output, "    | ");
    }
    Ok(tally)
}

/// Sums the `test result: ok. N passed; M failed; ...` lines of cargo test.
fn parse_test_totals(output: &str) -> Tally {
    let mut tally = Tally::default();
    for line in output.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        for part in rest.split([';', '.']) {
            match part.split_whitespace().collect::<Vec<_>>()[..] {
                [n, "passed"] => tally.passed += n.parse().unwrap_or(0),
                [n, "failed"] => tally.failed += n.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    tally
}

/// What every QEMU boot of one test run shares.
struct Runner<'a> {
    qemu: &'a Path,
    kernel: &'a Path,
    /// The `-initrd` of every scenario that brings no module of its own.
    boot_archive: &'a Path,
    log_dir: PathBuf,
    options: &'a Options,
}

impl Runner<'_> {
    fn machine(
        &self,
        smp: u32,
        memory_mib: u32,
        cmdline: Vec<String>,
        initrd: Option<PathBuf>,
    ) -> Machine {
        Machine {
            kernel: self.kernel.to_owned(),
            smp,
            memory_mib,
            accel: self.options.accel,
            display: false,
            serial: Serial::Stdout,
            cmdline,
            initrd,
        }
    }

    /// Boots `machine` with its serial output in `<log dir>/<log_name>.log`.
    fn boot(&self, machine: &Machine, log_name: &str, timeout: Duration) -> Result<Boot> {
        let path = self.log_dir.join(format!("{log_name}.log"));
        let timeout = self.options.timeout.unwrap_or(timeout);
        let outcome = qemu::run_logged(self.qemu, machine, &path, timeout)?;
        let bytes = fs::read(&path).context(|| format!("reading {}", path.display()))?;
        // Serial output of a crashing kernel need not be UTF-8.
        let log = String::from_utf8_lossy(&bytes).into_owned();
        Ok(Boot { outcome, path, log })
    }

    /// Boots `test=list` and checks that the kernel's scenarios are exactly
    /// the harness's.
    fn check_scenario_table(&self) -> bool {
        start("qemu scenario-table");
        let cmdline = vec![format!("{CMDLINE_KEY}={LIST}")];
        let machine = self.machine(
            scenarios::DEFAULT_SMP,
            scenarios::DEFAULT_MEMORY_MIB,
            cmdline,
            None,
        );
        // `list` is reserved by the protocol, so no scenario's log has this name.
        conclude(
            self.boot(&machine, LIST, scenarios::DEFAULT_TIMEOUT)
                .map(|boot| {
                    let mut reasons = status_problems(boot.outcome, ExitCode::Success);
                    if reasons.is_empty() {
                        let harness: Vec<_> = SCENARIOS.iter().map(|s| s.name).collect();
                        reasons = compare_lists(&listed_names(&boot.log), &harness);
                    }
                    (reasons, boot)
                }),
        )
    }

    fn run_scenario(&self, scenario: &Scenario) -> bool {
        start(&format!("qemu {}", scenario.name));
        conclude(self.try_scenario(scenario))
    }

    fn try_scenario(&self, scenario: &Scenario) -> Result<(Vec<String>, Boot)> {
        let prepared = match scenario.prepare {
            Some(prepare) => prepare(&self.log_dir)?,
            None => scenarios::Prepared::default(),
        };
        let cmdline = std::iter::once(format!("{CMDLINE_KEY}={}", scenario.name))
            .chain(scenario.cmdline.iter().map(|w| (*w).to_owned()))
            .collect();
        let initrd = prepared
            .initrd
            .unwrap_or_else(|| self.boot_archive.to_owned());
        let machine = self.machine(scenario.smp, scenario.memory_mib, cmdline, Some(initrd));
        let boot = self.boot(&machine, scenario.name, scenario.timeout)?;
        let reasons = judge(
            scenario.name,
            scenario.expect,
            &prepared.must_contain,
            boot.outcome,
            &boot.log,
        );
        Ok((reasons, boot))
    }
}

/// One finished QEMU run.
struct Boot {
    outcome: Outcome,
    /// The serial log file.
    path: PathBuf,
    /// Its contents.
    log: String,
}

/// Ends a result line started by [`start`]: `ok`, or `FAILED` with the
/// reasons and the end of the serial log. A harness error (a log that
/// cannot be written, QEMU that cannot be started) fails the check too,
/// so that one broken boot does not hide the results of the others.
fn conclude(result: Result<(Vec<String>, Boot)>) -> bool {
    let (reasons, boot) = match result {
        Ok((reasons, _)) if reasons.is_empty() => {
            println!("ok");
            return true;
        }
        Ok((reasons, boot)) => (reasons, Some(boot)),
        Err(error) => (vec![error.to_string()], None),
    };
    println!("FAILED");
    print_reasons(&reasons);
    if let Some(boot) = boot {
        println!(
            "    serial log (last {LOG_TAIL_LINES} lines of {}):",
            boot.path.display()
        );
        print_indented(tail(&boot.log, LOG_TAIL_LINES), "    | ");
    }
    false
}

/// Everything wrong with a scenario's run; empty means it passed.
fn judge(name: &str, expect: Expect, extra: &[String], outcome: Outcome, log: &str) -> Vec<String> {
    let (want_exit, must_contain) = match expect {
        Expect::Pass { must_contain } => (ExitCode::Success, must_contain),
        Expect::Fail { must_contain } => (ExitCode::Failure, must_contain),
    };
    let mut reasons = status_problems(outcome, want_exit);
    if let Expect::Pass { .. } = expect {
        let lines: Vec<_> = log.lines().filter_map(Line::parse).collect();
        for line in &lines {
            if let Line::Failed(..) = line {
                reasons.push(format!("the kernel reported `{line}`"));
            }
        }
        if !lines.contains(&Line::Ok(name)) {
            reasons.push(format!("no `{}` line", Line::Ok(name)));
        }
    }
    let wanted = must_contain
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str));
    for text in wanted {
        if !log.contains(text) {
            reasons.push(format!("the log lacks {text:?}"));
        }
    }
    reasons
}

/// Why `outcome` is not QEMU's exit with `want`; empty if it is.
fn status_problems(outcome: Outcome, want: ExitCode) -> Vec<String> {
    let problem = match outcome {
        Outcome::Exited(status) if status == want.qemu_status() => return Vec::new(),
        Outcome::Exited(status) => format!(
            "QEMU exited with status {}, expected {}",
            describe_status(status),
            describe_status(want.qemu_status())
        ),
        Outcome::Signalled(signal) => format!("QEMU was killed by signal {signal}"),
        Outcome::TimedOut(after) => {
            format!("timed out after {} s; QEMU killed", after.as_secs())
        }
    };
    vec![problem]
}

/// Names from the kernel's `scenario <name>: listed` lines.
fn listed_names(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|line| match Line::parse(line) {
            Some(Line::Listed(name)) => Some(name),
            _ => None,
        })
        .collect()
}

/// Differences between the kernel's and the harness's scenario names.
fn compare_lists(kernel: &[&str], harness: &[&str]) -> Vec<String> {
    let mut reasons = Vec::new();
    if kernel.is_empty() {
        reasons.push("the kernel listed no scenarios".to_owned());
        return reasons;
    }
    let only_kernel: Vec<_> = kernel
        .iter()
        .filter(|n| !harness.contains(n))
        .copied()
        .collect();
    let only_harness: Vec<_> = harness
        .iter()
        .filter(|n| !kernel.contains(n))
        .copied()
        .collect();
    if !only_kernel.is_empty() {
        reasons.push(format!(
            "kernel scenarios missing from xtask/src/scenarios.rs: {}",
            only_kernel.join(", ")
        ));
    }
    if !only_harness.is_empty() {
        reasons.push(format!(
            "harness scenarios the kernel does not list: {}",
            only_harness.join(", ")
        ));
    }
    let mut sorted = kernel.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != kernel.len() {
        reasons.push("the kernel lists a scenario more than once".to_owned());
    }
    reasons
}

/// Prints the start of a result line; the long-running step follows.
fn start(name: &str) {
    print!("{name} ... ");
    // Best effort: a closed stdout shows up at the next println.
    let _ = io::stdout().flush();
}

/// Prints a whole result line at once, for checks without a QEMU log.
fn report(name: &str, reasons: &[String]) {
    start(name);
    if reasons.is_empty() {
        println!("ok");
    } else {
        println!("FAILED");
        print_reasons(reasons);
    }
}

fn print_reasons(reasons: &[String]) {
    for reason in reasons {
        println!("    {reason}");
    }
}

fn print_indented(text: &str, prefix: &str) {
    for line in text.lines() {
        println!("{prefix}{}", line.trim_end_matches('\r'));
    }
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> &str {
    let text = text.trim_end_matches(['\n', '\r']);
    if n == 0 {
        return "";
    }
    match text.rmatch_indices('\n').nth(n - 1) {
        Some((at, _)) => &text[at + 1..],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCESS: Outcome = Outcome::Exited(33);
    const FAILURE: Outcome = Outcome::Exited(35);

    fn pass(must_contain: &'static [&'static str]) -> Expect {
        Expect::Pass { must_contain }
    }

    #[test]
    fn a_passing_scenario_passes() {
        let log = "Bedrock 0.1.0\nscenario x: start\nscenario x: ok\r\n";
        assert!(judge("x", pass(&["Bedrock 0.1.0"]), &[], SUCCESS, log).is_empty());
    }

    #[test]
    fn success_exit_without_ok_line_fails() {
        let reasons = judge("x", pass(&[]), &[], SUCCESS, "scenario x: start\n");
        assert_eq!(reasons, ["no `scenario x: ok` line"]);
        // Another scenario's ok line does not count.
        let reasons = judge("x", pass(&[]), &[], SUCCESS, "scenario y: ok\n");
        assert_eq!(reasons.len(), 1);
    }

    #[test]
    fn failed_line_fails_even_with_ok_and_success() {
        let log = "scenario x: FAILED: leaked 3 frames\nscenario x: ok\n";
        let reasons = judge("x", pass(&[]), &[], SUCCESS, log);
        assert_eq!(
            reasons,
            ["the kernel reported `scenario x: FAILED: leaked 3 frames`"]
        );
    }

    #[test]
    fn wrong_status_and_missing_text_are_all_reported() {
        let extra = ["module 0: 5 bytes".to_owned()];
        let reasons = judge("x", pass(&["banner"]), &extra, FAILURE, "scenario x: ok\n");
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("status 35 (kernel exit Failure), expected 33"));
        assert!(reasons[1].contains("\"banner\""));
        assert!(reasons[2].contains("module 0: 5 bytes"));
    }

    #[test]
    fn expected_failures() {
        let expect = Expect::Fail {
            must_contain: &["PANIC", "deliberate"],
        };
        let log = "scenario p: start\nPANIC at x.rs:1: deliberate panic\n";
        assert!(judge("p", expect, &[], FAILURE, log).is_empty());
        // Exiting "successfully" from a deliberate fault is a failure.
        assert_eq!(judge("p", expect, &[], SUCCESS, log).len(), 1);
        assert_eq!(judge("p", expect, &[], FAILURE, "PANIC\n").len(), 1);
    }

    #[test]
    fn timeouts_and_signals_fail() {
        let timed_out = Outcome::TimedOut(Duration::from_secs(60));
        let reasons = judge("x", pass(&[]), &[], timed_out, "scenario x: ok\n");
        assert_eq!(reasons, ["timed out after 60 s; QEMU killed"]);
        let reasons = judge(
            "x",
            pass(&[]),
            &[],
            Outcome::Signalled(9),
            "scenario x: ok\n",
        );
        assert_eq!(reasons, ["QEMU was killed by signal 9"]);
    }

    #[test]
    fn list_comparison() {
        let log = "Bedrock\nscenario a: listed\n[0.1] scenario b: listed\nscenario c: ok\n";
        assert_eq!(listed_names(log), ["a", "b"]);
        assert!(compare_lists(&["a", "b"], &["b", "a"]).is_empty());
        let reasons = compare_lists(&["a", "k"], &["a", "h"]);
        assert_eq!(
            reasons,
            [
                "kernel scenarios missing from xtask/src/scenarios.rs: k",
                "harness scenarios the kernel does not list: h"
            ]
        );
        assert_eq!(
            compare_lists(&[], &["a"]),
            ["the kernel listed no scenarios"]
        );
        assert_eq!(compare_lists(&["a", "a"], &["a"]).len(), 1);
    }

    #[test]
    fn cargo_test_totals_are_summed() {
        let output = "\
running 3 tests
test a ... ok
test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

test result: FAILED. 5 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.20s
   Doc-tests bedrock_testproto
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";
        assert_eq!(
            parse_test_totals(output),
            Tally {
                passed: 8,
                failed: 2
            }
        );
        assert_eq!(
            parse_test_totals("error[E0308]: mismatched types"),
            Tally::default()
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a\nb\nc", 5), "a\nb\nc");
        assert_eq!(tail("a\nb\nc", 0), "");
        assert_eq!(tail("", 3), "");
    }

    #[test]
    fn filter_selects_by_substring_and_rejects_no_match() {
        let chosen = select(Some("stress")).unwrap();
        assert!(chosen.iter().all(|s| s.name.contains("stress")) && !chosen.is_empty());
        assert_eq!(select(None).unwrap().len(), SCENARIOS.len());
        assert!(select(Some("no-such-scenario")).is_err());
    }

    #[test]
    fn summary_line_format() {
        let tally = Tally {
            passed: 12,
            failed: 1,
        };
        assert_eq!(tally.summary(), "12 passed, 1 failed");
    }
}
