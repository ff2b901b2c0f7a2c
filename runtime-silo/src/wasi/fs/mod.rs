//! The filesystem-provider contract WASI's file functions run on.
//!
//! A provider exposes one directory tree (a preopen). It is deliberately
//! dumb: it never sees a guest path. The WASI layer resolves every guest path
//! itself, component by component, following symlinks with its own rules and
//! keeping the result inside the tree (see `wasi::path`).
//!
//! The contract is the POSIX `*at` model: every operation takes a
//! [`DirHandle`] (a provider-specific handle on one directory, which a
//! directory descriptor holds) and at most one *plain name* in it (no `.`,
//! `..`, empty name, `/` or NUL; see [`is_plain_name`]). Walking down is
//! [`FsProvider::open_dir`], one level at a time, and it never follows a
//! symlink. So a provider never resolves a multi-component path and never
//! needs to know what `..` means, and a descriptor names the directory it
//! was opened on, not the path it was opened by: when that directory is
//! renamed the descriptor follows it, when it is removed the descriptor
//! names an empty deleted directory, and a symlink planted at its old name
//! changes nothing (the review's C2: a path-based descriptor could be
//! redirected out of the tree that way).
//!
//! Providers must not follow a symlink in the name they are given (they are
//! asked about symlinks themselves: `metadata` is an lstat, `read_link`
//! reads one), and report failures as WASI [`Errno`]s. Implementations:
//! [`HostDir`] (a host directory; on Linux through directory file
//! descriptors and `openat(O_NOFOLLOW)`, elsewhere by re-validating a path;
//! see its module for what each guarantees), the fs strate on Bedrock later.

mod host;

pub use host::HostDir;

use std::any::Any;
use std::sync::Arc;

pub use super::abi::{Errno, Filetype, WasiResult};

/// A list of plain names below some directory (empty: that directory).
/// The resolver keeps the directories it walked through as one, and
/// path-based providers use one as their directory handle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsPath {
    components: Vec<String>,
}

impl FsPath {
    /// The empty path: the directory itself.
    pub fn root() -> Self {
        FsPath::default()
    }

    /// The names from the top down.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.components.iter().map(String::as_str)
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// Adds a component, a name checked with [`is_plain_name`].
    pub(crate) fn push(&mut self, name: &str) {
        debug_assert!(is_plain_name(name));
        self.components.push(name.to_owned());
    }

    /// Drops the last component; `false` at the root.
    pub(crate) fn pop(&mut self) -> bool {
        self.components.pop().is_some()
    }
}

impl std::fmt::Display for FsPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.components.is_empty() {
            return f.write_str(".");
        }
        f.write_str(&self.components.join("/"))
    }
}

/// A provider's handle on one directory, opaque to the WASI layer.
///
/// Directory descriptors hold one; cloning it is cheap and shares the
/// underlying handle. A provider creates handles with [`DirHandle::new`]
/// (from its [`FsProvider::root_dir`] and [`FsProvider::open_dir`]) and gets its
/// own type back with [`DirHandle::get`]; the WASI layer only passes a
/// handle to the provider that made it.
#[derive(Clone)]
pub struct DirHandle(Arc<dyn Any + Send + Sync>);

impl DirHandle {
    /// Wraps a provider's own directory handle.
    pub fn new<T: Any + Send + Sync>(handle: T) -> Self {
        DirHandle(Arc::new(handle))
    }

    /// The provider's handle, or `badf` if this handle was made by a
    /// provider of another type.
    pub fn get<T: Any>(&self) -> WasiResult<&T> {
        self.0.downcast_ref().ok_or(Errno::Badf)
    }
}

impl std::fmt::Debug for DirHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirHandle")
    }
}

/// Whether `name` may be a component of an [`FsPath`].
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// What a provider knows about a file (mirrors the WASI `filestat`).
/// Timestamps are nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub filetype: Filetype,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    /// Bytes for files; target length for symlinks.
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

/// One directory entry (`.` and `..` are not listed by providers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub filetype: Filetype,
    pub ino: u64,
}

/// How to open a regular file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    pub read: bool,
    pub write: bool,
    /// Create it if missing.
    pub create: bool,
    /// Create it, failing with `exist` if it is there (implies `create`).
    pub create_new: bool,
    pub truncate: bool,
}

/// A timestamp change for `set_times`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeChange {
    /// Leave it as is.
    Omit,
    /// Set it to the current time.
    Now,
    /// Set it to this many nanoseconds since the Unix epoch.
    At(u64),
}

/// One directory tree that WASI preopens can expose. See the module docs
/// for the model: every `name` is a plain name (providers may refuse others
/// with `inval`), and is never followed if it is a symlink.
pub trait FsProvider: Send + Sync {
    /// A handle on the tree's root (what a preopen holds).
    fn root_dir(&self) -> WasiResult<DirHandle>;

    /// A handle on the directory `name` in `dir`. Must fail (`notdir` or
    /// `loop`) if `name` is not a directory, in particular if it is a
    /// symlink, even to a directory.
    fn open_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<DirHandle>;

    /// Metadata of `name` in `dir` (a symlink is described, not followed),
    /// or of `dir` itself for `None`.
    fn metadata(&self, dir: &DirHandle, name: Option<&str>) -> WasiResult<Metadata>;

    /// The inode number of the parent of `dir`, for `fd_readdir`'s `..`;
    /// `None` when `dir` is the tree's root (whose parent is outside) or the
    /// provider cannot tell.
    fn parent_ino(&self, _dir: &DirHandle) -> Option<u64> {
        None
    }

    /// Opens or creates the regular file (or other non-directory) `name`.
    /// `name` was not a symlink at resolution time; if it is one now, this
    /// must fail rather than follow it.
    fn open_file(
        &self,
        dir: &DirHandle,
        name: &str,
        options: &OpenOptions,
    ) -> WasiResult<Box<dyn FileHandle>>;

    /// The entries of `dir`, excluding `.` and `..`.
    fn read_dir(&self, dir: &DirHandle) -> WasiResult<Vec<DirEntry>>;

    /// Creates a directory; `exist` if anything is there.
    fn create_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<()>;

    /// Removes an empty directory.
    fn remove_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<()>;

    /// Removes a non-directory (a symlink itself, never its target).
    fn remove_file(&self, dir: &DirHandle, name: &str) -> WasiResult<()>;

    /// Renames `from` in `from_dir` to `to` in `to_dir`, replacing `to` as
    /// POSIX `rename` does.
    fn rename(
        &self,
        from_dir: &DirHandle,
        from: &str,
        to_dir: &DirHandle,
        to: &str,
    ) -> WasiResult<()>;

    /// Creates a hard link `new` in `new_dir` to the existing `existing` in
    /// `dir` (which is not followed if it is a symlink).
    fn hard_link(
        &self,
        dir: &DirHandle,
        existing: &str,
        new_dir: &DirHandle,
        new: &str,
    ) -> WasiResult<()>;

    /// Creates a symlink `name` whose content is `target`. `target` is
    /// stored verbatim; it is relative (the WASI layer refuses absolute
    /// ones) and is only ever interpreted by the WASI resolver.
    fn symlink(&self, target: &str, dir: &DirHandle, name: &str) -> WasiResult<()>;

    /// The content of the symlink `name` (`inval` if it is not one).
    fn read_link(&self, dir: &DirHandle, name: &str) -> WasiResult<String>;

    /// Sets timestamps of `name` itself (a symlink is not followed;
    /// `notsup` is acceptable for that case), or of `dir` for `None`.
    fn set_times(
        &self,
        dir: &DirHandle,
        name: Option<&str>,
        atim: TimeChange,
        mtim: TimeChange,
    ) -> WasiResult<()>;

    /// Flushes `dir` to stable storage (for `fd_sync` on a directory fd).
    /// The default does nothing, for providers without durability.
    fn sync_dir(&self, _dir: &DirHandle) -> WasiResult<()> {
        Ok(())
    }
}

/// An open non-directory file. WASI keeps the file position itself, so the
/// interface is positional; a handle is owned by exactly one descriptor.
pub trait FileHandle: Send {
    /// Reads at `offset`; 0 at end of file.
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> WasiResult<usize>;

    /// Writes at `offset`, possibly short.
    fn write_at(&mut self, buf: &[u8], offset: u64) -> WasiResult<usize>;

    /// Current metadata.
    fn metadata(&mut self) -> WasiResult<Metadata>;

    /// Truncates or zero-extends to `size` bytes.
    fn set_len(&mut self, size: u64) -> WasiResult<()>;

    /// Sets timestamps.
    fn set_times(&mut self, atim: TimeChange, mtim: TimeChange) -> WasiResult<()>;

    /// Flushes data and metadata (`fsync`).
    fn sync_all(&mut self) -> WasiResult<()>;

    /// Flushes data (`fdatasync`).
    fn sync_data(&mut self) -> WasiResult<()>;
}
