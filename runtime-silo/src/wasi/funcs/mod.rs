//! The preview1 functions, as methods on [`WasiCtx`](super::WasiCtx) taking
//! already-narrowed arguments and a [`GuestMemory`](super::memory::GuestMemory).
//! The wasm-facing glue lives in `linker`.
//!
//! Conventions: out-pointers are bounds-checked before any side effect, so a
//! bad result pointer cannot lose data (e.g. bytes consumed from stdin).
//! Order of checks: argument validity (`inval`), descriptor (`badf`), then
//! for directory functions (`path_*`, `fd_readdir`) that it is a directory
//! (`notdir`), then rights (`notcapable`), then the object's type. Because
//! rights are masked to the object type at open, a data operation on the
//! wrong kind of descriptor (e.g. `fd_seek` on stdout) is `notcapable`, the
//! original preview1 model; wasi-libc maps it to `ESPIPE`/`EBADF`.

pub(crate) mod args;
mod dir;
mod fd;
mod misc;
mod path;
mod sock;
