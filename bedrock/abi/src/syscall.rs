//! System call numbers and their arguments.
//!
//! Each variant documents `(arguments) -> result`. Pointer arguments are
//! user addresses; the kernel checks every one and answers
//! [`Errno::Fault`](crate::Errno::Fault) instead of faulting.

/// A system call number (`rax`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
#[non_exhaustive]
pub enum Syscall {
    /// `(code: i32) -> !`: ends the whole silo with `code`.
    Exit = 0,
    /// `(entry: fn(arg), stack_top, arg, tls_base) -> thread id`: starts a
    /// thread in the caller's silo at `entry` with `rdi = arg`, `rsp =
    /// stack_top` (16-byte aligned minus 8, as after a call) and FS base
    /// `tls_base`.
    ThreadCreate = 1,
    /// `(code: i32) -> !`: ends the calling thread; the silo ends with the
    /// code of its last thread.
    ThreadExit = 2,
    /// `(thread id) -> exit code`: waits for a thread of the same silo.
    ThreadJoin = 3,
    /// `() -> 0`.
    Yield = 4,
    /// `(nanoseconds) -> 0`: sleeps at least that long.
    Sleep = 5,
    /// `(addr: *const u32, expected: u32, timeout_ns: u64 or u64::MAX) -> 0`:
    /// blocks while `*addr == expected`, until woken or timed out
    /// (`TimedOut`); `Again` if the value differed.
    FutexWait = 6,
    /// `(addr: *const u32, count) -> woken`: wakes up to `count` waiters.
    FutexWake = 7,
    /// `(clock: ClockId) -> nanoseconds`.
    ClockGet = 8,
    /// `(addr hint or 0, len, prot) -> addr`: reserves demand-zero memory;
    /// pages are allocated on first touch. W and X together are refused.
    VmMap = 9,
    /// `(addr, len) -> 0`.
    VmUnmap = 10,
    /// `(addr, len, prot) -> 0`: W and X together are refused.
    VmProtect = 11,
    /// `(base) -> 0`: sets the calling thread's FS base (TLS).
    SetFsBase = 12,
    /// `(ptr, len) -> len`: writes bytes to the kernel log, tagged with the silo.
    LogWrite = 13,
    /// `(ptr, len) -> len`: fills the buffer with random bytes.
    RandomBytes = 14,
    /// `(info: *mut SiloInfo) -> 0`.
    SiloInfo = 15,
    /// `(thread id or 0 for the caller, cpu mask) -> 0`: restricts a thread
    /// of the caller's silo to the CPUs whose bits are set (bit i = CPU i,
    /// numbered as [`Syscall::GetCpu`] does). It takes effect at the
    /// thread's next scheduling decision: a caller pinning itself moves at
    /// its next [`Syscall::Yield`] (or block). `Inval` for an empty mask or
    /// one naming a CPU that is not online; `Srch` for a thread id that is
    /// not of the caller's silo.
    SetAffinity = 16,
    /// `() -> cpu index`: the CPU running the caller (0 = boot CPU, dense
    /// up to `SiloInfo::online_cpus`); it may have moved by the time the
    /// caller looks. Also the cheapest real call, used by the benchmarks.
    GetCpu = 17,

    // Capabilities and IPC (numbers from 32 leave room above).
    /// `(handle) -> 0`: closes the handle; handles derived from it stay
    /// valid unless revoked first.
    HandleClose = 32,
    /// `(handle, rights) -> new handle` with `rights` (a subset of the
    /// handle's; needs `DUPLICATE`).
    HandleDuplicate = 33,
    /// `(handle) -> 0`: invalidates every handle derived from this one (in
    /// any silo); this one stays valid.
    HandleRevoke = 34,
    /// `(handle) -> info`: see `ipc::handle_info`.
    HandleInfo = 35,
    /// `() -> handle`: a new port, with every port right.
    PortCreate = 36,
    /// `(port handle, badge, rights) -> handle`: a derived port handle whose
    /// calls carry `badge` (needs `DUPLICATE`).
    PortMint = 37,
    /// `(port handle, send: *const Message, reply: *mut Message) -> 0`:
    /// sends and waits for the reply (needs `CALL`).
    Call = 38,
    /// `(port handle, into: *mut Message, timeout_ns or u64::MAX) -> 0`:
    /// waits for a call (needs `RECEIVE`); fills in badge and reply handle.
    Receive = 39,
    /// `(reply handle, send: *const Message) -> 0`: answers the call (the
    /// reply handle is used up).
    Reply = 40,
    /// `() -> handle`: a new notification (bitmask of signals).
    NotifyCreate = 41,
    /// `(handle, bits) -> 0`: sets bits and wakes waiters (needs `SIGNAL`).
    NotifySignal = 42,
    /// `(handle, timeout_ns or u64::MAX) -> bits`: waits until some bit is
    /// set, returns and clears them (needs `WAIT`).
    NotifyWait = 43,
    /// `(handle) -> bits`: returns and clears the bits without waiting.
    NotifyPoll = 44,
    /// `(size) -> handle`: a zeroed shared memory object of `size` bytes (a
    /// page multiple), with READ, WRITE, MAP, GRANT and DUPLICATE.
    MemCreate = 45,
    /// `(handle, addr hint or 0, prot) -> addr`: maps the whole object
    /// (needs MAP, plus READ/WRITE/EXECUTE for what `prot` asks; W^X holds).
    MemMap = 46,
    /// `(name ptr, name len, port handle) -> 0`: serves scheme `name` with
    /// the port (needs RECEIVE on it); `Exist` if someone already does.
    SchemeRegister = 47,
    /// `(name ptr, name len) -> port handle`: a CALL handle to the server
    /// of scheme `name`, badged with the caller's silo id. `NoEnt` if the
    /// scheme is not in the caller's namespace or not served.
    SchemeLookup = 48,
    /// `(memory handle) -> size in bytes` (needs MAP).
    MemSize = 49,
    /// `(irq handle, notification handle, bits) -> 0`: each interrupt of
    /// the line masks it and signals `bits` (needs WAIT on the line and
    /// SIGNAL on the notification); the line is unmasked now.
    IrqBind = 50,
    /// `(irq handle) -> 0`: the driver handled the interrupt: unmask the
    /// line again (needs WAIT).
    IrqAck = 51,
    /// `(records: *mut SiloRecord, capacity) -> live silos`: fills up to
    /// `capacity` records (introspection; needs `sys` in the namespace).
    SysSilos = 52,
    /// `(records: *mut CpuRecord, capacity) -> online CPUs` (needs `sys`).
    SysCpus = 53,
    /// `(counters: *mut KernelCounters) -> 0`: kernel-wide resource
    /// counters (frames, heap, handles, threads, silos, scheme names), for
    /// leak tests and `top`-like tools (needs `sys`, else `Perm`).
    SysCounters = 58,

    // Device resources for ring-3 drivers (see `device`).
    /// `(platform handle, kind, base, len, rights) -> handle`: a new device
    /// capability from the platform authority, with `rights` (a subset of
    /// the platform handle's and of what `kind` allows, else `Acces` /
    /// `Inval`). Kinds (`device::MINT_*`): MMIO range (`base` physical,
    /// `len` bytes, both page-aligned; a memory object mapped uncached and
    /// never executable; RAM is `Perm`, the kernel's own devices `Busy`),
    /// I/O ports (`base` first port, `len` count), DMA memory (`len` bytes
    /// of zeroed physically contiguous RAM below `base`, 0 = anywhere), ISA
    /// IRQ line (`base` = IRQ 0..16, `len` = 1).
    PlatformMint = 54,
    /// `(memory handle) -> physical address` of a DMA or MMIO memory
    /// object's first byte (needs MAP and WRITE: the address is for
    /// programming a device, which then writes there); `Inval` for
    /// ordinary shared memory, whose frames are scattered.
    MemPhysAddr = 55,
    /// `(ports handle, port, width) -> value`: `in` of `width` bytes (1, 2
    /// or 4) from `port` (needs READ; the whole access inside the range,
    /// else `Acces`).
    PortIn = 56,
    /// `(ports handle, port, width, value) -> 0`: `out` (needs WRITE).
    PortOut = 57,

    // Silos and threads as capabilities (60..=69).
    /// `(spec: *const silo::SpawnSpec) -> silo handle`: starts a new silo
    /// from an ELF image in the caller's memory (see [`crate::silo`] for
    /// the spec's rules). The handle has WAIT, KILL, GRANT and DUPLICATE.
    /// Handles listed in the spec are copied (derived) or moved into the
    /// child, which sees them from `FIRST_INITIAL_HANDLE` on, in order;
    /// each needs GRANT. The child's namespace must be a subset of the
    /// caller's (`Acces` otherwise). On any error nothing is taken from
    /// the caller's table.
    SiloSpawn = 60,
    /// `(silo handle, timeout_ns or u64::MAX) -> status`: waits until every
    /// thread of the silo is gone (needs WAIT) and returns its
    /// [`crate::silo::ExitStatus`] encoded; `TimedOut` if it has not ended
    /// by then (0 = poll).
    SiloWait = 61,
    /// `(silo handle) -> 0`: ends the silo with status `Killed` (needs
    /// KILL); its threads leave at once, its memory is freed. No effect if
    /// it already ended.
    SiloKill = 62,
    /// `(thread id or 0 for the caller) -> thread handle`: a capability for
    /// a live thread of the caller's silo (WAIT, GRANT, DUPLICATE), e.g. to
    /// hand to another silo. `Srch` for an unknown id.
    ThreadHandle = 63,
    /// `(thread handle, timeout_ns or u64::MAX) -> exit code as u32`:
    /// waits for the thread to exit (needs WAIT). Unlike `ThreadJoin` it
    /// can be repeated and works from any silo holding the handle.
    ThreadWait = 64,
    /// `(thread handle) -> nanoseconds`: CPU time the thread has used, its
    /// current time slice included (needs WAIT). A supervisor reads it to
    /// enforce CPU limits on a thread busy in code that never calls it (the
    /// runtime silo's wasm threads). `Srch` once the thread has ended.
    ThreadCpuTime = 65,

    // IPC fast paths.
    /// `(port handle, label, w0, w1, w2, w3) -> 0`, with the reply in
    /// registers: `rdi` = label, `rsi` = the reply's data length (its data
    /// is not delivered: there is no buffer), `rdx`, `r10`, `r8`, `r9` =
    /// words. A call that is only a label and four words, with no message
    /// descriptor in memory (needs `CALL`). The server sees
    /// `ipc::flags::REGISTER_CALL`; it cannot reply with handles.
    CallRegs = 70,
    /// `(reply handle or 0, send: *const Message, port handle, into: *mut
    /// Message, timeout_ns or u64::MAX) -> 0`: `Reply` then `Receive` in
    /// one call (a server's loop). A caller that went away meanwhile does
    /// not stop the wait; other reply errors return before waiting.
    ReplyWait = 71,
}

impl Syscall {
    /// Every call (for tests that check the numbering).
    #[cfg(test)]
    const ALL: [Syscall; 53] = [
        Syscall::Exit,
        Syscall::ThreadCreate,
        Syscall::ThreadExit,
        Syscall::ThreadJoin,
        Syscall::Yield,
        Syscall::Sleep,
        Syscall::FutexWait,
        Syscall::FutexWake,
        Syscall::ClockGet,
        Syscall::VmMap,
        Syscall::VmUnmap,
        Syscall::VmProtect,
        Syscall::SetFsBase,
        Syscall::LogWrite,
        Syscall::RandomBytes,
        Syscall::SiloInfo,
        Syscall::SetAffinity,
        Syscall::GetCpu,
        Syscall::HandleClose,
        Syscall::HandleDuplicate,
        Syscall::HandleRevoke,
        Syscall::HandleInfo,
        Syscall::PortCreate,
        Syscall::PortMint,
        Syscall::Call,
        Syscall::Receive,
        Syscall::Reply,
        Syscall::NotifyCreate,
        Syscall::NotifySignal,
        Syscall::NotifyWait,
        Syscall::NotifyPoll,
        Syscall::MemCreate,
        Syscall::MemMap,
        Syscall::SchemeRegister,
        Syscall::SchemeLookup,
        Syscall::MemSize,
        Syscall::IrqBind,
        Syscall::IrqAck,
        Syscall::SysSilos,
        Syscall::SysCpus,
        Syscall::SysCounters,
        Syscall::PlatformMint,
        Syscall::MemPhysAddr,
        Syscall::PortIn,
        Syscall::PortOut,
        Syscall::SiloSpawn,
        Syscall::SiloWait,
        Syscall::SiloKill,
        Syscall::ThreadHandle,
        Syscall::ThreadWait,
        Syscall::ThreadCpuTime,
        Syscall::CallRegs,
        Syscall::ReplyWait,
    ];

    /// The call numbered `n`. A `match` (a jump table) rather than a
    /// search: this runs on every system call.
    pub const fn from_raw(n: usize) -> Option<Syscall> {
        Some(match n {
            0 => Self::Exit,
            1 => Self::ThreadCreate,
            2 => Self::ThreadExit,
            3 => Self::ThreadJoin,
            4 => Self::Yield,
            5 => Self::Sleep,
            6 => Self::FutexWait,
            7 => Self::FutexWake,
            8 => Self::ClockGet,
            9 => Self::VmMap,
            10 => Self::VmUnmap,
            11 => Self::VmProtect,
            12 => Self::SetFsBase,
            13 => Self::LogWrite,
            14 => Self::RandomBytes,
            15 => Self::SiloInfo,
            16 => Self::SetAffinity,
            17 => Self::GetCpu,
            32 => Self::HandleClose,
            33 => Self::HandleDuplicate,
            34 => Self::HandleRevoke,
            35 => Self::HandleInfo,
            36 => Self::PortCreate,
            37 => Self::PortMint,
            38 => Self::Call,
            39 => Self::Receive,
            40 => Self::Reply,
            41 => Self::NotifyCreate,
            42 => Self::NotifySignal,
            43 => Self::NotifyWait,
            44 => Self::NotifyPoll,
            45 => Self::MemCreate,
            46 => Self::MemMap,
            47 => Self::SchemeRegister,
            48 => Self::SchemeLookup,
            49 => Self::MemSize,
            50 => Self::IrqBind,
            51 => Self::IrqAck,
            52 => Self::SysSilos,
            53 => Self::SysCpus,
            54 => Self::PlatformMint,
            55 => Self::MemPhysAddr,
            56 => Self::PortIn,
            57 => Self::PortOut,
            58 => Self::SysCounters,
            60 => Self::SiloSpawn,
            61 => Self::SiloWait,
            62 => Self::SiloKill,
            63 => Self::ThreadHandle,
            64 => Self::ThreadWait,
            65 => Self::ThreadCpuTime,
            70 => Self::CallRegs,
            71 => Self::ReplyWait,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_are_unique() {
        for s in Syscall::ALL {
            assert_eq!(Syscall::from_raw(s as usize), Some(s));
            assert_eq!(
                Syscall::ALL
                    .iter()
                    .filter(|t| **t as usize == s as usize)
                    .count(),
                1
            );
        }
        for n in [999, usize::MAX] {
            assert_eq!(Syscall::from_raw(n), None);
        }
    }
}
