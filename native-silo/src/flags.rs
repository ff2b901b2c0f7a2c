//! `open` flags of the hermit ABI (Linux's values) translated into the
//! scheme protocol's `OPEN` flags.

use bedrock_abi::scheme::open;
use hermit_abi::{O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};

/// What an `open` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenMode {
    /// Flags of the scheme protocol's `OPEN`.
    pub scheme: u64,
    pub readable: bool,
    pub writable: bool,
    /// Every write goes to the end.
    pub append: bool,
    /// Fail if the file exists (`O_CREAT | O_EXCL`).
    pub exclusive: bool,
}

/// Flags the libOS understands; others are refused rather than ignored.
const KNOWN: i32 = O_WRONLY | O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECTORY;

/// Translates; `None` for an unknown flag or access mode.
pub fn translate(flags: i32) -> Option<OpenMode> {
    if flags & !KNOWN != 0 {
        return None;
    }
    let (readable, writable) = match flags & (O_WRONLY | O_RDWR) {
        O_RDONLY => (true, false),
        O_WRONLY => (false, true),
        O_RDWR => (true, true),
        _ => return None,
    };
    let mut scheme = 0;
    for (bit, want) in [
        (open::READ, readable),
        (open::WRITE, writable || flags & O_APPEND != 0),
        (open::CREATE, flags & O_CREAT != 0),
        (open::TRUNCATE, flags & O_TRUNC != 0),
        (open::DIRECTORY, flags & O_DIRECTORY != 0),
    ] {
        if want {
            scheme |= bit;
        }
    }
    Some(OpenMode {
        scheme,
        readable,
        writable: writable || flags & O_APPEND != 0,
        append: flags & O_APPEND != 0,
        exclusive: flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_modes_and_creation() {
        let r = translate(O_RDONLY).unwrap();
        assert_eq!(r.scheme, open::READ);
        assert!(r.readable && !r.writable && !r.append);
        let w = translate(O_WRONLY | O_CREAT | O_TRUNC).unwrap();
        assert_eq!(w.scheme, open::WRITE | open::CREATE | open::TRUNCATE);
        let a = translate(O_WRONLY | O_APPEND).unwrap();
        assert!(a.append && a.writable);
        let x = translate(O_RDWR | O_CREAT | O_EXCL).unwrap();
        assert!(x.exclusive && x.readable && x.writable);
        assert!(!translate(O_RDWR | O_EXCL).unwrap().exclusive);
        let d = translate(O_RDONLY | O_DIRECTORY).unwrap();
        assert_eq!(d.scheme, open::READ | open::DIRECTORY);
    }

    #[test]
    fn nonsense_is_refused() {
        assert_eq!(translate(O_WRONLY | O_RDWR), None);
        assert_eq!(translate(0o10000000), None);
    }
}
