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
    use crate::{Errno, Rights, Syscall};

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

/// The client side of the scheme namespace and resource protocol.
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

    /// Reads `len` bytes at `offset` into shared memory object `memory` at
    /// `memory_offset` (the bulk path); returns bytes read.
    pub fn read_bulk(
        resource: u32,
        memory: u32,
        offset: u64,
        len: u64,
        memory_offset: u64,
    ) -> Result<u64, Errno> {
        let send = Message {
            label: crate::scheme::READ_BULK,
            words: [offset, len, memory_offset, 0],
            handles: [memory, 0, 0, 0],
            handle_count: 1,
            ..Message::default()
        };
        let mut reply = Message::default();
        call_port(resource, &send, &mut reply)?;
        status(&reply)?;
        Ok(reply.words[0])
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
