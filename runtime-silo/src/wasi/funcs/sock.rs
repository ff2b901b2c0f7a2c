//! Socket functions. Silos have no sockets until the net strate exists, so
//! no descriptor is a socket: an open descriptor gets `notsock`, a closed
//! one `badf`, after the flag arguments are validated (`inval`), in the order
//! wasmtime's bindings apply. Output pointers are left untouched.

use crate::wasi::WasiCtx;
use crate::wasi::abi::{Errno, Fdflags, Riflags, Sdflags, Siflags, WasiResult};

impl WasiCtx {
    fn not_a_socket(&self, fd: u32) -> WasiResult<()> {
        self.fds.get(fd)?;
        Err(Errno::Notsock)
    }

    pub(crate) fn sock_accept(&mut self, fd: u32, flags: i32) -> WasiResult<()> {
        Fdflags::from_arg(flags)?;
        self.not_a_socket(fd)
    }

    pub(crate) fn sock_recv(&mut self, fd: u32, flags: i32) -> WasiResult<()> {
        Riflags::from_arg(flags)?;
        self.not_a_socket(fd)
    }

    pub(crate) fn sock_send(&mut self, fd: u32, flags: i32) -> WasiResult<()> {
        Siflags::from_arg(flags)?;
        self.not_a_socket(fd)
    }

    pub(crate) fn sock_shutdown(&mut self, fd: u32, how: i32) -> WasiResult<()> {
        Sdflags::from_arg(how)?;
        self.not_a_socket(fd)
    }
}
