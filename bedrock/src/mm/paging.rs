//! x86_64 4-level page tables, as data: entries, flags and a mapper that
//! walks and edits a hierarchy through a [`TableAccess`].
//!
//! Nothing here executes a privileged instruction, so the whole mapping
//! logic (including W^X enforcement and conflict detection) is tested on
//! the host; `arch::x86_64::paging` only loads CR3 and flushes the TLB.

use super::PAGE_SIZE;

/// Flags of a page-table entry (the architectural bit positions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags(u64);

impl Flags {
    pub const PRESENT: Flags = Flags(1 << 0);
    pub const WRITABLE: Flags = Flags(1 << 1);
    pub const USER: Flags = Flags(1 << 2);
    /// Page-level write-through (PWT); with [`Flags::NO_CACHE`] makes MMIO uncached.
    pub const WRITE_THROUGH: Flags = Flags(1 << 3);
    /// Page-level cache disable (PCD).
    pub const NO_CACHE: Flags = Flags(1 << 4);
    pub const HUGE: Flags = Flags(1 << 7);
    pub const GLOBAL: Flags = Flags(1 << 8);
    pub const NO_EXECUTE: Flags = Flags(1 << 63);

    /// Bits of an entry that are flags rather than the address.
    const MASK: u64 = 0xfff | (1 << 63);

    pub const fn empty() -> Self {
        Flags(0)
    }

    pub const fn bits(self) -> u64 {
        self.0
    }

    pub const fn union(self, other: Flags) -> Self {
        Flags(self.0 | other.0)
    }

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Writable and executable at once: never allowed (W^X).
    pub const fn is_wx(self) -> bool {
        self.contains(Flags::WRITABLE) && !self.contains(Flags::NO_EXECUTE)
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

/// Physical address bits of an entry (bits 12..52).
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// A page-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(transparent)]
pub struct Entry(u64);

impl Entry {
    pub const fn new(phys: u64, flags: Flags) -> Self {
        Entry((phys & ADDR_MASK) | (flags.0 & Flags::MASK))
    }
    pub const fn is_present(self) -> bool {
        self.0 & Flags::PRESENT.0 != 0
    }
    pub const fn is_huge(self) -> bool {
        self.0 & Flags::HUGE.0 != 0
    }
    pub const fn addr(self) -> u64 {
        self.0 & ADDR_MASK
    }
    pub const fn flags(self) -> Flags {
        Flags(self.0 & Flags::MASK)
    }
}

/// One page table: 512 entries, one frame.
#[derive(Clone, Debug)]
#[repr(C, align(4096))]
pub struct Table(pub [Entry; 512]);

impl Table {
    pub const fn empty() -> Self {
        Table([Entry(0); 512])
    }
}

/// Page sizes the mapper can install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSize {
    Size4K,
    Size2M,
}

impl PageSize {
    pub const fn bytes(self) -> u64 {
        match self {
            PageSize::Size4K => PAGE_SIZE,
            PageSize::Size2M => 0x20_0000,
        }
    }
    /// Depth of the leaf: 1 = PT entry, 2 = PD entry.
    const fn leaf_level(self) -> usize {
        match self {
            PageSize::Size4K => 1,
            PageSize::Size2M => 2,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Address not aligned to the page size, or not canonical.
    Misaligned,
    /// Writable and executable requested together.
    WritableAndExecutable,
    /// Something is already mapped there.
    AlreadyMapped,
    /// A larger page covers the address.
    HugePageInTheWay,
    /// No frame for an intermediate table.
    OutOfFrames,
    /// Nothing is mapped there.
    NotMapped,
}

/// How the mapper reaches page tables by physical address.
///
/// # Safety
/// `table` must return a pointer to the page table stored in frame `phys`,
/// valid for reads and writes, for every frame that is part of the
/// hierarchy or handed out by the frame source used with it.
pub unsafe trait TableAccess {
    fn table(&self, phys: u64) -> *mut Table;
}

/// Index of `virt` in the table at `level` (4 = PML4 .. 1 = PT).
const fn index(virt: u64, level: usize) -> usize {
    ((virt >> (12 + 9 * (level - 1))) & 0x1ff) as usize
}

/// True for addresses whose bits 48..64 copy bit 47.
pub const fn is_canonical(virt: u64) -> bool {
    let top = virt >> 47;
    top == 0 || top == 0x1_ffff
}

/// Edits the hierarchy rooted at the PML4 in frame `root`.
pub struct Mapper<'a, A: TableAccess> {
    root: u64,
    access: &'a A,
}

impl<'a, A: TableAccess> Mapper<'a, A> {
    pub fn new(root: u64, access: &'a A) -> Self {
        Self { root, access }
    }

    pub fn root(&self) -> u64 {
        self.root
    }

    fn read(&self, table: u64, i: usize) -> Entry {
        // SAFETY: TableAccess guarantees a valid pointer to the table in
        // `table`; `i` < 512 by construction of `index`.
        unsafe { (*self.access.table(table)).0[i] }
    }

    fn write(&mut self, table: u64, i: usize, entry: Entry) {
        // SAFETY: as in `read`; `&mut self` serialises edits through this mapper.
        unsafe { (*self.access.table(table)).0[i] = entry }
    }

    /// Maps one page of `size` at `virt` to `phys`. Intermediate tables are
    /// taken from `frames` (zeroed here) and are writable/user/executable so
    /// that the leaf alone decides the permissions.
    pub fn map(
        &mut self,
        virt: u64,
        phys: u64,
        size: PageSize,
        flags: Flags,
        frames: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(), MapError> {
        if flags.is_wx() {
            return Err(MapError::WritableAndExecutable);
        }
        if !virt.is_multiple_of(size.bytes())
            || !phys.is_multiple_of(size.bytes())
            || !is_canonical(virt)
        {
            return Err(MapError::Misaligned);
        }
        let mut table = self.root;
        for level in (size.leaf_level() + 1..=4).rev() {
            let i = index(virt, level);
            let mut e = self.read(table, i);
            if !e.is_present() {
                let frame = frames().ok_or(MapError::OutOfFrames)?;
                // SAFETY: the frame source hands out frames reachable through
                // `access` (TableAccess contract) that nobody else uses.
                unsafe { self.access.table(frame).write_bytes(0, 1) };
                e = Entry::new(
                    frame,
                    Flags::PRESENT | Flags::WRITABLE | (flags & Flags::USER),
                );
                self.write(table, i, e);
            } else if e.is_huge() {
                return Err(MapError::HugePageInTheWay);
            } else if flags.contains(Flags::USER) && !e.flags().contains(Flags::USER) {
                e = Entry::new(e.addr(), e.flags() | Flags::USER);
                self.write(table, i, e);
            }
            table = e.addr();
        }
        let i = index(virt, size.leaf_level());
        if self.read(table, i).is_present() {
            return Err(MapError::AlreadyMapped);
        }
        let huge = if size == PageSize::Size2M {
            Flags::HUGE
        } else {
            Flags::empty()
        };
        self.write(table, i, Entry::new(phys, flags | Flags::PRESENT | huge));
        Ok(())
    }

    /// Finds the leaf entry for `virt`: (table, index, entry, page size).
    fn leaf(&self, virt: u64) -> Option<(u64, usize, Entry, PageSize)> {
        if !is_canonical(virt) {
            return None;
        }
        let mut table = self.root;
        for level in (1..=4).rev() {
            let i = index(virt, level);
            let e = self.read(table, i);
            if !e.is_present() {
                return None;
            }
            match level {
                1 => return Some((table, i, e, PageSize::Size4K)),
                2 if e.is_huge() => return Some((table, i, e, PageSize::Size2M)),
                3 if e.is_huge() => return None, // 1 GiB pages are never created here
                _ => table = e.addr(),
            }
        }
        None
    }

    /// The first page in `[from, end)` (page-aligned `from`) that may be
    /// mapped: ranges whose PML4, PDPT or PD entry is absent are skipped
    /// whole, so sweeping a large, mostly untouched reservation (a 4 GiB
    /// wasm memory) costs per table present, not per page.
    pub fn next_candidate(&self, from: u64, end: u64) -> Option<u64> {
        let mut va = from;
        'walk: while va < end {
            if !is_canonical(va) {
                return None;
            }
            let mut table = self.root;
            for level in (2..=4).rev() {
                let e = self.read(table, index(va, level));
                if !e.is_present() {
                    let span = 1u64 << (12 + 9 * (level - 1));
                    va = (va & !(span - 1)).checked_add(span)?;
                    continue 'walk;
                }
                if e.is_huge() {
                    return Some(va);
                }
                table = e.addr();
            }
            return Some(va);
        }
        None
    }

    /// Physical address and flags `virt` maps to.
    pub fn translate(&self, virt: u64) -> Option<(u64, Flags)> {
        let (_, _, e, size) = self.leaf(virt)?;
        Some((e.addr() + virt % size.bytes(), e.flags()))
    }

    /// Removes the mapping of the page at `virt`, returning the physical
    /// address it mapped. The caller flushes the TLB.
    pub fn unmap(&mut self, virt: u64) -> Result<(u64, PageSize), MapError> {
        let (table, i, e, size) = self.leaf(virt).ok_or(MapError::NotMapped)?;
        if !virt.is_multiple_of(size.bytes()) {
            return Err(MapError::Misaligned);
        }
        self.write(table, i, Entry::default());
        Ok((e.addr(), size))
    }
}

impl core::ops::BitAnd for Flags {
    type Output = Flags;
    fn bitand(self, rhs: Flags) -> Flags {
        Flags(self.0 & rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Page tables in a host vector; "physical" address = index * 4096.
    struct Arena(RefCell<Vec<Box<Table>>>);

    // SAFETY: every address the tests use was allocated from the arena,
    // and boxes never move while the arena lives.
    unsafe impl TableAccess for Arena {
        fn table(&self, phys: u64) -> *mut Table {
            let mut v = self.0.borrow_mut();
            &mut *v[(phys / PAGE_SIZE) as usize] as *mut Table
        }
    }

    impl Arena {
        fn new() -> Self {
            Arena(RefCell::new(vec![Box::new(Table::empty())]))
        }
        fn alloc(&self) -> Option<u64> {
            let mut v = self.0.borrow_mut();
            v.push(Box::new(Table::empty()));
            Some((v.len() as u64 - 1) * PAGE_SIZE)
        }
        fn tables(&self) -> usize {
            self.0.borrow().len()
        }
    }

    const RW: Flags = Flags::WRITABLE.union(Flags::NO_EXECUTE);

    #[test]
    fn map_translate_unmap_4k() {
        let arena = Arena::new();
        let mut m = Mapper::new(0, &arena);
        let va = 0xffff_8000_1234_5000;
        m.map(va, 0xabc000, PageSize::Size4K, RW, &mut || arena.alloc())
            .unwrap();
        assert_eq!(arena.tables(), 4, "PDPT, PD and PT created");
        let (pa, flags) = m.translate(va + 0x10).unwrap();
        assert_eq!(pa, 0xabc010);
        assert!(flags.contains(Flags::PRESENT | RW));
        assert_eq!(m.translate(va + PAGE_SIZE), None);
        assert_eq!(m.unmap(va), Ok((0xabc000, PageSize::Size4K)));
        assert_eq!(m.translate(va), None);
        assert_eq!(m.unmap(va), Err(MapError::NotMapped));
    }

    #[test]
    fn next_candidate_skips_absent_tables() {
        let arena = Arena::new();
        let mut m = Mapper::new(0, &arena);
        // Two pages 3 GiB apart in an otherwise empty 4 GiB range.
        let base = 0x10_0000_0000;
        let far = base + (3 << 30) + 0x5000;
        for va in [base + 0x3000, far] {
            m.map(va, 0x1000, PageSize::Size4K, RW, &mut || arena.alloc())
                .unwrap();
        }
        let end = base + (4 << 30);
        assert_eq!(m.next_candidate(base, end), Some(base));
        // Inside the first page table every page is a candidate...
        assert_eq!(m.next_candidate(base + 0x4000, end), Some(base + 0x4000));
        // ...past it the walk jumps whole 2 MiB / 1 GiB ranges.
        let found = m.next_candidate(base + (2 << 20), end).unwrap();
        assert_eq!(found, far & !((2 << 20) - 1));
        assert!(found <= far);
        assert_eq!(
            m.next_candidate(far + PAGE_SIZE, end),
            Some(far + PAGE_SIZE)
        );
        assert_eq!(m.next_candidate(far + (2 << 20), end), None);
        // An empty hierarchy has no candidate at all; nor a non-canonical start.
        let empty = Arena::new();
        let e = Mapper::new(0, &empty);
        assert_eq!(e.next_candidate(0x1000, 0x7fff_ffff_f000), None);
        assert_eq!(m.next_candidate(0x0000_8000_0000_0000, u64::MAX), None);
        // A sweep visits every mapped page.
        let mut va = base;
        let mut hits = Vec::new();
        while let Some(page) = m.next_candidate(va, end) {
            if m.translate(page).is_some() {
                hits.push(page);
            }
            va = page + PAGE_SIZE;
        }
        assert_eq!(hits, [base + 0x3000, far]);
    }

    #[test]
    fn huge_pages_and_conflicts() {
        let arena = Arena::new();
        let mut m = Mapper::new(0, &arena);
        let va = 0xffff_8000_0020_0000;
        m.map(va, 0x40_0000, PageSize::Size2M, RW, &mut || arena.alloc())
            .unwrap();
        assert_eq!(m.translate(va + 0x1234).unwrap().0, 0x40_1234);
        assert_eq!(
            m.map(va + 0x1000, 0, PageSize::Size4K, RW, &mut || arena.alloc()),
            Err(MapError::HugePageInTheWay)
        );
        assert_eq!(
            m.map(va, 0, PageSize::Size2M, RW, &mut || arena.alloc()),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(
            m.map(va + 0x1000, 0, PageSize::Size2M, RW, &mut || arena.alloc()),
            Err(MapError::Misaligned)
        );
    }

    #[test]
    fn w_xor_x_and_canonical_addresses_enforced() {
        let arena = Arena::new();
        let mut m = Mapper::new(0, &arena);
        assert_eq!(
            m.map(
                0x1000,
                0x1000,
                PageSize::Size4K,
                Flags::WRITABLE,
                &mut || arena.alloc()
            ),
            Err(MapError::WritableAndExecutable)
        );
        assert_eq!(
            m.map(0x0000_8000_0000_0000, 0, PageSize::Size4K, RW, &mut || {
                arena.alloc()
            }),
            Err(MapError::Misaligned)
        );
        assert_eq!(m.translate(0x0000_8000_0000_0000), None);
        // Read-only + executable is fine.
        m.map(
            0x1000,
            0x1000,
            PageSize::Size4K,
            Flags::empty(),
            &mut || arena.alloc(),
        )
        .unwrap();
    }

    #[test]
    fn out_of_frames_is_an_error() {
        let arena = Arena::new();
        let mut m = Mapper::new(0, &arena);
        assert_eq!(
            m.map(0x1000, 0x1000, PageSize::Size4K, RW, &mut || None),
            Err(MapError::OutOfFrames)
        );
    }

    #[test]
    fn user_leaf_opens_parents() {
        let arena = Arena::new();
        let mut m = Mapper::new(0, &arena);
        m.map(0x40_0000, 0x1000, PageSize::Size4K, RW, &mut || {
            arena.alloc()
        })
        .unwrap();
        m.map(
            0x40_1000,
            0x2000,
            PageSize::Size4K,
            RW | Flags::USER,
            &mut || arena.alloc(),
        )
        .unwrap();
        assert!(m.read(0, index(0x40_1000, 4)).flags().contains(Flags::USER));
    }
}
