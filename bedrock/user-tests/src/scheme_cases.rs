//! Scheme cases: a toy scheme server with one 16 MiB read-only file, a
//! client reading it through the bulk path, an outsider whose namespace
//! lacks the scheme.

use bedrock_abi::ipc::{MAX_DATA, Message};
use bedrock_abi::user::scheme;
use bedrock_abi::{Errno, Rights, prot};

use crate::rt::{self, Args, call6, ipc};

type R = Result<(), &'static str>;

macro_rules! check {
    ($cond:expr, $why:expr) => {
        if !$cond {
            return Err($why);
        }
    };
}

const SIZE: u64 = 16 << 20;
const STOP: u64 = 99;
/// Badge of the one open resource (distinct from silo ids).
const BIG: u64 = 1 << 40;
const CHUNK: usize = 1 << 20;

/// Content of `toy:/big` at `offset`.
fn byte(offset: u64) -> u8 {
    ((offset.wrapping_mul(131)) ^ (offset >> 13)) as u8
}

fn status_reply(reply: u32, e: Errno) -> R {
    ipc::reply(reply, &Message { label: e as u64, ..Message::default() }).map(|_| ()).map_err(|_| "reply")
}

pub fn server(_: &Args) -> R {
    let port = ipc::port_create().map_err(|_| "port")?;
    scheme::register("toy", port).map_err(|_| "register")?;
    let mut buf = [0u8; MAX_DATA];
    loop {
        let mut m = Message { data: buf.as_mut_ptr() as u64, data_len: buf.len() as u64, ..Message::default() };
        ipc::receive(port, &mut m, u64::MAX).map_err(|_| "receive")?;
        let on_big = m.badge == BIG;
        match m.label {
            bedrock_abi::scheme::OPEN if !on_big => {
                let path = &buf[..(m.data_len as usize).min(MAX_DATA)];
                if path != b"/big" {
                    status_reply(m.reply, Errno::NoEnt)?;
                    continue;
                }
                let h = ipc::mint(port, BIG, Rights::CALL | Rights::GRANT).map_err(|_| "mint")?;
                let r = Message { handles: [h, 0, 0, 0], handle_count: 1, handle_move: 1, ..Message::default() };
                ipc::reply(m.reply, &r).map_err(|_| "reply open")?;
            }
            bedrock_abi::scheme::STAT if on_big => {
                let r = Message { words: [SIZE, bedrock_abi::scheme::KIND_FILE, 0, 0], ..Message::default() };
                ipc::reply(m.reply, &r).map_err(|_| "reply stat")?;
            }
            bedrock_abi::scheme::READ if on_big => {
                let [offset, len, ..] = m.words;
                let n = len.min(MAX_DATA as u64).min(SIZE.saturating_sub(offset)) as usize;
                for (i, b) in buf[..n].iter_mut().enumerate() {
                    *b = byte(offset + i as u64);
                }
                let r = Message { data: buf.as_ptr() as u64, data_len: n as u64, ..Message::default() };
                ipc::reply(m.reply, &r).map_err(|_| "reply read")?;
            }
            bedrock_abi::scheme::READ_BULK if on_big && m.handle_count == 1 => {
                let [offset, len, at, _] = m.words;
                let mem = m.handles[0];
                let size = ipc::mem_size(mem).map_err(|_| "mem size")? as u64;
                let n = len.min(SIZE.saturating_sub(offset));
                if at.checked_add(n).is_none_or(|end| end > size) {
                    let _ = ipc::close(mem);
                    status_reply(m.reply, Errno::Inval)?;
                    continue;
                }
                let addr = ipc::mem_map(mem, prot::READ | prot::WRITE).map_err(|_| "map")?;
                // SAFETY: the kernel mapped `size` writable bytes at `addr`.
                let dst = unsafe { core::slice::from_raw_parts_mut((addr as u64 + at) as *mut u8, n as usize) };
                for (i, b) in dst.iter_mut().enumerate() {
                    *b = byte(offset + i as u64);
                }
                call6(bedrock_abi::Syscall::VmUnmap, [addr, size as usize, 0, 0, 0, 0]).map_err(|_| "unmap")?;
                let _ = ipc::close(mem);
                let r = Message { words: [n, 0, 0, 0], ..Message::default() };
                ipc::reply(m.reply, &r).map_err(|_| "reply bulk")?;
            }
            STOP => {
                ipc::reply(m.reply, &Message::default()).map_err(|_| "reply stop")?;
                say!("scheme server: stopped");
                return Ok(());
            }
            _ => status_reply(m.reply, Errno::Inval)?,
        }
    }
}

/// Looks `name` up, retrying while the server is still starting.
fn lookup_retry(name: &str) -> Result<u32, Errno> {
    for _ in 0..500 {
        match scheme::lookup(name) {
            Err(Errno::NoEnt) => rt::sleep_ns(10_000_000),
            other => return other,
        }
    }
    Err(Errno::NoEnt)
}

pub fn client(_: &Args) -> R {
    let server = lookup_retry("toy").map_err(|_| "lookup")?;
    let _ = ipc::close(server);
    check!(scheme::open("toy:/nothing", 0) == Err(Errno::NoEnt), "open of a missing file");
    let big = scheme::open("toy:/big", bedrock_abi::scheme::open::READ).map_err(|_| "open")?;
    check!(scheme::size(big) == Ok(SIZE), "size");
    let mut small = [0u8; 100];
    check!(scheme::read(big, 12_345, &mut small) == Ok(100), "small read");
    check!(small.iter().enumerate().all(|(i, &b)| b == byte(12_345 + i as u64)), "small read bytes");
    let mem = ipc::mem_create(CHUNK).map_err(|_| "mem create")?;
    let addr = ipc::mem_map(mem, prot::READ).map_err(|_| "map")?;
    // SAFETY: the kernel mapped CHUNK readable bytes there.
    let chunk = unsafe { core::slice::from_raw_parts(addr as *const u8, CHUNK) };
    let t0 = rt::clock(bedrock_abi::ClockId::Monotonic);
    let mut offset = 0u64;
    while offset < SIZE {
        let n = scheme::read_bulk(big, mem, offset, CHUNK as u64, 0).map_err(|_| "bulk read")?;
        check!(n == CHUNK as u64, "short bulk read");
        check!(chunk.iter().enumerate().all(|(i, &b)| b == byte(offset + i as u64)), "bulk bytes differ");
        offset += n;
    }
    let ms = (rt::clock(bedrock_abi::ClockId::Monotonic) - t0) / 1_000_000;
    check!(scheme::read_bulk(big, mem, 0, 2 * CHUNK as u64, 0) == Err(Errno::Inval), "oversized bulk read");
    ipc::close(big).map_err(|_| "close")?;
    say!("scheme client: read 16 MiB of toy:/big byte-exact through the bulk path ({ms} ms)");
    Ok(())
}

pub fn outsider(_: &Args) -> R {
    check!(scheme::lookup("toy") == Err(Errno::NoEnt), "looked up a scheme outside the namespace");
    check!(scheme::open("toy:/big", 0) == Err(Errno::NoEnt), "opened a file outside the namespace");
    check!(scheme::lookup("Bad Name") == Err(Errno::Inval), "invalid scheme name");
    check!(scheme::register("toy", 12345) == Err(Errno::BadF), "registered with a bad handle");
    say!("scheme outsider: toy: is not reachable outside its namespace");
    Ok(())
}

pub fn stop(_: &Args) -> R {
    let server = lookup_retry("toy").map_err(|_| "lookup")?;
    let mut r = Message::default();
    ipc::call_port(server, &Message { label: STOP, ..Message::default() }, &mut r).map_err(|_| "stop")?;
    Ok(())
}
