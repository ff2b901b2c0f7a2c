//! User address spaces: one page-table root per silo, sharing the kernel
//! half, with VM regions ([`super::vmspace`]) deciding what each fault
//! may map. Pages are committed on first touch (demand-zero).
//!
//! TLB coherence: each address space tracks the CPUs that have it loaded;
//! removing or restricting mappings flushes those CPUs by IPI before the
//! frames are reused.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::kernel_space::{FRAMES, kernel_root};
use super::paging::{Flags, MapError, Mapper, PageSize, Table};
use super::vmspace::{Access, Kind, Placement, Prot, VmError, VmSpace};
use super::{PAGE_SIZE, phys_to_virt};
use crate::arch::x86_64::paging::{DirectMap, current_root, switch_to};
use crate::arch::x86_64::{apic, interrupts, percpu};
use crate::ipc::memory::MemoryObject;
use crate::sync::IrqSpin;

pub struct AddressSpace {
    root: u64,
    vm: IrqSpin<VmSpace>,
    /// Shared memory objects mapped here (kept alive while mapped); the
    /// regions name them by mapping id (`Kind::Shared(id)`).
    shared: IrqSpin<Vec<SharedMapping>>,
    /// CPUs (bit = index) with this root in CR3.
    active: AtomicU64,
    /// Pages committed (mapped to a frame), for accounting.
    committed: AtomicU64,
}

/// One mapping of a memory object.
struct SharedMapping {
    id: u64,
    /// Address of the object's first page (regions may be split later).
    base: u64,
    /// The most access the handle it was mapped through allowed:
    /// `protect` never goes beyond it.
    max: Prot,
    object: Arc<MemoryObject>,
}

static NEXT_MAPPING: AtomicU64 = AtomicU64::new(1);

/// Why the loader could not write into an address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// No region (or a guard/no-access one) covers the address.
    NotMapped(u64),
    NoMemory,
}

impl core::fmt::Display for WriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WriteError::NotMapped(a) => write!(f, "no writable region at {a:#x}"),
            WriteError::NoMemory => write!(f, "out of memory"),
        }
    }
}

/// Which side of [`AddressSpace::copy_between`] was not accessible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyError {
    /// The source range is not all readable (or the frames ran out).
    Source,
    /// The destination range is not all writable (or the frames ran out).
    Destination,
}

impl core::fmt::Debug for AddressSpace {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AddressSpace")
            .field("root", &self.root)
            .finish()
    }
}

impl AddressSpace {
    /// A new, empty user address space.
    pub fn new() -> Result<Arc<AddressSpace>, MapError> {
        let root = FRAMES
            .lock()
            .as_mut()
            .and_then(|f| f.alloc())
            .ok_or(MapError::OutOfFrames)?;
        // SAFETY: `root` is a fresh frame; the kernel root is a live table
        // whose upper half never changes after boot (see kernel_space).
        unsafe {
            let t = &mut *(phys_to_virt(root) as *mut Table);
            let k = &*(phys_to_virt(kernel_root()) as *const Table);
            t.0[..256].fill(Default::default());
            t.0[256..].copy_from_slice(&k.0[256..]);
        }
        Ok(Arc::new(AddressSpace {
            root,
            vm: IrqSpin::new(VmSpace::new()),
            shared: IrqSpin::new(Vec::new()),
            active: AtomicU64::new(0),
            committed: AtomicU64::new(0),
        }))
    }

    pub fn root(&self) -> u64 {
        self.root
    }

    /// Bytes of committed memory.
    pub fn committed_bytes(&self) -> u64 {
        self.committed.load(Ordering::Relaxed) * PAGE_SIZE
    }

    /// Reserves `len` bytes of demand-zero memory (or a guard region).
    pub fn map(
        &self,
        placement: Placement,
        len: u64,
        prot: Prot,
        kind: Kind,
    ) -> Result<u64, VmError> {
        self.vm.lock().reserve(placement, len, prot, kind)
    }

    /// Makes address-anywhere mappings go below `base` (e.g. the stack).
    pub fn set_mmap_base(&self, base: u64) -> Result<(), VmError> {
        self.vm.lock().set_mmap_base(base)
    }

    /// Changes the protection of `[start, start + len)`, updating pages
    /// already committed.
    ///
    /// The `vm` lock is held from the region check to the last page-table
    /// edit: a concurrent `unmap`/`map` of the same range (another thread
    /// of the silo) cannot slip between them and receive pages of a region
    /// it no longer is (finding C1 of the security review).
    pub fn protect(&self, start: u64, len: u64, prot: Prot) -> Result<(), VmError> {
        let mut freed = Vec::new();
        {
            let mut vm = self.vm.lock();
            if let Some(Kind::Shared(id)) = vm.lookup(start).map(|r| r.kind) {
                let max = self
                    .shared
                    .lock()
                    .iter()
                    .find(|m| m.id == id)
                    .map(|m| m.max);
                if !max.is_some_and(|max| max.contains(prot)) {
                    return Err(VmError::Denied { addr: start });
                }
            }
            vm.protect(start, len, prot)?;
            if let Some(Kind::Shared(id)) = vm.lookup(start).map(|r| r.kind) {
                self.remap_shared(&vm, id, start, len, prot);
            } else {
                let mut mapper = Mapper::new(self.root, &DirectMap);
                // Only pages under present tables: a wasm memory's 4 GiB
                // reservation is mostly empty.
                let end = start + len;
                let mut next = start;
                while let Some(va) = mapper.next_candidate(next, end) {
                    next = va + PAGE_SIZE;
                    let Ok((phys, _)) = mapper.unmap(va) else {
                        continue;
                    };
                    match prot.page_flags() {
                        Some(flags) => {
                            let mut none = || None;
                            // The tables exist (the page was mapped): no frames needed.
                            let _ = mapper.map(va, phys, PageSize::Size4K, flags, &mut none);
                        }
                        // No access: the frame goes (a later fault is a violation).
                        None => freed.push(phys),
                    }
                }
            }
        }
        self.shootdown();
        self.release(freed);
        Ok(())
    }

    /// Returns frames that no CPU can reach any more.
    fn release(&self, freed: Vec<u64>) {
        self.committed
            .fetch_sub(freed.len() as u64, Ordering::Relaxed);
        if let Some(frames) = FRAMES.lock().as_mut() {
            for f in freed {
                frames.free(f);
            }
        }
    }

    /// Removes `[start, start + len)`; its frames are freed once no CPU can
    /// still reach them. That includes the frames of memory objects whose
    /// last mapping this was: their `Arc`s are dropped only after the
    /// shootdown (finding H5), since dropping the last one frees them.
    pub fn unmap(&self, start: u64, len: u64) -> Result<(), VmError> {
        let mut freed = Vec::new();
        let mut released: Vec<SharedMapping> = Vec::new();
        {
            let mut vm = self.vm.lock();
            let removed = vm.unmap(start, len)?;
            let mut mapper = Mapper::new(self.root, &DirectMap);
            for r in &removed {
                let shared = matches!(r.kind, Kind::Shared(_));
                let mut next = r.start;
                while let Some(va) = mapper.next_candidate(next, r.end()) {
                    next = va + PAGE_SIZE;
                    if let Ok((phys, _)) = mapper.unmap(va)
                        && !shared
                    {
                        freed.push(phys);
                    }
                }
            }
            // Objects no region refers to any more are released.
            let live: Vec<u64> = vm
                .regions()
                .filter_map(|r| {
                    if let Kind::Shared(id) = r.kind {
                        Some(id)
                    } else {
                        None
                    }
                })
                .collect();
            let mut shared = self.shared.lock();
            let mut i = 0;
            while i < shared.len() {
                if live.contains(&shared[i].id) {
                    i += 1;
                } else {
                    released.push(shared.swap_remove(i));
                }
            }
        }
        self.shootdown();
        drop(released);
        self.release(freed);
        Ok(())
    }

    /// Resolves a fault at `addr`: commits a zeroed page if the region
    /// allows `access` and nothing is mapped yet. False = a real violation.
    pub fn handle_fault(&self, addr: u64, access: Access) -> bool {
        let vm = self.vm.lock();
        let Ok(region) = vm.fault_allowed(addr, access) else {
            return false;
        };
        let prot = region.prot;
        let page = addr & !(PAGE_SIZE - 1);
        if let Some((_, flags)) = Mapper::new(self.root, &DirectMap).translate(page) {
            // Present already: another thread committed it meanwhile (retry
            // succeeds) or the access is not allowed by the page (violation).
            return match access {
                Access::Write => flags.contains(Flags::WRITABLE),
                Access::Exec => !flags.contains(Flags::NO_EXECUTE),
                Access::Read => true,
            };
        }
        if matches!(region.kind, Kind::Shared(_)) {
            // Shared pages are mapped eagerly; a missing one is a violation.
            return false;
        }
        self.commit_page(page, prot)
    }

    /// Maps all of `object` with `prot` (at most `max`, which later
    /// protection changes cannot exceed either); its pages are present at
    /// once. Device memory is mapped uncached and never executable.
    pub fn map_shared(
        &self,
        object: Arc<MemoryObject>,
        placement: Placement,
        prot: Prot,
        max: Prot,
    ) -> Result<u64, VmError> {
        let max = if object.is_device() {
            Prot::RW.intersection(max)
        } else {
            max
        };
        if !max.contains(prot) {
            return Err(VmError::Denied { addr: 0 });
        }
        let size = object.size();
        let id = NEXT_MAPPING.fetch_add(1, Ordering::Relaxed);
        // Reserve, record and map under one hold of the `vm` lock, so that
        // no other thread's unmap or map of the range can come between
        // (finding C1).
        let mut vm = self.vm.lock();
        let base = vm.reserve(placement, size, prot, Kind::Shared(id))?;
        self.shared.lock().push(SharedMapping {
            id,
            base,
            max,
            object,
        });
        self.remap_shared(&vm, id, base, size, prot);
        Ok(base)
    }

    /// (Re)maps pages `[from, from + len)` of shared mapping `id` to its
    /// object's frames with `prot` (no access: left unmapped). `vm` is the
    /// caller's hold of the region lock; a page is touched only while its
    /// region is still mapping `id`, so an object frame can never land in
    /// another region (whose unmap would free it).
    fn remap_shared(&self, vm: &VmSpace, id: u64, from: u64, len: u64, prot: Prot) {
        let Some((region_start, object)) = self
            .shared
            .lock()
            .iter()
            .find(|m| m.id == id)
            .map(|m| (m.base, m.object.clone()))
        else {
            return;
        };
        let mut mapper = Mapper::new(self.root, &DirectMap);
        let mut guard = FRAMES.lock();
        let Some(frames) = guard.as_mut() else { return };
        for va in (from..from + len).step_by(PAGE_SIZE as usize) {
            if vm.lookup(va).map(|r| r.kind) != Some(Kind::Shared(id)) {
                continue;
            }
            let _ = mapper.unmap(va);
            let (Some(mut flags), Some(frame)) = (
                prot.page_flags(),
                object.frame(((va - region_start) / PAGE_SIZE) as usize),
            ) else {
                continue;
            };
            if object.is_device() {
                // PCD + PWT select PAT entry 3, uncacheable in the
                // power-on PAT (which the kernel leaves as it is).
                flags = flags | Flags::NO_CACHE | Flags::WRITE_THROUGH | Flags::NO_EXECUTE;
            }
            // Only intermediate tables can need frames here.
            let _ = mapper.map(va, frame, PageSize::Size4K, flags, &mut || frames.alloc());
        }
    }

    /// The frame and flags mapped at `addr`, if any (for tests).
    pub fn translate(&self, addr: u64) -> Option<(u64, Flags)> {
        let _vm = self.vm.lock();
        Mapper::new(self.root, &DirectMap).translate(addr)
    }

    /// Maps a zeroed frame at `page` with `prot` unless already mapped.
    /// True if the page is mapped afterwards.
    fn commit_page(&self, page: u64, prot: Prot) -> bool {
        let Some(flags) = prot.page_flags() else {
            return false;
        };
        let mut mapper = Mapper::new(self.root, &DirectMap);
        if mapper.translate(page).is_some() {
            // Present: the fault was a permission violation after all, or
            // another thread committed it meanwhile (then retrying works).
            return true;
        }
        let mut guard = FRAMES.lock();
        let Some(frames) = guard.as_mut() else {
            return false;
        };
        let Some(frame) = frames.alloc() else {
            return false;
        };
        // SAFETY: fresh frame, reachable through the direct map.
        unsafe { (phys_to_virt(frame) as *mut u8).write_bytes(0, PAGE_SIZE as usize) };
        match mapper.map(page, frame, PageSize::Size4K, flags, &mut || frames.alloc()) {
            Ok(()) => {
                self.committed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                frames.free(frame);
                false
            }
        }
    }

    /// Copies `bytes` to user address `addr` through the direct map,
    /// committing pages as needed, whatever their protection (for the
    /// loader, before the program runs). The range must lie in regions.
    pub fn write(&self, addr: u64, bytes: &[u8]) -> Result<(), WriteError> {
        let vm = self.vm.lock();
        let mut done = 0usize;
        while done < bytes.len() {
            let va = addr + done as u64;
            let region = vm.lookup(va).ok_or(WriteError::NotMapped(va))?;
            let page = va & !(PAGE_SIZE - 1);
            // Loader writes go to pages of any protection but NONE/guards.
            if !self.commit_page(page, region.prot) {
                return Err(WriteError::NoMemory);
            }
            let (phys, _) = Mapper::new(self.root, &DirectMap)
                .translate(va)
                .ok_or(WriteError::NoMemory)?;
            let n = ((page + PAGE_SIZE - va) as usize).min(bytes.len() - done);
            // SAFETY: `phys` is the frame just committed/found for `va`;
            // `n` stays within that page.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bytes[done..].as_ptr(),
                    phys_to_virt(phys) as *mut u8,
                    n,
                )
            };
            done += n;
        }
        Ok(())
    }

    /// Whether every byte of `[addr, addr + len)` lies in regions allowing
    /// `access` (pages need not be committed yet).
    pub fn allows(&self, addr: u64, len: u64, access: Access) -> bool {
        self.vm.lock().check_range(addr, len, access).is_ok()
    }

    /// The kernel address of the byte at `va` (user address in a region
    /// allowing `access`), committing its page if it is demand-zero and
    /// not yet touched; `None` if the region does not allow `access` or
    /// memory ran out. The caller holds `vm`, so the frame stays mapped.
    fn frame_byte(&self, vm: &VmSpace, va: u64, access: Access) -> Option<*mut u8> {
        let region = vm.fault_allowed(va, access).ok()?;
        let page = va & !(PAGE_SIZE - 1);
        let mapper = Mapper::new(self.root, &DirectMap);
        if mapper.translate(page).is_none()
            && (matches!(region.kind, Kind::Shared(_)) || !self.commit_page(page, region.prot))
        {
            return None;
        }
        let (phys, flags) = mapper.translate(va)?;
        // Device memory (mapped uncached) is not in the direct map, and a
        // kernel copy must not touch device registers anyway.
        if flags.contains(Flags::NO_CACHE) {
            return None;
        }
        Some(phys_to_virt(phys) as *mut u8)
    }

    /// Copies `len` bytes from `src_addr` in `src` to `dst_addr` in `dst`
    /// (user addresses of any two address spaces, the same one included)
    /// through the direct map: IPC's single copy from a sender's buffer
    /// straight into a receiver's. Source bytes must be readable and
    /// destination bytes writable by their silo; untouched demand-zero
    /// pages are committed. Both region locks are held for the copy (taken
    /// in address order, so two opposite copies cannot deadlock): no page
    /// can be unmapped and reused meanwhile, and no page fault is taken.
    pub fn copy_between(
        dst: &AddressSpace,
        dst_addr: u64,
        src: &AddressSpace,
        src_addr: u64,
        len: usize,
    ) -> Result<(), CopyError> {
        if len == 0 {
            return Ok(());
        }
        let same = core::ptr::eq(dst, src);
        let (first, second) = if (dst as *const AddressSpace) < (src as *const AddressSpace) {
            (dst, src)
        } else {
            (src, dst)
        };
        let first_vm = first.vm.lock();
        let second_vm = (!same).then(|| second.vm.lock());
        let vm_of = |space: &AddressSpace| -> &VmSpace {
            match &second_vm {
                Some(v) if core::ptr::eq(space, second) => v,
                _ => &first_vm,
            }
        };
        let (dst_vm, src_vm) = (vm_of(dst), vm_of(src));
        let (dst_end, src_end) = (
            dst_addr.checked_add(len as u64),
            src_addr.checked_add(len as u64),
        );
        if dst_end.is_none() || src_end.is_none() {
            return Err(CopyError::Source);
        }
        let mut done = 0usize;
        while done < len {
            let (s, d) = (src_addr + done as u64, dst_addr + done as u64);
            // The longest run inside one source page and one destination page.
            let in_page = |a: u64| (PAGE_SIZE - (a & (PAGE_SIZE - 1))) as usize;
            let n = in_page(s).min(in_page(d)).min(len - done);
            let from = src
                .frame_byte(src_vm, s, Access::Read)
                .ok_or(CopyError::Source)?;
            let to = dst
                .frame_byte(dst_vm, d, Access::Write)
                .ok_or(CopyError::Destination)?;
            // SAFETY: both pointers are direct-map addresses of frames
            // mapped in their spaces, which the held locks keep mapped;
            // `n` stays inside both pages. Overlap (same frame) is possible
            // only when copying within one space: `copy` handles it.
            unsafe { core::ptr::copy(from, to, n) };
            done += n;
        }
        Ok(())
    }

    /// Loads this address space on the current CPU.
    pub fn activate(self: &Arc<Self>) {
        let cpu = percpu::current().index;
        // The bit first, then CR3 (as Linux sets its cpumask first): a
        // shootdown that reads `active` after this CPU could have cached
        // translations of the space must include it (finding M3).
        self.active.fetch_or(1 << cpu, Ordering::AcqRel);
        if current_root() != self.root {
            // SAFETY: the root shares the kernel half with every other.
            unsafe { switch_to(self.root) };
        }
    }

    /// Notes that the current CPU switched away from this address space.
    pub fn deactivate(&self) {
        self.active
            .fetch_and(!(1 << percpu::current().index), Ordering::AcqRel);
    }

    /// Flushes stale translations of this address space on every CPU that
    /// has it loaded. Call with interrupts enabled and no spin lock held.
    fn shootdown(&self) {
        let me = percpu::current().index;
        let were = interrupts::disable_save();
        if current_root() == self.root {
            // SAFETY: reloading the same root only flushes the TLB.
            unsafe { switch_to(self.root) };
        }
        interrupts::restore(were);
        let targets = self.active.load(Ordering::Acquire) & !(1 << me);
        if targets == 0 {
            return;
        }
        let _one_at_a_time = SHOOTDOWN_LOCK.lock();
        SHOOTDOWN_ROOT.store(self.root, Ordering::Release);
        SHOOTDOWN_PENDING.store(targets.count_ones() as usize, Ordering::Release);
        for cpu in (0..64).filter(|c| targets & (1 << c) != 0) {
            if let Some(target) = percpu::cpu(cpu) {
                apic::send_ipi(target.apic_id, interrupts::SHOOTDOWN_VECTOR);
            } else {
                SHOOTDOWN_PENDING.fetch_sub(1, Ordering::AcqRel);
            }
        }
        while SHOOTDOWN_PENDING.load(Ordering::Acquire) > 0 {
            core::hint::spin_loop();
        }
    }
}

impl Drop for AddressSpace {
    /// Frees every user frame and page table. No CPU has the space loaded
    /// any more (its last thread switched away before the last reference
    /// went), so nothing needs flushing.
    fn drop(&mut self) {
        // Shared pages belong to their objects: take them out of the tables
        // before everything mapped is freed.
        let shared: Vec<_> = self
            .vm
            .lock()
            .regions()
            .filter(|r| matches!(r.kind, Kind::Shared(_)))
            .copied()
            .collect();
        let mut mapper = Mapper::new(self.root, &DirectMap);
        for r in shared {
            for va in (r.start..r.end()).step_by(PAGE_SIZE as usize) {
                let _ = mapper.unmap(va);
            }
        }
        let mut guard = FRAMES.lock();
        let Some(frames) = guard.as_mut() else { return };
        // SAFETY: the tables of the user half belong to this space alone.
        unsafe { free_level(self.root, 4, 0..256, frames) };
        frames.free(self.root);
    }
}

/// Frees the frames mapped by entries `range` of the table at `table`
/// (level 4 = PML4 .. 1 = PT), and the lower tables themselves.
unsafe fn free_level(
    table: u64,
    level: u8,
    range: core::ops::Range<usize>,
    frames: &mut super::frame::FrameAllocator,
) {
    // SAFETY: the caller owns the table and everything below it.
    let t = unsafe { &*(phys_to_virt(table) as *const Table) };
    for e in &t.0[range] {
        if !e.is_present() {
            continue;
        }
        if level > 1 && !e.is_huge() {
            // SAFETY: a present non-leaf entry points at a table we own.
            unsafe { free_level(e.addr(), level - 1, 0..512, frames) };
        }
        frames.free(e.addr());
    }
}

static SHOOTDOWN_LOCK: spin::Mutex<()> = spin::Mutex::new(());
static SHOOTDOWN_ROOT: AtomicU64 = AtomicU64::new(0);
static SHOOTDOWN_PENDING: AtomicUsize = AtomicUsize::new(0);

/// TLB shootdown IPI: flush if the address space in question is loaded.
pub fn on_shootdown_ipi() {
    let root = SHOOTDOWN_ROOT.load(Ordering::Acquire);
    if current_root() == root {
        // SAFETY: reloading the current root only flushes the TLB.
        unsafe { switch_to(root) };
    }
    SHOOTDOWN_PENDING.fetch_sub(1, Ordering::AcqRel);
}
