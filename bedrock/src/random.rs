//! Kernel entropy for `RandomBytes` and AT_RANDOM.
//!
//! RDRAND feeds the output directly when the CPU has it. Otherwise (e.g.
//! KVM on these hosts hides it) a ChaCha20 block function keyed from TSC
//! timing jitter and the RTC produces the stream; that is unpredictable to
//! other silos in practice but not a certified CSPRNG (documented).

#[cfg(kernel)]
use core::sync::atomic::{AtomicU64, Ordering};

#[cfg(kernel)]
use crate::sync::IrqSpin;

#[cfg_attr(not(kernel), allow(dead_code))]
struct ChaCha {
    key: [u32; 8],
    counter: u64,
}

#[cfg(kernel)]
static STATE: IrqSpin<Option<ChaCha>> = IrqSpin::new(None);
#[cfg(kernel)]
static RESEED_MIX: AtomicU64 = AtomicU64::new(0);

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// The ChaCha20 block function (RFC 8439) with a zero nonce.
fn chacha_block(key: &[u32; 8], counter: u64) -> [u8; 64] {
    let mut s = [0u32; 16];
    s[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    s[4..12].copy_from_slice(key);
    s[12] = counter as u32;
    s[13] = (counter >> 32) as u32;
    let init = s;
    for _ in 0..10 {
        quarter(&mut s, 0, 4, 8, 12);
        quarter(&mut s, 1, 5, 9, 13);
        quarter(&mut s, 2, 6, 10, 14);
        quarter(&mut s, 3, 7, 11, 15);
        quarter(&mut s, 0, 5, 10, 15);
        quarter(&mut s, 1, 6, 11, 12);
        quarter(&mut s, 2, 7, 8, 13);
        quarter(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for i in 0..16 {
        out[i * 4..i * 4 + 4].copy_from_slice(&s[i].wrapping_add(init[i]).to_le_bytes());
    }
    out
}

#[cfg(kernel)]
fn seed_key() -> [u32; 8] {
    use crate::arch::x86_64::{cpu::rdtsc, tsc};
    let mut key = [0u32; 8];
    for (i, k) in key.iter_mut().enumerate() {
        // Jitter: TSC deltas across short, interrupt-exposed spins.
        let mut acc = 0u32;
        for _ in 0..64 {
            let t0 = rdtsc();
            core::hint::spin_loop();
            acc = acc.rotate_left(5) ^ (rdtsc().wrapping_sub(t0) as u32);
        }
        *k = acc ^ (crate::time::realtime_ns() as u32).rotate_left(i as u32) ^ tsc::now_ns() as u32;
    }
    key
}

#[cfg(kernel)]
fn rdrand() -> Option<u64> {
    #[allow(unused_unsafe)]
    // SAFETY: CPUID leaf 1 exists on every x86_64 CPU.
    let has = unsafe { core::arch::x86_64::__cpuid(1) }.ecx & (1 << 30) != 0;
    if !has {
        return None;
    }
    for _ in 0..10 {
        let v: u64;
        let ok: u8;
        // SAFETY: RDRAND is present (checked above) and has no memory effects.
        unsafe {
            core::arch::asm!("rdrand {}", "setc {}", out(reg) v, out(reg_byte) ok, options(nomem, nostack))
        };
        if ok != 0 {
            return Some(v);
        }
    }
    None
}

/// Fills `buf` with random bytes.
#[cfg(kernel)]
pub fn fill(buf: &mut [u8]) {
    let mut state = STATE.lock();
    let st = state.get_or_insert_with(|| ChaCha {
        key: seed_key(),
        counter: 0,
    });
    // Mix fresh hardware randomness (or TSC) into the key for every call.
    let fresh = rdrand().unwrap_or_else(crate::arch::x86_64::cpu::rdtsc);
    let mix = RESEED_MIX.fetch_add(fresh, Ordering::Relaxed) ^ fresh;
    st.key[0] ^= mix as u32;
    st.key[1] ^= (mix >> 32) as u32;
    for chunk in buf.chunks_mut(64) {
        let block = chacha_block(&st.key, st.counter);
        st.counter += 1;
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    // Forward secrecy: replace the key with output nobody saw.
    let next = chacha_block(&st.key, st.counter);
    st.counter += 1;
    for i in 0..8 {
        st.key[i] = u32::from_le_bytes(next[i * 4..i * 4 + 4].try_into().unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chacha20_rfc8439_keystream() {
        // RFC 8439 2.3.2 uses a nonce; with key 0..32 and zero nonce/counter
        // the first block starts with this known keystream (RFC 7539 A.1 #1
        // uses an all-zero key).
        let out = chacha_block(&[0; 8], 0);
        assert_eq!(&out[..8], &[0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90]);
    }
}
