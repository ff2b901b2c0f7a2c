//! SYSCALL/SYSRET: the fast entry from ring 3.
//!
//! Entry switches to the kernel GS and the running thread's kernel stack,
//! and saves the user context as a [`TrapFrame`] (the same layout as
//! interrupts), so the dispatcher, the fault paths and thread creation see
//! one format. The return uses SYSRETQ when the saved RIP is a canonical
//! user address and IRETQ otherwise (SYSRET with a non-canonical RIP would
//! fault in ring 0 on the user stack).

use core::arch::global_asm;
use x86_64::registers::model_specific::{Efer, EferFlags, Msr};

use super::idt::{TrapFrame, pop_trap_frame_registers, push_trap_frame_registers};
use super::percpu::{KERNEL_RSP_OFFSET, USER_RSP_OFFSET};

const IA32_STAR: u32 = 0xc000_0081;
const IA32_LSTAR: u32 = 0xc000_0082;
const IA32_FMASK: u32 = 0xc000_0084;

/// Vector number recorded in the TrapFrame of a syscall (not a real vector).
pub const SYSCALL_FRAME_MARK: u64 = 0x100;
/// User selectors (GDT: user data at 0x18, user code at 0x20, RPL 3).
pub const USER_DS: u64 = 0x1b;
pub const USER_CS: u64 = 0x23;

global_asm!(
    concat!(
    r#"
    .section .text.syscall_entry, "ax"
    .global bedrock_syscall_entry
bedrock_syscall_entry:
    swapgs
    movq %rsp, %gs:{user_rsp}
    movq %gs:{kernel_rsp}, %rsp
    pushq ${user_ds}
    pushq %gs:{user_rsp}
    pushq %r11
    pushq ${user_cs}
    pushq %rcx
    pushq $0
    pushq ${mark}
"#,
    push_trap_frame_registers!(),
    r#"
    movq %rsp, %rdi
    cld
    sti
    call {dispatch}
    cli
    /* SYSRET only to a canonical user RIP (bits 47..63 clear). */
    movq 136(%rsp), %rcx
    shrq $47, %rcx
    jnz 1f
"#,
    pop_trap_frame_registers!(),
    r#"
    movq 16(%rsp), %rcx
    movq 32(%rsp), %r11
    movq 40(%rsp), %rsp
    swapgs
    sysretq
1:  movq %rsp, %rdi
    jmp bedrock_return_to_frame
"#),
    user_rsp = const USER_RSP_OFFSET,
    kernel_rsp = const KERNEL_RSP_OFFSET,
    user_ds = const USER_DS,
    user_cs = const USER_CS,
    mark = const SYSCALL_FRAME_MARK,
    dispatch = sym syscall_dispatch,
    options(att_syntax)
);

unsafe extern "C" {
    fn bedrock_syscall_entry();
}

extern "C" fn syscall_dispatch(frame: &mut TrapFrame) {
    crate::syscall::dispatch(frame);
}

/// Enables SYSCALL on this CPU and points it at the entry above.
pub fn init_cpu() {
    // SAFETY: standard MSRs; STAR selects kernel CS 0x08/SS 0x10 on entry
    // and user SS 0x1b/CS 0x23 on SYSRET (base 0x13), matching the GDT;
    // FMASK clears IF, TF, DF, AC and NT on entry.
    unsafe {
        Efer::update(|f| f.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
        Msr::new(IA32_STAR).write((0x13u64 << 48) | (0x08u64 << 32));
        Msr::new(IA32_LSTAR).write(bedrock_syscall_entry as *const () as u64);
        Msr::new(IA32_FMASK).write(0x4_4700);
    }
}
