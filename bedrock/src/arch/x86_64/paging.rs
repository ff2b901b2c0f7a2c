//! Paging glue: reaching page tables through the direct map, switching
//! address spaces and flushing the TLB.

use crate::mm::paging::{Table, TableAccess};
use crate::mm::phys_to_virt;

/// Reaches every page table at `HHDM_BASE + phys`. Valid from the first
/// Rust instruction: the boot tables already map the first 4 GiB there, and
/// the kernel tables map all RAM.
pub struct DirectMap;

// SAFETY: every frame used for page tables is RAM covered by the direct map
// (allocated below 4 GiB while the boot tables are active).
unsafe impl TableAccess for DirectMap {
    fn table(&self, phys: u64) -> *mut Table {
        phys_to_virt(phys) as *mut Table
    }
}

/// Makes the hierarchy rooted at `root` the current address space.
///
/// # Safety
/// `root` must map the running code, its stack and all data in use with at
/// least the current permissions.
pub unsafe fn switch_to(root: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) root, options(nostack, preserves_flags)) };
}

/// Physical address of the current root table.
pub fn current_root() -> u64 {
    x86_64::registers::control::Cr3::read_raw()
        .0
        .start_address()
        .as_u64()
}

/// Drops the TLB entry for `virt` on this CPU.
pub fn flush(virt: u64) {
    x86_64::instructions::tlb::flush(x86_64::VirtAddr::new(virt));
}
