//! The VM regions of one user address space, as pure bookkeeping: which
//! page ranges are reserved, with which protection and of which kind. No
//! page table is touched here; the kernel consults a [`VmSpace`] on a page
//! fault ([`VmSpace::fault_allowed`]), before copying from or to user memory
//! ([`VmSpace::check_range`]), and edits the page tables after
//! [`VmSpace::protect`] and [`VmSpace::unmap`] (which returns the removed
//! pieces so the kernel frees their frames and shoots down TLBs).
//!
//! Which pages hold a frame ("committed") is the page tables' business,
//! not this module's: an [`Kind::Anonymous`] region is demand-zero, a page
//! gets its frame on first touch.
//!
//! Invariants, checked by the tests after every operation:
//! - regions are non-empty, page-aligned, pairwise disjoint and inside the
//!   layout's `[start, end)` (by default [`USER_START`]..[`USER_END`]);
//! - no region is writable and executable (W^X);
//! - a [`Kind::Guard`] region has [`Prot::NONE`] and never becomes
//!   accessible ([`VmSpace::protect`] refuses it);
//! - adjacent regions with the same protection and kind are merged, so the
//!   map is canonical: the same pages with the same attributes give the
//!   same regions whatever the order of operations;
//! - there are at most `max_regions` regions: an operation that would
//!   exceed the limit fails with [`VmError::TooManyRegions`] and changes
//!   nothing (every operation validates first, then edits);
//! - every operation is all-or-nothing: on error the map is unchanged.
//!
//! Placement of [`Placement::Anywhere`]: top-down first fit below the
//! layout's `mmap_base` (the highest free gap that fits, at its top end),
//! falling back to bottom-up first fit above `mmap_base`. The kernel puts
//! the initial stack near the top with [`Placement::Fixed`] and sets
//! `mmap_base` below it, so anonymous mappings grow down towards the
//! program image, which sits low.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use super::PAGE_SIZE;
use super::paging::Flags;

/// Lowest user address: page 0 stays unmapped so that null pointers fault.
pub const USER_START: u64 = 0x1000;
/// End (exclusive) of user space. The canonical lower half ends at
/// `0x0000_8000_0000_0000`, but its top page is kept unmapped, as Linux
/// does: otherwise a `syscall` as the very last instruction of that page
/// would make `sysret` return to a non-canonical RIP, which on Intel CPUs
/// raises #GP in ring 0 with the user's stack.
pub const USER_END: u64 = 0x0000_7fff_ffff_f000;

/// Whether a user-chosen value may go into a register the kernel loads
/// for ring 3 and the CPU checks for canonical form on a privileged write
/// (entry RIP, stack RSP, FS base): at most [`USER_END`]. A non-canonical
/// FS base makes `wrmsr` raise #GP in ring 0 (finding H1 of the security
/// review); the top user page is excluded too, as it is never mappable.
/// Stack tops may equal `USER_END` (nothing is pushed there).
pub const fn user_register_ok(value: u64) -> bool {
    value <= USER_END
}
/// Default limit on the number of regions of one address space.
pub const DEFAULT_MAX_REGIONS: usize = 4096;

/// Protection of a region: any combination of read, write and execute
/// (the bit values are those of the syscall ABI: R = 1, W = 2, X = 4).
///
/// x86 page tables cannot express write-only or execute-only pages: a
/// present page is always readable. [`Prot::allows`] follows the hardware,
/// so a read is allowed in any region whose protection is not
/// [`Prot::NONE`].
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Prot(u8);

impl Prot {
    pub const NONE: Prot = Prot(0);
    pub const READ: Prot = Prot(1);
    pub const WRITE: Prot = Prot(2);
    pub const EXEC: Prot = Prot(4);
    pub const RW: Prot = Prot(1 | 2);
    pub const RX: Prot = Prot(1 | 4);
    const ALL: u8 = 7;

    /// The protection with these ABI bits; `None` if an unknown bit is set.
    pub const fn from_bits(bits: u64) -> Option<Prot> {
        if bits & !(Self::ALL as u64) != 0 {
            None
        } else {
            Some(Prot(bits as u8))
        }
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub const fn union(self, other: Prot) -> Prot {
        Prot(self.0 | other.0)
    }

    pub const fn intersection(self, other: Prot) -> Prot {
        Prot(self.0 & other.0)
    }

    pub const fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn is_none(self) -> bool {
        self.0 == 0
    }

    /// Writable and executable at once: never allowed (W^X).
    pub const fn is_wx(self) -> bool {
        self.contains(Prot::WRITE) && self.contains(Prot::EXEC)
    }

    /// Whether an access of this kind succeeds on a page with this
    /// protection, as the hardware will enforce it once the page is mapped.
    pub const fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.0 != 0,
            Access::Write => self.contains(Prot::WRITE),
            Access::Exec => self.contains(Prot::EXEC),
        }
    }

    /// Page-table flags for a user page with this protection; `None` for
    /// [`Prot::NONE`] (the page stays not present).
    pub const fn page_flags(self) -> Option<Flags> {
        if self.is_none() {
            return None;
        }
        let mut flags = Flags::PRESENT.union(Flags::USER);
        if self.contains(Prot::WRITE) {
            flags = flags.union(Flags::WRITABLE);
        }
        if !self.contains(Prot::EXEC) {
            flags = flags.union(Flags::NO_EXECUTE);
        }
        Some(flags)
    }
}

impl core::ops::BitOr for Prot {
    type Output = Prot;
    fn bitor(self, rhs: Prot) -> Prot {
        self.union(rhs)
    }
}

impl fmt::Display for Prot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |p: Prot, ch: char| if self.contains(p) { ch } else { '-' };
        write!(
            f,
            "{}{}{}",
            c(Prot::READ, 'r'),
            c(Prot::WRITE, 'w'),
            c(Prot::EXEC, 'x')
        )
    }
}

impl fmt::Debug for Prot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prot({self})")
    }
}

/// The kind of memory access that faulted or is being checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
    Exec,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Exec => "execute",
        })
    }
}

/// What backs a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Demand-zero memory: a page gets a zeroed frame on first touch (the
    /// loader may fill pages eagerly, e.g. ELF segments).
    Anonymous,
    /// Reserved and never accessible (e.g. below a stack): always
    /// [`Prot::NONE`], keeps other mappings out of the range.
    Guard,
    /// Pages of a shared memory object (named by the kernel's object id),
    /// mapped eagerly; its frames belong to the object, not to the space.
    Shared(u64),
}

/// A run of pages with one protection and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    pub start: u64,
    pub len: u64,
    pub prot: Prot,
    pub kind: Kind,
}

impl Region {
    /// End address (exclusive); regions never wrap.
    pub const fn end(&self) -> u64 {
        self.start + self.len
    }

    pub const fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end()
    }

    /// Number of pages in the region.
    pub const fn pages(&self) -> u64 {
        self.len / PAGE_SIZE
    }
}

/// Where [`VmSpace::reserve`] puts a new region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Exactly at this address; fails with [`VmError::Occupied`] if any
    /// page of the range is already reserved (never replaces a mapping).
    Fixed(u64),
    /// At this address if the whole range is free, else as
    /// [`Placement::Anywhere`]. The hint must still be page-aligned.
    Hint(u64),
    /// Wherever there is room (see the module documentation).
    Anywhere,
}

/// Why an operation on a [`VmSpace`] was refused. The map is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmError {
    /// An address or length is not a multiple of the page size.
    Misaligned(u64),
    ZeroLength,
    /// The range wraps around or leaves the address space's bounds.
    OutOfRange {
        start: u64,
        len: u64,
    },
    /// Writable and executable at once.
    WriteExecute,
    /// A protection change spanning different kinds of memory.
    MixedKinds {
        addr: u64,
    },
    /// A guard region must have no access rights.
    GuardWithAccess(Prot),
    /// [`Placement::Fixed`] over pages that are already reserved.
    Occupied {
        start: u64,
        len: u64,
    },
    /// No free gap of this length.
    NoSpace {
        len: u64,
    },
    /// [`VmSpace::protect`] over a page that is not reserved.
    NotMapped {
        addr: u64,
    },
    /// [`VmSpace::protect`] over a guard region.
    GuardRegion {
        addr: u64,
    },
    /// The operation would need more regions than the limit.
    TooManyRegions {
        limit: usize,
    },
    /// A [`Layout`] that is not page-aligned or not ordered.
    BadLayout,
    /// More access than the mapping's capability granted (the kernel
    /// checks this for shared mappings; this module never returns it).
    Denied {
        addr: u64,
    },
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VmError::Misaligned(v) => write!(f, "{v:#x} is not page-aligned"),
            VmError::ZeroLength => f.write_str("zero length"),
            VmError::OutOfRange { start, len } => {
                write!(f, "range {start:#x}+{len:#x} is outside user space")
            }
            VmError::WriteExecute => f.write_str("writable and executable at once (W^X)"),
            VmError::GuardWithAccess(p) => write!(f, "guard region with access {p}"),
            VmError::Occupied { start, len } => {
                write!(f, "range {start:#x}+{len:#x} is already reserved")
            }
            VmError::NoSpace { len } => write!(f, "no free range of {len:#x} bytes"),
            VmError::NotMapped { addr } => write!(f, "{addr:#x} is not mapped"),
            VmError::GuardRegion { addr } => write!(f, "{addr:#x} is in a guard region"),
            VmError::TooManyRegions { limit } => write!(f, "more than {limit} regions"),
            VmError::BadLayout => f.write_str("bad address-space layout"),
            VmError::Denied { addr } => write!(f, "{addr:#x}: more access than the handle granted"),
            VmError::MixedKinds { addr } => {
                write!(f, "range changes kind of memory at {addr:#x}")
            }
        }
    }
}

impl core::error::Error for VmError {}

/// Why a user access is not allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No region contains the address (or it is outside user space).
    Unmapped { addr: u64 },
    /// The address is in a guard region (typically a stack overflow).
    Guard { addr: u64 },
    /// The region does not allow this access.
    Denied {
        addr: u64,
        access: Access,
        prot: Prot,
    },
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FaultError::Unmapped { addr } => write!(f, "{addr:#x} is not mapped"),
            FaultError::Guard { addr } => write!(f, "{addr:#x} is in a guard region"),
            FaultError::Denied { addr, access, prot } => {
                write!(f, "{access} at {addr:#x} denied (region is {prot})")
            }
        }
    }
}

impl core::error::Error for FaultError {}

/// Bounds and limits of an address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Lowest address a region may start at (page-aligned, non-zero).
    pub start: u64,
    /// Highest address (exclusive) a region may end at (page-aligned).
    pub end: u64,
    /// [`Placement::Anywhere`] searches top-down below this first.
    pub mmap_base: u64,
    /// Most regions at once.
    pub max_regions: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            start: USER_START,
            end: USER_END,
            mmap_base: USER_END,
            max_regions: DEFAULT_MAX_REGIONS,
        }
    }
}

/// The regions of one user address space.
#[derive(Clone, Debug)]
pub struct VmSpace {
    /// Keyed by start address.
    regions: BTreeMap<u64, Region>,
    layout: Layout,
}

impl Default for VmSpace {
    fn default() -> Self {
        Self::new()
    }
}

const fn is_aligned(v: u64) -> bool {
    v.is_multiple_of(PAGE_SIZE)
}

impl VmSpace {
    /// An empty address space with the default [`Layout`].
    pub fn new() -> Self {
        VmSpace {
            regions: BTreeMap::new(),
            layout: Layout::default(),
        }
    }

    /// An empty address space with these bounds: `start` non-zero,
    /// `start < end`, all page-aligned, `start <= mmap_base <= end`,
    /// `max_regions >= 1`.
    pub fn with_layout(layout: Layout) -> Result<Self, VmError> {
        let ok = layout.start != 0
            && is_aligned(layout.start)
            && is_aligned(layout.end)
            && is_aligned(layout.mmap_base)
            && layout.start < layout.end
            && layout.start <= layout.mmap_base
            && layout.mmap_base <= layout.end
            && layout.max_regions >= 1;
        if !ok {
            return Err(VmError::BadLayout);
        }
        Ok(VmSpace {
            regions: BTreeMap::new(),
            layout,
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Moves the base of top-down placement (page-aligned, inside bounds).
    pub fn set_mmap_base(&mut self, base: u64) -> Result<(), VmError> {
        if !is_aligned(base) {
            return Err(VmError::Misaligned(base));
        }
        if base < self.layout.start || base > self.layout.end {
            return Err(VmError::OutOfRange {
                start: base,
                len: 0,
            });
        }
        self.layout.mmap_base = base;
        Ok(())
    }

    /// The regions in address order.
    pub fn regions(&self) -> impl Iterator<Item = &Region> + '_ {
        self.regions.values()
    }

    pub fn region_count(&self) -> usize {
        self.regions.len()
    }

    /// Bytes reserved in non-guard regions.
    pub fn reserved_bytes(&self) -> u64 {
        self.regions
            .values()
            .filter(|r| r.kind != Kind::Guard)
            .map(|r| r.len)
            .sum()
    }

    /// The region containing `addr`, if any (what the page-fault handler
    /// needs: its protection says how to map the page).
    pub fn lookup(&self, addr: u64) -> Option<&Region> {
        let (_, r) = self.regions.range(..=addr).next_back()?;
        r.contains(addr).then_some(r)
    }

    /// Whether an `access` fault at `addr` may be served by mapping a page:
    /// the region (with the protection to map it with), or why not.
    pub fn fault_allowed(&self, addr: u64, access: Access) -> Result<&Region, FaultError> {
        let region = self.lookup(addr).ok_or(FaultError::Unmapped { addr })?;
        if region.kind == Kind::Guard {
            return Err(FaultError::Guard { addr });
        }
        if !region.prot.allows(access) {
            return Err(FaultError::Denied {
                addr,
                access,
                prot: region.prot,
            });
        }
        Ok(region)
    }

    /// Checks that every byte of `[addr, addr + len)` allows `access`
    /// (e.g. before copying from or to a user buffer). Any alignment;
    /// `len == 0` is always allowed. The error names the first bad byte.
    pub fn check_range(&self, addr: u64, len: u64, access: Access) -> Result<(), FaultError> {
        if len == 0 {
            return Ok(());
        }
        // A range that wraps past u64::MAX never ends inside a region, so
        // the walk below stops at its first unmapped byte.
        let end = addr.checked_add(len);
        let mut at = addr;
        loop {
            at = self.fault_allowed(at, access)?.end();
            if end.is_some_and(|e| at >= e) {
                return Ok(());
            }
        }
    }

    /// True when no page of `[start, start + len)` is reserved.
    pub fn is_free(&self, start: u64, len: u64) -> bool {
        let Some(end) = start.checked_add(len) else {
            return false;
        };
        self.overlapping(start, end).next().is_none()
    }

    /// Reserves `len` bytes (page multiple) with `prot` and `kind`; returns
    /// the start address. Guard regions must have [`Prot::NONE`].
    pub fn reserve(
        &mut self,
        placement: Placement,
        len: u64,
        prot: Prot,
        kind: Kind,
    ) -> Result<u64, VmError> {
        self.check_len(len)?;
        check_prot(prot)?;
        if kind == Kind::Guard && !prot.is_none() {
            return Err(VmError::GuardWithAccess(prot));
        }
        let start = match placement {
            Placement::Fixed(addr) => {
                self.check_range_arg(addr, len)?;
                if !self.is_free(addr, len) {
                    return Err(VmError::Occupied { start: addr, len });
                }
                addr
            }
            Placement::Hint(addr) => {
                if !is_aligned(addr) {
                    return Err(VmError::Misaligned(addr));
                }
                if self.check_range_arg(addr, len).is_ok() && self.is_free(addr, len) {
                    addr
                } else {
                    self.find_free(len)?
                }
            }
            Placement::Anywhere => self.find_free(len)?,
        };
        self.rewrite(start, start + len, Some((prot, kind)))?;
        Ok(start)
    }

    /// Changes the protection of `[start, start + len)`, which must be
    /// reserved entirely (no hole) and contain no guard region. Regions are
    /// split at the range's ends as needed.
    pub fn protect(&mut self, start: u64, len: u64, prot: Prot) -> Result<(), VmError> {
        self.check_len(len)?;
        self.check_range_arg(start, len)?;
        check_prot(prot)?;
        let end = start + len;
        let mut at = start;
        let mut kind = None;
        for r in self.overlapping(start, end) {
            if r.start > at {
                return Err(VmError::NotMapped { addr: at });
            }
            if r.kind == Kind::Guard {
                return Err(VmError::GuardRegion {
                    addr: r.start.max(start),
                });
            }
            // One protection change covers one kind of memory only.
            if kind.is_some_and(|k| k != r.kind) {
                return Err(VmError::MixedKinds { addr: r.start });
            }
            kind = Some(r.kind);
            at = r.end();
        }
        if at < end {
            return Err(VmError::NotMapped { addr: at });
        }
        self.rewrite(start, end, Some((prot, kind.unwrap_or(Kind::Anonymous))))?;
        Ok(())
    }

    /// Removes every reservation in `[start, start + len)`, splitting
    /// regions at the range's ends. Holes in the range are fine. Returns
    /// the removed pieces (clipped to the range) so the kernel can unmap
    /// their pages, free the frames and shoot down TLBs; guard pieces have
    /// no frames. Only fails if the range is invalid or the split would
    /// exceed the region limit.
    pub fn unmap(&mut self, start: u64, len: u64) -> Result<Vec<Region>, VmError> {
        self.check_len(len)?;
        self.check_range_arg(start, len)?;
        self.rewrite(start, start + len, None)
    }

    fn check_len(&self, len: u64) -> Result<(), VmError> {
        if len == 0 {
            return Err(VmError::ZeroLength);
        }
        if !is_aligned(len) {
            return Err(VmError::Misaligned(len));
        }
        Ok(())
    }

    /// `start` aligned and `[start, start + len)` inside the bounds.
    fn check_range_arg(&self, start: u64, len: u64) -> Result<(), VmError> {
        if !is_aligned(start) {
            return Err(VmError::Misaligned(start));
        }
        match start.checked_add(len) {
            Some(end) if start >= self.layout.start && end <= self.layout.end => Ok(()),
            _ => Err(VmError::OutOfRange { start, len }),
        }
    }

    /// Regions intersecting `[start, end)`, in order.
    fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = &Region> + '_ {
        let first = self
            .regions
            .range(..start)
            .next_back()
            .map(|(_, r)| r)
            .filter(|r| r.end() > start);
        first
            .into_iter()
            .chain(self.regions.range(start..end).map(|(_, r)| r))
    }

    fn find_free(&self, len: u64) -> Result<u64, VmError> {
        let Layout {
            start,
            end,
            mmap_base,
            ..
        } = self.layout;
        self.gap_top_down(start, mmap_base, len)
            .or_else(|| self.gap_bottom_up(mmap_base, end, len))
            .ok_or(VmError::NoSpace { len })
    }

    /// Highest `[s, s + len)` inside `[lo, hi)` that is free.
    fn gap_top_down(&self, lo: u64, hi: u64, len: u64) -> Option<u64> {
        let mut cursor = hi;
        for r in self.regions.range(..hi).rev().map(|(_, r)| r) {
            let gap_start = r.end().max(lo);
            if cursor >= gap_start && cursor - gap_start >= len {
                return Some(cursor - len);
            }
            cursor = cursor.min(r.start);
            if cursor <= lo {
                return None;
            }
        }
        (cursor >= lo && cursor - lo >= len).then(|| cursor - len)
    }

    /// Lowest `[s, s + len)` inside `[lo, hi)` that is free.
    fn gap_bottom_up(&self, lo: u64, hi: u64, len: u64) -> Option<u64> {
        let mut cursor = lo;
        for r in self.overlapping(lo, hi) {
            let gap_end = r.start.min(hi);
            if gap_end >= cursor && gap_end - cursor >= len {
                return Some(cursor);
            }
            cursor = cursor.max(r.end());
            if cursor >= hi {
                return None;
            }
        }
        (hi >= cursor && hi - cursor >= len).then_some(cursor)
    }

    /// Sets `[start, end)` to `attrs` (or to nothing), keeping the parts of
    /// the regions outside the range and merging equal neighbours. Returns
    /// the pieces that were inside the range before. All-or-nothing: the
    /// region limit is checked before anything changes.
    fn rewrite(
        &mut self,
        start: u64,
        end: u64,
        attrs: Option<(Prot, Kind)>,
    ) -> Result<Vec<Region>, VmError> {
        // The regions replaced: those intersecting the range plus the
        // neighbours touching its ends (they may merge).
        let before = self
            .regions
            .range(..start)
            .next_back()
            .map(|(_, r)| *r)
            .filter(|r| r.end() >= start);
        let after = self.regions.get(&end).copied();
        let mut old: Vec<Region> = Vec::new();
        old.extend(before);
        old.extend(self.regions.range(start..end).map(|(_, r)| *r));
        old.extend(after);

        // Old regions are sorted and disjoint, so all their parts left of
        // the range come before the new range, and all right parts after.
        let mut new: Vec<Region> = Vec::with_capacity(old.len() + 1);
        for r in old.iter().filter(|r| r.start < start) {
            push_merged(
                &mut new,
                Region {
                    len: r.end().min(start) - r.start,
                    ..*r
                },
            );
        }
        if let Some((prot, kind)) = attrs {
            push_merged(
                &mut new,
                Region {
                    start,
                    len: end - start,
                    prot,
                    kind,
                },
            );
        }
        for r in old.iter().filter(|r| r.end() > end) {
            let s = r.start.max(end);
            push_merged(
                &mut new,
                Region {
                    start: s,
                    len: r.end() - s,
                    ..*r
                },
            );
        }
        let removed: Vec<Region> = old
            .iter()
            .filter_map(|r| {
                let (s, e) = (r.start.max(start), r.end().min(end));
                (s < e).then(|| Region {
                    start: s,
                    len: e - s,
                    ..*r
                })
            })
            .collect();

        let count = self.regions.len() - old.len() + new.len();
        if count > self.layout.max_regions {
            return Err(VmError::TooManyRegions {
                limit: self.layout.max_regions,
            });
        }
        for r in &old {
            self.regions.remove(&r.start);
        }
        for r in new {
            self.regions.insert(r.start, r);
        }
        Ok(removed)
    }
}

/// Appends `r` to a sorted list, merging it into the last region when they
/// touch and have the same attributes.
fn push_merged(list: &mut Vec<Region>, r: Region) {
    if let Some(last) = list.last_mut()
        && last.end() == r.start
        && last.prot == r.prot
        && last.kind == r.kind
    {
        last.len += r.len;
        return;
    }
    list.push(r);
}

fn check_prot(prot: Prot) -> Result<(), VmError> {
    if prot.is_wx() {
        Err(VmError::WriteExecute)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_register_values_stop_below_the_canonical_end() {
        use super::user_register_ok;
        for ok in [0, 0x1000, 0x7fff_ffff_efff, 0x7fff_ffff_f000] {
            assert!(user_register_ok(ok), "{ok:#x}");
        }
        for bad in [
            0x7fff_ffff_f001,
            0x7fff_ffff_ffff,
            0x0000_8000_0000_0000,
            0xffff_8000_0000_0000,
            u64::MAX,
        ] {
            assert!(!user_register_ok(bad), "{bad:#x}");
        }
    }

    use super::*;

    const P: u64 = PAGE_SIZE;

    fn anon(vm: &mut VmSpace, at: u64, pages: u64, prot: Prot) {
        assert_eq!(
            vm.reserve(Placement::Fixed(at), pages * P, prot, Kind::Anonymous),
            Ok(at)
        );
    }

    fn snapshot(vm: &VmSpace) -> Vec<(u64, u64, Prot, Kind)> {
        vm.regions()
            .map(|r| (r.start, r.len, r.prot, r.kind))
            .collect()
    }

    /// The invariants of the module documentation.
    fn check_invariants(vm: &VmSpace) {
        let l = vm.layout();
        let mut prev: Option<Region> = None;
        assert!(vm.region_count() <= l.max_regions);
        for (&key, r) in &vm.regions {
            assert_eq!(key, r.start);
            assert!(r.len > 0 && is_aligned(r.start) && is_aligned(r.len));
            assert!(r.start >= l.start && r.end() <= l.end);
            assert!(!r.prot.is_wx());
            if r.kind == Kind::Guard {
                assert_eq!(r.prot, Prot::NONE);
            }
            if let Some(p) = prev {
                assert!(p.end() <= r.start, "overlap {p:?} {r:?}");
                assert!(
                    !(p.end() == r.start && p.prot == r.prot && p.kind == r.kind),
                    "unmerged {p:?} {r:?}"
                );
            }
            prev = Some(*r);
        }
    }

    #[test]
    fn prot_bits_flags_and_display() {
        assert_eq!(Prot::from_bits(0), Some(Prot::NONE));
        assert_eq!(Prot::from_bits(5), Some(Prot::RX));
        assert_eq!(Prot::from_bits(8), None);
        assert_eq!(Prot::from_bits(u64::MAX), None);
        assert!((Prot::WRITE | Prot::EXEC).is_wx());
        assert!(!Prot::RW.is_wx());
        assert_eq!(Prot::NONE.page_flags(), None);
        let rw = Prot::RW.page_flags().unwrap();
        assert!(rw.contains(Flags::PRESENT | Flags::USER | Flags::WRITABLE | Flags::NO_EXECUTE));
        let rx = Prot::RX.page_flags().unwrap();
        assert!(!rx.contains(Flags::WRITABLE) && !rx.contains(Flags::NO_EXECUTE));
        assert!(!rx.is_wx() && !rw.is_wx());
        assert_eq!(format!("{}", Prot::RX), "r-x");
        assert_eq!(format!("{:?}", Prot::RW), "Prot(rw-)");
        // The hardware makes every present page readable.
        assert!(Prot::EXEC.allows(Access::Read));
        assert!(Prot::WRITE.allows(Access::Read));
        assert!(!Prot::NONE.allows(Access::Read));
        assert!(!Prot::READ.allows(Access::Write));
        assert!(!Prot::RW.allows(Access::Exec));
    }

    #[test]
    fn layout_validation() {
        let ok = Layout {
            start: 0x1000,
            end: 0x10_0000,
            mmap_base: 0x8000,
            max_regions: 4,
        };
        assert!(VmSpace::with_layout(ok).is_ok());
        for bad in [
            Layout { start: 0, ..ok },
            Layout {
                start: 0x1001,
                ..ok
            },
            Layout { end: 0x1000, ..ok },
            Layout {
                mmap_base: 0x20_0000,
                ..ok
            },
            Layout {
                mmap_base: 0x8001,
                ..ok
            },
            Layout {
                max_regions: 0,
                ..ok
            },
        ] {
            assert_eq!(VmSpace::with_layout(bad).err(), Some(VmError::BadLayout));
        }
        let mut vm = VmSpace::with_layout(ok).unwrap();
        assert_eq!(vm.set_mmap_base(0x3001), Err(VmError::Misaligned(0x3001)));
        assert!(vm.set_mmap_base(0x20_0000).is_err());
        assert_eq!(vm.set_mmap_base(0x3000), Ok(()));
        assert_eq!(vm.layout().mmap_base, 0x3000);
    }

    #[test]
    fn argument_validation() {
        let mut vm = VmSpace::new();
        let a = Kind::Anonymous;
        assert_eq!(
            vm.reserve(Placement::Anywhere, 0, Prot::RW, a),
            Err(VmError::ZeroLength)
        );
        assert_eq!(
            vm.reserve(Placement::Anywhere, 100, Prot::RW, a),
            Err(VmError::Misaligned(100))
        );
        assert_eq!(
            vm.reserve(Placement::Fixed(0x1234), P, Prot::RW, a),
            Err(VmError::Misaligned(0x1234))
        );
        assert_eq!(
            vm.reserve(Placement::Hint(0x1234), P, Prot::RW, a),
            Err(VmError::Misaligned(0x1234))
        );
        // Page 0, the top page and beyond, wrap-around.
        for (start, len) in [
            (0, P),
            (USER_END, P),
            (USER_END - P, 2 * P),
            (0xffff_ffff_ffff_f000, P),
            (0x1000, 0xffff_ffff_ffff_f000),
        ] {
            assert_eq!(
                vm.reserve(Placement::Fixed(start), len, Prot::RW, a),
                Err(VmError::OutOfRange { start, len })
            );
        }
        assert_eq!(
            vm.reserve(Placement::Anywhere, USER_END, Prot::RW, a),
            Err(VmError::NoSpace { len: USER_END })
        );
        assert_eq!(
            vm.reserve(Placement::Anywhere, P, Prot::WRITE | Prot::EXEC, a),
            Err(VmError::WriteExecute)
        );
        assert_eq!(
            vm.reserve(Placement::Anywhere, P, Prot::READ, Kind::Guard),
            Err(VmError::GuardWithAccess(Prot::READ))
        );
        assert_eq!(vm.protect(0x1000, 0, Prot::READ), Err(VmError::ZeroLength));
        assert_eq!(vm.unmap(0x1000, 0x800), Err(VmError::Misaligned(0x800)));
        assert_eq!(
            vm.unmap(u64::MAX - 0xfff, P),
            Err(VmError::OutOfRange {
                start: u64::MAX - 0xfff,
                len: P
            })
        );
        assert_eq!(vm.region_count(), 0);
        // The whole user range can be reserved at once.
        assert_eq!(
            vm.reserve(Placement::Anywhere, USER_END - USER_START, Prot::NONE, a),
            Ok(USER_START)
        );
        check_invariants(&vm);
    }

    #[test]
    fn overlapping_fixed_reserve_fails_and_neighbours_merge() {
        let mut vm = VmSpace::new();
        anon(&mut vm, 0x10000, 4, Prot::RW);
        for (at, pages) in [(0x10000, 1), (0xf000, 2), (0x13000, 1), (0x8000, 32)] {
            assert_eq!(
                vm.reserve(Placement::Fixed(at), pages * P, Prot::RW, Kind::Anonymous),
                Err(VmError::Occupied {
                    start: at,
                    len: pages * P
                })
            );
        }
        // Touching on both sides with equal attributes: one region.
        anon(&mut vm, 0xe000, 2, Prot::RW);
        anon(&mut vm, 0x14000, 1, Prot::RW);
        assert_eq!(snapshot(&vm), [(0xe000, 7 * P, Prot::RW, Kind::Anonymous)]);
        // Different attributes stay separate.
        anon(&mut vm, 0x15000, 1, Prot::READ);
        assert_eq!(vm.region_count(), 2);
        check_invariants(&vm);
    }

    #[test]
    fn placement_top_down_then_bottom_up() {
        let layout = Layout {
            start: 0x1000,
            end: 0x20000,
            mmap_base: 0x10000,
            max_regions: 64,
        };
        let mut vm = VmSpace::with_layout(layout).unwrap();
        let a = Kind::Anonymous;
        assert_eq!(
            vm.reserve(Placement::Anywhere, 2 * P, Prot::RW, a),
            Ok(0xe000)
        );
        assert_eq!(
            vm.reserve(Placement::Anywhere, P, Prot::READ, a),
            Ok(0xd000)
        );
        // A hole of one page at 0xc000 is skipped by a two-page request.
        anon(&mut vm, 0xb000, 1, Prot::RX);
        assert_eq!(
            vm.reserve(Placement::Anywhere, 2 * P, Prot::RW, a),
            Ok(0x9000)
        );
        assert_eq!(vm.reserve(Placement::Anywhere, P, Prot::RW, a), Ok(0xc000));
        // A free hint is honoured, an occupied one falls back.
        assert_eq!(
            vm.reserve(Placement::Hint(0x18000), P, Prot::RW, a),
            Ok(0x18000)
        );
        assert_eq!(
            vm.reserve(Placement::Hint(0xe000), P, Prot::RW, a),
            Ok(0x8000)
        );
        assert_eq!(
            vm.reserve(Placement::Hint(0x7fff_0000), P, Prot::RW, a),
            Ok(0x7000)
        );
        // Below mmap_base full: bottom-up above it.
        assert_eq!(
            vm.reserve(Placement::Anywhere, 7 * P, Prot::RW, a),
            Ok(0x10000)
        );
        assert_eq!(
            vm.reserve(Placement::Anywhere, 6 * P, Prot::RW, a),
            Ok(0x1000)
        );
        assert_eq!(vm.reserve(Placement::Anywhere, P, Prot::RW, a), Ok(0x17000));
        assert_eq!(
            vm.reserve(Placement::Anywhere, 7 * P, Prot::RW, a),
            Ok(0x19000)
        );
        assert_eq!(
            vm.reserve(Placement::Anywhere, P, Prot::RW, a),
            Err(VmError::NoSpace { len: P })
        );
        check_invariants(&vm);
    }

    #[test]
    fn protect_splits_in_the_middle_and_merges_back() {
        let mut vm = VmSpace::new();
        anon(&mut vm, 0x40_0000, 8, Prot::RW);
        vm.protect(0x40_3000, 2 * P, Prot::READ).unwrap();
        assert_eq!(
            snapshot(&vm),
            [
                (0x40_0000, 3 * P, Prot::RW, Kind::Anonymous),
                (0x40_3000, 2 * P, Prot::READ, Kind::Anonymous),
                (0x40_5000, 3 * P, Prot::RW, Kind::Anonymous),
            ]
        );
        assert_eq!(vm.lookup(0x40_4fff).unwrap().prot, Prot::READ);
        assert_eq!(vm.lookup(0x40_5000).unwrap().prot, Prot::RW);
        // W^X refused, nothing changed.
        assert_eq!(
            vm.protect(0x40_0000, P, Prot::WRITE | Prot::EXEC),
            Err(VmError::WriteExecute)
        );
        // Read-only to executable is fine (W^X is per page, not history).
        vm.protect(0x40_3000, P, Prot::RX).unwrap();
        assert_eq!(vm.region_count(), 4);
        vm.protect(0x40_0000, 8 * P, Prot::RW).unwrap();
        assert_eq!(
            snapshot(&vm),
            [(0x40_0000, 8 * P, Prot::RW, Kind::Anonymous)]
        );
        check_invariants(&vm);
    }

    #[test]
    fn protect_needs_full_coverage_and_no_guard() {
        let mut vm = VmSpace::new();
        anon(&mut vm, 0x10000, 2, Prot::RW);
        anon(&mut vm, 0x13000, 2, Prot::RW);
        vm.reserve(Placement::Fixed(0x20000), P, Prot::NONE, Kind::Guard)
            .unwrap();
        anon(&mut vm, 0x21000, 2, Prot::RW);
        let before = snapshot(&vm);
        assert_eq!(
            vm.protect(0x10000, 5 * P, Prot::READ),
            Err(VmError::NotMapped { addr: 0x12000 })
        );
        assert_eq!(
            vm.protect(0xf000, 2 * P, Prot::READ),
            Err(VmError::NotMapped { addr: 0xf000 })
        );
        assert_eq!(
            vm.protect(0x14000, 2 * P, Prot::READ),
            Err(VmError::NotMapped { addr: 0x15000 })
        );
        assert_eq!(
            vm.protect(0x20000, 3 * P, Prot::READ),
            Err(VmError::GuardRegion { addr: 0x20000 })
        );
        assert_eq!(
            vm.protect(0x30000, P, Prot::READ),
            Err(VmError::NotMapped { addr: 0x30000 })
        );
        assert_eq!(snapshot(&vm), before);
        // Over two adjacent regions of different protection.
        vm.protect(0x13000, P, Prot::READ).unwrap();
        vm.protect(0x13000, 2 * P, Prot::NONE).unwrap();
        assert_eq!(vm.lookup(0x14000).unwrap().len, 2 * P);
        check_invariants(&vm);
    }

    #[test]
    fn unmap_splits_and_reports_removed_pieces() {
        let mut vm = VmSpace::new();
        anon(&mut vm, 0x10000, 8, Prot::RW);
        anon(&mut vm, 0x18000, 2, Prot::READ);
        vm.reserve(Placement::Fixed(0x30000), P, Prot::NONE, Kind::Guard)
            .unwrap();
        let removed = vm.unmap(0x12000, 2 * P).unwrap();
        assert_eq!(
            removed,
            [Region {
                start: 0x12000,
                len: 2 * P,
                prot: Prot::RW,
                kind: Kind::Anonymous
            }]
        );
        assert_eq!(
            snapshot(&vm),
            [
                (0x10000, 2 * P, Prot::RW, Kind::Anonymous),
                (0x14000, 4 * P, Prot::RW, Kind::Anonymous),
                (0x18000, 2 * P, Prot::READ, Kind::Anonymous),
                (0x30000, P, Prot::NONE, Kind::Guard),
            ]
        );
        // Across a hole and two regions; the hole contributes nothing.
        let removed = vm.unmap(0x11000, 0x8000).unwrap();
        let pieces: Vec<_> = removed.iter().map(|r| (r.start, r.len, r.prot)).collect();
        assert_eq!(
            pieces,
            [
                (0x11000, P, Prot::RW),
                (0x14000, 4 * P, Prot::RW),
                (0x18000, P, Prot::READ)
            ]
        );
        assert_eq!(vm.unmap(0x50000, 16 * P).unwrap(), []);
        // Guard pieces are reported with their kind.
        let removed = vm.unmap(0x30000, P).unwrap();
        assert_eq!(removed[0].kind, Kind::Guard);
        assert!(vm.lookup(0x11000).is_none());
        assert_eq!(vm.lookup(0x10fff).unwrap().start, 0x10000);
        check_invariants(&vm);
    }

    #[test]
    fn faults_follow_regions() {
        let mut vm = VmSpace::new();
        let stack_top = 0x7fff_0000_0000;
        let stack = stack_top - 16 * P;
        vm.reserve(Placement::Fixed(stack - P), P, Prot::NONE, Kind::Guard)
            .unwrap();
        anon(&mut vm, stack, 16, Prot::RW);
        anon(&mut vm, 0x40_0000, 1, Prot::RX);
        anon(&mut vm, 0x40_1000, 1, Prot::NONE);
        assert_eq!(
            vm.fault_allowed(stack - 8, Access::Write),
            Err(FaultError::Guard { addr: stack - 8 })
        );
        assert_eq!(
            vm.fault_allowed(stack_top - 8, Access::Write)
                .unwrap()
                .start,
            stack
        );
        assert_eq!(
            vm.fault_allowed(stack, Access::Exec),
            Err(FaultError::Denied {
                addr: stack,
                access: Access::Exec,
                prot: Prot::RW
            })
        );
        assert!(vm.fault_allowed(0x40_0010, Access::Exec).is_ok());
        assert!(vm.fault_allowed(0x40_0010, Access::Read).is_ok());
        assert!(matches!(
            vm.fault_allowed(0x40_0010, Access::Write),
            Err(FaultError::Denied { .. })
        ));
        assert!(matches!(
            vm.fault_allowed(0x40_1000, Access::Read),
            Err(FaultError::Denied { .. })
        ));
        for addr in [
            0,
            0xfff,
            stack_top,
            USER_END,
            0xffff_8000_0000_0000,
            u64::MAX,
        ] {
            assert_eq!(
                vm.fault_allowed(addr, Access::Read),
                Err(FaultError::Unmapped { addr })
            );
        }
        let msg = format!("{}", vm.fault_allowed(stack, Access::Exec).unwrap_err());
        assert!(msg.contains("execute") && msg.contains("rw-"), "{msg}");
    }

    #[test]
    fn check_range_for_user_copies() {
        let mut vm = VmSpace::new();
        anon(&mut vm, 0x10000, 2, Prot::RW);
        anon(&mut vm, 0x12000, 1, Prot::READ);
        anon(&mut vm, 0x14000, 1, Prot::RW);
        assert_eq!(vm.check_range(0x10ff0, 0x2010, Access::Read), Ok(()));
        assert_eq!(
            vm.check_range(0x10ff0, 0x2010, Access::Write),
            Err(FaultError::Denied {
                addr: 0x12000,
                access: Access::Write,
                prot: Prot::READ
            })
        );
        assert_eq!(
            vm.check_range(0x12800, 0x1801, Access::Read),
            Err(FaultError::Unmapped { addr: 0x13000 })
        );
        assert_eq!(vm.check_range(0x12800, 0x800, Access::Read), Ok(()));
        assert_eq!(vm.check_range(0, 0, Access::Write), Ok(()));
        assert_eq!(
            vm.check_range(0x14ff8, u64::MAX, Access::Read),
            Err(FaultError::Unmapped { addr: 0x15000 })
        );
        assert_eq!(
            vm.check_range(u64::MAX, 2, Access::Read),
            Err(FaultError::Unmapped { addr: u64::MAX })
        );
    }

    #[test]
    fn region_limit_is_an_error_and_changes_nothing() {
        let layout = Layout {
            max_regions: 3,
            ..Layout::default()
        };
        let mut vm = VmSpace::with_layout(layout).unwrap();
        anon(&mut vm, 0x10000, 8, Prot::RW);
        anon(&mut vm, 0x20000, 1, Prot::RW);
        let before = snapshot(&vm);
        // Splitting one region into three needs four in all.
        assert_eq!(
            vm.protect(0x12000, P, Prot::READ),
            Err(VmError::TooManyRegions { limit: 3 })
        );
        assert_eq!(snapshot(&vm), before);
        // Unmapping in the middle needs one more: fits.
        assert_eq!(vm.unmap(0x12000, P).unwrap().len(), 1);
        let before = snapshot(&vm);
        assert_eq!(
            vm.unmap(0x14000, P),
            Err(VmError::TooManyRegions { limit: 3 })
        );
        assert_eq!(
            vm.protect(0x13000, P, Prot::READ),
            Err(VmError::TooManyRegions { limit: 3 })
        );
        assert_eq!(
            vm.reserve(Placement::Anywhere, P, Prot::RW, Kind::Anonymous),
            Err(VmError::TooManyRegions { limit: 3 })
        );
        assert_eq!(snapshot(&vm), before);
        // A reservation that merges into a neighbour needs none.
        anon(&mut vm, 0x21000, 1, Prot::RW);
        assert_eq!(vm.region_count(), 3);
        // Removing a region makes room again.
        vm.unmap(0x10000, 2 * P).unwrap();
        vm.protect(0x13000, P, Prot::READ).unwrap();
        assert_eq!(vm.region_count(), 3);
        check_invariants(&vm);
    }

    #[test]
    fn error_messages() {
        let all = [
            VmError::Misaligned(1),
            VmError::ZeroLength,
            VmError::OutOfRange { start: 0, len: 1 },
            VmError::WriteExecute,
            VmError::GuardWithAccess(Prot::RW),
            VmError::Occupied { start: 0, len: 1 },
            VmError::NoSpace { len: 1 },
            VmError::NotMapped { addr: 1 },
            VmError::GuardRegion { addr: 1 },
            VmError::TooManyRegions { limit: 1 },
            VmError::BadLayout,
        ];
        for e in all {
            assert!(!format!("{e}").is_empty());
        }
        assert_eq!(
            format!("{}", VmError::WriteExecute),
            "writable and executable at once (W^X)"
        );
    }

    /// Deterministic xorshift64* generator for the model test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The reference: one slot per page of the layout.
    struct Model {
        base: u64,
        pages: Vec<Option<(Prot, Kind)>>,
        mmap_base: u64,
        max_regions: usize,
    }

    impl Model {
        fn end(&self) -> u64 {
            self.base + self.pages.len() as u64 * P
        }
        fn idx(&self, addr: u64) -> usize {
            ((addr - self.base) / P) as usize
        }
        fn in_range(&self, start: u64, len: u64) -> bool {
            start.is_multiple_of(P)
                && start >= self.base
                && start.checked_add(len).is_some_and(|e| e <= self.end())
        }
        fn free(&self, start: u64, len: u64) -> bool {
            let i = self.idx(start);
            self.pages[i..i + (len / P) as usize]
                .iter()
                .all(Option::is_none)
        }
        /// Regions the map must hold: maximal runs of equal pages.
        fn regions(pages: &[Option<(Prot, Kind)>], base: u64) -> Vec<(u64, u64, Prot, Kind)> {
            let mut out: Vec<(u64, u64, Prot, Kind)> = Vec::new();
            for (i, p) in pages.iter().enumerate() {
                let Some((prot, kind)) = *p else { continue };
                let addr = base + i as u64 * P;
                match out.last_mut() {
                    Some(l) if l.0 + l.1 == addr && l.2 == prot && l.3 == kind => l.1 += P,
                    _ => out.push((addr, P, prot, kind)),
                }
            }
            out
        }
        fn commit(&mut self, new: Vec<Option<(Prot, Kind)>>) -> Result<(), VmError> {
            if Self::regions(&new, self.base).len() > self.max_regions {
                return Err(VmError::TooManyRegions {
                    limit: self.max_regions,
                });
            }
            self.pages = new;
            Ok(())
        }
        fn set(&mut self, start: u64, len: u64, v: Option<(Prot, Kind)>) -> Result<(), VmError> {
            let mut new = self.pages.clone();
            let i = self.idx(start);
            for p in &mut new[i..i + (len / P) as usize] {
                *p = v;
            }
            self.commit(new)
        }
        fn find(&self, len: u64) -> Option<u64> {
            let mut s = self.mmap_base.checked_sub(len)?;
            while s >= self.base {
                if self.free(s, len) {
                    return Some(s);
                }
                s = s.checked_sub(P)?;
            }
            None
        }
        fn find_up(&self, len: u64) -> Option<u64> {
            let mut s = self.mmap_base;
            while s + len <= self.end() {
                if self.free(s, len) {
                    return Some(s);
                }
                s += P;
            }
            None
        }
        fn reserve(
            &mut self,
            pl: Placement,
            len: u64,
            prot: Prot,
            kind: Kind,
        ) -> Result<u64, VmError> {
            if len == 0 {
                return Err(VmError::ZeroLength);
            }
            if !len.is_multiple_of(P) {
                return Err(VmError::Misaligned(len));
            }
            if prot.is_wx() {
                return Err(VmError::WriteExecute);
            }
            if kind == Kind::Guard && !prot.is_none() {
                return Err(VmError::GuardWithAccess(prot));
            }
            let anywhere = |m: &Self| {
                m.find(len)
                    .or_else(|| m.find_up(len))
                    .ok_or(VmError::NoSpace { len })
            };
            let start = match pl {
                Placement::Fixed(a) => {
                    if a % P != 0 {
                        return Err(VmError::Misaligned(a));
                    }
                    if !self.in_range(a, len) {
                        return Err(VmError::OutOfRange { start: a, len });
                    }
                    if !self.free(a, len) {
                        return Err(VmError::Occupied { start: a, len });
                    }
                    a
                }
                Placement::Hint(a) => {
                    if a % P != 0 {
                        return Err(VmError::Misaligned(a));
                    }
                    if self.in_range(a, len) && self.free(a, len) {
                        a
                    } else {
                        anywhere(self)?
                    }
                }
                Placement::Anywhere => anywhere(self)?,
            };
            self.set(start, len, Some((prot, kind)))?;
            Ok(start)
        }
        fn check_args(&self, start: u64, len: u64) -> Result<(), VmError> {
            if len == 0 {
                return Err(VmError::ZeroLength);
            }
            if !len.is_multiple_of(P) {
                return Err(VmError::Misaligned(len));
            }
            if !start.is_multiple_of(P) {
                return Err(VmError::Misaligned(start));
            }
            if !self.in_range(start, len) {
                return Err(VmError::OutOfRange { start, len });
            }
            Ok(())
        }
        fn protect(&mut self, start: u64, len: u64, prot: Prot) -> Result<(), VmError> {
            self.check_args(start, len)?;
            if prot.is_wx() {
                return Err(VmError::WriteExecute);
            }
            // First problem in address order, reported at the region's
            // first page inside the range.
            for a in (start..start + len).step_by(P as usize) {
                match self.pages[self.idx(a)] {
                    None => return Err(VmError::NotMapped { addr: a }),
                    Some((_, Kind::Guard)) => return Err(VmError::GuardRegion { addr: a }),
                    _ => {}
                }
            }
            self.set(start, len, Some((prot, Kind::Anonymous)))
        }
        fn unmap(&mut self, start: u64, len: u64) -> Result<Vec<(u64, u64, Prot, Kind)>, VmError> {
            self.check_args(start, len)?;
            let i = self.idx(start);
            let n = (len / P) as usize;
            let removed = Self::regions(&self.pages[i..i + n], start);
            self.set(start, len, None)?;
            Ok(removed)
        }
        fn fault(&self, addr: u64, access: Access) -> Result<(), FaultError> {
            if addr < self.base || addr >= self.end() {
                return Err(FaultError::Unmapped { addr });
            }
            match self.pages[self.idx(addr - addr % P)] {
                None => Err(FaultError::Unmapped { addr }),
                Some((_, Kind::Guard)) => Err(FaultError::Guard { addr }),
                Some((prot, _)) => {
                    // Independent of `Prot::allows`: x86 pages are
                    // readable whenever present.
                    let ok = match access {
                        Access::Read => prot.bits() != 0,
                        Access::Write => prot.bits() & 2 != 0,
                        Access::Exec => prot.bits() & 4 != 0,
                    };
                    if ok {
                        Ok(())
                    } else {
                        Err(FaultError::Denied { addr, access, prot })
                    }
                }
            }
        }
    }

    fn random_prot(rng: &mut Rng) -> Prot {
        Prot::from_bits(rng.below(8)).unwrap()
    }

    /// A length: mostly small page multiples, sometimes zero or misaligned.
    fn random_len(rng: &mut Rng) -> u64 {
        match rng.below(20) {
            0 => 0,
            1 => 1 + rng.below(P - 1),
            2 => P * 40,
            _ => P * (1 + rng.below(6)),
        }
    }

    /// An address: mostly pages of the window, sometimes just outside it
    /// or misaligned.
    fn random_addr(rng: &mut Rng, m: &Model) -> u64 {
        match rng.below(25) {
            0 => m.base - P,
            1 => m.end(),
            2 => m.base + rng.below(m.pages.len() as u64 * P),
            _ => m.base + rng.below(m.pages.len() as u64) * P,
        }
    }

    #[test]
    fn randomized_against_page_model() {
        const PAGES: u64 = 48;
        let mut ops = 0;
        for seed in 1..=60u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let base = 0x40_0000;
            let mmap_base = base + rng.below(PAGES + 1) * P;
            let max_regions = 2 + rng.below(12) as usize;
            let layout = Layout {
                start: base,
                end: base + PAGES * P,
                mmap_base,
                max_regions,
            };
            let mut vm = VmSpace::with_layout(layout).unwrap();
            let mut model = Model {
                base,
                pages: vec![None; PAGES as usize],
                mmap_base,
                max_regions,
            };
            for step in 0..400 {
                ops += 1;
                let ctx = format!("seed {seed} step {step}");
                match rng.below(10) {
                    0..=3 => {
                        let len = random_len(&mut rng);
                        let prot = random_prot(&mut rng);
                        let kind = if rng.below(5) == 0 {
                            Kind::Guard
                        } else {
                            Kind::Anonymous
                        };
                        let prot = if kind == Kind::Guard && rng.below(3) != 0 {
                            Prot::NONE
                        } else {
                            prot
                        };
                        let pl = match rng.below(3) {
                            0 => Placement::Fixed(random_addr(&mut rng, &model)),
                            1 => Placement::Hint(random_addr(&mut rng, &model)),
                            _ => Placement::Anywhere,
                        };
                        let want = model.reserve(pl, len, prot, kind);
                        assert_eq!(
                            vm.reserve(pl, len, prot, kind),
                            want,
                            "{ctx}: reserve {pl:?} {len:#x} {prot} {kind:?}"
                        );
                    }
                    4..=6 => {
                        let (start, len, prot) = (
                            random_addr(&mut rng, &model),
                            random_len(&mut rng),
                            random_prot(&mut rng),
                        );
                        let want = model.protect(start, len, prot);
                        assert_eq!(
                            vm.protect(start, len, prot),
                            want,
                            "{ctx}: protect {start:#x} {len:#x} {prot}"
                        );
                    }
                    _ => {
                        let (start, len) = (random_addr(&mut rng, &model), random_len(&mut rng));
                        let want = model.unmap(start, len);
                        let got = vm.unmap(start, len).map(|v| {
                            v.iter()
                                .map(|r| (r.start, r.len, r.prot, r.kind))
                                .collect::<Vec<_>>()
                        });
                        assert_eq!(got, want, "{ctx}: unmap {start:#x} {len:#x}");
                    }
                }
                check_invariants(&vm);
                assert_eq!(snapshot(&vm), Model::regions(&model.pages, base), "{ctx}");
                for _ in 0..4 {
                    let addr = random_addr(&mut rng, &model);
                    let access = [Access::Read, Access::Write, Access::Exec][rng.below(3) as usize];
                    assert_eq!(
                        vm.fault_allowed(addr, access).map(|_| ()),
                        model.fault(addr, access),
                        "{ctx}: fault {addr:#x} {access}"
                    );
                }
            }
        }
        assert_eq!(ops, 60 * 400);
    }

    #[test]
    fn protect_keeps_shared_kind_and_refuses_mixed_ranges() {
        let mut vm = VmSpace::new();
        vm.reserve(Placement::Fixed(0x10000), 2 * P, Prot::RW, Kind::Shared(7))
            .unwrap();
        vm.reserve(Placement::Fixed(0x12000), P, Prot::RW, Kind::Anonymous)
            .unwrap();
        vm.protect(0x10000, P, Prot::READ).unwrap();
        assert_eq!(vm.lookup(0x10000).unwrap().kind, Kind::Shared(7));
        assert_eq!(vm.lookup(0x11000).unwrap().kind, Kind::Shared(7));
        assert_eq!(
            vm.protect(0x10000, 3 * P, Prot::READ),
            Err(VmError::MixedKinds { addr: 0x12000 })
        );
    }
}
