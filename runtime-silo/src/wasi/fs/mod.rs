//! The filesystem-provider contract WASI's file functions run on.
//!
//! A provider exposes one directory tree (a preopen). It is deliberately
//! dumb: it never sees a guest path. The WASI layer resolves every guest path
//! itself, component by component, following symlinks with its own rules and
//! keeping the result inside the tree (see `wasi::path`), and then calls the
//! provider with an [`FsPath`] — a list of plain names relative to the
//! provider's root that contains no `.`, `..`, empty component, `/` or NUL,
//! and whose components other than possibly the last are known directories.
//! So the sandbox is enforced in portable code, once, whatever the provider:
//! host directories now ([`HostDir`]), the fs strate on Bedrock later.
//!
//! Providers must not follow a symlink in the *last* component of a path
//! unless told (they are asked about symlinks themselves: `metadata` is an
//! lstat, `read_link` reads one), and report failures as WASI [`Errno`]s.

mod host;

pub use host::HostDir;

pub use super::abi::{Errno, Filetype, WasiResult};

/// A validated path relative to a provider's root; empty means the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsPath {
    components: Vec<String>,
}

impl FsPath {
    /// The provider's root.
    pub fn root() -> Self {
        FsPath::default()
    }

    /// The names from the root down.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.components.iter().map(String::as_str)
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// This path with one more component. Only the resolver constructs paths,
    /// from names it has checked with [`is_plain_name`].
    pub(crate) fn join(&self, name: &str) -> FsPath {
        debug_assert!(is_plain_name(name));
        let mut components = self.components.clone();
        components.push(name.to_owned());
        FsPath { components }
    }

    pub(crate) fn push(&mut self, name: &str) {
        debug_assert!(is_plain_name(name));
        self.components.push(name.to_owned());
    }

    /// Drops the last component; `false` at the root.
    pub(crate) fn pop(&mut self) -> bool {
        self.components.pop().is_some()
    }

    pub(crate) fn depth(&self) -> usize {
        self.components.len()
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

/// One directory tree that WASI preopens can expose. See the module docs for
/// the guarantees paths come with.
pub trait FsProvider: Send + Sync {
    /// Metadata of `path` itself (a symlink is described, not followed).
    fn metadata(&self, path: &FsPath) -> WasiResult<Metadata>;

    /// Opens or creates the regular file (or other non-directory) at `path`.
    /// The last component is known not to be a symlink at resolution time.
    fn open_file(&self, path: &FsPath, options: &OpenOptions) -> WasiResult<Box<dyn FileHandle>>;

    /// The entries of the directory at `path`, excluding `.` and `..`.
    fn read_dir(&self, path: &FsPath) -> WasiResult<Vec<DirEntry>>;

    /// Creates a directory; `exist` if anything is there.
    fn create_dir(&self, path: &FsPath) -> WasiResult<()>;

    /// Removes an empty directory.
    fn remove_dir(&self, path: &FsPath) -> WasiResult<()>;

    /// Removes a non-directory (a symlink itself, never its target).
    fn remove_file(&self, path: &FsPath) -> WasiResult<()>;

    /// Renames `from` to `to`, replacing `to` as POSIX `rename` does.
    fn rename(&self, from: &FsPath, to: &FsPath) -> WasiResult<()>;

    /// Creates a hard link `new` to the existing `existing` (which is not
    /// followed if it is a symlink).
    fn hard_link(&self, existing: &FsPath, new: &FsPath) -> WasiResult<()>;

    /// Creates a symlink at `link` whose content is `target`. `target` is
    /// stored verbatim; it is relative (the WASI layer refuses absolute ones)
    /// and is only ever interpreted by the WASI resolver.
    fn symlink(&self, target: &str, link: &FsPath) -> WasiResult<()>;

    /// The content of the symlink at `path` (`inval` if it is not one).
    fn read_link(&self, path: &FsPath) -> WasiResult<String>;

    /// Sets timestamps of `path` itself. The WASI layer has followed any
    /// symlink it was asked to follow, so a symlink here means "the link
    /// itself" (`notsup` is acceptable for that case).
    fn set_times(&self, path: &FsPath, atim: TimeChange, mtim: TimeChange) -> WasiResult<()>;

    /// Flushes the directory at `path` to stable storage (for `fd_sync` on a
    /// directory fd). The default does nothing, for providers without
    /// durability.
    fn sync_dir(&self, _path: &FsPath) -> WasiResult<()> {
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
