//! The kernel logger: `log` records to the serial console, one line each,
//! prefixed with the time since boot and the CPU, e.g.
//! `[    0.012345] cpu0 INFO  message`.

use core::fmt::Write;
use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::arch::serial;
use crate::arch::x86_64::tsc;
use crate::arch::x86_64::{interrupts, percpu};

struct SerialLogger;

impl Log for SerialLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ns = tsc::now_ns();
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        // Interrupts off while the port is held: a preempted holder would
        // stall every other logger on this CPU.
        let were_enabled = interrupts::disable_save();
        let mut uart = serial::COM1_UART.lock();
        let _ = writeln!(
            uart,
            "[{:5}.{:06}] cpu{} {level} {}",
            ns / 1_000_000_000,
            ns % 1_000_000_000 / 1000,
            percpu::current().index,
            record.args()
        );
        drop(uart);
        interrupts::restore(were_enabled);
    }

    fn flush(&self) {}
}

static LOGGER: SerialLogger = SerialLogger;

pub fn init(level: LevelFilter) {
    // Only fails if a logger is already set, which init order rules out.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
