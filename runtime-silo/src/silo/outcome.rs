//! How an error that ended a silo's wasm call becomes its [`ExitStatus`].
//!
//! wasmtime reports every way a call can end early as an error: a trap code
//! (an interrupt when the manager stopped the silo) or a host function's
//! error (WASI's `proc_exit` is one). The order of the checks is the policy:
//! an app that exits after a refused growth exited; a kill is a kill even if
//! memory was refused before; a trap after a refused growth is blamed on the
//! limit, its root cause.

use std::time::Instant;

use wasmtime::{Trap, WasmBacktrace};

use super::record::SiloRecord;
use super::status::{ExitStatus, LimitExceeded, Rejection, TrapInfo, TrapKind};
use crate::wasi::{self, I32Exit};

/// The status for an error ending the entry point (`_start` or `run`).
/// Errors of no known cause come from host functions.
pub(crate) fn execution_failed(
    record: &SiloRecord,
    error: wasmtime::Error,
    refused: Option<LimitExceeded>,
) -> ExitStatus {
    known_cause(record, &error, refused).unwrap_or_else(|| {
        ExitStatus::Trapped(TrapInfo {
            kind: TrapKind::Host(error.root_cause().to_string()),
            backtrace: backtrace(&error),
        })
    })
}

/// The status for an error ending instantiation (which may run wasm: a
/// start function, a component's initialisers). Errors of no known cause
/// are wasmtime refusing the instance.
pub(crate) fn instantiation_failed(
    record: &SiloRecord,
    error: wasmtime::Error,
    refused: Option<LimitExceeded>,
) -> ExitStatus {
    known_cause(record, &error, refused)
        .unwrap_or_else(|| ExitStatus::Rejected(Rejection::Instantiation(format!("{error:#}"))))
}

fn known_cause(
    record: &SiloRecord,
    error: &wasmtime::Error,
    refused: Option<LimitExceeded>,
) -> Option<ExitStatus> {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Some(ExitStatus::Exited(exit.0));
    }
    // Wasm code stopped by its epoch, or a WASI sleep woken, by the kill
    // switch or a time limit: the record says which.
    let interrupted =
        error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) || error.is::<wasi::Interrupted>();
    if interrupted && let Some(interruption) = record.interruption(Instant::now()) {
        return Some(interruption.status());
    }
    if let Some(limit) = refused {
        return Some(ExitStatus::LimitExceeded(limit));
    }
    let trap = error.downcast_ref::<Trap>()?;
    Some(ExitStatus::Trapped(TrapInfo {
        kind: TrapKind::from_wasmtime(*trap),
        backtrace: backtrace(error),
    }))
}

/// The wasm backtrace wasmtime attached, if it captured one (at most the
/// engine's `wasm_backtrace_max_frames`, 20 by default).
fn backtrace(error: &wasmtime::Error) -> Option<String> {
    error
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| bt.to_string())
        .filter(|text| !text.trim().is_empty())
}
