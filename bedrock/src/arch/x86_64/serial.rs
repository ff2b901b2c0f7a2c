//! The 16550 UART on COM1: the kernel console and the test harness channel.

use spin::Mutex;
use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;

pub struct Uart {
    base: u16,
}

impl Uart {
    /// 115200 baud, 8N1, FIFOs on, interrupts off (we poll).
    fn init(&mut self) {
        let b = self.base;
        for (off, val) in [
            (1, 0x00),
            (3, 0x80),
            (0, 0x01),
            (1, 0x00),
            (3, 0x03),
            (2, 0xc7),
            (4, 0x03),
        ] {
            // SAFETY: COM1's registers are I/O ports with no memory effects.
            unsafe { Port::<u8>::new(b + off).write(val) };
        }
    }

    fn write_byte(&mut self, byte: u8) {
        let mut lsr = Port::<u8>::new(self.base + 5);
        // Bounded wait: a missing or stuck UART must not hang the kernel.
        for _ in 0..100_000 {
            // SAFETY: reading the line status register has no side effects.
            if unsafe { lsr.read() } & 0x20 != 0 {
                break;
            }
            core::hint::spin_loop();
        }
        // SAFETY: writing the data register only transmits the byte.
        unsafe { Port::<u8>::new(self.base).write(byte) };
    }
}

impl core::fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
        Ok(())
    }
}

/// COM1, shared by every CPU. Hold the lock for a whole line.
pub static COM1_UART: Mutex<Uart> = Mutex::new(Uart { base: COM1 });

pub fn init() {
    COM1_UART.lock().init();
}

/// Writes one line with interrupts off (so a preempted holder never stalls
/// other writers on its CPU).
pub fn write_line(args: core::fmt::Arguments<'_>) {
    use core::fmt::Write;
    let were_enabled = super::interrupts::disable_save();
    let _ = writeln!(COM1_UART.lock(), "{args}");
    super::interrupts::restore(were_enabled);
}

/// Runs `f` with the UART even if its lock is held: for the panic and fault
/// paths, where the lock holder may be the very code that failed.
pub fn with_uart_forced<R>(f: impl FnOnce(&mut Uart) -> R) -> R {
    for _ in 0..1_000_000 {
        if let Some(mut uart) = COM1_UART.try_lock() {
            return f(&mut uart);
        }
        core::hint::spin_loop();
    }
    // SAFETY: the holder is not making progress (it is usually the failing
    // code itself); interleaved output is better than no report at all.
    unsafe { COM1_UART.force_unlock() };
    f(&mut COM1_UART.lock())
}
