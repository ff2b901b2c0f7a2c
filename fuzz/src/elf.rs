//! `elf_plan`: the kernel's ELF planner (`bedrock::elf::plan`) on any bytes,
//! then the plan loaded into a memory that checks every write.
//!
//! The input is the ELF file itself (so real executables are seeds as
//! they are). The static-PIE base comes from the file's `e_ident` padding
//! (bytes 8..16, which the planner ignores) and from two fixed bases, so
//! the fuzzer also explores bases while real files keep working.
//!
//! Invariants of an accepted file are those `bedrock/src/elf/mod.rs`
//! documents; checked here: segments sorted, page-disjoint, inside user
//! space and inside the image, not W+X, file parts inside the file; the
//! entry in an executable segment; TLS, RELRO and program headers inside
//! loaded segments; the PIE bias a multiple of `required_alignment`;
//! loading writes only inside segments and relocations only inside
//! writable ones, exactly `relocation_count` of them; and a static file's
//! plan does not depend on the base.

use bedrock::elf::{ElfKind, LoadPlan, Segment, SegmentMemory, plan, required_alignment};
use bedrock::mm::PAGE_SIZE;
use bedrock::mm::vmspace::{Prot, USER_END, USER_START};

/// Where static-PIE programs go by default (as in the kernel's tests).
const DEFAULT_BASE: u64 = 0x5555_5540_0000;

pub fn elf_plan(data: &[u8]) {
    let padding = data
        .get(8..16)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let align = required_alignment(data);
    let aligned = |base: u64| match align {
        Ok(a) if a.is_power_of_two() => base.checked_next_multiple_of(a).unwrap_or(base),
        _ => base,
    };
    let mut plans = Vec::new();
    for base in [padding, aligned(DEFAULT_BASE), aligned(USER_START)] {
        let result = plan(data, base);
        // Deterministic, and `required_alignment` agrees about parsing.
        assert_eq!(result, plan(data, base));
        if let Ok(p) = &result {
            let align = align.expect("a planned file has a required alignment");
            check_plan(data, p, base, align);
        }
        plans.push(result);
    }
    // A static executable's plan ignores the base.
    if let Ok(p) = &plans[0]
        && p.kind == ElfKind::Static
    {
        assert!(plans.iter().all(|q| q == &plans[0]));
    }
}

fn page_down(a: u64) -> u64 {
    a & !(PAGE_SIZE - 1)
}

fn check_plan(file: &[u8], p: &LoadPlan, base: u64, align: u64) {
    assert!(!p.segments.is_empty(), "a plan without segments");
    assert!(USER_START <= p.image_start && p.image_start < p.image_end);
    assert!(p.image_end <= USER_END, "{p:?}");
    assert_eq!(p.image_start % PAGE_SIZE, 0);
    assert_eq!(p.image_end % PAGE_SIZE, 0);
    match p.kind {
        ElfKind::StaticPie => {
            assert_eq!(p.image_start, base);
            assert!(align.is_power_of_two() && align >= PAGE_SIZE);
            // The base keeps every segment's alignment congruence.
            assert_eq!(p.bias % align, 0, "bias {:#x} against {align:#x}", p.bias);
        }
        ElfKind::Static => assert_eq!(p.bias, 0),
    }
    for s in &p.segments {
        assert!(s.mem_size > 0 && s.file_size <= s.mem_size, "{s:?}");
        assert!(s.page_start() >= p.image_start && s.page_end() <= p.image_end);
        assert!(
            !(s.prot.contains(Prot::WRITE) && s.prot.contains(Prot::EXEC)),
            "W^X: {s:?}"
        );
        assert_eq!(s.vaddr % PAGE_SIZE, s.file_offset % PAGE_SIZE);
        let bytes = s
            .file_bytes(file)
            .expect("segment file range inside the file");
        assert_eq!(bytes.len() as u64, s.file_size);
    }
    for pair in p.segments.windows(2) {
        assert!(
            pair[0].page_end() <= pair[1].page_start(),
            "segments share a page: {pair:?}"
        );
    }
    assert_eq!(p.image_start, p.segments[0].page_start());
    assert_eq!(p.image_end, p.segments[p.segments.len() - 1].page_end());
    assert!(
        in_exec_segment(p, p.entry),
        "entry {:#x} not in an executable segment",
        p.entry
    );
    if let Some(tls) = p.tls {
        assert!(tls.align.is_power_of_two());
        assert!(tls.file_size <= tls.mem_size);
        let seg = p
            .segment_at(tls.vaddr, tls.file_size)
            .expect("TLS template inside a segment");
        assert!(tls.vaddr + tls.file_size <= seg.vaddr + seg.file_size);
        assert_eq!(tls.file_offset, seg.file_offset + (tls.vaddr - seg.vaddr));
    }
    if let Some(relro) = p.relro {
        let ok = p.segments.iter().any(|s| {
            s.prot.contains(Prot::WRITE)
                && relro.vaddr >= s.vaddr
                && relro.vaddr - s.vaddr < s.mem_size
                && relro
                    .vaddr
                    .checked_add(relro.mem_size)
                    .is_some_and(|e| e <= s.page_end())
        });
        assert!(ok, "RELRO outside a writable segment: {relro:?}");
        if let Some((start, len)) = relro.pages() {
            assert!(start >= p.image_start && start + len <= p.image_end);
        }
    }
    if let Some(phdr) = p.phdr_vaddr {
        let len = u64::from(p.phnum) * u64::from(p.phent);
        assert!(p.segment_at(phdr, len).is_some(), "AT_PHDR not loaded");
    }
    let auxv = p.auxv();
    assert!(auxv.contains(&(bedrock_abi::auxv::AT_ENTRY, p.entry)));

    // Loading: file bytes inside segments, relocations inside writable ones.
    let writes = p
        .relocation_writes(file)
        .expect("a plan's relocations apply");
    assert_eq!(writes.len(), p.relocation_count);
    for w in &writes {
        let seg = p
            .segment_at(w.vaddr, 8)
            .unwrap_or_else(|| panic!("relocation at {:#x} outside the image", w.vaddr));
        assert!(seg.prot.contains(Prot::WRITE), "relocation in {seg:?}");
    }
    let mut mem = Checked {
        segments: &p.segments,
        writes: 0,
    };
    let n = p.load(file, &mut mem).expect("loading a plan's own file");
    assert_eq!(n, p.relocation_count);
}

fn in_exec_segment(p: &LoadPlan, addr: u64) -> bool {
    p.segments
        .iter()
        .any(|s| s.prot.contains(Prot::EXEC) && s.contains(addr, 1))
}

/// Memory that accepts writes only inside the plan's segments (and keeps
/// nothing: images may span terabytes).
struct Checked<'a> {
    segments: &'a [Segment],
    writes: usize,
}

impl SegmentMemory for Checked<'_> {
    type Error = u64;
    fn write(&mut self, vaddr: u64, bytes: &[u8]) -> Result<(), u64> {
        let inside = self
            .segments
            .iter()
            .any(|s| s.contains(vaddr, bytes.len() as u64));
        assert!(
            inside,
            "write of {} bytes at {vaddr:#x} outside the segments",
            bytes.len()
        );
        assert!(page_down(vaddr) >= USER_START);
        self.writes += 1;
        Ok(())
    }
}
