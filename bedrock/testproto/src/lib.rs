//! The contract between Bedrock's in-kernel test mode and the host harness.
//!
//! The kernel and `xtask` both depend on this crate so that the command-line
//! keys, serial line formats and exit codes exist exactly once.
//!
//! Protocol:
//! - the harness boots the kernel with `test=<scenario>` on the command line
//!   (or `test=list` to ask for the scenario names);
//! - the kernel prints [`start_line`], runs the scenario, then prints
//!   [`ok_line`] or [`failed_line`] and leaves QEMU through `isa-debug-exit`
//!   with [`ExitCode::Success`] or [`ExitCode::Failure`];
//! - a panic or an unexpected CPU exception also ends in [`ExitCode::Failure`].
//!
//! The harness judges a scenario from both the exit status and the lines, so
//! a kernel that exits "successfully" without reporting still fails.
#![no_std]

use core::fmt;

/// Kernel command-line key that selects test mode.
pub const CMDLINE_KEY: &str = "test";
/// Value of [`CMDLINE_KEY`] that makes the kernel list its scenarios.
pub const LIST: &str = "list";

/// I/O port of QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;
/// The QEMU arguments that create the exit device at [`DEBUG_EXIT_PORT`].
pub const DEBUG_EXIT_DEVICE: &str = "isa-debug-exit,iobase=0xf4,iosize=0x04";

/// Value the kernel writes to [`DEBUG_EXIT_PORT`]. QEMU then exits with
/// status `(value << 1) | 1`, so no kernel exit can look like QEMU's own 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    Success = 0x10,
    Failure = 0x11,
}

impl ExitCode {
    /// The process exit status QEMU reports for this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as i32) << 1) | 1
    }

    /// Maps a QEMU process exit status back to a kernel exit code.
    pub fn from_qemu_status(status: i32) -> Option<Self> {
        [Self::Success, Self::Failure]
            .into_iter()
            .find(|c| c.qemu_status() == status)
    }
}

const PREFIX: &str = "scenario ";

/// A line of the test protocol, as the kernel prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `scenario <name>: listed` (answer to `test=list`).
    Listed(&'a str),
    /// `scenario <name>: start`.
    Start(&'a str),
    /// `scenario <name>: ok`.
    Ok(&'a str),
    /// `scenario <name>: FAILED: <reason>`.
    Failed(&'a str, &'a str),
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Listed(n) => write!(f, "{PREFIX}{n}: listed"),
            Line::Start(n) => write!(f, "{PREFIX}{n}: start"),
            Line::Ok(n) => write!(f, "{PREFIX}{n}: ok"),
            Line::Failed(n, why) => write!(f, "{PREFIX}{n}: FAILED: {why}"),
        }
    }
}

impl<'a> Line<'a> {
    /// Parses one serial line. Log prefixes (timestamp, CPU, level) before
    /// `scenario ` are allowed; trailing `\r` is ignored.
    pub fn parse(line: &'a str) -> Option<Self> {
        let line = line.trim_end_matches(['\r', '\n']);
        let rest = &line[line.find(PREFIX)? + PREFIX.len()..];
        let (name, tail) = rest.split_once(": ")?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        match tail {
            "listed" => Some(Line::Listed(name)),
            "start" => Some(Line::Start(name)),
            "ok" => Some(Line::Ok(name)),
            _ => tail
                .strip_prefix("FAILED: ")
                .map(|why| Line::Failed(name, why)),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn exit_status_round_trips() {
        assert_eq!(ExitCode::Success.qemu_status(), 33);
        assert_eq!(ExitCode::Failure.qemu_status(), 35);
        assert_eq!(ExitCode::from_qemu_status(33), Some(ExitCode::Success));
        assert_eq!(ExitCode::from_qemu_status(35), Some(ExitCode::Failure));
        assert_eq!(ExitCode::from_qemu_status(0), None);
        assert_eq!(ExitCode::from_qemu_status(1), None);
    }

    #[test]
    fn lines_round_trip_through_display_and_parse() {
        for line in [
            Line::Listed("boot_banner"),
            Line::Start("heap_stress"),
            Line::Ok("heap_stress"),
            Line::Failed("frame_stress", "leaked 3 frames"),
        ] {
            assert_eq!(Line::parse(&line.to_string()), Some(line));
        }
    }

    #[test]
    fn parse_accepts_log_prefix_and_rejects_noise() {
        assert_eq!(
            Line::parse("[    0.012345] cpu0 INFO  scenario x: ok\r"),
            Some(Line::Ok("x"))
        );
        assert_eq!(Line::parse("scenario x: okay"), None);
        assert_eq!(Line::parse("scenario : ok"), None);
        assert_eq!(Line::parse("scenario a b: ok"), None);
        assert_eq!(Line::parse("nothing here"), None);
    }
}
