//! Architecture support. Only this folder holds assembly, port I/O, MSRs
//! and other privileged instructions; the rest of the kernel calls the
//! fixed names re-exported here.

pub mod x86_64;

pub use self::x86_64::{cpu, qemu_exit, serial};
