//! x86_64 support: PVH entry, CPU helpers, serial port, descriptor tables,
//! exceptions, paging glue, per-CPU data, local APIC, SMP bring-up and the
//! TSC clock.

pub mod apic;
pub mod cpu;
pub mod entry;
pub mod gdt;
pub mod hpet;
pub mod idt;
pub mod interrupts;
pub mod ioapic;
pub mod irq;
pub mod paging;
pub mod percpu;
pub mod portio;
pub mod rtc;
pub mod serial;
pub mod smp;
pub mod switch;
pub mod syscall;
pub mod tsc;
pub mod usercopy;

/// Leaves QEMU through the `isa-debug-exit` device with `code`; on a machine
/// without that device this returns and the caller halts instead.
pub fn qemu_exit(code: bedrock_testproto::ExitCode) {
    let mut port =
        ::x86_64::instructions::port::Port::<u32>::new(bedrock_testproto::DEBUG_EXIT_PORT);
    // SAFETY: writing the debug-exit port has no effect on memory; where the
    // device is absent the write is ignored.
    unsafe { port.write(code as u32) };
}
