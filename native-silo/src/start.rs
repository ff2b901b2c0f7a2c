//! The program entry: `_start` → relocation (if the loader left the image
//! unrelocated) → the main thread's TLS block → std's `runtime_entry`,
//! which parses the environment, runs `main` and calls `sys_exit`.
//!
//! The heap needs no set-up (its first allocation maps an arena) and
//! stdio finds its console lazily.

use core::ffi::c_char;
use core::sync::atomic::{AtomicUsize, Ordering};

use bedrock_abi::auxv::{AT_BEDROCK_SILO, AT_NULL, AT_PHDR, AT_PHNUM};
use bedrock_abi::user::syscall;
use bedrock_abi::{Syscall, prot};

use crate::tls::{Phdr, Template};
use crate::{reloc, vm};

core::arch::global_asm!(
    r#"
    .section .text._start, "ax"
    .global _start
    .type _start, @function
_start:
    mov rdi, rsp
    and rsp, -16
    xor ebp, ebp
    call {start}
    ud2
"#,
    start = sym start,
);

unsafe extern "C" {
    /// std's entry (`library/std/src/sys/pal/hermit/mod.rs`).
    fn runtime_entry(argc: i32, argv: *const *const c_char, env: *const *const c_char) -> !;
}

/// The TLS template, set once before any thread exists.
static TLS_IMAGE: AtomicUsize = AtomicUsize::new(0);
static TLS_FILESZ: AtomicUsize = AtomicUsize::new(0);
static TLS_MEMSZ: AtomicUsize = AtomicUsize::new(0);
static TLS_ALIGN: AtomicUsize = AtomicUsize::new(1);
/// The silo id from the auxiliary vector.
pub static SILO_ID: AtomicUsize = AtomicUsize::new(0);

/// The program's TLS template (empty without `PT_TLS`).
pub fn tls_template() -> Template {
    Template {
        image: TLS_IMAGE.load(Ordering::Relaxed),
        filesz: TLS_FILESZ.load(Ordering::Relaxed),
        memsz: TLS_MEMSZ.load(Ordering::Relaxed),
        align: TLS_ALIGN.load(Ordering::Relaxed),
    }
}

/// A word whose stored value is its own address once relocated.
static RELOC_PROBE: &AtomicUsize = &TLS_ALIGN;

/// Run-time addresses of the ELF header (= the load base of a PIE linked
/// at 0) and of `_DYNAMIC`, computed RIP-relatively: nothing stored in the
/// image can be trusted before relocation.
fn base_and_dynamic() -> (usize, usize) {
    let (base, dynamic): (usize, usize);
    // SAFETY: two `lea`s; no memory is touched.
    unsafe {
        core::arch::asm!(
            "lea {b}, [rip + __ehdr_start]",
            "lea {d}, [rip + _DYNAMIC]",
            b = out(reg) base,
            d = out(reg) dynamic,
            options(nomem, nostack, pure),
        );
    }
    (base, dynamic)
}

unsafe extern "C" fn start(sp: *const usize) -> ! {
    // The probe's address is computed RIP-relatively; its stored value is
    // what the linker wrote plus whatever relocation was applied.
    let probe_at = &TLS_ALIGN as *const AtomicUsize as usize;
    // SAFETY: reading a static of ours.
    let probe_value = unsafe { core::ptr::read_volatile(&RELOC_PROBE) } as *const AtomicUsize;
    if probe_value as usize != probe_at {
        let (base, dynamic) = base_and_dynamic();
        // SAFETY: our own dynamic section, in our own writable image (an
        // unrelocated image was loaded without RELRO protection).
        if unsafe { reloc::apply(base, dynamic as *const [usize; 2]) }.is_err() {
            crate::process::die(b"native-silo: cannot relocate the program\n");
        }
    }
    // SAFETY: the kernel built a System V initial stack at `sp`: argc,
    // argv[], NULL, envp[], NULL, auxv pairs up to AT_NULL.
    let (argc, argv, envp, auxv) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const c_char;
        let envp = argv.add(argc + 1);
        let mut end = envp;
        while !(*end).is_null() {
            end = end.add(1);
        }
        (argc, argv, envp, end.add(1) as *const [u64; 2])
    };
    let (mut phdr, mut phnum) = (0usize, 0usize);
    let mut at = auxv;
    // SAFETY: the auxiliary vector ends with AT_NULL.
    unsafe {
        while (*at)[0] != AT_NULL {
            match (*at)[0] {
                AT_PHDR => phdr = (*at)[1] as usize,
                AT_PHNUM => phnum = (*at)[1] as usize,
                AT_BEDROCK_SILO => SILO_ID.store((*at)[1] as usize, Ordering::Relaxed),
                _ => {}
            }
            at = at.add(1);
        }
    }
    let phdrs: &[Phdr] = if phdr == 0 {
        &[]
    } else {
        // SAFETY: AT_PHDR/AT_PHNUM describe our loaded program headers.
        unsafe { core::slice::from_raw_parts(phdr as *const Phdr, phnum) }
    };
    let (base, _) = base_and_dynamic();
    if let Some(t) = Template::from_phdrs(phdrs, base) {
        TLS_IMAGE.store(t.image, Ordering::Relaxed);
        TLS_FILESZ.store(t.filesz, Ordering::Relaxed);
        TLS_MEMSZ.store(t.memsz, Ordering::Relaxed);
        TLS_ALIGN.store(t.align, Ordering::Relaxed);
    }
    let Some((_, _, tp)) = new_tls_block(0) else {
        crate::process::die(b"native-silo: no memory for the main thread's TLS\n");
    };
    set_thread_pointer(tp);
    // SAFETY: std's documented entry, called once with the initial
    // stack's argument and environment vectors.
    unsafe { runtime_entry(argc as i32, argv, envp) }
}

/// Maps and fills a TLS block for a thread whose record is `thread`;
/// returns the mapping (address, length) and the thread pointer. The main
/// thread's block lives for ever; others are freed with their stack (see
/// `thread`).
pub fn new_tls_block(thread: usize) -> Option<(usize, usize, usize)> {
    let t = tls_template();
    let l = t.layout();
    let len = l.size + l.align;
    let addr = vm::map(len, prot::READ | prot::WRITE).ok()?;
    let block = addr.next_multiple_of(l.align);
    // SAFETY: `[block, block + l.size)` lies in the fresh mapping,
    // aligned; the template image is our read-only data.
    let tp = unsafe { t.init(block as *mut u8, thread) } as usize;
    Some((addr, len, tp))
}

/// Makes `tp` the calling thread's FS base.
fn set_thread_pointer(tp: usize) {
    // SAFETY: SetFsBase reads no memory of ours.
    if unsafe { syscall(Syscall::SetFsBase, &[tp]) }.is_err() {
        crate::process::die(b"native-silo: cannot set the thread pointer\n");
    }
}
