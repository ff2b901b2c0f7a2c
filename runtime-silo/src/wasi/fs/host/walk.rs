//! [`WalkDir`]: the path-based host directory provider, for platforms
//! without `*at` calls (Bedrock's libOS); `HostDir` there. Built on Linux
//! only for its tests.
//!
//! A directory handle is the list of names from the root down to the
//! directory. Every use re-walks that list from the root with `lstat`,
//! refusing (`noent`: the directory is no longer there) as soon as one
//! component is not a real directory (a symlink, a file, missing) or, where
//! the platform reports inode numbers, is no longer the directory the handle
//! was opened on. Only then is the operation done by path, on a path whose
//! directories have just been checked. So a descriptor keeps naming a place
//! in the tree; a symlink planted there (or anywhere above) is never
//! followed. The check-to-use window is described in the parent module.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::super::{
    DirEntry, DirHandle, Errno, FileHandle, FsPath, FsProvider, Metadata, OpenOptions, TimeChange,
    WasiResult, is_plain_name,
};
use super::{HostFile, filetype_of, metadata_of, set_file_times};

/// A host directory exposed to guests, by path.
#[derive(Debug)]
pub struct WalkDir {
    root: PathBuf,
    id: Option<(u64, u64)>,
}

/// This provider's [`DirHandle`] content.
#[derive(Debug, Clone)]
struct WalkHandle {
    /// From the root down.
    path: FsPath,
    /// The directory's `(dev, ino)` when it was opened, where known.
    id: Option<(u64, u64)>,
}

impl WalkDir {
    /// Opens `path` (which must be a directory) as a provider. The path is
    /// canonicalized once here, so later moves of symlinks leading to it on
    /// the host do not change which directory is exposed.
    pub fn open(path: &Path) -> io::Result<Self> {
        let root = fs::canonicalize(path)?;
        let meta = fs::metadata(&root)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(WalkDir {
            root,
            id: identity(&meta),
        })
    }

    /// The canonical host directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of `dir`, after checking from the root that each of
    /// its components is still a real directory, and the same one.
    fn dir_path(&self, dir: &DirHandle) -> WasiResult<PathBuf> {
        let handle = dir.get::<WalkHandle>()?;
        let mut host = self.root.clone();
        let mut meta = fs::symlink_metadata(&host)?;
        for name in handle.path.components() {
            if !meta.is_dir() {
                return Err(Errno::Noent);
            }
            host.push(name);
            meta = fs::symlink_metadata(&host)?;
        }
        // `is_dir` of an lstat: false for a symlink, whatever it points to.
        let expected = if handle.path.is_root() {
            self.id
        } else {
            handle.id
        };
        if !meta.is_dir() || (expected.is_some() && identity(&meta) != expected) {
            return Err(Errno::Noent);
        }
        Ok(host)
    }

    /// The host path of `name` in `dir` (checked as [`Self::dir_path`]).
    fn entry_path(&self, dir: &DirHandle, name: &str) -> WasiResult<PathBuf> {
        if !is_plain_name(name) {
            return Err(Errno::Inval);
        }
        Ok(self.dir_path(dir)?.join(name))
    }
}

/// `(dev, ino)`, where the platform reports them.
#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(unix)]
fn dir_entry_ino(entry: &fs::DirEntry) -> u64 {
    std::os::unix::fs::DirEntryExt::ino(entry)
}

#[cfg(not(unix))]
fn dir_entry_ino(_entry: &fs::DirEntry) -> u64 {
    0
}

impl FsProvider for WalkDir {
    fn root_dir(&self) -> WasiResult<DirHandle> {
        Ok(DirHandle::new(WalkHandle {
            path: FsPath::root(),
            id: self.id,
        }))
    }

    fn open_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<DirHandle> {
        let host = self.entry_path(dir, name)?;
        let meta = fs::symlink_metadata(host)?;
        if !meta.is_dir() {
            return Err(Errno::Notdir);
        }
        let mut path = dir.get::<WalkHandle>()?.path.clone();
        path.push(name);
        Ok(DirHandle::new(WalkHandle {
            path,
            id: identity(&meta),
        }))
    }

    fn metadata(&self, dir: &DirHandle, name: Option<&str>) -> WasiResult<Metadata> {
        let host = match name {
            None => self.dir_path(dir)?,
            Some(name) => self.entry_path(dir, name)?,
        };
        Ok(metadata_of(&fs::symlink_metadata(host)?))
    }

    fn parent_ino(&self, dir: &DirHandle) -> Option<u64> {
        let handle = dir.get::<WalkHandle>().ok()?;
        if handle.path.is_root() {
            return None;
        }
        let host = self.dir_path(dir).ok()?;
        let parent = host.parent()?;
        Some(metadata_of(&fs::symlink_metadata(parent).ok()?).ino)
    }

    fn open_file(
        &self,
        dir: &DirHandle,
        name: &str,
        options: &OpenOptions,
    ) -> WasiResult<Box<dyn FileHandle>> {
        let host = self.entry_path(dir, name)?;
        // No portable O_NOFOLLOW: refuse a symlink seen now (what is left is
        // the window described in the parent module).
        if fs::symlink_metadata(&host).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Errno::Loop);
        }
        let file = fs::OpenOptions::new()
            .read(options.read)
            .write(options.write)
            .create(options.create)
            .create_new(options.create_new)
            .truncate(options.truncate)
            .open(host)?;
        Ok(Box::new(HostFile { file }))
    }

    fn read_dir(&self, dir: &DirHandle) -> WasiResult<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(self.dir_path(dir)?)? {
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

    fn create_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<()> {
        Ok(fs::create_dir(self.entry_path(dir, name)?)?)
    }

    fn remove_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<()> {
        Ok(fs::remove_dir(self.entry_path(dir, name)?)?)
    }

    fn remove_file(&self, dir: &DirHandle, name: &str) -> WasiResult<()> {
        Ok(fs::remove_file(self.entry_path(dir, name)?)?)
    }

    fn rename(
        &self,
        from_dir: &DirHandle,
        from: &str,
        to_dir: &DirHandle,
        to: &str,
    ) -> WasiResult<()> {
        Ok(fs::rename(
            self.entry_path(from_dir, from)?,
            self.entry_path(to_dir, to)?,
        )?)
    }

    fn hard_link(
        &self,
        dir: &DirHandle,
        existing: &str,
        new_dir: &DirHandle,
        new: &str,
    ) -> WasiResult<()> {
        // std's hard_link is linkat(.., 0) on Unix: a symlink is not followed.
        Ok(fs::hard_link(
            self.entry_path(dir, existing)?,
            self.entry_path(new_dir, new)?,
        )?)
    }

    fn symlink(&self, target: &str, dir: &DirHandle, name: &str) -> WasiResult<()> {
        let host = self.entry_path(dir, name)?;
        #[cfg(unix)]
        {
            Ok(std::os::unix::fs::symlink(target, host)?)
        }
        #[cfg(not(unix))]
        {
            let _ = (target, host);
            Err(Errno::Notsup)
        }
    }

    fn read_link(&self, dir: &DirHandle, name: &str) -> WasiResult<String> {
        let host = self.entry_path(dir, name)?;
        if !fs::symlink_metadata(&host)?.file_type().is_symlink() {
            return Err(Errno::Inval);
        }
        fs::read_link(host)?
            .into_os_string()
            .into_string()
            .map_err(|_| Errno::Ilseq)
    }

    fn set_times(
        &self,
        dir: &DirHandle,
        name: Option<&str>,
        atim: TimeChange,
        mtim: TimeChange,
    ) -> WasiResult<()> {
        let host = match name {
            None => self.dir_path(dir)?,
            Some(name) => self.entry_path(dir, name)?,
        };
        if fs::symlink_metadata(&host)?.file_type().is_symlink() {
            // std can only set times through an open file, and opening
            // follows symlinks; lutimes-style updates are not available.
            return Err(Errno::Notsup);
        }
        let file = fs::File::open(&host)?;
        set_file_times(&file, atim, mtim)
    }

    fn sync_dir(&self, dir: &DirHandle) -> WasiResult<()> {
        // Opening a directory read-only and fsyncing it is how Unix makes
        // its entries durable. Where directories cannot be opened as files,
        // there is nothing to flush.
        match fs::File::open(self.dir_path(dir)?) {
            Ok(dir) => Ok(dir.sync_all()?),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `top/outside/secret` and the provider on `top/sandbox`.
    struct World {
        top: PathBuf,
        fs: WalkDir,
    }

    impl World {
        fn new(tag: &str) -> Self {
            let top = std::env::temp_dir().join(format!("walkdir-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&top);
            fs::create_dir_all(top.join("outside")).unwrap();
            fs::create_dir_all(top.join("sandbox")).unwrap();
            fs::write(top.join("outside/secret"), "SECRET").unwrap();
            let fs = WalkDir::open(&top.join("sandbox")).unwrap();
            World { top, fs }
        }

        /// Every access through `dir` fails with `noent`; outside is intact.
        fn assert_stale(&self, dir: &DirHandle) {
            let fs = &self.fs;
            let create = OpenOptions {
                write: true,
                create: true,
                ..OpenOptions::default()
            };
            assert_eq!(fs.metadata(dir, None).err(), Some(Errno::Noent));
            assert_eq!(fs.metadata(dir, Some("secret")).err(), Some(Errno::Noent));
            assert_eq!(fs.read_dir(dir).err(), Some(Errno::Noent));
            assert_eq!(fs.open_file(dir, "x", &create).err(), Some(Errno::Noent));
            assert_eq!(
                fs.open_file(dir, "secret", &create).err(),
                Some(Errno::Noent)
            );
            assert_eq!(fs.create_dir(dir, "evil").err(), Some(Errno::Noent));
            assert_eq!(fs.remove_file(dir, "secret").err(), Some(Errno::Noent));
            assert_eq!(fs.open_dir(dir, "sub").err(), Some(Errno::Noent));
            let root = fs.root_dir().unwrap();
            assert_eq!(
                fs.rename(dir, "secret", &root, "stolen").err(),
                Some(Errno::Noent)
            );
            assert_eq!(
                fs::read_to_string(self.top.join("outside/secret")).unwrap(),
                "SECRET"
            );
            assert_eq!(fs::read_dir(self.top.join("outside")).unwrap().count(), 1);
        }
    }

    impl Drop for World {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.top);
        }
    }

    #[test]
    fn handles_work_and_refuse_symlinks() {
        let w = World::new("ok");
        let root = w.fs.root_dir().unwrap();
        w.fs.create_dir(&root, "d").unwrap();
        let d = w.fs.open_dir(&root, "d").unwrap();
        let options = OpenOptions {
            write: true,
            create: true,
            ..OpenOptions::default()
        };
        w.fs.open_file(&d, "x", &options).unwrap();
        assert!(w.top.join("sandbox/d/x").exists());
        assert_eq!(w.fs.read_dir(&d).unwrap().len(), 1);
        assert_eq!(w.fs.parent_ino(&root), None);
        assert_eq!(
            w.fs.parent_ino(&d),
            Some(w.fs.metadata(&root, None).unwrap().ino)
        );
        w.fs.symlink("../outside", &root, "l").unwrap();
        assert_eq!(w.fs.open_dir(&root, "l").err(), Some(Errno::Notdir));
        assert_eq!(
            w.fs.open_file(&root, "l", &options).err(),
            Some(Errno::Loop)
        );
        assert_eq!(w.fs.open_dir(&root, "..").err(), Some(Errno::Inval));
        assert_eq!(w.fs.metadata(&root, Some("a/b")).err(), Some(Errno::Inval));
    }

    /// The review's C2 sequence, at the provider level: the handle's
    /// directory is removed, renamed, or has a parent swapped, and a symlink
    /// to `outside/` is planted at the old name.
    #[test]
    fn stale_handles_never_follow_planted_symlinks() {
        let w = World::new("rm");
        let root = w.fs.root_dir().unwrap();
        w.fs.create_dir(&root, "d").unwrap();
        let d = w.fs.open_dir(&root, "d").unwrap();
        w.fs.remove_dir(&root, "d").unwrap();
        w.fs.symlink("../outside", &root, "d").unwrap();
        w.assert_stale(&d);

        let w = World::new("mv");
        let root = w.fs.root_dir().unwrap();
        w.fs.create_dir(&root, "d").unwrap();
        let d = w.fs.open_dir(&root, "d").unwrap();
        w.fs.rename(&root, "d", &root, "e").unwrap();
        w.fs.symlink("../outside", &root, "d").unwrap();
        w.assert_stale(&d);

        let w = World::new("parent");
        let root = w.fs.root_dir().unwrap();
        w.fs.create_dir(&root, "p").unwrap();
        let p = w.fs.open_dir(&root, "p").unwrap();
        w.fs.create_dir(&p, "outside").unwrap();
        let d = w.fs.open_dir(&p, "outside").unwrap();
        w.fs.rename(&root, "p", &root, "p2").unwrap();
        w.fs.symlink("..", &root, "p").unwrap();
        w.assert_stale(&d);

        // A different directory made at the same name is not the handle's.
        let w = World::new("recreated");
        let root = w.fs.root_dir().unwrap();
        w.fs.create_dir(&root, "d").unwrap();
        let d = w.fs.open_dir(&root, "d").unwrap();
        w.fs.rename(&root, "d", &root, "e").unwrap();
        w.fs.create_dir(&root, "d").unwrap();
        w.assert_stale(&d);
    }
}
