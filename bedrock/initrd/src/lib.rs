//! The boot module archive: several files packed into the one `-initrd`
//! module QEMU passes, in the standard `cpio` "newc" format (what Linux
//! initramfs uses; `cpio -H newc`).
//!
//! Format: a sequence of entries, each a 110-byte ASCII header (magic
//! `070701`, then 13 fields of exactly 8 hex digits: ino, mode, uid, gid,
//! nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
//! namesize, check), the NUL-terminated name (`namesize` counts the NUL),
//! zero padding to a multiple of 4 (counted from the archive start), the
//! data (`filesize` bytes), and zero padding to a multiple of 4 again. The
//! entry named `TRAILER!!!` ends the archive; only zero bytes may follow it
//! (cpio pads archives to 512-byte blocks).
//!
//! [`Archive::parse`] validates the whole archive once, strictly: bad
//! magic, a truncated header, a non-hex digit, an empty name, a name
//! without its NUL or with a NUL inside, a name that is not UTF-8, sizes
//! beyond the buffer, non-zero padding, a duplicate name, a missing trailer
//! or garbage after it are all errors, never a panic or an out-of-bounds
//! read. After that the archive is zero-copy: [`File`] borrows its name and
//! data from the input buffer.
//!
//! Only regular files are exposed; directories, symlinks and device nodes
//! are skipped. Names are compared exactly (no `./` stripping, no path
//! normalisation): the packer decides the names.
//!
//! [`write_newc`] is the matching encoder (files and directories, ino
//! numbered from 1, uid/gid/mtime 0 so archives are reproducible); it is
//! plain `alloc` code so that the host side can use the same format.
//!
//! Without the default `alloc` feature the parser still works (ring-3
//! programs without a heap read the boot archive with it); it then finds
//! duplicate names by rescanning, quadratic in the number of entries.

#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;

#[cfg(feature = "alloc")]
use alloc::collections::BTreeSet;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;
use core::fmt;

/// Magic of the "newc" format (no checksum).
pub const MAGIC: &[u8; 6] = b"070701";
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
/// Size of an entry header.
pub const HEADER_LEN: usize = 110;
/// File-type bits of `mode`.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFDIR: u32 = 0o040000;

/// Why an archive is rejected; `offset` is the byte offset of the problem
/// in the archive (for header fields: of the field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The buffer ends inside a header.
    TruncatedHeader {
        offset: usize,
    },
    BadMagic {
        offset: usize,
    },
    /// A header field holds a byte that is not a hex digit.
    NotHex {
        offset: usize,
    },
    /// `namesize` of 0 or 1: no name.
    EmptyName {
        offset: usize,
    },
    /// The name does not end with its NUL, or has a NUL inside.
    NameNotTerminated {
        offset: usize,
    },
    NameNotUtf8 {
        offset: usize,
    },
    /// The name runs past the end of the buffer.
    NameBeyondEnd {
        offset: usize,
        size: u32,
    },
    /// The data runs past the end of the buffer.
    DataBeyondEnd {
        offset: usize,
        size: u32,
    },
    /// A padding byte is not zero.
    BadPadding {
        offset: usize,
    },
    DuplicateName {
        offset: usize,
    },
    /// The buffer ends without a `TRAILER!!!` entry.
    MissingTrailer,
    /// A non-zero byte after the trailer.
    TrailingGarbage {
        offset: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TruncatedHeader { offset } => {
                write!(f, "cpio: truncated header at offset {offset}")
            }
            Error::BadMagic { offset } => {
                write!(
                    f,
                    "cpio: bad magic at offset {offset} (expected newc 070701)"
                )
            }
            Error::NotHex { offset } => write!(f, "cpio: non-hex digit at offset {offset}"),
            Error::EmptyName { offset } => write!(f, "cpio: empty name in entry at {offset}"),
            Error::NameNotTerminated { offset } => {
                write!(f, "cpio: name at offset {offset} is not NUL-terminated")
            }
            Error::NameNotUtf8 { offset } => {
                write!(f, "cpio: name at offset {offset} is not UTF-8")
            }
            Error::NameBeyondEnd { offset, size } => {
                write!(
                    f,
                    "cpio: name of {size} bytes at offset {offset} runs past the end"
                )
            }
            Error::DataBeyondEnd { offset, size } => {
                write!(
                    f,
                    "cpio: data of {size} bytes at offset {offset} runs past the end"
                )
            }
            Error::BadPadding { offset } => write!(f, "cpio: non-zero padding at offset {offset}"),
            Error::DuplicateName { offset } => {
                write!(f, "cpio: duplicate name in entry at offset {offset}")
            }
            Error::MissingTrailer => write!(f, "cpio: no {TRAILER} entry"),
            Error::TrailingGarbage { offset } => {
                write!(f, "cpio: data after the trailer at offset {offset}")
            }
        }
    }
}

impl core::error::Error for Error {}

/// A regular file of the archive, borrowed from its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File<'a> {
    pub name: &'a str,
    /// Full mode: type bits ([`S_IFREG`]) and permissions.
    pub mode: u32,
    pub data: &'a [u8],
}

/// A validated archive.
#[derive(Clone, Copy, Debug)]
pub struct Archive<'a> {
    bytes: &'a [u8],
    files: usize,
}

/// One decoded entry (any type) and where the next one starts.
struct Raw<'a> {
    name: &'a str,
    mode: u32,
    data: &'a [u8],
    next: usize,
}

const fn align4(x: usize) -> Option<usize> {
    match x.checked_add(3) {
        Some(v) => Some(v & !3),
        None => None,
    }
}

/// Field `index` (0 = ino) of the header at `at`; the header is in bounds.
fn field(bytes: &[u8], at: usize, index: usize) -> Result<u32, Error> {
    let start = at + MAGIC.len() + index * 8;
    let mut v = 0u32;
    for (i, &b) in bytes[start..start + 8].iter().enumerate() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(Error::NotHex { offset: start + i }),
        };
        v = (v << 4) | u32::from(digit);
    }
    Ok(v)
}

fn check_zero(bytes: &[u8], from: usize, to: usize) -> Result<(), Error> {
    match bytes[from..to].iter().position(|&b| b != 0) {
        Some(i) => Err(Error::BadPadding { offset: from + i }),
        None => Ok(()),
    }
}

/// Decodes the entry at `at` (a multiple of 4, `< bytes.len()`).
fn read_entry(bytes: &[u8], at: usize) -> Result<Raw<'_>, Error> {
    let header_end = at
        .checked_add(HEADER_LEN)
        .filter(|&e| e <= bytes.len())
        .ok_or(Error::TruncatedHeader { offset: at })?;
    if &bytes[at..at + MAGIC.len()] != MAGIC {
        return Err(Error::BadMagic { offset: at });
    }
    let mut fields = [0u32; 13];
    for (i, f) in fields.iter_mut().enumerate() {
        *f = field(bytes, at, i)?;
    }
    let (mode, filesize, namesize) = (fields[1], fields[6], fields[11]);
    if namesize <= 1 {
        return Err(Error::EmptyName { offset: at });
    }
    let name_end = header_end
        .checked_add(namesize as usize)
        .filter(|&e| e <= bytes.len())
        .ok_or(Error::NameBeyondEnd {
            offset: header_end,
            size: namesize,
        })?;
    let name = &bytes[header_end..name_end - 1];
    if bytes[name_end - 1] != 0 || name.contains(&0) {
        return Err(Error::NameNotTerminated { offset: header_end });
    }
    let name = core::str::from_utf8(name).map_err(|_| Error::NameNotUtf8 { offset: header_end })?;
    let data_start =
        align4(name_end)
            .filter(|&e| e <= bytes.len())
            .ok_or(Error::NameBeyondEnd {
                offset: header_end,
                size: namesize,
            })?;
    check_zero(bytes, name_end, data_start)?;
    let data_end = data_start
        .checked_add(filesize as usize)
        .filter(|&e| e <= bytes.len())
        .ok_or(Error::DataBeyondEnd {
            offset: data_start,
            size: filesize,
        })?;
    // The last entry's data padding may be cut off by the end of the
    // buffer only if it is the trailer's (then nothing follows anyway).
    let next = align4(data_end).map_or(bytes.len(), |n| n.min(bytes.len()));
    check_zero(bytes, data_end, next)?;
    Ok(Raw {
        name,
        mode,
        data: &bytes[data_start..data_end],
        next,
    })
}

/// Does an entry before offset `end` (entries up to there are valid) have
/// `name`? The heap-free duplicate check.
#[cfg_attr(feature = "alloc", allow(dead_code))]
fn named_before(bytes: &[u8], end: usize, name: &str) -> bool {
    let mut at = 0;
    while at < end {
        match read_entry(bytes, at) {
            Ok(raw) if raw.name == name => return true,
            Ok(raw) => at = raw.next,
            Err(_) => return false,
        }
    }
    false
}

impl<'a> Archive<'a> {
    /// Validates the whole archive (see the module documentation).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut at = 0;
        #[cfg(feature = "alloc")]
        let mut names = BTreeSet::new();
        let mut files = 0;
        loop {
            if at >= bytes.len() {
                return Err(Error::MissingTrailer);
            }
            let raw = read_entry(bytes, at)?;
            if raw.name == TRAILER {
                if let Some(i) = bytes[raw.next..].iter().position(|&b| b != 0) {
                    return Err(Error::TrailingGarbage {
                        offset: raw.next + i,
                    });
                }
                return Ok(Archive { bytes, files });
            }
            #[cfg(feature = "alloc")]
            let duplicate = !names.insert(raw.name);
            #[cfg(not(feature = "alloc"))]
            let duplicate = named_before(bytes, at, raw.name);
            if duplicate {
                return Err(Error::DuplicateName { offset: at });
            }
            if raw.mode & S_IFMT == S_IFREG {
                files += 1;
            }
            at = raw.next;
        }
    }

    /// The regular files, in archive order.
    pub fn files(&self) -> Files<'a> {
        Files {
            bytes: self.bytes,
            at: 0,
        }
    }

    /// Number of regular files.
    pub fn len(&self) -> usize {
        self.files
    }

    pub fn is_empty(&self) -> bool {
        self.files == 0
    }

    /// The regular file named exactly `name`.
    pub fn find(&self, name: &str) -> Option<File<'a>> {
        self.files().find(|f| f.name == name)
    }
}

/// Iterator over the regular files of an [`Archive`].
#[derive(Clone, Debug)]
pub struct Files<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Files<'a> {
    type Item = File<'a>;

    fn next(&mut self) -> Option<File<'a>> {
        while self.at < self.bytes.len() {
            // Validated by `Archive::parse`: an error cannot happen, but
            // ends the iteration rather than panicking if it did.
            let raw = read_entry(self.bytes, self.at).ok()?;
            if raw.name == TRAILER {
                self.at = self.bytes.len();
                return None;
            }
            self.at = raw.next;
            if raw.mode & S_IFMT == S_IFREG {
                return Some(File {
                    name: raw.name,
                    mode: raw.mode,
                    data: raw.data,
                });
            }
        }
        None
    }
}

#[cfg(feature = "alloc")]
mod encode {
    use super::*;

    /// An entry to encode with [`write_newc`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct NewEntry<'a> {
        pub name: &'a str,
        /// Type bits ([`S_IFREG`] or [`S_IFDIR`]) and permissions.
        pub mode: u32,
        pub data: &'a [u8],
    }

    impl<'a> NewEntry<'a> {
        /// A regular file, mode 0644.
        pub const fn file(name: &'a str, data: &'a [u8]) -> Self {
            NewEntry {
                name,
                mode: S_IFREG | 0o644,
                data,
            }
        }

        /// A directory, mode 0755.
        pub const fn dir(name: &'a str) -> Self {
            NewEntry {
                name,
                mode: S_IFDIR | 0o755,
                data: &[],
            }
        }
    }

    /// Why [`write_newc`] refused its input.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum EncodeError {
        /// Entry `index` has an empty name, a NUL in its name, or is named
        /// `TRAILER!!!`.
        BadName { index: usize },
        /// Entry `index` is neither a regular file nor a directory, or is a
        /// directory with data.
        BadMode { index: usize },
        /// Entry `index` has a name or data of 4 GiB or more.
        TooLarge { index: usize },
        /// Entry `index` repeats an earlier name.
        DuplicateName { index: usize },
    }

    impl fmt::Display for EncodeError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match *self {
                EncodeError::BadName { index } => write!(f, "cpio: entry {index}: bad name"),
                EncodeError::BadMode { index } => {
                    write!(f, "cpio: entry {index}: not a file or an empty directory")
                }
                EncodeError::TooLarge { index } => write!(f, "cpio: entry {index}: too large"),
                EncodeError::DuplicateName { index } => {
                    write!(f, "cpio: entry {index}: duplicate name")
                }
            }
        }
    }

    impl core::error::Error for EncodeError {}

    fn push_header(out: &mut Vec<u8>, fields: &[u32; 13]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(MAGIC);
        for &v in fields {
            for shift in (0..8).rev() {
                out.push(HEX[((v >> (shift * 4)) & 0xf) as usize]);
            }
        }
    }

    fn push_entry(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, data: &[u8]) {
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        // Sizes were checked to fit in u32 by the caller.
        let fields = [
            ino,
            mode,
            0,
            0,
            nlink,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        push_header(out, &fields);
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }

    /// Encodes `entries`, in order, followed by the trailer.
    pub fn write_newc(entries: &[NewEntry<'_>]) -> Result<Vec<u8>, EncodeError> {
        let mut names = BTreeSet::new();
        let mut size = HEADER_LEN + TRAILER.len() + 4;
        for (index, e) in entries.iter().enumerate() {
            if e.name.is_empty() || e.name.contains('\0') || e.name == TRAILER {
                return Err(EncodeError::BadName { index });
            }
            let kind = e.mode & S_IFMT;
            if !(kind == S_IFREG || kind == S_IFDIR && e.data.is_empty()) {
                return Err(EncodeError::BadMode { index });
            }
            if e.name.len() >= u32::MAX as usize || e.data.len() > u32::MAX as usize {
                return Err(EncodeError::TooLarge { index });
            }
            if !names.insert(e.name) {
                return Err(EncodeError::DuplicateName { index });
            }
            size = size.saturating_add(HEADER_LEN + e.name.len() + e.data.len() + 8);
        }
        let mut out = Vec::with_capacity(size);
        for (i, e) in entries.iter().enumerate() {
            push_entry(&mut out, (i as u32).wrapping_add(1), e.mode, e.name, e.data);
        }
        push_entry(&mut out, 0, 0, TRAILER, &[]);
        Ok(out)
    }
}
#[cfg(feature = "alloc")]
pub use encode::{EncodeError, NewEntry, write_newc};

#[cfg(test)]
mod tests {
    extern crate std;
    use alloc::format;
    use alloc::string::String;

    use super::*;

    /// A header written independently of the encoder (upper-case hex, as
    /// some writers produce, and a non-zero check field, which newc
    /// readers ignore).
    fn header(ino: u32, mode: u32, filesize: usize, namesize: usize) -> String {
        format!(
            "070701{ino:08X}{mode:08X}{:08X}{:08X}{:08X}{:08X}{filesize:08X}{:08X}{:08X}{:08X}{:08X}{namesize:08X}{:08X}",
            1000, 1000, 1, 0x6500_0000, 8, 1, 0, 0, 0xdead_beef_u32
        )
    }

    fn entry(out: &mut Vec<u8>, mode: u32, name: &str, data: &[u8]) {
        out.extend_from_slice(header(7, mode, data.len(), name.len() + 1).as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    /// Like `cpio -o -H newc` of a small tree: a directory, files, a
    /// symlink and the trailer, without the final block padding.
    fn foreign_entries() -> Vec<u8> {
        let mut a = Vec::new();
        entry(&mut a, S_IFDIR | 0o755, ".", b"");
        entry(&mut a, S_IFDIR | 0o755, "bin", b"");
        entry(&mut a, S_IFREG | 0o755, "bin/init", b"\x7fELF init program");
        entry(&mut a, 0o120777, "bin/sh", b"init");
        entry(&mut a, S_IFREG | 0o644, "etc/motd", b"hi\n");
        entry(&mut a, S_IFREG | 0o644, "empty", b"");
        entry(&mut a, 0, TRAILER, b"");
        a
    }

    /// [`foreign_entries`] padded to 512-byte blocks, as cpio writes it.
    fn foreign_archive() -> Vec<u8> {
        let mut a = foreign_entries();
        a.resize(a.len().next_multiple_of(512), 0);
        a
    }

    #[test]
    fn parses_a_foreign_archive() {
        let bytes = foreign_archive();
        let archive = Archive::parse(&bytes).unwrap();
        let files: Vec<_> = archive.files().map(|f| (f.name, f.mode, f.data)).collect();
        assert_eq!(
            files,
            [
                ("bin/init", S_IFREG | 0o755, &b"\x7fELF init program"[..]),
                ("etc/motd", S_IFREG | 0o644, &b"hi\n"[..]),
                ("empty", S_IFREG | 0o644, &b""[..]),
            ]
        );
        assert_eq!(archive.len(), 3);
        assert!(!archive.is_empty());
        assert_eq!(archive.find("etc/motd").unwrap().data, b"hi\n");
        // Exact names; directories and symlinks are not files.
        assert_eq!(archive.find("./etc/motd"), None);
        assert_eq!(archive.find("bin"), None);
        assert_eq!(archive.find("bin/sh"), None);
        assert_eq!(archive.find(TRAILER), None);
        // Zero-copy: the data points into the buffer.
        let init = archive.find("bin/init").unwrap();
        let range = bytes.as_ptr_range();
        assert!(range.contains(&init.data.as_ptr()));
    }

    #[test]
    fn round_trips_through_the_encoder() {
        let big: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let entries = [
            NewEntry::dir("bin"),
            NewEntry::file("bin/init", b"init"),
            NewEntry::file("a", b"x"),
            NewEntry::file("ab", b"xy"),
            NewEntry::file("abc", b"xyz"),
            NewEntry::file("abcd", b""),
            NewEntry::file("big", &big),
            NewEntry {
                name: "tests/hello",
                mode: S_IFREG | 0o700,
                data: b"hello",
            },
        ];
        let bytes = write_newc(&entries).unwrap();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(&bytes[..6], MAGIC);
        let archive = Archive::parse(&bytes).unwrap();
        let got: Vec<_> = archive
            .files()
            .map(|f| (f.name, f.mode, f.data.to_vec()))
            .collect();
        let want: Vec<_> = entries
            .iter()
            .filter(|e| e.mode & S_IFMT == S_IFREG)
            .map(|e| (e.name, e.mode, e.data.to_vec()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(archive.find("big").unwrap().data, &big[..]);
        // An empty archive is just the trailer.
        let empty = write_newc(&[]).unwrap();
        let archive = Archive::parse(&empty).unwrap();
        assert!(archive.is_empty());
        assert_eq!(archive.files().count(), 0);
        // Deterministic output.
        assert_eq!(write_newc(&entries).unwrap(), bytes);
    }

    #[test]
    fn encoder_rejects_bad_entries() {
        let f = NewEntry::file;
        assert_eq!(
            write_newc(&[f("", b"")]),
            Err(EncodeError::BadName { index: 0 })
        );
        assert_eq!(
            write_newc(&[f("a", b""), f("b\0c", b"")]),
            Err(EncodeError::BadName { index: 1 })
        );
        assert_eq!(
            write_newc(&[f(TRAILER, b"")]),
            Err(EncodeError::BadName { index: 0 })
        );
        assert_eq!(
            write_newc(&[f("a", b""), f("a", b"")]),
            Err(EncodeError::DuplicateName { index: 1 })
        );
        let symlink = NewEntry {
            name: "l",
            mode: 0o120777,
            data: b"x",
        };
        assert_eq!(
            write_newc(&[symlink]),
            Err(EncodeError::BadMode { index: 0 })
        );
        let dir_with_data = NewEntry {
            data: b"x",
            ..NewEntry::dir("d")
        };
        assert_eq!(
            write_newc(&[dir_with_data]),
            Err(EncodeError::BadMode { index: 0 })
        );
        assert!(!format!("{}", EncodeError::TooLarge { index: 3 }).is_empty());
    }

    #[test]
    fn specific_corruptions() {
        let good = write_newc(&[NewEntry::file("init", b"abcde")]).unwrap();
        let with = |at: usize, b: u8| {
            let mut v = good.clone();
            v[at] = b;
            v
        };
        assert_eq!(Archive::parse(&[]).err(), Some(Error::MissingTrailer));
        assert_eq!(
            Archive::parse(&good[..50]).err(),
            Some(Error::TruncatedHeader { offset: 0 })
        );
        assert_eq!(
            Archive::parse(&with(5, b'2')).err(),
            Some(Error::BadMagic { offset: 0 })
        );
        // A 'g' in filesize, a space in the ino field.
        assert_eq!(
            Archive::parse(&with(6 + 6 * 8 + 3, b'g')).err(),
            Some(Error::NotHex { offset: 57 })
        );
        assert_eq!(
            Archive::parse(&with(6, b' ')).err(),
            Some(Error::NotHex { offset: 6 })
        );
        // namesize 1 (just the NUL) and 0.
        assert_eq!(
            Archive::parse(&with(6 + 11 * 8 + 7, b'1')).err(),
            Some(Error::EmptyName { offset: 0 })
        );
        assert_eq!(
            Archive::parse(&with(6 + 11 * 8 + 7, b'0')).err(),
            Some(Error::EmptyName { offset: 0 })
        );
        // The name's NUL replaced, a NUL inside the name, bad UTF-8.
        assert_eq!(
            Archive::parse(&with(HEADER_LEN + 4, b'x')).err(),
            Some(Error::NameNotTerminated { offset: HEADER_LEN })
        );
        assert_eq!(
            Archive::parse(&with(HEADER_LEN + 1, 0)).err(),
            Some(Error::NameNotTerminated { offset: HEADER_LEN })
        );
        assert_eq!(
            Archive::parse(&with(HEADER_LEN + 1, 0xff)).err(),
            Some(Error::NameNotUtf8 { offset: HEADER_LEN })
        );
        // Non-zero padding after the name (110 + 5 = 115, padded to 116).
        assert_eq!(
            Archive::parse(&with(115, 1)).err(),
            Some(Error::BadPadding { offset: 115 })
        );
        // Non-zero padding after the data (116 + 5 = 121, padded to 124).
        assert_eq!(
            Archive::parse(&with(123, b'x')).err(),
            Some(Error::BadPadding { offset: 123 })
        );
        // Garbage after the trailer; zeros are fine.
        let mut tail = good.clone();
        tail.extend_from_slice(&[0; 100]);
        assert!(Archive::parse(&tail).is_ok());
        tail.push(1);
        assert_eq!(
            Archive::parse(&tail).err(),
            Some(Error::TrailingGarbage {
                offset: good.len() + 100
            })
        );
        // A second archive after the first is garbage too (we do not
        // concatenate archives).
        let mut two = good.clone();
        two.extend_from_slice(&good);
        assert_eq!(
            Archive::parse(&two).err(),
            Some(Error::TrailingGarbage { offset: good.len() })
        );
    }

    #[test]
    fn sizes_beyond_the_buffer() {
        let good = write_newc(&[NewEntry::file("init", b"abcde")]).unwrap();
        let set_field = |index: usize, v: u32| {
            let mut b = good.clone();
            let at = 6 + index * 8;
            b[at..at + 8].copy_from_slice(format!("{v:08x}").as_bytes());
            b
        };
        for size in [good.len() as u32, 0x7fff_ffff, u32::MAX] {
            assert_eq!(
                Archive::parse(&set_field(6, size)).err(),
                Some(Error::DataBeyondEnd { offset: 116, size })
            );
            assert_eq!(
                Archive::parse(&set_field(11, size)).err(),
                Some(Error::NameBeyondEnd {
                    offset: HEADER_LEN,
                    size
                })
            );
        }
        // A name size that points the NUL check at a non-NUL byte.
        assert_eq!(
            Archive::parse(&set_field(11, 3)).err(),
            Some(Error::NameNotTerminated { offset: HEADER_LEN })
        );
    }

    #[test]
    fn missing_trailer_and_duplicates() {
        let mut a = Vec::new();
        entry(&mut a, S_IFREG | 0o644, "x", b"1");
        assert_eq!(Archive::parse(&a).err(), Some(Error::MissingTrailer));
        let dup_at = a.len();
        entry(&mut a, S_IFDIR | 0o755, "x", b"");
        entry(&mut a, 0, TRAILER, b"");
        assert_eq!(
            Archive::parse(&a).err(),
            Some(Error::DuplicateName { offset: dup_at })
        );
        // The heap-free check (used without `alloc`) sees the same.
        assert!(named_before(&a, dup_at, "x"));
        assert!(!named_before(&a, dup_at, "y"));
        assert!(!named_before(&a, 0, "x"));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let proper = foreign_entries().len();
        let bytes = foreign_archive();
        assert!(bytes.len() > proper);
        for len in 0..bytes.len() {
            let r = Archive::parse(&bytes[..len]);
            // Valid once the whole trailer entry is there; the block
            // padding after it may be cut anywhere.
            assert_eq!(r.is_ok(), len >= proper, "truncation to {len} bytes");
        }
    }

    /// Deterministic xorshift64* generator.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn corrupted_archives_never_panic() {
        let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let good = write_newc(&[
            NewEntry::dir("d"),
            NewEntry::file("d/one", b"1"),
            NewEntry::file("two", &data),
        ])
        .unwrap();
        // Every single-byte change: either rejected or a consistent archive
        // whose files all lie in the buffer.
        let interesting = [0u8, b'0', b'1', b'7', b'f', b'F', b'g', 0xff, b'!'];
        for at in 0..good.len() {
            for &b in &interesting {
                let mut v = good.clone();
                v[at] = b;
                if let Ok(a) = Archive::parse(&v) {
                    let range = v.as_ptr_range();
                    for f in a.files() {
                        assert!(f.data.is_empty() || range.contains(&f.data.as_ptr()));
                    }
                    assert_eq!(a.files().count(), a.len());
                }
            }
        }
        // Random multi-byte garbage and random-length buffers.
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..20_000 {
            let mut v = good.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() % v.len() as u64) as usize;
                v[at] = rng.next() as u8;
            }
            let cut = (rng.next() % (v.len() as u64 + 1)) as usize;
            if let Ok(a) = Archive::parse(&v[..cut]) {
                assert_eq!(a.files().count(), a.len());
            }
        }
    }

    #[test]
    fn error_messages() {
        let e = Error::DataBeyondEnd {
            offset: 116,
            size: 9,
        };
        assert_eq!(
            format!("{e}"),
            "cpio: data of 9 bytes at offset 116 runs past the end"
        );
        assert!(format!("{}", Error::MissingTrailer).contains(TRAILER));
    }
}
