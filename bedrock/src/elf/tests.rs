//! Tests of the ELF planner: hand-built files (every check, one malformed
//! field at a time), real binaries from gcc with GNU ld and lld
//! (`testdata/`, see its README), and corruption sweeps.

use super::builder::*;
use super::*;
use alloc::vec;
use bedrock_abi::auxv::{AT_BASE, AT_ENTRY, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM};

const BASE: u64 = 0x5555_5540_0000;
const RELATIVE: u32 = 8;

/// A memory image of `[start, end)` that refuses writes outside the plan's
/// segments.
#[derive(Debug)]
struct Mem {
    start: u64,
    bytes: Vec<u8>,
    segments: Vec<Segment>,
    writes: usize,
}

impl Mem {
    fn new(plan: &LoadPlan) -> Self {
        Mem {
            start: plan.image_start,
            bytes: vec![0; (plan.image_end - plan.image_start) as usize],
            segments: plan.segments.clone(),
            writes: 0,
        }
    }
    fn read(&self, vaddr: u64, len: usize) -> &[u8] {
        let o = (vaddr - self.start) as usize;
        &self.bytes[o..o + len]
    }
    fn u64_at(&self, vaddr: u64) -> u64 {
        u64::from_le_bytes(self.read(vaddr, 8).try_into().unwrap())
    }
}

impl SegmentMemory for Mem {
    type Error = u64;
    fn write(&mut self, vaddr: u64, bytes: &[u8]) -> Result<(), u64> {
        if !self
            .segments
            .iter()
            .any(|s| s.contains(vaddr, bytes.len() as u64))
        {
            return Err(vaddr);
        }
        let o = (vaddr - self.start) as usize;
        self.bytes[o..o + bytes.len()].copy_from_slice(bytes);
        self.writes += 1;
        Ok(())
    }
}

fn load(file: &[u8], base: u64) -> (LoadPlan, Mem) {
    let plan = plan(file, base).unwrap();
    let mut mem = Mem::new(&plan);
    let n = plan.load(file, &mut mem).unwrap();
    assert_eq!(n, plan.relocation_count);
    (plan, mem)
}

/// A static-PIE with every feature the loader handles:
/// - `0x0000` R: ELF header, program headers (PT_PHDR), RELA at 0x800,
///   RELR at 0x900, JMPREL at 0xa00;
/// - `0x1000` RX: text (entry 0x1000);
/// - `0x2000` RW: `_DYNAMIC` at 0x2000, relocated slots at 0x2100..,
///   TLS template at 0x2180 (8 bytes of 64), bss up to 0x5000;
/// - PT_GNU_STACK RW, PT_GNU_RELRO over 0x2000..0x2100.
fn pie() -> Builder {
    let mut b = Builder::new(ET_DYN, 0x1000);
    b.phdr(Phdr::other(PT_PHDR, R, 64, 64, 0))
        .phdr(Phdr::load(R, 0, 0, 0xb00, 0xb00))
        .phdr(Phdr::load(R | X, 0x1000, 0x1000, 0x100, 0x100))
        .phdr(Phdr::load(R | W, 0x2000, 0x2000, 0x200, 0x3000))
        .phdr(Phdr::other(PT_DYNAMIC, R | W, 0x2000, 0x2000, 0xa0))
        .phdr(Phdr {
            align: 16,
            memsz: 64,
            ..Phdr::other(PT_TLS, R, 0x2180, 0x2180, 8)
        })
        .phdr(Phdr::other(PT_GNU_STACK, R | W, 0, 0, 0))
        .phdr(Phdr::other(PT_GNU_RELRO, R, 0x2000, 0x2000, 0x100));
    b.phdrs[0].filesz = 56 * b.phdrs.len() as u64;
    b.phdrs[0].memsz = b.phdrs[0].filesz;
    b.put(0x1000, &[0xf4; 0x100]); // hlt
    b.put_rela(
        0x800,
        &[(0x2100, RELATIVE, 0, 0x1010), (0x2108, 0 /* NONE */, 0, 0)],
    );
    b.put_rela(0xa00, &[(0x2110, RELATIVE, 0, 0x2000)]);
    // RELR: 0x2118, then a bitmap from 0x2120 with words 0 and 2.
    b.put_u64(0x900, 0x2118).put_u64(0x908, 0b1011);
    b.put_u64(0x2118, 0x1234)
        .put_u64(0x2120, 0x10)
        .put_u64(0x2130, 0x2000);
    b.put_u64(0x2180, 0x1122_3344_5566_7788); // TLS template
    b.put_dyn(
        0x2000,
        &[
            (DT_RELA, 0x800),
            (DT_RELASZ, 48),
            (DT_RELAENT, 24),
            (DT_JMPREL, 0xa00),
            (DT_PLTRELSZ, 24),
            (DT_PLTREL, DT_RELA),
            (DT_RELR, 0x900),
            (DT_RELRSZ, 16),
            (DT_RELRENT, 8),
            (DT_NULL, 0),
        ],
    );
    b.put(0x21ff, &[0]); // file up to the end of the RW segment's file part
    b
}

/// A static executable at 0x40_0000: R headers, RX text, RW data + bss.
fn exec() -> Builder {
    let mut b = Builder::new(ET_EXEC, 0x40_1004);
    b.phdr(Phdr::load(R, 0, 0x40_0000, 0x200, 0x200))
        .phdr(Phdr::load(R | X, 0x1000, 0x40_1000, 0x10, 0x10))
        .phdr(Phdr::load(R | W, 0x2000, 0x40_2000, 0x10, 0x1800));
    b.put(0x1000, &[0x90; 0x10])
        .put(0x2000, b"data data data!\0");
    b
}

#[test]
fn static_pie_plan_and_load() {
    let file = pie().build();
    let (plan, mem) = load(&file, BASE);
    assert_eq!(plan.kind, ElfKind::StaticPie);
    assert_eq!(plan.bias, BASE);
    assert_eq!(plan.entry, BASE + 0x1000);
    assert_eq!((plan.image_start, plan.image_end), (BASE, BASE + 0x5000));
    let segs: Vec<_> = plan
        .segments
        .iter()
        .map(|s| (s.vaddr, s.mem_size, s.file_offset, s.file_size, s.prot))
        .collect();
    assert_eq!(
        segs,
        [
            (BASE, 0xb00, 0, 0xb00, Prot::READ),
            (BASE + 0x1000, 0x100, 0x1000, 0x100, Prot::RX),
            (BASE + 0x2000, 0x3000, 0x2000, 0x200, Prot::RW),
        ]
    );
    assert_eq!(plan.segments[2].page_len(), 0x3000);
    assert_eq!(plan.phdr_vaddr, Some(BASE + 64));
    assert_eq!((plan.phent, plan.phnum), (56, 8));
    assert_eq!(
        plan.tls,
        Some(Tls {
            vaddr: BASE + 0x2180,
            file_offset: 0x2180,
            file_size: 8,
            mem_size: 64,
            align: 16
        })
    );
    let relro = plan.relro.unwrap();
    assert_eq!(
        relro,
        Relro {
            vaddr: BASE + 0x2000,
            mem_size: 0x100
        }
    );
    assert_eq!(relro.pages(), None); // less than a page
    assert_eq!(plan.relocation_count, 5);
    assert_eq!(
        plan.relocation_writes(&file).unwrap(),
        [
            RelocWrite {
                vaddr: BASE + 0x2100,
                value: BASE + 0x1010
            },
            RelocWrite {
                vaddr: BASE + 0x2110,
                value: BASE + 0x2000
            },
            RelocWrite {
                vaddr: BASE + 0x2118,
                value: BASE + 0x1234
            },
            RelocWrite {
                vaddr: BASE + 0x2120,
                value: BASE + 0x10
            },
            RelocWrite {
                vaddr: BASE + 0x2130,
                value: BASE + 0x2000
            },
        ]
    );
    // The image: file bytes, relocated slots, untouched NONE slot, zero bss.
    assert_eq!(mem.read(BASE, 4), b"\x7fELF");
    assert_eq!(mem.read(BASE + 64, 56 * 8), &file[64..64 + 56 * 8]);
    assert_eq!(mem.u64_at(BASE + 0x2100), BASE + 0x1010);
    assert_eq!(mem.u64_at(BASE + 0x2108), 0);
    assert_eq!(mem.u64_at(BASE + 0x2130), BASE + 0x2000);
    assert_eq!(mem.u64_at(BASE + 0x2128), 0);
    assert_eq!(mem.u64_at(BASE + 0x2180), 0x1122_3344_5566_7788);
    assert!(mem.read(BASE + 0x2200, 0x2e00).iter().all(|&b| b == 0));
    assert_eq!(mem.writes, 3 + 5);
    assert_eq!(
        plan.auxv(),
        [
            (AT_PHDR, BASE + 64),
            (AT_PHENT, 56),
            (AT_PHNUM, 8),
            (AT_PAGESZ, 4096),
            (AT_BASE, 0),
            (AT_ENTRY, BASE + 0x1000)
        ]
    );
    assert_eq!(
        plan.segment_at(BASE + 0x1000, 0x100).unwrap().prot,
        Prot::RX
    );
    assert!(plan.segment_at(BASE + 0x1000, 0x101).is_none());
}

#[test]
fn static_pie_at_other_bases() {
    let file = pie().build();
    for base in [0x1000, 0x20_0000, 0x7fff_ffff_a000] {
        let (p, mem) = load(&file, base);
        assert_eq!(p.entry, base + 0x1000);
        assert_eq!(mem.u64_at(base + 0x2100), base + 0x1010);
    }
    // The base must keep the image in user space.
    for base in [0, 0x7fff_ffff_b000, 0xffff_8000_0000_0000, !0xfff] {
        assert!(
            matches!(plan(&file, base), Err(ElfError::OutsideUserSpace { .. })),
            "{base:#x}"
        );
    }
    assert_eq!(
        plan(&file, BASE + 0x800),
        Err(ElfError::BadBase {
            base: BASE + 0x800,
            align: 0x1000
        })
    );
    // Segments aligned to 2 MiB need a 2 MiB-aligned base.
    let mut b = pie();
    b.phdrs[3].align = 0x20_0000;
    let file = b.build();
    assert_eq!(required_alignment(&file), Ok(0x20_0000));
    assert_eq!(
        plan(&file, 0x1000),
        Err(ElfError::BadBase {
            base: 0x1000,
            align: 0x20_0000
        })
    );
    assert!(plan(&file, 0x40_0000).is_ok());
    // An empty PT_LOAD is not loaded: its alignment does not count (found
    // by the elf_plan fuzzer: required_alignment said 2^56 where plan
    // needed 4 KiB).
    let mut b = pie();
    b.phdr(Phdr {
        align: 1 << 56,
        ..Phdr::load(R, 0x1000, 0x1000, 0, 0)
    });
    b.phdrs[0].filesz += 56;
    b.phdrs[0].memsz += 56;
    let file = b.build();
    assert_eq!(required_alignment(&file), Ok(0x1000));
    assert!(plan(&file, BASE).is_ok());
}

#[test]
fn static_executable_loads_at_link_addresses() {
    let file = exec().build();
    let (p, mem) = load(&file, 0xdead_0000); // base ignored
    assert_eq!(p.kind, ElfKind::Static);
    assert_eq!(p.bias, 0);
    assert_eq!(p.entry, 0x40_1004);
    assert_eq!((p.image_start, p.image_end), (0x40_0000, 0x40_4000));
    assert_eq!(p.phdr_vaddr, Some(0x40_0040));
    assert_eq!((p.tls, p.relro, p.relocation_count), (None, None, 0));
    assert_eq!(mem.read(0x40_2000, 16), b"data data data!\0");
    assert_eq!(required_alignment(&file), Ok(0x1000));
    // A static executable may not sit on page 0 or in the top page.
    let mut b = exec();
    b.phdrs[0].vaddr = 0;
    assert!(matches!(
        plan(&b.build(), 0),
        Err(ElfError::OutsideUserSpace { start: 0, .. })
    ));
    let mut b = exec();
    b.phdrs[2].vaddr = 0x7fff_ffff_e000;
    assert!(matches!(
        plan(&b.build(), 0),
        Err(ElfError::OutsideUserSpace { .. })
    ));
    let mut b = exec();
    for p in &mut b.phdrs {
        p.vaddr += 0xffff_8000_0000_0000;
    }
    b.entry += 0xffff_8000_0000_0000;
    assert!(matches!(
        plan(&b.build(), 0),
        Err(ElfError::OutsideUserSpace { .. })
    ));
}

#[test]
fn header_checks() {
    let good = exec().build();
    for len in 0..64 {
        assert_eq!(plan(&good[..len], 0), Err(ElfError::TooSmall { len }));
    }
    let with = |at: usize, b: &[u8]| {
        let mut v = good.clone();
        v[at..at + b.len()].copy_from_slice(b);
        plan(&v, BASE)
    };
    assert_eq!(with(0, b"\x7fELG"), Err(ElfError::BadMagic));
    assert_eq!(with(4, &[1]), Err(ElfError::NotElf64 { class: 1 }));
    assert_eq!(with(5, &[2]), Err(ElfError::NotLittleEndian { data: 2 }));
    assert_eq!(with(6, &[0]), Err(ElfError::BadVersion { version: 0 }));
    assert_eq!(with(7, &[9]), Err(ElfError::BadOsAbi { abi: 9 }));
    assert!(with(7, &[3]).is_ok()); // GNU/Linux
    assert!(with(7, &[255]).is_ok()); // standalone (the hermit target)
    assert_eq!(
        with(20, &2u32.to_le_bytes()),
        Err(ElfError::BadVersion { version: 2 })
    );
    assert_eq!(
        with(18, &3u16.to_le_bytes()),
        Err(ElfError::NotX86_64 { machine: 3 })
    );
    for t in [0u16, 1, 4, 0xfe00] {
        assert_eq!(
            with(16, &t.to_le_bytes()),
            Err(ElfError::BadType { e_type: t })
        );
    }
    assert_eq!(
        with(52, &52u16.to_le_bytes()),
        Err(ElfError::BadHeaderSize {
            ehsize: 52,
            phentsize: 56
        })
    );
    assert_eq!(
        with(54, &32u16.to_le_bytes()),
        Err(ElfError::BadHeaderSize {
            ehsize: 64,
            phentsize: 32
        })
    );
    assert_eq!(
        with(56, &0u16.to_le_bytes()),
        Err(ElfError::NoProgramHeaders)
    );
    assert_eq!(
        with(56, &0xffffu16.to_le_bytes()),
        Err(ElfError::TooManyProgramHeaders { phnum: 0xffff })
    );
    for phoff in [good.len() as u64 - 100, u64::MAX - 10, 1 << 63] {
        assert_eq!(
            with(32, &phoff.to_le_bytes()),
            Err(ElfError::ProgramHeadersOutsideFile { phoff, phnum: 3 })
        );
    }
    // Program headers elsewhere in the file are fine (not loaded: no AT_PHDR).
    let mut b = exec();
    b.phoff = 0x3000;
    let p = plan(&b.build(), 0).unwrap();
    assert_eq!(p.phdr_vaddr, None);
    assert_eq!(p.auxv()[0].0, AT_PHENT);
}

#[test]
fn no_dynamic_linking() {
    let mut b = pie();
    b.phdr(Phdr::other(PT_INTERP, R, 0x300, 0x300, 28));
    b.phdrs[0].filesz += 56;
    b.phdrs[0].memsz += 56;
    let e = plan(&b.build(), BASE).unwrap_err();
    assert_eq!(e, ElfError::NeedsInterpreter);
    assert!(format!("{e}").contains("dynamic linker"));
    let mut b = pie();
    b.put_dyn(0x2090, &[(DT_NEEDED, 1), (DT_NULL, 0)]);
    b.phdrs[4].filesz = 0xb0;
    assert_eq!(plan(&b.build(), BASE), Err(ElfError::NeedsSharedLibraries));
}

#[test]
fn segment_checks() {
    let check = |f: &dyn Fn(&mut Builder), want: ElfError| {
        let mut b = pie();
        f(&mut b);
        assert_eq!(plan(&b.build(), BASE), Err(want));
    };
    check(
        &|b| b.phdrs[2].flags = R | W | X,
        ElfError::WritableAndExecutable { index: 2 },
    );
    check(
        &|b| b.phdrs[3].flags = W | X,
        ElfError::WritableAndExecutable { index: 3 },
    );
    check(
        &|b| b.phdrs[3].align = 0x3000,
        ElfError::BadAlignment {
            index: 3,
            align: 0x3000,
        },
    );
    check(
        &|b| b.phdrs[3].vaddr = 0x2010,
        ElfError::Misaligned { index: 3 },
    );
    // Congruent modulo p_align = 16 but not modulo the page size.
    check(
        &|b| {
            b.phdrs[3].align = 16;
            b.phdrs[3].vaddr = 0x3010;
        },
        ElfError::Misaligned { index: 3 },
    );
    check(
        &|b| b.phdrs[2].filesz = 0x101,
        ElfError::FileSizeExceedsMemSize { index: 2 },
    );
    check(
        &|b| {
            b.phdrs[3].filesz = 0x1000;
        },
        ElfError::OutsideFile { index: 3 },
    );
    check(
        &|b| {
            b.phdrs[3].offset = u64::MAX - 0xfff;
            b.phdrs[3].filesz = 0x2000;
        },
        ElfError::AddressOverflow { index: 3 },
    );
    check(
        &|b| {
            b.phdrs[3].vaddr = 0xffff_ffff_ffff_f000;
            b.phdrs[3].offset = 0x2000;
        },
        ElfError::AddressOverflow { index: 3 },
    );
    // Sharing a page: text ends in the page where data starts.
    check(
        &|b| b.phdrs[2].memsz = 0x1001,
        ElfError::Overlap {
            first: 2,
            second: 3,
        },
    );
    check(
        &|b| {
            b.phdrs[3].vaddr = 0x1000;
            b.phdrs[3].offset = 0x2000;
        },
        ElfError::Overlap {
            first: 2,
            second: 3,
        },
    );
    check(
        &|b| {
            for p in b.phdrs.iter_mut().filter(|p| p.p_type == PT_LOAD) {
                p.p_type = 0x6000_0000;
            }
        },
        ElfError::NoLoadableSegment,
    );
    check(
        &|b| b.entry = 0x2000,
        ElfError::EntryNotExecutable { entry: 0x2000 },
    );
    check(
        &|b| b.entry = 0x1100,
        ElfError::EntryNotExecutable { entry: 0x1100 },
    );
    check(
        &|b| b.entry = 0x10,
        ElfError::EntryNotExecutable { entry: 0x10 },
    );
    check(&|b| b.phdrs[6].flags = R | W | X, ElfError::ExecutableStack);
    check(
        &|b| b.phdrs[6].p_type = PT_TLS,
        ElfError::DuplicateSegment {
            index: 6,
            p_type: PT_TLS,
        },
    );
    check(
        &|b| b.phdrs[5].p_type = PT_DYNAMIC,
        ElfError::DuplicateSegment {
            index: 5,
            p_type: PT_DYNAMIC,
        },
    );
    // Zero-size loads are ignored, not mapped.
    let mut b = pie();
    b.phdr(Phdr::load(R, 0x1000, 0x9000, 0, 0));
    b.phdrs[0].filesz += 56;
    b.phdrs[0].memsz += 56;
    assert_eq!(plan(&b.build(), BASE).unwrap().segments.len(), 3);
    // A segment without access rights is mapped with none.
    let mut b = pie();
    b.phdrs[1].flags = 0;
    assert_eq!(plan(&b.build(), BASE).unwrap().segments[0].prot, Prot::NONE);
}

#[test]
fn phdr_tls_relro_checks() {
    let check = |f: &dyn Fn(&mut Builder), want: ElfError| {
        let mut b = pie();
        f(&mut b);
        assert_eq!(plan(&b.build(), BASE), Err(want));
    };
    check(&|b| b.phdrs[0].vaddr = 0x48, ElfError::BadPhdrSegment);
    check(&|b| b.phdrs[0].offset = 0x48, ElfError::BadPhdrSegment);
    check(&|b| b.phdrs[0].filesz = 56, ElfError::BadPhdrSegment);
    // The program headers are not in a loaded segment's file part.
    check(&|b| b.phdrs[1].filesz = 0x100, ElfError::BadPhdrSegment);
    check(&|b| b.phdrs[5].align = 24, ElfError::BadTls);
    check(&|b| b.phdrs[5].filesz = 65, ElfError::BadTls);
    check(&|b| b.phdrs[5].vaddr = 0x21fc, ElfError::BadTls); // past the file part
    check(&|b| b.phdrs[5].offset = 0x2188, ElfError::BadTls);
    check(&|b| b.phdrs[5].memsz = u64::MAX, ElfError::BadTls);
    check(&|b| b.phdrs[7].vaddr = 0x1000, ElfError::BadRelro);
    check(&|b| b.phdrs[7].memsz = 0x3001, ElfError::BadRelro);
    check(&|b| b.phdrs[7].memsz = u64::MAX, ElfError::BadRelro);
    // RELRO may run to the end of the segment's last page (lld does).
    let mut b = pie();
    b.phdrs[7].memsz = 0x3000;
    let p = plan(&b.build(), BASE).unwrap();
    assert_eq!(p.relro.unwrap().pages(), Some((BASE + 0x2000, 0x3000)));
    // TLS with .tbss only.
    let mut b = pie();
    b.phdrs[5].filesz = 0;
    b.phdrs[5].align = 0;
    let tls = plan(&b.build(), BASE).unwrap().tls.unwrap();
    assert_eq!((tls.file_size, tls.mem_size, tls.align), (0, 64, 1));
}

#[test]
fn dynamic_checks() {
    // Rewrites the _DYNAMIC array.
    let with_dyn = |entries: &[(u64, u64)]| {
        let mut b = pie();
        b.put(0x2000, &[0; 0xa0]);
        b.put_dyn(0x2000, entries);
        b.phdrs[4].filesz = 16 * entries.len() as u64;
        plan(&b.build(), BASE)
    };
    let bad = |why: &'static str| Err(ElfError::BadDynamic(why));
    assert_eq!(with_dyn(&[(DT_RELA, 0x800)]), bad("no DT_NULL at the end"));
    assert_eq!(
        with_dyn(&[(DT_RELA, 0x800), (DT_NULL, 0)]),
        bad("bad DT_RELA table")
    );
    assert_eq!(
        with_dyn(&[(DT_RELASZ, 48), (DT_NULL, 0)]),
        bad("bad DT_RELA table")
    );
    assert_eq!(
        with_dyn(&[(DT_RELA, 0x800), (DT_RELASZ, 40), (DT_NULL, 0)]),
        bad("bad DT_RELA table")
    );
    assert_eq!(
        with_dyn(&[
            (DT_RELA, 0x800),
            (DT_RELASZ, 48),
            (DT_RELAENT, 16),
            (DT_NULL, 0)
        ]),
        bad("bad DT_RELA table")
    );
    // Tables must be in a loaded segment's file part.
    for addr in [0xb00 - 24, 0x1ff0, 0x21f0, 0x4000, u64::MAX - 8] {
        assert_eq!(
            with_dyn(&[(DT_RELA, addr), (DT_RELASZ, 48), (DT_NULL, 0)]),
            bad("bad DT_RELA table"),
            "{addr:#x}"
        );
    }
    assert_eq!(
        with_dyn(&[(DT_RELA, 0x800), (DT_RELASZ, u64::MAX - 15), (DT_NULL, 0)]),
        bad("bad DT_RELA table")
    );
    assert_eq!(
        with_dyn(&[(DT_RELA, 0x800), (DT_RELA, 0x800), (DT_NULL, 0)]),
        bad("a relocation tag appears twice")
    );
    assert_eq!(
        with_dyn(&[(DT_REL, 0x800), (DT_RELSZ, 16), (DT_NULL, 0)]),
        bad("DT_REL relocations (x86_64 uses DT_RELA)")
    );
    assert_eq!(
        with_dyn(&[(DT_PLTREL, DT_REL), (DT_NULL, 0)]),
        bad("DT_PLTREL is not DT_RELA")
    );
    assert_eq!(
        with_dyn(&[(DT_JMPREL, 0xa00), (DT_PLTRELSZ, 20), (DT_NULL, 0)]),
        bad("bad DT_JMPREL table")
    );
    assert_eq!(
        with_dyn(&[(DT_RELR, 0x900), (DT_RELRSZ, 12), (DT_NULL, 0)]),
        bad("bad DT_RELR table")
    );
    assert_eq!(
        with_dyn(&[
            (DT_RELR, 0x900),
            (DT_RELRSZ, 16),
            (DT_RELRENT, 16),
            (DT_NULL, 0)
        ]),
        bad("bad DT_RELR table")
    );
    // Empty tables, and no relocation at all, are fine.
    let p = with_dyn(&[(DT_RELA, 0), (DT_RELASZ, 0), (DT_RELAENT, 24), (DT_NULL, 0)]).unwrap();
    assert_eq!(p.relocation_count, 0);
    assert_eq!(with_dyn(&[(DT_NULL, 0)]).unwrap().relocation_count, 0);
    // Unknown tags after DT_NULL are not read.
    assert!(with_dyn(&[(DT_NULL, 0), (DT_NEEDED, 1)]).is_ok());
    // The dynamic segment itself outside the file.
    let mut b = pie();
    b.phdrs[4].filesz = 0x10_0000;
    assert_eq!(
        plan(&b.build(), BASE),
        Err(ElfError::OutsideFile { index: 4 })
    );
    let mut b = pie();
    b.phdrs[4].filesz = 0;
    assert_eq!(plan(&b.build(), BASE), bad("no DT_NULL at the end"));
}

#[test]
fn relocation_checks() {
    let with_rela = |entries: &[(u64, u32, u32, i64)]| {
        let mut b = pie();
        b.put(0x800, &[0; 48]);
        b.put_rela(0x800, entries);
        plan(&b.build(), BASE)
    };
    for ty in [
        1u32, /* R_X86_64_64 */
        6,    /* GLOB_DAT */
        7,    /* JUMP_SLOT */
        37,   /* IRELATIVE */
        0xffff_ffff,
    ] {
        let e = with_rela(&[(0x2100, ty, 0, 0)]).unwrap_err();
        assert_eq!(
            e,
            ElfError::UnsupportedRelocation {
                r_type: ty,
                offset: 0x2100
            }
        );
        assert!(format!("{e}").contains(&format!("type {ty}")));
    }
    assert_eq!(
        with_rela(&[(0x2100, RELATIVE, 3, 0)]),
        Err(ElfError::RelocationWithSymbol { offset: 0x2100 })
    );
    // Targets: read-only or executable segment, gap, straddling the end,
    // far away.
    for target in [
        0x100,
        0x1000,
        0x1ff8,
        0x4ffc,
        0x5000,
        u64::MAX - 3,
        BASE + 0x2100,
    ] {
        assert_eq!(
            with_rela(&[(target, RELATIVE, 0, 0)]),
            Err(ElfError::BadRelocationTarget { offset: target }),
            "{target:#x}"
        );
    }
    // bss targets are fine for RELA.
    assert!(with_rela(&[(0x4ff8, RELATIVE, 0, 0)]).is_ok());
    // Values that do not fit in 64 bits.
    assert_eq!(
        with_rela(&[(0x2100, RELATIVE, 0, i64::MAX)]).map(|_| ()),
        Ok(())
    );
    assert_eq!(
        with_rela(&[(0x2100, RELATIVE, 0, -(BASE as i64) - 1)]),
        Err(ElfError::RelocationOverflow { offset: 0x2100 })
    );
    let mut b = exec();
    b.phdrs[2].filesz = 0x100;
    b.phdr(Phdr::other(PT_DYNAMIC, R | W, 0x2000, 0x40_2000, 0x40));
    b.put_dyn(
        0x2000,
        &[(DT_RELA, 0x40_2040), (DT_RELASZ, 24), (DT_NULL, 0)],
    );
    b.put_rela(0x2040, &[(0x40_2080, RELATIVE, 0, -1)]);
    b.put(0x20ff, &[0]);
    assert_eq!(
        plan(&b.build(), 0),
        Err(ElfError::RelocationOverflow { offset: 0x40_2080 })
    );
    // A static executable with relocations applies them with bias 0.
    let file = {
        b.put_rela(0x2040, &[(0x40_2080, RELATIVE, 0, 0x40_1000)]);
        b.build()
    };
    let (_, mem) = load(&file, 0);
    assert_eq!(mem.u64_at(0x40_2080), 0x40_1000);
}

#[test]
fn relr_checks() {
    let with_relr = |words: &[u64], size: u64| {
        let mut b = pie();
        for (i, w) in words.iter().enumerate() {
            b.put_u64(0x900 + 8 * i as u64, *w);
        }
        b.put_dyn(0x2070, &[(DT_RELRSZ, size), (DT_RELRENT, 8), (DT_NULL, 0)]);
        plan(&b.build(), BASE)
    };
    assert_eq!(
        with_relr(&[0b11], 8),
        Err(ElfError::BadDynamic(
            "DT_RELR bitmap without a preceding address"
        ))
    );
    // In the bss: RELR reads the value to relocate from the file.
    assert_eq!(
        with_relr(&[0x2200], 8),
        Err(ElfError::BadRelocationTarget { offset: 0x2200 })
    );
    // A bitmap reaching past the file part.
    assert_eq!(
        with_relr(&[0x21f0, 0b101], 16),
        Err(ElfError::BadRelocationTarget { offset: 0x2200 })
    );
    assert_eq!(
        with_relr(&[0x1000], 8),
        Err(ElfError::BadRelocationTarget { offset: 0x1000 })
    );
    // An address so high the bitmap's words overflow.
    assert_eq!(
        with_relr(&[u64::MAX - 7, 0b11], 16),
        Err(ElfError::BadRelocationTarget {
            offset: u64::MAX - 7
        })
    );
    // Consecutive bitmaps continue 63 words further each.
    let mut b = pie();
    b.phdrs[3].filesz = 0x1000;
    b.put(0x2fff, &[0]);
    b.put_u64(0x900, 0x2200)
        .put_u64(0x908, 1 | 1 << 63)
        .put_u64(0x910, 1 | 1 << 1);
    b.put_dyn(0x2070, &[(DT_RELRSZ, 24), (DT_NULL, 0)]);
    b.put_u64(0x2200 + 8 + 62 * 8, 7);
    let file = b.build();
    let writes: Vec<u64> = plan(&file, BASE)
        .unwrap()
        .relocation_writes(&file)
        .unwrap()
        .iter()
        .filter(|w| w.vaddr >= BASE + 0x2200)
        .map(|w| w.vaddr - BASE)
        .collect();
    assert_eq!(writes, [0x2200, 0x2200 + 8 + 62 * 8, 0x2200 + 8 + 63 * 8]);
}

#[test]
fn relocation_limit() {
    // The same 64 words over and over: an address entry, then a full bitmap.
    let pairs = MAX_RELOCATIONS / 64 + 1;
    let mut b = pie();
    let table = 0x10_0000u64;
    b.phdr(Phdr::load(
        R,
        table,
        table,
        16 * pairs as u64,
        16 * pairs as u64,
    ));
    b.phdrs[0].filesz += 56;
    b.phdrs[0].memsz += 56;
    for i in 0..pairs as u64 {
        b.put_u64(table + 16 * i, 0x2100)
            .put_u64(table + 16 * i + 8, u64::MAX);
    }
    b.put_dyn(
        0x2060,
        &[
            (DT_RELR, table),
            (DT_RELRSZ, 16 * pairs as u64),
            (DT_NULL, 0),
        ],
    );
    b.put(0x2000 + 0x200 - 1, &[0]);
    b.phdrs[3].filesz = 0x1000;
    b.put(0x2fff, &[0]);
    assert_eq!(plan(&b.build(), BASE), Err(ElfError::TooManyRelocations));
}

/// A memory that fails every write.
struct Broken;

impl SegmentMemory for Broken {
    type Error = &'static str;
    fn write(&mut self, _: u64, _: &[u8]) -> Result<(), &'static str> {
        Err("no memory")
    }
}

#[test]
fn load_errors() {
    let file = pie().build();
    let plan = plan(&file, BASE).unwrap();
    let e = plan.load(&file, &mut Broken).unwrap_err();
    assert_eq!(e, LoadError::Memory("no memory"));
    assert_eq!(format!("{e}"), "ELF: writing the image: no memory");
    // Another (shorter) file than the plan's: an error, not a panic.
    let mut mem = Mem::new(&plan);
    for cut in [0, 0x900, 0x2100, 0x2120] {
        assert!(matches!(
            plan.load(&file[..cut], &mut mem),
            Err(LoadError::Elf(_))
        ));
    }
    assert!(plan.relocation_writes(&file[..0x2000]).is_err());
}

#[test]
fn error_messages() {
    let all = [
        ElfError::TooSmall { len: 3 },
        ElfError::BadMagic,
        ElfError::NotElf64 { class: 1 },
        ElfError::NotLittleEndian { data: 2 },
        ElfError::BadVersion { version: 0 },
        ElfError::BadOsAbi { abi: 9 },
        ElfError::NotX86_64 { machine: 3 },
        ElfError::BadType { e_type: 1 },
        ElfError::BadHeaderSize {
            ehsize: 1,
            phentsize: 2,
        },
        ElfError::NoProgramHeaders,
        ElfError::TooManyProgramHeaders { phnum: 999 },
        ElfError::ProgramHeadersOutsideFile { phoff: 1, phnum: 2 },
        ElfError::Malformed("x"),
        ElfError::NeedsInterpreter,
        ElfError::NeedsSharedLibraries,
        ElfError::ExecutableStack,
        ElfError::DuplicateSegment {
            index: 1,
            p_type: 7,
        },
        ElfError::BadAlignment { index: 1, align: 3 },
        ElfError::Misaligned { index: 1 },
        ElfError::FileSizeExceedsMemSize { index: 1 },
        ElfError::OutsideFile { index: 1 },
        ElfError::AddressOverflow { index: 1 },
        ElfError::WritableAndExecutable { index: 1 },
        ElfError::Overlap {
            first: 1,
            second: 2,
        },
        ElfError::NoLoadableSegment,
        ElfError::OutsideUserSpace { start: 0, end: 1 },
        ElfError::BadBase { base: 1, align: 2 },
        ElfError::EntryNotExecutable { entry: 1 },
        ElfError::BadPhdrSegment,
        ElfError::BadTls,
        ElfError::BadRelro,
        ElfError::BadDynamic("x"),
        ElfError::UnsupportedRelocation {
            r_type: 37,
            offset: 1,
        },
        ElfError::RelocationWithSymbol { offset: 1 },
        ElfError::BadRelocationTarget { offset: 1 },
        ElfError::RelocationOverflow { offset: 1 },
        ElfError::TooManyRelocations,
    ];
    let mut seen = std::collections::HashSet::new();
    for e in all {
        let msg = format!("{e}");
        assert!(msg.starts_with("ELF: "), "{msg}");
        assert!(seen.insert(msg));
    }
    assert!(format!("{}", ElfError::WritableAndExecutable { index: 2 }).contains("W^X"));
}

/// Deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Plans and, if accepted, loads `file`: must never panic, and an accepted
/// file loads with every write inside its segments, in user space.
fn plan_and_load(file: &[u8], base: u64) -> bool {
    let Ok(p) = plan(file, base) else {
        return false;
    };
    assert!(p.image_start >= USER_START && p.image_end <= USER_END);
    for s in &p.segments {
        assert!(!s.prot.is_wx());
        assert!(s.page_start() >= p.image_start && s.page_end() <= p.image_end);
    }
    assert!(
        p.segments
            .iter()
            .any(|s| s.prot.contains(Prot::EXEC) && s.contains(p.entry, 1))
    );
    for w in p.relocation_writes(file).unwrap() {
        assert!(
            p.segments
                .iter()
                .any(|s| s.prot.contains(Prot::WRITE) && s.contains(w.vaddr, 8))
        );
    }
    // Loading needs memory for the image: skip absurdly large ones.
    if p.image_end - p.image_start <= 1 << 24 {
        let mut mem = Mem::new(&p);
        assert_eq!(p.load(file, &mut mem), Ok(p.relocation_count));
    }
    true
}

#[test]
fn corrupted_files_never_panic() {
    let good = pie().build();
    assert!(plan_and_load(&good, BASE));
    // Every truncation.
    for len in 0..good.len() {
        plan_and_load(&good[..len], BASE);
    }
    // Every byte of the headers and tables set to interesting values.
    let regions = [
        0..64 + 56 * 8,
        0x800..0x830,
        0x900..0x910,
        0xa00..0xa18,
        0x2000..0x20a0,
    ];
    let values = [0u8, 1, 2, 3, 7, 8, 0x10, 0x20, 0x7f, 0x80, 0xfe, 0xff];
    let mut accepted = 0;
    for r in regions.iter().cloned() {
        for at in r {
            for &v in &values {
                let mut f = good.clone();
                f[at] = v;
                accepted += usize::from(plan_and_load(&f, BASE));
            }
        }
    }
    assert!(accepted > 0);
    // Random multi-byte corruption, including whole 64-bit fields.
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..20_000 {
        let mut f = good.clone();
        for _ in 0..1 + rng.next() % 4 {
            let r = &regions[(rng.next() % regions.len() as u64) as usize];
            let at = r.start + (rng.next() % (r.end - r.start) as u64) as usize;
            if rng.next().is_multiple_of(2) {
                f[at] = rng.next() as u8;
            } else {
                let at = at.min(f.len() - 8) & !7;
                let v = match rng.next() % 4 {
                    0 => rng.next(),
                    1 => rng.next() % 0x3000,
                    2 => u64::MAX - rng.next() % 16,
                    _ => 1 << (rng.next() % 64),
                };
                f[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        let base = match rng.next() % 3 {
            0 => BASE,
            1 => rng.next() & 0x7fff_ffff_f000,
            _ => rng.next(),
        };
        plan_and_load(&f, base);
    }
}

// Real binaries (gcc 12, GNU ld 2.40 and LLD 14; see testdata/README.md).
const PIE_LD: &[u8] = include_bytes!("testdata/pie-ld.elf");
const PIE_LD_RELR: &[u8] = include_bytes!("testdata/pie-ld-relr.elf");
const PIE_LLD: &[u8] = include_bytes!("testdata/pie-lld.elf");
const PIE_LLD_RELR: &[u8] = include_bytes!("testdata/pie-lld-relr.elf");
const STATIC_LD: &[u8] = include_bytes!("testdata/static-ld.elf");
const STATIC_LLD: &[u8] = include_bytes!("testdata/static-lld.elf");
const MSG: &[u8] = b"hello from the fixture\0";

/// Checks a loaded fixture: every relocated pointer points into the
/// string `MSG` as loaded (the program's only pointers), TLS holds 42.
fn check_fixture(file: &[u8], base: u64, kind: ElfKind, relocations: usize) {
    let (plan, mem) = load(file, base);
    assert_eq!(plan.kind, kind);
    assert_eq!(plan.relocation_count, relocations);
    let msg_off = file.windows(MSG.len()).position(|w| w == MSG).unwrap() as u64;
    let seg = plan
        .segments
        .iter()
        .find(|s| s.file_offset <= msg_off && msg_off < s.file_offset + s.file_size)
        .unwrap();
    let msg_at = seg.vaddr + (msg_off - seg.file_offset);
    assert_eq!(mem.read(msg_at, MSG.len()), MSG);
    let writes = plan.relocation_writes(file).unwrap();
    for w in &writes {
        assert!((msg_at..msg_at + 8).contains(&w.value), "{w:?}");
        assert_eq!(mem.u64_at(w.vaddr), w.value);
        let k = (w.value - msg_at) as usize;
        assert_eq!(mem.read(w.value, MSG.len() - k), &MSG[k..]);
    }
    // The 8 table entries point at msg + 0..8, and ptr_ro/ptr_rw at +0/+6.
    let mut offsets: Vec<u64> = writes.iter().map(|w| w.value - msg_at).collect();
    offsets.sort();
    if relocations > 0 {
        assert_eq!(offsets, [0, 0, 1, 2, 3, 4, 5, 6, 6, 7]);
    }
    let tls = plan.tls.unwrap();
    assert_eq!((tls.file_size, tls.mem_size, tls.align), (8, 0x74, 16));
    assert_eq!(mem.u64_at(tls.vaddr), 42);
    assert!(plan.relro.is_some());
    let phdr = plan.phdr_vaddr.unwrap();
    assert_eq!(
        mem.read(phdr, 56 * usize::from(plan.phnum)),
        &file[64..64 + 56 * usize::from(plan.phnum)]
    );
    assert!(plan.segments.iter().all(|s| !s.prot.is_wx()));
    assert_eq!(
        plan.segments
            .iter()
            .filter(|s| s.prot.contains(Prot::EXEC))
            .count(),
        1
    );
    // Entry: the `_start` code, ending with hlt; jmp (f4 eb fd).
    let text = plan
        .segments
        .iter()
        .find(|s| s.prot.contains(Prot::EXEC))
        .unwrap();
    assert!(text.contains(plan.entry, 1));
    assert!(
        mem.read(text.vaddr, text.mem_size as usize)
            .windows(3)
            .any(|w| w == [0xf4, 0xeb, 0xfd])
    );
}

#[test]
fn real_static_pie_binaries() {
    for (file, name) in [
        (PIE_LD, "ld"),
        (PIE_LD_RELR, "ld relr"),
        (PIE_LLD, "lld"),
        (PIE_LLD_RELR, "lld relr"),
    ] {
        for base in [0x1000, BASE, 0x7fff_0000_0000] {
            std::println!("{name} at {base:#x}");
            check_fixture(file, base, ElfKind::StaticPie, 10);
        }
    }
    // The same program, RELA or RELR: the same relocated values relative
    // to the image.
    let offsets = |file: &[u8]| {
        let p = plan(file, BASE).unwrap();
        let mut v: Vec<u64> = p
            .relocation_writes(file)
            .unwrap()
            .iter()
            .map(|w| w.value - BASE)
            .collect();
        v.sort();
        v
    };
    assert_eq!(offsets(PIE_LLD).len(), 10);
    assert_eq!(offsets(PIE_LD).len(), offsets(PIE_LD_RELR).len());
}

#[test]
fn real_static_binaries() {
    check_fixture(STATIC_LD, 0, ElfKind::Static, 0);
    check_fixture(STATIC_LLD, 0, ElfKind::Static, 0);
    let p = plan(STATIC_LD, 0).unwrap();
    assert_eq!((p.entry, p.image_start), (0x40_1000, 0x40_0000));
    let p = plan(STATIC_LLD, BASE).unwrap();
    assert_eq!((p.entry, p.image_start), (0x20_1260, 0x20_0000));
    // lld pads RELRO to the page end: one whole page read-only.
    assert_eq!(p.relro.unwrap().pages(), Some((0x20_2000, 0x1000)));
}

#[test]
fn real_binaries_corrupted_never_panic() {
    let mut rng = Rng(0xfeed_face_cafe_beef);
    for file in [
        PIE_LD,
        PIE_LD_RELR,
        PIE_LLD,
        PIE_LLD_RELR,
        STATIC_LD,
        STATIC_LLD,
    ] {
        assert!(plan_and_load(file, BASE));
        for len in (0..file.len()).step_by(7) {
            plan_and_load(&file[..len], BASE);
        }
        for _ in 0..3000 {
            let mut f = file.to_vec();
            for _ in 0..1 + rng.next() % 3 {
                // Mostly the headers, sometimes anywhere.
                let span = if rng.next().is_multiple_of(4) {
                    f.len()
                } else {
                    0x300.min(f.len())
                };
                let at = (rng.next() % span as u64) as usize;
                f[at] = rng.next() as u8;
            }
            plan_and_load(&f, BASE);
        }
    }
}
