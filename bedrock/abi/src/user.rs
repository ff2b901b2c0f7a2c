//! Raw system calls for ring-3 programs (x86_64).

use crate::{Errno, Syscall, decode};

/// Issues system call `n` with up to six arguments.
///
/// # Safety
/// The arguments must satisfy the call's contract (see [`Syscall`]):
/// pointers must be valid for the access the call makes.
#[inline]
pub unsafe fn syscall6(n: Syscall, a: [usize; 6]) -> Result<usize, Errno> {
    let ret: usize;
    // SAFETY: the `syscall` instruction clobbers rcx and r11 only; memory
    // effects are the kernel's, covered by the caller's contract.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as usize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    decode(ret)
}

/// A call with fewer arguments (the rest are zero).
///
/// # Safety
/// As [`syscall6`].
#[inline]
pub unsafe fn syscall(n: Syscall, args: &[usize]) -> Result<usize, Errno> {
    let mut a = [0usize; 6];
    a[..args.len().min(6)].copy_from_slice(&args[..args.len().min(6)]);
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, a) }
}

/// Ends the silo.
pub fn exit(code: i32) -> ! {
    // SAFETY: Exit takes no pointers.
    let _ = unsafe { syscall(Syscall::Exit, &[code as usize]) };
    unreachable!("exit returned");
}

/// Writes `msg` to the kernel log.
pub fn log(msg: &[u8]) -> Result<usize, Errno> {
    // SAFETY: `msg` is valid for reads of its length.
    unsafe { syscall(Syscall::LogWrite, &[msg.as_ptr() as usize, msg.len()]) }
}

/// Typed wrappers for capabilities and IPC.
pub mod ipc {
    use crate::ipc::Message;
    use crate::{Errno, Rights, Syscall, decode};

    use super::syscall as call;

    pub fn port_create() -> Result<u32, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::PortCreate, &[]) }.map(|h| h as u32)
    }

    pub fn duplicate(h: u32, rights: Rights) -> Result<u32, Errno> {
        // SAFETY: no pointers.
        unsafe {
            call(
                Syscall::HandleDuplicate,
                &[h as usize, rights.bits() as usize],
            )
        }
        .map(|h| h as u32)
    }

    pub fn mint(h: u32, badge: u64, rights: Rights) -> Result<u32, Errno> {
        // SAFETY: no pointers.
        unsafe {
            call(
                Syscall::PortMint,
                &[h as usize, badge as usize, rights.bits() as usize],
            )
        }
        .map(|h| h as u32)
    }

    pub fn close(h: u32) -> Result<usize, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::HandleClose, &[h as usize]) }
    }

    pub fn revoke(h: u32) -> Result<usize, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::HandleRevoke, &[h as usize]) }
    }

    pub fn info(h: u32) -> Result<usize, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::HandleInfo, &[h as usize]) }
    }

    pub fn call_port(h: u32, send: &Message, reply: &mut Message) -> Result<usize, Errno> {
        // SAFETY: both descriptors and the buffers they name are ours.
        unsafe {
            call(
                Syscall::Call,
                &[
                    h as usize,
                    send as *const Message as usize,
                    reply as *mut Message as usize,
                ],
            )
        }
    }

    pub fn receive(h: u32, into: &mut Message, timeout_ns: u64) -> Result<usize, Errno> {
        // SAFETY: the descriptor and its buffer are ours.
        unsafe {
            call(
                Syscall::Receive,
                &[
                    h as usize,
                    into as *mut Message as usize,
                    timeout_ns as usize,
                ],
            )
        }
    }

    pub fn reply(h: u32, send: &Message) -> Result<usize, Errno> {
        // SAFETY: the descriptor and its buffer are ours.
        unsafe {
            call(
                Syscall::Reply,
                &[h as usize, send as *const Message as usize],
            )
        }
    }

    /// The reply to a [`call_regs`].
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct RegsReply {
        pub label: u64,
        pub words: [u64; crate::ipc::WORDS],
        /// Data bytes the server sent (a register call receives none).
        pub data_len: u64,
    }

    /// A call carrying only `label` and `words`, all in registers: the
    /// fast path for small requests (`Syscall::CallRegs`).
    #[inline]
    pub fn call_regs(h: u32, label: u64, words: [u64; 4]) -> Result<RegsReply, Errno> {
        let ret: usize;
        let mut r = RegsReply::default();
        // SAFETY: no pointers; the kernel returns the reply in rdi, rsi,
        // rdx, r10, r8 and r9 and clobbers rcx and r11, as declared.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") Syscall::CallRegs as usize => ret,
                inlateout("rdi") h as u64 => r.label,
                inlateout("rsi") label => r.data_len,
                inlateout("rdx") words[0] => r.words[0],
                inlateout("r10") words[1] => r.words[1],
                inlateout("r8") words[2] => r.words[2],
                inlateout("r9") words[3] => r.words[3],
                lateout("rcx") _, lateout("r11") _,
                options(nostack),
            );
        }
        decode(ret).map(|_| r)
    }

    /// Answers `reply` (0: nothing to answer) with `send`, then waits for
    /// the next call on `port` into `into` (`Syscall::ReplyWait`).
    pub fn reply_wait(
        reply: u32,
        send: &Message,
        port: u32,
        into: &mut Message,
        timeout_ns: u64,
    ) -> Result<usize, Errno> {
        // SAFETY: both descriptors and the buffers they name are ours.
        unsafe {
            call(
                Syscall::ReplyWait,
                &[
                    reply as usize,
                    send as *const Message as usize,
                    port as usize,
                    into as *mut Message as usize,
                    timeout_ns as usize,
                ],
            )
        }
    }

    pub fn mem_create(size: usize) -> Result<u32, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::MemCreate, &[size]) }.map(|h| h as u32)
    }

    pub fn mem_map(h: u32, prot: usize) -> Result<usize, Errno> {
        // SAFETY: no pointers; the kernel picks the address.
        unsafe { call(Syscall::MemMap, &[h as usize, 0, prot]) }
    }

    pub fn mem_size(h: u32) -> Result<usize, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::MemSize, &[h as usize]) }
    }

    pub fn irq_bind(irq: u32, notification: u32, bits: u64) -> Result<usize, Errno> {
        // SAFETY: no pointers.
        unsafe {
            call(
                Syscall::IrqBind,
                &[irq as usize, notification as usize, bits as usize],
            )
        }
    }

    pub fn irq_ack(irq: u32) -> Result<usize, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::IrqAck, &[irq as usize]) }
    }

    pub fn notify_create() -> Result<u32, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::NotifyCreate, &[]) }.map(|h| h as u32)
    }

    pub fn signal(h: u32, bits: u64) -> Result<usize, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::NotifySignal, &[h as usize, bits as usize]) }
    }

    pub fn wait(h: u32, timeout_ns: u64) -> Result<usize, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::NotifyWait, &[h as usize, timeout_ns as usize]) }
    }
}

pub mod scheme_server;

/// The client side of the scheme namespace and resource protocol (the
/// server side: [`scheme::server`]).
pub mod scheme {
    use crate::ipc::Message;
    use crate::{Errno, Syscall};

    use super::ipc::{call_port, close};
    use super::syscall;

    /// A handle to the server of scheme `name` (must be in our namespace).
    pub fn lookup(name: &str) -> Result<u32, Errno> {
        // SAFETY: `name` is valid for reads of its length.
        unsafe { syscall(Syscall::SchemeLookup, &[name.as_ptr() as usize, name.len()]) }
            .map(|h| h as u32)
    }

    /// Serves scheme `name` with port `port`.
    pub fn register(name: &str, port: u32) -> Result<usize, Errno> {
        // SAFETY: `name` is valid for reads of its length.
        unsafe {
            syscall(
                Syscall::SchemeRegister,
                &[name.as_ptr() as usize, name.len(), port as usize],
            )
        }
    }

    /// Turns a reply's status label into a result.
    pub fn status(reply: &Message) -> Result<(), Errno> {
        if reply.label == 0 {
            Ok(())
        } else {
            Err(Errno::from_raw(reply.label as u32))
        }
    }

    /// Opens `scheme:/path`; returns the resource handle.
    pub fn open(path: &str, flags: u64) -> Result<u32, Errno> {
        let (scheme, rest) = crate::scheme::split(path).ok_or(Errno::Inval)?;
        let server = lookup(scheme)?;
        let send = Message {
            label: crate::scheme::OPEN,
            words: [flags, 0, 0, 0],
            data: rest.as_ptr() as u64,
            data_len: rest.len() as u64,
            ..Message::default()
        };
        let mut reply = Message::default();
        let result = call_port(server, &send, &mut reply);
        let _ = close(server);
        result?;
        status(&reply)?;
        if reply.handle_count != 1 {
            return Err(Errno::Io);
        }
        Ok(reply.handles[0])
    }

    /// Size of an open resource (`STAT`).
    pub fn size(resource: u32) -> Result<u64, Errno> {
        let mut reply = Message::default();
        call_port(
            resource,
            &Message {
                label: crate::scheme::STAT,
                ..Message::default()
            },
            &mut reply,
        )?;
        status(&reply)?;
        Ok(reply.words[0])
    }

    /// Reads up to `buf.len()` (at most `MAX_DATA`) bytes at `offset`.
    pub fn read(resource: u32, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let len = buf.len().min(crate::ipc::MAX_DATA);
        let send = Message {
            label: crate::scheme::READ,
            words: [offset, len as u64, 0, 0],
            ..Message::default()
        };
        let mut reply = Message {
            data: buf.as_mut_ptr() as u64,
            data_len: len as u64,
            ..Message::default()
        };
        call_port(resource, &send, &mut reply)?;
        status(&reply)?;
        Ok((reply.data_len as usize).min(len))
    }

    /// Reads `len` bytes at `offset` into the shared memory object at
    /// `memory_offset` (the bulk path); returns bytes read. `Some(memory)`
    /// attaches that object to the resource first (the server maps it
    /// once); `None` uses the one attached before.
    pub fn read_bulk(
        resource: u32,
        memory: Option<u32>,
        offset: u64,
        len: u64,
        memory_offset: u64,
    ) -> Result<u64, Errno> {
        bulk(
            crate::scheme::READ_BULK,
            resource,
            memory,
            offset,
            len,
            memory_offset,
        )
    }

    /// Writes `len` bytes from the shared memory object at `memory_offset`
    /// to the resource at `offset` (see [`read_bulk`]); returns bytes
    /// written.
    pub fn write_bulk(
        resource: u32,
        memory: Option<u32>,
        offset: u64,
        len: u64,
        memory_offset: u64,
    ) -> Result<u64, Errno> {
        bulk(
            crate::scheme::WRITE_BULK,
            resource,
            memory,
            offset,
            len,
            memory_offset,
        )
    }

    fn bulk(
        label: u64,
        resource: u32,
        memory: Option<u32>,
        offset: u64,
        len: u64,
        memory_offset: u64,
    ) -> Result<u64, Errno> {
        let send = Message {
            label,
            words: [offset, len, memory_offset, 0],
            handles: [memory.unwrap_or(0), 0, 0, 0],
            handle_count: memory.is_some() as u32,
            ..Message::default()
        };
        let mut reply = Message::default();
        call_port(resource, &send, &mut reply)?;
        status(&reply)?;
        Ok(reply.words[0])
    }

    /// Writes `data` (at most `MAX_DATA` bytes) at `offset`; returns bytes
    /// written.
    pub fn write(resource: u32, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let len = data.len().min(crate::ipc::MAX_DATA);
        let send = Message {
            label: crate::scheme::WRITE,
            words: [offset, 0, 0, 0],
            data: data.as_ptr() as u64,
            data_len: len as u64,
            ..Message::default()
        };
        let mut reply = Message::default();
        call_port(resource, &send, &mut reply)?;
        status(&reply)?;
        Ok(reply.words[0] as usize)
    }

    /// The name of directory entry `index` into `name`; 0 past the end.
    pub fn readdir(resource: u32, index: u64, name: &mut [u8]) -> Result<usize, Errno> {
        let send = Message {
            label: crate::scheme::READDIR,
            words: [index, 0, 0, 0],
            ..Message::default()
        };
        let mut reply = Message {
            data: name.as_mut_ptr() as u64,
            data_len: name.len() as u64,
            ..Message::default()
        };
        call_port(resource, &send, &mut reply)?;
        status(&reply)?;
        Ok((reply.data_len as usize).min(name.len()))
    }

    /// `MKDIR` or `UNLINK` of `scheme:/path`.
    fn path_call(label: u64, path: &str) -> Result<(), Errno> {
        let (scheme, rest) = crate::scheme::split(path).ok_or(Errno::Inval)?;
        let server = lookup(scheme)?;
        let send = Message {
            label,
            data: rest.as_ptr() as u64,
            data_len: rest.len() as u64,
            ..Message::default()
        };
        let mut reply = Message::default();
        let result = call_port(server, &send, &mut reply);
        let _ = close(server);
        result?;
        status(&reply)
    }

    pub fn mkdir(path: &str) -> Result<(), Errno> {
        path_call(crate::scheme::MKDIR, path)
    }

    pub fn unlink(path: &str) -> Result<(), Errno> {
        path_call(crate::scheme::UNLINK, path)
    }

    /// Tells the server we are done with the resource (it lets go of any
    /// attached bulk memory), then closes the handle.
    pub fn close_resource(resource: u32) -> Result<(), Errno> {
        let mut reply = Message::default();
        let told = call_port(
            resource,
            &Message {
                label: crate::scheme::CLOSE,
                ..Message::default()
            },
            &mut reply,
        )
        .and_then(|_| status(&reply));
        close(resource)?;
        told
    }

    pub use super::scheme_server as server;
}

/// Silos and threads as capabilities: spawn, wait, kill.
pub mod silo {
    use crate::silo::{MAX_SPAWN_HANDLES, SpawnSpec, pack};
    use crate::{Errno, Syscall, prot};

    pub use crate::silo::{BOOT_ARCHIVE_HANDLE, ExitStatus};

    use super::syscall;

    /// A handle given to a child: a derived copy, or the handle itself.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Pass {
        Copy(u32),
        Move(u32),
    }

    /// What [`spawn`] starts.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct SpawnArgs<'a> {
        pub image: &'a [u8],
        pub name: &'a str,
        pub argv: &'a [&'a str],
        pub envp: &'a [&'a str],
        /// Scheme names (a subset of ours).
        pub namespace: &'a [&'a str],
        /// The child's initial handles, in order.
        pub handles: &'a [Pass],
        /// CPU mask for the child's threads; 0 = any.
        pub affinity: u64,
    }

    /// Bytes of stack [`spawn`] packs `argv`, `envp` and `namespace` into
    /// (`TooBig` beyond; build a [`SpawnSpec`] for more).
    pub const PACK_BUFFER: usize = 4096;

    /// Starts a silo; returns its handle (WAIT, KILL, GRANT, DUPLICATE).
    pub fn spawn(a: &SpawnArgs<'_>) -> Result<u32, Errno> {
        if a.handles.len() > MAX_SPAWN_HANDLES {
            return Err(Errno::TooBig);
        }
        let mut buf = [0u8; PACK_BUFFER];
        let argv_len = pack(a.argv, &mut buf)?;
        let envp_len = pack(a.envp, &mut buf[argv_len..])?;
        let ns_len = pack(a.namespace, &mut buf[argv_len + envp_len..])?;
        let base = buf.as_ptr() as u64;
        let mut spec = SpawnSpec {
            image: a.image.as_ptr() as u64,
            image_len: a.image.len() as u64,
            name: a.name.as_ptr() as u64,
            name_len: a.name.len() as u64,
            argv: base,
            argv_len: argv_len as u64,
            envp: base + argv_len as u64,
            envp_len: envp_len as u64,
            namespace: base + (argv_len + envp_len) as u64,
            namespace_len: ns_len as u64,
            argc: a.argv.len() as u32,
            envc: a.envp.len() as u32,
            namespace_count: a.namespace.len() as u32,
            handle_count: a.handles.len() as u32,
            affinity: a.affinity,
            ..SpawnSpec::default()
        };
        for (i, p) in a.handles.iter().enumerate() {
            spec.handles[i] = match *p {
                Pass::Copy(h) => h,
                Pass::Move(h) => {
                    spec.handle_move |= 1 << i;
                    h
                }
            };
        }
        spawn_raw(&spec)
    }

    /// `SiloSpawn` with a spec built by hand. The kernel only reads the
    /// memory the spec names, through checked copies (a bad pointer is
    /// `Fault`), so this is safe whatever the spec holds.
    pub fn spawn_raw(spec: &SpawnSpec) -> Result<u32, Errno> {
        // SAFETY: the kernel reads `spec` and what it names, checked.
        unsafe { syscall(Syscall::SiloSpawn, &[spec as *const SpawnSpec as usize]) }
            .map(|h| h as u32)
    }

    /// Waits (up to `timeout_ns`, `u64::MAX` for ever) for the silo to end.
    pub fn wait(h: u32, timeout_ns: u64) -> Result<ExitStatus, Errno> {
        // SAFETY: no pointers.
        let v = unsafe { syscall(Syscall::SiloWait, &[h as usize, timeout_ns as usize]) }?;
        ExitStatus::decode(v as u64).ok_or(Errno::Unknown)
    }

    /// Ends the silo (status `Killed`).
    pub fn kill(h: u32) -> Result<(), Errno> {
        // SAFETY: no pointers.
        unsafe { syscall(Syscall::SiloKill, &[h as usize]) }.map(|_| ())
    }

    /// A handle for thread `id` of our silo (0: the caller).
    pub fn thread_handle(id: usize) -> Result<u32, Errno> {
        // SAFETY: no pointers.
        unsafe { syscall(Syscall::ThreadHandle, &[id]) }.map(|h| h as u32)
    }

    /// Waits for the thread behind `h` to exit; returns its exit code.
    pub fn thread_wait(h: u32, timeout_ns: u64) -> Result<i32, Errno> {
        // SAFETY: no pointers.
        unsafe { syscall(Syscall::ThreadWait, &[h as usize, timeout_ns as usize]) }
            .map(|c| c as u32 as i32)
    }

    /// CPU time the thread behind `h` has used, in nanoseconds.
    pub fn thread_cpu_time(h: u32) -> Result<u64, Errno> {
        // SAFETY: no pointers.
        unsafe { syscall(Syscall::ThreadCpuTime, &[h as usize]) }.map(|ns| ns as u64)
    }

    /// Maps the boot archive we were given (see [`BOOT_ARCHIVE_HANDLE`])
    /// read-only and returns its bytes (page-padded with zeros, which the
    /// archive format allows after its trailer). Each call maps it again.
    pub fn boot_archive() -> Result<&'static [u8], Errno> {
        let size = super::ipc::mem_size(BOOT_ARCHIVE_HANDLE)?;
        let addr = super::ipc::mem_map(BOOT_ARCHIVE_HANDLE, prot::READ)?;
        // SAFETY: the kernel mapped `size` readable bytes at `addr` that
        // stay mapped (we never unmap them) and that nobody can write (no
        // handle to the archive has WRITE).
        Ok(unsafe { core::slice::from_raw_parts(addr as *const u8, size) })
    }
}

/// Typed wrappers for device capabilities (ring-3 drivers).
pub mod device {
    use crate::{Errno, Rights, Syscall};

    use super::syscall as call;

    /// `PlatformMint`: a device capability of `kind` (`device::MINT_*`).
    pub fn mint(
        platform: u32,
        kind: u64,
        base: u64,
        len: u64,
        rights: Rights,
    ) -> Result<u32, Errno> {
        // SAFETY: no pointers.
        unsafe {
            call(
                Syscall::PlatformMint,
                &[
                    platform as usize,
                    kind as usize,
                    base as usize,
                    len as usize,
                    rights.bits() as usize,
                ],
            )
        }
        .map(|h| h as u32)
    }

    /// Physical address of a DMA or MMIO memory object.
    pub fn phys_addr(memory: u32) -> Result<u64, Errno> {
        // SAFETY: no pointers.
        unsafe { call(Syscall::MemPhysAddr, &[memory as usize]) }.map(|a| a as u64)
    }

    /// Reads `width` (1, 2 or 4) bytes from I/O port `port`.
    pub fn port_in(ports: u32, port: u16, width: u8) -> Result<u32, Errno> {
        // SAFETY: no pointers.
        unsafe {
            call(
                Syscall::PortIn,
                &[ports as usize, port as usize, width as usize],
            )
        }
        .map(|v| v as u32)
    }

    /// Writes the low `width` bytes of `value` to I/O port `port`.
    pub fn port_out(ports: u32, port: u16, width: u8, value: u32) -> Result<usize, Errno> {
        // SAFETY: no pointers.
        unsafe {
            call(
                Syscall::PortOut,
                &[
                    ports as usize,
                    port as usize,
                    width as usize,
                    value as usize,
                ],
            )
        }
    }
}
