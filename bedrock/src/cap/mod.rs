//! Capabilities: handles that name a kernel object with a set of rights.
//!
//! The table of handles ([`table`]) and the derivation tree used for
//! revocation ([`revoke`]) are portable and host-tested. [`Cap`] binds them
//! to the kernel objects (ports, reply objects, notifications).
//!
//! Rules: a derived capability never has more rights than its source;
//! every operation checks the right it needs; a revoked capability fails as
//! if the handle did not exist (`BadF`), so holders learn nothing more.

pub mod revoke;
pub mod table;

#[cfg(kernel)]
mod object;

#[cfg(kernel)]
pub use object::{Cap, Object, SiloRef, ThreadRef};
