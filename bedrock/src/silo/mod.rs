//! Silos: sandboxed ring-3 workloads. A silo owns an address space and a
//! set of threads; it ends when its last thread exits, when a thread calls
//! `exit`, or when it faults — and only the silo ends: a faulting program
//! never takes down the kernel or another silo.

mod loader;
mod user;

pub use loader::{LoadError, Prepared, Spawn, prepare_elf, spawn_elf, spawn_elf_with};
pub use user::{
    UserContext, create_user_thread, spawn_user_thread, start_user_thread, switch_user_state,
};

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use log::warn;

use crate::arch::x86_64::idt::{TrapFrame, exception_name};
use crate::cap::Cap;
use crate::cap::table::HandleTable;
use crate::mm::address_space::AddressSpace;
use crate::mm::vmspace::Access;
use crate::sched::cpuset::CpuSet;
use crate::sched::thread::{State, Thread};
use crate::sched::wait::WaitQueue;
use crate::sync::IrqSpin;

pub type SiloId = u64;

/// Refused capability checks logged per silo.
pub const LOGGED_DENIALS: u64 = 16;

/// Most handles one silo may hold.
pub const MAX_HANDLES_PER_SILO: usize = 4096;

/// How a silo ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`, or the last thread's `thread_exit(code)`.
    Code(i32),
    /// A CPU exception in ring 3 that could not be resolved.
    Fault { vector: u8, rip: u64, addr: u64 },
    /// Ended by the kernel (or a holder of its capability, later).
    Killed,
}

impl core::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Fault { vector, rip, addr } => {
                let (m, name) = exception_name(*vector as u64);
                write!(f, "{m} ({name}) at rip={rip:#x} addr={addr:#x}")
            }
            ExitStatus::Killed => write!(f, "killed"),
        }
    }
}

impl From<ExitStatus> for bedrock_abi::silo::ExitStatus {
    fn from(s: ExitStatus) -> Self {
        match s {
            ExitStatus::Code(c) => Self::Code(c),
            ExitStatus::Fault { vector, .. } => Self::Fault { vector },
            ExitStatus::Killed => Self::Killed,
        }
    }
}

/// The end of a silo or a thread, set once: what capabilities to it hold
/// instead of the silo or thread itself, so that a handle to something
/// dead keeps a few bytes alive, not an address space (and a silo holding
/// a handle to itself or to its parent makes no reference cycle).
pub struct Ending<T> {
    value: IrqSpin<Option<T>>,
    queue: WaitQueue,
}

impl<T: Copy> Default for Ending<T> {
    fn default() -> Self {
        Ending {
            value: IrqSpin::new(None),
            queue: WaitQueue::new(),
        }
    }
}

impl<T: Copy> Ending<T> {
    pub fn get(&self) -> Option<T> {
        *self.value.lock()
    }

    /// Records the end (the first value wins) and wakes every waiter.
    fn set(&self, v: T) {
        {
            let mut value = self.value.lock();
            if value.is_none() {
                *value = Some(v);
            }
        }
        self.queue.wake_all();
    }

    /// Waits for the end until `deadline_ns`; `None` if it did not come by
    /// then or the waiting thread was interrupted (its silo is ending).
    pub fn wait(&self, deadline_ns: Option<u64>) -> Option<T> {
        self.queue
            .wait_while_until(|| self.value.lock().is_none(), deadline_ns);
        self.get()
    }
}

pub struct Silo {
    pub id: SiloId,
    pub name: String,
    pub aspace: Arc<AddressSpace>,
    threads: IrqSpin<Vec<Arc<Thread>>>,
    /// Why the silo is ending (the first reason wins), set before its
    /// threads have left.
    status: IrqSpin<Option<ExitStatus>>,
    /// Set once the last thread has left; shared with silo capabilities.
    pub end: Arc<Ending<ExitStatus>>,
    /// CPUs new threads of the silo start on.
    pub affinity: CpuSet,
    /// Set when the silo must end: its threads leave at their next kernel
    /// entry or exit.
    dying: AtomicBool,
    /// CPU time of threads that already exited.
    exited_cpu_ns: AtomicU64,
    /// Capability checks refused so far (only the first few are logged).
    denials: AtomicU64,
    /// Exit codes of exited threads nobody joined yet.
    unjoined: IrqSpin<BTreeMap<u64, i32>>,
    /// The silo's capabilities.
    pub handles: IrqSpin<HandleTable<Cap>>,
    /// Scheme names this silo may look up (its namespace view).
    pub namespace: Vec<String>,
}

impl core::fmt::Debug for Silo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Silo")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static SILOS: IrqSpin<BTreeMap<SiloId, Arc<Silo>>> = IrqSpin::new(BTreeMap::new());

impl Silo {
    /// Logs a refused capability check: the first [`LOGGED_DENIALS`] of
    /// the silo, then one line saying the rest go unlogged (a silo looping
    /// on a denied call must not flood the serial log).
    pub fn log_denial(&self, what: core::fmt::Arguments<'_>) {
        let n = self.denials.fetch_add(1, Ordering::Relaxed);
        if n < LOGGED_DENIALS {
            warn!("silo {} ({}): denied: {what}", self.id, self.name);
        } else if n == LOGGED_DENIALS {
            warn!(
                "silo {} ({}): further denials are not logged",
                self.id, self.name
            );
        }
    }

    /// A fresh silo id (taken before the silo exists, e.g. for its auxv).
    fn next_id() -> SiloId {
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    }

    /// A silo that is not running yet (see [`Silo::register`]).
    fn new(
        id: SiloId,
        name: String,
        aspace: Arc<AddressSpace>,
        namespace: Vec<String>,
        affinity: CpuSet,
    ) -> Arc<Silo> {
        Arc::new(Silo {
            id,
            name,
            aspace,
            threads: IrqSpin::new(Vec::new()),
            status: IrqSpin::new(None),
            end: Arc::new(Ending::default()),
            affinity,
            dying: AtomicBool::new(false),
            exited_cpu_ns: AtomicU64::new(0),
            denials: AtomicU64::new(0),
            unjoined: IrqSpin::new(BTreeMap::new()),
            handles: IrqSpin::new(HandleTable::new(MAX_HANDLES_PER_SILO)),
            namespace,
        })
    }

    /// Makes the silo visible (`get`, `all`, `sys`) as it starts.
    fn register(self: &Arc<Self>) {
        SILOS.lock().insert(self.id, self.clone());
    }

    /// Does the silo's namespace have scheme `name`?
    pub fn sees(&self, name: &str) -> bool {
        bedrock_abi::silo::grants_lookup(self.namespace.iter().map(String::as_str), name)
    }

    /// May the silo serve scheme `name` (`+name` in its namespace)?
    pub fn may_serve(&self, name: &str) -> bool {
        bedrock_abi::silo::grants_serve(self.namespace.iter().map(String::as_str), name)
    }

    /// How the silo ended, once it has.
    pub fn status(&self) -> Option<ExitStatus> {
        *self.status.lock()
    }

    pub fn is_dying(&self) -> bool {
        self.dying.load(Ordering::Acquire)
    }

    /// Waits until every thread of the silo has exited.
    pub fn wait(&self) -> ExitStatus {
        self.end.wait(None).unwrap_or(ExitStatus::Killed)
    }

    /// The threads still running.
    pub fn threads(&self) -> Vec<Arc<Thread>> {
        self.threads.lock().clone()
    }

    pub fn live_threads(&self) -> usize {
        self.threads.lock().len()
    }

    /// CPU time of all threads, exited ones included.
    pub fn cpu_time_ns(&self) -> u64 {
        let live: u64 = self.threads.lock().iter().map(|t| t.cpu_time_ns()).sum();
        live + self.exited_cpu_ns.load(Ordering::Relaxed)
    }

    /// Waits for thread `id` of this silo to exit and returns its code
    /// (once: a second join of the same thread is `None`, as is an unknown
    /// id). Interrupted waits (the silo is ending) return `None` too.
    pub fn join(&self, id: u64) -> Option<i32> {
        if let Some(t) = self.thread(id) {
            crate::sched::join(&t);
        }
        self.unjoined.lock().remove(&id)
    }

    /// Live thread `id` of this silo.
    pub fn thread(&self, id: u64) -> Option<Arc<Thread>> {
        self.threads.lock().iter().find(|t| t.id == id).cloned()
    }

    fn add_thread(&self, t: Arc<Thread>) {
        self.threads.lock().push(t);
    }

    /// Ends the silo with `status` (the first status recorded wins) and
    /// makes every thread leave: blocked ones are woken, running ones exit
    /// at their next entry into the kernel.
    pub fn terminate(&self, status: ExitStatus) {
        {
            let mut s = self.status.lock();
            if s.is_none() {
                *s = Some(status);
            }
        }
        if self.dying.swap(true, Ordering::AcqRel) {
            return;
        }
        let threads: Vec<_> = self.threads.lock().clone();
        for t in threads {
            crate::sched::interrupt(&t);
        }
    }

    /// Called by each of its threads as it exits for good.
    fn thread_exited(&self, t: &Thread, code: i32) {
        self.exited_cpu_ns
            .fetch_add(t.cpu_time_ns(), Ordering::Relaxed);
        self.unjoined.lock().insert(t.id, code);
        if let Some(u) = &t.user {
            u.end.set(code);
        }
        let last = {
            let mut threads = self.threads.lock();
            threads.retain(|x| x.id != t.id);
            threads.is_empty()
        };
        if last {
            {
                let mut s = self.status.lock();
                if s.is_none() {
                    *s = Some(ExitStatus::Code(code));
                }
            }
            SILOS.lock().remove(&self.id);
            // Dropping the capabilities fails the calls this silo was
            // serving and closes ports it alone could receive from. They
            // are dropped outside the table's lock.
            let caps = self.handles.lock().drain();
            drop(caps);
            let status = self.status().unwrap_or(ExitStatus::Killed);
            log::info!("silo {} ({}) ended: {status}", self.id, self.name);
            self.end.set(status);
        }
    }
}

/// A live silo by id.
pub fn get(id: SiloId) -> Option<Arc<Silo>> {
    SILOS.lock().get(&id).cloned()
}

/// Every live silo.
pub fn all() -> Vec<Arc<Silo>> {
    SILOS.lock().values().cloned().collect()
}

/// Number of live silos.
pub fn count() -> usize {
    SILOS.lock().len()
}

/// The silo of the running thread, if it belongs to one.
pub fn current() -> Option<Arc<Silo>> {
    crate::sched::current()
        .user
        .as_ref()
        .map(|u| u.silo.clone())
}

/// Ends the calling user thread (and with it the silo if it was the last).
pub fn exit_thread(code: i32) -> ! {
    let me = crate::sched::current();
    if let Some(u) = &me.user {
        u.silo.thread_exited(&me, code);
    }
    drop(me);
    crate::sched::exit_current()
}

/// A page fault touched user address `addr` (from ring 3 or from a user
/// copy in the kernel): commit it if the current silo's regions allow.
pub fn resolve_fault(addr: u64, write: bool) -> bool {
    let me = crate::sched::current();
    let Some(u) = &me.user else { return false };
    let access = if write { Access::Write } else { Access::Read };
    u.silo.aspace.handle_fault(addr, access)
}

/// An exception in ring 3. Demand paging resolves most page faults; any
/// other exception ends the silo (not the kernel) with a logged report.
pub fn user_fault(frame: &mut TrapFrame) {
    let addr = if frame.vector == 14 {
        x86_64::registers::control::Cr2::read_raw()
    } else {
        0
    };
    let me = crate::sched::current();
    let Some(u) = &me.user else {
        panic!("ring-3 exception {} in a kernel thread", frame.vector);
    };
    if frame.vector == 14 {
        let access = if frame.error & 0x10 != 0 {
            Access::Exec
        } else if frame.error & 0x2 != 0 {
            Access::Write
        } else {
            Access::Read
        };
        if u.silo.aspace.handle_fault(addr, access) {
            return;
        }
    }
    let status = ExitStatus::Fault {
        vector: frame.vector as u8,
        rip: frame.rip,
        addr,
    };
    warn!(
        "silo {} ({}) thread {}: {status}; ending the silo",
        u.silo.id, u.silo.name, me.id
    );
    u.silo.terminate(status);
    drop(me);
    crate::arch::x86_64::interrupts::enable();
    exit_thread(-1)
}

/// Checked on every return to ring 3: a dying silo's thread leaves here.
pub fn check_dying() {
    let me = crate::sched::current();
    if me.user.as_ref().is_some_and(|u| u.silo.is_dying()) && me.state() != State::Exited {
        drop(me);
        crate::arch::x86_64::interrupts::enable();
        exit_thread(-1);
    }
}
