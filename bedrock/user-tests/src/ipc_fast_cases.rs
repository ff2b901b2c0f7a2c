//! IPC fast paths: register-only calls (`CallRegs`), a server loop of
//! `ReplyWait`, and the single data copy between two silos' buffers
//! (page-straddling, untouched demand-zero pages, short reply buffers).

use bedrock_abi::ipc::{MAX_DATA, Message, flags};
use bedrock_abi::{Errno, Syscall, prot};

use crate::rt::ipc;
use crate::rt::{self, Args};

type R = Result<(), &'static str>;

/// Words + 1, data reversed.
const ECHO: u64 = 1;
/// Reply words = [flags, reply capacity, data length received, 0].
const INFO: u64 = 2;
/// Tries to reply with a handle; reply label 1 if that was refused
/// exactly when the call was a register call.
const GIVE_HANDLE: u64 = 3;
/// Replies with `MAX_DATA` bytes of [`pattern`].
const BIG: u64 = 4;
const STOP: u64 = 99;

fn pattern(i: usize) -> u8 {
    (i * 7 + (i >> 8)) as u8
}

fn port_arg(args: &Args) -> Result<u32, &'static str> {
    args.get(2).and_then(|s| s.parse().ok()).ok_or("missing port handle argument")
}

/// The server: one `ReplyWait` per request.
pub fn server(args: &Args) -> R {
    let port = port_arg(args)?;
    let mut buf = [0u8; MAX_DATA];
    let mut big = [0u8; MAX_DATA];
    for (i, b) in big.iter_mut().enumerate() {
        *b = pattern(i);
    }
    let mut reply = Message::default();
    let mut pending = 0u32;
    loop {
        let mut m = Message { data: buf.as_mut_ptr() as u64, data_len: buf.len() as u64, ..Message::default() };
        ipc::reply_wait(pending, &reply, port, &mut m, u64::MAX).map_err(|_| "reply_wait")?;
        pending = m.reply;
        let n = (m.data_len as usize).min(MAX_DATA);
        reply = match m.label {
            ECHO => {
                buf[..n].reverse();
                Message { label: m.badge, words: m.words.map(|w| w.wrapping_add(1)), data: buf.as_ptr() as u64, data_len: n as u64, ..Message::default() }
            }
            INFO => Message { words: [u64::from(m.flags), u64::from(m.reply_capacity), m.data_len, 0], ..Message::default() },
            GIVE_HANDLE => {
                let n = ipc::notify_create().map_err(|_| "notify create")?;
                let with = Message { handles: [n, 0, 0, 0], handle_count: 1, handle_move: 1, ..Message::default() };
                let register = m.flags & flags::REGISTER_CALL != 0;
                let refused = match ipc::reply(pending, &with) {
                    Err(Errno::Inval) => true,
                    Ok(_) => false,
                    Err(_) => return Err("reply with a handle failed oddly"),
                };
                if refused {
                    // The refused reply took nothing: the handle is ours.
                    ipc::close(n).map_err(|_| "a refused reply took the handle")?;
                    Message { label: u64::from(register), ..Message::default() }
                } else {
                    pending = 0;
                    check!(!register, "a register call was answered with a handle");
                    Message::default()
                }
            }
            BIG => Message { data: big.as_ptr() as u64, data_len: MAX_DATA as u64, ..Message::default() },
            STOP => {
                ipc::reply(pending, &Message::default()).map_err(|_| "reply stop")?;
                say!("ipc fast server: stopped");
                return Ok(());
            }
            _ => return Err("unknown label"),
        };
    }
}

fn call(port: u32, label: u64, data: &[u8], out: &mut [u8]) -> Result<Message, Errno> {
    let send = Message { label, words: [10, 20, 30, 40], data: data.as_ptr() as u64, data_len: data.len() as u64, ..Message::default() };
    let mut reply = Message { data: out.as_mut_ptr() as u64, data_len: out.len() as u64, ..Message::default() };
    ipc::call_port(port, &send, &mut reply)?;
    Ok(reply)
}

pub fn client(args: &Args) -> R {
    let port = port_arg(args)?;

    // Register calls: words there and back, nothing in memory.
    let r = ipc::call_regs(port, ECHO, [1, 2, u64::MAX, 4]).map_err(|_| "register echo")?;
    check!(r.words == [2, 3, 0, 5] && r.label == 0 && r.data_len == 0, "register echo reply wrong");
    let r = ipc::call_regs(port, INFO, [0; 4]).map_err(|_| "register info")?;
    check!(r.words[0] == u64::from(flags::REGISTER_CALL) && r.words[1] == 0, "server did not see a register call");
    let mut out = [0u8; 100];
    let r = call(port, INFO, &[7; 33], &mut out).map_err(|_| "info")?;
    check!(r.words == [0, 100, 33, 0], "server saw wrong flags, capacity or length");

    // A register call cannot take handles: the server is refused and
    // keeps its reply handle; a normal call can.
    let r = ipc::call_regs(port, GIVE_HANDLE, [0; 4]).map_err(|_| "register give")?;
    check!(r.label == 1, "handle reply to a register call was not refused");
    let r = call(port, GIVE_HANDLE, &[], &mut out).map_err(|_| "give")?;
    check!(r.handle_count == 1, "handle reply to a normal call did not arrive");
    ipc::close(r.handles[0]).map_err(|_| "close received handle")?;

    // 4 KiB across a page boundary, replied into untouched demand-zero
    // pages also across a boundary: one copy each way, byte-exact.
    let area = rt::vm_map(4 * 4096, prot::READ | prot::WRITE).map_err(|_| "map")?;
    let (src, dst) = (area + 2048, area + 2 * 4096 + 1024);
    // SAFETY: both ranges lie inside the fresh 4-page mapping, disjoint.
    let (send, recv) = unsafe {
        (core::slice::from_raw_parts_mut(src as *mut u8, MAX_DATA), core::slice::from_raw_parts_mut(dst as *mut u8, 3 * 1024))
    };
    for (i, b) in send.iter_mut().enumerate() {
        *b = pattern(i * 3);
    }
    let r = call(port, ECHO, &send[..3 * 1024], recv).map_err(|_| "straddling echo")?;
    check!(r.data_len == 3 * 1024 && recv.iter().rev().eq(send[..3 * 1024].iter()), "straddling echo data wrong");

    // A short reply buffer: cut there, the full length reported, not a
    // byte written beyond.
    let mut short = [0xeeu8; 24];
    let r = call(port, BIG, &[], &mut short[..10]).map_err(|_| "big")?;
    check!(r.data_len == MAX_DATA as u64, "full reply length not reported");
    check!(short[..10].iter().enumerate().all(|(i, &b)| b == pattern(i)), "short reply data wrong");
    check!(short[10..].iter().all(|&b| b == 0xee), "reply written beyond the buffer");
    let r = ipc::call_regs(port, BIG, [0; 4]).map_err(|_| "register big")?;
    check!(r.data_len == MAX_DATA as u64, "register call not told the reply's length");

    // Buffers the caller cannot use fail for the caller, at once.
    let unmapped = Message { label: ECHO, data: 0x1000, data_len: 8, ..Message::default() };
    let mut r = Message::default();
    check!(ipc::call_port(port, &unmapped, &mut r) == Err(Errno::Fault), "unmapped data accepted");
    rt::call6(Syscall::VmProtect, [area, 4096, prot::READ, 0, 0, 0]).map_err(|_| "protect")?;
    // SAFETY: the page is mapped (read-only now); the kernel must refuse
    // to write the reply there.
    let read_only = unsafe { core::slice::from_raw_parts_mut(area as *mut u8, 64) };
    check!(call(port, ECHO, &[1; 8], read_only) == Err(Errno::Fault), "read-only reply buffer accepted");
    rt::vm_unmap(area, 4 * 4096).map_err(|_| "unmap")?;
    check!(ipc::call_regs(77, ECHO, [0; 4]) == Err(Errno::BadF), "register call on a bad handle");

    // The round trip, for the log (the benchmark measures it properly).
    let t0 = rt::clock(bedrock_abi::ClockId::Monotonic);
    for i in 0..1000u64 {
        let r = ipc::call_regs(port, ECHO, [i, 0, 0, 0]).map_err(|_| "register loop")?;
        check!(r.words[0] == i + 1, "register loop reply wrong");
    }
    let ns = (rt::clock(bedrock_abi::ClockId::Monotonic) - t0) / 1000;
    say!("ipc fast: register calls, ReplyWait and single-copy data correct; {ns} ns per register round trip");
    ipc::call_regs(port, STOP, [0; 4]).map_err(|_| "stop")?;
    Ok(())
}
