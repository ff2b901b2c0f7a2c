//! The per-silo file descriptor table.
//!
//! Descriptors are small integers allocated lowest-free (like POSIX), so the
//! preopens are 3, 4, ... in configuration order, which is what wasi-libc's
//! preopen scan (from 3 until `badf`) relies on. Each descriptor carries its
//! rights and flags next to the object it refers to; the rights are checked
//! by the function implementations, and only ever shrink.

use std::io::{Read, Write};
use std::sync::Arc;

use super::abi::{Errno, Fdflags, Filetype, Rights, WasiResult};
use super::fs::{DirEntry, DirHandle, FileHandle, FsProvider};

/// Most descriptors one silo may have open at once. Regular files and
/// directories (on the hosted provider) hold a host descriptor each, so this
/// also bounds one silo's share of host handles.
pub(crate) const MAX_FDS: usize = 1024;

/// What a descriptor refers to.
pub(crate) enum Object {
    Stdin(Box<dyn Read + Send>),
    /// Standard output or error.
    Stdout(Box<dyn Write + Send>),
    File(OpenFile),
    Dir(OpenDir),
}

/// An open non-directory file.
pub(crate) struct OpenFile {
    pub handle: Box<dyn FileHandle>,
    /// The descriptor's offset; WASI files are positional underneath.
    pub position: u64,
    pub filetype: Filetype,
}

/// An open directory: the provider and its handle on the directory.
///
/// The handle names the directory itself, not the path it was opened by
/// (see `wasi::fs`): if the directory is renamed, the descriptor follows it;
/// if it is removed, the descriptor names a deleted directory; a symlink
/// planted at its old name (or at one of its parents' names) is never
/// followed from it.
pub(crate) struct OpenDir {
    pub fs: Arc<dyn FsProvider>,
    pub dir: DirHandle,
    /// The guest-visible name for preopens (`fd_prestat_*`).
    pub preopen: Option<String>,
    /// The listing `fd_readdir` pages through: taken at cookie 0 and reused
    /// for later cookies, so cookies stay stable across calls.
    pub listing: Option<Vec<DirEntry>>,
}

/// One slot of the table.
pub(crate) struct Descriptor {
    pub object: Object,
    pub rights_base: Rights,
    pub rights_inheriting: Rights,
    pub flags: Fdflags,
}

impl Descriptor {
    pub(crate) fn filetype(&self) -> Filetype {
        match &self.object {
            // Streams handed in by the embedder may be pipes, buffers or
            // terminals; without knowing, report `unknown` (so guests do not
            // take a captured stdout for a terminal), as wasmtime does for
            // non-tty stdio.
            Object::Stdin(_) | Object::Stdout(_) => Filetype::Unknown,
            Object::File(file) => file.filetype,
            Object::Dir(_) => Filetype::Directory,
        }
    }

    /// Checks the descriptor holds `needed`.
    pub(crate) fn require(&self, needed: Rights) -> WasiResult<()> {
        self.rights_base.require(needed)
    }
}

/// The table itself.
#[derive(Default)]
pub(crate) struct FdTable {
    slots: Vec<Option<Descriptor>>,
}

impl FdTable {
    /// Installs `descriptor` at the lowest free number.
    pub(crate) fn insert(&mut self, descriptor: Descriptor) -> WasiResult<u32> {
        let index = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.slots.len() < MAX_FDS => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => return Err(Errno::Mfile),
        };
        self.slots[index] = Some(descriptor);
        // index < MAX_FDS, which fits in u32.
        Ok(index as u32)
    }

    /// Whether no further descriptor can be opened.
    pub(crate) fn is_full(&self) -> bool {
        self.slots.len() >= MAX_FDS && self.slots.iter().all(Option::is_some)
    }

    pub(crate) fn get(&self, fd: u32) -> WasiResult<&Descriptor> {
        self.slots
            .get(fd as usize)
            .and_then(Option::as_ref)
            .ok_or(Errno::Badf)
    }

    pub(crate) fn get_mut(&mut self, fd: u32) -> WasiResult<&mut Descriptor> {
        self.slots
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(Errno::Badf)
    }

    /// Removes and returns a descriptor (closing it when dropped).
    pub(crate) fn remove(&mut self, fd: u32) -> WasiResult<Descriptor> {
        let descriptor = self
            .slots
            .get_mut(fd as usize)
            .and_then(Option::take)
            .ok_or(Errno::Badf)?;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(descriptor)
    }

    /// `fd_renumber`: moves `from` onto `to` and returns what `to` held (for
    /// the caller to close). Both must be open (preview1 has no "dup2 onto a
    /// free number"); renumbering onto itself changes nothing.
    pub(crate) fn renumber(&mut self, from: u32, to: u32) -> WasiResult<Option<Descriptor>> {
        self.get(from)?;
        self.get(to)?;
        if from == to {
            return Ok(None);
        }
        let moved = self.remove(from)?;
        // `to` is still open and therefore still a valid index.
        Ok(self.slots[to as usize].replace(moved))
    }

    /// The directory behind `fd`: `badf` if closed, `notdir` otherwise.
    pub(crate) fn dir(&self, fd: u32) -> WasiResult<(&Descriptor, &OpenDir)> {
        let descriptor = self.get(fd)?;
        match &descriptor.object {
            Object::Dir(dir) => Ok((descriptor, dir)),
            _ => Err(Errno::Notdir),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}
