//! Silos as capabilities: starting one from ring 3 (`SiloSpawn`), how it
//! ended (`SiloWait`), and the handles a silo starts with.
//!
//! A spawn copies everything it needs from the caller at once: the ELF
//! image, the name, `argv`/`envp` and the namespace as packed strings (each
//! string followed by one NUL, `count` of them back to back: see [`pack`]
//! and [`unpack`]), and up to [`MAX_SPAWN_HANDLES`] handles to pass. The
//! rules are the capability rules: every handle passed needs GRANT, and a
//! child's namespace is a subset of its parent's, so no silo ever sees
//! more than the one that started it.
//!
//! A namespace entry `name` lets the silo look scheme `name` up; an entry
//! [`SERVE_PREFIX`]`name` (`+fs`) also lets it serve `name`
//! (`SchemeRegister`). [`ROOT_NAMESPACE`] grants both for every name. So a
//! client that sees `silo` can never register `silo` when its server is
//! late or dead and receive the other clients' requests.

use crate::Errno;

/// The boot archive (cpio newc, see `bedrock-initrd`) as a read-only
/// memory object: the first silo (init, whatever its program) gets it as
/// this handle, with READ, MAP, GRANT and DUPLICATE but never WRITE.
pub const BOOT_ARCHIVE_HANDLE: u32 = crate::ipc::FIRST_INITIAL_HANDLE;

/// Largest ELF image `SiloSpawn` copies (`TooBig` beyond).
pub const MAX_IMAGE: u64 = 256 << 20;
/// Most handles one spawn passes (`TooBig` beyond).
pub const MAX_SPAWN_HANDLES: usize = 16;
/// Longest silo name, in bytes.
pub const MAX_NAME: usize = 64;
/// Largest packed `argv` or `envp` buffer (`TooBig` beyond).
pub const MAX_STRINGS: usize = 64 * 1024;
/// Most namespace names one spawn grants.
pub const MAX_NAMESPACE: usize = 64;
/// The namespace entry that stands for every scheme: the kernel gives it
/// to the first silo only; a silo may pass it on only if it has it.
pub const ROOT_NAMESPACE: &str = "*";

/// Marks a namespace entry that grants serving the scheme, not only
/// looking it up: `+fs`.
pub const SERVE_PREFIX: char = '+';

/// Does a namespace with `entries` let its silo look scheme `name` up?
pub fn grants_lookup<'a>(mut entries: impl Iterator<Item = &'a str>, name: &str) -> bool {
    entries.any(|e| e == ROOT_NAMESPACE || e.strip_prefix(SERVE_PREFIX).unwrap_or(e) == name)
}

/// Does a namespace with `entries` let its silo serve scheme `name`?
pub fn grants_serve<'a>(mut entries: impl Iterator<Item = &'a str>, name: &str) -> bool {
    entries.any(|e| e == ROOT_NAMESPACE || e.strip_prefix(SERVE_PREFIX) == Some(name))
}

/// What `SiloSpawn` reads. Pointers are user addresses; a `(ptr, len)`
/// with `len == 0` is never read (the pointer may then be 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SpawnSpec {
    /// The ELF executable (static or static-PIE), 1..=[`MAX_IMAGE`] bytes.
    pub image: u64,
    pub image_len: u64,
    /// The silo's name: 1..=[`MAX_NAME`] bytes of UTF-8 without control
    /// characters (logs and `sys` listings show it).
    pub name: u64,
    pub name_len: u64,
    /// `argc` packed strings ([`pack`]); `argv[0]` is conventionally the
    /// program name.
    pub argv: u64,
    pub argv_len: u64,
    /// `envc` packed strings.
    pub envp: u64,
    pub envp_len: u64,
    /// `namespace_count` packed scheme names (or [`ROOT_NAMESPACE`]), each
    /// of which the caller's namespace must have.
    pub namespace: u64,
    pub namespace_len: u64,
    pub argc: u32,
    pub envc: u32,
    pub namespace_count: u32,
    /// How many of `handles` to pass (<= [`MAX_SPAWN_HANDLES`]).
    pub handle_count: u32,
    /// Handles of the caller; the child gets them as
    /// `FIRST_INITIAL_HANDLE + i`.
    pub handles: [u32; MAX_SPAWN_HANDLES],
    /// Bit i set: move `handles[i]` (it leaves the caller's table, keeping
    /// its place in the derivation tree); clear: pass a derived copy with
    /// the same rights (revocable by the caller).
    pub handle_move: u32,
    /// Must be 0.
    pub flags: u32,
    /// CPUs the silo's threads start on (bit i = CPU i); 0 = any. A
    /// placement, not a limit: the silo may call `SetAffinity` itself.
    pub affinity: u64,
}

/// How a silo ended, as `SiloWait` returns it: the kind in bits 32..40,
/// the exit code (as `u32`) or the exception vector in bits 0..32. Values
/// stay far below the error range of the result encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `Exit(code)`, or the last thread's `ThreadExit(code)`.
    Code(i32),
    /// An unresolvable CPU exception in ring 3 (the kernel log has the
    /// address and registers).
    Fault { vector: u8 },
    /// `SiloKill`, or ended by the kernel.
    Killed,
}

const KIND_SHIFT: u32 = 32;
const KIND_CODE: u64 = 0;
const KIND_FAULT: u64 = 1;
const KIND_KILLED: u64 = 2;

impl ExitStatus {
    pub const fn encode(self) -> u64 {
        match self {
            ExitStatus::Code(c) => (KIND_CODE << KIND_SHIFT) | c as u32 as u64,
            ExitStatus::Fault { vector } => (KIND_FAULT << KIND_SHIFT) | vector as u64,
            ExitStatus::Killed => KIND_KILLED << KIND_SHIFT,
        }
    }

    /// `None` for a value no kernel returns.
    pub const fn decode(v: u64) -> Option<ExitStatus> {
        let low = v as u32;
        match v >> KIND_SHIFT {
            KIND_CODE => Some(ExitStatus::Code(low as i32)),
            KIND_FAULT if low <= 0xff => Some(ExitStatus::Fault { vector: low as u8 }),
            KIND_KILLED if low == 0 => Some(ExitStatus::Killed),
            _ => None,
        }
    }
}

/// Packs `strings` into `buf`, each followed by a NUL; returns the bytes
/// used. `Inval` if a string holds a NUL, `TooBig` if `buf` is too small.
pub fn pack(strings: &[&str], buf: &mut [u8]) -> Result<usize, Errno> {
    let mut at = 0;
    for s in strings {
        if s.as_bytes().contains(&0) {
            return Err(Errno::Inval);
        }
        let end = at + s.len();
        if end >= buf.len() {
            return Err(Errno::TooBig);
        }
        buf[at..end].copy_from_slice(s.as_bytes());
        buf[end] = 0;
        at = end + 1;
    }
    Ok(at)
}

/// The strings of a packed buffer, validated by [`unpack`].
#[derive(Clone, Debug)]
pub struct Strings<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Strings<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let nul = self.rest.iter().position(|&b| b == 0)?;
        let (s, rest) = self.rest.split_at(nul);
        self.rest = &rest[1..];
        // Checked by `unpack`.
        core::str::from_utf8(s).ok()
    }
}

/// Checks that `buf` holds exactly `count` NUL-terminated UTF-8 strings
/// and nothing else (`Inval` otherwise; `TooBig` beyond [`MAX_STRINGS`]).
pub fn unpack(buf: &[u8], count: u32) -> Result<Strings<'_>, Errno> {
    if buf.len() > MAX_STRINGS {
        return Err(Errno::TooBig);
    }
    if buf.last().is_some_and(|&b| b != 0) {
        return Err(Errno::Inval);
    }
    let nuls = buf.iter().filter(|&&b| b == 0).count();
    if nuls != count as usize {
        return Err(Errno::Inval);
    }
    for s in buf.split(|&b| b == 0).take(nuls) {
        core::str::from_utf8(s).map_err(|_| Errno::Inval)?;
    }
    Ok(Strings { rest: buf })
}

/// A silo name: 1..=[`MAX_NAME`] bytes, no control characters.
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len()) && !name.chars().any(char::is_control)
}

/// May a silo whose namespace is `parent` grant namespace entry `entry`
/// to a child? A lookup entry (`fs`) only for a name it sees itself, a
/// serve entry (`+fs`) only for a name it may serve itself, and
/// [`ROOT_NAMESPACE`] only if it has it.
pub fn may_grant<'a>(parent: impl Iterator<Item = &'a str>, entry: &str) -> bool {
    if entry == ROOT_NAMESPACE {
        return { parent }.any(|p| p == ROOT_NAMESPACE);
    }
    match entry.strip_prefix(SERVE_PREFIX) {
        Some(name) => crate::scheme::valid_name(name) && grants_serve(parent, name),
        None => crate::scheme::valid_name(entry) && grants_lookup(parent, entry),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn status_encoding_round_trips_and_never_looks_like_an_error() {
        let all = [
            ExitStatus::Code(0),
            ExitStatus::Code(42),
            ExitStatus::Code(-1),
            ExitStatus::Code(i32::MIN),
            ExitStatus::Fault { vector: 14 },
            ExitStatus::Fault { vector: 0 },
            ExitStatus::Killed,
        ];
        for s in all {
            let v = s.encode();
            assert_eq!(ExitStatus::decode(v), Some(s));
            assert_eq!(crate::decode(v as usize), Ok(v as usize), "{s:?}");
        }
        assert_eq!(ExitStatus::Code(-1).encode(), 0xffff_ffff);
        assert_eq!(ExitStatus::decode(3 << 32), None);
        assert_eq!(ExitStatus::decode((1 << 32) | 256), None);
        assert_eq!(ExitStatus::decode((2 << 32) | 1), None);
    }

    #[test]
    fn pack_and_unpack() {
        let mut buf = [0u8; 32];
        let n = pack(&["usertest", "", "x=1"], &mut buf).unwrap();
        assert_eq!(&buf[..n], b"usertest\0\0x=1\0");
        let got: Vec<&str> = unpack(&buf[..n], 3).unwrap().collect();
        assert_eq!(got, ["usertest", "", "x=1"]);
        assert_eq!(unpack(&[], 0).unwrap().count(), 0);
        assert_eq!(pack(&[], &mut buf), Ok(0));
        assert_eq!(pack(&["a\0b"], &mut buf), Err(Errno::Inval));
        assert_eq!(
            pack(&["0123456789abcdef0123456789abcdef"], &mut buf),
            Err(Errno::TooBig)
        );
    }

    #[test]
    fn unpack_refuses_malformed_buffers() {
        assert_eq!(unpack(b"abc", 1).err(), Some(Errno::Inval), "no final NUL");
        assert_eq!(
            unpack(b"a\0b\0", 1).err(),
            Some(Errno::Inval),
            "count too low"
        );
        assert_eq!(
            unpack(b"a\0", 2).err(),
            Some(Errno::Inval),
            "count too high"
        );
        assert_eq!(unpack(b"", 1).err(), Some(Errno::Inval));
        assert_eq!(unpack(b"\xff\0", 1).err(), Some(Errno::Inval), "not UTF-8");
        let big = std::vec![0u8; MAX_STRINGS + 1];
        assert_eq!(unpack(&big, big.len() as u32).err(), Some(Errno::TooBig));
        assert_eq!(unpack(b"\0\0", 2).unwrap().collect::<Vec<_>>(), ["", ""]);
    }

    #[test]
    fn names() {
        assert!(valid_name("usertest-echo"));
        assert!(!valid_name(""));
        assert!(!valid_name("a\nb"));
        assert!(!valid_name(&"x".repeat(MAX_NAME + 1)));
    }

    #[test]
    fn namespaces_only_shrink() {
        let parent = ["fs", "sys"];
        assert!(may_grant(parent.into_iter(), "fs"));
        assert!(!may_grant(parent.into_iter(), "net"));
        assert!(!may_grant(parent.into_iter(), ROOT_NAMESPACE));
        assert!(!may_grant([].into_iter(), "fs"));
        let root = [ROOT_NAMESPACE];
        assert!(may_grant(root.into_iter(), "net"));
        assert!(may_grant(root.into_iter(), ROOT_NAMESPACE));
        assert!(
            !may_grant(root.into_iter(), "Bad Name"),
            "names are still checked"
        );
    }

    #[test]
    fn serving_needs_its_own_grant() {
        let client = ["silo", "fs"];
        assert!(grants_lookup(client.into_iter(), "silo"));
        assert!(!grants_serve(client.into_iter(), "silo"));
        assert!(!may_grant(client.into_iter(), "+silo"));
        let server = ["+silo", "fs"];
        assert!(
            grants_lookup(server.into_iter(), "silo"),
            "a server sees its scheme"
        );
        assert!(grants_serve(server.into_iter(), "silo"));
        assert!(!grants_serve(server.into_iter(), "fs"));
        assert!(may_grant(server.into_iter(), "+silo"));
        assert!(
            may_grant(server.into_iter(), "silo"),
            "it may hand out lookups"
        );
        assert!(!may_grant(server.into_iter(), "+fs"));
        assert!(!may_grant(server.into_iter(), "+"));
        assert!(!may_grant(server.into_iter(), "++silo"));
        let root = [ROOT_NAMESPACE];
        assert!(grants_serve(root.into_iter(), "net"));
        assert!(may_grant(root.into_iter(), "+net"));
        assert!(!grants_serve([].into_iter(), "net"));
        assert!(
            !grants_lookup(client.into_iter(), "+silo"),
            "the prefix is not part of a name"
        );
    }
}
