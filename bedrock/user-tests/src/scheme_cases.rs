//! Scheme cases: a toy scheme server with one 16 MiB read-only file, a
//! client reading it through the bulk path, an outsider whose namespace
//! lacks the scheme.

use bedrock_abi::ipc::Message;
use bedrock_abi::user::scheme;
use bedrock_abi::{Errno, prot};

use crate::rt::{self, Args, ipc};

type R = Result<(), &'static str>;

const SIZE: u64 = 16 << 20;
const STOP: u64 = 99;
/// Badge of the one open resource (distinct from silo ids).
const CHUNK: usize = 1 << 20;

/// Content of `toy:/big` at `offset`.
fn byte(offset: u64) -> u8 {
    ((offset.wrapping_mul(131)) ^ (offset >> 13)) as u8
}

/// The toy scheme: one read-only file, `/big`, of [`SIZE`] bytes of
/// [`byte`], served through the ABI crate's server library.
struct Toy {
    open: u64,
}

/// The only resource id the toy hands out.
const BIG_FILE: u64 = 7;

impl scheme::server::Handler for Toy {
    fn open(&mut self, _client: u64, path: &[u8], _flags: u64) -> Result<u64, Errno> {
        if path != b"/big" {
            return Err(Errno::NoEnt);
        }
        self.open += 1;
        Ok(BIG_FILE)
    }

    fn read(&mut self, _resource: u64, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let n = (buf.len() as u64).min(SIZE.saturating_sub(offset)) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = byte(offset + i as u64);
        }
        Ok(n)
    }

    fn stat(&mut self, _resource: u64) -> Result<scheme::server::Stat, Errno> {
        Ok(scheme::server::Stat { size: SIZE, kind: bedrock_abi::scheme::KIND_FILE })
    }

    fn close(&mut self, _resource: u64) {
        self.open -= 1;
    }

    fn other(&mut self, _badge: u64, label: u64, _words: [u64; 4]) -> (Result<[u64; 4], Errno>, scheme::server::Flow) {
        if label == STOP {
            (Ok([self.open, 0, 0, 0]), scheme::server::Flow::Stop)
        } else {
            (Err(Errno::Inval), scheme::server::Flow::Continue)
        }
    }
}

pub fn server(_: &Args) -> R {
    let port = ipc::port_create().map_err(|_| "port")?;
    scheme::register("toy", port).map_err(|_| "register")?;
    scheme::server::serve(port, &mut Toy { open: 0 }).map_err(|_| "serve")?;
    say!("scheme server: stopped");
    Ok(())
}

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
        // The first call attaches the memory; the others reuse it.
        let attach = (offset == 0).then_some(mem);
        let n = scheme::read_bulk(big, attach, offset, CHUNK as u64, 0).map_err(|_| "bulk read")?;
        check!(n == CHUNK as u64, "short bulk read");
        check!(chunk.iter().enumerate().all(|(i, &b)| b == byte(offset + i as u64)), "bulk bytes differ");
        offset += n;
    }
    let ms = (rt::clock(bedrock_abi::ClockId::Monotonic) - t0) / 1_000_000;
    check!(scheme::read_bulk(big, None, 0, 2 * CHUNK as u64, 0) == Err(Errno::Inval), "oversized bulk read");
    check!(scheme::write(big, 0, b"x") == Err(Errno::Perm), "write to a read-only toy file");
    check!(scheme::readdir(big, 0, &mut small) == Err(Errno::Inval), "readdir of a file");
    check!(scheme::mkdir("toy:/dir") == Err(Errno::Perm), "mkdir on the toy scheme");
    // A label outside the protocol, and a register-only OPEN (no handle
    // could come back): errors, and the server goes on.
    let mut r = Message::default();
    ipc::call_port(big, &Message { label: 0x777, ..Message::default() }, &mut r).map_err(|_| "odd label")?;
    check!(scheme::status(&r) == Err(Errno::Inval), "unknown label not refused");
    scheme::close_resource(big).map_err(|_| "close")?;
    let server = lookup_retry("toy").map_err(|_| "lookup")?;
    let odd = ipc::call_regs(server, bedrock_abi::scheme::OPEN, [0; 4]).map_err(|_| "register open")?;
    check!(odd.label == Errno::Inval as u64, "register-only OPEN not refused");
    let _ = ipc::close(server);
    say!("scheme client: read 16 MiB of toy:/big byte-exact through the bulk path ({ms} ms)");
    Ok(())
}

pub fn outsider(_: &Args) -> R {
    check!(scheme::lookup("toy") == Err(Errno::NoEnt), "looked up a scheme outside the namespace");
    check!(scheme::open("toy:/big", 0) == Err(Errno::NoEnt), "opened a file outside the namespace");
    check!(scheme::lookup("Bad Name") == Err(Errno::Inval), "invalid scheme name");
    check!(scheme::register("toy", 12345) == Err(Errno::Acces), "registered a scheme without +toy");
    say!("scheme outsider: toy: is not reachable outside its namespace");
    Ok(())
}

pub fn stop(_: &Args) -> R {
    let server = lookup_retry("toy").map_err(|_| "lookup")?;
    let mut r = Message::default();
    ipc::call_port(server, &Message { label: STOP, ..Message::default() }, &mut r).map_err(|_| "stop")?;
    // Every resource opened was closed again.
    check!(r.words[0] == 0, "the toy server still has open resources");
    Ok(())
}
