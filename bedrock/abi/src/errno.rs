//! Error codes. The numbers follow Linux/POSIX so that ports and C
//! programs map them without tables.

/// An error returned by a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum Errno {
    /// Operation not permitted.
    Perm = 1,
    NoEnt = 2,
    /// No such thread or silo.
    Srch = 3,
    Intr = 4,
    Io = 5,
    /// An argument (image, argument list, handle list) is larger than the
    /// call allows.
    TooBig = 7,
    /// Not a loadable executable (malformed or unsupported ELF image).
    NoExec = 8,
    /// Bad handle.
    BadF = 9,
    /// Try again (e.g. futex value changed).
    Again = 11,
    NoMem = 12,
    /// Permission denied by a capability's rights.
    Acces = 13,
    /// A pointer argument is outside the caller's accessible memory.
    Fault = 14,
    Busy = 16,
    Exist = 17,
    Inval = 22,
    /// Resource limit reached.
    MFile = 24,
    NoSpc = 28,
    /// Too many links: a capability's derivation chain is at its depth
    /// limit (duplicate or copy the original instead of a copy of a copy).
    MLink = 31,
    /// Result does not fit.
    Range = 34,
    /// Would deadlock (e.g. a thread joining itself).
    DeadLk = 35,
    NameTooLong = 36,
    /// Unknown system call.
    NoSys = 38,
    NotEmpty = 39,
    TimedOut = 110,
    /// The peer of an IPC is gone.
    ConnReset = 104,
    /// An errno this crate does not know (only from [`Errno::from_raw`]).
    Unknown = 4095,
}

impl Errno {
    const ALL: [Errno; 26] = [
        Errno::Perm,
        Errno::NoEnt,
        Errno::Srch,
        Errno::Intr,
        Errno::Io,
        Errno::TooBig,
        Errno::NoExec,
        Errno::BadF,
        Errno::Again,
        Errno::NoMem,
        Errno::Acces,
        Errno::Fault,
        Errno::Busy,
        Errno::Exist,
        Errno::Inval,
        Errno::MFile,
        Errno::NoSpc,
        Errno::MLink,
        Errno::Range,
        Errno::DeadLk,
        Errno::NameTooLong,
        Errno::NoSys,
        Errno::NotEmpty,
        Errno::TimedOut,
        Errno::ConnReset,
        Errno::Unknown,
    ];

    pub fn from_raw(v: u32) -> Errno {
        Self::ALL
            .into_iter()
            .find(|e| *e as u32 == v)
            .unwrap_or(Errno::Unknown)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Errno::Perm => "operation not permitted",
            Errno::NoEnt => "no such entry",
            Errno::Srch => "no such thread or silo",
            Errno::Intr => "interrupted",
            Errno::Io => "I/O error",
            Errno::TooBig => "argument too large",
            Errno::NoExec => "not an executable",
            Errno::BadF => "bad handle",
            Errno::Again => "try again",
            Errno::NoMem => "out of memory",
            Errno::Acces => "access denied",
            Errno::Fault => "bad address",
            Errno::Busy => "busy",
            Errno::Exist => "already exists",
            Errno::Inval => "invalid argument",
            Errno::MFile => "too many handles",
            Errno::NoSpc => "no space left",
            Errno::MLink => "capability derivation chain too deep",
            Errno::Range => "out of range",
            Errno::DeadLk => "would deadlock",
            Errno::NameTooLong => "name too long",
            Errno::NoSys => "no such system call",
            Errno::NotEmpty => "not empty",
            Errno::TimedOut => "timed out",
            Errno::ConnReset => "peer gone",
            Errno::Unknown => "unknown error",
        }
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} (errno {})", self.name(), *self as u32)
    }
}

impl core::error::Error for Errno {}
