//! The PVH entry point: from 32-bit protected mode with paging off to the
//! higher-half kernel in long mode.
//!
//! The `.note.Xen` ELF note `XEN_ELFNOTE_PHYS32_ENTRY` tells a PVH loader
//! (QEMU `-kernel`, Firecracker, Xen) where to start. Its state on entry:
//! flat 32-bit segments, paging off, interrupts off, `%ebx` = physical
//! address of `struct hvm_start_info`, no stack.
//!
//! The boot page tables map the first 4 GiB three times with 2 MiB pages:
//! identity (for this code until the jump), at the direct map (so early Rust
//! code reaches the start info, modules and new page tables), and at the
//! kernel base. `mm::kernel_space` replaces them with the real tables.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .note.Xen, "a"
    .p2align 2
    .long 4                 /* name size: "Xen\0" */
    .long 8                 /* descriptor size: QEMU reads 8 bytes for ELF64 */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .p2align 2
    .quad pvh_start32

    .section .boot.bss, "aw", @nobits
    .p2align 12
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4 * 4096      /* 4 GiB in 2 MiB pages */
boot_stack32:   .skip 256
boot_stack32_top:
boot_start_info: .skip 8

    .section .boot.data, "aw"
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
no_long_mode_msg:
    .asciz "Bedrock: this CPU has no long mode or no NX bit; cannot boot\r\n"

    .section .boot.text, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, boot_start_info
    movl $0, boot_start_info + 4
    movl $boot_stack32_top, %esp

    /* Long mode (bit 29) and NX (bit 20) are required. */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb 9f
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz 9f
    testl $(1 << 20), %edx
    jz 9f

    /* boot_pd[i] = i * 2 MiB | PRESENT | WRITABLE | HUGE, i in 0..2048 */
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, boot_pd(, %ecx, 8)
    movl $0, boot_pd + 4(, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 1b

    /* boot_pdpt_low[0..4] -> the four PDs */
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $12, %eax
    addl $boot_pd + 3, %eax
    movl %eax, boot_pdpt_low(, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jb 2b
    /* -2 GiB .. : PDPT entries 510 and 511 -> the first two PDs */
    movl $boot_pd + 3, boot_pdpt_high + 510 * 8
    movl $boot_pd + 4096 + 3, boot_pdpt_high + 511 * 8

    movl $boot_pdpt_low + 3, boot_pml4              /* identity */
    movl $boot_pdpt_low + 3, boot_pml4 + 256 * 8    /* direct map */
    movl $boot_pdpt_high + 3, boot_pml4 + 511 * 8   /* kernel */

    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $(1 << 5), %eax             /* PAE */
    movl %eax, %cr4
    movl $0xc0000080, %ecx          /* EFER */
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax   /* LME | NXE */
    wrmsr
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16)), %eax  /* PG | WP */
    movl %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $3f

    /* No long mode: say so on COM1 and stop. */
9:  movl $no_long_mode_msg, %esi
    movw $0x3f8, %dx
8:  lodsb
    testb %al, %al
    jz 7f
    outb %al, %dx
    jmp 8b
7:  hlt
    jmp 7b

    .code64
3:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $pvh_start64, %rax
    jmp *%rax

    .section .text.pvh_start64, "ax"
pvh_start64:
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movabsq $boot_start_info, %rax
    movq (%rax), %rdi
    call {kmain}
    ud2
"#,
    kmain = sym crate::kmain::kmain,
    options(att_syntax)
);

/// Size of the boot CPU's kernel stack.
pub const BOOT_STACK_SIZE: usize = 256 * 1024;

/// The boot CPU's stack, with a guard page below it that
/// `mm::kernel_space` leaves unmapped.
#[repr(C, align(4096))]
pub struct BootStack {
    pub guard: [u8; 4096],
    pub stack: [u8; BOOT_STACK_SIZE],
}

#[unsafe(no_mangle)]
#[unsafe(link_section = ".bss.boot_stack")]
pub static mut BOOT_STACK: BootStack = BootStack {
    guard: [0; 4096],
    stack: [0; BOOT_STACK_SIZE],
};

global_asm!(
    r#"
    .set boot_stack_top, BOOT_STACK + 4096 + {size}
    .global boot_stack_top
"#,
    size = const BOOT_STACK_SIZE,
    options(att_syntax)
);
