//! Errors at the hermit ABI's edge: Bedrock's [`Errno`] numbers are Linux's,
//! and so are hermit's, so a conversion is the number itself, except for
//! the one Bedrock value no table has.

use bedrock_abi::Errno;
use hermit_abi::errno;

/// The hermit errno for a Bedrock error.
pub fn to_hermit(e: Errno) -> i32 {
    match e {
        Errno::Unknown => errno::EIO,
        e => e as u32 as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shared_with_hermit() {
        assert_eq!(to_hermit(Errno::NoEnt), errno::ENOENT);
        assert_eq!(to_hermit(Errno::TimedOut), errno::ETIMEDOUT);
        assert_eq!(to_hermit(Errno::Again), errno::EAGAIN);
        assert_eq!(to_hermit(Errno::NoSys), errno::ENOSYS);
        assert_eq!(to_hermit(Errno::NotEmpty), errno::ENOTEMPTY);
        assert_eq!(to_hermit(Errno::Unknown), errno::EIO);
    }
}
