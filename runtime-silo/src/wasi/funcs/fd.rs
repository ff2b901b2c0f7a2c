//! Descriptor functions: `fd_*` except the directory-specific ones.

use std::io::{ErrorKind, Read, Write};

use crate::wasi::WasiCtx;
use crate::wasi::abi::{
    ADVICE_COUNT, Errno, Fdflags, Filetype, Fstflags, Rights, WasiResult, Whence, layout, narrow,
};
use crate::wasi::fd_table::Object;
use crate::wasi::fs::{Metadata, TimeChange};
use crate::wasi::memory::GuestMemory;

/// Largest file offset: the host's `off_t` is signed 64-bit.
const MAX_OFFSET: u64 = i64::MAX as u64;

/// Checks an iovec array and every buffer it points to, so that I/O never
/// starts on a request that would fail half-way with `fault`.
fn check_iovecs(mem: &GuestMemory<'_>, iovs: u32, count: u32) -> WasiResult<()> {
    mem.check_array(iovs, count, layout::IOVEC_SIZE)?;
    for index in 0..count {
        let (buf, len) = mem.iovec(iovs, index)?;
        mem.check(buf, len)?;
    }
    Ok(())
}

/// Reads into the iovecs in order with `read(buffer, bytes_so_far)`,
/// stopping at a short read (or after the first non-empty buffer when
/// `single`, for streams where another read could block). The total is
/// capped at `u32::MAX`, the widest count the ABI can return. An error after
/// some bytes arrived ends the call with the partial count, as `readv` does.
fn scatter(
    mem: &mut GuestMemory<'_>,
    iovs: u32,
    count: u32,
    single: bool,
    mut read: impl FnMut(&mut [u8], u64) -> WasiResult<usize>,
) -> WasiResult<u32> {
    check_iovecs(mem, iovs, count)?;
    let mut total: u32 = 0;
    for index in 0..count {
        let (buf, len) = mem.iovec(iovs, index)?;
        let len = len.min(u32::MAX - total);
        if len == 0 {
            continue;
        }
        let n = match read(mem.slice_mut(buf, len)?, u64::from(total)) {
            Ok(n) => n.min(len as usize) as u32,
            Err(_) if total > 0 => break,
            Err(e) => return Err(e),
        };
        total += n;
        if n < len || single {
            break;
        }
    }
    Ok(total)
}

/// Writes the iovecs in order with `write(bytes, bytes_so_far)` (which may
/// write short and is called again for the rest). Same capping and
/// partial-error rules as [`scatter`].
fn gather(
    mem: &GuestMemory<'_>,
    iovs: u32,
    count: u32,
    mut write: impl FnMut(&[u8], u64) -> WasiResult<usize>,
) -> WasiResult<u32> {
    check_iovecs(mem, iovs, count)?;
    let mut total: u32 = 0;
    for index in 0..count {
        let (buf, len) = mem.iovec(iovs, index)?;
        let mut data = mem.slice(buf, len.min(u32::MAX - total))?;
        while !data.is_empty() {
            let n = match write(data, u64::from(total)) {
                Ok(0) => return Ok(total),
                Ok(n) => n.min(data.len()),
                Err(_) if total > 0 => return Ok(total),
                Err(e) => return Err(e),
            };
            data = &data[n..];
            // n <= data.len() <= u32::MAX - total.
            total += n as u32;
        }
    }
    Ok(total)
}

fn retry<T>(mut op: impl FnMut() -> std::io::Result<T>) -> WasiResult<T> {
    loop {
        match op() {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            result => return Ok(result?),
        }
    }
}

/// Offset `base + delta`, refusing results past the host's `off_t`.
fn offset_add(base: u64, delta: u64) -> WasiResult<u64> {
    base.checked_add(delta)
        .filter(|&end| end <= MAX_OFFSET)
        .ok_or(Errno::Fbig)
}

/// The part of `data` that may be written at `offset` in a file limited to
/// `limit` bytes: cut at the limit, and `fbig` if nothing fits (so a write
/// crossing the limit is short, and the next one fails, as with
/// `RLIMIT_FSIZE`).
fn within_limit(data: &[u8], offset: u64, limit: u64) -> WasiResult<&[u8]> {
    let room = limit.saturating_sub(offset);
    if room == 0 && !data.is_empty() {
        return Err(Errno::Fbig);
    }
    Ok(&data[..data.len().min(usize::try_from(room).unwrap_or(usize::MAX))])
}

/// Encodes a `filestat`.
pub(super) fn write_filestat(
    mem: &mut GuestMemory<'_>,
    at: u32,
    meta: &Metadata,
) -> WasiResult<()> {
    let mut bytes = [0u8; layout::FILESTAT_SIZE as usize];
    let mut put = |offset: u32, value: u64| {
        bytes[offset as usize..][..8].copy_from_slice(&value.to_le_bytes());
    };
    put(layout::FILESTAT_DEV, meta.dev);
    put(layout::FILESTAT_INO, meta.ino);
    put(layout::FILESTAT_NLINK, meta.nlink);
    put(layout::FILESTAT_SIZE_FIELD, meta.size);
    put(layout::FILESTAT_ATIM, meta.atim);
    put(layout::FILESTAT_MTIM, meta.mtim);
    put(layout::FILESTAT_CTIM, meta.ctim);
    bytes[layout::FILESTAT_FILETYPE as usize] = meta.filetype as u8;
    mem.write_bytes(at, &bytes)
}

/// Decodes `fst_flags` with the two timestamps; asking for both "set to a
/// value" and "set to now" on the same timestamp is `inval`.
pub(super) fn time_changes(
    atim: u64,
    mtim: u64,
    fst_flags: i32,
) -> WasiResult<(TimeChange, TimeChange)> {
    let flags = Fstflags::from_arg(fst_flags)?;
    let change =
        |set: Fstflags, now: Fstflags, value: u64| match (flags.contains(set), flags.contains(now))
        {
            (true, true) => Err(Errno::Inval),
            (true, false) => Ok(TimeChange::At(value)),
            (false, true) => Ok(TimeChange::Now),
            (false, false) => Ok(TimeChange::Omit),
        };
    Ok((
        change(Fstflags::ATIM, Fstflags::ATIM_NOW, atim)?,
        change(Fstflags::MTIM, Fstflags::MTIM_NOW, mtim)?,
    ))
}

/// The fdflags that select synchronous I/O; fixed at open time.
const SYNC_FLAGS: Fdflags = Fdflags(Fdflags::DSYNC.0 | Fdflags::RSYNC.0 | Fdflags::SYNC.0);

impl WasiCtx {
    pub(crate) fn fd_advise(
        &mut self,
        fd: u32,
        offset: u64,
        len: u64,
        advice: i32,
    ) -> WasiResult<()> {
        let advice: u8 = narrow(advice)?;
        if advice >= ADVICE_COUNT {
            return Err(Errno::Inval);
        }
        let descriptor = self.fds.get(fd)?;
        descriptor.require(Rights::FD_ADVISE)?;
        if offset > MAX_OFFSET || len > MAX_OFFSET {
            return Err(Errno::Inval);
        }
        match descriptor.object {
            // Advice is a hint; providers have no use for it yet.
            Object::File(_) => Ok(()),
            _ => Err(Errno::Badf),
        }
    }

    /// Like `posix_fallocate`: makes `[offset, offset + len)` part of the
    /// file, extending it with zeros if needed (never shrinking).
    /// Sizes past the silo's `max_file_size` are `fbig`.
    pub(crate) fn fd_allocate(&mut self, fd: u32, offset: u64, len: u64) -> WasiResult<()> {
        let limit = self.max_file_size;
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::FD_ALLOCATE)?;
        let Object::File(file) = &mut descriptor.object else {
            return Err(Errno::Badf);
        };
        if len == 0 {
            return Err(Errno::Inval);
        }
        let end = offset_add(offset, len)?;
        if end > limit {
            return Err(Errno::Fbig);
        }
        if end > file.handle.metadata()?.size {
            file.handle.set_len(end)?;
        }
        Ok(())
    }

    pub(crate) fn fd_close(&mut self, fd: u32) -> WasiResult<()> {
        close(self.fds.remove(fd)?);
        Ok(())
    }

    pub(crate) fn fd_datasync(&mut self, fd: u32) -> WasiResult<()> {
        self.sync(fd, Rights::FD_DATASYNC, false)
    }

    pub(crate) fn fd_sync(&mut self, fd: u32) -> WasiResult<()> {
        self.sync(fd, Rights::FD_SYNC, true)
    }

    fn sync(&mut self, fd: u32, right: Rights, all: bool) -> WasiResult<()> {
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(right)?;
        match &mut descriptor.object {
            Object::File(file) if all => file.handle.sync_all(),
            Object::File(file) => file.handle.sync_data(),
            Object::Dir(dir) => dir.fs.sync_dir(&dir.dir),
            Object::Stdout(out) => retry(|| out.flush()),
            Object::Stdin(_) => Err(Errno::Inval),
        }
    }

    pub(crate) fn fd_fdstat_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        out: u32,
    ) -> WasiResult<()> {
        let descriptor = self.fds.get(fd)?;
        let mut bytes = [0u8; layout::FDSTAT_SIZE as usize];
        bytes[layout::FDSTAT_FILETYPE as usize] = descriptor.filetype() as u8;
        bytes[layout::FDSTAT_FLAGS as usize..][..2]
            .copy_from_slice(&descriptor.flags.bits().to_le_bytes());
        bytes[layout::FDSTAT_RIGHTS_BASE as usize..][..8]
            .copy_from_slice(&descriptor.rights_base.bits().to_le_bytes());
        bytes[layout::FDSTAT_RIGHTS_INHERITING as usize..][..8]
            .copy_from_slice(&descriptor.rights_inheriting.bits().to_le_bytes());
        mem.write_bytes(out, &bytes)
    }

    /// Changes `append` and `nonblock`. The synchronous-I/O flags are fixed
    /// when the file is opened: passing them unchanged is accepted (wasi-libc
    /// passes the whole flag word back in `fcntl(F_SETFL)`), changing them is
    /// `inval`. `nonblock` has no effect on the descriptors we have (regular
    /// files never block in POSIX's sense; stdio is provided blocking).
    pub(crate) fn fd_fdstat_set_flags(&mut self, fd: u32, flags: i32) -> WasiResult<()> {
        let flags = Fdflags::from_arg(flags)?;
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::FD_FDSTAT_SET_FLAGS)?;
        if flags.intersection(SYNC_FLAGS) != descriptor.flags.intersection(SYNC_FLAGS) {
            return Err(Errno::Inval);
        }
        descriptor.flags = flags;
        Ok(())
    }

    /// Drops rights; asking for a right the descriptor lacks is
    /// `notcapable` (rights never grow).
    pub(crate) fn fd_fdstat_set_rights(
        &mut self,
        fd: u32,
        base: u64,
        inheriting: u64,
    ) -> WasiResult<()> {
        let base = Rights::from_bits(base)?;
        let inheriting = Rights::from_bits(inheriting)?;
        let descriptor = self.fds.get_mut(fd)?;
        if !descriptor.rights_base.contains(base)
            || !descriptor.rights_inheriting.contains(inheriting)
        {
            return Err(Errno::Notcapable);
        }
        descriptor.rights_base = base;
        descriptor.rights_inheriting = inheriting;
        Ok(())
    }

    pub(crate) fn fd_filestat_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        out: u32,
    ) -> WasiResult<()> {
        mem.check(out, layout::FILESTAT_SIZE)?;
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::FD_FILESTAT_GET)?;
        let meta = match &mut descriptor.object {
            Object::File(file) => file.handle.metadata()?,
            Object::Dir(dir) => dir.fs.metadata(&dir.dir, None)?,
            // Nothing is known about embedder streams.
            Object::Stdin(_) | Object::Stdout(_) => Metadata {
                filetype: Filetype::Unknown,
                dev: 0,
                ino: 0,
                nlink: 0,
                size: 0,
                atim: 0,
                mtim: 0,
                ctim: 0,
            },
        };
        write_filestat(mem, out, &meta)
    }

    /// Sizes past the silo's `max_file_size` are `fbig`.
    pub(crate) fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> WasiResult<()> {
        let limit = self.max_file_size;
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::FD_FILESTAT_SET_SIZE)?;
        let Object::File(file) = &mut descriptor.object else {
            return Err(Errno::Badf);
        };
        if size > MAX_OFFSET || size > limit {
            return Err(Errno::Fbig);
        }
        file.handle.set_len(size)
    }

    pub(crate) fn fd_filestat_set_times(
        &mut self,
        fd: u32,
        atim: u64,
        mtim: u64,
        fst_flags: i32,
    ) -> WasiResult<()> {
        let (atim, mtim) = time_changes(atim, mtim, fst_flags)?;
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::FD_FILESTAT_SET_TIMES)?;
        match &mut descriptor.object {
            Object::File(file) => file.handle.set_times(atim, mtim),
            Object::Dir(dir) => dir.fs.set_times(&dir.dir, None, atim, mtim),
            Object::Stdin(_) | Object::Stdout(_) => Err(Errno::Badf),
        }
    }

    pub(crate) fn fd_read(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        count: u32,
        nread: u32,
    ) -> WasiResult<()> {
        mem.check(nread, 4)?;
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::FD_READ)?;
        let n = match &mut descriptor.object {
            Object::File(file) => {
                let start = file.position;
                let n = scatter(mem, iovs, count, false, |buf, done| {
                    file.handle.read_at(buf, start.saturating_add(done))
                })?;
                file.position = start.saturating_add(u64::from(n));
                n
            }
            Object::Stdin(input) => {
                scatter(mem, iovs, count, true, |buf, _| retry(|| input.read(buf)))?
            }
            Object::Stdout(_) | Object::Dir(_) => return Err(Errno::Badf),
        };
        mem.write_u32(nread, n)
    }

    pub(crate) fn fd_pread(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        nread: u32,
    ) -> WasiResult<()> {
        mem.check(nread, 4)?;
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::FD_READ | Rights::FD_SEEK)?;
        let Object::File(file) = &mut descriptor.object else {
            return Err(Errno::Spipe);
        };
        if offset > MAX_OFFSET {
            return Err(Errno::Inval);
        }
        let n = scatter(mem, iovs, count, false, |buf, done| {
            file.handle.read_at(buf, offset.saturating_add(done))
        })?;
        mem.write_u32(nread, n)
    }

    pub(crate) fn fd_write(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        count: u32,
        nwritten: u32,
    ) -> WasiResult<()> {
        mem.check(nwritten, 4)?;
        let limit = self.max_file_size;
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::FD_WRITE)?;
        let flags = descriptor.flags;
        let n = match &mut descriptor.object {
            Object::File(file) => {
                // Append mode writes at the end as seen now; another writer
                // of the same host file could interleave (no O_APPEND
                // atomicity through a positional interface).
                let start = if flags.contains(Fdflags::APPEND) {
                    file.handle.metadata()?.size
                } else {
                    file.position
                };
                let n = gather(mem, iovs, count, |data, done| {
                    let at = offset_add(start, done)?;
                    file.handle.write_at(within_limit(data, at, limit)?, at)
                })?;
                file.position = start.saturating_add(u64::from(n));
                sync_after_write(file.handle.as_mut(), flags)?;
                n
            }
            Object::Stdout(out) => {
                let n = gather(mem, iovs, count, |data, _| retry(|| out.write(data)))?;
                // Flushed per call so a silo's output interleaves correctly
                // with other streams and survives an abrupt end.
                retry(|| out.flush())?;
                n
            }
            Object::Stdin(_) | Object::Dir(_) => return Err(Errno::Badf),
        };
        mem.write_u32(nwritten, n)
    }

    /// Writes at `offset` without moving the descriptor's offset. Unlike
    /// Linux (and wasmtime, which copies it), `append` does not redirect a
    /// positional write to the end: POSIX and the spec's wording ("without
    /// using ... the file descriptor's offset") say the offset is used.
    pub(crate) fn fd_pwrite(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        nwritten: u32,
    ) -> WasiResult<()> {
        mem.check(nwritten, 4)?;
        let limit = self.max_file_size;
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::FD_WRITE | Rights::FD_SEEK)?;
        let flags = descriptor.flags;
        let Object::File(file) = &mut descriptor.object else {
            return Err(Errno::Spipe);
        };
        if offset > MAX_OFFSET {
            return Err(Errno::Inval);
        }
        let n = gather(mem, iovs, count, |data, done| {
            let at = offset_add(offset, done)?;
            file.handle.write_at(within_limit(data, at, limit)?, at)
        })?;
        sync_after_write(file.handle.as_mut(), flags)?;
        mem.write_u32(nwritten, n)
    }

    /// `fd_seek`. As in the original preview1 implementation, a pure query
    /// (`0` from `cur`) needs only `fd_tell`; moving needs `fd_seek`.
    pub(crate) fn fd_seek(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        offset: i64,
        whence: i32,
        out: u32,
    ) -> WasiResult<()> {
        let whence = Whence::from_arg(whence)?;
        mem.check(out, 8)?;
        let descriptor = self.fds.get_mut(fd)?;
        let needed = if offset == 0 && whence == Whence::Cur {
            Rights::FD_TELL
        } else {
            Rights::FD_SEEK
        };
        descriptor.require(needed)?;
        let Object::File(file) = &mut descriptor.object else {
            return Err(Errno::Spipe);
        };
        let origin = match whence {
            Whence::Set => 0,
            Whence::Cur => file.position,
            Whence::End => file.handle.metadata()?.size,
        };
        let position = origin
            .checked_add_signed(offset)
            .filter(|&p| p <= MAX_OFFSET)
            .ok_or(Errno::Inval)?;
        file.position = position;
        mem.write_u64(out, position)
    }

    pub(crate) fn fd_tell(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        out: u32,
    ) -> WasiResult<()> {
        let descriptor = self.fds.get(fd)?;
        descriptor.require(Rights::FD_TELL)?;
        let Object::File(file) = &descriptor.object else {
            return Err(Errno::Spipe);
        };
        mem.write_u64(out, file.position)
    }

    pub(crate) fn fd_renumber(&mut self, from: u32, to: u32) -> WasiResult<()> {
        if let Some(replaced) = self.fds.renumber(from, to)? {
            close(replaced);
        }
        Ok(())
    }
}

/// Releases a descriptor. Output streams are flushed first (the embedder
/// may buffer); the stream itself belongs to the embedder and is dropped.
/// Like POSIX `close`, this cannot fail in a way the guest could act on, so
/// a flush error is not reported.
fn close(descriptor: crate::wasi::fd_table::Descriptor) {
    if let Object::Stdout(mut out) = descriptor.object {
        let _ = retry(|| out.flush());
    }
}

/// Honors `dsync`/`sync` opened descriptors by flushing after each write
/// call (`rsync` concerns reads, which need nothing extra here).
fn sync_after_write(
    handle: &mut dyn crate::wasi::fs::FileHandle,
    flags: Fdflags,
) -> WasiResult<()> {
    if flags.contains(Fdflags::SYNC) {
        handle.sync_all()
    } else if flags.contains(Fdflags::DSYNC) {
        handle.sync_data()
    } else {
        Ok(())
    }
}
