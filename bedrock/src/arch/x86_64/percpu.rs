//! Per-CPU data, reached through the GS base.
//!
//! `gs:[0]` holds a pointer to the CPU's own [`PerCpu`], so `current()` is
//! one load. The boot CPU's block is static (it is needed before the heap);
//! the other CPUs' blocks are allocated when they start and live forever.
//! Once user space exists, entry code swaps GS (`swapgs`) so that the
//! kernel always sees its own GS base here.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use x86_64::registers::model_specific::Msr;

use crate::acpi::topology::MAX_CPUS;

const IA32_GS_BASE: u32 = 0xc000_0101;
const IA32_KERNEL_GS_BASE: u32 = 0xc000_0102;

#[repr(C)]
pub struct PerCpu {
    /// Must stay first: `gs:[0]`.
    self_ptr: *const PerCpu,
    /// Dense CPU number: 0 = boot CPU, then in bring-up order.
    pub index: usize,
    pub apic_id: u32,
}

// SAFETY: a PerCpu is only mutated by its own CPU before it is published;
// afterwards other CPUs only read the immutable fields.
unsafe impl Sync for PerCpu {}

static mut BSP_BLOCK: PerCpu = PerCpu {
    self_ptr: core::ptr::null(),
    index: 0,
    apic_id: 0,
};

/// Every online CPU's block, by index.
static CPUS: [AtomicPtr<PerCpu>; MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];
static ONLINE: AtomicUsize = AtomicUsize::new(0);

fn install(block: *mut PerCpu, index: usize, apic_id: u32) {
    // SAFETY: `block` is this CPU's own, not yet published, block.
    unsafe {
        block.write(PerCpu {
            self_ptr: block,
            index,
            apic_id,
        });
        Msr::new(IA32_GS_BASE).write(block as u64);
        Msr::new(IA32_KERNEL_GS_BASE).write(0);
    }
    CPUS[index].store(block, Ordering::Release);
    ONLINE.fetch_add(1, Ordering::AcqRel);
}

/// Sets up the boot CPU's block (index 0). Call before anything logs.
pub fn init_bsp(apic_id: u32) {
    install(&raw mut BSP_BLOCK, 0, apic_id);
}

/// Sets up the block of an application processor with dense `index`.
pub fn init_ap(index: usize, apic_id: u32) {
    let block = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(PerCpu {
        self_ptr: core::ptr::null(),
        index,
        apic_id,
    }));
    install(block, index, apic_id);
}

/// This CPU's block.
pub fn current() -> &'static PerCpu {
    let ptr: *const PerCpu;
    // SAFETY: gs:[0] holds the self pointer installed by `install`, which
    // runs on every CPU before any code that can reach this function.
    unsafe {
        core::arch::asm!("mov {}, gs:[0]", out(reg) ptr, options(nostack, readonly, preserves_flags))
    };
    // SAFETY: blocks live forever once installed.
    unsafe { &*ptr }
}

/// Number of CPUs that finished bring-up.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// The block of CPU `index`, if online.
pub fn cpu(index: usize) -> Option<&'static PerCpu> {
    let ptr = CPUS.get(index)?.load(Ordering::Acquire);
    // SAFETY: published blocks live forever.
    (!ptr.is_null()).then(|| unsafe { &*ptr })
}
