//! Interrupt descriptor table, trap entry and CPU exception handling.
//!
//! Each of the 256 vectors has a tiny assembly stub that pushes the vector
//! (and a zero where the CPU pushes no error code) so one common path can
//! save every register into a [`TrapFrame`]; `trap_dispatch` then routes
//! exceptions, the timer and IPIs, and gives the scheduler a preemption
//! point after every interrupt. For now every
//! exception is a kernel fault: the handler prints a full dump and stops
//! the machine (exiting QEMU with a failure status). Ring-3 faults get
//! their own policy with user space.

use core::arch::global_asm;
use core::fmt::Write;

use super::serial::with_uart_forced;
use super::{apic, gdt, interrupts};

/// Registers saved on exception entry, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// The general registers of a [`TrapFrame`], pushed in the order that
/// makes them its first fields (shared by the trap and syscall entries).
macro_rules! push_trap_frame_registers {
    () => {
        "pushq %rax\n pushq %rbx\n pushq %rcx\n pushq %rdx\n pushq %rsi\n pushq %rdi\n pushq %rbp\n
         pushq %r8\n pushq %r9\n pushq %r10\n pushq %r11\n pushq %r12\n pushq %r13\n pushq %r14\n pushq %r15\n"
    };
}
pub(super) use push_trap_frame_registers;

/// The inverse of [`push_trap_frame_registers`].
macro_rules! pop_trap_frame_registers {
    () => {
        "popq %r15\n popq %r14\n popq %r13\n popq %r12\n popq %r11\n popq %r10\n popq %r9\n popq %r8\n
         popq %rbp\n popq %rdi\n popq %rsi\n popq %rdx\n popq %rcx\n popq %rbx\n popq %rax\n"
    };
}
pub(super) use pop_trap_frame_registers;

/// Vectors for which the CPU pushes an error code (bit n = vector n).
const HAS_ERROR_CODE: u32 = 0x6022_7d00;

global_asm!(
    concat!(
    r#"
    .section .text.traps, "ax"
    .p2align 4
    .global trap_stubs
trap_stubs:
    .set vector, 0
    .rept 256
    .p2align 4
    .if (vector >= 32) || ((({mask} >> vector) & 1) == 0)
    pushq $0
    .endif
    pushq $vector
    jmp trap_common
    .set vector, vector + 1
    .endr

trap_common:
    /* From ring 3 (CS.RPL = 3 at 24(%rsp)): switch to the kernel GS. */
    testb $3, 24(%rsp)
    jz 1f
    swapgs
1:
"#,
    push_trap_frame_registers!(),
    r#"
    movq %rsp, %rdi
    cld
    call {dispatch}
    movq %rsp, %rdi
    jmp bedrock_return_to_frame

    /* Leaves the kernel into the context saved in the TrapFrame at %rdi
       (a new user thread's first entry, or a syscall return). */
    .global bedrock_return_to_frame
bedrock_return_to_frame:
    movq %rdi, %rsp
"#,
    pop_trap_frame_registers!(),
    r#"
    addq $16, %rsp
    testb $3, 8(%rsp)
    jz 3f
    swapgs
3:
    iretq
"#),
    mask = const HAS_ERROR_CODE,
    dispatch = sym trap_dispatch,
    options(att_syntax)
);

unsafe extern "C" {
    /// 256 entry stubs, 16 bytes apart, by vector.
    static trap_stubs: u8;
}

unsafe extern "C" {
    fn bedrock_return_to_frame(frame: *const TrapFrame) -> !;
}

/// Resumes the context in `frame` (ring 3 or ring 0) with `iretq`.
///
/// # Safety
/// `frame` must lie at the top of the current kernel stack region that
/// entries from ring 3 use, describe a valid context (user selectors and a
/// canonical user RIP for ring 3), and interrupts must be off.
pub unsafe fn return_to_frame(frame: *const TrapFrame) -> ! {
    // SAFETY: guaranteed by the caller.
    unsafe { bedrock_return_to_frame(frame) }
}

/// Bytes between two entry stubs.
const STUB_SIZE: u64 = 16;

/// A 64-bit interrupt gate descriptor.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    /// Present, ring-0, interrupt gate (interrupts off on entry).
    fn interrupt(handler: u64, selector: u16, ist: Option<u16>) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector,
            ist: ist.map_or(0, |i| i as u8 + 1),
            type_attr: 0x8e,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: spin::Once<Idt> = spin::Once::new();

pub fn init() {
    let idt = IDT.call_once(|| {
        let cs = {
            use x86_64::instructions::segmentation::{CS, Segment};
            CS::get_reg().0
        };
        let mut idt = Idt([Gate::MISSING; 256]);
        let stubs = &raw const trap_stubs as u64;
        for vector in 0..256 {
            let stub = stubs + vector as u64 * STUB_SIZE;
            let ist = match vector {
                2 => Some(gdt::IST_NMI),
                8 => Some(gdt::IST_DOUBLE_FAULT),
                18 => Some(gdt::IST_MACHINE_CHECK),
                _ => None,
            };
            idt.0[vector] = Gate::interrupt(stub, cs, ist);
        }
        idt
    });
    let ptr = x86_64::structures::DescriptorTablePointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: x86_64::VirtAddr::new(idt as *const Idt as u64),
    };
    // SAFETY: the IDT is a 'static with valid gates pointing at our stubs.
    unsafe { x86_64::instructions::tables::lidt(&ptr) };
}

/// Short mnemonic and name of an exception vector.
pub fn exception_name(vector: u64) -> (&'static str, &'static str) {
    match vector {
        0 => ("#DE", "divide error"),
        1 => ("#DB", "debug"),
        2 => ("NMI", "non-maskable interrupt"),
        3 => ("#BP", "breakpoint"),
        4 => ("#OF", "overflow"),
        5 => ("#BR", "bound range exceeded"),
        6 => ("#UD", "invalid opcode"),
        7 => ("#NM", "device not available"),
        8 => ("#DF", "double fault"),
        10 => ("#TS", "invalid TSS"),
        11 => ("#NP", "segment not present"),
        12 => ("#SS", "stack-segment fault"),
        13 => ("#GP", "general protection fault"),
        14 => ("#PF", "page fault"),
        16 => ("#MF", "x87 floating-point error"),
        17 => ("#AC", "alignment check"),
        18 => ("#MC", "machine check"),
        19 => ("#XM", "SIMD floating-point error"),
        20 => ("#VE", "virtualization exception"),
        21 => ("#CP", "control protection"),
        _ => ("#??", "reserved vector"),
    }
}

/// Explains a page-fault error code, e.g. "write to a non-present page in kernel mode".
fn describe_page_fault(error: u64) -> (&'static str, &'static str, &'static str) {
    let access = if error & 0x10 != 0 {
        "instruction fetch from"
    } else if error & 0x2 != 0 {
        "write to"
    } else {
        "read of"
    };
    let page = if error & 0x1 != 0 {
        "a protected page"
    } else {
        "a non-present page"
    };
    let mode = if error & 0x4 != 0 {
        "user mode"
    } else {
        "kernel mode"
    };
    (access, page, mode)
}

impl TrapFrame {
    /// True when the interrupted context ran in ring 3.
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

/// Entry from every stub with the saved registers.
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    match frame.vector as u8 {
        0..=31 if frame.from_user() => crate::silo::user_fault(frame),
        14 if super::usercopy::fixup(frame) => {}
        0..=31 => kernel_exception(frame),
        interrupts::TIMER_VECTOR => {
            apic::eoi();
            crate::sched::on_timer_interrupt();
        }
        interrupts::RESCHED_VECTOR => apic::eoi(),
        interrupts::SHOOTDOWN_VECTOR => {
            crate::mm::address_space::on_shootdown_ipi();
            apic::eoi();
        }
        // Spurious interrupts are not acknowledged (they set no ISR bit).
        apic::SPURIOUS_VECTOR => return,
        v => {
            super::irq::dispatch(v);
            apic::eoi();
        }
    }
    crate::sched::preempt_point();
    if frame.from_user() {
        crate::silo::check_dying();
    }
}

fn kernel_exception(frame: &mut TrapFrame) {
    let cr2 = x86_64::registers::control::Cr2::read_raw();
    let (cr3, _) = x86_64::registers::control::Cr3::read_raw();
    let cr0 = x86_64::registers::control::Cr0::read_raw();
    let cr4 = x86_64::registers::control::Cr4::read_raw();
    let (mnemonic, name) = exception_name(frame.vector);
    let f = &*frame;
    with_uart_forced(|uart| {
        let _ = writeln!(
            uart,
            "\nEXCEPTION {mnemonic} (vector {}, {name}) on cpu{} error={:#x} rip={:#018x} cr2={:#018x}",
            f.vector,
            super::percpu::current().index,
            f.error,
            f.rip,
            cr2
        );
        if f.vector == 14 {
            let (access, page, mode) = describe_page_fault(f.error);
            let _ = writeln!(uart, "  {access} {page} in {mode}");
        }
        let _ = writeln!(
            uart,
            "  cs={:#x} ss={:#x} rflags={:#x} rsp={:#018x}",
            f.cs, f.ss, f.rflags, f.rsp
        );
        let regs = [
            ("rax", f.rax),
            ("rbx", f.rbx),
            ("rcx", f.rcx),
            ("rdx", f.rdx),
            ("rsi", f.rsi),
            ("rdi", f.rdi),
            ("rbp", f.rbp),
            ("r8 ", f.r8),
            ("r9 ", f.r9),
            ("r10", f.r10),
            ("r11", f.r11),
            ("r12", f.r12),
            ("r13", f.r13),
            ("r14", f.r14),
            ("r15", f.r15),
            ("cr0", cr0),
            ("cr3", cr3.start_address().as_u64()),
            ("cr4", cr4),
        ];
        for row in regs.chunks(4) {
            let _ = write!(uart, " ");
            for (n, v) in row {
                let _ = write!(uart, " {n}={v:#018x}");
            }
            let _ = writeln!(uart);
        }
        let _ = writeln!(uart, "kernel fault: halting");
    });
    super::qemu_exit(bedrock_testproto::ExitCode::Failure);
    super::cpu::halt_forever();
}
