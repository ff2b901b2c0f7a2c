//! IPC cases: a server and clients in separate silos, sharing one port
//! the kernel created (its handle number comes as an argument).

use bedrock_abi::ipc::{MAX_DATA, Message};
use bedrock_abi::{Errno, Rights};

use crate::rt::ipc;
use crate::rt::{self, Args};

type R = Result<(), &'static str>;

/// Labels of the toy protocol.
const ECHO: u64 = 1;
const SIGNAL_ME: u64 = 2;
const CRASH: u64 = 3;
const BULK: u64 = 4;
const BULK_SIZE: usize = 16 << 20;

/// FNV-1a over the bytes, 8 at a time folded (fast enough for 16 MiB
/// under emulation, and sensitive to every byte and its position).
fn checksum(bytes: &[u8]) -> u64 {
    bytes.chunks(8).fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
const STOP: u64 = 99;

fn port_arg(args: &Args) -> Result<u32, &'static str> {
    args.get(2).and_then(|s| s.parse().ok()).ok_or("missing port handle argument")
}

/// Serves calls until STOP: ECHO returns the words + 1 and the data
/// reversed; SIGNAL_ME signals the notification handle sent along;
/// CRASH dies without replying.
pub fn server(args: &Args) -> R {
    let port = port_arg(args)?;
    let mut buf = [0u8; MAX_DATA];
    let mut served = 0u64;
    loop {
        let mut m = Message { data: buf.as_mut_ptr() as u64, data_len: buf.len() as u64, ..Message::default() };
        ipc::receive(port, &mut m, u64::MAX).map_err(|_| "receive")?;
        let n = m.data_len as usize;
        match m.label {
            ECHO => {
                buf[..n].reverse();
                let words = m.words.map(|w| w + 1);
                let reply = Message { label: m.badge, words, data: buf.as_ptr() as u64, data_len: n as u64, ..Message::default() };
                ipc::reply(m.reply, &reply).map_err(|_| "reply")?;
            }
            SIGNAL_ME => {
                check!(m.handle_count == 1, "no notification handle came with the call");
                let h = m.handles[0];
                let first = ipc::signal(h, 0b101).is_ok();
                let reply = Message { label: first as u64, ..Message::default() };
                ipc::reply(m.reply, &reply).map_err(|_| "reply")?;
                // Wait for the client to revoke, then try again.
                let mut m2 = Message::default();
                ipc::receive(port, &mut m2, u64::MAX).map_err(|_| "receive 2")?;
                let after = ipc::signal(h, 0b1);
                let reply = Message { label: (after == Err(Errno::BadF)) as u64, ..Message::default() };
                ipc::reply(m2.reply, &reply).map_err(|_| "reply 2")?;
            }
            BULK => {
                check!(m.handle_count == 1, "no memory handle came with the call");
                let h = m.handles[0];
                let rw = ipc::mem_map(h, bedrock_abi::prot::READ | bedrock_abi::prot::WRITE);
                check!(rw == Err(Errno::Acces), "read-only memory handle could be mapped writable");
                let addr = ipc::mem_map(h, bedrock_abi::prot::READ).map_err(|_| "map shared memory")?;
                // SAFETY: the kernel mapped BULK_SIZE readable bytes there.
                let bytes = unsafe { core::slice::from_raw_parts(addr as *const u8, BULK_SIZE) };
                let reply = Message { words: [checksum(bytes), 0, 0, 0], ..Message::default() };
                ipc::reply(m.reply, &reply).map_err(|_| "reply bulk")?;
            }
            CRASH => {
                // SAFETY: deliberately dies holding the reply handle.
                unsafe { (0x8 as *mut u64).write_volatile(0) };
            }
            STOP => {
                ipc::reply(m.reply, &Message::default()).map_err(|_| "reply stop")?;
                say!("ipc server: served {served} calls");
                return Ok(());
            }
            _ => return Err("unknown label"),
        }
        served += 1;
    }
}

fn echo(port: u32, words: [u64; 4], data: &[u8], out: &mut [u8]) -> Result<Message, Errno> {
    let send = Message { label: ECHO, words, data: data.as_ptr() as u64, data_len: data.len() as u64, ..Message::default() };
    let mut reply = Message { data: out.as_mut_ptr() as u64, data_len: out.len() as u64, ..Message::default() };
    ipc::call_port(port, &send, &mut reply)?;
    Ok(reply)
}

fn stop(port: u32) -> R {
    let mut r = Message::default();
    ipc::call_port(port, &Message { label: STOP, ..Message::default() }, &mut r).map_err(|_| "stop")?;
    Ok(())
}

/// Ping-pong: many calls with data up to 4 KiB, checked byte for byte.
pub fn client(args: &Args) -> R {
    let port = port_arg(args)?;
    let mut data = [0u8; MAX_DATA];
    let mut out = [0u8; MAX_DATA];
    let t0 = rt::clock(bedrock_abi::ClockId::Monotonic);
    for i in 0..200u64 {
        let len = ((i * 97) % MAX_DATA as u64) as usize + 1;
        for (j, b) in data[..len].iter_mut().enumerate() {
            *b = (i as usize * 31 + j) as u8;
        }
        let r = echo(port, [i, i * 2, i * 3, u64::MAX - 1], &data[..len], &mut out).map_err(|_| "call")?;
        check!(r.words == [i + 1, i * 2 + 1, i * 3 + 1, u64::MAX], "reply words wrong");
        check!(r.data_len as usize == len, "reply length wrong");
        check!(out[..len].iter().rev().eq(data[..len].iter()), "reply data wrong");
    }
    let ns = rt::clock(bedrock_abi::ClockId::Monotonic) - t0;
    // A badge identifies which handle a call came through.
    let badged = ipc::mint(port, 0xbad9e, Rights::CALL).map_err(|_| "mint")?;
    let r = echo(badged, [0; 4], &[], &mut out).map_err(|_| "badged call")?;
    check!(r.label == 0xbad9e, "badge not delivered");
    say!("ipc client: 200 calls with up to 4 KiB, {} ns per round trip", ns / 200);
    stop(port)
}

/// A handle without the CALL right, and a handle that does not exist,
/// are refused; a duplicate cannot gain rights.
pub fn denied(args: &Args) -> R {
    let port = port_arg(args)?;
    let mut out = [0u8; 8];
    check!(echo(port, [0; 4], &[], &mut out) == Err(Errno::Acces), "call without CALL right");
    check!(echo(12345, [0; 4], &[], &mut out) == Err(Errno::BadF), "call on a nonexistent handle");
    check!(ipc::duplicate(port, Rights::ALL) == Err(Errno::Acces), "duplicate gained rights");
    say!("ipc denied: calls without the right were refused");
    Ok(())
}

/// Attenuation: a duplicate without CALL cannot call, the original still can.
pub fn attenuate(args: &Args) -> R {
    let port = port_arg(args)?;
    let mut out = [0u8; 8];
    let weak = ipc::duplicate(port, Rights::GRANT).map_err(|_| "duplicate")?;
    check!(ipc::info(weak).map_err(|_| "info")? as u32 == Rights::GRANT.bits(), "rights of the duplicate");
    check!(echo(weak, [0; 4], &[], &mut out) == Err(Errno::Acces), "attenuated handle could call");
    check!(echo(port, [1, 2, 3, 4], &[], &mut out).is_ok(), "original handle stopped working");
    ipc::close(weak).map_err(|_| "close")?;
    check!(ipc::close(weak) == Err(Errno::BadF), "double close");
    say!("ipc attenuate: a duplicate without CALL could not call, the original could");
    stop(port)
}

/// Transfer and revoke: a copied notification handle works in the server
/// until the client revokes it.
pub fn transfer(args: &Args) -> R {
    let port = port_arg(args)?;
    let n = ipc::notify_create().map_err(|_| "notify create")?;
    let send = Message { label: SIGNAL_ME, handles: [n, 0, 0, 0], handle_count: 1, ..Message::default() };
    let mut r = Message::default();
    ipc::call_port(port, &send, &mut r).map_err(|_| "call with handle")?;
    check!(r.label == 1, "server could not signal the transferred handle");
    check!(ipc::wait(n, 1_000_000_000) == Ok(0b101), "signal bits not received");
    ipc::revoke(n).map_err(|_| "revoke")?;
    ipc::call_port(port, &Message::default(), &mut r).map_err(|_| "second call")?;
    check!(r.label == 1, "revoked handle still worked in the server");
    check!(ipc::wait(n, 10_000_000) == Err(Errno::TimedOut), "a revoked handle signalled");
    say!("ipc transfer: handle worked after transfer and not after revoke");
    stop(port)
}

/// The server dies holding our call: the call fails, we do not hang.
pub fn crash_server(args: &Args) -> R {
    let port = port_arg(args)?;
    let mut r = Message::default();
    let got = ipc::call_port(port, &Message { label: CRASH, ..Message::default() }, &mut r);
    check!(got == Err(Errno::ConnReset), "call to a crashed server did not fail with ConnReset");
    // The port has no receiver any more: new calls fail at once.
    check!(ipc::call_port(port, &Message::default(), &mut r) == Err(Errno::ConnReset), "call after the crash");
    say!("ipc crash: caller got ConnReset when the server died");
    Ok(())
}

/// Malformed messages and invalid handles: errors, nothing else.
pub fn bad_args(_: &Args) -> R {
    let port = ipc::port_create().map_err(|_| "port create")?;
    let mut r = Message::default();
    let big = Message { data_len: MAX_DATA as u64 + 1, ..Message::default() };
    check!(ipc::call_port(port, &big, &mut r) == Err(Errno::Inval), "oversized data");
    let many = Message { handle_count: 5, ..Message::default() };
    check!(ipc::call_port(port, &many, &mut r) == Err(Errno::Inval), "too many handles");
    let bad_move = Message { handle_count: 1, handle_move: 0b10, handles: [port, 0, 0, 0], ..Message::default() };
    check!(ipc::call_port(port, &bad_move, &mut r) == Err(Errno::Inval), "move bit beyond count");
    let bad_handle = Message { handle_count: 1, handles: [777, 0, 0, 0], ..Message::default() };
    check!(ipc::call_port(port, &bad_handle, &mut r) == Err(Errno::BadF), "nonexistent handle in message");
    let bad_data = Message { data: 0xffff_8000_0000_0000, data_len: 16, ..Message::default() };
    check!(ipc::call_port(port, &bad_data, &mut r) == Err(Errno::Fault), "kernel pointer as data");
    let bad = rt::call6(bedrock_abi::Syscall::Call, [port as usize, 0x10, 0x20, 0, 0, 0]);
    check!(bad == Err(Errno::Fault), "bad descriptor pointers");
    check!(ipc::receive(port, &mut r, 1_000_000) == Err(Errno::TimedOut), "receive timeout");
    check!(ipc::reply(port, &Message::default()) == Err(Errno::Inval), "reply on a port handle");
    check!(ipc::signal(port, 1) == Err(Errno::Inval), "signal on a port");
    check!(ipc::duplicate(port, Rights(1 << 31)) == Err(Errno::Inval), "undefined rights bits");
    for h in [0u32, u32::MAX, 1 << 31] {
        check!(ipc::close(h) == Err(Errno::BadF), "close of a garbage handle");
    }
    say!("ipc badargs: malformed messages and invalid handles were refused");
    Ok(())
}

/// Bulk transfer: 16 MiB through a shared memory object; the server gets a
/// read-only handle and checks every byte.
pub fn bulk(args: &Args) -> R {
    let port = port_arg(args)?;
    let mem = ipc::mem_create(BULK_SIZE).map_err(|_| "mem create")?;
    let addr = ipc::mem_map(mem, bedrock_abi::prot::READ | bedrock_abi::prot::WRITE).map_err(|_| "map")?;
    // SAFETY: the kernel mapped BULK_SIZE writable bytes there.
    let bytes = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, BULK_SIZE) };
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i ^ (i >> 12)) as u8;
    }
    let expected = checksum(bytes);
    let read_only = ipc::duplicate(mem, Rights::READ | Rights::MAP | Rights::GRANT).map_err(|_| "duplicate")?;
    let send = Message { label: BULK, handles: [read_only, 0, 0, 0], handle_count: 1, handle_move: 1, ..Message::default() };
    let mut r = Message::default();
    let t0 = rt::clock(bedrock_abi::ClockId::Monotonic);
    ipc::call_port(port, &send, &mut r).map_err(|_| "bulk call")?;
    let ms = (rt::clock(bedrock_abi::ClockId::Monotonic) - t0) / 1_000_000;
    check!(r.words[0] == expected, "server saw different bytes");
    check!(ipc::close(read_only) == Err(Errno::BadF), "a moved handle stayed in the sender's table");
    say!("ipc bulk: 16 MiB shared read-only, checksum matched ({ms} ms)");
    stop(port)
}

/// A device interrupt (the kernel starts the RTC's periodic interrupt) as
/// notification bits: bind, then wait and acknowledge five times.
pub fn irq_wait(args: &Args) -> R {
    let irq = port_arg(args)?;
    let n = ipc::notify_create().map_err(|_| "notify create")?;
    check!(ipc::irq_ack(irq) == Err(Errno::Inval), "ack before bind");
    check!(ipc::irq_bind(irq, n, 0) == Err(Errno::Inval), "bind with no bits");
    ipc::irq_bind(irq, n, 1 << 3).map_err(|_| "bind")?;
    for _ in 0..5 {
        let bits = ipc::wait(n, 2_000_000_000).map_err(|_| "no interrupt within 2 s")?;
        check!(bits == 1 << 3, "wrong notification bits");
        ipc::irq_ack(irq).map_err(|_| "ack")?;
    }
    say!("irq: 5 device interrupts arrived as notifications");
    Ok(())
}
