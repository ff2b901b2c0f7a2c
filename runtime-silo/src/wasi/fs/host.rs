//! [`HostDir`]: a host directory as a WASI filesystem provider (hosted mode),
//! on plain `std::fs`.
//!
//! Sandboxing is not this file's job: the WASI resolver hands it paths whose
//! components are plain names and whose symlinks it has already resolved
//! inside the tree. HostDir joins them under its canonical root and performs
//! the operation without following a final symlink where std allows it.
//!
//! TOCTOU caveat: path-based `std::fs` calls re-walk the host path, so if
//! something *else* replaces a directory inside the tree by a symlink between
//! the resolver's check and the operation (another process on the host, or
//! another silo sharing the same host directory), the host kernel would
//! follow that symlink, possibly out of the tree. A single silo cannot race
//! itself (its WASI calls are sequential). Closing this needs `openat2`
//! (`RESOLVE_BENEATH`) or an fd-relative walk with `O_NOFOLLOW` (e.g. via
//! rustix), which std does not offer portably; the fs strate on Bedrock is not
//! affected since it has no such shared host namespace. Do not share one
//! writable host directory between mutually distrusting silos.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    DirEntry, Errno, FileHandle, Filetype, FsPath, FsProvider, Metadata, OpenOptions, TimeChange,
    WasiResult,
};

/// A host directory exposed to guests.
#[derive(Debug)]
pub struct HostDir {
    root: PathBuf,
}

impl HostDir {
    /// Opens `path` (which must be a directory) as a provider. The path is
    /// canonicalized once here, so later moves of symlinks leading to it on
    /// the host do not change which directory is exposed.
    pub fn open(path: &Path) -> io::Result<Self> {
        let root = fs::canonicalize(path)?;
        if !fs::metadata(&root)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(HostDir { root })
    }

    /// The canonical host directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn host_path(&self, path: &FsPath) -> PathBuf {
        let mut host = self.root.clone();
        host.extend(path.components());
        host
    }
}

impl FsProvider for HostDir {
    fn metadata(&self, path: &FsPath) -> WasiResult<Metadata> {
        Ok(metadata_of(&fs::symlink_metadata(self.host_path(path))?))
    }

    fn open_file(&self, path: &FsPath, options: &OpenOptions) -> WasiResult<Box<dyn FileHandle>> {
        let file = fs::OpenOptions::new()
            .read(options.read)
            .write(options.write)
            .create(options.create)
            .create_new(options.create_new)
            .truncate(options.truncate)
            .open(self.host_path(path))?;
        Ok(Box::new(HostFile { file }))
    }

    fn read_dir(&self, path: &FsPath) -> WasiResult<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(self.host_path(path))? {
            let entry = entry?;
            // WASI paths are UTF-8 strings, so a host name that is not could
            // never be opened by the guest; it is left out of the listing
            // rather than failing the whole directory.
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let filetype = filetype_of(entry.file_type()?);
            entries.push(DirEntry {
                name,
                filetype,
                ino: dir_entry_ino(&entry),
            });
        }
        Ok(entries)
    }

    fn create_dir(&self, path: &FsPath) -> WasiResult<()> {
        Ok(fs::create_dir(self.host_path(path))?)
    }

    fn remove_dir(&self, path: &FsPath) -> WasiResult<()> {
        Ok(fs::remove_dir(self.host_path(path))?)
    }

    fn remove_file(&self, path: &FsPath) -> WasiResult<()> {
        Ok(fs::remove_file(self.host_path(path))?)
    }

    fn rename(&self, from: &FsPath, to: &FsPath) -> WasiResult<()> {
        Ok(fs::rename(self.host_path(from), self.host_path(to))?)
    }

    fn hard_link(&self, existing: &FsPath, new: &FsPath) -> WasiResult<()> {
        // std's hard_link is linkat(.., 0) on Unix: a symlink is not followed.
        Ok(fs::hard_link(
            self.host_path(existing),
            self.host_path(new),
        )?)
    }

    fn symlink(&self, target: &str, link: &FsPath) -> WasiResult<()> {
        #[cfg(unix)]
        {
            Ok(std::os::unix::fs::symlink(target, self.host_path(link))?)
        }
        #[cfg(not(unix))]
        {
            let _ = (target, link);
            Err(Errno::Notsup)
        }
    }

    fn read_link(&self, path: &FsPath) -> WasiResult<String> {
        let host = self.host_path(path);
        if !fs::symlink_metadata(&host)?.file_type().is_symlink() {
            return Err(Errno::Inval);
        }
        fs::read_link(host)?
            .into_os_string()
            .into_string()
            .map_err(|_| Errno::Ilseq)
    }

    fn set_times(&self, path: &FsPath, atim: TimeChange, mtim: TimeChange) -> WasiResult<()> {
        let host = self.host_path(path);
        if fs::symlink_metadata(&host)?.file_type().is_symlink() {
            // std can only set times through an open file, and opening
            // follows symlinks; lutimes-style updates are not available.
            return Err(Errno::Notsup);
        }
        let file = fs::File::open(&host)?;
        set_file_times(&file, atim, mtim)
    }

    fn sync_dir(&self, path: &FsPath) -> WasiResult<()> {
        // Opening a directory read-only and fsyncing it is how Unix makes
        // its entries durable. Where directories cannot be opened as files,
        // there is nothing to flush.
        match fs::File::open(self.host_path(path)) {
            Ok(dir) => Ok(dir.sync_all()?),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A host file opened through [`HostDir`].
#[derive(Debug)]
struct HostFile {
    file: fs::File,
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

fn set_file_times(file: &fs::File, atim: TimeChange, mtim: TimeChange) -> WasiResult<()> {
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

fn filetype_of(ft: fs::FileType) -> Filetype {
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

fn metadata_of(meta: &fs::Metadata) -> Metadata {
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

#[cfg(unix)]
fn dir_entry_ino(entry: &fs::DirEntry) -> u64 {
    std::os::unix::fs::DirEntryExt::ino(entry)
}

#[cfg(not(unix))]
fn dir_entry_ino(_entry: &fs::DirEntry) -> u64 {
    0
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
        fs::remove_file(&file).unwrap();
    }
}
