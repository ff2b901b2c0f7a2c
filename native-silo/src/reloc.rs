//! Self-relocation of a static PIE: applies the `R_X86_64_RELATIVE`
//! entries of `DT_RELA` and the packed `DT_RELR` list. Bedrock's loader
//! normally does this already; `_start` calls [`apply`] only when it finds
//! the image unrelocated, so that the program also runs under a loader
//! that does not.
//!
//! Runs before anything is relocated: it must touch no pointer stored in
//! the image other than through `base + offset` arithmetic.

const DT_NULL: usize = 0;
const DT_RELA: usize = 7;
const DT_RELASZ: usize = 8;
const DT_RELAENT: usize = 9;
const DT_RELRSZ: usize = 35;
const DT_RELR: usize = 36;
const R_X86_64_RELATIVE: usize = 8;
/// Size of an `Elf64_Rela`.
const RELA_SIZE: usize = 24;

/// Why the image could not be relocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocError {
    /// A relocation type other than `R_X86_64_RELATIVE`.
    UnsupportedType(usize),
    /// `DT_RELAENT` is not 24.
    BadEntrySize(usize),
}

/// Applies the relocations listed by the dynamic section at `dynamic` of
/// an image loaded at `base` (whose link address was 0).
///
/// # Safety
/// `dynamic` must point to the image's `DT_NULL`-terminated dynamic array,
/// and every location it names must be in the image and writable.
pub unsafe fn apply(base: usize, dynamic: *const [usize; 2]) -> Result<(), RelocError> {
    let (mut rela, mut rela_size, mut rela_ent) = (0, 0, RELA_SIZE);
    let (mut relr, mut relr_size) = (0, 0);
    let mut entry = dynamic;
    // SAFETY: the caller promises a terminated dynamic array and
    // relocation tables inside the writable image (for the whole block).
    unsafe {
        loop {
            let [tag, value] = *entry;
            match tag {
                DT_NULL => break,
                DT_RELA => rela = value,
                DT_RELASZ => rela_size = value,
                DT_RELAENT => rela_ent = value,
                DT_RELR => relr = value,
                DT_RELRSZ => relr_size = value,
                _ => {}
            }
            entry = entry.add(1);
        }
        if rela_ent != RELA_SIZE {
            return Err(RelocError::BadEntrySize(rela_ent));
        }
        for i in 0..rela_size / RELA_SIZE {
            let r = (base + rela + i * RELA_SIZE) as *const usize;
            let (offset, info, addend) = (*r, *r.add(1), *r.add(2));
            if info & 0xffff_ffff != R_X86_64_RELATIVE {
                return Err(RelocError::UnsupportedType(info & 0xffff_ffff));
            }
            *((base + offset) as *mut usize) = base.wrapping_add(addend);
        }
        // RELR: an address entry relocates one word and sets where the
        // next bitmap starts; a bitmap entry (low bit set) relocates the
        // words after it whose bits are set.
        let mut next = 0usize;
        for i in 0..relr_size / 8 {
            let e = *((base + relr + i * 8) as *const usize);
            if e & 1 == 0 {
                let at = (base + e) as *mut usize;
                *at = (*at).wrapping_add(base);
                next = e + 8;
            } else {
                let mut bits = e >> 1;
                let mut at = next;
                while bits != 0 {
                    if bits & 1 != 0 {
                        let p = (base + at) as *mut usize;
                        *p = (*p).wrapping_add(base);
                    }
                    bits >>= 1;
                    at += 8;
                }
                next += 63 * 8;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    /// A fake image of 64 words: words 0..10 dynamic, 16..22 two RELA
    /// entries, 22..24 RELR, targets from 40 on.
    #[test]
    fn rela_and_relr_are_applied() {
        let mut image = vec![0usize; 64];
        let base = image.as_mut_ptr() as usize;
        let w = |i: usize| i * 8;
        image[0..10].copy_from_slice(&[
            DT_RELA,
            w(16),
            DT_RELASZ,
            2 * RELA_SIZE,
            DT_RELR,
            w(22),
            DT_RELRSZ,
            16,
            DT_NULL,
            0,
        ]);
        image[16..22].copy_from_slice(&[w(40), 8, 0x123, w(41), 8, 0]);
        // RELR: word 50 (address entry), then bitmap: words 52 and 53.
        image[22] = w(50);
        image[23] = (0b110 << 1) | 1;
        image[50] = 5;
        image[52] = 6;
        image[53] = 7;
        image[51] = 99;
        // SAFETY: the fake image is writable and every offset is inside.
        unsafe { apply(base, image.as_ptr().cast()) }.unwrap();
        assert_eq!(image[40], base + 0x123);
        assert_eq!(image[41], base);
        assert_eq!(image[50], base + 5);
        assert_eq!(image[51], 99);
        assert_eq!(image[52], base + 6);
        assert_eq!(image[53], base + 7);
    }

    #[test]
    fn other_relocation_types_are_refused() {
        let mut image = vec![0usize; 16];
        let base = image.as_mut_ptr() as usize;
        image[0..6].copy_from_slice(&[DT_RELA, 64, DT_RELASZ, RELA_SIZE, DT_NULL, 0]);
        image[8..11].copy_from_slice(&[0, 1, 0]); // R_X86_64_64
        // SAFETY: as above.
        let r = unsafe { apply(base, image.as_ptr().cast()) };
        assert_eq!(r, Err(RelocError::UnsupportedType(1)));
    }
}
