//! Silos: user apps, each compiled by Cranelift and run in a wasmtime store
//! and thread of its own, within limits, under a [`Manager`].
//!
//! Life of a silo: [`Manager::deploy`] returns an id at once; the silo's
//! thread reads the code, compiles it (or finds it in the content-addressed
//! [code cache](CacheStats)), loads it into a wasmtime engine of its own
//! (whose epoch is the silo's kill switch), instantiates it with its own
//! [`ResourceLimiter`](wasmtime::ResourceLimiter), and runs its entry point: `_start` of a WASI preview1 command module, or `run`
//! of a `strat9:silo/app` component. However it ends, the store is dropped
//! (returning its memory) before the [`ExitStatus`] is published, and the
//! record stays for [`Manager::list`], [`Manager::wait`] and
//! [`Manager::logs`] until [`Manager::remove`].
//!
//! Isolation: a silo shares nothing mutable with another but the code cache
//! (immutable serialized code) and the manager's counters. A trap, a limit or a
//! kill unwinds only the silo's own wasm call.

mod artifact;
mod cache;
mod component;
mod limiter;
mod logs;
mod manager;
mod outcome;
mod record;
mod request;
mod runner;
mod status;
mod ticker;

pub use cache::CacheStats;
pub use logs::{DEFAULT_LOG_CAPACITY, Logs, StreamLog};
pub use manager::{Manager, ManagerError, ManagerOptions, ManagerStats};
pub use record::{SiloId, SiloInfo, SiloState};
pub use request::{DeployRequest, Limits, OutputMode, StdinSource, WasmSource};
pub use status::{Deadline, ExitStatus, LimitExceeded, Rejection, Resource, TrapInfo, TrapKind};
