//! The runtime silo: wasmtime with Cranelift, running user wasm apps as
//! silos with their own limits, and (later) hosting strates.
//!
//! Modules:
//! - [`platform`]: the only code that knows the host OS (Linux now; the
//!   wasmtime_* hooks for Bedrock later);
//! - [`engine`]: the wasmtime configuration every mode shares;
//! - [`wasi`]: WASI preview1, implemented here over a filesystem-provider trait;
//! - [`silo`]: the silo manager (deploy, list, kill, wait, logs, limits, code cache);
//! - [`options`]: command-line values shared by `run` and `serve`;
//! - [`boot`]: the boot manifest (TOML) and `runtime-silo boot`;
//! - [`serve`]: the line protocol of `runtime-silo serve` over the manager.

pub mod boot;
pub mod engine;
pub mod options;
pub mod platform;
pub mod serve;
pub mod service;
pub mod silo;
pub mod wasi;
