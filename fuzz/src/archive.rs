//! `boot_archive`: the boot archive parser (`bedrock_initrd::Archive`),
//! which the kernel and init run over the `-initrd` module.
//!
//! Checks of an accepted archive: the file count agrees with the
//! iterator; names are unique, non-empty, without NUL; every file's data
//! lies inside the input; `find` returns each file; encoding the files
//! again with `write_newc` gives an archive that parses to the same files.
//! Refused archives must report an offset inside the input.

use std::collections::BTreeSet;

use bedrock_initrd::{Archive, Error, NewEntry, S_IFMT, S_IFREG, write_newc};

pub fn boot_archive(data: &[u8]) {
    let archive = match Archive::parse(data) {
        Ok(a) => a,
        Err(e) => {
            check_error(data, e);
            return;
        }
    };
    let files: Vec<_> = archive.files().collect();
    assert_eq!(files.len(), archive.len());
    assert_eq!(archive.is_empty(), files.is_empty());
    let range = data.as_ptr_range();
    let mut names = BTreeSet::new();
    for f in &files {
        assert!(!f.name.is_empty() && !f.name.contains('\0'));
        assert!(names.insert(f.name), "duplicate name {:?}", f.name);
        assert_eq!(f.mode & S_IFMT, S_IFREG);
        let inside = |s: &[u8]| range.start <= s.as_ptr() && s.as_ptr_range().end <= range.end;
        assert!(inside(f.data) && inside(f.name.as_bytes()));
        assert_eq!(archive.find(f.name), Some(*f));
    }
    let entries: Vec<NewEntry<'_>> = files
        .iter()
        .map(|f| NewEntry {
            name: f.name,
            mode: f.mode,
            data: f.data,
        })
        .collect();
    // TRAILER!!! never names a file (it ends the archive), so the files
    // always encode.
    let again = write_newc(&entries).expect("the files of an archive encode");
    let reparsed = Archive::parse(&again).expect("an encoded archive parses");
    assert!(reparsed.files().eq(files.iter().copied()));
}

fn check_error(data: &[u8], e: Error) {
    let offset = match e {
        Error::TruncatedHeader { offset }
        | Error::BadMagic { offset }
        | Error::NotHex { offset }
        | Error::EmptyName { offset }
        | Error::NameNotTerminated { offset }
        | Error::NameNotUtf8 { offset }
        | Error::NameBeyondEnd { offset, .. }
        | Error::DataBeyondEnd { offset, .. }
        | Error::BadPadding { offset }
        | Error::DuplicateName { offset }
        | Error::TrailingGarbage { offset } => offset,
        Error::MissingTrailer => return,
    };
    assert!(offset <= data.len(), "{e:?} past the end ({})", data.len());
    // Every error has a message.
    assert!(!e.to_string().is_empty());
}
