//! Mapping of host `std::io::Error`s to WASI error numbers.
//!
//! On Linux (hosted mode) and Hermit/Bedrock, whose errno numbering is
//! Linux's, the raw OS error is mapped exactly; elsewhere, and for errors
//! without an OS code, the portable `ErrorKind` decides.

use std::io;

use super::abi::Errno;

impl From<io::Error> for Errno {
    fn from(error: io::Error) -> Self {
        from_io(&error)
    }
}

/// The hosted filesystem (`fs/host/linux.rs`) calls the host through rustix.
#[cfg(target_os = "linux")]
impl From<rustix::io::Errno> for Errno {
    fn from(error: rustix::io::Errno) -> Self {
        from_io(&io::Error::from(error))
    }
}

/// The WASI errno for a host I/O error.
pub(crate) fn from_io(error: &io::Error) -> Errno {
    #[cfg(any(target_os = "linux", target_os = "hermit"))]
    if let Some(code) = error.raw_os_error()
        && let Some(errno) = from_linux_errno(code)
    {
        return errno;
    }
    from_kind(error.kind())
}

/// Linux errno values (asm-generic numbering, used by x86_64 and Hermit).
#[cfg(any(target_os = "linux", target_os = "hermit"))]
fn from_linux_errno(code: i32) -> Option<Errno> {
    use Errno::*;
    Some(match code {
        1 => Perm,
        2 => Noent,
        3 => Srch,
        4 => Intr,
        5 => Io,
        6 => Nxio,
        7 => TooBig,
        8 => Noexec,
        9 => Badf,
        10 => Child,
        11 => Again,
        12 => Nomem,
        13 => Acces,
        14 => Fault,
        16 => Busy,
        17 => Exist,
        18 => Xdev,
        19 => Nodev,
        20 => Notdir,
        21 => Isdir,
        22 => Inval,
        23 => Nfile,
        24 => Mfile,
        25 => Notty,
        26 => Txtbsy,
        27 => Fbig,
        28 => Nospc,
        29 => Spipe,
        30 => Rofs,
        31 => Mlink,
        32 => Pipe,
        33 => Dom,
        34 => Range,
        35 => Deadlk,
        36 => Nametoolong,
        37 => Nolck,
        38 => Nosys,
        39 => Notempty,
        40 => Loop,
        61 => Nodev, // ENODATA has no WASI counterpart
        75 => Overflow,
        84 => Ilseq,
        88 => Notsock,
        95 => Notsup,
        110 => Timedout,
        116 => Stale,
        122 => Dquot,
        _ => return None,
    })
}

fn from_kind(kind: io::ErrorKind) -> Errno {
    use io::ErrorKind as K;
    match kind {
        K::NotFound => Errno::Noent,
        K::PermissionDenied => Errno::Acces,
        K::AlreadyExists => Errno::Exist,
        K::WouldBlock => Errno::Again,
        K::NotADirectory => Errno::Notdir,
        K::IsADirectory => Errno::Isdir,
        K::DirectoryNotEmpty => Errno::Notempty,
        K::ReadOnlyFilesystem => Errno::Rofs,
        K::StaleNetworkFileHandle => Errno::Stale,
        K::InvalidInput => Errno::Inval,
        K::InvalidData => Errno::Ilseq,
        K::TimedOut => Errno::Timedout,
        K::StorageFull => Errno::Nospc,
        K::NotSeekable => Errno::Spipe,
        K::QuotaExceeded => Errno::Dquot,
        K::FileTooLarge => Errno::Fbig,
        K::ResourceBusy => Errno::Busy,
        K::ExecutableFileBusy => Errno::Txtbsy,
        K::Deadlock => Errno::Deadlk,
        K::CrossesDevices => Errno::Xdev,
        K::TooManyLinks => Errno::Mlink,
        K::InvalidFilename => Errno::Nametoolong,
        K::ArgumentListTooLong => Errno::TooBig,
        K::Interrupted => Errno::Intr,
        K::Unsupported => Errno::Notsup,
        K::OutOfMemory => Errno::Nomem,
        K::BrokenPipe => Errno::Pipe,
        K::WriteZero => Errno::Io,
        K::UnexpectedEof => Errno::Io,
        _ => Errno::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_common_errors() {
        assert_eq!(
            from_io(&io::Error::from(io::ErrorKind::NotFound)),
            Errno::Noent
        );
        assert_eq!(
            from_io(&io::Error::from(io::ErrorKind::BrokenPipe)),
            Errno::Pipe
        );
        #[cfg(target_os = "linux")]
        {
            assert_eq!(from_io(&io::Error::from_raw_os_error(40)), Errno::Loop);
            assert_eq!(from_io(&io::Error::from_raw_os_error(1)), Errno::Perm);
            assert_eq!(from_io(&io::Error::from_raw_os_error(39)), Errno::Notempty);
        }
    }
}
