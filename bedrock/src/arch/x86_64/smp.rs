//! Bringing up the application processors (APs).
//!
//! An AP starts in 16-bit real mode at the 4 KiB page named by the startup
//! IPI. The trampoline below is copied to [`TRAMPOLINE`] (low memory kept
//! out of the frame allocator); it enters protected mode, then long mode
//! with a temporary root table that maps the trampoline page identity plus
//! the whole kernel half, and jumps to [`ap_entry`] on the AP's own stack.
//! APs are started one at a time, so one parameter block suffices.

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, Ordering};

use log::{info, warn};

use super::{apic, gdt, idt, percpu, tsc};
use crate::mm::kernel_space::{FRAMES, alloc_kernel_stack, kernel_root};
use crate::mm::paging::{Entry, Flags, Table};
use crate::mm::{PAGE_SIZE, phys_to_virt};

/// Physical address the trampoline runs at (startup IPI page 8).
pub const TRAMPOLINE: u64 = 0x8000;
const AP_STACK_SIZE: u64 = 64 * 1024;

global_asm!(
    r#"
    .section .rodata.trampoline, "a"
    .set TB, {base}
    .global ap_trampoline_start, ap_trampoline_end, ap_trampoline_params
    .code16
ap_trampoline_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl TB + (tr_gdt_ptr - ap_trampoline_start)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(TB + (tr_pm32 - ap_trampoline_start))

    .code32
tr_pm32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl TB + (ap_trampoline_params - ap_trampoline_start), %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl $0xc0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16)), %eax
    movl %eax, %cr0
    ljmpl $0x18, $(TB + (tr_lm64 - ap_trampoline_start))

    .code64
tr_lm64:
    movq TB + (ap_trampoline_params - ap_trampoline_start) + 8, %rsp
    movq TB + (ap_trampoline_params - ap_trampoline_start) + 24, %rdi
    movq TB + (ap_trampoline_params - ap_trampoline_start) + 16, %rax
    xorl %ebp, %ebp
    jmp *%rax

    .p2align 3
tr_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
tr_gdt_ptr:
    .word tr_gdt_ptr - tr_gdt - 1
    .long TB + (tr_gdt - ap_trampoline_start)

    .p2align 3
ap_trampoline_params:
    .quad 0     /* +0  temporary root table (physical, below 4 GiB) */
    .quad 0     /* +8  stack top */
    .quad 0     /* +16 entry */
    .quad 0     /* +24 argument: the AP's dense index */
ap_trampoline_end:
"#,
    base = const TRAMPOLINE,
    options(att_syntax)
);

unsafe extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
    static ap_trampoline_params: u8;
}

/// Set by the AP once it runs Rust code on its own stack.
static AP_STARTED: AtomicBool = AtomicBool::new(false);

/// Builds the AP's temporary root: an executable identity map of the first
/// 2 MiB (the kernel half is filled by [`refresh_kernel_half`]). Returns the
/// three frames (root, PDPT, PD) to free afterwards.
fn temporary_root() -> Option<[u64; 3]> {
    let mut guard = FRAMES.lock();
    let frames = guard.as_mut()?;
    let [root, pdpt, pd] = [(); 3].map(|_| frames.alloc_below(1 << 32));
    let (root, pdpt, pd) = (root?, pdpt?, pd?);
    // SAFETY: fresh frames, reachable through the direct map.
    unsafe {
        let t = &mut *(phys_to_virt(root) as *mut Table);
        *t = Table::empty();
        let rw = Flags::PRESENT | Flags::WRITABLE;
        t.0[0] = Entry::new(pdpt, rw);
        (phys_to_virt(pdpt) as *mut Table).write(Table::empty());
        (phys_to_virt(pd) as *mut Table).write(Table::empty());
        (*(phys_to_virt(pdpt) as *mut Table)).0[0] = Entry::new(pd, rw);
        (*(phys_to_virt(pd) as *mut Table)).0[0] = Entry::new(0, rw | Flags::HUGE);
    }
    Some([root, pdpt, pd])
}

/// Copies the kernel's upper-half PML4 entries into the temporary root, so
/// that kernel mappings made since (the new AP's stack) are visible.
fn refresh_kernel_half(root: u64) {
    // SAFETY: both are page tables reachable through the direct map; the
    // temporary root is ours, the kernel root is only read.
    unsafe {
        let kernel = &*(phys_to_virt(kernel_root()) as *const Table);
        let temp = &mut *(phys_to_virt(root) as *mut Table);
        temp.0[256..].copy_from_slice(&kernel.0[256..]);
    }
}

/// Copies the trampoline to low memory and fills in its parameters.
fn install_trampoline(root: u64, stack_top: u64, index: usize) {
    // SAFETY: linker symbols of the trampoline blob; TRAMPOLINE is low RAM
    // that the frame allocator never hands out and the direct map covers.
    unsafe {
        let start = &raw const ap_trampoline_start;
        let len = (&raw const ap_trampoline_end).offset_from(start) as usize;
        let params = (&raw const ap_trampoline_params).offset_from(start) as u64;
        assert!(len as u64 <= PAGE_SIZE, "AP trampoline larger than a page");
        let dst = phys_to_virt(TRAMPOLINE) as *mut u8;
        core::ptr::copy_nonoverlapping(start, dst, len);
        let p = phys_to_virt(TRAMPOLINE + params) as *mut u64;
        p.write_volatile(root);
        p.add(1).write_volatile(stack_top);
        p.add(2)
            .write_volatile(ap_entry as extern "C" fn(u64) -> ! as usize as u64);
        p.add(3).write_volatile(index as u64);
    }
}

/// Starts every CPU in `apic_ids` except the boot CPU. Returns how many
/// came online.
pub fn start_aps(apic_ids: &[u32]) -> usize {
    let bsp = apic::id();
    let Some(temp) = temporary_root() else {
        warn!("smp: no memory for the AP boot tables; staying on one CPU");
        return 0;
    };
    let mut started = 0;
    for &apic_id in apic_ids.iter().filter(|&&id| id != bsp) {
        let index = percpu::online();
        let stack = match alloc_kernel_stack(AP_STACK_SIZE) {
            Ok(top) => top,
            Err(e) => {
                warn!("smp: no stack for cpu with APIC ID {apic_id}: {e:?}");
                break;
            }
        };
        refresh_kernel_half(temp[0]);
        install_trampoline(temp[0], stack, index);
        AP_STARTED.store(false, Ordering::SeqCst);
        apic::send_init(apic_id);
        tsc::spin_ns(10_000_000);
        for _ in 0..2 {
            apic::send_startup(apic_id, (TRAMPOLINE >> 12) as u8);
            if wait_for(|| AP_STARTED.load(Ordering::SeqCst), 1_000_000) {
                break;
            }
        }
        // The AP finishes its own setup; wait until it is counted online.
        if wait_for(|| percpu::online() > index, 1_000_000_000) {
            started += 1;
        } else {
            warn!("smp: cpu with APIC ID {apic_id} did not start");
        }
    }
    let mut guard = FRAMES.lock();
    if let Some(frames) = guard.as_mut() {
        for f in temp {
            frames.free(f);
        }
    }
    started
}

fn wait_for(cond: impl Fn() -> bool, ns: u64) -> bool {
    let end = tsc::now_ns() + ns;
    while tsc::now_ns() < end {
        if cond() {
            return true;
        }
        core::hint::spin_loop();
    }
    cond()
}

/// First Rust code on an AP, on its own stack, still on the temporary root.
extern "C" fn ap_entry(index: u64) -> ! {
    AP_STARTED.store(true, Ordering::SeqCst);
    // SAFETY: the kernel root maps everything the kernel uses, including
    // this stack and code; the temporary identity map is no longer needed.
    unsafe { super::paging::switch_to(kernel_root()) };
    // x2APIC registers are readable only once this CPU's APIC is in x2APIC
    // mode, so enable the APIC before asking it for the ID.
    apic::init_cpu();
    percpu::init_ap(index as usize, apic::id());
    idt::init();
    if let Err(e) = gdt::init_ap() {
        panic!("cpu {index}: no IST stacks: {e:?}");
    }
    super::cpu::init_features();
    super::cpu::init_xsave();
    super::syscall::init_cpu();
    info!("cpu {index} online (APIC ID {})", apic::id());
    crate::kmain::ap_main()
}
