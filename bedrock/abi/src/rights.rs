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

impl Rights {
    /// Each defined right with its name, in bit order.
    pub const NAMED: [(Rights, &'static str); 11] = [
        (Rights::READ, "read"),
        (Rights::WRITE, "write"),
        (Rights::MAP, "map"),
        (Rights::EXECUTE, "execute"),
        (Rights::GRANT, "grant"),
        (Rights::DUPLICATE, "duplicate"),
        (Rights::SIGNAL, "signal"),
        (Rights::WAIT, "wait"),
        (Rights::CALL, "call"),
        (Rights::RECEIVE, "receive"),
        (Rights::KILL, "kill"),
    ];
}

/// `call|grant`, `none` for no rights, undefined bits in hex.
impl core::fmt::Display for Rights {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut core::fmt::Formatter<'_>| {
            let s = if first { "" } else { "|" };
            first = false;
            f.write_str(s)
        };
        for (r, name) in Rights::NAMED {
            if self.contains(r) {
                sep(f)?;
                f.write_str(name)?;
            }
        }
        let unknown = self.0 & !Rights::ALL.0;
        if unknown != 0 {
            sep(f)?;
            write!(f, "{unknown:#x}")?;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod display_tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn names() {
        assert_eq!(Rights::NONE.to_string(), "none");
        assert_eq!((Rights::CALL | Rights::GRANT).to_string(), "grant|call");
        assert_eq!(
            Rights(Rights::READ.0 | 1 << 20).to_string(),
            "read|0x100000"
        );
        let all: u32 = Rights::NAMED.iter().map(|(r, _)| r.0).sum();
        assert_eq!(all, Rights::ALL.0, "every defined right has a name");
    }
}
