//! Capability rights. A handle carries a subset of these; a derived handle
//! can only ever carry fewer.

/// A set of rights (bit flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct Rights(pub u32);

impl Rights {
    pub const NONE: Rights = Rights(0);
    /// Read data (memory objects, resources).
    pub const READ: Rights = Rights(1 << 0);
    /// Write data.
    pub const WRITE: Rights = Rights(1 << 1);
    /// Map into an address space (memory objects, MMIO ranges).
    pub const MAP: Rights = Rights(1 << 2);
    /// Map executable.
    pub const EXECUTE: Rights = Rights(1 << 3);
    /// Transfer the handle to another silo in a message.
    pub const GRANT: Rights = Rights(1 << 4);
    /// Make derived handles (duplicate, mint).
    pub const DUPLICATE: Rights = Rights(1 << 5);
    /// Signal a notification.
    pub const SIGNAL: Rights = Rights(1 << 6);
    /// Wait on a notification.
    pub const WAIT: Rights = Rights(1 << 7);
    /// Send calls to a port.
    pub const CALL: Rights = Rights(1 << 8);
    /// Receive calls from a port (be its server).
    pub const RECEIVE: Rights = Rights(1 << 9);
    /// End a silo (`SiloKill`).
    pub const KILL: Rights = Rights(1 << 10);
    /// Every right defined; other bits are an error.
    pub const ALL: Rights = Rights((1 << 11) - 1);

    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The rights in `bits`, or `None` if an undefined bit is set.
    pub const fn from_bits(bits: u32) -> Option<Rights> {
        if bits & !Self::ALL.0 != 0 {
            None
        } else {
            Some(Rights(bits))
        }
    }

    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    pub const fn intersection(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }
}

impl core::ops::BitOr for Rights {
    type Output = Rights;
    fn bitor(self, rhs: Rights) -> Rights {
        self.union(rhs)
    }
}
