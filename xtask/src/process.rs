//! Finding and running host programs without ever hanging on them.
//!
//! QEMU and `apt-get` can both wait forever (a kernel that never exits, a
//! mirror that never answers), so every child that is not interactive runs
//! under a deadline and inside a [`KillOnDrop`] guard: an early return, a
//! `?` or a panic in xtask cannot leave a QEMU running behind it.

use std::env;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Context, Result};

/// Directories searched after `$PATH`: Debian installs `mke2fs` in
/// `/usr/sbin`, which a non-root user's `$PATH` often lacks.
const EXTRA_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// How often [`wait_until`] looks at the child. Short against QEMU's boot
/// time, long enough to cost nothing.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Looks `name` up like a shell would, then in the sbin directories.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// True if `path` is a regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `program args...` to completion and returns its stdout, trimmed.
/// For quick queries (`rustc --print sysroot`); fails on a non-zero exit,
/// with the program's stderr (minus backtraces, which `RUST_BACKTRACE=1` in
/// a developer's shell would add to rustup's errors) as the reason.
pub fn output_of(mut command: Command) -> Result<String> {
    let shown = describe(&command);
    let out = command
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(std::process::Stdio::null())
        .output()
        .context(|| format!("running {shown}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        crate::error::bail!("{shown} failed ({}): {}", out.status, stderr.trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs `command` to completion, killing it if it is still running at
/// `deadline`; a non-zero exit or the deadline is an error naming the
/// command line.
pub fn run_until(command: &mut Command, deadline: Instant) -> Result<()> {
    let shown = describe(command);
    let mut child = KillOnDrop::spawn(command).context(|| format!("running {shown}"))?;
    match child
        .wait_until(deadline)
        .context(|| format!("waiting for {shown}"))?
    {
        Some(status) if status.success() => Ok(()),
        Some(status) => crate::error::bail!("{shown} failed ({status})"),
        None => crate::error::bail!("{shown} was still running at its deadline; killed it"),
    }
}

/// A command line as a person would type it into a shell, for messages
/// (so that it can be copied to reproduce a failure).
pub fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| shell_quote(&arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `word` for a POSIX shell unless it needs no quoting.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-+=/.,:@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Owns a child process and kills it when dropped, unless it was reaped.
#[derive(Debug)]
pub struct KillOnDrop(Child);

impl KillOnDrop {
    pub fn spawn(command: &mut Command) -> io::Result<Self> {
        command.spawn().map(Self)
    }

    /// The child's stdout, if it was piped and not yet taken.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.0.stdout.take()
    }

    /// Waits for the child until `deadline`; `None` means it was still
    /// running then (it is left running: drop the guard to kill it).
    pub fn wait_until(&mut self, deadline: Instant) -> io::Result<Option<ExitStatus>> {
        loop {
            if let Some(status) = self.0.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            thread::sleep(POLL_INTERVAL.min(deadline - now));
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // After a successful wait these are no-ops: std remembers that the
        // child was reaped, so a recycled pid is never signalled.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_commands_can_be_pasted_into_a_shell() {
        let mut command = Command::new("qemu");
        command.args(["-append", "", "-append", "a b", "it's", "-m", "256M"]);
        assert_eq!(
            describe(&command),
            r"qemu -append '' -append 'a b' 'it'\''s' -m 256M"
        );
    }

    #[test]
    fn which_finds_sh_and_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-bedrock-xtask").is_none());
    }

    #[test]
    fn wait_until_times_out_and_drop_kills() {
        let mut guard = KillOnDrop::spawn(Command::new("sleep").arg("30")).unwrap();
        let start = Instant::now();
        let status = guard
            .wait_until(start + Duration::from_millis(100))
            .unwrap();
        assert!(status.is_none());
        drop(guard);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn run_until_reports_failure_and_deadline() {
        let soon = || Instant::now() + Duration::from_secs(10);
        run_until(Command::new("true").arg("x"), soon()).unwrap();
        let error = run_until(Command::new("false").arg("x"), soon()).unwrap_err();
        assert!(error.to_string().starts_with("false x failed"), "{error}");
        let late = Instant::now() + Duration::from_millis(50);
        let error = run_until(Command::new("sleep").arg("30"), late).unwrap_err();
        assert!(error.to_string().contains("deadline"), "{error}");
    }

    #[test]
    fn wait_until_reports_exit_status() {
        let mut guard = KillOnDrop::spawn(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        let status = guard
            .wait_until(Instant::now() + Duration::from_secs(10))
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(3));
    }
}
