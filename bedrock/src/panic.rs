//! Kernel panics: report once, loudly, then stop with a failure status.

use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::{cpu, qemu_exit, serial};
use bedrock_testproto::ExitCode;

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    x86_64::instructions::interrupts::disable();
    if !PANICKING.swap(true, Ordering::SeqCst) {
        serial::with_uart_forced(|uart| {
            let _ = write!(
                uart,
                "\nPANIC on cpu{}",
                crate::arch::x86_64::percpu::current().index
            );
            if let Some(loc) = info.location() {
                let _ = write!(uart, " at {}:{}:{}", loc.file(), loc.line(), loc.column());
            }
            let _ = writeln!(uart, ": {}", info.message());
        });
    }
    qemu_exit(ExitCode::Failure);
    cpu::halt_forever()
}
