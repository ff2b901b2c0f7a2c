//! A tiny ELF64 writer for tests: every field is explicit and can be set
//! to a bad value, so the tests build exactly the malformed file they mean.

use alloc::vec::Vec;

pub use goblin::elf::header::{ET_DYN, ET_EXEC};
pub use goblin::elf::program_header::{
    PT_DYNAMIC, PT_GNU_RELRO, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR, PT_TLS,
};
pub const R: u32 = 4;
pub const W: u32 = 2;
pub const X: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phdr {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

impl Phdr {
    pub fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Self {
        Phdr {
            p_type: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
            align: 0x1000,
        }
    }

    pub fn other(p_type: u32, flags: u32, offset: u64, vaddr: u64, size: u64) -> Self {
        Phdr {
            p_type,
            flags,
            offset,
            vaddr,
            filesz: size,
            memsz: size,
            align: 8,
        }
    }
}

/// An ELF file under construction: header fields, program headers (written
/// at `phoff`) and content bytes at chosen offsets.
#[derive(Clone, Debug)]
pub struct Builder {
    pub ident: [u8; 16],
    pub e_type: u16,
    pub machine: u16,
    pub version: u32,
    pub entry: u64,
    pub phoff: u64,
    pub ehsize: u16,
    pub phentsize: u16,
    /// `None`: the number of `phdrs`.
    pub phnum: Option<u16>,
    pub phdrs: Vec<Phdr>,
    /// The file without header and program headers (they are written over
    /// its start by `build`).
    pub body: Vec<u8>,
}

impl Builder {
    pub fn new(e_type: u16, entry: u64) -> Self {
        let mut ident = [0u8; 16];
        ident[..4].copy_from_slice(b"\x7fELF");
        ident[4] = 2; // ELFCLASS64
        ident[5] = 1; // little-endian
        ident[6] = 1; // EV_CURRENT
        Builder {
            ident,
            e_type,
            machine: 62,
            version: 1,
            entry,
            phoff: 64,
            ehsize: 64,
            phentsize: 56,
            phnum: None,
            phdrs: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn phdr(&mut self, p: Phdr) -> &mut Self {
        self.phdrs.push(p);
        self
    }

    /// Puts `bytes` at file offset `at`, growing the file as needed.
    pub fn put(&mut self, at: u64, bytes: &[u8]) -> &mut Self {
        let at = at as usize;
        if self.body.len() < at + bytes.len() {
            self.body.resize(at + bytes.len(), 0);
        }
        self.body[at..at + bytes.len()].copy_from_slice(bytes);
        self
    }

    pub fn put_u64(&mut self, at: u64, v: u64) -> &mut Self {
        self.put(at, &v.to_le_bytes())
    }

    /// Puts a `_DYNAMIC` array of `(tag, value)` pairs (add the DT_NULL).
    pub fn put_dyn(&mut self, at: u64, entries: &[(u64, u64)]) -> &mut Self {
        for (i, &(tag, val)) in entries.iter().enumerate() {
            self.put_u64(at + 16 * i as u64, tag);
            self.put_u64(at + 16 * i as u64 + 8, val);
        }
        self
    }

    /// Puts RELA entries `(offset, type, sym, addend)`.
    pub fn put_rela(&mut self, at: u64, entries: &[(u64, u32, u32, i64)]) -> &mut Self {
        for (i, &(offset, ty, sym, addend)) in entries.iter().enumerate() {
            let base = at + 24 * i as u64;
            self.put_u64(base, offset);
            self.put_u64(base + 8, (u64::from(sym) << 32) | u64::from(ty));
            self.put_u64(base + 16, addend as u64);
        }
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = self.body.clone();
        let ph_end = self.phoff as usize + 56 * self.phdrs.len();
        if out.len() < ph_end.max(64) {
            out.resize(ph_end.max(64), 0);
        }
        out[..16].copy_from_slice(&self.ident);
        let mut put = |at: usize, b: &[u8]| out[at..at + b.len()].copy_from_slice(b);
        put(16, &self.e_type.to_le_bytes());
        put(18, &self.machine.to_le_bytes());
        put(20, &self.version.to_le_bytes());
        put(24, &self.entry.to_le_bytes());
        put(32, &self.phoff.to_le_bytes());
        put(40, &0u64.to_le_bytes()); // e_shoff
        put(48, &0u32.to_le_bytes()); // e_flags
        put(52, &self.ehsize.to_le_bytes());
        put(54, &self.phentsize.to_le_bytes());
        let phnum = self.phnum.unwrap_or(self.phdrs.len() as u16);
        put(56, &phnum.to_le_bytes());
        put(58, &64u16.to_le_bytes()); // e_shentsize
        put(60, &0u16.to_le_bytes()); // e_shnum
        put(62, &0u16.to_le_bytes()); // e_shstrndx
        for (i, p) in self.phdrs.iter().enumerate() {
            let at = self.phoff as usize + 56 * i;
            put(at, &p.p_type.to_le_bytes());
            put(at + 4, &p.flags.to_le_bytes());
            put(at + 8, &p.offset.to_le_bytes());
            put(at + 16, &p.vaddr.to_le_bytes());
            put(at + 24, &p.vaddr.to_le_bytes()); // p_paddr
            put(at + 32, &p.filesz.to_le_bytes());
            put(at + 40, &p.memsz.to_le_bytes());
            put(at + 48, &p.align.to_le_bytes());
        }
        out
    }
}
