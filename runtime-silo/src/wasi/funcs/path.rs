//! `path_*`: operations on names relative to a directory descriptor.
//!
//! Every function resolves its path with `wasi::path::resolve`, which keeps
//! it inside the descriptor's directory; the rules for the final component
//! (followed or not, `.`/`..`, trailing slashes) follow POSIX's `*at`
//! functions, with the errno values Linux gives.

use std::sync::Arc;

use crate::wasi::WasiCtx;
use crate::wasi::abi::{Errno, Fdflags, Filetype, Lookupflags, Oflags, Rights, WasiResult, layout};
use crate::wasi::fd_table::{Descriptor, Object, OpenDir, OpenFile};
use crate::wasi::fs::{DirHandle, FsProvider, OpenOptions};
use crate::wasi::memory::GuestMemory;
use crate::wasi::path::{MAX_PATH_LEN, Resolved, has_trailing_slash, resolve};

use super::fd::{time_changes, write_filestat};

/// The rights that need the host file opened for writing.
const WRITE_RIGHTS: Rights =
    Rights(Rights::FD_WRITE.0 | Rights::FD_ALLOCATE.0 | Rights::FD_FILESTAT_SET_SIZE.0);

fn lookup_flags(raw: i32) -> WasiResult<Lookupflags> {
    Lookupflags::from_bits(raw as u32)
}

/// Whether two descriptors are on the same provider (hard links and renames
/// cannot cross providers: `xdev`).
fn same_provider(a: &Arc<dyn FsProvider>, b: &Arc<dyn FsProvider>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

impl WasiCtx {
    /// The provider and handle of directory `fd`, which must hold `right`.
    fn dir_for(&self, fd: u32, right: Rights) -> WasiResult<(Arc<dyn FsProvider>, DirHandle)> {
        let (descriptor, dir) = self.fds.dir(fd)?;
        descriptor.require(right)?;
        Ok((Arc::clone(&dir.fs), dir.dir.clone()))
    }

    #[allow(clippy::too_many_arguments)] // the preview1 signature
    pub(crate) fn path_open(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        dirflags: i32,
        path: (u32, u32),
        oflags: i32,
        rights_base: u64,
        rights_inheriting: u64,
        fdflags: i32,
        out: u32,
    ) -> WasiResult<()> {
        let lookup = lookup_flags(dirflags)?;
        let oflags = Oflags::from_arg(oflags)?;
        let rights_base = Rights::from_bits(rights_base)?;
        let rights_inheriting = Rights::from_bits(rights_inheriting)?;
        let fdflags = Fdflags::from_arg(fdflags)?;
        mem.check(out, 4)?;
        let path = mem.read_str(path.0, path.1)?;

        let (descriptor, dir) = self.fds.dir(fd)?;
        let mut needed = Rights::PATH_OPEN;
        if oflags.contains(Oflags::CREAT) {
            needed |= Rights::PATH_CREATE_FILE;
        }
        if oflags.contains(Oflags::TRUNC) {
            needed |= Rights::PATH_FILESTAT_SET_SIZE;
        }
        descriptor.require(needed)?;
        // What the new descriptor asks for must be inheritable from here.
        let mut wanted = rights_base | rights_inheriting;
        if fdflags.contains(Fdflags::DSYNC) {
            wanted |= Rights::FD_DATASYNC;
        }
        if fdflags.intersects(Fdflags::RSYNC | Fdflags::SYNC) {
            wanted |= Rights::FD_SYNC;
        }
        descriptor.rights_inheriting.require(wanted)?;
        if oflags.contains(Oflags::DIRECTORY)
            && oflags.intersects(Oflags::CREAT | Oflags::EXCL | Oflags::TRUNC)
        {
            return Err(Errno::Inval);
        }
        if self.fds.is_full() {
            return Err(Errno::Mfile);
        }
        let fs = Arc::clone(&dir.fs);
        let base = dir.dir.clone();

        let create = oflags.contains(Oflags::CREAT);
        let exclusive = create && oflags.contains(Oflags::EXCL);
        // O_CREAT|O_EXCL never follows a final symlink (it must fail with
        // `exist`, even on a dangling one).
        let follow = !exclusive
            && (lookup.contains(Lookupflags::SYMLINK_FOLLOW) || has_trailing_slash(path));
        let resolved = resolve(&*fs, &base, path, follow)?;

        let object = match resolved.lookup(&*fs)? {
            Some(_) if exclusive => return Err(Errno::Exist),
            // A final symlink we were told not to follow (O_NOFOLLOW).
            Some(meta) if meta.filetype == Filetype::SymbolicLink => return Err(Errno::Loop),
            Some(meta) if meta.filetype == Filetype::Directory => {
                if oflags.intersects(Oflags::TRUNC | Oflags::CREAT)
                    || rights_base.intersects(Rights::FD_WRITE)
                {
                    return Err(Errno::Isdir);
                }
                let dir = resolved.open_dir(&*fs)?;
                Object::Dir(OpenDir {
                    fs,
                    dir,
                    preopen: None,
                    listing: None,
                })
            }
            Some(_) => {
                if oflags.contains(Oflags::DIRECTORY) || resolved.must_be_dir {
                    return Err(Errno::Notdir);
                }
                open_file(
                    &*fs,
                    &resolved,
                    rights_base,
                    Creation::Existing,
                    oflags.contains(Oflags::TRUNC),
                )?
            }
            None => {
                if !create {
                    return Err(Errno::Noent);
                }
                if resolved.must_be_dir {
                    return Err(Errno::Isdir);
                }
                let creation = if exclusive {
                    Creation::New
                } else {
                    Creation::IfMissing
                };
                open_file(&*fs, &resolved, rights_base, creation, false)?
            }
        };
        let rights_base = match object {
            Object::Dir(_) => rights_base & Rights::DIRECTORY,
            _ => rights_base & Rights::FILE,
        };
        let new_fd = self.fds.insert(Descriptor {
            object,
            rights_base,
            rights_inheriting,
            flags: fdflags,
        })?;
        mem.write_u32(out, new_fd)
    }

    pub(crate) fn path_create_directory(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: (u32, u32),
    ) -> WasiResult<()> {
        let path = mem.read_str(path.0, path.1)?;
        let (fs, base) = self.dir_for(fd, Rights::PATH_CREATE_DIRECTORY)?;
        let resolved = resolve(&*fs, &base, path, false)?;
        let name = resolved.entry_name(Errno::Exist)?;
        if resolved.lookup(&*fs)?.is_some() {
            return Err(Errno::Exist);
        }
        fs.create_dir(&resolved.parent, name)
    }

    pub(crate) fn path_filestat_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        flags: i32,
        path: (u32, u32),
        out: u32,
    ) -> WasiResult<()> {
        let flags = lookup_flags(flags)?;
        mem.check(out, layout::FILESTAT_SIZE)?;
        let path = mem.read_str(path.0, path.1)?;
        let (fs, base) = self.dir_for(fd, Rights::PATH_FILESTAT_GET)?;
        let resolved = resolve_existing(&*fs, &base, path, flags)?;
        let meta = fs.metadata(&resolved.parent, resolved.name.as_deref())?;
        write_filestat(mem, out, &meta)
    }

    #[allow(clippy::too_many_arguments)] // the preview1 signature
    pub(crate) fn path_filestat_set_times(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        flags: i32,
        path: (u32, u32),
        atim: u64,
        mtim: u64,
        fst_flags: i32,
    ) -> WasiResult<()> {
        let flags = lookup_flags(flags)?;
        let (atim, mtim) = time_changes(atim, mtim, fst_flags)?;
        let path = mem.read_str(path.0, path.1)?;
        let (fs, base) = self.dir_for(fd, Rights::PATH_FILESTAT_SET_TIMES)?;
        let resolved = resolve_existing(&*fs, &base, path, flags)?;
        fs.set_times(&resolved.parent, resolved.name.as_deref(), atim, mtim)
    }

    /// Creates a hard link. With `symlink_follow` a final symlink in
    /// `old_path` is resolved first (POSIX `AT_SYMLINK_FOLLOW`); without it
    /// the link points at the symlink itself.
    pub(crate) fn path_link(
        &mut self,
        mem: &mut GuestMemory<'_>,
        old_fd: u32,
        old_flags: i32,
        old_path: (u32, u32),
        new_fd: u32,
        new_path: (u32, u32),
    ) -> WasiResult<()> {
        let old_flags = lookup_flags(old_flags)?;
        let old_path = mem.read_str(old_path.0, old_path.1)?;
        let new_path = mem.read_str(new_path.0, new_path.1)?;
        let (old_fs, old_base) = self.dir_for(old_fd, Rights::PATH_LINK_SOURCE)?;
        let (new_fs, new_base) = self.dir_for(new_fd, Rights::PATH_LINK_TARGET)?;
        if !same_provider(&old_fs, &new_fs) {
            return Err(Errno::Xdev);
        }
        let old = resolve(
            &*old_fs,
            &old_base,
            old_path,
            old_flags.contains(Lookupflags::SYMLINK_FOLLOW),
        )?;
        // Hard links to directories are not allowed (Linux: EPERM).
        let old_name = old.entry_name(Errno::Perm)?;
        match old.lookup(&*old_fs)? {
            None => return Err(Errno::Noent),
            Some(meta) if meta.filetype == Filetype::Directory => return Err(Errno::Perm),
            Some(_) if old.must_be_dir => return Err(Errno::Notdir),
            Some(_) => {}
        }
        let new = resolve_for_creation(&*new_fs, &new_base, new_path)?;
        let new_name = new.entry_name(Errno::Exist)?;
        new_fs.hard_link(&old.parent, old_name, &new.parent, new_name)
    }

    /// Reads a symlink's content, truncated to `buf_len` like POSIX
    /// `readlink` (callers retry with a bigger buffer when it is full).
    #[allow(clippy::too_many_arguments)] // the preview1 signature
    pub(crate) fn path_readlink(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: (u32, u32),
        buf: u32,
        buf_len: u32,
        bufused: u32,
    ) -> WasiResult<()> {
        mem.check(buf, buf_len)?;
        mem.check(bufused, 4)?;
        let path = mem.read_str(path.0, path.1)?;
        let (fs, base) = self.dir_for(fd, Rights::PATH_READLINK)?;
        let resolved = resolve(&*fs, &base, path, false)?;
        let name = resolved.entry_name(Errno::Inval)?;
        match resolved.lookup(&*fs)? {
            None => return Err(Errno::Noent),
            Some(meta) if meta.filetype != Filetype::SymbolicLink => return Err(Errno::Inval),
            Some(_) => {}
        }
        let target = fs.read_link(&resolved.parent, name)?;
        let bytes = &target.as_bytes()[..target.len().min(buf_len as usize)];
        mem.write_bytes(buf, bytes)?;
        // bytes.len() <= buf_len.
        mem.write_u32(bufused, bytes.len() as u32)
    }

    pub(crate) fn path_remove_directory(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: (u32, u32),
    ) -> WasiResult<()> {
        let path = mem.read_str(path.0, path.1)?;
        let (fs, base) = self.dir_for(fd, Rights::PATH_REMOVE_DIRECTORY)?;
        let resolved = resolve(&*fs, &base, path, false)?;
        // POSIX: a final `.` or `..` is EINVAL. This also protects the
        // descriptor's own directory.
        let name = resolved.entry_name(Errno::Inval)?;
        match resolved.lookup(&*fs)? {
            None => Err(Errno::Noent),
            Some(meta) if meta.filetype != Filetype::Directory => Err(Errno::Notdir),
            Some(_) => fs.remove_dir(&resolved.parent, name),
        }
    }

    /// Renames within one provider. POSIX rules: a final `.`/`..` is
    /// `inval`; a trailing slash requires the source to be a directory.
    pub(crate) fn path_rename(
        &mut self,
        mem: &mut GuestMemory<'_>,
        old_fd: u32,
        old_path: (u32, u32),
        new_fd: u32,
        new_path: (u32, u32),
    ) -> WasiResult<()> {
        let old_path = mem.read_str(old_path.0, old_path.1)?;
        let new_path = mem.read_str(new_path.0, new_path.1)?;
        let (old_fs, old_base) = self.dir_for(old_fd, Rights::PATH_RENAME_SOURCE)?;
        let (new_fs, new_base) = self.dir_for(new_fd, Rights::PATH_RENAME_TARGET)?;
        if !same_provider(&old_fs, &new_fs) {
            return Err(Errno::Xdev);
        }
        let old = resolve(&*old_fs, &old_base, old_path, false)?;
        let old_name = old.entry_name(Errno::Inval)?;
        let new = resolve(&*new_fs, &new_base, new_path, false)?;
        let new_name = new.entry_name(Errno::Inval)?;
        let Some(meta) = old.lookup(&*old_fs)? else {
            return Err(Errno::Noent);
        };
        if (old.must_be_dir || new.must_be_dir) && meta.filetype != Filetype::Directory {
            return Err(Errno::Notdir);
        }
        old_fs.rename(&old.parent, old_name, &new.parent, new_name)
    }

    /// Creates a symlink. Absolute targets are refused with `perm` (as
    /// cap-std does): they could never be followed inside the sandbox and
    /// would reveal or reach host paths to anything else following them.
    /// Relative targets are stored as given, even if they lead outside: only
    /// following them is refused.
    pub(crate) fn path_symlink(
        &mut self,
        mem: &mut GuestMemory<'_>,
        target: (u32, u32),
        fd: u32,
        path: (u32, u32),
    ) -> WasiResult<()> {
        let target = mem.read_str(target.0, target.1)?;
        let path = mem.read_str(path.0, path.1)?;
        let (fs, base) = self.dir_for(fd, Rights::PATH_SYMLINK)?;
        if target.is_empty() {
            return Err(Errno::Noent);
        }
        if target.len() > MAX_PATH_LEN {
            return Err(Errno::Nametoolong);
        }
        if target.starts_with('/') {
            return Err(Errno::Perm);
        }
        if target.contains('\0') {
            return Err(Errno::Inval);
        }
        let link = resolve_for_creation(&*fs, &base, path)?;
        fs.symlink(target, &link.parent, link.entry_name(Errno::Exist)?)
    }

    pub(crate) fn path_unlink_file(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: (u32, u32),
    ) -> WasiResult<()> {
        let path = mem.read_str(path.0, path.1)?;
        let (fs, base) = self.dir_for(fd, Rights::PATH_UNLINK_FILE)?;
        let resolved = resolve(&*fs, &base, path, false)?;
        let name = resolved.entry_name(Errno::Isdir)?;
        match resolved.lookup(&*fs)? {
            None => Err(Errno::Noent),
            Some(meta) if meta.filetype == Filetype::Directory => Err(Errno::Isdir),
            Some(_) if resolved.must_be_dir => Err(Errno::Notdir),
            Some(_) => fs.remove_file(&resolved.parent, name),
        }
    }
}

/// Resolves the target of a stat-like call: follows as asked (and through a
/// trailing slash), and requires a trailing-slashed path to be a directory.
fn resolve_existing(
    fs: &dyn FsProvider,
    base: &DirHandle,
    path: &str,
    flags: Lookupflags,
) -> WasiResult<Resolved> {
    let follow = flags.contains(Lookupflags::SYMLINK_FOLLOW) || has_trailing_slash(path);
    let resolved = resolve(fs, base, path, follow)?;
    if resolved.must_be_dir
        && fs
            .metadata(&resolved.parent, resolved.name.as_deref())?
            .filetype
            != Filetype::Directory
    {
        return Err(Errno::Notdir);
    }
    Ok(resolved)
}

/// Resolves the name a link is to be created at: it must not exist (not
/// even as a dangling symlink), and a trailing slash is `noent` (Linux).
fn resolve_for_creation(fs: &dyn FsProvider, base: &DirHandle, path: &str) -> WasiResult<Resolved> {
    let resolved = resolve(fs, base, path, false)?;
    resolved.entry_name(Errno::Exist)?;
    if resolved.lookup(fs)?.is_some() {
        return Err(Errno::Exist);
    }
    if resolved.must_be_dir {
        return Err(Errno::Noent);
    }
    Ok(resolved)
}

/// Whether `open_file` opens an existing file or creates one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Creation {
    /// The file was seen to exist: no host-side creation (which would need
    /// write access to it).
    Existing,
    /// `O_CREAT`: create it unless someone just did.
    IfMissing,
    /// `O_CREAT|O_EXCL`.
    New,
}

/// Opens a non-directory through the provider with host access derived from
/// the requested rights.
fn open_file(
    fs: &dyn FsProvider,
    target: &Resolved,
    rights: Rights,
    creation: Creation,
    truncate: bool,
) -> WasiResult<Object> {
    let create = creation != Creation::Existing;
    let mut options = OpenOptions {
        read: rights.contains(Rights::FD_READ),
        // Creating and truncating need write access on the host even when
        // the guest will not write (the rights still forbid it to).
        write: rights.intersects(WRITE_RIGHTS) || create || truncate,
        create,
        create_new: creation == Creation::New,
        truncate,
    };
    if !options.read && !options.write {
        options.read = true;
    }
    // A path naming a directory itself (`.`) never gets here: it is one.
    let name = target.entry_name(Errno::Isdir)?;
    let mut handle = fs.open_file(&target.parent, name, &options)?;
    let filetype = handle.metadata()?.filetype;
    if filetype == Filetype::Directory {
        // Swapped for a directory after resolution.
        return Err(Errno::Isdir);
    }
    Ok(Object::File(OpenFile {
        handle,
        position: 0,
        filetype,
    }))
}
