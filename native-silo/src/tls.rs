//! Thread-local storage, x86_64 variant II (the layout the initial-exec
//! model of the hermit target compiles against).
//!
//! A thread's block is its copy of the `PT_TLS` image (`filesz` bytes
//! copied, up to `memsz` zeroed) placed directly below the thread pointer,
//! at `tp - align_up(memsz, p_align)`; the thread pointer (FS base) points
//! at the thread control block ([`Tcb`]), whose first word points to
//! itself. Blocks are built by the creator of a thread before it runs.

use core::mem::{align_of, size_of};

/// `PT_TLS`.
pub const PT_TLS: u32 = 7;

/// An ELF64 program header, as `AT_PHDR` points to them.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Phdr {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_paddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

/// The thread control block at the thread pointer.
#[derive(Debug)]
#[repr(C)]
pub struct Tcb {
    /// Points to this TCB (`fs:0`), as the ABI requires.
    pub self_ptr: *mut Tcb,
    /// The thread's last error (`sys_get_errno`).
    pub errno: i32,
    /// The libOS's record of the thread (0 for the main thread).
    pub thread: usize,
}

/// The program's TLS image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Template {
    /// Run-time address of the initialised part.
    pub image: usize,
    pub filesz: usize,
    pub memsz: usize,
    /// `p_align`, at least 1.
    pub align: usize,
}

/// Where things go in one thread's block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLayout {
    /// Bytes of the whole block.
    pub size: usize,
    /// Alignment the block's start needs.
    pub align: usize,
    /// Offset of the TLS image in the block.
    pub image: usize,
    /// Offset of the [`Tcb`] (the thread pointer).
    pub tcb: usize,
}

impl Template {
    /// The template of a program whose headers are `phdrs`, loaded `bias`
    /// bytes above its link addresses; `None` without `PT_TLS` or for a
    /// malformed one.
    pub fn from_phdrs(phdrs: &[Phdr], bias: usize) -> Option<Template> {
        let p = phdrs.iter().find(|p| p.p_type == PT_TLS)?;
        let align = usize::try_from(p.p_align.max(1)).ok()?;
        if !align.is_power_of_two() || p.p_filesz > p.p_memsz {
            return None;
        }
        Some(Template {
            image: bias.checked_add(usize::try_from(p.p_vaddr).ok()?)?,
            filesz: usize::try_from(p.p_filesz).ok()?,
            memsz: usize::try_from(p.p_memsz).ok()?,
            align,
        })
    }

    pub fn layout(&self) -> BlockLayout {
        let align = self.align.max(align_of::<Tcb>()).max(16);
        let tcb = self.memsz.next_multiple_of(align);
        BlockLayout {
            size: tcb + size_of::<Tcb>(),
            align,
            image: tcb - self.memsz.next_multiple_of(self.align),
            tcb,
        }
    }

    /// Builds a thread's block in `block` and returns its thread pointer.
    ///
    /// # Safety
    /// `block` must be valid for writes of `layout().size` bytes, aligned
    /// to `layout().align`, and not overlap the image; the image must be
    /// readable.
    pub unsafe fn init(&self, block: *mut u8, thread: usize) -> *mut Tcb {
        let l = self.layout();
        // SAFETY: all writes stay in `[block, block + l.size)` (the caller's
        // promise); the image is readable and does not overlap.
        unsafe {
            let image = block.add(l.image);
            core::ptr::copy_nonoverlapping(self.image as *const u8, image, self.filesz);
            image
                .add(self.filesz)
                .write_bytes(0, self.memsz - self.filesz);
            let tcb = block.add(l.tcb).cast::<Tcb>();
            tcb.write(Tcb {
                self_ptr: tcb,
                errno: 0,
                thread,
            });
            tcb
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn tls(vaddr: u64, filesz: u64, memsz: u64, align: u64) -> Phdr {
        Phdr {
            p_type: PT_TLS,
            p_vaddr: vaddr,
            p_filesz: filesz,
            p_memsz: memsz,
            p_align: align,
            ..Phdr::default()
        }
    }

    #[test]
    fn template_from_headers() {
        let load = Phdr {
            p_type: 1,
            ..Phdr::default()
        };
        let t = Template::from_phdrs(&[load, tls(0x2000, 8, 40, 8)], 0x4000_0000).unwrap();
        assert_eq!(
            t,
            Template {
                image: 0x4000_2000,
                filesz: 8,
                memsz: 40,
                align: 8
            }
        );
        assert_eq!(Template::from_phdrs(&[load], 0), None);
        assert_eq!(Template::from_phdrs(&[tls(0, 9, 8, 8)], 0), None);
        assert_eq!(Template::from_phdrs(&[tls(0, 1, 8, 24)], 0), None);
    }

    #[test]
    fn image_ends_at_the_thread_pointer_rounded_to_its_alignment() {
        for (memsz, align) in [(40, 8), (1, 1), (100, 64), (0, 1), (64, 64)] {
            let t = Template {
                image: 0,
                filesz: 0,
                memsz,
                align,
            };
            let l = t.layout();
            assert_eq!(l.tcb % align, 0);
            assert_eq!(l.tcb % 16, 0);
            assert_eq!(l.tcb - l.image, memsz.next_multiple_of(align));
            assert_eq!(l.size, l.tcb + size_of::<Tcb>());
        }
    }

    #[test]
    fn init_copies_the_image_and_zeroes_the_rest() {
        let image = [1u8, 2, 3, 4, 5];
        let t = Template {
            image: image.as_ptr() as usize,
            filesz: 5,
            memsz: 12,
            align: 4,
        };
        let l = t.layout();
        let mut block = vec![0xeeu128; l.size.div_ceil(16)];
        let base = block.as_mut_ptr().cast::<u8>();
        // SAFETY: the vector holds l.size bytes, 16-aligned (l.align == 16).
        let tcb = unsafe { t.init(base, 7) };
        assert_eq!(tcb as usize, base as usize + l.tcb);
        // SAFETY: inside the block.
        unsafe {
            assert_eq!((*tcb).self_ptr, tcb);
            assert_eq!((*tcb).thread, 7);
            let img = core::slice::from_raw_parts(base.add(l.image), 12);
            assert_eq!(img, &[1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0]);
            assert_eq!(tcb as usize - 12, base.add(l.image) as usize);
        }
    }
}
