//! Reading the PVH boot information (`struct hvm_start_info`, Xen's
//! `arch-x86/hvm/start_info.h`) that a PVH loader such as QEMU `-kernel`
//! leaves in memory for us.
//!
//! Everything is read through [`PhysRead`], which refuses addresses it
//! cannot reach, and validated before use: the loader is trusted to follow
//! the format, not to be free of bugs, and a bad module list must be
//! reported rather than dereferenced.

use super::{BootInfo, Module, ModuleProblem};
use crate::mm::PhysRange;
use crate::mm::memmap::{Region, RegionKind};

/// `hvm_start_info.magic`: "xEn3" with the top bit of the last byte cleared.
pub const MAGIC: u32 = 0x336e_c578;
/// Size of `hvm_start_info` version 1 (the first with a memory map).
const START_INFO_SIZE: usize = 56;
const MODLIST_ENTRY_SIZE: usize = 32;
const MEMMAP_ENTRY_SIZE: usize = 24;

/// A physical range [`PhysRead`] cannot reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreachable;

/// Reads physical memory during boot.
pub trait PhysRead {
    /// Fills `buf` from physical address `phys`; fails if any byte of the
    /// range is out of reach.
    fn read(&self, phys: u64, buf: &mut [u8]) -> Result<(), Unreachable>;
}

/// Why the start info cannot be used at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    Unreadable(u64),
    BadMagic(u32),
    /// Version 0 has no memory map; we do not guess one.
    NoMemoryMap {
        version: u32,
    },
    EmptyMemoryMap,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Unreadable(a) => write!(f, "start info unreadable at {a:#x}"),
            Error::BadMagic(m) => write!(f, "bad start info magic {m:#x} (expected {MAGIC:#x})"),
            Error::NoMemoryMap { version } => {
                write!(f, "start info version {version} has no memory map")
            }
            Error::EmptyMemoryMap => write!(f, "memory map has no usable entry"),
        }
    }
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// Parses the start info at `phys`. `kernel` is the physical range of the
/// kernel image: a module overlapping it is rejected.
pub fn parse(mem: &impl PhysRead, phys: u64, kernel: PhysRange) -> Result<BootInfo, Error> {
    let mut si = [0u8; START_INFO_SIZE];
    mem.read(phys, &mut si[..8])
        .map_err(|_| Error::Unreadable(phys))?;
    let magic = u32_at(&si, 0);
    if magic != MAGIC {
        return Err(Error::BadMagic(magic));
    }
    let version = u32_at(&si, 4);
    if version < 1 {
        return Err(Error::NoMemoryMap { version });
    }
    mem.read(phys, &mut si)
        .map_err(|_| Error::Unreadable(phys))?;
    let nr_modules = u32_at(&si, 12);
    let modlist = u64_at(&si, 16);
    let cmdline = u64_at(&si, 24);
    let rsdp = u64_at(&si, 32);
    let memmap = u64_at(&si, 40);
    let memmap_entries = u32_at(&si, 48);

    let mut info = BootInfo {
        start_info: PhysRange::from_len(phys, START_INFO_SIZE as u64)
            .ok_or(Error::Unreadable(phys))?,
        rsdp: (rsdp != 0).then_some(rsdp),
        ..BootInfo::default()
    };

    for i in 0..memmap_entries as usize {
        let mut e = [0u8; MEMMAP_ENTRY_SIZE];
        let at = memmap.wrapping_add((i * MEMMAP_ENTRY_SIZE) as u64);
        mem.read(at, &mut e).map_err(|_| Error::Unreadable(at))?;
        let Some(range) = PhysRange::from_len(u64_at(&e, 0), u64_at(&e, 8)) else {
            continue; // wraps around: not a real region
        };
        let region = Region {
            range,
            kind: RegionKind::from_e820(u32_at(&e, 16)),
        };
        if info.regions.try_push(region).is_err() {
            info.regions_truncated = true;
            break;
        }
    }
    if !info
        .regions
        .iter()
        .any(|r| r.kind == RegionKind::Usable && !r.range.is_empty())
    {
        return Err(Error::EmptyMemoryMap);
    }

    if cmdline != 0 {
        read_cmdline(mem, cmdline, &mut info);
    }
    read_modules(mem, nr_modules, modlist, kernel, &mut info);
    Ok(info)
}

/// Copies the NUL-terminated command line; invalid UTF-8 or an unreadable
/// string leaves it empty and flagged, longer lines are cut and flagged.
fn read_cmdline(mem: &impl PhysRead, at: u64, info: &mut BootInfo) {
    let mut buf = [0u8; super::CMDLINE_MAX];
    let mut len = 0;
    while len < buf.len() {
        let mut byte = [0u8];
        if mem.read(at.wrapping_add(len as u64), &mut byte).is_err() {
            info.cmdline_invalid = true;
            return;
        }
        if byte[0] == 0 {
            break;
        }
        buf[len] = byte[0];
        len += 1;
    }
    info.cmdline_truncated = len == buf.len();
    match core::str::from_utf8(&buf[..len]) {
        Ok(s) => info.cmdline.push_str(s),
        Err(_) => info.cmdline_invalid = true,
    }
}

fn read_modules(mem: &impl PhysRead, nr: u32, list: u64, kernel: PhysRange, info: &mut BootInfo) {
    if nr == 0 {
        return;
    }
    if list == 0 {
        let _ = info
            .module_problems
            .try_push((0, ModuleProblem::MissingList));
        return;
    }
    let ram = crate::mm::memmap::RangeSet::usable_ram(&info.regions);
    for i in 0..nr as usize {
        if i == super::MAX_MODULES {
            let _ = info
                .module_problems
                .try_push((i, ModuleProblem::TooMany(nr)));
            break;
        }
        let mut e = [0u8; MODLIST_ENTRY_SIZE];
        let at = list.wrapping_add((i * MODLIST_ENTRY_SIZE) as u64);
        let problem = if mem.read(at, &mut e).is_err() {
            Some(ModuleProblem::EntryUnreadable(at))
        } else {
            let (start, size) = (u64_at(&e, 0), u64_at(&e, 8));
            match PhysRange::from_len(start, size) {
                _ if size == 0 => Some(ModuleProblem::Empty),
                None => Some(ModuleProblem::Wraps),
                Some(r) if r.overlaps(&kernel) => Some(ModuleProblem::OverlapsKernel(r)),
                Some(r) if !in_ram(&ram, r) => Some(ModuleProblem::OutsideRam(r)),
                Some(range) => {
                    let _ = info.modules.try_push(Module { index: i, range });
                    None
                }
            }
        };
        if let Some(p) = problem {
            let _ = info.module_problems.try_push((i, p));
        }
    }
}

/// A module lies in RAM if every page it touches is usable RAM.
fn in_ram(ram: &crate::mm::memmap::RangeSet, r: PhysRange) -> bool {
    use crate::mm::{PAGE_SIZE, align_down, align_up};
    match align_up(r.end, PAGE_SIZE) {
        Some(end) => ram.contains(PhysRange::new(align_down(r.start, PAGE_SIZE), end)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Sparse fake physical memory: only written bytes are readable.
    #[derive(Default)]
    struct Mem(BTreeMap<u64, u8>);

    impl Mem {
        fn put(&mut self, at: u64, bytes: &[u8]) {
            for (i, b) in bytes.iter().enumerate() {
                self.0.insert(at + i as u64, *b);
            }
        }
        fn put_u32(&mut self, at: u64, v: u32) {
            self.put(at, &v.to_le_bytes());
        }
        fn put_u64(&mut self, at: u64, v: u64) {
            self.put(at, &v.to_le_bytes());
        }
    }

    impl PhysRead for Mem {
        fn read(&self, phys: u64, buf: &mut [u8]) -> Result<(), Unreachable> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = *self.0.get(&(phys + i as u64)).ok_or(Unreachable)?;
            }
            Ok(())
        }
    }

    const SI: u64 = 0x6000;
    const MEMMAP: u64 = 0x7000;
    const CMDLINE: u64 = 0x8000;
    const MODLIST: u64 = 0x9000;
    const KERNEL: PhysRange = PhysRange::new(0x10_0000, 0x20_0000);

    /// A QEMU-like start info with 256 MiB of RAM and the given modules.
    fn boot_mem(modules: &[(u64, u64)]) -> Mem {
        let mut m = Mem::default();
        m.put_u32(SI, MAGIC);
        m.put_u32(SI + 4, 1);
        m.put_u32(SI + 8, 0);
        m.put_u32(SI + 12, modules.len() as u32);
        m.put_u64(SI + 16, if modules.is_empty() { 0 } else { MODLIST });
        m.put_u64(SI + 24, CMDLINE);
        m.put_u64(SI + 32, 0xf52e0);
        m.put_u64(SI + 40, MEMMAP);
        m.put_u32(SI + 48, 3);
        m.put_u32(SI + 52, 0);
        for (i, (a, s, t)) in [
            (0u64, 0x9fc00u64, 1u32),
            (0xf0000, 0x10000, 2),
            (0x10_0000, 0xff0_0000, 1),
        ]
        .into_iter()
        .enumerate()
        {
            let e = MEMMAP + i as u64 * 24;
            m.put_u64(e, a);
            m.put_u64(e + 8, s);
            m.put_u32(e + 16, t);
            m.put_u32(e + 20, 0);
        }
        m.put(CMDLINE, b"test=boot_banner loglevel=debug\0");
        for (i, &(a, s)) in modules.iter().enumerate() {
            let e = MODLIST + i as u64 * 32;
            m.put_u64(e, a);
            m.put_u64(e + 8, s);
            m.put_u64(e + 16, 0);
            m.put_u64(e + 24, 0);
        }
        m
    }

    #[test]
    fn parses_qemu_like_start_info() {
        let info = parse(&boot_mem(&[(0x400_0000, 100_000)]), SI, KERNEL).unwrap();
        assert_eq!(info.cmdline.as_str(), "test=boot_banner loglevel=debug");
        assert_eq!(info.regions.len(), 3);
        assert_eq!(info.rsdp, Some(0xf52e0));
        assert_eq!(info.modules.len(), 1);
        assert_eq!(
            info.modules[0].range,
            PhysRange::new(0x400_0000, 0x400_0000 + 100_000)
        );
        assert!(info.module_problems.is_empty());
    }

    #[test]
    fn rejects_bad_start_info() {
        let mut m = boot_mem(&[]);
        m.put_u32(SI, 0xdead_beef);
        assert_eq!(
            parse(&m, SI, KERNEL).unwrap_err(),
            Error::BadMagic(0xdead_beef)
        );
        let mut m = boot_mem(&[]);
        m.put_u32(SI + 4, 0);
        assert_eq!(
            parse(&m, SI, KERNEL).unwrap_err(),
            Error::NoMemoryMap { version: 0 }
        );
        let mut m = boot_mem(&[]);
        m.put_u64(SI + 40, 0xdead_0000);
        assert_eq!(
            parse(&m, SI, KERNEL).unwrap_err(),
            Error::Unreadable(0xdead_0000)
        );
        assert_eq!(
            parse(&Mem::default(), SI, KERNEL).unwrap_err(),
            Error::Unreadable(SI)
        );
        let mut m = boot_mem(&[]);
        m.put_u32(SI + 48, 0);
        assert_eq!(parse(&m, SI, KERNEL).unwrap_err(), Error::EmptyMemoryMap);
    }

    #[test]
    fn bad_modules_are_reported_not_used() {
        let mods = [
            (0x400_0000, 4096),    // good
            (0x500_0000, 0),       // empty
            (u64::MAX - 10, 100),  // wraps
            (0x10_8000, 0x1000),   // inside the kernel image
            (0x2000_0000, 0x1000), // beyond RAM
            (0x9f000, 0x2000),     // straddles the end of low RAM
        ];
        let info = parse(&boot_mem(&mods), SI, KERNEL).unwrap();
        assert_eq!(info.modules.len(), 1);
        assert_eq!(info.modules[0].index, 0);
        let problems: Vec<_> = info.module_problems.iter().map(|(i, p)| (*i, *p)).collect();
        assert_eq!(
            problems,
            vec![
                (1, ModuleProblem::Empty),
                (2, ModuleProblem::Wraps),
                (
                    3,
                    ModuleProblem::OverlapsKernel(PhysRange::new(0x10_8000, 0x10_9000))
                ),
                (
                    4,
                    ModuleProblem::OutsideRam(PhysRange::new(0x2000_0000, 0x2000_1000))
                ),
                (
                    5,
                    ModuleProblem::OutsideRam(PhysRange::new(0x9f000, 0xa1000))
                ),
            ]
        );
    }

    #[test]
    fn missing_module_list_is_reported() {
        let mut m = boot_mem(&[(0x400_0000, 4096)]);
        m.put_u64(SI + 16, 0);
        let info = parse(&m, SI, KERNEL).unwrap();
        assert!(info.modules.is_empty());
        assert_eq!(info.module_problems[0], (0, ModuleProblem::MissingList));

        let mut m = boot_mem(&[(0x400_0000, 4096)]);
        m.put_u64(SI + 16, 0xbad_0000);
        let info = parse(&m, SI, KERNEL).unwrap();
        assert_eq!(
            info.module_problems[0],
            (0, ModuleProblem::EntryUnreadable(0xbad_0000))
        );
    }

    #[test]
    fn cmdline_edge_cases() {
        let mut m = boot_mem(&[]);
        m.put(CMDLINE, b"bad \xff utf8\0");
        let info = parse(&m, SI, KERNEL).unwrap();
        assert!(info.cmdline_invalid);
        assert_eq!(info.cmdline.as_str(), "");

        let mut m = boot_mem(&[]);
        m.put(CMDLINE, &[b'a'; 2000]);
        let info = parse(&m, SI, KERNEL).unwrap();
        assert!(info.cmdline_truncated);
        assert_eq!(info.cmdline.len(), super::super::CMDLINE_MAX);

        let mut m = boot_mem(&[]);
        m.put_u64(SI + 24, 0);
        assert_eq!(parse(&m, SI, KERNEL).unwrap().cmdline.as_str(), "");
    }
}
