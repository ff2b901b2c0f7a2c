//! The `silo:` service: the runtime silo's manager of wasm silos, served
//! as a scheme (the resource protocol of [`crate::scheme`]), so any silo
//! whose namespace has `silo` deploys and watches wasm apps with plain
//! file operations (`std::fs` in a Rust std program).
//!
//! Files, by path after `silo:`:
//! - `/` (directory): one entry per silo the service knows, its id.
//! - `/deploy`: a stream. Write a deploy spec (TOML: the keys of one
//!   `[[app]]` of a boot manifest, see `runtime-silo/src/boot.rs`, e.g.
//!   `name = "hello"`, `wasm = "/hello.wasm"`, `args`, `env`, `memory_mib`,
//!   `wall_ms`, `cpu_ms`, `stdin`), in one or more writes; the first read
//!   deploys it and answers `ok ID\n` or `err REASON\n` ([`parse_deploy`]).
//!   Offsets are ignored: reads continue where the last one stopped.
//! - `/list`: one line per silo, `ID NAME STATE MEMORY_BYTES CPU_MS[ STATUS]`.
//! - `/stats`: `live=N known=N memory=BYTES cache_hits=N compilations=N cpus=N`.
//! - `/ID/status`: `running\n` or the end status ([`RUNNING`], status line
//!   below), as of the open.
//! - `/ID/wait`: the status line once the silo has ended; a read blocks
//!   until then (the service answers it later, holding up nobody else).
//! - `/ID/stdout`, `/ID/stderr`: the output captured so far (as of the open).
//! - `/ID/ctl`: a stream; write `kill` (end it now) or `remove` (forget an
//!   ended silo).
//!
//! A status line is `TAG DESCRIPTION\n`, TAG one of `exited failed trapped
//! killed deadline limit rejected` (e.g. `exited code 0`,
//! `trapped wasm trap: integer divide by zero ...`). Errors are the usual
//! errno values: `ENOENT` for an unknown path or silo, `EINVAL` for a bad
//! write, `EACCES` for a write to a read-only file.

/// The scheme's name.
pub const SCHEME: &str = "silo";
/// Deploy stream.
pub const DEPLOY: &str = "/deploy";
/// Listing of every silo.
pub const LIST: &str = "/list";
/// Manager counters.
pub const STATS: &str = "/stats";
/// Per-silo files: `/ID/` followed by one of these.
pub const STATUS: &str = "status";
pub const WAIT: &str = "wait";
pub const STDOUT: &str = "stdout";
pub const STDERR: &str = "stderr";
pub const CTL: &str = "ctl";
/// `ctl` commands.
pub const KILL: &str = "kill";
pub const REMOVE: &str = "remove";
/// `status` of a silo still running.
pub const RUNNING: &str = "running";

/// The id in a `/deploy` answer, or the reason it gives for refusing.
pub fn parse_deploy(answer: &str) -> Result<u64, &str> {
    let answer = answer.trim_end_matches('\n');
    if let Some(id) = answer.strip_prefix("ok ") {
        id.trim().parse().map_err(|_| answer)
    } else {
        Err(answer.strip_prefix("err ").unwrap_or(answer))
    }
}

/// The tag of a status line (`exited`, `trapped`, ...).
pub fn status_tag(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_answers() {
        assert_eq!(parse_deploy("ok 7\n"), Ok(7));
        assert_eq!(parse_deploy("err no such file\n"), Err("no such file"));
        assert_eq!(parse_deploy("ok x"), Err("ok x"));
        assert_eq!(status_tag("exited code 0\n"), "exited");
        assert_eq!(status_tag(""), "");
    }
}
