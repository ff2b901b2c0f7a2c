//! Auxiliary vector keys the loader puts on a new program's stack (System V
//! numbering, plus Bedrock's own above 0x1000).

pub const AT_NULL: u64 = 0;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_ENTRY: u64 = 9;
/// Address of 16 random bytes.
pub const AT_RANDOM: u64 = 25;
/// Bedrock: the silo's id.
pub const AT_BEDROCK_SILO: u64 = 0x1000;
