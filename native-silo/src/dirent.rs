//! `getdents64` records: `dirent64` headers (inode, offset, record length,
//! type) each followed by a NUL-terminated name, 8-byte aligned, packed one
//! after the other as std's hermit `ReadDir` walks them.

use core::mem::offset_of;

use hermit_abi::dirent64;

/// Where the name starts in a record.
pub const NAME_OFFSET: usize = offset_of!(dirent64, d_name);

/// Bytes one record for a name of `len` bytes takes.
pub fn record_len(len: usize) -> usize {
    (NAME_OFFSET + len + 1).next_multiple_of(8)
}

/// Appends the record for (`ino`, `kind`, `name`) at `out[at..]`; returns
/// the offset after it, or `None` if it does not fit.
pub fn put(out: &mut [u8], at: usize, ino: u64, kind: u8, name: &[u8]) -> Option<usize> {
    let len = record_len(name.len());
    let end = at.checked_add(len).filter(|&e| e <= out.len())?;
    let reclen = u16::try_from(len).ok()?;
    let record = &mut out[at..end];
    record.fill(0);
    record[offset_of!(dirent64, d_ino)..][..8].copy_from_slice(&ino.to_ne_bytes());
    record[offset_of!(dirent64, d_off)..][..8].copy_from_slice(&(end as i64).to_ne_bytes());
    record[offset_of!(dirent64, d_reclen)..][..2].copy_from_slice(&reclen.to_ne_bytes());
    record[offset_of!(dirent64, d_type)] = kind;
    record[NAME_OFFSET..][..name.len()].copy_from_slice(name);
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Walks records as std does: by `d_reclen`, name up to its NUL.
    fn walk(buf: &[u8]) -> Vec<(u64, u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let r = &buf[at..];
            let ino = u64::from_ne_bytes(r[0..8].try_into().unwrap());
            let reclen = u16::from_ne_bytes(r[16..18].try_into().unwrap()) as usize;
            let name: Vec<u8> = r[NAME_OFFSET..]
                .iter()
                .take_while(|&&b| b != 0)
                .copied()
                .collect();
            out.push((ino, r[18], name));
            assert!(reclen.is_multiple_of(8) && reclen > 0);
            at += reclen;
        }
        out
    }

    #[test]
    fn records_round_trip() {
        let mut buf = [0xffu8; 128];
        let a = put(&mut buf, 0, 1, hermit_abi::DT_REG, b"motd").unwrap();
        let b = put(&mut buf, a, 2, hermit_abi::DT_DIR, b"a-longer-name").unwrap();
        assert_eq!(NAME_OFFSET, 19);
        assert_eq!(a, 24);
        assert_eq!(b, a + record_len(13));
        let got = walk(&buf[..b]);
        assert_eq!(
            got,
            [
                (1, hermit_abi::DT_REG, b"motd".to_vec()),
                (2, hermit_abi::DT_DIR, b"a-longer-name".to_vec())
            ]
        );
    }

    #[test]
    fn a_record_that_does_not_fit_is_refused() {
        let mut buf = [0u8; 30];
        assert_eq!(put(&mut buf, 0, 1, 0, b"123456789012"), None);
        assert_eq!(put(&mut buf, 8, 1, 0, b"x"), None);
        assert_eq!(put(&mut buf, usize::MAX, 1, 0, b"x"), None);
    }
}
