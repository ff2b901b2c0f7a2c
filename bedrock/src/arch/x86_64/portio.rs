//! Port I/O on behalf of ring-3 drivers (`PortIn` / `PortOut`).

use x86_64::instructions::port::Port;

/// Reads `width` bytes (1, 2 or 4; anything else reads 4) from `port`.
///
/// # Safety
/// `port` must not belong to a device the kernel drives (the caller checks
/// the driver's port range, which excludes them).
pub unsafe fn read(port: u16, width: u8) -> u32 {
    // SAFETY: per the contract; `in` has no memory effects.
    unsafe {
        match width {
            1 => Port::<u8>::new(port).read() as u32,
            2 => Port::<u16>::new(port).read() as u32,
            _ => Port::<u32>::new(port).read(),
        }
    }
}

/// Writes the low `width` bytes of `value` (1, 2 or 4; else 4) to `port`.
///
/// # Safety
/// As [`read`]. A device may then write memory by DMA: only ports of a
/// capability the platform authority granted are ever passed.
pub unsafe fn write(port: u16, width: u8, value: u32) {
    // SAFETY: per the contract.
    unsafe {
        match width {
            1 => Port::<u8>::new(port).write(value as u8),
            2 => Port::<u16>::new(port).write(value as u16),
            _ => Port::<u32>::new(port).write(value),
        }
    }
}
