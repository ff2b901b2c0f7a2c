//! `args_*` and `environ_*`: NUL-terminated string lists.

use crate::wasi::WasiCtx;
use crate::wasi::abi::{Errno, WasiResult};
use crate::wasi::memory::GuestMemory;

/// `(count, total bytes including terminators)` of a string list, both as
/// the `u32` sizes the guest receives; `None` if they do not fit.
pub(crate) fn string_list_sizes(list: &[String]) -> Option<(u32, u32)> {
    let count = u32::try_from(list.len()).ok()?;
    let bytes = list.iter().try_fold(0u32, |total, s| {
        let len = u32::try_from(s.len()).ok()?.checked_add(1)?;
        total.checked_add(len)
    })?;
    Some((count, bytes))
}

/// Writes the pointer array at `ptrs` and the strings at `buf`.
fn write_string_list(
    mem: &mut GuestMemory<'_>,
    list: &[String],
    ptrs: u32,
    buf: u32,
) -> WasiResult<()> {
    let (count, bytes) = string_list_sizes(list).ok_or(Errno::Overflow)?;
    mem.check_array(ptrs, count, 4)?;
    mem.check(buf, bytes)?;
    // Both ranges are in bounds, so every address below fits in u32; `next`
    // is kept in u64 because it may end exactly at 4 GiB.
    let mut next = u64::from(buf);
    for (slot, s) in (0u32..).zip(list) {
        let at = next as u32;
        mem.write_u32(ptrs + slot * 4, at)?;
        mem.write_bytes(at, s.as_bytes())?;
        mem.write_u8(at + s.len() as u32, 0)?;
        next += s.len() as u64 + 1;
    }
    Ok(())
}

fn write_sizes(
    mem: &mut GuestMemory<'_>,
    list: &[String],
    count_out: u32,
    bytes_out: u32,
) -> WasiResult<()> {
    let (count, bytes) = string_list_sizes(list).ok_or(Errno::Overflow)?;
    mem.check(count_out, 4)?;
    mem.check(bytes_out, 4)?;
    mem.write_u32(count_out, count)?;
    mem.write_u32(bytes_out, bytes)
}

impl WasiCtx {
    pub(crate) fn args_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        argv: u32,
        argv_buf: u32,
    ) -> WasiResult<()> {
        write_string_list(mem, &self.args, argv, argv_buf)
    }

    pub(crate) fn args_sizes_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        argc: u32,
        buf_size: u32,
    ) -> WasiResult<()> {
        write_sizes(mem, &self.args, argc, buf_size)
    }

    pub(crate) fn environ_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        environ: u32,
        buf: u32,
    ) -> WasiResult<()> {
        write_string_list(mem, &self.env, environ, buf)
    }

    pub(crate) fn environ_sizes_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        count: u32,
        buf_size: u32,
    ) -> WasiResult<()> {
        write_sizes(mem, &self.env, count, buf_size)
    }
}
