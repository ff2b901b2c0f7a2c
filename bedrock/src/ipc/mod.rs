//! Inter-process communication: synchronous calls on ports with reply
//! objects ([`port`]) and bitmask notifications ([`notification`]).

pub mod notification;
pub mod port;
