//! Registers the `wasi_snapshot_preview1` functions on a `wasmtime::Linker`.
//!
//! Each function narrows its raw wasm arguments, takes the [`WasiCtx`] from
//! the store data and, when it touches guest memory, the instance's exported
//! `memory`, and turns the `WasiResult` into the errno the guest receives —
//! the one place where `Errno` becomes a number. Only `proc_exit`, an
//! interrupted `poll_oneoff` and a missing `memory` export end the call with
//! an error (a trap) instead of an errno.

use wasmtime::{Caller, Extern, Linker};

use super::abi::WasiResult;
use super::memory::GuestMemory;
use super::{I32Exit, WasiCtx};

/// The import module name.
const MODULE: &str = "wasi_snapshot_preview1";

type Getter<T> = fn(&mut T) -> &mut WasiCtx;

/// The `i32` a WASI function returns.
fn errno(result: WasiResult<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => i32::from(e.raw()),
    }
}

/// Runs `f` with the context only.
fn with_ctx<T: 'static>(
    caller: &mut Caller<'_, T>,
    get: Getter<T>,
    f: impl FnOnce(&mut WasiCtx) -> WasiResult<()>,
) -> wasmtime::Result<i32> {
    Ok(errno(f(get(caller.data_mut()))))
}

/// Runs `f` with the context and the caller's linear memory.
///
/// A module importing WASI functions that use pointers must export its
/// memory as `memory` (the preview1 ABI); calling one without it traps, as
/// in wasmtime.
fn with_memory<T: 'static>(
    caller: &mut Caller<'_, T>,
    get: Getter<T>,
    f: impl FnOnce(&mut WasiCtx, &mut GuestMemory<'_>) -> WasiResult<()>,
) -> wasmtime::Result<i32> {
    memory_call(caller, get, f).map(errno)
}

/// [`with_memory`] for functions that can also trap.
fn memory_call<T: 'static, R>(
    caller: &mut Caller<'_, T>,
    get: Getter<T>,
    f: impl FnOnce(&mut WasiCtx, &mut GuestMemory<'_>) -> R,
) -> wasmtime::Result<R> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        wasmtime::bail!(
            "WASI functions need the module to export its linear memory as `memory` \
             (shared memories are not supported)"
        );
    };
    let (bytes, data) = memory.data_and_store_mut(caller);
    Ok(f(get(data), &mut GuestMemory::new(bytes)))
}

/// The raw wasm type of a WASI argument type: witx's unsigned integers
/// arrive as the signed wasm integers of the same width.
macro_rules! raw {
    (u32) => {
        i32
    };
    (u64) => {
        i64
    };
    (i32) => {
        i32
    };
    (i64) => {
        i64
    };
}

/// Registers WASI functions that map one to one onto a [`WasiCtx`] method
/// of the same name: `mem` ones get the caller's memory first, `ctx` ones
/// only the context. Arguments are declared with their witx types and
/// reinterpreted from the raw wasm integers (`as`, the ABI's definition);
/// the method is called with the arguments in order, or with the list after
/// `=>` (e.g. a `(pointer, length)` pair as one path argument).
macro_rules! wasi {
    ($linker:ident, $get:ident; $($kind:ident $name:ident($($arg:ident: $ty:ident),*) $(=> ($($call:expr),*))?;)*) => {
        $(wasi!(@one $linker, $get, $kind, $name, ($($arg: $ty),*), $(($($call),*))? ($($arg),*));)*
    };
    (@one $linker:ident, $get:ident, $kind:ident, $name:ident, ($($arg:ident: $ty:ident),*), ($($call:expr),*) $($default:tt)*) => {
        $linker.func_wrap(
            MODULE,
            stringify!($name),
            move |mut cx: Caller<'_, T>, $($arg: raw!($ty)),*| {
                $(let $arg = $arg as $ty;)*
                wasi!(@call $kind, cx, $get, $name, ($($call),*))
            },
        )?;
    };
    (@call mem, $cx:ident, $get:ident, $name:ident, ($($call:expr),*)) => {
        with_memory(&mut $cx, $get, |c, m| c.$name(m, $($call),*))
    };
    (@call ctx, $cx:ident, $get:ident, $name:ident, ($($call:expr),*)) => {
        with_ctx(&mut $cx, $get, |c| c.$name($($call),*))
    };
}

/// Adds every `wasi_snapshot_preview1` function to `linker`; `get` projects
/// the store data to the silo's [`WasiCtx`].
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut WasiCtx,
) -> wasmtime::Result<()> {
    wasi! { linker, get;
        // Arguments and environment.
        mem args_get(argv: u32, buf: u32);
        mem args_sizes_get(argc: u32, size: u32);
        mem environ_get(env: u32, buf: u32);
        mem environ_sizes_get(count: u32, size: u32);

        // Clocks, randomness, scheduling.
        mem clock_res_get(id: u32, out: u32);
        mem clock_time_get(id: u32, precision: u64, out: u32);
        mem random_get(buf: u32, len: u32);
        ctx sched_yield();
        ctx proc_raise(signal: i32);

        // Descriptors.
        ctx fd_advise(fd: u32, offset: u64, len: u64, advice: i32);
        ctx fd_allocate(fd: u32, offset: u64, len: u64);
        ctx fd_close(fd: u32);
        ctx fd_datasync(fd: u32);
        ctx fd_sync(fd: u32);
        mem fd_fdstat_get(fd: u32, out: u32);
        ctx fd_fdstat_set_flags(fd: u32, flags: i32);
        ctx fd_fdstat_set_rights(fd: u32, base: u64, inheriting: u64);
        mem fd_filestat_get(fd: u32, out: u32);
        ctx fd_filestat_set_size(fd: u32, size: u64);
        ctx fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, flags: i32);
        mem fd_pread(fd: u32, iovs: u32, len: u32, offset: u64, out: u32);
        mem fd_pwrite(fd: u32, iovs: u32, len: u32, offset: u64, out: u32);
        mem fd_read(fd: u32, iovs: u32, len: u32, out: u32);
        mem fd_write(fd: u32, iovs: u32, len: u32, out: u32);
        mem fd_seek(fd: u32, offset: i64, whence: i32, out: u32);
        mem fd_tell(fd: u32, out: u32);
        mem fd_readdir(fd: u32, buf: u32, len: u32, cookie: u64, out: u32);
        mem fd_prestat_get(fd: u32, out: u32);
        mem fd_prestat_dir_name(fd: u32, path: u32, len: u32);
        ctx fd_renumber(from: u32, to: u32);

        // Paths: each is a (pointer, length) pair.
        mem path_create_directory(fd: u32, path: u32, len: u32) => (fd, (path, len));
        mem path_filestat_get(fd: u32, flags: i32, path: u32, len: u32, out: u32)
            => (fd, flags, (path, len), out);
        mem path_filestat_set_times(
            fd: u32, flags: i32, path: u32, len: u32, atim: u64, mtim: u64, fst: i32
        ) => (fd, flags, (path, len), atim, mtim, fst);
        mem path_link(
            old_fd: u32, old_flags: i32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32
        ) => (old_fd, old_flags, (old, old_len), new_fd, (new, new_len));
        mem path_open(
            fd: u32, dirflags: i32, path: u32, len: u32, oflags: i32, base: u64,
            inheriting: u64, fdflags: i32, out: u32
        ) => (fd, dirflags, (path, len), oflags, base, inheriting, fdflags, out);
        mem path_readlink(fd: u32, path: u32, len: u32, buf: u32, buf_len: u32, out: u32)
            => (fd, (path, len), buf, buf_len, out);
        mem path_remove_directory(fd: u32, path: u32, len: u32) => (fd, (path, len));
        mem path_rename(old_fd: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32)
            => (old_fd, (old, old_len), new_fd, (new, new_len));
        mem path_symlink(target: u32, target_len: u32, fd: u32, path: u32, len: u32)
            => ((target, target_len), fd, (path, len));
        mem path_unlink_file(fd: u32, path: u32, len: u32) => (fd, (path, len));

        // Sockets (none exist yet; see funcs/sock.rs). The data and result
        // pointers are never touched.
        ctx sock_accept(fd: u32, flags: i32, _out: u32) => (fd, flags);
        ctx sock_recv(fd: u32, _iovs: u32, _len: u32, flags: i32, _out: u32, _oflags: u32)
            => (fd, flags);
        ctx sock_send(fd: u32, _iovs: u32, _len: u32, flags: i32, _out: u32) => (fd, flags);
        ctx sock_shutdown(fd: u32, how: i32);
    }

    // The two that can end the call with a trap.
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_caller: Caller<'_, T>, status: i32| -> wasmtime::Result<()> {
            Err(wasmtime::Error::new(I32Exit(status)))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "poll_oneoff",
        move |mut cx: Caller<'_, T>, subs: i32, events: i32, count: i32, nevents: i32| {
            let result = memory_call(&mut cx, get, |c, m| {
                c.poll_oneoff(m, subs as u32, events as u32, count as u32, nevents as u32)
            })?;
            Ok(errno(result.map_err(wasmtime::Error::new)?))
        },
    )?;
    Ok(())
}
