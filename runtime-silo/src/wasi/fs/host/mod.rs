//! [`HostDir`]: a host directory as a WASI filesystem provider (hosted mode).
//!
//! Two backends implement the `*at` contract of [`FsProvider`](super::FsProvider):
//!
//! - **Linux** (`linux.rs`, the hosted runtime): a directory handle is a
//!   host directory file descriptor (`O_PATH|O_DIRECTORY|O_NOFOLLOW`), and
//!   every operation is one `*at` system call on such a descriptor with one
//!   plain name, never following a symlink in it (`openat(O_NOFOLLOW)`,
//!   `fstatat(AT_SYMLINK_NOFOLLOW)`, `unlinkat`, `renameat`, ...). The host
//!   kernel never walks more than one component for us and is never asked to
//!   resolve `..`, so whatever happens to the tree by name (directories
//!   renamed, removed, replaced by symlinks, by the guest or anyone else), an
//!   operation acts on the directory its descriptor was opened on or fails.
//!   A descriptor whose directory is renamed follows it; one whose directory
//!   is removed names a deleted directory, in which Linux refuses to create
//!   anything or list (`noent`).
//! - **Elsewhere** (`walk.rs`: Bedrock, whose libOS has paths but no `*at`
//!   calls, and no symlinks): a directory handle is a path from the root,
//!   and every use re-walks it from the root, checking that each component
//!   is still a real directory (not a symlink) before the operation is done
//!   by path. A descriptor therefore keeps naming a place, not a directory.
//!
//! What is left (time-of-check to time-of-use):
//! - Linux: a directory *inside* the tree that something else on the host
//!   moves *out of* the tree while a descriptor (or an ongoing resolution)
//!   holds it stays reachable through that descriptor, as with any open
//!   directory on Unix. A guest cannot do this itself (it cannot name
//!   anything outside), only another process or silo with access to both
//!   places can. Mount points inside the tree are crossed (host
//!   configuration), and hard links to files outside made by the host are
//!   reachable, as their content is the same file.
//! - Path-based backend: between the check of a component and the
//!   operation by path, another party sharing the tree could swap a checked
//!   directory for a symlink, which the platform would then follow. A single
//!   silo cannot race itself (its WASI calls are sequential), so this needs
//!   another writer of the same tree; Bedrock's scheme filesystems have no
//!   symlinks at all.
//!
//! Do not share one writable host directory between mutually distrusting
//! silos or with untrusted host processes.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(any(not(target_os = "linux"), test))]
#[cfg_attr(all(target_os = "linux", test), allow(dead_code))]
pub(crate) mod walk;

#[cfg(target_os = "linux")]
pub use linux::HostDir;
#[cfg(not(target_os = "linux"))]
pub use walk::WalkDir as HostDir;

use std::fs;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{FileHandle, Filetype, Metadata, TimeChange, WasiResult};

/// A host file opened through [`HostDir`].
#[derive(Debug)]
pub(super) struct HostFile {
    pub(super) file: fs::File,
}

impl FileHandle for HostFile {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> WasiResult<usize> {
        retry_interrupted(|| read_at(&self.file, buf, offset))
    }

    fn write_at(&mut self, buf: &[u8], offset: u64) -> WasiResult<usize> {
        retry_interrupted(|| write_at(&self.file, buf, offset))
    }

    fn metadata(&mut self) -> WasiResult<Metadata> {
        Ok(metadata_of(&self.file.metadata()?))
    }

    fn set_len(&mut self, size: u64) -> WasiResult<()> {
        Ok(self.file.set_len(size)?)
    }

    fn set_times(&mut self, atim: TimeChange, mtim: TimeChange) -> WasiResult<()> {
        set_file_times(&self.file, atim, mtim)
    }

    fn sync_all(&mut self) -> WasiResult<()> {
        Ok(self.file.sync_all()?)
    }

    fn sync_data(&mut self) -> WasiResult<()> {
        Ok(self.file.sync_data()?)
    }
}

fn retry_interrupted(mut op: impl FnMut() -> io::Result<usize>) -> WasiResult<usize> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return Ok(result?),
        }
    }
}

#[cfg(unix)]
fn read_at(file: &fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(unix)]
fn write_at(file: &fs::File, buf: &[u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::write_at(file, buf, offset)
}

// Without positional I/O, seek then transfer. The handle is owned by one
// descriptor and only used through `&mut`, so nothing else moves the cursor
// in between.
#[cfg(not(unix))]
fn read_at(mut file: &fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read(buf)
}

#[cfg(not(unix))]
fn write_at(mut file: &fs::File, buf: &[u8], offset: u64) -> io::Result<usize> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write(buf)
}

pub(super) fn set_file_times(
    file: &fs::File,
    atim: TimeChange,
    mtim: TimeChange,
) -> WasiResult<()> {
    let mut times = fs::FileTimes::new();
    if let Some(t) = system_time(atim) {
        times = times.set_accessed(t);
    }
    if let Some(t) = system_time(mtim) {
        times = times.set_modified(t);
    }
    Ok(file.set_times(times)?)
}

/// `None` for [`TimeChange::Omit`]. "Now" is read here rather than passed
/// to the kernel as `UTIME_NOW`, which std cannot express; the difference is
/// only in which permission the kernel checks (ownership vs. write access).
fn system_time(change: TimeChange) -> Option<SystemTime> {
    match change {
        TimeChange::Omit => None,
        TimeChange::Now => Some(SystemTime::now()),
        TimeChange::At(ns) => Some(UNIX_EPOCH + Duration::from_nanos(ns)),
    }
}

fn nanos_since_epoch(time: io::Result<SystemTime>) -> u64 {
    time.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub(super) fn filetype_of(ft: fs::FileType) -> Filetype {
    if ft.is_dir() {
        return Filetype::Directory;
    }
    if ft.is_file() {
        return Filetype::RegularFile;
    }
    if ft.is_symlink() {
        return Filetype::SymbolicLink;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_block_device() {
            return Filetype::BlockDevice;
        }
        if ft.is_char_device() {
            return Filetype::CharacterDevice;
        }
        if ft.is_socket() {
            return Filetype::SocketStream;
        }
    }
    Filetype::Unknown
}

pub(super) fn metadata_of(meta: &fs::Metadata) -> Metadata {
    let atim = nanos_since_epoch(meta.accessed());
    let mtim = nanos_since_epoch(meta.modified());
    #[cfg(unix)]
    let (dev, ino, nlink, ctim) = {
        use std::os::unix::fs::MetadataExt;
        let ctim = u64::try_from(meta.ctime())
            .ok()
            .and_then(|s| s.checked_mul(1_000_000_000))
            .and_then(|ns| ns.checked_add(u64::try_from(meta.ctime_nsec()).ok()?))
            .unwrap_or(0);
        (meta.dev(), meta.ino(), meta.nlink(), ctim)
    };
    #[cfg(not(unix))]
    let (dev, ino, nlink, ctim) = (0, 0, 1, mtim);
    Metadata {
        filetype: filetype_of(meta.file_type()),
        dev,
        ino,
        nlink,
        size: meta.len(),
        atim,
        mtim,
        ctim,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_file_as_root() {
        let file = std::env::temp_dir().join(format!("hostdir-file-{}", std::process::id()));
        fs::write(&file, b"x").unwrap();
        let err = HostDir::open(&file).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory);
        let err = walk::WalkDir::open(&file).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory);
        fs::remove_file(&file).unwrap();
    }
}
