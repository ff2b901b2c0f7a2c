//! ACPI: what the firmware tables say about the machine (CPUs, interrupt
//! controllers, timers). Parsing the tables is the `acpi` crate's job
//! ([`tables`], kernel only); [`topology`] is the portable summary the rest
//! of the kernel uses, built and validated from MADT items.

pub mod topology;

#[cfg(kernel)]
mod tables;

#[cfg(kernel)]
pub use tables::discover;
