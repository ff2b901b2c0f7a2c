//! Device resources for ring-3 drivers: what `Syscall::PlatformMint`
//! makes from the platform authority (init's handle
//! [`PLATFORM_HANDLE`](crate::ipc::PLATFORM_HANDLE)).

use crate::rights::Rights;

/// An MMIO range: a memory object over device physical memory (not RAM),
/// mapped uncached with `MemMap`, never executable.
pub const MINT_MMIO: u64 = 1;
/// A range of x86 I/O ports, used with `PortIn` / `PortOut`.
pub const MINT_IO_PORTS: u64 = 2;
/// DMA memory: zeroed, physically contiguous RAM in a memory object whose
/// physical address `MemPhysAddr` reports.
pub const MINT_DMA: u64 = 3;
/// An ISA IRQ line (overrides applied), bound with `IrqBind`.
pub const MINT_ISA_IRQ: u64 = 4;

/// Rights an MMIO or DMA capability can carry (no EXECUTE: device memory
/// and DMA buffers are data).
pub const MEMORY_RIGHTS: Rights = Rights(
    Rights::READ.0 | Rights::WRITE.0 | Rights::MAP.0 | Rights::GRANT.0 | Rights::DUPLICATE.0,
);
/// Rights a port range can carry: READ for `PortIn`, WRITE for `PortOut`.
pub const PORT_RIGHTS: Rights =
    Rights(Rights::READ.0 | Rights::WRITE.0 | Rights::GRANT.0 | Rights::DUPLICATE.0);
/// Rights an IRQ line can carry (WAIT to bind and acknowledge).
pub const IRQ_RIGHTS: Rights = Rights(Rights::WAIT.0 | Rights::GRANT.0 | Rights::DUPLICATE.0);

/// The rights a capability of mint `kind` may carry; `None` for an
/// unknown kind.
pub const fn allowed_rights(kind: u64) -> Option<Rights> {
    match kind {
        MINT_MMIO | MINT_DMA => Some(MEMORY_RIGHTS),
        MINT_IO_PORTS => Some(PORT_RIGHTS),
        MINT_ISA_IRQ => Some(IRQ_RIGHTS),
        _ => None,
    }
}

/// Largest DMA allocation: contiguous runs are scarce, drivers need
/// rings and buffers, not bulk memory.
pub const MAX_DMA_SIZE: u64 = 16 << 20;
/// Largest MMIO range in one capability (a PCIe ECAM window is 256 MiB).
pub const MAX_MMIO_SIZE: u64 = 256 << 20;
/// Number of x86 I/O ports.
pub const PORT_COUNT: u32 = 0x1_0000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_kind_allows_execute_or_port_rights() {
        for kind in [MINT_MMIO, MINT_IO_PORTS, MINT_DMA, MINT_ISA_IRQ] {
            let r = allowed_rights(kind).unwrap();
            assert!(!r.contains(Rights::EXECUTE));
            assert!(!r.contains(Rights::CALL) && !r.contains(Rights::RECEIVE));
        }
        assert_eq!(allowed_rights(0), None);
        assert_eq!(allowed_rights(5), None);
    }
}
