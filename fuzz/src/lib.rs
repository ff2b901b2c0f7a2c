//! Fuzz targets for Bedrock's parsers and decoders of untrusted input.
//!
//! Each target is a function `fn(&[u8])` that feeds the input to the code
//! under test and checks its invariants: it returns normally for every
//! input the code handles correctly (accepted or refused) and panics on a
//! bug. `fuzz_targets/<target>.rs` hands them to libFuzzer (`cargo fuzz`,
//! nightly); `tests/corpus.rs` runs the checked-in corpus
//! (`corpus/<target>/`) through them under plain `cargo test`.
//!
//! | target | code under test |
//! |---|---|
//! | [`elf_plan`] | `bedrock::elf::plan` and loading the plan (the kernel's ELF loader) |
//! | [`silo_spawn`] | `SiloSpawn`'s checks: `bedrock_abi::silo::{unpack, valid_name, may_grant}` |
//! | [`wasi_path`] | the runtime silo's WASI path resolution (`wasi::path::resolve`), through the `path_*` functions |
//! | [`boot_archive`] | `bedrock_initrd::Archive::parse` |
//! | [`boot_manifest`] | `runtime_silo::boot::{Manifest::parse, App::parse_spec}` |
//! | [`kernel_cmdline`] | `bedrock::boot::pvh` reading the command line, `bedrock::boot::cmdline::Cmdline::parse` |
//! | [`scheme_request`] | `bedrock_abi::user::scheme::server::decode` |

mod archive;
mod cmdline;
mod elf;
mod manifest;
mod scheme;
mod silo;
mod wasi;

pub use archive::boot_archive;
pub use cmdline::kernel_cmdline;
pub use elf::elf_plan;
pub use manifest::boot_manifest;
pub use scheme::scheme_request;
pub use silo::silo_spawn;
pub use wasi::wasi_path;

/// A target: returns for every input handled correctly, panics on a bug.
pub type Target = fn(&[u8]);

/// Every target, by name (the names of `fuzz_targets/` and `corpus/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("elf_plan", elf_plan),
    ("silo_spawn", silo_spawn),
    ("wasi_path", wasi_path),
    ("boot_archive", boot_archive),
    ("boot_manifest", boot_manifest),
    ("kernel_cmdline", kernel_cmdline),
    ("scheme_request", scheme_request),
];

/// Reads little-endian integers from the front of a fuzz input; past its
/// end every value is zero.
#[derive(Debug)]
pub(crate) struct Bytes<'a> {
    rest: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Bytes { rest: data }
    }

    pub(crate) fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        let head = self.take(N);
        a[..head.len()].copy_from_slice(head);
        a
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// What is left.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }
}
