//! The initial user stack of a new program, as the System V x86_64 ABI
//! (§3.4.1) lays it out, built as bytes for the kernel to copy to the top
//! of the user stack.
//!
//! Layout, from the stack top down (addresses decrease):
//!
//! ```text
//! top ->  16 random bytes                     (AT_RANDOM points here)
//!         argv strings, then envp strings, NUL-terminated, in order
//!         zero padding so that rsp ends up 16-byte aligned
//!         auxv: (key, value) pairs, the caller's, then AT_RANDOM, AT_NULL
//!         0
//!         envp[envc - 1] .. envp[0]            (pointers, upward order)
//!         0
//!         argv[argc - 1] .. argv[0]
//! rsp ->  argc
//! ```
//!
//! Invariants: `rsp` is 16-byte aligned and points at `argc`, as the ABI
//! requires at process entry (there is no return address: `_start` must
//! not `ret`); every pointer in the image points into the image; the image
//! is exactly `[rsp, top)`; strings never contain a NUL of their own (an
//! error otherwise, as the program would see them cut short).
//!
//! There is no Bedrock-specific auxv entry for TLS: the program finds its
//! `PT_TLS` through `AT_PHDR`, as on Linux. The caller passes the image's
//! entries ([`LoadPlan::auxv`](super::LoadPlan::auxv)) and its own (e.g.
//! `AT_BEDROCK_SILO`); this module adds `AT_RANDOM` and `AT_NULL`.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use bedrock_abi::auxv::{AT_NULL, AT_RANDOM};

use crate::mm::vmspace::{USER_END, USER_START};

/// The bytes to copy to `[start, start + image.len())` and the initial
/// `rsp` (equal to `start`: the image begins at `argc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialStack {
    pub image: Vec<u8>,
    pub start: u64,
    pub rsp: u64,
    /// User address of `argv[0]`'s pointer (`rsp + 8`), for convenience.
    pub argv: u64,
    /// User address of `envp[0]`'s pointer.
    pub envp: u64,
}

/// Why the initial stack cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// The top is not 16-byte aligned or not in `(USER_START, USER_END]`.
    BadTop(u64),
    /// `argv[index]` contains a NUL byte.
    NulInArg { index: usize },
    /// `envp[index]` contains a NUL byte.
    NulInEnv { index: usize },
    /// The caller passed `AT_NULL` or `AT_RANDOM`, which this module adds.
    ReservedAuxKey(u64),
    /// The image would need more than `limit` bytes (or leave user space).
    TooLarge { needed: u64, limit: u64 },
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StackError::BadTop(t) => {
                write!(f, "stack top {t:#x} is unaligned or not in user space")
            }
            StackError::NulInArg { index } => write!(f, "argument {index} contains a NUL byte"),
            StackError::NulInEnv { index } => {
                write!(f, "environment entry {index} contains a NUL byte")
            }
            StackError::ReservedAuxKey(k) => {
                write!(f, "auxiliary vector key {k} is reserved to the loader")
            }
            StackError::TooLarge { needed, limit } => write!(
                f,
                "initial stack needs {needed} bytes, more than the {limit} allowed"
            ),
        }
    }
}

impl core::error::Error for StackError {}

/// Builds the initial stack below `top` (16-byte aligned, user space) for
/// `argv`, `envp` and the auxiliary entries `auxv` (without `AT_RANDOM`
/// and `AT_NULL`, which are added, `AT_RANDOM` pointing at `random`). The
/// image may take at most `limit` bytes (e.g. the stack region's size
/// minus what the program needs to start).
pub fn initial_stack<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    top: u64,
    argv: &[A],
    envp: &[E],
    auxv: &[(u64, u64)],
    random: &[u8; 16],
    limit: u64,
) -> Result<InitialStack, StackError> {
    if !top.is_multiple_of(16) || top <= USER_START || top > USER_END {
        return Err(StackError::BadTop(top));
    }
    if let Some(i) = argv.iter().position(|a| a.as_ref().contains(&0)) {
        return Err(StackError::NulInArg { index: i });
    }
    if let Some(i) = envp.iter().position(|e| e.as_ref().contains(&0)) {
        return Err(StackError::NulInEnv { index: i });
    }
    if let Some(&(k, _)) = auxv.iter().find(|(k, _)| *k == AT_NULL || *k == AT_RANDOM) {
        return Err(StackError::ReservedAuxKey(k));
    }

    // Sizes in u64 with saturation: an absurd request fails the limit
    // check below instead of wrapping.
    let too_large = |needed: u64| StackError::TooLarge { needed, limit };
    let strings: u64 = argv
        .iter()
        .map(|a| a.as_ref().len() as u64 + 1)
        .chain(envp.iter().map(|e| e.as_ref().len() as u64 + 1))
        .fold(16, u64::saturating_add);
    let words = (argv.len() as u64)
        .saturating_add(envp.len() as u64)
        .saturating_add(auxv.len() as u64 * 2)
        .saturating_add(3 + 4); // argc, two NULLs, AT_RANDOM, AT_NULL
    let below = strings.saturating_add(words.saturating_mul(8));
    let rsp = top
        .checked_sub(below)
        .map(|v| v & !15)
        .filter(|&v| v >= USER_START)
        .ok_or(too_large(below))?;
    let size = top - rsp;
    if size > limit {
        return Err(too_large(size));
    }

    // From here every size fits: `size <= limit` and the image is in
    // user space, so offsets below are in bounds.
    let mut image = vec![0u8; size as usize];
    let off = |addr: u64| (addr - rsp) as usize;
    let random_at = top - 16;
    image[off(random_at)..].copy_from_slice(random);

    let mut str_at = top - strings;
    let mut put_strings = |list: &mut dyn Iterator<Item = &[u8]>, image: &mut Vec<u8>| {
        let mut ptrs = Vec::new();
        for s in list {
            let o = off(str_at);
            image[o..o + s.len()].copy_from_slice(s);
            ptrs.push(str_at);
            str_at += s.len() as u64 + 1;
        }
        ptrs
    };
    let argv_ptrs = put_strings(&mut argv.iter().map(AsRef::as_ref), &mut image);
    let envp_ptrs = put_strings(&mut envp.iter().map(AsRef::as_ref), &mut image);

    let mut words: Vec<u64> = Vec::with_capacity(words as usize);
    words.push(argv.len() as u64);
    words.extend(&argv_ptrs);
    words.push(0);
    words.extend(&envp_ptrs);
    words.push(0);
    for &(k, v) in auxv {
        words.extend([k, v]);
    }
    words.extend([AT_RANDOM, random_at, AT_NULL, 0]);
    for (i, w) in words.iter().enumerate() {
        image[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }

    Ok(InitialStack {
        image,
        start: rsp,
        rsp,
        argv: rsp + 8,
        envp: rsp + 8 * (argv.len() as u64 + 2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bedrock_abi::auxv::{AT_BEDROCK_SILO, AT_PAGESZ};

    const TOP: u64 = 0x7fff_ffff_0000;

    /// argv, envp and auxv as a program sees them.
    type Parsed = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<(u64, u64)>);

    /// Reads what a program would: argc, argv, envp, auxv, through the
    /// image as memory at `[start, top)`.
    struct View<'a> {
        s: &'a InitialStack,
    }

    impl View<'_> {
        fn word(&self, addr: u64) -> u64 {
            let o = (addr - self.s.start) as usize;
            u64::from_le_bytes(self.s.image[o..o + 8].try_into().unwrap())
        }
        fn cstr(&self, addr: u64) -> Vec<u8> {
            let o = (addr - self.s.start) as usize;
            let rest = &self.s.image[o..];
            rest[..rest.iter().position(|&b| b == 0).unwrap()].to_vec()
        }
        fn parse(&self) -> Parsed {
            let mut at = self.s.rsp;
            let argc = self.word(at);
            at += 8;
            let mut argv = Vec::new();
            for _ in 0..argc {
                argv.push(self.cstr(self.word(at)));
                at += 8;
            }
            assert_eq!(self.word(at), 0);
            at += 8;
            let mut envp = Vec::new();
            while self.word(at) != 0 {
                envp.push(self.cstr(self.word(at)));
                at += 8;
            }
            at += 8;
            let mut aux = Vec::new();
            loop {
                let (k, v) = (self.word(at), self.word(at + 8));
                aux.push((k, v));
                at += 16;
                if k == AT_NULL {
                    break;
                }
            }
            (argv, envp, aux)
        }
    }

    #[test]
    fn layout_follows_the_abi() {
        let random = *b"0123456789abcdef";
        let aux = [(AT_PAGESZ, 4096), (AT_BEDROCK_SILO, 7)];
        let s = initial_stack(
            TOP,
            &["init", "-v", ""],
            &["HOME=/", "TERM=dumb"],
            &aux,
            &random,
            64 * 1024,
        )
        .unwrap();
        assert_eq!(s.rsp % 16, 0);
        assert_eq!(s.start, s.rsp);
        assert_eq!(s.start + s.image.len() as u64, TOP);
        assert_eq!(s.argv, s.rsp + 8);
        assert_eq!(s.envp, s.rsp + 8 * 5);
        let v = View { s: &s };
        let (argv, envp, auxv) = v.parse();
        assert_eq!(argv, [&b"init"[..], b"-v", b""]);
        assert_eq!(envp, [&b"HOME=/"[..], b"TERM=dumb"]);
        assert_eq!(
            auxv,
            [
                (AT_PAGESZ, 4096),
                (AT_BEDROCK_SILO, 7),
                (AT_RANDOM, TOP - 16),
                (AT_NULL, 0)
            ]
        );
        assert_eq!(&s.image[s.image.len() - 16..], &random);
        // Every pointer points into the image.
        for p in (0..3).map(|i| v.word(s.argv + 8 * i)) {
            assert!(p >= s.start && p < TOP);
        }
    }

    #[test]
    fn alignment_for_every_shape() {
        // Whatever the string and pointer counts, rsp is 16-byte aligned,
        // and the padding is at most 15 bytes.
        for argc in 0..5usize {
            for envc in 0..4usize {
                for len in 0..20usize {
                    let arg = "a".repeat(len);
                    let argv = vec![arg.as_str(); argc];
                    let envp = vec!["E=1"; envc];
                    let aux = vec![(AT_PAGESZ, 4096); (argc + len) % 3];
                    let s = initial_stack(TOP, &argv, &envp, &aux, &[0; 16], 1 << 20).unwrap();
                    assert_eq!(s.rsp % 16, 0);
                    let strings = 16 + argc * (len + 1) + envc * 4;
                    let words = 3 + argc + envc + 2 * (aux.len() + 2);
                    let exact = strings + words * 8;
                    assert!(s.image.len() >= exact && s.image.len() < exact + 16);
                    let (a, e, x) = View { s: &s }.parse();
                    assert_eq!((a.len(), e.len(), x.len()), (argc, envc, aux.len() + 2));
                }
            }
        }
    }

    #[test]
    fn empty_argv_and_envp() {
        let s = initial_stack::<&str, &str>(TOP, &[], &[], &[], &[9; 16], 4096).unwrap();
        let v = View { s: &s };
        assert_eq!(v.word(s.rsp), 0);
        assert_eq!(
            v.parse(),
            (vec![], vec![], vec![(AT_RANDOM, TOP - 16), (AT_NULL, 0)])
        );
        // 16 random + 7 words = 72, rounded to 80.
        assert_eq!(s.image.len(), 80);
    }

    #[test]
    fn bad_inputs() {
        let r = [0u8; 16];
        let none: [&str; 0] = [];
        for top in [0, 0x1000, TOP + 8, USER_END + 16, !15] {
            assert_eq!(
                initial_stack(top, &none, &none, &[], &r, 4096),
                Err(StackError::BadTop(top))
            );
        }
        assert_eq!(
            initial_stack(TOP, &["ok", "b\0d"], &none, &[], &r, 4096),
            Err(StackError::NulInArg { index: 1 })
        );
        assert_eq!(
            initial_stack(TOP, &none, &["\0"], &[], &r, 4096),
            Err(StackError::NulInEnv { index: 0 })
        );
        for key in [AT_NULL, AT_RANDOM] {
            assert_eq!(
                initial_stack(TOP, &none, &none, &[(AT_PAGESZ, 1), (key, 0)], &r, 4096),
                Err(StackError::ReservedAuxKey(key))
            );
        }
        // Over the limit.
        let big = "x".repeat(5000);
        assert!(matches!(
            initial_stack(TOP, &[big.as_str()], &none, &[], &r, 4096),
            Err(StackError::TooLarge { limit: 4096, .. })
        ));
        // Below user space: near the bottom of the address space.
        assert!(matches!(
            initial_stack(0x2000, &[big.as_str()], &none, &[], &r, u64::MAX),
            Err(StackError::TooLarge { .. })
        ));
        assert!(
            !format!(
                "{}",
                StackError::TooLarge {
                    needed: 1,
                    limit: 0
                }
            )
            .is_empty()
        );
    }
}
