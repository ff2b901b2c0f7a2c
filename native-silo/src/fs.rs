//! Files over the scheme protocol: `open("toy:/big")` looks up the scheme
//! `toy`, opens `/big` there and keeps the resource handle under a
//! descriptor (see [`crate::fdtable`]); reads and writes carry the
//! descriptor's offset (the protocol is positional). Descriptors 0, 1, 2
//! are stdio (see [`crate::stdio`]).
//!
//! Paths must name a scheme (`scheme:/path`): there is no root filesystem,
//! so anything else is `ENOENT`. `rmdir` is the protocol's `UNLINK` (the
//! server knows what the path is). std's hermit `read_dir` reads a whole
//! directory in one `getdents64` call and grows its buffer on `EINVAL`, so
//! `getdents64` returns every remaining entry or `EINVAL`.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::ffi::{CStr, c_char, c_void};
use core::sync::atomic::{AtomicU64, Ordering};

use bedrock_abi::user::scheme;
use bedrock_abi::{Errno, scheme as proto};
use hermit_abi::{
    DT_DIR, DT_REG, DT_UNKNOWN, F_DUPFD, F_GETFD, F_GETFL, F_SETFD, F_SETFL, O_RDONLY, O_RDWR,
    O_WRONLY, S_IFCHR, S_IFDIR, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET, dirent64, iovec, stat,
};

use crate::fdtable::FdTable;
use crate::flags::{OpenMode, translate};
use crate::lock::Mutex;
use crate::process::fail;
use crate::{dirent, stdio};

/// Linux's `F_DUPFD_CLOEXEC` (hermit-abi names none; exec does not exist).
const F_DUPFD_CLOEXEC: i32 = 1030;
/// Longest name `getdents64` passes on.
const NAME_MAX: usize = 255;

/// An open resource; the handle is closed when the last descriptor for it
/// goes.
struct OpenFile {
    handle: u32,
    /// The full `scheme:/path` it was opened with.
    path: String,
    mode: OpenMode,
    offset: Mutex<u64>,
    /// Next directory entry `getdents64` returns.
    dir_next: AtomicU64,
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        let _ = scheme::close_resource(self.handle);
    }
}

/// What a descriptor names.
#[derive(Clone)]
enum Desc {
    File(Arc<OpenFile>),
    /// A duplicate of descriptor 0, 1 or 2.
    Stdio(i32),
}

static TABLE: Mutex<FdTable<Desc>> = Mutex::new(FdTable::new());

fn desc(fd: i32) -> Result<Desc, Errno> {
    match fd {
        0..=2 => Ok(Desc::Stdio(fd)),
        _ => TABLE.lock().get(fd).cloned().ok_or(Errno::BadF),
    }
}

fn file(fd: i32) -> Result<Arc<OpenFile>, Errno> {
    match desc(fd)? {
        Desc::File(f) => Ok(f),
        Desc::Stdio(_) => Err(Errno::Inval),
    }
}

/// The path argument as UTF-8 `scheme:/path`.
///
/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn path_arg<'a>(p: *const c_char) -> Result<&'a str, Errno> {
    if p.is_null() {
        return Err(Errno::Fault);
    }
    // SAFETY: the caller's promise.
    let path = unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Errno::Inval)?;
    proto::split(path).ok_or(Errno::NoEnt)?;
    Ok(path)
}

/// `Ok(n)` as the ABI's `n`, `Err(e)` as `-errno`.
fn ret(r: Result<usize, Errno>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => fail(e) as isize,
    }
}

fn ret32(r: Result<usize, Errno>) -> i32 {
    ret(r) as i32
}

/// Size and kind (`KIND_*`) of an open resource.
fn stat_of(handle: u32) -> Result<(u64, u64), Errno> {
    let mut reply = bedrock_abi::ipc::Message::default();
    bedrock_abi::user::ipc::call_port(
        handle,
        &bedrock_abi::ipc::Message {
            label: proto::STAT,
            ..Default::default()
        },
        &mut reply,
    )?;
    scheme::status(&reply)?;
    Ok((reply.words[0], reply.words[1]))
}

/// Size and kind of the resource at `path` (opened without access).
fn stat_path(path: &str) -> Result<(u64, u64), Errno> {
    let h = scheme::open(path, 0)?;
    let r = stat_of(h);
    let _ = scheme::close_resource(h);
    r
}

fn fill_stat(out: *mut stat, mode: u32, size: u64) -> Result<usize, Errno> {
    if out.is_null() {
        return Err(Errno::Fault);
    }
    let st = stat {
        st_ino: 1,
        st_nlink: 1,
        st_mode: mode,
        st_size: size as i64,
        st_blksize: 4096,
        st_blocks: size.div_ceil(512) as i64,
        ..stat::default()
    };
    // SAFETY: a valid out pointer, by the ABI's contract.
    unsafe { out.write(st) };
    Ok(0)
}

fn mode_of(kind: u64) -> u32 {
    if kind == proto::KIND_DIRECTORY {
        S_IFDIR | 0o755
    } else {
        S_IFREG | 0o644
    }
}

fn open(path: &str, flags: i32) -> Result<usize, Errno> {
    let mode = translate(flags).ok_or(Errno::Inval)?;
    if mode.exclusive
        && let Ok(h) = scheme::open(path, 0)
    {
        let _ = scheme::close_resource(h);
        return Err(Errno::Exist);
    }
    let handle = scheme::open(path, mode.scheme)?;
    let file = Arc::new(OpenFile {
        handle,
        path: String::from(path),
        mode,
        offset: Mutex::new(0),
        dir_next: AtomicU64::new(0),
    });
    // On a full table the Arc drops here and closes the resource.
    let fd = TABLE.lock().insert(Desc::File(file)).ok_or(Errno::MFile)?;
    Ok(fd as usize)
}

hermit_fn! {
    /// Opens `scheme:/path`; `mode` (permissions) is the server's business.
    fn sys_open(name: *const c_char, flags: i32, _mode: i32) -> i32 as open {
        // SAFETY: the ABI's contract on `name`.
        ret32(unsafe { path_arg(name) }.and_then(|p| open(p, flags)))
    }
}

fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    let f = match desc(fd)? {
        Desc::Stdio(0) => return Ok(0),
        Desc::Stdio(_) => return Err(Errno::BadF),
        Desc::File(f) => f,
    };
    if !f.mode.readable {
        return Err(Errno::BadF);
    }
    let mut offset = f.offset.lock();
    let mut done = 0;
    while done < buf.len() {
        let want = (buf.len() - done).min(bedrock_abi::ipc::MAX_DATA);
        let n = match scheme::read(f.handle, *offset, &mut buf[done..done + want]) {
            Ok(n) => n.min(want),
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        *offset += n as u64;
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done)
}

fn write(fd: i32, data: &[u8]) -> Result<usize, Errno> {
    let f = match desc(fd)? {
        Desc::Stdio(0) => return Err(Errno::BadF),
        Desc::Stdio(out) => {
            stdio::write(out, data);
            return Ok(data.len());
        }
        Desc::File(f) => f,
    };
    if !f.mode.writable {
        return Err(Errno::BadF);
    }
    let mut offset = f.offset.lock();
    if f.mode.append {
        *offset = stat_of(f.handle)?.0;
    }
    let mut done = 0;
    while done < data.len() {
        let n = match scheme::write(f.handle, *offset, &data[done..]) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        *offset += n as u64;
        done += n;
    }
    Ok(done)
}

hermit_fn! {
    fn sys_read(fd: i32, buf: *mut u8, len: usize) -> isize as read {
        if buf.is_null() && len > 0 {
            return ret(Err(Errno::Fault));
        }
        // SAFETY: `buf` is valid for `len` bytes, by the ABI's contract.
        let buf = unsafe { core::slice::from_raw_parts_mut(buf, len) };
        ret(read(fd, buf))
    }
}

hermit_fn! {
    fn sys_write(fd: i32, buf: *const u8, len: usize) -> isize as write {
        if buf.is_null() && len > 0 {
            return ret(Err(Errno::Fault));
        }
        // SAFETY: `buf` is valid for `len` bytes, by the ABI's contract.
        let data = unsafe { core::slice::from_raw_parts(buf, len) };
        ret(write(fd, data))
    }
}

/// The buffers of an iovec array.
///
/// # Safety
/// `iov` names `iovcnt` valid iovecs (or is null with 0).
unsafe fn iovecs<'a>(iov: *const iovec, iovcnt: usize) -> &'a [iovec] {
    if iov.is_null() || iovcnt == 0 {
        &[]
    } else {
        // SAFETY: the caller's promise.
        unsafe { core::slice::from_raw_parts(iov, iovcnt.min(hermit_abi::IOV_MAX)) }
    }
}

/// Runs `io` on each buffer of an iovec array in turn, as readv/writev do:
/// stops after a short transfer; an error counts only if nothing moved.
///
/// # Safety
/// As [`iovecs`].
unsafe fn vectored(
    iov: *const iovec,
    iovcnt: usize,
    mut io: impl FnMut(&iovec) -> Result<usize, Errno>,
) -> isize {
    let mut total = 0;
    // SAFETY: the caller's promise.
    for v in unsafe { iovecs(iov, iovcnt) } {
        match io(v) {
            Ok(n) => {
                total += n;
                if n < v.iov_len {
                    break;
                }
            }
            Err(e) if total == 0 => return ret(Err(e)),
            Err(_) => break,
        }
    }
    total as isize
}

hermit_fn! {
    fn sys_readv(fd: i32, iov: *const iovec, iovcnt: usize) -> isize as readv {
        // SAFETY: the ABI's contract on `iov`.
        unsafe {
            vectored(iov, iovcnt, |v| {
                // SAFETY: each iovec names a writable buffer.
                read(fd, core::slice::from_raw_parts_mut(v.iov_base.cast::<u8>(), v.iov_len))
            })
        }
    }
}

hermit_fn! {
    fn sys_writev(fd: i32, iov: *const iovec, iovcnt: usize) -> isize as writev {
        // SAFETY: the ABI's contract on `iov`.
        unsafe {
            vectored(iov, iovcnt, |v| {
                // SAFETY: each iovec names a readable buffer.
                write(fd, core::slice::from_raw_parts(v.iov_base.cast::<u8>(), v.iov_len))
            })
        }
    }
}

fn lseek(fd: i32, offset: isize, whence: i32) -> Result<usize, Errno> {
    let f = match desc(fd)? {
        Desc::Stdio(_) => return Err(Errno::from_raw(hermit_abi::errno::ESPIPE as u32)),
        Desc::File(f) => f,
    };
    let mut at = f.offset.lock();
    let from = match whence {
        SEEK_SET => 0,
        SEEK_CUR => *at as i64,
        SEEK_END => stat_of(f.handle)?.0 as i64,
        _ => return Err(Errno::Inval),
    };
    let new = from
        .checked_add(offset as i64)
        .filter(|&n| n >= 0)
        .ok_or(Errno::Inval)?;
    *at = new as u64;
    Ok(new as usize)
}

hermit_fn! {
    fn sys_lseek(fd: i32, offset: isize, whence: i32) -> isize as lseek {
        ret(lseek(fd, offset, whence))
    }
}

hermit_fn! {
    fn sys_close(fd: i32) -> i32 as close {
        if (0..=2).contains(&fd) {
            return 0;
        }
        let gone = TABLE.lock().remove(fd);
        // The resource closes (outside the table's lock) when the last
        // descriptor for it is gone.
        match gone {
            Some(d) => {
                drop(d);
                0
            }
            None => fail(Errno::BadF),
        }
    }
}

fn dup(fd: i32) -> Result<usize, Errno> {
    let d = desc(fd)?;
    let new = TABLE.lock().insert(d).ok_or(Errno::MFile)?;
    Ok(new as usize)
}

hermit_fn! {
    fn sys_dup(fd: i32) -> i32 as dup {
        ret32(dup(fd))
    }
}

hermit_fn! {
    /// Duplication and the flag queries std uses; nothing else.
    fn sys_fcntl(fd: i32, cmd: i32, _arg: i32) -> i32 as fcntl {
        let r = match cmd {
            F_DUPFD | F_DUPFD_CLOEXEC => dup(fd),
            F_GETFD | F_SETFD | F_SETFL => desc(fd).map(|_| 0),
            F_GETFL => desc(fd).map(|d| match d {
                Desc::Stdio(0) => O_RDONLY as usize,
                Desc::Stdio(_) => O_WRONLY as usize,
                Desc::File(f) => match (f.mode.readable, f.mode.writable) {
                    (true, true) => O_RDWR as usize,
                    (false, true) => O_WRONLY as usize,
                    _ => O_RDONLY as usize,
                },
            }),
            _ => Err(Errno::Inval),
        };
        ret32(r)
    }
}

hermit_fn! {
    fn sys_fstat(fd: i32, st: *mut stat) -> i32 as fstat {
        let r = desc(fd).and_then(|d| match d {
            Desc::Stdio(_) => fill_stat(st, S_IFCHR | 0o620, 0),
            Desc::File(f) => {
                let (size, kind) = stat_of(f.handle)?;
                fill_stat(st, mode_of(kind), size)
            }
        });
        ret32(r)
    }
}

hermit_fn! {
    fn sys_stat(name: *const c_char, st: *mut stat) -> i32 as stat {
        // SAFETY: the ABI's contract on `name`.
        let r = unsafe { path_arg(name) }
            .and_then(stat_path)
            .and_then(|(size, kind)| fill_stat(st, mode_of(kind), size));
        ret32(r)
    }
}

hermit_fn! {
    /// Schemes have no symbolic links: the same as `sys_stat`.
    fn sys_lstat(name: *const c_char, st: *mut stat) -> i32 as lstat {
        // SAFETY: same contract.
        unsafe { sys_stat(name, st) }
    }
}

/// The `d_type` of `dir/name`, asked of the server.
fn kind_of(dir: &str, name: &[u8]) -> u8 {
    let Ok(name) = core::str::from_utf8(name) else {
        return DT_UNKNOWN;
    };
    let sep = if dir.ends_with('/') { "" } else { "/" };
    match stat_path(&format!("{dir}{sep}{name}")) {
        Ok((_, proto::KIND_DIRECTORY)) => DT_DIR,
        Ok((_, proto::KIND_FILE)) => DT_REG,
        _ => DT_UNKNOWN,
    }
}

fn getdents64(fd: i32, out: &mut [u8]) -> Result<usize, Errno> {
    let f = file(fd)?;
    let first = f.dir_next.load(Ordering::Relaxed);
    let mut index = first;
    let mut at = 0;
    let mut name = [0u8; NAME_MAX];
    loop {
        let n = scheme::readdir(f.handle, index, &mut name)?;
        if n == 0 {
            break;
        }
        let kind = kind_of(&f.path, &name[..n]);
        at = dirent::put(out, at, index + 1, kind, &name[..n]).ok_or(Errno::Inval)?;
        index += 1;
    }
    f.dir_next.store(index, Ordering::Relaxed);
    Ok(at)
}

hermit_fn! {
    /// Every remaining entry of directory `fd`, or `-EINVAL` if they do not
    /// all fit (see the module doc); 0 at the end.
    fn sys_getdents64(fd: i32, dirp: *mut dirent64, count: usize) -> i64 as getdents64 {
        if dirp.is_null() {
            return ret(Err(Errno::Fault)) as i64;
        }
        // SAFETY: `dirp` is valid for `count` bytes, by the ABI's contract.
        let out = unsafe { core::slice::from_raw_parts_mut(dirp.cast::<u8>(), count) };
        ret(getdents64(fd, out)) as i64
    }
}

hermit_fn! {
    fn sys_mkdir(name: *const i8, _mode: u32) -> i32 as mkdir {
        // SAFETY: the ABI's contract on `name`.
        ret32(unsafe { path_arg(name.cast()) }.and_then(|p| scheme::mkdir(p).map(|()| 0)))
    }
}

hermit_fn! {
    fn sys_unlink(name: *const c_char) -> i32 as unlink {
        // SAFETY: the ABI's contract on `name`.
        ret32(unsafe { path_arg(name) }.and_then(|p| scheme::unlink(p).map(|()| 0)))
    }
}

hermit_fn! {
    fn sys_rmdir(name: *const c_char) -> i32 as rmdir {
        // SAFETY: same contract.
        unsafe { sys_unlink(name) }
    }
}

hermit_fn! {
    /// No descriptor supports device control.
    fn sys_ioctl(s: i32, _cmd: i32, _argp: *mut c_void) -> i32 as ioctl {
        ret32(desc(s).and(Err(Errno::NoSys)))
    }
}
