//! Deploy-to-first-output through the silo manager.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use runtime_silo::silo::{DeployRequest, Manager, SiloId};

use super::Report;
use super::stats::{median, ms};

/// Waits for the silo's first byte of stdout beyond this long: `hello`
/// prints within milliseconds, so anything longer is a broken run.
const FIRST_OUTPUT_TIMEOUT: Duration = Duration::from_secs(60);

/// Cold (a fresh manager: empty code cache, so validation and Cranelift
/// are included) and cached (the same bytes deployed before) figures.
pub fn first_output(report: &mut Report, hello: &[u8], runs: usize) -> Result<()> {
    let mut cold = Vec::with_capacity(runs);
    for _ in 0..runs {
        // Manager (engine, timer thread) creation is not part of a deploy.
        let manager = Manager::new()?;
        cold.push(deploy_once(&manager, hello)?);
    }
    let manager = Manager::new()?;
    deploy_once(&manager, hello)?;
    // More samples: each one is short.
    let cached = (0..runs * 10)
        .map(|_| deploy_once(&manager, hello))
        .collect::<Result<Vec<_>>>()?;
    let stats = manager.stats().cache;
    if stats.compilations != 1 {
        bail!("cached deploys compiled {} times", stats.compilations);
    }
    report.number("deploy_first_output.cold_ms", ms(median(&cold)), 2);
    report.number("deploy_first_output.cached_ms", ms(median(&cached)), 3);
    Ok(())
}

/// Deploys `hello` and returns the time until its first output byte, then
/// lets it finish.
fn deploy_once(manager: &Manager, hello: &[u8]) -> Result<Duration> {
    let request = DeployRequest::new("hello", hello);
    let start = Instant::now();
    let id = manager.deploy(request)?;
    let elapsed = wait_first_output(manager, id, start)?;
    let status = manager.wait(id)?;
    if !status.success() {
        bail!("hello ended with {status}");
    }
    manager.remove(id)?;
    Ok(elapsed)
}

/// Polls the captured stdout (yielding the CPU in between: the silo's
/// thread needs it more than this one).
fn wait_first_output(manager: &Manager, id: SiloId, start: Instant) -> Result<Duration> {
    loop {
        let logs = manager.logs(id)?;
        if !logs.stdout.bytes.is_empty() {
            return Ok(start.elapsed());
        }
        if let Some(status) = manager.wait_timeout(id, Duration::ZERO)? {
            return Err(anyhow!("hello ended before any output: {status}"));
        }
        if start.elapsed() > FIRST_OUTPUT_TIMEOUT {
            bail!("no output from hello after {FIRST_OUTPUT_TIMEOUT:?}");
        }
        std::thread::yield_now();
    }
}
