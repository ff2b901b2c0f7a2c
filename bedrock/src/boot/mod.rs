//! Booting: what the loader tells us, turned into one [`BootInfo`].
//!
//! Boot order (see `arch::x86_64::entry` for the first steps):
//! 1. `pvh_start32` (32-bit, paging off): boot page tables mapping the first
//!    4 GiB identity, at the direct map and at the kernel base; long mode;
//!    jump to the higher half.
//! 2. `kmain`: serial + logger, TSC calibration, GDT/TSS/IDT, then
//!    [`pvh::parse`] of the start info into a [`BootInfo`].
//! 3. Frame allocator over the usable memory map minus the kernel, the
//!    modules and low memory; kernel page tables (direct map of all RAM,
//!    kernel image with W^X permissions) replace the boot tables.
//! 4. Kernel heap; then the test scenario or the normal boot.

pub mod cmdline;
pub mod pvh;

use crate::mm::PhysRange;
use crate::mm::memmap::Region;
use arrayvec::{ArrayString, ArrayVec};

/// Longest command line kept (longer ones are cut, with a warning).
pub const CMDLINE_MAX: usize = 1024;
/// Most memory-map entries kept.
pub const MAX_REGIONS: usize = 128;
/// Most boot modules accepted.
pub const MAX_MODULES: usize = 16;

/// A boot module (PVH module list entry) that passed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module {
    /// Position in the loader's module list.
    pub index: usize,
    pub range: PhysRange,
}

/// Why a boot module was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleProblem {
    /// Modules are announced but the list address is null.
    MissingList,
    /// The list entry itself cannot be read.
    EntryUnreadable(u64),
    Empty,
    /// Address + size wraps around the address space.
    Wraps,
    OverlapsKernel(PhysRange),
    OutsideRam(PhysRange),
    /// More modules than [`MAX_MODULES`]; the rest are ignored.
    TooMany(u32),
}

impl core::fmt::Display for ModuleProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::MissingList => write!(f, "modules announced but the module list address is null"),
            Self::EntryUnreadable(a) => write!(f, "module list entry at {a:#x} is unreadable"),
            Self::Empty => write!(f, "module is empty"),
            Self::Wraps => write!(f, "module address + size wraps around"),
            Self::OverlapsKernel(r) => {
                write!(
                    f,
                    "module {:#x}..{:#x} overlaps the kernel image",
                    r.start, r.end
                )
            }
            Self::OutsideRam(r) => write!(f, "module {:#x}..{:#x} is not in RAM", r.start, r.end),
            Self::TooMany(n) => write!(f, "{n} modules given, only {MAX_MODULES} are supported"),
        }
    }
}

/// Everything the kernel keeps from the loader, copied out of loader
/// memory so that memory can be reused.
#[derive(Clone, Debug, Default)]
pub struct BootInfo {
    pub regions: ArrayVec<Region, MAX_REGIONS>,
    /// The firmware map had more than [`MAX_REGIONS`] entries.
    pub regions_truncated: bool,
    pub cmdline: ArrayString<CMDLINE_MAX>,
    pub cmdline_truncated: bool,
    /// The command line was unreadable or not UTF-8 (and is left empty).
    pub cmdline_invalid: bool,
    pub modules: ArrayVec<Module, MAX_MODULES>,
    /// (module index, problem) for every rejected module.
    pub module_problems: ArrayVec<(usize, ModuleProblem), MAX_MODULES>,
    pub rsdp: Option<u64>,
    pub start_info: PhysRange,
}
