//! Inter-process communication: synchronous calls on ports with reply
//! objects ([`port`]), bitmask notifications ([`notification`]) and
//! shared memory objects ([`memory`]).

pub mod device;
pub mod irq_line;
pub mod memory;
pub mod notification;
pub mod port;
