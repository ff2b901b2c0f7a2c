//! Bounds-checked access to a guest's linear memory.
//!
//! Every pointer a guest hands us is an untrusted `u32` offset. All accesses
//! go through [`GuestMemory`], which checks `offset + len <= memory size` in
//! 64-bit arithmetic (so `u32` overflow cannot wrap) and reports a violation
//! as [`Errno::Fault`]. Nothing here can panic on guest input.
//!
//! Policy on bad pointers: the witx documentation says a function given an
//! out-of-bounds or misaligned pointer "shall trap", and wasmtime traps. This
//! project instead returns `fault` so the guest observes a plain error and the
//! silo is not torn down (the project's requirement). Alignment is not
//! enforced: values are copied byte-wise little-endian, so a misaligned
//! pointer is harmless to the host. Both choices live in this file only.

use super::abi::{Errno, WasiResult};

/// The error for any out-of-bounds guest pointer.
const OUT_OF_BOUNDS: Errno = Errno::Fault;

/// A borrowed view of a guest's linear memory for the duration of one call.
pub(crate) struct GuestMemory<'a> {
    bytes: &'a mut [u8],
}

impl<'a> GuestMemory<'a> {
    pub(crate) fn new(bytes: &'a mut [u8]) -> Self {
        GuestMemory { bytes }
    }

    /// The byte range `[ptr, ptr + len)` as host indices, if it is in bounds.
    fn range(&self, ptr: u32, len: u32) -> WasiResult<std::ops::Range<usize>> {
        let end = u64::from(ptr) + u64::from(len);
        if end > self.bytes.len() as u64 {
            return Err(OUT_OF_BOUNDS);
        }
        // Both fit in usize: they are <= the length of an existing slice.
        Ok(ptr as usize..end as usize)
    }

    /// Checks that `[ptr, ptr + len)` is inside memory without accessing it.
    pub(crate) fn check(&self, ptr: u32, len: u32) -> WasiResult<()> {
        self.range(ptr, len).map(|_| ())
    }

    /// Checks an array of `count` elements of `size` bytes at `ptr`.
    pub(crate) fn check_array(&self, ptr: u32, count: u32, size: u32) -> WasiResult<()> {
        let bytes = u64::from(count) * u64::from(size);
        let len = u32::try_from(bytes).map_err(|_| OUT_OF_BOUNDS)?;
        self.check(ptr, len)
    }

    pub(crate) fn slice(&self, ptr: u32, len: u32) -> WasiResult<&[u8]> {
        let range = self.range(ptr, len)?;
        Ok(&self.bytes[range])
    }

    pub(crate) fn slice_mut(&mut self, ptr: u32, len: u32) -> WasiResult<&mut [u8]> {
        let range = self.range(ptr, len)?;
        Ok(&mut self.bytes[range])
    }

    fn array<const N: usize>(&self, ptr: u32) -> WasiResult<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.slice(ptr, N as u32)?);
        Ok(out)
    }

    pub(crate) fn read_u8(&self, ptr: u32) -> WasiResult<u8> {
        Ok(self.array::<1>(ptr)?[0])
    }

    pub(crate) fn read_u16(&self, ptr: u32) -> WasiResult<u16> {
        Ok(u16::from_le_bytes(self.array(ptr)?))
    }

    pub(crate) fn read_u32(&self, ptr: u32) -> WasiResult<u32> {
        Ok(u32::from_le_bytes(self.array(ptr)?))
    }

    pub(crate) fn read_u64(&self, ptr: u32) -> WasiResult<u64> {
        Ok(u64::from_le_bytes(self.array(ptr)?))
    }

    pub(crate) fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> WasiResult<()> {
        let len = u32::try_from(data.len()).map_err(|_| OUT_OF_BOUNDS)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    pub(crate) fn write_u8(&mut self, ptr: u32, value: u8) -> WasiResult<()> {
        self.write_bytes(ptr, &[value])
    }

    pub(crate) fn write_u32(&mut self, ptr: u32, value: u32) -> WasiResult<()> {
        self.write_bytes(ptr, &value.to_le_bytes())
    }

    pub(crate) fn write_u64(&mut self, ptr: u32, value: u64) -> WasiResult<()> {
        self.write_bytes(ptr, &value.to_le_bytes())
    }

    /// Reads a guest string (`string` in witx: pointer + length, UTF-8, no
    /// terminator). Invalid UTF-8 is `ilseq`, as in wasmtime.
    pub(crate) fn read_str(&self, ptr: u32, len: u32) -> WasiResult<&str> {
        std::str::from_utf8(self.slice(ptr, len)?).map_err(|_| Errno::Ilseq)
    }

    /// Reads entry `index` of an `iovec`/`ciovec` array at `iovs`:
    /// `(buf, buf_len)`. The callers iterate lazily instead of collecting,
    /// so a huge `iovs_len` costs no host memory.
    pub(crate) fn iovec(&self, iovs: u32, index: u32) -> WasiResult<(u32, u32)> {
        let offset = u64::from(index) * u64::from(super::abi::layout::IOVEC_SIZE);
        let at = u32::try_from(u64::from(iovs) + offset).map_err(|_| OUT_OF_BOUNDS)?;
        let buf = self.read_u32(at)?;
        let len = self.read_u32(at.checked_add(4).ok_or(OUT_OF_BOUNDS)?)?;
        Ok((buf, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_without_overflow() {
        let mut bytes = vec![0u8; 16];
        let mut mem = GuestMemory::new(&mut bytes);
        assert!(mem.write_u64(8, 7).is_ok());
        assert_eq!(mem.read_u64(8), Ok(7));
        assert_eq!(mem.write_u64(9, 7), Err(Errno::Fault));
        assert_eq!(mem.read_u32(u32::MAX), Err(Errno::Fault));
        assert_eq!(mem.slice(u32::MAX, u32::MAX).err(), Some(Errno::Fault));
        assert_eq!(mem.slice(16, 0).map(<[u8]>::len), Ok(0));
        assert_eq!(mem.slice(17, 0).err(), Some(Errno::Fault));
        assert_eq!(mem.check_array(0, u32::MAX, 8), Err(Errno::Fault));
        assert_eq!(mem.iovec(u32::MAX - 3, 0), Err(Errno::Fault));
    }

    #[test]
    fn strings_must_be_utf8() {
        let mut bytes = b"ok\xff".to_vec();
        let mem = GuestMemory::new(&mut bytes);
        assert_eq!(mem.read_str(0, 2), Ok("ok"));
        assert_eq!(mem.read_str(0, 3), Err(Errno::Ilseq));
    }
}
