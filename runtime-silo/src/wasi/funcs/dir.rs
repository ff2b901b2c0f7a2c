//! Directory descriptors: `fd_readdir` and the preopen queries.

use crate::wasi::WasiCtx;
use crate::wasi::abi::{Errno, Filetype, PREOPENTYPE_DIR, Rights, WasiResult, layout};
use crate::wasi::fd_table::Object;
use crate::wasi::fs::DirEntry;
use crate::wasi::memory::GuestMemory;

impl WasiCtx {
    /// `fd_readdir(fd, buf, buf_len, cookie) -> bufused`.
    ///
    /// The listing is `.`, `..`, then the provider's entries sorted by name
    /// (sorted so that cookies, which are indices into it, are stable and
    /// results reproducible). Entry `i` has `d_next = i + 1`, and a cookie
    /// resumes at that index. It is read from the provider when `cookie` is
    /// 0 and reused for later cookies, so a paged scan sees one snapshot.
    ///
    /// Entries are packed as `dirent` headers each followed by the name; the
    /// last one is cut off at `buf_len`, which then equals `bufused`. That
    /// is the spec's signal that there may be more: the caller repeats with a
    /// bigger buffer or the last complete entry's `d_next` (wasi-libc does).
    pub(crate) fn fd_readdir(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        bufused: u32,
    ) -> WasiResult<()> {
        mem.check(buf, buf_len)?;
        mem.check(bufused, 4)?;
        let descriptor = self.fds.get_mut(fd)?;
        let Object::Dir(dir) = &mut descriptor.object else {
            return Err(Errno::Notdir);
        };
        descriptor.rights_base.require(Rights::FD_READDIR)?;

        if cookie == 0 || dir.listing.is_none() {
            let mut entries = dir.fs.read_dir(&dir.dir)?;
            entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
            dir.listing = Some(entries);
        }
        let self_ino = dir.fs.metadata(&dir.dir, None)?.ino;
        // The parent of a tree's root is outside the sandbox; like a
        // filesystem root, `..` then describes the directory itself.
        let parent_ino = dir.fs.parent_ino(&dir.dir).unwrap_or(self_ino);
        let dot = |name: &str, ino| DirEntry {
            name: name.to_owned(),
            filetype: Filetype::Directory,
            ino,
        };
        let head = [dot(".", self_ino), dot("..", parent_ino)];
        let listing = dir.listing.as_deref().unwrap_or_default();

        let capacity = buf_len as usize;
        let mut out = Vec::with_capacity(capacity.min(64 * 1024));
        let start = usize::try_from(cookie).unwrap_or(usize::MAX);
        for (index, entry) in head.iter().chain(listing).enumerate().skip(start) {
            if out.len() >= capacity {
                break;
            }
            let namlen = u32::try_from(entry.name.len()).map_err(|_| Errno::Overflow)?;
            let mut header = [0u8; layout::DIRENT_SIZE];
            header[layout::DIRENT_NEXT..][..8].copy_from_slice(&(index as u64 + 1).to_le_bytes());
            header[layout::DIRENT_INO..][..8].copy_from_slice(&entry.ino.to_le_bytes());
            header[layout::DIRENT_NAMLEN..][..4].copy_from_slice(&namlen.to_le_bytes());
            header[layout::DIRENT_TYPE] = entry.filetype as u8;
            for chunk in [&header[..], entry.name.as_bytes()] {
                let room = capacity - out.len();
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
        }
        mem.write_bytes(buf, &out)?;
        // out.len() <= buf_len.
        mem.write_u32(bufused, out.len() as u32)
    }

    /// Describes a preopen; any other descriptor (open or not) is `badf`,
    /// which is how wasi-libc's scan from descriptor 3 knows where to stop.
    pub(crate) fn fd_prestat_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        out: u32,
    ) -> WasiResult<()> {
        let name = self.preopen_name(fd)?;
        let mut bytes = [0u8; layout::PRESTAT_SIZE as usize];
        bytes[0] = PREOPENTYPE_DIR;
        // Checked to fit in u32 when the context was built.
        let len = name.len() as u32;
        bytes[layout::PRESTAT_NAME_LEN as usize..][..4].copy_from_slice(&len.to_le_bytes());
        mem.write_bytes(out, &bytes)
    }

    /// Writes the preopen's name (no terminator); `nametoolong` if `len` is
    /// smaller than the length `fd_prestat_get` reported.
    pub(crate) fn fd_prestat_dir_name(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> WasiResult<()> {
        let name = self.preopen_name(fd)?;
        if name.len() > len as usize {
            return Err(Errno::Nametoolong);
        }
        mem.write_bytes(path, name.as_bytes())
    }

    fn preopen_name(&self, fd: u32) -> WasiResult<&str> {
        match &self.fds.get(fd)?.object {
            Object::Dir(dir) => dir.preopen.as_deref().ok_or(Errno::Badf),
            _ => Err(Errno::Badf),
        }
    }
}
