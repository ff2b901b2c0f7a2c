//! The kernel's own address space: the frame allocator instance and the
//! page tables that replace the boot tables.
//!
//! Layout built here: all RAM (and ACPI tables) at the direct map with
//! 2 MiB pages where alignment allows, read/write, never executable; the
//! kernel image at [`KERNEL_BASE`] with per-section permissions (text RX,
//! rodata R, data RW+NX) and the boot stack's guard page left unmapped.
//! Nothing maps low addresses any more, so a null dereference faults.

use spin::Mutex;

use crate::sync::IrqSpin;

use super::frame::{FrameAllocator, words_for};
use super::memmap::{RangeSet, RegionKind};
use super::paging::{Flags, MapError, Mapper, PageSize};
use super::{KERNEL_BASE, PAGE_SIZE, PhysRange, align_down, align_up, phys_to_virt};
use crate::arch::x86_64::paging::{DirectMap, switch_to};
use crate::boot::BootInfo;

/// The frame allocator, once memory is set up. Never allocate from the
/// heap while holding this lock: heap growth takes it too.
pub static FRAMES: IrqSpin<Option<FrameAllocator>> = IrqSpin::new(None);

/// Physical address of the kernel's root page table.
static KERNEL_ROOT: spin::Once<u64> = spin::Once::new();

/// Serialises edits of the kernel page tables after boot.
static KERNEL_MAP_LOCK: Mutex<()> = Mutex::new(());

/// Early page tables must be reachable through the boot direct map.
const BOOT_MAP_LIMIT: u64 = 4 << 30;
const HUGE: u64 = 0x20_0000;

unsafe extern "C" {
    static __kernel_phys_start: u8;
    static __kernel_phys_end: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __data_end: u8;
}

fn sym(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// Physical range the kernel image occupies (boot code included).
pub fn kernel_image() -> PhysRange {
    // SAFETY: linker-script symbols; only their addresses are used.
    unsafe { PhysRange::new(sym(&__kernel_phys_start), sym(&__kernel_phys_end)) }
}

/// What memory setup found, for the boot log and the tests.
#[derive(Debug)]
pub struct MemoryReport {
    pub usable_bytes: u64,
    pub free_frames: usize,
}

/// Sets up the frame allocator and switches to the kernel page tables.
pub fn init(info: &BootInfo) -> MemoryReport {
    let ram = RangeSet::usable_ram(&info.regions);
    let mut free = ram.clone();
    // Low memory stays free of allocations (BIOS data, SMP trampoline later).
    free.remove(PhysRange::new(0, 0x10_0000));
    free.remove(kernel_image());
    for m in &info.modules {
        free.remove(m.range);
    }
    let words = words_for(free.end());
    let bitmap_range = free
        .take(words as u64 * 8, PAGE_SIZE, BOOT_MAP_LIMIT)
        .expect("no memory below 4 GiB for the frame bitmap");
    // SAFETY: the range was just removed from the free set, lies in RAM
    // reachable through the boot direct map and is used for nothing else.
    let bitmap = unsafe {
        core::slice::from_raw_parts_mut(phys_to_virt(bitmap_range.start) as *mut u64, words)
    };
    let mut frames = FrameAllocator::new(bitmap, &free);

    let root = build_tables(info, &mut frames);
    // SAFETY: `root` maps the kernel image (code, stack, data) and the
    // direct map, everything the kernel uses from now on.
    unsafe { switch_to(root) };
    KERNEL_ROOT.call_once(|| root);

    let report = MemoryReport {
        usable_bytes: ram.total(),
        free_frames: frames.free_frames(),
    };
    *FRAMES.lock() = Some(frames);
    report
}

fn build_tables(info: &BootInfo, frames: &mut FrameAllocator) -> u64 {
    let mut alloc = || frames.alloc_below(BOOT_MAP_LIMIT);
    let root = alloc().expect("no frame for the kernel root table");
    // SAFETY: the frame is fresh and reachable through the direct map.
    unsafe { (phys_to_virt(root) as *mut super::paging::Table).write_bytes(0, 1) };
    let mut mapper = Mapper::new(root, &DirectMap);
    let rw = Flags::WRITABLE | Flags::NO_EXECUTE | Flags::GLOBAL;

    let mut direct = RangeSet::new();
    for r in &info.regions {
        if matches!(
            r.kind,
            RegionKind::Usable | RegionKind::AcpiReclaimable | RegionKind::AcpiNvs
        ) {
            let start = align_down(r.range.start, PAGE_SIZE);
            let end = align_up(r.range.end, PAGE_SIZE).unwrap_or(r.range.end);
            direct.insert(PhysRange::new(start, end));
        }
    }
    for r in direct.ranges() {
        map_range(&mut mapper, phys_to_virt(r.start), *r, rw, &mut alloc)
            .expect("mapping the direct map failed");
    }

    // SAFETY: linker-script symbols; only their addresses are used.
    let (text, rodata, data) = unsafe {
        (
            (sym(&__text_start), sym(&__text_end)),
            (sym(&__rodata_start), sym(&__rodata_end)),
            (sym(&__data_start), sym(&__data_end)),
        )
    };
    let guard = &raw const crate::arch::x86_64::entry::BOOT_STACK as u64;
    let sections = [
        (text, Flags::GLOBAL),
        (rodata, Flags::NO_EXECUTE | Flags::GLOBAL),
        (data, rw),
    ];
    for ((start, end), flags) in sections {
        for va in (start..end).step_by(PAGE_SIZE as usize) {
            if va == guard {
                continue;
            }
            mapper
                .map(va, va - KERNEL_BASE, PageSize::Size4K, flags, &mut alloc)
                .expect("mapping the kernel image failed");
        }
    }
    // Every kernel-half PML4 slot gets its PDPT now, so the upper half of
    // the root never changes again and user address spaces can copy it once.
    for i in 256..512 {
        // SAFETY: `root` is the table just built, reachable through the
        // direct map; fresh frames are zeroed before use.
        unsafe {
            let t = &mut *(phys_to_virt(root) as *mut super::paging::Table);
            if !t.0[i].is_present() {
                let pdpt = alloc().expect("no frame for kernel PDPTs");
                (phys_to_virt(pdpt) as *mut super::paging::Table).write_bytes(0, 1);
                t.0[i] = super::paging::Entry::new(pdpt, Flags::PRESENT | Flags::WRITABLE);
            }
        }
    }
    root
}

/// Maps `phys` at `virt` with 2 MiB pages where both are aligned and 4 KiB
/// pages at the edges.
pub fn map_range(
    mapper: &mut Mapper<'_, DirectMap>,
    virt: u64,
    phys: PhysRange,
    flags: Flags,
    frames: &mut dyn FnMut() -> Option<u64>,
) -> Result<(), MapError> {
    let mut pa = phys.start;
    while pa < phys.end {
        let va = virt + (pa - phys.start);
        let size = if pa.is_multiple_of(HUGE) && va.is_multiple_of(HUGE) && phys.end - pa >= HUGE {
            PageSize::Size2M
        } else {
            PageSize::Size4K
        };
        mapper.map(va, pa, size, flags, frames)?;
        pa += size.bytes();
    }
    Ok(())
}

/// How a physical range outside RAM is to be cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    /// Normal memory (firmware tables in reserved RAM).
    WriteBack,
    /// Device registers.
    Uncached,
}

/// Makes `range` reachable at its direct-map address (read/write, never
/// executable) and returns that address. Pages already mapped are left as
/// they are, so calling this for RAM or twice is harmless. Used for ACPI
/// tables outside the RAM map and for MMIO registers.
pub fn map_direct(range: PhysRange, caching: Caching) -> Result<u64, MapError> {
    let mut flags = Flags::WRITABLE | Flags::NO_EXECUTE | Flags::GLOBAL;
    if caching == Caching::Uncached {
        flags = flags | Flags::NO_CACHE | Flags::WRITE_THROUGH;
    }
    let start = align_down(range.start, PAGE_SIZE);
    let end = align_up(range.end, PAGE_SIZE).ok_or(MapError::Misaligned)?;
    let _edit = KERNEL_MAP_LOCK.lock();
    let mut frames = FRAMES.lock();
    let frames = frames.as_mut().ok_or(MapError::OutOfFrames)?;
    with_kernel_mapper(|m| {
        for pa in (start..end).step_by(PAGE_SIZE as usize) {
            if m.translate(phys_to_virt(pa)).is_none() {
                m.map(phys_to_virt(pa), pa, PageSize::Size4K, flags, &mut || {
                    frames.alloc()
                })?;
            }
        }
        Ok(phys_to_virt(range.start))
    })
}

/// Kernel stacks live here, each below an unmapped guard page, so an
/// overflow faults instead of corrupting the neighbour.
const STACKS_BASE: u64 = 0xffff_fe00_0000_0000;
const STACKS_END: u64 = 0xffff_ff00_0000_0000;
static NEXT_STACK: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(STACKS_BASE);

/// Allocates a kernel stack of `size` bytes (rounded up to pages) with a
/// guard page below it; returns the stack top. Stacks are not reclaimed
/// yet (CPU stacks live forever; threads will recycle theirs).
pub fn alloc_kernel_stack(size: u64) -> Result<u64, MapError> {
    use core::sync::atomic::Ordering;
    let size = align_up(size, PAGE_SIZE).ok_or(MapError::Misaligned)?;
    let slot = NEXT_STACK.fetch_add(size + PAGE_SIZE, Ordering::Relaxed);
    if slot + size + PAGE_SIZE > STACKS_END {
        return Err(MapError::OutOfFrames);
    }
    let bottom = slot + PAGE_SIZE;
    let _edit = KERNEL_MAP_LOCK.lock();
    let mut frames = FRAMES.lock();
    let frames = frames.as_mut().ok_or(MapError::OutOfFrames)?;
    with_kernel_mapper(|m| {
        for va in (bottom..bottom + size).step_by(PAGE_SIZE as usize) {
            let frame = frames.alloc().ok_or(MapError::OutOfFrames)?;
            let flags = Flags::WRITABLE | Flags::NO_EXECUTE | Flags::GLOBAL;
            m.map(va, frame, PageSize::Size4K, flags, &mut || frames.alloc())?;
        }
        Ok(bottom + size)
    })
}

/// Physical address of the kernel's root page table.
pub fn kernel_root() -> u64 {
    *KERNEL_ROOT.get().expect("kernel address space not set up")
}

/// Runs `f` with a mapper on the kernel address space.
pub fn with_kernel_mapper<R>(f: impl FnOnce(&mut Mapper<'_, DirectMap>) -> R) -> R {
    f(&mut Mapper::new(kernel_root(), &DirectMap))
}
