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
    /// Scratch slot for the user stack pointer during syscall entry
    /// (`gs:[USER_RSP_OFFSET]`).
    user_rsp: u64,
    /// Kernel stack top of the running thread, loaded by syscall entry
    /// (`gs:[KERNEL_RSP_OFFSET]`); mirrors the TSS's RSP0.
    kernel_rsp: u64,
    /// The running thread (`*const sched::thread::Thread`), for a
    /// lock-free `sched::current()`: read with one GS-relative load, which
    /// an interrupt cannot split.
    current_thread: usize,
    /// Dense CPU number: 0 = boot CPU, then in bring-up order.
    pub index: usize,
    pub apic_id: u32,
    /// This CPU's TSS, whose RSP0 follows the running thread.
    tss: *mut x86_64::structures::tss::TaskStateSegment,
}

/// Offsets used by the syscall entry assembly.
pub const USER_RSP_OFFSET: usize = core::mem::offset_of!(PerCpu, user_rsp);
pub const KERNEL_RSP_OFFSET: usize = core::mem::offset_of!(PerCpu, kernel_rsp);
const CURRENT_THREAD_OFFSET: usize = core::mem::offset_of!(PerCpu, current_thread);

// SAFETY: a PerCpu is only mutated by its own CPU before it is published;
// afterwards other CPUs only read the immutable fields.
unsafe impl Sync for PerCpu {}

static mut BSP_BLOCK: PerCpu = PerCpu::empty(0, 0);

/// Every online CPU's block, by index.
static CPUS: [AtomicPtr<PerCpu>; MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];
static ONLINE: AtomicUsize = AtomicUsize::new(0);

impl PerCpu {
    const fn empty(index: usize, apic_id: u32) -> PerCpu {
        PerCpu {
            self_ptr: core::ptr::null(),
            user_rsp: 0,
            kernel_rsp: 0,
            current_thread: 0,
            index,
            apic_id,
            tss: core::ptr::null_mut(),
        }
    }
}

fn install(block: *mut PerCpu, index: usize, apic_id: u32) {
    // SAFETY: `block` is this CPU's own, not yet published, block.
    unsafe {
        block.write(PerCpu {
            self_ptr: block,
            ..PerCpu::empty(index, apic_id)
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
    let block = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(PerCpu::empty(index, apic_id)));
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

/// Records this CPU's TSS (once, during CPU setup).
pub fn set_tss(tss: *mut x86_64::structures::tss::TaskStateSegment) {
    let me = current() as *const PerCpu as *mut PerCpu;
    // SAFETY: only this CPU writes its own block, with interrupts off
    // during setup; other CPUs never read `tss`.
    unsafe { (*me).tss = tss };
}

/// Makes `top` the kernel stack that entries from ring 3 (syscalls,
/// interrupts, faults) use on this CPU: the running thread's stack.
pub fn set_kernel_stack(top: u64) {
    let me = current() as *const PerCpu as *mut PerCpu;
    // SAFETY: this CPU's own block and TSS, changed with interrupts off
    // (during a context switch) so no entry observes a half update.
    unsafe {
        (*me).kernel_rsp = top;
        if let Some(tss) = (*me).tss.as_mut() {
            tss.privilege_stack_table[0] = x86_64::VirtAddr::new(top);
        }
    }
}

/// Records the thread this CPU now runs (called by the scheduler with
/// interrupts off).
pub fn set_current_thread(thread: usize) {
    let me = current() as *const PerCpu as *mut PerCpu;
    // SAFETY: this CPU's own block, written with interrupts off.
    unsafe { (*me).current_thread = thread };
}

/// The thread this CPU runs, as recorded by [`set_current_thread`].
pub fn current_thread() -> usize {
    let t: usize;
    // SAFETY: one load relative to this CPU's GS base; being a single
    // instruction, a preemption cannot move us between CPUs halfway.
    unsafe {
        core::arch::asm!("mov {}, gs:[{off}]", out(reg) t, off = const CURRENT_THREAD_OFFSET, options(nostack, readonly, preserves_flags))
    };
    t
}
