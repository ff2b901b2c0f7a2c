//! The scheme namespace and the standard resource protocol.
//!
//! A path is `scheme:/rest`, e.g. `fs:/etc/motd`. A server registers a
//! scheme name with a port (`SchemeRegister`); a silo reaches the server
//! with `SchemeLookup` only if its namespace (fixed by its creator) has that
//! name. The kernel badges the looked-up handle with the caller's silo id,
//! so servers know who asks.
//!
//! Resource protocol, one call per operation (labels below; `words` and
//! `data` as documented per label). Replies carry a status label: 0 for
//! success, else an `Errno` number.
//! - `OPEN`: data = path after `scheme:`, words[0] = [`open`] flags. Reply:
//!   handles[0] = a handle naming the resource (a port handle the server
//!   minted, badged per resource); further calls go to that handle.
//! - `READ`: words[0] = offset, words[1] = length (<= `MAX_DATA`). Reply
//!   data = the bytes (shorter at the end).
//! - `WRITE`: words[0] = offset, data = bytes. Reply words[0] = written.
//! - `STAT`: reply words[0] = size, words[1] = kind (1 file, 2 directory).
//! - `READDIR`: words[0] = index. Reply data = name of that entry (empty:
//!   end).
//! - `MKDIR`, `UNLINK`: data = path; no resource needed (sent to the
//!   scheme's handle).
//! - `READ_BULK` / `WRITE_BULK`: words[0] = offset in the resource,
//!   words[1] = length, words[2] = offset in the shared memory object.
//!   handles[0], if sent, is the object: the server attaches it to the
//!   resource (maps it once) and later bulk calls without a handle use it.
//!   Reply words[0] = bytes moved. For transfers larger than a message:
//!   one copy, into memory both sides map.
//! - `CLOSE`: sent to the resource; the server lets go of its state (the
//!   attached object), then the client closes the handle.
//! - `SEEK` is reserved: offsets travel with every call, so a file
//!   position is the client's business.
//!
//! `user::scheme` is the client library, `user::scheme::server` the
//! server's.

pub const OPEN: u64 = 0x100;
pub const READ: u64 = 0x101;
pub const WRITE: u64 = 0x102;
pub const SEEK: u64 = 0x103;
pub const STAT: u64 = 0x104;
pub const READDIR: u64 = 0x105;
pub const MKDIR: u64 = 0x106;
pub const UNLINK: u64 = 0x107;
pub const CLOSE: u64 = 0x108;
pub const READ_BULK: u64 = 0x109;
pub const WRITE_BULK: u64 = 0x10a;

/// Longest scheme name.
pub const MAX_NAME: usize = 32;

/// Flags of `OPEN` (words[0]).
pub mod open {
    pub const READ: u64 = 1;
    pub const WRITE: u64 = 2;
    pub const CREATE: u64 = 4;
    pub const TRUNCATE: u64 = 8;
    pub const DIRECTORY: u64 = 16;
}

/// Kinds in `STAT`'s reply words[1].
pub const KIND_FILE: u64 = 1;
pub const KIND_DIRECTORY: u64 = 2;

/// Splits `scheme:/rest` into (`scheme`, `/rest`). The scheme name must be
/// 1..=[`MAX_NAME`] bytes of `[a-z0-9_-]`.
pub fn split(path: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = path.split_once(':')?;
    valid_name(scheme).then_some((scheme, rest))
}

/// True for a usable scheme name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(split("fs:/etc/motd"), Some(("fs", "/etc/motd")));
        assert_eq!(
            split("net:/tcp/10.0.2.2/80"),
            Some(("net", "/tcp/10.0.2.2/80"))
        );
        assert_eq!(split("/etc/motd"), None);
        assert_eq!(split(":/x"), None);
        assert_eq!(split("FS:/x"), None);
        assert!(!valid_name(&"a".repeat(MAX_NAME + 1)));
        assert!(valid_name("sys"));
    }
}
