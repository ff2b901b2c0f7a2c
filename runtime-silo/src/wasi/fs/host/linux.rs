//! [`HostDir`] on Linux: directory handles are host directory descriptors,
//! and every operation is one `*at` call with one plain name that is never
//! followed (see the parent module for the guarantees and what is left).

use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat, Timespec, Timestamps};

use super::super::{
    DirEntry, DirHandle, Errno, FileHandle, Filetype, FsProvider, Metadata, OpenOptions,
    TimeChange, WasiResult, is_plain_name,
};
use super::HostFile;

/// How directory handles are opened: a handle for `*at` calls only (no read
/// access needed, like a path walk), which must be a directory and must not
/// be a symlink.
const DIR_HANDLE: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// How a directory is opened for reading its entries, syncing it or setting
/// its times (relative to its own handle, as `.`).
const DIR_READ: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// A host directory exposed to guests.
#[derive(Debug)]
pub struct HostDir {
    /// The canonical path, for display only: operations never use it.
    root: PathBuf,
    handle: DirHandle,
    /// `(dev, ino)` of the root, to recognise it in [`FsProvider::parent_ino`].
    id: (u64, u64),
}

/// This provider's [`DirHandle`] content.
#[derive(Debug)]
struct HostFd(OwnedFd);

impl HostDir {
    /// Opens `path` (which must be a directory) as a provider. The directory
    /// is opened once here and everything is reached from that descriptor,
    /// so later renames or symlink changes on the host path do not change
    /// which directory is exposed.
    pub fn open(path: &Path) -> io::Result<Self> {
        let root = fs::canonicalize(path)?;
        let fd = rustix::fs::open(
            &root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            let e = io::Error::from(e);
            if e.kind() == io::ErrorKind::NotADirectory {
                io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a directory", root.display()),
                )
            } else {
                e
            }
        })?;
        let stat = rustix::fs::fstat(&fd)?;
        Ok(HostDir {
            root,
            handle: DirHandle::new(HostFd(fd)),
            id: id_of(&stat),
        })
    }

    /// The canonical host directory (as it was named when opened).
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The descriptor behind one of our handles.
fn fd(dir: &DirHandle) -> WasiResult<BorrowedFd<'_>> {
    Ok(dir.get::<HostFd>()?.0.as_fd())
}

/// `name`, checked to be a single plain name (defence in depth: the WASI
/// resolver only passes such names).
fn plain(name: &str) -> WasiResult<&str> {
    if is_plain_name(name) {
        Ok(name)
    } else {
        Err(Errno::Inval)
    }
}

/// A readable descriptor on the directory itself (handles are `O_PATH`).
fn reopen(dir: &DirHandle) -> WasiResult<OwnedFd> {
    Ok(rustix::fs::openat(fd(dir)?, ".", DIR_READ, Mode::empty())?)
}

impl FsProvider for HostDir {
    fn root_dir(&self) -> WasiResult<DirHandle> {
        Ok(self.handle.clone())
    }

    fn open_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<DirHandle> {
        let fd = rustix::fs::openat(fd(dir)?, plain(name)?, DIR_HANDLE, Mode::empty())?;
        Ok(DirHandle::new(HostFd(fd)))
    }

    fn metadata(&self, dir: &DirHandle, name: Option<&str>) -> WasiResult<Metadata> {
        let stat = match name {
            None => rustix::fs::fstat(fd(dir)?)?,
            Some(name) => rustix::fs::statat(fd(dir)?, plain(name)?, AtFlags::SYMLINK_NOFOLLOW)?,
        };
        Ok(metadata_of_stat(&stat))
    }

    fn parent_ino(&self, dir: &DirHandle) -> Option<u64> {
        let fd = fd(dir).ok()?;
        let stat = rustix::fs::fstat(fd).ok()?;
        if id_of(&stat) == self.id {
            return None;
        }
        // Only a stat of `..`, never an open: nothing is reached through it.
        let parent = rustix::fs::statat(fd, "..", AtFlags::SYMLINK_NOFOLLOW).ok()?;
        Some(metadata_of_stat(&parent).ino)
    }

    fn open_file(
        &self,
        dir: &DirHandle,
        name: &str,
        options: &OpenOptions,
    ) -> WasiResult<Box<dyn FileHandle>> {
        let mut flags = match (options.read, options.write) {
            (true, true) => OFlags::RDWR,
            (false, true) => OFlags::WRONLY,
            _ => OFlags::RDONLY,
        };
        flags |= OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
        if options.create || options.create_new {
            flags |= OFlags::CREATE;
        }
        if options.create_new {
            flags |= OFlags::EXCL;
        }
        if options.truncate {
            flags |= OFlags::TRUNC;
        }
        let fd = rustix::fs::openat(fd(dir)?, plain(name)?, flags, Mode::from_raw_mode(0o666))?;
        Ok(Box::new(HostFile {
            file: fs::File::from(fd),
        }))
    }

    fn read_dir(&self, dir: &DirHandle) -> WasiResult<Vec<DirEntry>> {
        let handle = fd(dir)?;
        let mut entries = Vec::new();
        let mut listing = Dir::new(reopen(dir)?)?;
        while let Some(entry) = listing.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            // WASI paths are UTF-8 strings, so a host name that is not could
            // never be opened by the guest; it is left out of the listing
            // rather than failing the whole directory.
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let filetype = match entry.file_type() {
                // Filesystems without `d_type`: ask (without following).
                FileType::Unknown => {
                    match rustix::fs::statat(handle, name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(stat) => metadata_of_stat(&stat).filetype,
                        Err(_) => Filetype::Unknown,
                    }
                }
                kind => filetype_of(kind),
            };
            entries.push(DirEntry {
                name: name.to_owned(),
                filetype,
                ino: entry.ino(),
            });
        }
        Ok(entries)
    }

    fn create_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<()> {
        Ok(rustix::fs::mkdirat(
            fd(dir)?,
            plain(name)?,
            Mode::from_raw_mode(0o777),
        )?)
    }

    fn remove_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<()> {
        Ok(rustix::fs::unlinkat(
            fd(dir)?,
            plain(name)?,
            AtFlags::REMOVEDIR,
        )?)
    }

    fn remove_file(&self, dir: &DirHandle, name: &str) -> WasiResult<()> {
        Ok(rustix::fs::unlinkat(
            fd(dir)?,
            plain(name)?,
            AtFlags::empty(),
        )?)
    }

    fn rename(
        &self,
        from_dir: &DirHandle,
        from: &str,
        to_dir: &DirHandle,
        to: &str,
    ) -> WasiResult<()> {
        Ok(rustix::fs::renameat(
            fd(from_dir)?,
            plain(from)?,
            fd(to_dir)?,
            plain(to)?,
        )?)
    }

    fn hard_link(
        &self,
        dir: &DirHandle,
        existing: &str,
        new_dir: &DirHandle,
        new: &str,
    ) -> WasiResult<()> {
        // No AT_SYMLINK_FOLLOW: a symlink is linked, not its target.
        Ok(rustix::fs::linkat(
            fd(dir)?,
            plain(existing)?,
            fd(new_dir)?,
            plain(new)?,
            AtFlags::empty(),
        )?)
    }

    fn symlink(&self, target: &str, dir: &DirHandle, name: &str) -> WasiResult<()> {
        Ok(rustix::fs::symlinkat(target, fd(dir)?, plain(name)?)?)
    }

    fn read_link(&self, dir: &DirHandle, name: &str) -> WasiResult<String> {
        // `einval` if it is not a symlink, as the contract asks.
        let target = rustix::fs::readlinkat(fd(dir)?, plain(name)?, Vec::new())?;
        target.into_string().map_err(|_| Errno::Ilseq)
    }

    fn set_times(
        &self,
        dir: &DirHandle,
        name: Option<&str>,
        atim: TimeChange,
        mtim: TimeChange,
    ) -> WasiResult<()> {
        let times = Timestamps {
            last_access: timespec(atim),
            last_modification: timespec(mtim),
        };
        match name {
            // `utimensat` cannot act on an `O_PATH` descriptor itself.
            None => Ok(rustix::fs::futimens(reopen(dir)?, &times)?),
            Some(name) => Ok(rustix::fs::utimensat(
                fd(dir)?,
                plain(name)?,
                &times,
                AtFlags::SYMLINK_NOFOLLOW,
            )?),
        }
    }

    fn sync_dir(&self, dir: &DirHandle) -> WasiResult<()> {
        Ok(rustix::fs::fsync(reopen(dir)?)?)
    }
}

fn timespec(change: TimeChange) -> Timespec {
    match change {
        TimeChange::Omit => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        TimeChange::Now => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        TimeChange::At(ns) => Timespec {
            // Below 2^64 / 10^9 and 10^9: both fit.
            tv_sec: (ns / 1_000_000_000) as _,
            tv_nsec: (ns % 1_000_000_000) as _,
        },
    }
}

fn filetype_of(kind: FileType) -> Filetype {
    match kind {
        FileType::Directory => Filetype::Directory,
        FileType::RegularFile => Filetype::RegularFile,
        FileType::Symlink => Filetype::SymbolicLink,
        FileType::BlockDevice => Filetype::BlockDevice,
        FileType::CharacterDevice => Filetype::CharacterDevice,
        FileType::Socket => Filetype::SocketStream,
        _ => Filetype::Unknown,
    }
}

// The field types of `struct stat` differ between architectures.
#[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
fn id_of(stat: &Stat) -> (u64, u64) {
    (stat.st_dev as u64, stat.st_ino as u64)
}

/// Nanoseconds since the epoch; 0 before it, saturated far after.
fn nanos(sec: i128, nsec: i128) -> u64 {
    if sec < 0 {
        return 0;
    }
    u64::try_from(sec * 1_000_000_000 + nsec).unwrap_or(u64::MAX)
}

#[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
fn metadata_of_stat(stat: &Stat) -> Metadata {
    let (dev, ino) = id_of(stat);
    Metadata {
        filetype: filetype_of(FileType::from_raw_mode(stat.st_mode as _)),
        dev,
        ino,
        nlink: stat.st_nlink as u64,
        size: u64::try_from(stat.st_size).unwrap_or(0),
        atim: nanos(stat.st_atime as i128, stat.st_atime_nsec as i128),
        mtim: nanos(stat.st_mtime as i128, stat.st_mtime_nsec as i128),
        ctim: nanos(stat.st_ctime as i128, stat.st_ctime_nsec as i128),
    }
}
