//! The `wasi_snapshot_preview1` ABI: error numbers, flag sets, enumerations
//! and the byte layouts of the structures guests exchange with us.
//!
//! Everything here transcribes the witx definitions of preview1
//! (`typenames.witx`); layouts are little-endian with the witx alignment
//! rules, and the offsets below are the ones the witx tooling computes (they
//! match `wasi-libc`'s `api.h` static assertions).
//!
//! Integer arguments narrower than 32 bits (`u8`/`u16` enums and flags) arrive
//! as `i32` in the core-wasm signature; values that do not fit the witx type,
//! enumerations out of range and flag words with unknown bits are rejected
//! with [`Errno::Inval`], as wasmtime's generated bindings do.

use std::fmt;

/// A WASI preview1 error number (`errno`, witx `u16` enum).
///
/// Functions return it as their `i32` result. Inside this module success is
/// `Ok(..)`; [`Errno::Success`] only appears as the `error` field of a
/// successful `poll_oneoff` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
#[allow(missing_docs)] // the names are the spec's; see `name()` for the text
pub enum Errno {
    Success = 0,
    TooBig = 1,
    Acces = 2,
    Addrinuse = 3,
    Addrnotavail = 4,
    Afnosupport = 5,
    Again = 6,
    Already = 7,
    Badf = 8,
    Badmsg = 9,
    Busy = 10,
    Canceled = 11,
    Child = 12,
    Connaborted = 13,
    Connrefused = 14,
    Connreset = 15,
    Deadlk = 16,
    Destaddrreq = 17,
    Dom = 18,
    Dquot = 19,
    Exist = 20,
    Fault = 21,
    Fbig = 22,
    Hostunreach = 23,
    Idrm = 24,
    Ilseq = 25,
    Inprogress = 26,
    Intr = 27,
    Inval = 28,
    Io = 29,
    Isconn = 30,
    Isdir = 31,
    Loop = 32,
    Mfile = 33,
    Mlink = 34,
    Msgsize = 35,
    Multihop = 36,
    Nametoolong = 37,
    Netdown = 38,
    Netreset = 39,
    Netunreach = 40,
    Nfile = 41,
    Nobufs = 42,
    Nodev = 43,
    Noent = 44,
    Noexec = 45,
    Nolck = 46,
    Nolink = 47,
    Nomem = 48,
    Nomsg = 49,
    Noprotoopt = 50,
    Nospc = 51,
    Nosys = 52,
    Notconn = 53,
    Notdir = 54,
    Notempty = 55,
    Notrecoverable = 56,
    Notsock = 57,
    Notsup = 58,
    Notty = 59,
    Nxio = 60,
    Overflow = 61,
    Ownerdead = 62,
    Perm = 63,
    Pipe = 64,
    Proto = 65,
    Protonosupport = 66,
    Prototype = 67,
    Range = 68,
    Rofs = 69,
    Spipe = 70,
    Srch = 71,
    Stale = 72,
    Timedout = 73,
    Txtbsy = 74,
    Xdev = 75,
    Notcapable = 76,
}

impl Errno {
    /// The number the guest sees.
    pub const fn raw(self) -> u16 {
        self as u16
    }

    /// The spec's short name (`badf`, `notcapable`, ...), for messages.
    pub const fn name(self) -> &'static str {
        use Errno::*;
        match self {
            Success => "success",
            TooBig => "2big",
            Acces => "acces",
            Addrinuse => "addrinuse",
            Addrnotavail => "addrnotavail",
            Afnosupport => "afnosupport",
            Again => "again",
            Already => "already",
            Badf => "badf",
            Badmsg => "badmsg",
            Busy => "busy",
            Canceled => "canceled",
            Child => "child",
            Connaborted => "connaborted",
            Connrefused => "connrefused",
            Connreset => "connreset",
            Deadlk => "deadlk",
            Destaddrreq => "destaddrreq",
            Dom => "dom",
            Dquot => "dquot",
            Exist => "exist",
            Fault => "fault",
            Fbig => "fbig",
            Hostunreach => "hostunreach",
            Idrm => "idrm",
            Ilseq => "ilseq",
            Inprogress => "inprogress",
            Intr => "intr",
            Inval => "inval",
            Io => "io",
            Isconn => "isconn",
            Isdir => "isdir",
            Loop => "loop",
            Mfile => "mfile",
            Mlink => "mlink",
            Msgsize => "msgsize",
            Multihop => "multihop",
            Nametoolong => "nametoolong",
            Netdown => "netdown",
            Netreset => "netreset",
            Netunreach => "netunreach",
            Nfile => "nfile",
            Nobufs => "nobufs",
            Nodev => "nodev",
            Noent => "noent",
            Noexec => "noexec",
            Nolck => "nolck",
            Nolink => "nolink",
            Nomem => "nomem",
            Nomsg => "nomsg",
            Noprotoopt => "noprotoopt",
            Nospc => "nospc",
            Nosys => "nosys",
            Notconn => "notconn",
            Notdir => "notdir",
            Notempty => "notempty",
            Notrecoverable => "notrecoverable",
            Notsock => "notsock",
            Notsup => "notsup",
            Notty => "notty",
            Nxio => "nxio",
            Overflow => "overflow",
            Ownerdead => "ownerdead",
            Perm => "perm",
            Pipe => "pipe",
            Proto => "proto",
            Protonosupport => "protonosupport",
            Prototype => "prototype",
            Range => "range",
            Rofs => "rofs",
            Spipe => "spipe",
            Srch => "srch",
            Stale => "stale",
            Timedout => "timedout",
            Txtbsy => "txtbsy",
            Xdev => "xdev",
            Notcapable => "notcapable",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.raw())
    }
}

impl std::error::Error for Errno {}

/// Result type of every WASI operation inside this module.
pub type WasiResult<T> = Result<T, Errno>;

/// Converts a raw `i32` argument carrying a witx `u8`/`u16` into that width,
/// rejecting values that do not fit.
pub(crate) fn narrow<T: TryFrom<u32>>(raw: i32) -> WasiResult<T> {
    T::try_from(raw as u32).map_err(|_| Errno::Inval)
}

/// Declares a witx `flags` type as a transparent newtype with its bits and
/// a validating constructor.
macro_rules! wasi_flags {
    (
        $(#[$meta:meta])*
        $name:ident: $repr:ty { $( $(#[$fmeta:meta])* $flag:ident = $bit:expr ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name(pub(crate) $repr);

        #[allow(dead_code)] // not every flag set needs every helper
        impl $name {
            $( $(#[$fmeta])* pub const $flag: $name = $name(1 << $bit); )*
            /// Every bit the spec defines.
            pub const ALL: $name = $name(0 $(| (1 << $bit))*);
            /// The empty set.
            pub const EMPTY: $name = $name(0);

            /// Validates a raw value: unknown bits are `inval`.
            pub fn from_bits(bits: $repr) -> WasiResult<Self> {
                if bits & !Self::ALL.0 == 0 { Ok($name(bits)) } else { Err(Errno::Inval) }
            }
            /// Validates a raw `i32` wasm argument (see [`narrow`]).
            pub(crate) fn from_arg(raw: i32) -> WasiResult<Self> {
                Self::from_bits(narrow::<$repr>(raw)?)
            }
            /// The raw bits.
            pub const fn bits(self) -> $repr { self.0 }
            /// Whether every bit of `other` is set in `self`.
            pub const fn contains(self, other: $name) -> bool { self.0 & other.0 == other.0 }
            /// Whether any bit of `other` is set in `self`.
            pub const fn intersects(self, other: $name) -> bool { self.0 & other.0 != 0 }
            /// Set union.
            pub const fn union(self, other: $name) -> $name { $name(self.0 | other.0) }
            /// Set intersection.
            pub const fn intersection(self, other: $name) -> $name { $name(self.0 & other.0) }
            /// Set difference.
            pub const fn difference(self, other: $name) -> $name { $name(self.0 & !other.0) }
        }

        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name { self.union(rhs) }
        }
        impl std::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) { self.0 |= rhs.0 }
        }
        impl std::ops::BitAnd for $name {
            type Output = $name;
            fn bitand(self, rhs: $name) -> $name { self.intersection(rhs) }
        }
    };
}

wasi_flags! {
    /// File descriptor rights (witx `rights`, `u64`): what an fd may be used
    /// for. Rights can only be dropped, never regained.
    Rights: u64 {
        FD_DATASYNC = 0,
        FD_READ = 1,
        FD_SEEK = 2,
        FD_FDSTAT_SET_FLAGS = 3,
        FD_SYNC = 4,
        FD_TELL = 5,
        FD_WRITE = 6,
        FD_ADVISE = 7,
        FD_ALLOCATE = 8,
        PATH_CREATE_DIRECTORY = 9,
        PATH_CREATE_FILE = 10,
        PATH_LINK_SOURCE = 11,
        PATH_LINK_TARGET = 12,
        PATH_OPEN = 13,
        FD_READDIR = 14,
        PATH_READLINK = 15,
        PATH_RENAME_SOURCE = 16,
        PATH_RENAME_TARGET = 17,
        PATH_FILESTAT_GET = 18,
        PATH_FILESTAT_SET_SIZE = 19,
        PATH_FILESTAT_SET_TIMES = 20,
        FD_FILESTAT_GET = 21,
        FD_FILESTAT_SET_SIZE = 22,
        FD_FILESTAT_SET_TIMES = 23,
        PATH_SYMLINK = 24,
        PATH_REMOVE_DIRECTORY = 25,
        PATH_UNLINK_FILE = 26,
        POLL_FD_READWRITE = 27,
        SOCK_SHUTDOWN = 28,
        SOCK_ACCEPT = 29,
    }
}

impl Rights {
    /// Rights meaningful on a regular file.
    pub const FILE: Rights = Rights(
        Rights::FD_DATASYNC.0
            | Rights::FD_READ.0
            | Rights::FD_SEEK.0
            | Rights::FD_FDSTAT_SET_FLAGS.0
            | Rights::FD_SYNC.0
            | Rights::FD_TELL.0
            | Rights::FD_WRITE.0
            | Rights::FD_ADVISE.0
            | Rights::FD_ALLOCATE.0
            | Rights::FD_FILESTAT_GET.0
            | Rights::FD_FILESTAT_SET_SIZE.0
            | Rights::FD_FILESTAT_SET_TIMES.0
            | Rights::POLL_FD_READWRITE.0,
    );

    /// Rights meaningful on a directory (its own base rights).
    pub const DIRECTORY: Rights = Rights(
        Rights::FD_DATASYNC.0
            | Rights::FD_SYNC.0
            | Rights::PATH_CREATE_DIRECTORY.0
            | Rights::PATH_CREATE_FILE.0
            | Rights::PATH_LINK_SOURCE.0
            | Rights::PATH_LINK_TARGET.0
            | Rights::PATH_OPEN.0
            | Rights::FD_READDIR.0
            | Rights::PATH_READLINK.0
            | Rights::PATH_RENAME_SOURCE.0
            | Rights::PATH_RENAME_TARGET.0
            | Rights::PATH_FILESTAT_GET.0
            | Rights::PATH_FILESTAT_SET_SIZE.0
            | Rights::PATH_FILESTAT_SET_TIMES.0
            | Rights::FD_FILESTAT_GET.0
            | Rights::FD_FILESTAT_SET_TIMES.0
            | Rights::PATH_SYMLINK.0
            | Rights::PATH_REMOVE_DIRECTORY.0
            | Rights::PATH_UNLINK_FILE.0,
    );

    /// What a directory may hand down to what is opened through it.
    pub const DIRECTORY_INHERITING: Rights = Rights(Rights::DIRECTORY.0 | Rights::FILE.0);

    /// Rights of the standard input.
    pub const STDIN: Rights = Rights(
        Rights::FD_READ.0
            | Rights::FD_FDSTAT_SET_FLAGS.0
            | Rights::FD_FILESTAT_GET.0
            | Rights::POLL_FD_READWRITE.0,
    );

    /// Rights of the standard output and error.
    pub const STDOUT: Rights = Rights(
        Rights::FD_WRITE.0
            | Rights::FD_DATASYNC.0
            | Rights::FD_SYNC.0
            | Rights::FD_FDSTAT_SET_FLAGS.0
            | Rights::FD_FILESTAT_GET.0
            | Rights::POLL_FD_READWRITE.0,
    );

    /// Fails with `notcapable` unless every right of `needed` is held.
    pub fn require(self, needed: Rights) -> WasiResult<()> {
        if self.contains(needed) {
            Ok(())
        } else {
            Err(Errno::Notcapable)
        }
    }
}

wasi_flags! {
    /// File descriptor flags (witx `fdflags`, `u16`).
    Fdflags: u16 {
        APPEND = 0,
        DSYNC = 1,
        NONBLOCK = 2,
        RSYNC = 3,
        SYNC = 4,
    }
}

wasi_flags! {
    /// `path_open` flags (witx `oflags`, `u16`).
    Oflags: u16 {
        CREAT = 0,
        DIRECTORY = 1,
        EXCL = 2,
        TRUNC = 3,
    }
}

wasi_flags! {
    /// Path lookup flags (witx `lookupflags`, `u32`).
    Lookupflags: u32 {
        SYMLINK_FOLLOW = 0,
    }
}

wasi_flags! {
    /// Which timestamps to change (witx `fstflags`, `u16`).
    Fstflags: u16 {
        ATIM = 0,
        ATIM_NOW = 1,
        MTIM = 2,
        MTIM_NOW = 3,
    }
}

wasi_flags! {
    /// Clock subscription flags (witx `subclockflags`, `u16`).
    Subclockflags: u16 {
        ABSTIME = 0,
    }
}

wasi_flags! {
    /// Event state flags (witx `eventrwflags`, `u16`).
    Eventrwflags: u16 {
        FD_READWRITE_HANGUP = 0,
    }
}

wasi_flags! {
    /// `sock_recv` input flags (witx `riflags`, `u16`).
    Riflags: u16 {
        RECV_PEEK = 0,
        RECV_WAITALL = 1,
    }
}

wasi_flags! {
    /// `sock_send` input flags (witx `siflags`, `u16`): none defined.
    Siflags: u16 {}
}

wasi_flags! {
    /// `sock_shutdown` directions (witx `sdflags`, `u8`).
    Sdflags: u8 {
        RD = 0,
        WR = 1,
    }
}

/// The type of a file (witx `filetype`, `u8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Filetype {
    Unknown = 0,
    BlockDevice = 1,
    CharacterDevice = 2,
    Directory = 3,
    RegularFile = 4,
    SocketDgram = 5,
    SocketStream = 6,
    SymbolicLink = 7,
}

/// `fd_seek` origin (witx `whence`, `u8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Whence {
    Set,
    Cur,
    End,
}

impl Whence {
    pub(crate) fn from_arg(raw: i32) -> WasiResult<Self> {
        match narrow::<u8>(raw)? {
            0 => Ok(Whence::Set),
            1 => Ok(Whence::Cur),
            2 => Ok(Whence::End),
            _ => Err(Errno::Inval),
        }
    }
}

/// Clock identifiers (witx `clockid`, `u32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clockid {
    Realtime,
    Monotonic,
    ProcessCputime,
    ThreadCputime,
}

impl Clockid {
    pub(crate) fn from_raw(raw: u32) -> WasiResult<Self> {
        match raw {
            0 => Ok(Clockid::Realtime),
            1 => Ok(Clockid::Monotonic),
            2 => Ok(Clockid::ProcessCputime),
            3 => Ok(Clockid::ThreadCputime),
            _ => Err(Errno::Inval),
        }
    }
}

/// Number of defined `advice` values (witx `advice`, `u8`: normal,
/// sequential, random, willneed, dontneed, noreuse).
pub(crate) const ADVICE_COUNT: u8 = 6;

/// Highest defined `signal` value (witx `signal`, `u8`: none .. sys).
pub(crate) const SIGNAL_MAX: u8 = 30;

/// Event types (witx `eventtype`, `u8`).
pub(crate) const EVENTTYPE_CLOCK: u8 = 0;
pub(crate) const EVENTTYPE_FD_READ: u8 = 1;
pub(crate) const EVENTTYPE_FD_WRITE: u8 = 2;

/// `preopentype::dir`, the only preopen kind.
pub(crate) const PREOPENTYPE_DIR: u8 = 0;

/// Byte layouts (size, field offsets) of the witx structures.
pub(crate) mod layout {
    /// `iovec` / `ciovec`: `buf: u32` at 0, `buf_len: u32` at 4.
    pub const IOVEC_SIZE: u32 = 8;

    /// `fdstat`.
    pub const FDSTAT_SIZE: u32 = 24;
    pub const FDSTAT_FILETYPE: u32 = 0;
    pub const FDSTAT_FLAGS: u32 = 2;
    pub const FDSTAT_RIGHTS_BASE: u32 = 8;
    pub const FDSTAT_RIGHTS_INHERITING: u32 = 16;

    /// `filestat`.
    pub const FILESTAT_SIZE: u32 = 64;
    pub const FILESTAT_DEV: u32 = 0;
    pub const FILESTAT_INO: u32 = 8;
    pub const FILESTAT_FILETYPE: u32 = 16;
    pub const FILESTAT_NLINK: u32 = 24;
    pub const FILESTAT_SIZE_FIELD: u32 = 32;
    pub const FILESTAT_ATIM: u32 = 40;
    pub const FILESTAT_MTIM: u32 = 48;
    pub const FILESTAT_CTIM: u32 = 56;

    /// `prestat`: `tag: u8` at 0, `u.dir.pr_name_len: u32` at 4.
    pub const PRESTAT_SIZE: u32 = 8;
    pub const PRESTAT_NAME_LEN: u32 = 4;

    /// `dirent` header (the name bytes follow it, unterminated).
    pub const DIRENT_SIZE: usize = 24;
    pub const DIRENT_NEXT: usize = 0;
    pub const DIRENT_INO: usize = 8;
    pub const DIRENT_NAMLEN: usize = 16;
    pub const DIRENT_TYPE: usize = 20;

    /// `subscription`: `userdata: u64` at 0, then the `subscription_u`
    /// union at 8 whose tag is at 8 and whose payload starts at 16.
    pub const SUBSCRIPTION_SIZE: u32 = 48;
    pub const SUBSCRIPTION_USERDATA: u32 = 0;
    pub const SUBSCRIPTION_TAG: u32 = 8;
    /// `subscription_clock` fields, relative to the subscription.
    pub const SUBSCRIPTION_CLOCK_ID: u32 = 16;
    pub const SUBSCRIPTION_CLOCK_TIMEOUT: u32 = 24;
    // `precision` (u64 at 32) is not read: it may be ignored.
    pub const SUBSCRIPTION_CLOCK_FLAGS: u32 = 40;
    /// `subscription_fd_readwrite::file_descriptor`.
    pub const SUBSCRIPTION_FD: u32 = 16;

    /// `event`.
    pub const EVENT_SIZE: u32 = 32;
    pub const EVENT_USERDATA: u32 = 0;
    pub const EVENT_ERROR: u32 = 8;
    pub const EVENT_TYPE: u32 = 10;
    pub const EVENT_NBYTES: u32 = 16;
    pub const EVENT_FLAGS: u32 = 24;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_numbering_matches_witx() {
        assert_eq!(Errno::TooBig.raw(), 1);
        assert_eq!(Errno::Badf.raw(), 8);
        assert_eq!(Errno::Fault.raw(), 21);
        assert_eq!(Errno::Inval.raw(), 28);
        assert_eq!(Errno::Noent.raw(), 44);
        assert_eq!(Errno::Nosys.raw(), 52);
        assert_eq!(Errno::Notsock.raw(), 57);
        assert_eq!(Errno::Perm.raw(), 63);
        assert_eq!(Errno::Notcapable.raw(), 76);
    }

    #[test]
    fn flags_reject_unknown_bits() {
        assert_eq!(Oflags::from_bits(0b1111), Ok(Oflags(0b1111)));
        assert_eq!(Oflags::from_bits(0b1_0000), Err(Errno::Inval));
        assert_eq!(Rights::ALL.bits(), (1 << 30) - 1);
        assert_eq!(Fdflags::from_arg(0x1_0000), Err(Errno::Inval));
        assert_eq!(Siflags::from_bits(1), Err(Errno::Inval));
    }
}
