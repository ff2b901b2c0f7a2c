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

/// Adds every `wasi_snapshot_preview1` function to `linker`; `get` projects
/// the store data to the silo's [`WasiCtx`].
///
/// Arguments typed `u32`/`u64` in witx arrive as `i32`/`i64` and are
/// reinterpreted (`as`), which is the ABI's definition.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut WasiCtx,
) -> anyhow::Result<()> {
    // Arguments and environment.
    linker.func_wrap(
        MODULE,
        "args_get",
        move |mut cx: Caller<'_, T>, argv: i32, buf: i32| {
            with_memory(&mut cx, get, |c, m| c.args_get(m, argv as u32, buf as u32))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "args_sizes_get",
        move |mut cx: Caller<'_, T>, argc: i32, size: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.args_sizes_get(m, argc as u32, size as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "environ_get",
        move |mut cx: Caller<'_, T>, env: i32, buf: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.environ_get(m, env as u32, buf as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "environ_sizes_get",
        move |mut cx: Caller<'_, T>, count: i32, size: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.environ_sizes_get(m, count as u32, size as u32)
            })
        },
    )?;

    // Clocks, randomness, scheduling, process.
    linker.func_wrap(
        MODULE,
        "clock_res_get",
        move |mut cx: Caller<'_, T>, id: i32, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.clock_res_get(m, id as u32, out as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        move |mut cx: Caller<'_, T>, id: i32, precision: i64, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.clock_time_get(m, id as u32, precision as u64, out as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "random_get",
        move |mut cx: Caller<'_, T>, buf: i32, len: i32| {
            with_memory(&mut cx, get, |c, m| c.random_get(m, buf as u32, len as u32))
        },
    )?;
    linker.func_wrap(MODULE, "sched_yield", move |mut cx: Caller<'_, T>| {
        with_ctx(&mut cx, get, |c| c.sched_yield())
    })?;
    linker.func_wrap(
        MODULE,
        "proc_raise",
        move |mut cx: Caller<'_, T>, signal: i32| with_ctx(&mut cx, get, |c| c.proc_raise(signal)),
    )?;
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

    // Descriptors.
    linker.func_wrap(
        MODULE,
        "fd_advise",
        move |mut cx: Caller<'_, T>, fd: i32, offset: i64, len: i64, advice: i32| {
            with_ctx(&mut cx, get, |c| {
                c.fd_advise(fd as u32, offset as u64, len as u64, advice)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_allocate",
        move |mut cx: Caller<'_, T>, fd: i32, offset: i64, len: i64| {
            with_ctx(&mut cx, get, |c| {
                c.fd_allocate(fd as u32, offset as u64, len as u64)
            })
        },
    )?;
    linker.func_wrap(MODULE, "fd_close", move |mut cx: Caller<'_, T>, fd: i32| {
        with_ctx(&mut cx, get, |c| c.fd_close(fd as u32))
    })?;
    linker.func_wrap(
        MODULE,
        "fd_datasync",
        move |mut cx: Caller<'_, T>, fd: i32| with_ctx(&mut cx, get, |c| c.fd_datasync(fd as u32)),
    )?;
    linker.func_wrap(MODULE, "fd_sync", move |mut cx: Caller<'_, T>, fd: i32| {
        with_ctx(&mut cx, get, |c| c.fd_sync(fd as u32))
    })?;
    linker.func_wrap(
        MODULE,
        "fd_fdstat_get",
        move |mut cx: Caller<'_, T>, fd: i32, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_fdstat_get(m, fd as u32, out as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_fdstat_set_flags",
        move |mut cx: Caller<'_, T>, fd: i32, flags: i32| {
            with_ctx(&mut cx, get, |c| c.fd_fdstat_set_flags(fd as u32, flags))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_fdstat_set_rights",
        move |mut cx: Caller<'_, T>, fd: i32, base: i64, inheriting: i64| {
            with_ctx(&mut cx, get, |c| {
                c.fd_fdstat_set_rights(fd as u32, base as u64, inheriting as u64)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_filestat_get",
        move |mut cx: Caller<'_, T>, fd: i32, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_filestat_get(m, fd as u32, out as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_filestat_set_size",
        move |mut cx: Caller<'_, T>, fd: i32, size: i64| {
            with_ctx(&mut cx, get, |c| {
                c.fd_filestat_set_size(fd as u32, size as u64)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_filestat_set_times",
        move |mut cx: Caller<'_, T>, fd: i32, atim: i64, mtim: i64, flags: i32| {
            with_ctx(&mut cx, get, |c| {
                c.fd_filestat_set_times(fd as u32, atim as u64, mtim as u64, flags)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_pread",
        move |mut cx: Caller<'_, T>, fd: i32, iovs: i32, len: i32, offset: i64, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_pread(
                    m,
                    fd as u32,
                    iovs as u32,
                    len as u32,
                    offset as u64,
                    out as u32,
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_pwrite",
        move |mut cx: Caller<'_, T>, fd: i32, iovs: i32, len: i32, offset: i64, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_pwrite(
                    m,
                    fd as u32,
                    iovs as u32,
                    len as u32,
                    offset as u64,
                    out as u32,
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_read",
        move |mut cx: Caller<'_, T>, fd: i32, iovs: i32, len: i32, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_read(m, fd as u32, iovs as u32, len as u32, out as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_write",
        move |mut cx: Caller<'_, T>, fd: i32, iovs: i32, len: i32, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_write(m, fd as u32, iovs as u32, len as u32, out as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_seek",
        move |mut cx: Caller<'_, T>, fd: i32, offset: i64, whence: i32, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_seek(m, fd as u32, offset, whence, out as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_tell",
        move |mut cx: Caller<'_, T>, fd: i32, out: i32| {
            with_memory(&mut cx, get, |c, m| c.fd_tell(m, fd as u32, out as u32))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_readdir",
        move |mut cx: Caller<'_, T>, fd: i32, buf: i32, len: i32, cookie: i64, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_readdir(
                    m,
                    fd as u32,
                    buf as u32,
                    len as u32,
                    cookie as u64,
                    out as u32,
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_prestat_get",
        move |mut cx: Caller<'_, T>, fd: i32, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_prestat_get(m, fd as u32, out as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_prestat_dir_name",
        move |mut cx: Caller<'_, T>, fd: i32, path: i32, len: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.fd_prestat_dir_name(m, fd as u32, path as u32, len as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_renumber",
        move |mut cx: Caller<'_, T>, from: i32, to: i32| {
            with_ctx(&mut cx, get, |c| c.fd_renumber(from as u32, to as u32))
        },
    )?;

    // Paths.
    linker.func_wrap(
        MODULE,
        "path_create_directory",
        move |mut cx: Caller<'_, T>, fd: i32, path: i32, len: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_create_directory(m, fd as u32, (path as u32, len as u32))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_filestat_get",
        move |mut cx: Caller<'_, T>, fd: i32, flags: i32, path: i32, len: i32, out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_filestat_get(m, fd as u32, flags, (path as u32, len as u32), out as u32)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_filestat_set_times",
        move |mut cx: Caller<'_, T>,
              fd: i32,
              flags: i32,
              path: i32,
              len: i32,
              atim: i64,
              mtim: i64,
              fst: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_filestat_set_times(
                    m,
                    fd as u32,
                    flags,
                    (path as u32, len as u32),
                    atim as u64,
                    mtim as u64,
                    fst,
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_link",
        move |mut cx: Caller<'_, T>,
              old_fd: i32,
              old_flags: i32,
              old: i32,
              old_len: i32,
              new_fd: i32,
              new: i32,
              new_len: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_link(
                    m,
                    old_fd as u32,
                    old_flags,
                    (old as u32, old_len as u32),
                    new_fd as u32,
                    (new as u32, new_len as u32),
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_open",
        move |mut cx: Caller<'_, T>,
              fd: i32,
              dirflags: i32,
              path: i32,
              len: i32,
              oflags: i32,
              base: i64,
              inheriting: i64,
              fdflags: i32,
              out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_open(
                    m,
                    fd as u32,
                    dirflags,
                    (path as u32, len as u32),
                    oflags,
                    base as u64,
                    inheriting as u64,
                    fdflags,
                    out as u32,
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_readlink",
        move |mut cx: Caller<'_, T>,
              fd: i32,
              path: i32,
              len: i32,
              buf: i32,
              buf_len: i32,
              out: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_readlink(
                    m,
                    fd as u32,
                    (path as u32, len as u32),
                    buf as u32,
                    buf_len as u32,
                    out as u32,
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_remove_directory",
        move |mut cx: Caller<'_, T>, fd: i32, path: i32, len: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_remove_directory(m, fd as u32, (path as u32, len as u32))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_rename",
        move |mut cx: Caller<'_, T>,
              old_fd: i32,
              old: i32,
              old_len: i32,
              new_fd: i32,
              new: i32,
              new_len: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_rename(
                    m,
                    old_fd as u32,
                    (old as u32, old_len as u32),
                    new_fd as u32,
                    (new as u32, new_len as u32),
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_symlink",
        move |mut cx: Caller<'_, T>, target: i32, target_len: i32, fd: i32, path: i32, len: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_symlink(
                    m,
                    (target as u32, target_len as u32),
                    fd as u32,
                    (path as u32, len as u32),
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_unlink_file",
        move |mut cx: Caller<'_, T>, fd: i32, path: i32, len: i32| {
            with_memory(&mut cx, get, |c, m| {
                c.path_unlink_file(m, fd as u32, (path as u32, len as u32))
            })
        },
    )?;

    // Sockets (none exist yet; see funcs/sock.rs). The data and result
    // pointers are never touched.
    linker.func_wrap(
        MODULE,
        "sock_accept",
        move |mut cx: Caller<'_, T>, fd: i32, flags: i32, _out: i32| {
            with_ctx(&mut cx, get, |c| c.sock_accept(fd as u32, flags))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "sock_recv",
        move |mut cx: Caller<'_, T>,
              fd: i32,
              _iovs: i32,
              _len: i32,
              flags: i32,
              _out: i32,
              _oflags: i32| { with_ctx(&mut cx, get, |c| c.sock_recv(fd as u32, flags)) },
    )?;
    linker.func_wrap(
        MODULE,
        "sock_send",
        move |mut cx: Caller<'_, T>, fd: i32, _iovs: i32, _len: i32, flags: i32, _out: i32| {
            with_ctx(&mut cx, get, |c| c.sock_send(fd as u32, flags))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "sock_shutdown",
        move |mut cx: Caller<'_, T>, fd: i32, how: i32| {
            with_ctx(&mut cx, get, |c| c.sock_shutdown(fd as u32, how))
        },
    )?;
    Ok(())
}
