//! IPC message layout, shared by callers, servers and the kernel.
//!
//! A message has a label (request kind, or status in a reply), four words
//! (passed in registers by `CallRegs`, the fast path for small calls), up
//! to [`MAX_DATA`] bytes of data (copied once, directly from the sender's
//! buffer into the receiver's: no kernel buffer), and up to
//! [`MAX_HANDLES`] handles moved or copied into the receiver's handle
//! table.

use crate::rights::Rights;

pub const WORDS: usize = 4;
/// The capabilities a silo is created with get handles from this value
/// on, in order (the creator tells the program which is which, e.g. in
/// its arguments).
pub const FIRST_INITIAL_HANDLE: u32 = 1;
/// Init's handle to the platform authority (`ObjectType::Platform`), the
/// source of every device capability (`Syscall::PlatformMint`).
pub const PLATFORM_HANDLE: u32 = 2;
pub const MAX_DATA: usize = 4096;
pub const MAX_HANDLES: usize = 4;
/// Most links between a capability and the original it was derived from
/// (duplicate, mint, transfer by copy); deriving past it fails with
/// `Errno::MLink`. Derive from a handle nearer the original instead.
pub const MAX_DERIVATION_DEPTH: u32 = 64;

/// Describes a message to send or a buffer to receive into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Message {
    pub label: u64,
    pub words: [u64; WORDS],
    /// User address of the data (send) or of the receive buffer.
    pub data: u64,
    /// Send: bytes to send. Receive: buffer capacity in, bytes received out.
    pub data_len: u64,
    /// Send: handles to transfer. Receive: the handles received.
    pub handles: [u32; MAX_HANDLES],
    pub handle_count: u32,
    /// Send: bit i set = move handle i (it leaves the sender's table);
    /// clear = copy it (a derived handle, revocable by the sender).
    pub handle_move: u32,
    /// Receive: the badge of the handle the caller used.
    pub badge: u64,
    /// Receive: the single-use reply handle for this call.
    pub reply: u32,
    /// Receive: how many data bytes the caller's reply buffer takes (a
    /// longer reply is cut there; the caller sees the full length).
    pub reply_capacity: u32,
    /// Receive: [`flags`] of the call.
    pub flags: u32,
    pub reserved: u32,
}

/// [`Message::flags`] bits.
pub mod flags {
    /// The call came through `CallRegs`: its reply is the label and the
    /// words only; a reply carrying handles is refused (`Inval`), data is
    /// cut (the caller learns its length).
    pub const REGISTER_CALL: u32 = 1;
}

/// Kinds of kernel object a handle can name (`HandleInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ObjectType {
    Port = 1,
    Reply = 2,
    Notification = 3,
    Memory = 4,
    IrqLine = 5,
    /// The platform authority: mints device capabilities.
    Platform = 6,
    /// A silo (`SiloSpawn`): wait for it, kill it.
    Silo = 7,
    /// A thread (`ThreadHandle`): wait for it.
    Thread = 8,
    /// A range of x86 I/O ports (`Syscall::PortIn`, `Syscall::PortOut`).
    IoPorts = 9,
}

/// `HandleInfo` result: object type in bits 32.., rights in bits 0..32.
pub const fn handle_info(ty: ObjectType, rights: Rights) -> u64 {
    ((ty as u64) << 32) | rights.bits() as u64
}
