//! ELF loader planning for ring-3 programs: from the bytes of an ELF file
//! to a validated [`LoadPlan`] that says which user pages to reserve with
//! which protection, which file bytes to copy where, the relocations to
//! apply and what to tell the program (entry point, program headers, TLS
//! template). Nothing here touches memory: the kernel implements
//! [`SegmentMemory`] over the new address space and calls
//! [`LoadPlan::load`]; [`stack::initial_stack`] builds the initial stack.
//!
//! Supported: x86_64 little-endian ELF64 executables, either static
//! (`ET_EXEC`, loaded at their link addresses) or static-PIE (`ET_DYN`
//! without an interpreter, loaded at a caller-chosen base) whose dynamic
//! relocations are all `R_X86_64_RELATIVE` (in `DT_RELA` and
//! `DT_JMPREL`) or `DT_RELR`. There is no dynamic linker: `PT_INTERP` and
//! `DT_NEEDED` are refused with their own errors.
//!
//! Invariants of an accepted file (everything else is an [`ElfError`],
//! never a panic or an out-of-bounds read):
//! - header: `\x7fELF`, ELFCLASS64, little-endian, version 1, OS ABI
//!   System V, GNU/Linux or standalone (what the `x86_64-unknown-hermit`
//!   target of native silos writes), `EM_X86_64`, `ET_EXEC` or `ET_DYN`, 64-byte
//!   header, 56-byte program headers, 1..=[`MAX_PHDRS`] of them inside the
//!   file;
//! - every `PT_LOAD`: `p_align` 0 or a power of two, `p_vaddr` congruent
//!   to `p_offset` modulo `p_align` and modulo the page size, `p_filesz <=
//!   p_memsz`, file range inside the file, no address overflow, not both
//!   writable and executable (W^X); page-rounded ranges of different
//!   segments do not overlap (a page has one protection); at least one
//!   segment with a non-zero size;
//! - after relocation every segment lies in `[USER_START, USER_END)`;
//!   for `ET_DYN` the base keeps every segment's `p_align` congruence;
//! - the entry point lies in an executable segment;
//! - at most one each of `PT_TLS`, `PT_DYNAMIC`, `PT_PHDR`,
//!   `PT_GNU_RELRO`, `PT_GNU_STACK`; no executable stack requested;
//! - `PT_PHDR`, if present, matches `e_phoff` and lies in the file part of
//!   a loaded segment; the TLS template lies in the file part of a
//!   loaded segment; the RELRO range starts in a writable segment and ends
//!   within that segment's last page;
//! - relocation tables lie in the file part of loaded segments, entry sizes
//!   are the standard ones, every relocation is `R_X86_64_NONE` or
//!   `R_X86_64_RELATIVE` with symbol 0 (others are refused with their type
//!   number), every target's 8 bytes lie in one writable segment (for RELR,
//!   in its file part: the value to relocate is read from the file), and
//!   every relocated value fits in 64 bits; at most [`MAX_RELOCATIONS`].
//!
//! The kernel's side of the contract: reserve each [`Segment`]'s page
//! range with its protection, back it with zeroed pages, then call
//! [`LoadPlan::load`] (file bytes, then relocations, written through the
//! kernel's view of the new address space, so read-only and executable
//! pages are writable for it). Optionally make [`LoadPlan::relro`]
//! read-only afterwards.
//!
//! Self-relocating start code (glibc's and musl's static-PIE) applies
//! RELA again, which is harmless (a RELATIVE write is idempotent), but
//! RELR again, which is not (it adds the base twice): programs for this
//! loader must not relocate themselves. Bedrock's own programs do not.

pub mod stack;

#[cfg(test)]
mod builder;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::dynamic::{
    DT_JMPREL, DT_NEEDED, DT_NULL, DT_PLTREL, DT_PLTRELSZ, DT_REL, DT_RELA, DT_RELAENT, DT_RELASZ,
    DT_RELSZ, Dynamic,
};
use goblin::elf::header::{
    EI_CLASS, EI_DATA, EI_OSABI, EI_VERSION, ELFCLASS64, ELFDATA2LSB, ELFMAG, ELFOSABI_GNU,
    ELFOSABI_NONE, ELFOSABI_STANDALONE, EM_X86_64, ET_DYN, ET_EXEC, EV_CURRENT, Header, SELFMAG,
};
use goblin::elf::program_header::{
    PF_R, PF_W, PF_X, PT_DYNAMIC, PT_GNU_RELRO, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR, PT_TLS,
    ProgramHeader,
};
use goblin::elf::reloc::{R_X86_64_NONE, R_X86_64_RELATIVE, RelocSection};

use crate::mm::vmspace::{Prot, USER_END, USER_START};
use crate::mm::{PAGE_SIZE, align_down, align_up};

/// Most program headers accepted.
pub const MAX_PHDRS: usize = 128;
/// Most relocations (RELA and RELR together) accepted.
pub const MAX_RELOCATIONS: usize = 1 << 20;
/// `DT_RELRSZ`, `DT_RELR`, `DT_RELRENT` (not in goblin).
pub const DT_RELRSZ: u64 = 35;
pub const DT_RELR: u64 = 36;
pub const DT_RELRENT: u64 = 37;

const EHDR_SIZE: u16 = 64;
/// Size of an ELF64 program header (`AT_PHENT`).
pub const PHDR_SIZE: u16 = 56;
const RELA_SIZE: u64 = 24;
const RELR_SIZE: u64 = 8;

/// Why an ELF file cannot be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than an ELF header.
    TooSmall {
        len: usize,
    },
    BadMagic,
    NotElf64 {
        class: u8,
    },
    NotLittleEndian {
        data: u8,
    },
    BadVersion {
        version: u32,
    },
    BadOsAbi {
        abi: u8,
    },
    NotX86_64 {
        machine: u16,
    },
    /// Neither `ET_EXEC` nor `ET_DYN` (e.g. a relocatable object).
    BadType {
        e_type: u16,
    },
    /// `e_ehsize` or `e_phentsize` is not the ELF64 size.
    BadHeaderSize {
        ehsize: u16,
        phentsize: u16,
    },
    NoProgramHeaders,
    TooManyProgramHeaders {
        phnum: u16,
    },
    ProgramHeadersOutsideFile {
        phoff: u64,
        phnum: u16,
    },
    /// goblin refused a structure (with what it was parsing).
    Malformed(&'static str),
    /// `PT_INTERP`: the program wants a dynamic linker, which Bedrock does
    /// not have; link it static or static-PIE.
    NeedsInterpreter,
    /// `DT_NEEDED`: the program wants shared libraries.
    NeedsSharedLibraries,
    /// `PT_GNU_STACK` asks for an executable stack (W^X forbids it).
    ExecutableStack,
    /// A second `PT_TLS`, `PT_DYNAMIC`, `PT_PHDR`, `PT_GNU_RELRO` or
    /// `PT_GNU_STACK` (program header `index`).
    DuplicateSegment {
        index: usize,
        p_type: u32,
    },
    /// `p_align` is not a power of two.
    BadAlignment {
        index: usize,
        align: u64,
    },
    /// `p_vaddr` and `p_offset` disagree modulo `p_align` or the page size.
    Misaligned {
        index: usize,
    },
    FileSizeExceedsMemSize {
        index: usize,
    },
    /// `p_offset + p_filesz` is past the end of the file.
    OutsideFile {
        index: usize,
    },
    /// `p_vaddr + p_memsz` (or `p_offset + p_filesz`) overflows.
    AddressOverflow {
        index: usize,
    },
    /// A segment both writable and executable.
    WritableAndExecutable {
        index: usize,
    },
    /// Two segments share a page (program header indices).
    Overlap {
        first: usize,
        second: usize,
    },
    NoLoadableSegment,
    /// After relocation the image `[start, end)` leaves user space.
    OutsideUserSpace {
        start: u64,
        end: u64,
    },
    /// The static-PIE base is not aligned as the segments require.
    BadBase {
        base: u64,
        align: u64,
    },
    EntryNotExecutable {
        entry: u64,
    },
    /// `PT_PHDR` disagrees with `e_phoff` or is not loaded.
    BadPhdrSegment,
    /// The TLS template is malformed or not inside a loaded segment.
    BadTls,
    /// `PT_GNU_RELRO` is not inside one writable loaded segment.
    BadRelro,
    /// The dynamic section is unusable (why).
    BadDynamic(&'static str),
    /// A relocation type other than `R_X86_64_RELATIVE` (the type number
    /// and the link-time address it applies to).
    UnsupportedRelocation {
        r_type: u32,
        offset: u64,
    },
    /// A `R_X86_64_RELATIVE` with a symbol index.
    RelocationWithSymbol {
        offset: u64,
    },
    /// A relocation target (link-time address) outside the writable
    /// segments (or, for RELR, outside their file part).
    BadRelocationTarget {
        offset: u64,
    },
    /// Base plus addend does not fit in 64 bits.
    RelocationOverflow {
        offset: u64,
    },
    TooManyRelocations,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ElfError::*;
        match *self {
            TooSmall { len } => write!(f, "ELF: file of {len} bytes is too small"),
            BadMagic => f.write_str("ELF: not an ELF file (bad magic)"),
            NotElf64 { class } => write!(f, "ELF: class {class} is not ELF64"),
            NotLittleEndian { data } => write!(f, "ELF: data encoding {data} is not little-endian"),
            BadVersion { version } => write!(f, "ELF: version {version} is not 1"),
            BadOsAbi { abi } => write!(f, "ELF: OS ABI {abi} is not System V, GNU or standalone"),
            NotX86_64 { machine } => write!(f, "ELF: machine {machine} is not x86_64"),
            BadType { e_type } => {
                write!(
                    f,
                    "ELF: type {e_type} is not an executable (ET_EXEC or ET_DYN)"
                )
            }
            BadHeaderSize { ehsize, phentsize } => write!(
                f,
                "ELF: header size {ehsize} / program header size {phentsize} are not ELF64's"
            ),
            NoProgramHeaders => f.write_str("ELF: no program headers"),
            TooManyProgramHeaders { phnum } => {
                write!(f, "ELF: {phnum} program headers (at most {MAX_PHDRS})")
            }
            ProgramHeadersOutsideFile { phoff, phnum } => write!(
                f,
                "ELF: {phnum} program headers at {phoff:#x} run past the end of the file"
            ),
            Malformed(what) => write!(f, "ELF: malformed {what}"),
            NeedsInterpreter => f.write_str(
                "ELF: the program needs a dynamic linker (PT_INTERP); \
                 Bedrock runs only static and static-PIE executables",
            ),
            NeedsSharedLibraries => f.write_str(
                "ELF: the program needs shared libraries (DT_NEEDED); \
                 Bedrock runs only static and static-PIE executables",
            ),
            ExecutableStack => f.write_str("ELF: the program asks for an executable stack (W^X)"),
            DuplicateSegment { index, p_type } => {
                write!(
                    f,
                    "ELF: program header {index}: second segment of type {p_type:#x}"
                )
            }
            BadAlignment { index, align } => write!(
                f,
                "ELF: program header {index}: alignment {align:#x} is not a power of two"
            ),
            Misaligned { index } => write!(
                f,
                "ELF: program header {index}: address and file offset disagree modulo the alignment"
            ),
            FileSizeExceedsMemSize { index } => {
                write!(
                    f,
                    "ELF: program header {index}: file size exceeds memory size"
                )
            }
            OutsideFile { index } => {
                write!(
                    f,
                    "ELF: program header {index}: file range past the end of the file"
                )
            }
            AddressOverflow { index } => {
                write!(f, "ELF: program header {index}: address range overflows")
            }
            WritableAndExecutable { index } => write!(
                f,
                "ELF: program header {index}: segment is writable and executable (W^X)"
            ),
            Overlap { first, second } => write!(
                f,
                "ELF: segments of program headers {first} and {second} share a page"
            ),
            NoLoadableSegment => f.write_str("ELF: nothing to load"),
            OutsideUserSpace { start, end } => write!(
                f,
                "ELF: image {start:#x}..{end:#x} is outside user space \
                 ({USER_START:#x}..{USER_END:#x})"
            ),
            BadBase { base, align } => {
                write!(f, "ELF: load base {base:#x} is not aligned to {align:#x}")
            }
            EntryNotExecutable { entry } => {
                write!(
                    f,
                    "ELF: entry point {entry:#x} is not in an executable segment"
                )
            }
            BadPhdrSegment => f.write_str("ELF: PT_PHDR does not match the loaded program headers"),
            BadTls => f.write_str("ELF: bad TLS segment"),
            BadRelro => f.write_str("ELF: PT_GNU_RELRO is not inside a writable segment"),
            BadDynamic(why) => write!(f, "ELF: bad dynamic section: {why}"),
            UnsupportedRelocation { r_type, offset } => write!(
                f,
                "ELF: unsupported relocation type {r_type} at {offset:#x} \
                 (only R_X86_64_RELATIVE, type {R_X86_64_RELATIVE})"
            ),
            RelocationWithSymbol { offset } => {
                write!(f, "ELF: relative relocation at {offset:#x} names a symbol")
            }
            BadRelocationTarget { offset } => write!(
                f,
                "ELF: relocation target {offset:#x} is not inside a writable segment"
            ),
            RelocationOverflow { offset } => {
                write!(f, "ELF: relocated value at {offset:#x} overflows")
            }
            TooManyRelocations => write!(f, "ELF: more than {MAX_RELOCATIONS} relocations"),
        }
    }
}

impl core::error::Error for ElfError {}

/// How the file is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    /// `ET_EXEC`: at its link addresses.
    Static,
    /// `ET_DYN` without interpreter: at the chosen base.
    StaticPie,
}

/// A loadable segment, at its run-time address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_size: u64,
    pub file_offset: u64,
    pub file_size: u64,
    pub prot: Prot,
}

impl Segment {
    /// First page of the segment.
    pub const fn page_start(&self) -> u64 {
        align_down(self.vaddr, PAGE_SIZE)
    }

    /// End of the segment's last page (validated not to overflow).
    pub const fn page_end(&self) -> u64 {
        let end = match self.vaddr.checked_add(self.mem_size) {
            Some(e) => e,
            None => u64::MAX,
        };
        match align_up(end, PAGE_SIZE) {
            Some(e) => e,
            None => align_down(u64::MAX, PAGE_SIZE),
        }
    }

    /// Length of the page range to reserve.
    pub const fn page_len(&self) -> u64 {
        self.page_end() - self.page_start()
    }

    /// Whether `[addr, addr + len)` lies inside the segment's memory.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.vaddr
            && addr
                .checked_add(len)
                .is_some_and(|e| e <= self.vaddr.saturating_add(self.mem_size))
    }

    /// Whether `[addr, addr + len)` lies inside the file-backed part.
    fn contains_file(&self, addr: u64, len: u64) -> bool {
        addr >= self.vaddr
            && addr
                .checked_add(len)
                .is_some_and(|e| e <= self.vaddr.saturating_add(self.file_size))
    }

    /// The file bytes of the segment (`None` if `file` is not the file the
    /// plan was made from and is too short).
    pub fn file_bytes<'a>(&self, file: &'a [u8]) -> Option<&'a [u8]> {
        let start = usize::try_from(self.file_offset).ok()?;
        let len = usize::try_from(self.file_size).ok()?;
        file.get(start..start.checked_add(len)?)
    }
}

/// The TLS template (`PT_TLS`), at its run-time address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tls {
    /// Address of the initialisation image (inside a loaded segment).
    pub vaddr: u64,
    pub file_offset: u64,
    /// Bytes of initialised data (`.tdata`).
    pub file_size: u64,
    /// Total size of a thread's block (`.tdata` + `.tbss`).
    pub mem_size: u64,
    /// Alignment of a thread's block (a power of two, at least 1).
    pub align: u64,
}

/// The range the program wants read-only after relocation, at its
/// run-time address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relro {
    pub vaddr: u64,
    pub mem_size: u64,
}

impl Relro {
    /// The whole pages to make read-only `(start, len)`, as glibc rounds
    /// them (start down, end down); `None` if that is no page.
    pub fn pages(&self) -> Option<(u64, u64)> {
        let start = align_down(self.vaddr, PAGE_SIZE);
        let end = align_down(self.vaddr.saturating_add(self.mem_size), PAGE_SIZE);
        (end > start).then(|| (start, end - start))
    }
}

/// A relocation to perform: store `value` (8 bytes, little-endian) at the
/// user address `vaddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelocWrite {
    pub vaddr: u64,
    pub value: u64,
}

/// The kernel's view of the new address space while loading.
pub trait SegmentMemory {
    type Error;
    /// Writes `bytes` at user address `vaddr`. The loader only writes
    /// inside the plan's segments; pages not written must read as zero.
    fn write(&mut self, vaddr: u64, bytes: &[u8]) -> Result<(), Self::Error>;
}

/// Why [`LoadPlan::load`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError<E> {
    /// The file is not the one the plan was made from.
    Elf(ElfError),
    Memory(E),
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Elf(e) => e.fmt(f),
            LoadError::Memory(e) => write!(f, "ELF: writing the image: {e}"),
        }
    }
}

impl<E> From<ElfError> for LoadError<E> {
    fn from(e: ElfError) -> Self {
        LoadError::Elf(e)
    }
}

/// A file range of a relocation table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Table {
    offset: usize,
    size: usize,
}

/// Everything the kernel needs to load one ELF file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    pub kind: ElfKind,
    /// Run-time entry point (inside an executable segment).
    pub entry: u64,
    /// Added (modulo 2^64) to link-time addresses: 0 for static
    /// executables, the base for standard static-PIE (linked at 0).
    pub bias: u64,
    /// First page of the image (the lowest segment's).
    pub image_start: u64,
    /// End of the image's last page.
    pub image_end: u64,
    /// Loadable segments with a non-zero memory size, by address.
    pub segments: Vec<Segment>,
    pub tls: Option<Tls>,
    pub relro: Option<Relro>,
    /// Run-time address of the program headers (`AT_PHDR`), when they are
    /// in a loaded segment.
    pub phdr_vaddr: Option<u64>,
    /// Size of a program header (`AT_PHENT`).
    pub phent: u16,
    /// Number of program headers (`AT_PHNUM`).
    pub phnum: u16,
    /// Relocations [`LoadPlan::load`] will apply.
    pub relocation_count: usize,
    rela: Vec<Table>,
    relr: Option<Table>,
    /// The bias as a signed number, for overflow checks.
    bias_wide: i128,
}

fn read_u64(file: &[u8], offset: u64) -> Option<u64> {
    let start = usize::try_from(offset).ok()?;
    let bytes = file.get(start..start.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

fn check_header(file: &[u8]) -> Result<Header, ElfError> {
    if file.len() < usize::from(EHDR_SIZE) {
        return Err(ElfError::TooSmall { len: file.len() });
    }
    if &file[..SELFMAG] != ELFMAG {
        return Err(ElfError::BadMagic);
    }
    if file[EI_CLASS] != ELFCLASS64 {
        return Err(ElfError::NotElf64 {
            class: file[EI_CLASS],
        });
    }
    if file[EI_DATA] != ELFDATA2LSB {
        return Err(ElfError::NotLittleEndian {
            data: file[EI_DATA],
        });
    }
    if file[EI_VERSION] != EV_CURRENT {
        return Err(ElfError::BadVersion {
            version: u32::from(file[EI_VERSION]),
        });
    }
    if !matches!(
        file[EI_OSABI],
        ELFOSABI_NONE | ELFOSABI_GNU | ELFOSABI_STANDALONE
    ) {
        return Err(ElfError::BadOsAbi {
            abi: file[EI_OSABI],
        });
    }
    let h = goblin::elf::Elf::parse_header(file).map_err(|_| ElfError::Malformed("ELF header"))?;
    if h.e_version != u32::from(EV_CURRENT) {
        return Err(ElfError::BadVersion {
            version: h.e_version,
        });
    }
    if h.e_machine != EM_X86_64 {
        return Err(ElfError::NotX86_64 {
            machine: h.e_machine,
        });
    }
    if h.e_type != ET_EXEC && h.e_type != ET_DYN {
        return Err(ElfError::BadType { e_type: h.e_type });
    }
    if h.e_ehsize != EHDR_SIZE || h.e_phentsize != PHDR_SIZE {
        return Err(ElfError::BadHeaderSize {
            ehsize: h.e_ehsize,
            phentsize: h.e_phentsize,
        });
    }
    if h.e_phnum == 0 {
        return Err(ElfError::NoProgramHeaders);
    }
    if usize::from(h.e_phnum) > MAX_PHDRS {
        return Err(ElfError::TooManyProgramHeaders { phnum: h.e_phnum });
    }
    let end = h
        .e_phoff
        .checked_add(u64::from(h.e_phnum) * u64::from(PHDR_SIZE));
    if end.is_none_or(|e| e > file.len() as u64) {
        return Err(ElfError::ProgramHeadersOutsideFile {
            phoff: h.e_phoff,
            phnum: h.e_phnum,
        });
    }
    Ok(h)
}

/// Checks one `PT_LOAD` on its own.
fn check_load(index: usize, ph: &ProgramHeader, file_len: usize) -> Result<(), ElfError> {
    let align = ph.p_align;
    if align > 1 && !align.is_power_of_two() {
        return Err(ElfError::BadAlignment { index, align });
    }
    let congruent = |a: u64| ph.p_vaddr % a == ph.p_offset % a;
    if (align > 1 && !congruent(align)) || !congruent(PAGE_SIZE) {
        return Err(ElfError::Misaligned { index });
    }
    if ph.p_filesz > ph.p_memsz {
        return Err(ElfError::FileSizeExceedsMemSize { index });
    }
    let file_end = ph
        .p_offset
        .checked_add(ph.p_filesz)
        .ok_or(ElfError::AddressOverflow { index })?;
    // The page-rounded end must not overflow either.
    ph.p_vaddr
        .checked_add(ph.p_memsz)
        .and_then(|e| align_up(e, PAGE_SIZE))
        .ok_or(ElfError::AddressOverflow { index })?;
    if file_end > file_len as u64 {
        return Err(ElfError::OutsideFile { index });
    }
    if ph.p_flags & PF_W != 0 && ph.p_flags & PF_X != 0 {
        return Err(ElfError::WritableAndExecutable { index });
    }
    Ok(())
}

fn prot_of(flags: u32) -> Prot {
    let mut p = Prot::NONE;
    if flags & PF_R != 0 {
        p = p | Prot::READ;
    }
    if flags & PF_W != 0 {
        p = p | Prot::WRITE;
    }
    if flags & PF_X != 0 {
        p = p | Prot::EXEC;
    }
    p
}

fn set_once(slot: &mut Option<usize>, index: usize, p_type: u32) -> Result<(), ElfError> {
    if slot.replace(index).is_some() {
        return Err(ElfError::DuplicateSegment { index, p_type });
    }
    Ok(())
}

/// The dynamic tags the loader reads.
#[derive(Default)]
struct DynTags {
    rela: Option<u64>,
    relasz: Option<u64>,
    relaent: Option<u64>,
    jmprel: Option<u64>,
    pltrelsz: Option<u64>,
    pltrel: Option<u64>,
    relr: Option<u64>,
    relrsz: Option<u64>,
    relrent: Option<u64>,
}

impl DynTags {
    fn set(slot: &mut Option<u64>, v: u64) -> Result<(), ElfError> {
        if slot.replace(v).is_some() {
            return Err(ElfError::BadDynamic("a relocation tag appears twice"));
        }
        Ok(())
    }
}

/// Reads the `_DYNAMIC` array of `phdrs[index]`.
fn read_dynamic(
    file: &[u8],
    phdrs: &[ProgramHeader],
    index: usize,
    ctx: Ctx,
) -> Result<DynTags, ElfError> {
    let ph = &phdrs[index];
    let end = ph.p_offset.checked_add(ph.p_filesz);
    if end.is_none_or(|e| e > file.len() as u64) {
        return Err(ElfError::OutsideFile { index });
    }
    // goblin reads the first PT_DYNAMIC, which is this one (there is only
    // one).
    let dynamic = Dynamic::parse(file, phdrs, ctx)
        .map_err(|_| ElfError::Malformed("dynamic section"))?
        .ok_or(ElfError::Malformed("dynamic section"))?;
    if dynamic.dyns.last().is_none_or(|d| d.d_tag != DT_NULL) {
        return Err(ElfError::BadDynamic("no DT_NULL at the end"));
    }
    let mut t = DynTags::default();
    for d in &dynamic.dyns {
        let v = d.d_val;
        match d.d_tag {
            DT_NEEDED => return Err(ElfError::NeedsSharedLibraries),
            DT_RELA => DynTags::set(&mut t.rela, v)?,
            DT_RELASZ => DynTags::set(&mut t.relasz, v)?,
            DT_RELAENT => DynTags::set(&mut t.relaent, v)?,
            DT_JMPREL => DynTags::set(&mut t.jmprel, v)?,
            DT_PLTRELSZ => DynTags::set(&mut t.pltrelsz, v)?,
            DT_PLTREL => DynTags::set(&mut t.pltrel, v)?,
            DT_RELR => DynTags::set(&mut t.relr, v)?,
            DT_RELRSZ => DynTags::set(&mut t.relrsz, v)?,
            DT_RELRENT => DynTags::set(&mut t.relrent, v)?,
            DT_REL | DT_RELSZ if v != 0 => {
                return Err(ElfError::BadDynamic(
                    "DT_REL relocations (x86_64 uses DT_RELA)",
                ));
            }
            _ => {}
        }
    }
    Ok(t)
}

/// The file range of a table at link-time address `addr`, which must lie in
/// the file part of a loaded (link-time) segment.
fn table_at(
    loads: &[(usize, ProgramHeader)],
    addr: u64,
    size: u64,
    what: &'static str,
) -> Result<Table, ElfError> {
    for (_, ph) in loads {
        let seg_file_end = ph.p_vaddr + ph.p_filesz;
        let inside =
            addr >= ph.p_vaddr && addr.checked_add(size).is_some_and(|e| e <= seg_file_end);
        if inside {
            // In range of the file: checked by `check_load`.
            let offset = ph.p_offset + (addr - ph.p_vaddr);
            return Ok(Table {
                offset: offset as usize,
                size: size as usize,
            });
        }
    }
    Err(ElfError::BadDynamic(what))
}

/// Table `(addr, size)` from an address tag, a size tag and an entry-size
/// tag; `None` if neither address nor size is given.
fn table(
    loads: &[(usize, ProgramHeader)],
    addr: Option<u64>,
    size: Option<u64>,
    ent: Option<u64>,
    ent_size: u64,
    what: &'static str,
) -> Result<Option<Table>, ElfError> {
    if ent.is_some_and(|e| e != ent_size) {
        return Err(ElfError::BadDynamic(what));
    }
    match (addr, size) {
        (None, None) | (_, Some(0)) => Ok(None),
        (Some(a), Some(s)) if s % ent_size == 0 => table_at(loads, a, s, what).map(Some),
        _ => Err(ElfError::BadDynamic(what)),
    }
}

/// The checked header and the program headers of `file`.
fn headers(file: &[u8]) -> Result<(Header, Vec<ProgramHeader>), ElfError> {
    let header = check_header(file)?;
    let ctx = Ctx::new(Container::Big, Endian::Little);
    let phdrs = ProgramHeader::parse(
        file,
        header.e_phoff as usize,
        usize::from(header.e_phnum),
        ctx,
    )
    .map_err(|_| ElfError::Malformed("program headers"))?;
    Ok((header, phdrs))
}

/// Plans loading `file`. For static-PIE the image's lowest page goes to
/// `pie_base`, which must be page-aligned and keep every segment's
/// `p_align` (typically 4 KiB, sometimes 2 MiB); [`required_alignment`]
/// tells it in advance. For static executables `pie_base` is ignored.
pub fn plan(file: &[u8], pie_base: u64) -> Result<LoadPlan, ElfError> {
    let (header, phdrs) = headers(file)?;
    let ctx = Ctx::new(Container::Big, Endian::Little);

    let mut loads: Vec<(usize, ProgramHeader)> = Vec::new();
    let (mut tls, mut dynamic, mut phdr, mut relro, mut stack) = (None, None, None, None, None);
    for (i, ph) in phdrs.iter().enumerate() {
        match ph.p_type {
            PT_LOAD => {
                check_load(i, ph, file.len())?;
                if ph.p_memsz > 0 {
                    loads.push((i, ph.clone()));
                }
            }
            PT_INTERP => return Err(ElfError::NeedsInterpreter),
            PT_DYNAMIC => set_once(&mut dynamic, i, ph.p_type)?,
            PT_TLS => set_once(&mut tls, i, ph.p_type)?,
            PT_PHDR => set_once(&mut phdr, i, ph.p_type)?,
            PT_GNU_RELRO => set_once(&mut relro, i, ph.p_type)?,
            PT_GNU_STACK => {
                set_once(&mut stack, i, ph.p_type)?;
                if ph.p_flags & PF_X != 0 {
                    return Err(ElfError::ExecutableStack);
                }
            }
            _ => {}
        }
    }
    if loads.is_empty() {
        return Err(ElfError::NoLoadableSegment);
    }
    loads.sort_by_key(|(_, ph)| ph.p_vaddr);
    let page_end = |ph: &ProgramHeader| align_up(ph.p_vaddr + ph.p_memsz, PAGE_SIZE).unwrap_or(0);
    for pair in loads.windows(2) {
        let ((i, a), (j, b)) = (&pair[0], &pair[1]);
        if page_end(a) > align_down(b.p_vaddr, PAGE_SIZE) {
            return Err(ElfError::Overlap {
                first: *i,
                second: *j,
            });
        }
    }

    // Placement: [link_start, link_end) goes to [start, start + span).
    let link_start = align_down(loads[0].1.p_vaddr, PAGE_SIZE);
    let link_end = page_end(&loads[loads.len() - 1].1);
    let span = link_end - link_start;
    let (kind, start) = if header.e_type == ET_EXEC {
        (ElfKind::Static, link_start)
    } else {
        let align = loads
            .iter()
            .map(|(_, ph)| ph.p_align)
            .fold(PAGE_SIZE, u64::max);
        if pie_base % align != link_start % align {
            return Err(ElfError::BadBase {
                base: pie_base,
                align,
            });
        }
        (ElfKind::StaticPie, pie_base)
    };
    let end = start.checked_add(span);
    if start < USER_START || end.is_none_or(|e| e > USER_END) {
        return Err(ElfError::OutsideUserSpace {
            start,
            end: end.unwrap_or(u64::MAX),
        });
    }
    let bias = start.wrapping_sub(link_start);
    let bias_wide = i128::from(start) - i128::from(link_start);
    let at = |link: u64| link.wrapping_add(bias);

    let entry = header.e_entry;
    let entry_ok = loads.iter().any(|(_, ph)| {
        ph.p_flags & PF_X != 0 && entry >= ph.p_vaddr && entry - ph.p_vaddr < ph.p_memsz
    });
    if !entry_ok {
        return Err(ElfError::EntryNotExecutable { entry });
    }

    // Program headers: where the loaded image holds them.
    let table_len = u64::from(header.e_phnum) * u64::from(PHDR_SIZE);
    let phdr_link = loads.iter().find_map(|(_, ph)| {
        let inside = header.e_phoff >= ph.p_offset
            && header.e_phoff + table_len <= ph.p_offset + ph.p_filesz;
        inside.then(|| ph.p_vaddr + (header.e_phoff - ph.p_offset))
    });
    if let Some(i) = phdr {
        let ph = &phdrs[i];
        if ph.p_offset != header.e_phoff || ph.p_filesz < table_len || phdr_link != Some(ph.p_vaddr)
        {
            return Err(ElfError::BadPhdrSegment);
        }
    }

    let segments: Vec<Segment> = loads
        .iter()
        .map(|(_, ph)| Segment {
            vaddr: at(ph.p_vaddr),
            mem_size: ph.p_memsz,
            file_offset: ph.p_offset,
            file_size: ph.p_filesz,
            prot: prot_of(ph.p_flags),
        })
        .collect();

    let tls = match tls {
        None => None,
        Some(i) => Some(check_tls(&phdrs[i], &loads, at)?),
    };

    let relro = match relro {
        None => None,
        Some(i) => {
            let ph = &phdrs[i];
            // It starts in a writable segment and ends in that segment's
            // last page: lld pads RELRO to a page boundary beyond
            // `p_memsz`.
            let ok = loads.iter().any(|(_, l)| {
                l.p_flags & PF_W != 0
                    && ph.p_vaddr >= l.p_vaddr
                    && ph.p_vaddr - l.p_vaddr < l.p_memsz
                    && ph
                        .p_vaddr
                        .checked_add(ph.p_memsz)
                        .is_some_and(|e| e <= page_end(l))
            });
            if !ok {
                return Err(ElfError::BadRelro);
            }
            Some(Relro {
                vaddr: at(ph.p_vaddr),
                mem_size: ph.p_memsz,
            })
        }
    };

    let (mut rela, mut relr) = (Vec::new(), None);
    if let Some(i) = dynamic {
        let t = read_dynamic(file, &phdrs, i, ctx)?;
        if let Some(tab) = table(
            &loads,
            t.rela,
            t.relasz,
            t.relaent,
            RELA_SIZE,
            "bad DT_RELA table",
        )? {
            rela.push(tab);
        }
        if t.pltrel.is_some_and(|p| p != DT_RELA) {
            return Err(ElfError::BadDynamic("DT_PLTREL is not DT_RELA"));
        }
        if let Some(tab) = table(
            &loads,
            t.jmprel,
            t.pltrelsz,
            None,
            RELA_SIZE,
            "bad DT_JMPREL table",
        )? {
            rela.push(tab);
        }
        relr = table(
            &loads,
            t.relr,
            t.relrsz,
            t.relrent,
            RELR_SIZE,
            "bad DT_RELR table",
        )?;
    }

    let mut plan = LoadPlan {
        kind,
        entry: at(entry),
        bias,
        image_start: start,
        image_end: start + span,
        segments,
        tls,
        relro,
        phdr_vaddr: phdr_link.map(at),
        phent: PHDR_SIZE,
        phnum: header.e_phnum,
        relocation_count: 0,
        rela,
        relr,
        bias_wide,
    };
    let mut count = 0usize;
    plan.for_each_relocation(file, |_| {
        count += 1;
        if count > MAX_RELOCATIONS {
            return Err(ElfError::TooManyRelocations);
        }
        Ok(())
    })?;
    plan.relocation_count = count;
    Ok(plan)
}

fn check_tls(
    ph: &ProgramHeader,
    loads: &[(usize, ProgramHeader)],
    at: impl Fn(u64) -> u64,
) -> Result<Tls, ElfError> {
    let align = ph.p_align.max(1);
    if !align.is_power_of_two() || ph.p_filesz > ph.p_memsz {
        return Err(ElfError::BadTls);
    }
    ph.p_vaddr.checked_add(ph.p_memsz).ok_or(ElfError::BadTls)?;
    // The template must be in memory, where the program copies it from.
    let inside = loads.iter().any(|(_, l)| {
        ph.p_vaddr >= l.p_vaddr
            && ph.p_vaddr + ph.p_filesz <= l.p_vaddr + l.p_filesz
            && ph.p_offset == l.p_offset + (ph.p_vaddr - l.p_vaddr)
    });
    if !inside {
        return Err(ElfError::BadTls);
    }
    Ok(Tls {
        vaddr: at(ph.p_vaddr),
        file_offset: ph.p_offset,
        file_size: ph.p_filesz,
        mem_size: ph.p_memsz,
        align,
    })
}

/// The alignment the static-PIE base passed to [`plan`] needs (the largest
/// `p_align` of the loadable segments with a non-zero memory size, at least
/// the page size), or the
/// error [`plan`] would give for a file it cannot parse that far.
pub fn required_alignment(file: &[u8]) -> Result<u64, ElfError> {
    let (_, phdrs) = headers(file)?;
    let mut align = PAGE_SIZE;
    for (i, ph) in phdrs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.p_type == PT_LOAD)
    {
        check_load(i, ph, file.len())?;
        // As in `plan`: a segment of no memory is not loaded, so its
        // alignment constrains nothing.
        if ph.p_memsz > 0 {
            align = align.max(ph.p_align);
        }
    }
    Ok(align)
}

impl LoadPlan {
    /// The segment containing all of `[addr, addr + len)` (run-time).
    pub fn segment_at(&self, addr: u64, len: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| s.contains(addr, len))
    }

    /// Calls `f` with every relocation write, validating each one. `file`
    /// must be the file the plan was made from; any other gives an error,
    /// never a bad write outside the writable segments.
    fn for_each_relocation<E: From<ElfError>>(
        &self,
        file: &[u8],
        mut f: impl FnMut(RelocWrite) -> Result<(), E>,
    ) -> Result<(), E> {
        let ctx = Ctx::new(Container::Big, Endian::Little);
        let writable_target = |link: u64, in_file: bool| -> Result<&Segment, ElfError> {
            let addr = link.wrapping_add(self.bias);
            self.segments
                .iter()
                .find(|s| {
                    s.prot.contains(Prot::WRITE)
                        && if in_file {
                            s.contains_file(addr, 8)
                        } else {
                            s.contains(addr, 8)
                        }
                })
                .ok_or(ElfError::BadRelocationTarget { offset: link })
        };
        let value = |link: u64, v: i128| -> Result<u64, ElfError> {
            u64::try_from(self.bias_wide + v)
                .map_err(|_| ElfError::RelocationOverflow { offset: link })
        };
        for t in &self.rela {
            let section = RelocSection::parse(file, t.offset, t.size, true, ctx)
                .map_err(|_| ElfError::Malformed("relocation table"))?;
            for r in section.iter() {
                if r.r_type == R_X86_64_NONE {
                    continue;
                }
                if r.r_type != R_X86_64_RELATIVE {
                    return Err(ElfError::UnsupportedRelocation {
                        r_type: r.r_type,
                        offset: r.r_offset,
                    }
                    .into());
                }
                if r.r_sym != 0 {
                    return Err(ElfError::RelocationWithSymbol { offset: r.r_offset }.into());
                }
                writable_target(r.r_offset, false)?;
                let addend = r.r_addend.unwrap_or(0);
                f(RelocWrite {
                    vaddr: r.r_offset.wrapping_add(self.bias),
                    value: value(r.r_offset, i128::from(addend))?,
                })?;
            }
        }
        if let Some(t) = self.relr {
            let bytes = file
                .get(t.offset..t.offset.saturating_add(t.size))
                .ok_or(ElfError::Malformed("relocation table"))?;
            // Link-time address of the next word a bitmap entry covers.
            let mut next: Option<u64> = None;
            let mut apply = |link: u64| -> Result<(), E> {
                let seg = writable_target(link, true)?;
                let addr = link.wrapping_add(self.bias);
                let orig = read_u64(file, seg.file_offset + (addr - seg.vaddr))
                    .ok_or(ElfError::Malformed("relocation target"))?;
                f(RelocWrite {
                    vaddr: addr,
                    value: value(link, i128::from(orig))?,
                })
            };
            for word in bytes.chunks_exact(8) {
                let entry = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
                if entry & 1 == 0 {
                    apply(entry)?;
                    next = entry.checked_add(8);
                } else {
                    let base = next.ok_or(ElfError::BadDynamic(
                        "DT_RELR bitmap without a preceding address",
                    ))?;
                    for bit in 1..64u64 {
                        if (entry >> bit) & 1 != 0 {
                            let link = base
                                .checked_add((bit - 1) * 8)
                                .ok_or(ElfError::BadRelocationTarget { offset: base })?;
                            apply(link)?;
                        }
                    }
                    next = base.checked_add(63 * 8);
                }
            }
        }
        Ok(())
    }

    /// The relocation writes, in table order (RELA, JMPREL, then RELR).
    pub fn relocation_writes(&self, file: &[u8]) -> Result<Vec<RelocWrite>, ElfError> {
        let mut out = Vec::with_capacity(self.relocation_count);
        self.for_each_relocation(file, |w| {
            out.push(w);
            Ok::<(), ElfError>(())
        })?;
        Ok(out)
    }

    /// Copies each segment's file bytes to its address.
    pub fn write_segments<M: SegmentMemory>(
        &self,
        file: &[u8],
        mem: &mut M,
    ) -> Result<(), LoadError<M::Error>> {
        for s in self.segments.iter().filter(|s| s.file_size > 0) {
            let bytes = s
                .file_bytes(file)
                .ok_or(ElfError::Malformed("segment outside the file"))?;
            mem.write(s.vaddr, bytes).map_err(LoadError::Memory)?;
        }
        Ok(())
    }

    /// Applies the relocations through `mem`; returns how many.
    pub fn apply_relocations<M: SegmentMemory>(
        &self,
        file: &[u8],
        mem: &mut M,
    ) -> Result<usize, LoadError<M::Error>> {
        let mut n = 0;
        self.for_each_relocation(file, |w| {
            n += 1;
            mem.write(w.vaddr, &w.value.to_le_bytes())
                .map_err(LoadError::Memory)
        })?;
        Ok(n)
    }

    /// [`write_segments`](Self::write_segments), then
    /// [`apply_relocations`](Self::apply_relocations): the whole image,
    /// given zeroed memory behind every segment. Returns the number of
    /// relocations applied.
    pub fn load<M: SegmentMemory>(
        &self,
        file: &[u8],
        mem: &mut M,
    ) -> Result<usize, LoadError<M::Error>> {
        self.write_segments(file, mem)?;
        self.apply_relocations(file, mem)
    }

    /// The auxiliary-vector entries that describe this image:
    /// `AT_PHDR` (when the program headers are loaded), `AT_PHENT`,
    /// `AT_PHNUM`, `AT_PAGESZ`, `AT_BASE` (0: there is no interpreter)
    /// and `AT_ENTRY`. The program finds its TLS template through
    /// `AT_PHDR` (`PT_TLS`), as on Linux; the load bias is
    /// `AT_ENTRY - e_entry` or `AT_PHDR - PT_PHDR.p_vaddr`.
    pub fn auxv(&self) -> Vec<(u64, u64)> {
        use bedrock_abi::auxv::*;
        let mut v = Vec::with_capacity(6);
        if let Some(p) = self.phdr_vaddr {
            v.push((AT_PHDR, p));
        }
        v.push((AT_PHENT, u64::from(self.phent)));
        v.push((AT_PHNUM, u64::from(self.phnum)));
        v.push((AT_PAGESZ, PAGE_SIZE));
        v.push((AT_BASE, 0));
        v.push((AT_ENTRY, self.entry));
        v
    }
}
