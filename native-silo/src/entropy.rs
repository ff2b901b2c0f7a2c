//! Random bytes from the kernel (`RandomBytes`), for std's hash seeds and
//! `getrandom`-style users.

use bedrock_abi::user::syscall;
use bedrock_abi::{MAX_IO_CHUNK, Syscall};

use crate::process::fail;

hermit_fn! {
    /// Fills `buf`; returns its length (or `-errno`).
    fn sys_read_entropy(buf: *mut u8, len: usize, _flags: u32) -> isize as read_entropy {
        let mut done = 0;
        while done < len {
            let n = (len - done).min(MAX_IO_CHUNK);
            // SAFETY: `buf` is valid for `len` bytes (the ABI's contract);
            // the kernel checks the range anyway.
            match unsafe { syscall(Syscall::RandomBytes, &[buf as usize + done, n]) } {
                Ok(got) => done += got,
                Err(e) => return fail(e) as isize,
            }
        }
        len as isize
    }
}
