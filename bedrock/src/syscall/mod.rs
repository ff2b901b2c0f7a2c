//! System call dispatch: decodes the number and arguments from the saved
//! user registers, runs the handler, and encodes its `Result` into `rax`
//! in exactly one place. Every handler validates its arguments; user
//! pointers go through `arch::x86_64::usercopy`, so a bad pointer is
//! `Errno::Fault`, never a kernel fault.

mod device;
mod futex;

pub use futex::log_waiters as log_futex_waiters;
pub use sys::kernel_counters;
mod ipc;
mod memory;
mod misc;
mod silo;
mod sys;
mod thread;

use bedrock_abi::{Errno, Syscall, encode};

use crate::arch::x86_64::idt::TrapFrame;

/// What a handler returns.
pub type SysResult = Result<usize, Errno>;

/// Arguments in ABI order: rdi, rsi, rdx, r10, r8, r9.
fn args(f: &TrapFrame) -> [u64; 6] {
    [f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9]
}

pub fn dispatch(frame: &mut TrapFrame) {
    let a = args(frame);
    // The calls that never return are handled before any reference is
    // taken: a diverging call would leak whatever its frame still holds.
    match Syscall::from_raw(frame.rax as usize) {
        Some(Syscall::Exit) => misc::exit(a[0] as i32),
        Some(Syscall::ThreadExit) => crate::silo::exit_thread(a[0] as i32),
        _ => {}
    }
    let result = match Syscall::from_raw(frame.rax as usize) {
        None => Err(Errno::NoSys),
        Some(Syscall::CallRegs) => call_regs(frame, a),
        Some(call) => match crate::silo::current() {
            None => Err(Errno::Perm),
            Some(silo) => handle(call, &silo, a),
        },
    };
    frame.rax = encode(result) as u64;
    crate::silo::check_dying();
}

/// `CallRegs` returns its reply in the argument registers.
fn call_regs(frame: &mut TrapFrame, a: [u64; 6]) -> SysResult {
    let silo = crate::silo::current().ok_or(Errno::Perm)?;
    let reply = ipc::call_regs(&silo, a)?;
    // Handles never come back to a register call (the server is refused).
    debug_assert!(reply.handles.is_empty());
    frame.rdi = reply.label;
    frame.rsi = reply.data_len as u64;
    [frame.rdx, frame.r10, frame.r8, frame.r9] = reply.words;
    Ok(0)
}

fn handle(call: Syscall, silo: &alloc::sync::Arc<crate::silo::Silo>, a: [u64; 6]) -> SysResult {
    match call {
        Syscall::Exit | Syscall::ThreadExit => unreachable!("handled in dispatch"),
        Syscall::ThreadCreate => thread::create(silo, a[0], a[1], a[2], a[3]),
        Syscall::ThreadJoin => thread::join(silo, a[0]),
        Syscall::Yield => {
            crate::sched::yield_now();
            Ok(0)
        }
        Syscall::Sleep => misc::sleep(a[0]),
        Syscall::FutexWait => futex::wait(silo, a[0], a[1], a[2]),
        Syscall::FutexWake => futex::wake(silo, a[0], a[1]),
        Syscall::ClockGet => misc::clock_get(a[0]),
        Syscall::VmMap => memory::map(silo, a[0], a[1], a[2]),
        Syscall::VmUnmap => memory::unmap(silo, a[0], a[1]),
        Syscall::VmProtect => memory::protect(silo, a[0], a[1], a[2]),
        Syscall::SetFsBase => thread::set_fs_base(a[0]),
        Syscall::LogWrite => misc::log_write(silo, a[0], a[1]),
        Syscall::RandomBytes => misc::random_bytes(a[0], a[1]),
        Syscall::SiloInfo => misc::silo_info(silo, a[0]),
        Syscall::HandleClose => ipc::close(silo, a[0]),
        Syscall::HandleDuplicate => ipc::duplicate(silo, a[0], a[1]),
        Syscall::HandleRevoke => ipc::revoke(silo, a[0]),
        Syscall::HandleInfo => ipc::info(silo, a[0]),
        Syscall::PortCreate => ipc::port_create(silo),
        Syscall::PortMint => ipc::port_mint(silo, a[0], a[1], a[2]),
        Syscall::Call => ipc::call(silo, a[0], a[1], a[2]),
        Syscall::Receive => ipc::receive(silo, a[0], a[1], a[2]),
        Syscall::Reply => ipc::reply(silo, a[0], a[1]),
        Syscall::ReplyWait => ipc::reply_wait(silo, a[0], a[1], a[2], a[3], a[4]),
        Syscall::CallRegs => unreachable!("handled in dispatch"),
        Syscall::NotifyCreate => ipc::notify_create(silo),
        Syscall::NotifySignal => ipc::notify_signal(silo, a[0], a[1]),
        Syscall::NotifyWait => ipc::notify_wait(silo, a[0], a[1]),
        Syscall::NotifyPoll => ipc::notify_poll(silo, a[0]),
        Syscall::MemCreate => ipc::mem_create(silo, a[0]),
        Syscall::MemMap => ipc::mem_map(silo, a[0], a[1], a[2]),
        Syscall::SchemeRegister => ipc::scheme_register(silo, a[0], a[1], a[2]),
        Syscall::SchemeLookup => ipc::scheme_lookup(silo, a[0], a[1]),
        Syscall::MemSize => ipc::mem_size(silo, a[0]),
        Syscall::IrqBind => ipc::irq_bind(silo, a[0], a[1], a[2]),
        Syscall::IrqAck => ipc::irq_ack(silo, a[0]),
        Syscall::SysSilos => sys::silos(silo, a[0], a[1]),
        Syscall::SysCpus => sys::cpus(silo, a[0], a[1]),
        Syscall::SysCounters => sys::counters(silo, a[0]),
        Syscall::SetAffinity => thread::set_affinity(silo, a[0], a[1]),
        Syscall::GetCpu => Ok(crate::arch::x86_64::percpu::current().index),
        Syscall::SiloSpawn => silo::spawn(silo, a[0]),
        Syscall::SiloWait => silo::wait(silo, a[0], a[1]),
        Syscall::SiloKill => silo::kill(silo, a[0]),
        Syscall::ThreadHandle => silo::thread_handle(silo, a[0]),
        Syscall::ThreadWait => silo::thread_wait(silo, a[0], a[1]),
        Syscall::ThreadCpuTime => silo::thread_cpu_time(silo, a[0]),
        Syscall::PlatformMint => device::platform_mint(silo, a[0], a[1], a[2], a[3], a[4]),
        Syscall::MemPhysAddr => device::mem_phys_addr(silo, a[0]),
        Syscall::PortIn => device::port_in(silo, a[0], a[1], a[2]),
        Syscall::PortOut => device::port_out(silo, a[0], a[1], a[2], a[3]),
        // Numbers the ABI adds before this kernel handles them.
        #[allow(unreachable_patterns)]
        _ => Err(Errno::NoSys),
    }
}
