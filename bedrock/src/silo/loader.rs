//! Starting a silo from an ELF executable: plan the image (`crate::elf`),
//! build its address space, copy segments, apply relocations, build the
//! initial stack and start the first thread.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{Silo, create_user_thread, start_user_thread};
use crate::elf::stack::{StackError, initial_stack};
use crate::elf::{self, ElfError, SegmentMemory};
use crate::mm::address_space::{AddressSpace, WriteError};
use crate::mm::paging::MapError;
use crate::mm::vmspace::{Kind, Placement, Prot, USER_END, VmError};
use crate::mm::{PAGE_SIZE, align_down, align_up};
use crate::sched::cpuset::CpuSet;
use crate::sched::thread::Thread;

/// Where position-independent executables are loaded (never 0, so a null
/// pointer stays a fault even for PIE code).
pub const PIE_BASE: u64 = 0x0000_0000_4000_0000;
/// Size of the main thread's stack, and the guard below it.
pub const STACK_SIZE: u64 = 256 * 1024;
const STACK_TOP: u64 = USER_END - 16 * PAGE_SIZE;

/// Why a program could not be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    Elf(ElfError),
    Vm(VmError),
    Write(WriteError),
    Stack(StackError),
    NoMemory,
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::Elf(e) => write!(f, "{e}"),
            LoadError::Vm(e) => write!(f, "address space: {e}"),
            LoadError::Write(e) => write!(f, "loading the image: {e}"),
            LoadError::Stack(e) => write!(f, "initial stack: {e}"),
            LoadError::NoMemory => write!(f, "out of memory"),
        }
    }
}

impl From<MapError> for LoadError {
    fn from(_: MapError) -> Self {
        LoadError::NoMemory
    }
}

struct Loading<'a>(&'a AddressSpace);

impl SegmentMemory for Loading<'_> {
    type Error = WriteError;
    fn write(&mut self, vaddr: u64, bytes: &[u8]) -> Result<(), WriteError> {
        self.0.write(vaddr, bytes)
    }
}

fn load_error<E>(e: elf::LoadError<E>, wrap: impl FnOnce(E) -> LoadError) -> LoadError {
    match e {
        elf::LoadError::Elf(e) => LoadError::Elf(e),
        elf::LoadError::Memory(m) => wrap(m),
    }
}

/// What a new silo starts with besides its program.
#[derive(Debug, Default)]
pub struct Spawn {
    /// Capabilities, given handles `FIRST_INITIAL_HANDLE..` in order (see
    /// `bedrock_abi::ipc`).
    pub caps: Vec<crate::cap::Cap>,
    /// Scheme names the silo may look up, `+name` for those it may also
    /// serve (`bedrock_abi::silo::ROOT_NAMESPACE`: all).
    pub namespace: Vec<alloc::string::String>,
    /// CPUs its threads start on (`None`: any).
    pub affinity: Option<CpuSet>,
}

impl Spawn {
    /// What the first silo starts with: the boot archive as a read-only
    /// memory object (handle `bedrock_abi::silo::BOOT_ARCHIVE_HANDLE`: READ,
    /// MAP, GRANT, DUPLICATE) and the root namespace, from which every
    /// other silo's namespace is carved.
    pub fn first(archive: &[u8]) -> Result<Spawn, bedrock_abi::Errno> {
        use crate::cap::{Cap, Object};
        use bedrock_abi::Rights;
        let memory = crate::ipc::memory::MemoryObject::from_bytes(archive)?;
        let rights = Rights::READ
            .union(Rights::MAP)
            .union(Rights::GRANT)
            .union(Rights::DUPLICATE);
        let archive = Cap::new(Object::Memory(Arc::new(memory)), rights);
        Ok(Spawn {
            caps: alloc::vec![archive],
            namespace: alloc::vec![alloc::string::String::from(
                bedrock_abi::silo::ROOT_NAMESPACE
            )],
            affinity: None,
        })
    }
}

/// A silo loaded and ready to run whose first thread has not started: the
/// point where a spawn can still be abandoned without a trace (dropping it
/// frees everything), or be committed with [`Prepared::start`], which
/// cannot fail.
pub struct Prepared {
    silo: Arc<Silo>,
    thread: Arc<Thread>,
}

impl Prepared {
    /// The silo (not visible to `get`/`all` until started).
    pub fn silo(&self) -> &Arc<Silo> {
        &self.silo
    }

    /// Gives the silo `caps` (handles `FIRST_INITIAL_HANDLE..`; at most
    /// `MAX_HANDLES_PER_SILO`) and starts it.
    pub fn start(self, caps: Vec<crate::cap::Cap>) -> Arc<Silo> {
        {
            let mut table = self.silo.handles.lock();
            for (i, cap) in caps.into_iter().enumerate() {
                match table.insert(cap) {
                    Ok(h) => {
                        debug_assert_eq!(h, bedrock_abi::ipc::FIRST_INITIAL_HANDLE + i as u32)
                    }
                    Err(_) => log::warn!("silo {}: initial handle {i} dropped", self.silo.id),
                }
            }
        }
        self.silo.register();
        start_user_thread(&self.silo, self.thread);
        self.silo
    }
}

/// Loads `file` into a new silo named `name` and starts it with `argv`
/// and `envp`. Nothing is left behind on failure.
pub fn spawn_elf(
    name: &str,
    file: &[u8],
    argv: &[&str],
    envp: &[&str],
) -> Result<Arc<Silo>, LoadError> {
    spawn_elf_with(name, file, argv, envp, Spawn::default())
}

/// Like [`spawn_elf`], with initial capabilities and a namespace.
pub fn spawn_elf_with(
    name: &str,
    file: &[u8],
    argv: &[&str],
    envp: &[&str],
    with: Spawn,
) -> Result<Arc<Silo>, LoadError> {
    let prepared = prepare_elf(
        name,
        file,
        argv,
        envp,
        with.namespace,
        with.affinity.unwrap_or(CpuSet::ALL),
    )?;
    Ok(prepared.start(with.caps))
}

/// Loads `file` into a new silo without starting it (see [`Prepared`]).
pub fn prepare_elf(
    name: &str,
    file: &[u8],
    argv: &[&str],
    envp: &[&str],
    namespace: Vec<alloc::string::String>,
    affinity: CpuSet,
) -> Result<Prepared, LoadError> {
    let plan = elf::plan(file, PIE_BASE).map_err(LoadError::Elf)?;
    let aspace = AddressSpace::new()?;
    for s in &plan.segments {
        let start = align_down(s.vaddr, PAGE_SIZE);
        let end = align_up(s.vaddr + s.mem_size, PAGE_SIZE)
            .ok_or(LoadError::Elf(ElfError::Malformed("segment end")))?;
        aspace
            .map(
                Placement::Fixed(start),
                end - start,
                s.prot,
                Kind::Anonymous,
            )
            .map_err(LoadError::Vm)?;
    }
    let mut mem = Loading(&aspace);
    plan.load(file, &mut mem)
        .map_err(|e| load_error(e, LoadError::Write))?;
    if let Some((start, len)) = plan.relro.and_then(|r| r.pages()) {
        aspace
            .protect(start, len, Prot::READ)
            .map_err(LoadError::Vm)?;
    }

    let stack_bottom = STACK_TOP - STACK_SIZE;
    aspace
        .map(
            Placement::Fixed(stack_bottom - PAGE_SIZE),
            PAGE_SIZE,
            Prot::NONE,
            Kind::Guard,
        )
        .map_err(LoadError::Vm)?;
    aspace
        .map(
            Placement::Fixed(stack_bottom),
            STACK_SIZE,
            Prot::RW,
            Kind::Anonymous,
        )
        .map_err(LoadError::Vm)?;
    // Anywhere-mappings (heaps, thread stacks) go below the main stack.
    aspace
        .set_mmap_base(stack_bottom - 16 * PAGE_SIZE)
        .map_err(LoadError::Vm)?;
    let id = Silo::next_id();
    let mut auxv = plan.auxv();
    auxv.push((bedrock_abi::auxv::AT_BEDROCK_SILO, id));
    let mut random = [0u8; 16];
    crate::random::fill(&mut random);
    let stack = initial_stack(STACK_TOP, argv, envp, &auxv, &random, STACK_SIZE / 2)
        .map_err(LoadError::Stack)?;
    aspace
        .write(stack.start, &stack.image)
        .map_err(LoadError::Write)?;

    let silo = Silo::new(
        id,
        alloc::string::String::from(name),
        aspace,
        namespace,
        affinity,
    );
    log::info!(
        "silo {} ({name}): {:?} image {:#x}..{:#x}, entry {:#x}, {} relocations",
        silo.id,
        plan.kind,
        plan.image_start,
        plan.image_end,
        plan.entry,
        plan.relocation_count
    );
    let thread = create_user_thread(&silo, plan.entry, stack.rsp, 0, 0)?;
    Ok(Prepared { silo, thread })
}
