//! Clocks, randomness, scheduling and signals.

use crate::wasi::WasiCtx;
use crate::wasi::abi::{Clockid, Errno, SIGNAL_MAX, WasiResult, narrow};
use crate::wasi::clocks::Clocks;
use crate::wasi::memory::GuestMemory;

impl WasiCtx {
    pub(crate) fn clock_res_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        id: u32,
        out: u32,
    ) -> WasiResult<()> {
        let resolution = Clocks::resolution(Clockid::from_raw(id)?)?;
        mem.write_u64(out, resolution)
    }

    /// `precision` is a hint the spec lets us ignore.
    pub(crate) fn clock_time_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        id: u32,
        _precision: u64,
        out: u32,
    ) -> WasiResult<()> {
        let now = self.clocks.now(Clockid::from_raw(id)?)?;
        mem.write_u64(out, now)
    }

    /// Fills the guest buffer straight from the OS source (`getrandom`, which
    /// also serves Hermit/Bedrock).
    pub(crate) fn random_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        buf: u32,
        len: u32,
    ) -> WasiResult<()> {
        getrandom::fill(mem.slice_mut(buf, len)?).map_err(|_| Errno::Io)
    }

    pub(crate) fn sched_yield(&mut self) -> WasiResult<()> {
        std::thread::yield_now();
        Ok(())
    }

    /// Silos have no signals: a valid signal number gets `nosys` (the
    /// function is not provided), an invalid one `inval`. (wasmtime answers
    /// `notsup`.)
    pub(crate) fn proc_raise(&mut self, signal: i32) -> WasiResult<()> {
        let signal: u8 = narrow(signal)?;
        if signal > SIGNAL_MAX {
            return Err(Errno::Inval);
        }
        Err(Errno::Nosys)
    }
}
