//! Sockets: the calls std's hermit net backend makes. No network service
//! exists yet (the `net:` scheme comes with the net strate), so creating a
//! socket fails with `ENOSYS` and name lookups with `EAI_FAIL`: std turns
//! these into ordinary `io::Error`s. As no socket can exist, the calls on
//! one fail with `EBADF` (or `ENOTSOCK` for a file's descriptor).

use core::ffi::{c_char, c_void};

use bedrock_abi::Errno;
use hermit_abi::{EAI_FAIL, addrinfo, nfds_t, pollfd, sockaddr, socklen_t};

use crate::process::fail;

/// `ENOTSOCK` for an open descriptor, `EBADF` for anything else.
fn not_a_socket(fd: i32) -> i32 {
    let open = (0..=2).contains(&fd) || {
        // An fstat that succeeds means an open descriptor.
        let mut st = hermit_abi::stat::default();
        // SAFETY: `st` is a valid out pointer.
        unsafe { crate::fs::sys_fstat(fd, &mut st) == 0 }
    };
    if open {
        fail(Errno::from_raw(hermit_abi::errno::ENOTSOCK as u32))
    } else {
        fail(Errno::BadF)
    }
}

hermit_fn! {
    fn sys_socket(_domain: i32, _type_: i32, _protocol: i32) -> i32 as socket {
        fail(Errno::NoSys)
    }
}

hermit_fn! {
    fn sys_getaddrinfo(_nodename: *const c_char, _servname: *const c_char, _hints: *const addrinfo, res: *mut *mut addrinfo) -> i32 as getaddrinfo {
        if !res.is_null() {
            // SAFETY: a valid out pointer or null, by the ABI's contract.
            unsafe { res.write(core::ptr::null_mut()) };
        }
        EAI_FAIL
    }
}

hermit_fn! {
    /// Nothing to free: `sys_getaddrinfo` never returns a list.
    fn sys_freeaddrinfo(_ai: *mut addrinfo) as freeaddrinfo {}
}

hermit_fn! {
    fn sys_accept(s: i32, _addr: *mut sockaddr, _addrlen: *mut socklen_t) -> i32 as accept {
        not_a_socket(s)
    }
}

hermit_fn! {
    fn sys_bind(s: i32, _name: *const sockaddr, _namelen: socklen_t) -> i32 as bind {
        not_a_socket(s)
    }
}

hermit_fn! {
    fn sys_connect(s: i32, _name: *const sockaddr, _namelen: socklen_t) -> i32 as connect {
        not_a_socket(s)
    }
}

hermit_fn! {
    fn sys_listen(s: i32, _backlog: i32) -> i32 as listen {
        not_a_socket(s)
    }
}

hermit_fn! {
    fn sys_recv(socket: i32, _buf: *mut u8, _len: usize, _flags: i32) -> isize as recv {
        not_a_socket(socket) as isize
    }
}

hermit_fn! {
    fn sys_recvfrom(socket: i32, _buf: *mut u8, _len: usize, _flags: i32, _addr: *mut sockaddr, _addrlen: *mut socklen_t) -> isize as recvfrom {
        not_a_socket(socket) as isize
    }
}

hermit_fn! {
    fn sys_send(s: i32, _mem: *const c_void, _len: usize, _flags: i32) -> isize as send {
        not_a_socket(s) as isize
    }
}

hermit_fn! {
    fn sys_sendto(s: i32, _mem: *const c_void, _len: usize, _flags: i32, _to: *const sockaddr, _tolen: socklen_t) -> isize as sendto {
        not_a_socket(s) as isize
    }
}

hermit_fn! {
    fn sys_shutdown(sockfd: i32, _how: i32) -> i32 as shutdown {
        not_a_socket(sockfd)
    }
}

hermit_fn! {
    fn sys_getpeername(s: i32, _name: *mut sockaddr, _namelen: *mut socklen_t) -> i32 as getpeername {
        not_a_socket(s)
    }
}

hermit_fn! {
    fn sys_getsockname(s: i32, _name: *mut sockaddr, _namelen: *mut socklen_t) -> i32 as getsockname {
        not_a_socket(s)
    }
}

hermit_fn! {
    fn sys_getsockopt(s: i32, _level: i32, _optname: i32, _optval: *mut c_void, _optlen: *mut socklen_t) -> i32 as getsockopt {
        not_a_socket(s)
    }
}

hermit_fn! {
    fn sys_setsockopt(s: i32, _level: i32, _optname: i32, _optval: *const c_void, _optlen: socklen_t) -> i32 as setsockopt {
        not_a_socket(s)
    }
}

hermit_fn! {
    /// Only sockets could be polled, and there are none.
    fn sys_poll(_fds: *mut pollfd, _nfds: nfds_t, _timeout: i32) -> i32 as poll {
        fail(Errno::NoSys)
    }
}
