//! Kernel context switch: save the callee-saved registers and RFLAGS on the
//! old stack, store its stack pointer, load the new one, restore.
//!
//! A thread that never ran gets a stack prepared by [`prepare_stack`] so
//! that the first switch to it "returns" into `thread_start`, which calls
//! its entry function with its argument.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.context_switch, "ax"
    .global bedrock_context_switch
bedrock_context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushfq
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popfq
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

    .global bedrock_thread_start
bedrock_thread_start:
    andq $-16, %rsp
    movq %r13, %rdi
    xorl %ebp, %ebp
    call *%r12
    ud2
"#,
    options(att_syntax)
);

unsafe extern "C" {
    fn bedrock_context_switch(prev_rsp: *mut u64, next_rsp: u64);
    fn bedrock_thread_start();
}

/// Saves the running context into `*prev_rsp` and resumes the one saved at
/// `next_rsp`. Returns when something switches back to `prev`.
///
/// # Safety
/// `next_rsp` must be a stack pointer saved by this function or made by
/// [`prepare_stack`], of a context not running anywhere; interrupts must be
/// off.
pub unsafe fn switch(prev_rsp: *mut u64, next_rsp: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe { bedrock_context_switch(prev_rsp, next_rsp) }
}

/// Lays out a fresh stack (top at `stack_top`) so that switching to the
/// returned stack pointer calls `entry(arg)` with interrupts off.
///
/// # Safety
/// `stack_top` must be the 16-byte aligned top of a mapped, unused stack
/// with at least 128 bytes.
pub unsafe fn prepare_stack(stack_top: u64, entry: extern "C" fn(u64) -> !, arg: u64) -> u64 {
    let frame: [u64; 10] = [
        0x2,                                      // rflags: interrupts off
        0,                                        // r15
        0,                                        // r14
        arg,                                      // r13
        entry as *const () as u64,                // r12
        0,                                        // rbx
        0,                                        // rbp
        bedrock_thread_start as *const () as u64, // return address
        0,                                        // alignment
        0,                                        // end of the frame-pointer chain
    ];
    let sp = stack_top - (frame.len() * 8) as u64;
    // SAFETY: the caller provides the stack; `sp` lies within its top bytes.
    unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), sp as *mut u64, frame.len()) };
    sp
}
