//! Ring-3 threads: their extra state (FPU registers, FS base, silo) and
//! how they are started and switched.

use alloc::format;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

use super::{Ending, Silo};
use crate::arch::x86_64::cpu::FpuState;
use crate::arch::x86_64::idt::{TrapFrame, return_to_frame};
use crate::arch::x86_64::syscall::{USER_CS, USER_DS};
use crate::arch::x86_64::{interrupts, paging};
use crate::mm::kernel_space::kernel_root;
use crate::mm::paging::MapError;
use crate::sched::queue::DEFAULT_PRIORITY;
use crate::sched::thread::Thread;

const IA32_FS_BASE: u32 = 0xc000_0100;

/// What a thread of a silo has beyond a kernel thread.
pub struct UserContext {
    pub silo: Arc<Silo>,
    /// The thread's exit code once it has exited (thread capabilities).
    pub end: Arc<Ending<i32>>,
    /// x87/SSE registers while the thread is off the CPU.
    fpu: UnsafeCell<FpuState>,
    fs_base: AtomicU64,
    /// Where the thread enters ring 3 first: (rip, rsp, rdi).
    start: (u64, u64, u64),
}

// SAFETY: `fpu` is only accessed by the CPU switching the thread out or in,
// with interrupts off, and the scheduler never runs a thread on two CPUs.
unsafe impl Sync for UserContext {}
// SAFETY: as above; the state moves between CPUs only through a switch.
unsafe impl Send for UserContext {}

impl UserContext {
    pub fn new(silo: Arc<Silo>, fs_base: u64, start: (u64, u64, u64)) -> Self {
        UserContext {
            start,
            silo,
            end: Arc::new(Ending::default()),
            fpu: UnsafeCell::new(FpuState::initial()),
            fs_base: AtomicU64::new(fs_base),
        }
    }

    /// Sets the FS base (TLS) of the thread; it is loaded now if the caller
    /// is that thread, and at every switch to it.
    pub fn set_fs_base(&self, base: u64, is_current: bool) {
        self.fs_base.store(base, Ordering::Relaxed);
        if is_current {
            // SAFETY: FS base is a per-thread register the kernel ignores.
            unsafe { x86_64::registers::model_specific::Msr::new(IA32_FS_BASE).write(base) };
        }
    }
}

/// Context switch hook (interrupts off): save the FPU state of `prev` if it
/// is a user thread, load `next`'s FPU state, FS base and address space.
pub fn switch_user_state(prev: &Thread, next: &Thread) {
    if let Some(u) = &prev.user {
        // SAFETY: `prev` is the thread leaving this CPU (see UserContext).
        unsafe { (*u.fpu.get()).save() };
    }
    match &next.user {
        Some(u) => {
            // SAFETY: `next` is about to run here and nowhere else.
            unsafe { (*u.fpu.get()).restore() };
            // SAFETY: see `set_fs_base`.
            unsafe {
                x86_64::registers::model_specific::Msr::new(IA32_FS_BASE)
                    .write(u.fs_base.load(Ordering::Relaxed))
            };
            if let Some(p) = &prev.user
                && !Arc::ptr_eq(&p.silo.aspace, &u.silo.aspace)
            {
                p.silo.aspace.deactivate();
            }
            u.silo.aspace.activate();
        }
        None => {
            if let Some(p) = &prev.user {
                p.silo.aspace.deactivate();
            }
            if paging::current_root() != kernel_root() {
                // SAFETY: the kernel root maps everything kernel threads use.
                unsafe { paging::switch_to(kernel_root()) };
            }
        }
    }
}

/// Starts a thread of `silo` at user address `entry` with `rdi = arg`,
/// `rsp = stack`, FS base `tls`.
pub fn spawn_user_thread(
    silo: &Arc<Silo>,
    entry: u64,
    stack: u64,
    arg: u64,
    tls: u64,
) -> Result<Arc<Thread>, MapError> {
    let thread = create_user_thread(silo, entry, stack, arg, tls)?;
    start_user_thread(silo, thread.clone());
    Ok(thread)
}

/// Creates (but does not start) a thread of `silo` as
/// [`spawn_user_thread`] would; dropping it instead leaves nothing behind.
pub fn create_user_thread(
    silo: &Arc<Silo>,
    entry: u64,
    stack: u64,
    arg: u64,
    tls: u64,
) -> Result<Arc<Thread>, MapError> {
    let name = format!("{}:{}", silo.name, silo.live_threads());
    let user = UserContext::new(silo.clone(), tls, (entry, stack, arg));
    crate::sched::create(
        name,
        DEFAULT_PRIORITY,
        silo.affinity,
        Some(user),
        // Captures nothing, so its box allocates nothing: it never returns,
        // and whatever it owned would never be freed.
        || {
            let frame = {
                let me = crate::sched::current();
                let (entry, stack, arg) = me.user.as_ref().map_or((0, 0, 0), |u| u.start);
                TrapFrame::user_entry(entry, stack, arg)
            };
            interrupts::disable_save();
            super::check_dying();
            // SAFETY: a fresh ring-3 context: user selectors, a user RIP and
            // RSP (validated by the callers), interrupts on in RFLAGS.
            unsafe { return_to_frame(&frame) }
        },
    )
}

/// Starts a thread made by [`create_user_thread`].
pub fn start_user_thread(silo: &Silo, thread: Arc<Thread>) {
    // Registered before it can run, so even an instant exit is accounted.
    silo.add_thread(thread.clone());
    crate::sched::start(thread);
}

impl TrapFrame {
    /// The register state a new user thread starts with.
    fn user_entry(rip: u64, rsp: u64, arg: u64) -> TrapFrame {
        TrapFrame {
            r15: 0,
            r14: 0,
            r13: 0,
            r12: 0,
            r11: 0,
            r10: 0,
            r9: 0,
            r8: 0,
            rbp: 0,
            rdi: arg,
            rsi: 0,
            rdx: 0,
            rcx: 0,
            rbx: 0,
            rax: 0,
            vector: 0,
            error: 0,
            rip,
            cs: USER_CS,
            rflags: 0x202,
            rsp,
            ss: USER_DS,
        }
    }
}
