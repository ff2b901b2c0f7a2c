//! `usertest bench [quick]`: Bedrock's side of `cargo xtask bench`. The
//! benchmarks themselves are `bedrock-bench-core`, shared with the Linux
//! anchor; this file maps its [`Os`] onto Bedrock's system calls.
//!
//! The IPC benchmarks' peers are other silos: `usertest bench-peer ...`,
//! spawned from the boot archive (our initial handle 1) with the port or
//! notifications they serve. The std benchmarks are a native silo,
//! `std-bench`, from the same archive.

use core::sync::atomic::AtomicU32;

use bedrock_abi::ipc::{FIRST_INITIAL_HANDLE, Message};
use bedrock_abi::user::scheme;
use bedrock_abi::user::silo::{self, ExitStatus, Pass, SpawnArgs};
use bedrock_abi::{ClockId, Errno, Syscall, prot};
use bedrock_bench_core::{Config, Error, Os, Record, Service, file_byte};

use crate::rt::{self, Args, ipc};

/// Bedrock through its raw system calls, one per operation.
struct Bedrock {
    /// Our own ELF image, for the peer silos.
    usertest: &'static [u8],
    /// The std benchmark program, a native silo (`examples/native/std-bench`).
    std_bench: &'static [u8],
    /// The runtime silo (wasmtime + Cranelift), for the wasm benchmark.
    runtime_silo: &'static [u8],
}

/// Labels the echo and file peers understand besides their protocol.
const ECHO: u64 = 1;
const STOP: u64 = 99;
/// Notification bits: a request, and the last request.
const PING: u64 = 1;
const LAST: u64 = 2;

enum Channel {
    Echo { port: u32 },
    Notify { request: u32, answer: u32 },
}

struct Peer {
    silo: u32,
    channel: Channel,
}

struct File {
    silo: u32,
    port: u32,
    resource: u32,
    memory: u32,
    addr: usize,
    attached: bool,
}

impl Bedrock {
    /// Starts `usertest bench-peer <what> <handles...> [extra]` on `cpu`
    /// with `handles` (copied: we keep ours; at most 2).
    fn spawn_peer(&self, what: &str, handles: &[u32], extra: Option<&str>, cpu: usize) -> Result<u32, Error> {
        if cpu >= 64 || handles.len() > 2 {
            return Err("bad peer arguments");
        }
        let mut numbers = [[0u8; 10]; 2];
        let mut argv = [""; 6];
        argv[..3].copy_from_slice(&["usertest", "bench-peer", what]);
        let mut passes = [Pass::Copy(0); 2];
        for (i, &h) in handles.iter().enumerate() {
            passes[i] = Pass::Copy(h);
        }
        for (i, number) in numbers.iter_mut().enumerate().take(handles.len()) {
            argv[3 + i] = decimal(FIRST_INITIAL_HANDLE as usize + i, number);
        }
        let mut argc = 3 + handles.len();
        if let Some(extra) = extra {
            argv[argc] = extra;
            argc += 1;
        }
        silo::spawn(&SpawnArgs {
            image: self.usertest,
            name: "bench-peer",
            argv: &argv[..argc],
            handles: &passes[..handles.len()],
            affinity: 1 << cpu,
            ..SpawnArgs::default()
        })
        .map_err(|_| "cannot spawn the peer silo")
    }
}

/// `n` (below 10^10) in decimal, in `buf`.
fn decimal(n: usize, buf: &mut [u8; 10]) -> &str {
    let mut len = 0;
    let mut digits = [0u8; 10];
    let mut v = n.min(9_999_999_999);
    loop {
        digits[len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[i] = digits[len - 1 - i];
    }
    core::str::from_utf8(&buf[..len]).unwrap_or("0")
}

fn wait_ok(silo: u32) -> Result<(), Error> {
    let status = silo::wait(silo, u64::MAX).map_err(|_| "cannot wait for the peer silo");
    let _ = ipc::close(silo);
    match status? {
        ExitStatus::Code(0) => Ok(()),
        _ => Err("the peer silo failed"),
    }
}

impl Os for Bedrock {
    type Peer = Peer;
    type File = File;

    fn now_ns(&self) -> u64 {
        rt::clock(ClockId::Monotonic)
    }

    fn echo_mechanisms(&self) -> &'static [&'static str] {
        &["port"]
    }

    fn peer_start(&self, service: Service, _mechanism: usize, cpu: usize) -> Result<Peer, Error> {
        match service {
            Service::Echo => {
                let port = ipc::port_create().map_err(|_| "cannot create a port")?;
                let silo = self.spawn_peer("echo", &[port], None, cpu)?;
                Ok(Peer { silo, channel: Channel::Echo { port } })
            }
            Service::Notify => {
                let request = ipc::notify_create().map_err(|_| "cannot create a notification")?;
                let answer = ipc::notify_create().map_err(|_| "cannot create a notification")?;
                let silo = self.spawn_peer("notify", &[request, answer], None, cpu)?;
                Ok(Peer { silo, channel: Channel::Notify { request, answer } })
            }
        }
    }

    fn peer_round_trip(&self, peer: &mut Peer, value: u64) -> Result<u64, Error> {
        match peer.channel {
            // The fast path: label and words in registers.
            Channel::Echo { port } => ipc::call_regs(port, ECHO, [value, 0, 0, 0])
                .map(|r| r.words[0])
                .map_err(|_| "echo call failed"),
            Channel::Notify { request, answer } => {
                ipc::signal(request, PING).map_err(|_| "signal failed")?;
                ipc::wait(answer, u64::MAX).map(|b| b as u64).map_err(|_| "wait failed")
            }
        }
    }

    fn peer_stop(&self, peer: Peer) -> Result<(), Error> {
        match peer.channel {
            Channel::Echo { port } => {
                ipc::call_regs(port, STOP, [0; 4]).map_err(|_| "stop call failed")?;
                let _ = ipc::close(port);
            }
            Channel::Notify { request, answer } => {
                ipc::signal(request, LAST).map_err(|_| "signal failed")?;
                ipc::wait(answer, u64::MAX).map_err(|_| "wait failed")?;
                let _ = (ipc::close(request), ipc::close(answer));
            }
        }
        wait_ok(peer.silo)
    }

    fn file_open(&self, size: usize) -> Result<File, Error> {
        let port = ipc::port_create().map_err(|_| "cannot create a port")?;
        let mut digits = [0u8; 10];
        let size_arg = decimal(size, &mut digits);
        let silo = self.spawn_peer("file", &[port], Some(size_arg), 0)?;
        // Our handle is a scheme handle to the peer (badge 0).
        let path = "/file";
        let send = Message {
            label: bedrock_abi::scheme::OPEN,
            words: [bedrock_abi::scheme::open::READ, 0, 0, 0],
            data: path.as_ptr() as u64,
            data_len: path.len() as u64,
            ..Message::default()
        };
        let mut reply = Message::default();
        ipc::call_port(port, &send, &mut reply).map_err(|_| "open call failed")?;
        scheme::status(&reply).map_err(|_| "the file peer refused the open")?;
        if reply.handle_count != 1 {
            return Err("no resource handle came back");
        }
        let memory = ipc::mem_create(bedrock_bench_core::BULK_CHUNK).map_err(|_| "cannot create shared memory")?;
        let addr = ipc::mem_map(memory, prot::READ).map_err(|_| "cannot map shared memory")?;
        Ok(File { silo, port, resource: reply.handles[0], memory, addr, attached: false })
    }

    fn file_read<'f>(&self, file: &'f mut File, offset: u64, len: usize) -> Result<&'f [u8], Error> {
        if len > bedrock_bench_core::BULK_CHUNK {
            return Err("bulk read larger than the shared buffer");
        }
        let attach = (!file.attached).then_some(file.memory);
        let n = scheme::read_bulk(file.resource, attach, offset, len as u64, 0).map_err(|_| "bulk read failed")?;
        file.attached = true;
        // SAFETY: the shared object is mapped readable at `addr` for
        // BULK_CHUNK bytes, and `n <= len <= BULK_CHUNK`.
        Ok(unsafe { core::slice::from_raw_parts(file.addr as *const u8, (n as usize).min(len)) })
    }

    fn file_close(&self, file: File) -> Result<(), Error> {
        scheme::close_resource(file.resource).map_err(|_| "close failed")?;
        let mut reply = Message::default();
        ipc::call_port(file.port, &Message { label: STOP, ..Message::default() }, &mut reply)
            .map_err(|_| "stop call failed")?;
        let _ = rt::vm_unmap(file.addr, bedrock_bench_core::BULK_CHUNK);
        let _ = (ipc::close(file.memory), ipc::close(file.port));
        wait_ok(file.silo)
    }

    fn run_std_bench(&self, mode: &str) -> Result<(), Error> {
        // No schemes: its output goes to the kernel log like ours.
        run_to_end(
            &SpawnArgs {
                image: self.std_bench,
                name: "std-bench",
                argv: &["std-bench", mode],
                ..SpawnArgs::default()
            },
            "the std bench program failed",
        )
    }

    fn run_wasm_bench(&self, args: &[&str]) -> Result<(), Error> {
        // It reads `/hello.wasm` and `/compute.wasm` from the boot archive
        // (a copy of our handle 1).
        run_to_end(
            &SpawnArgs {
                image: self.runtime_silo,
                name: "runtime-silo",
                argv: args,
                handles: &[Pass::Copy(silo::BOOT_ARCHIVE_HANDLE)],
                ..SpawnArgs::default()
            },
            "the runtime silo's wasm bench failed",
        )
    }

    fn null_syscall(&self) {
        // GetCpu does no work beyond the common path: dispatch, the silo
        // lookup, the dying check and SYSRET, like Linux's getppid.
        // SAFETY: GetCpu takes no arguments.
        let _ = unsafe { rt::call(Syscall::GetCpu, &[]) };
    }

    fn futex_wait(&self, word: &AtomicU32, expected: u32) {
        // Again (the word changed) and spurious returns are fine: the
        // caller re-checks the word.
        let _ = rt::futex_wait(word, expected, u64::MAX);
    }

    fn futex_wake(&self, word: &AtomicU32) {
        let _ = rt::futex_wake(word, 1);
    }

    fn map(&self, len: usize) -> Result<*mut u8, Error> {
        // VmMap memory is demand-zero in 4 KiB pages.
        rt::vm_map(len, prot::READ | prot::WRITE)
            .map(|addr| addr as *mut u8)
            .map_err(|_| "VmMap failed")
    }

    fn unmap(&self, ptr: *mut u8, len: usize) -> Result<(), Error> {
        rt::vm_unmap(ptr as usize, len).map(drop).map_err(|_| "VmUnmap failed")
    }

    fn cpus(&self) -> usize {
        rt::silo_info().map_or(1, |info| info.online_cpus as usize)
    }

    fn pin(&self, cpu: usize) -> Result<(), Error> {
        if cpu >= 64 {
            return Err("CPU number too large");
        }
        rt::set_affinity(0, 1 << cpu).map_err(|_| "SetAffinity failed")?;
        // The scheduler moves the caller at its next scheduling decision.
        rt::yield_now();
        Ok(())
    }

    fn cpu(&self) -> Option<usize> {
        Some(rt::get_cpu())
    }

    fn pair<R>(&self, me: impl FnOnce() -> R, partner: impl FnOnce() + Send) -> Result<R, Error> {
        let mut slot = Some(partner);
        let id = spawn_from_slot(&mut slot)?;
        let result = me();
        // The partner has taken `slot` and finished with it once joined.
        rt::thread_join(id).map_err(|_| "cannot join the partner thread")?;
        Ok(result)
    }

    fn print(&self, line: core::fmt::Arguments<'_>) {
        say!("{line}");
    }
}

/// Starts a thread that takes `f` out of `slot` and runs it. The caller
/// must join the thread before `slot` goes away.
fn spawn_from_slot<F: FnOnce() + Send>(slot: &mut Option<F>) -> Result<usize, Error> {
    rt::thread_spawn(run_slot::<F>, slot as *mut Option<F> as usize, 0)
        .map_err(|_| "cannot create the partner thread")
}

extern "C" fn run_slot<F: FnOnce() + Send>(slot: usize) -> ! {
    // SAFETY: `spawn_from_slot` passed its `&mut Option<F>`, which outlives
    // this thread (the spawner joins it) and which only this thread touches
    // until then.
    let f = unsafe { (*(slot as *mut Option<F>)).take() };
    if let Some(f) = f {
        f();
    }
    rt::thread_exit(0)
}

/// Finds our own image, the std bench program and the runtime silo in the
/// boot archive (initial handle 1).
fn images() -> Result<Bedrock, Error> {
    let archive = silo::boot_archive().map_err(|_| "no boot archive handle")?;
    let archive = bedrock_initrd::Archive::parse(archive).map_err(|_| "the boot archive is corrupt")?;
    let find = |name, missing| archive.find(name).map(|f| f.data).ok_or(missing);
    Ok(Bedrock {
        usertest: find("usertest", "no usertest in the boot archive")?,
        std_bench: find("std-bench", "no std-bench in the boot archive")?,
        runtime_silo: find("runtime-silo", "no runtime-silo in the boot archive")?,
    })
}

pub fn bench(args: &Args) -> Result<(), &'static str> {
    let config = Config::from_arg(args.get(2)).inspect_err(|why| say!("{}", Record::Error(why)))?;
    let bedrock = images().inspect_err(|why| say!("{}", Record::Error(why)))?;
    bedrock_bench_core::run(&bedrock, &config)
}

fn handle_arg(args: &Args, i: usize) -> Result<u32, Error> {
    args.get(i).and_then(|s| s.parse().ok()).ok_or("missing handle argument")
}

/// `usertest bench-peer echo|notify|file <handles>`: the other silo of the
/// IPC benchmarks.
pub fn peer(args: &Args) -> Result<(), &'static str> {
    match args.get(2) {
        Some("echo") => {
            let port = handle_arg(args, 3)?;
            let mut reply = Message::default();
            let mut pending = 0;
            loop {
                let mut m = Message::default();
                ipc::reply_wait(pending, &reply, port, &mut m, u64::MAX).map_err(|_| "reply_wait failed")?;
                pending = m.reply;
                if m.label == STOP {
                    ipc::reply(pending, &Message::default()).map_err(|_| "reply failed")?;
                    return Ok(());
                }
                reply = Message { words: [m.words[0].wrapping_add(1), 0, 0, 0], ..Message::default() };
            }
        }
        Some("notify") => {
            let (request, answer) = (handle_arg(args, 3)?, handle_arg(args, 4)?);
            loop {
                let bits = ipc::wait(request, u64::MAX).map_err(|_| "wait failed")? as u64;
                ipc::signal(answer, PING).map_err(|_| "signal failed")?;
                if bits & LAST != 0 {
                    return Ok(());
                }
            }
        }
        Some("file") => {
            let port = handle_arg(args, 3)?;
            let size: usize = args.get(4).and_then(|s| s.parse().ok()).ok_or("missing file size")?;
            let addr = rt::vm_map(size.next_multiple_of(4096), prot::READ | prot::WRITE).map_err(|_| "cannot map the file")?;
            // SAFETY: the fresh mapping holds `size` writable bytes, ours
            // alone for the rest of the program.
            let data = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, size) };
            for (i, b) in data.iter_mut().enumerate() {
                *b = file_byte(i as u64);
            }
            scheme::server::serve(port, &mut MemoryFile { data }).map_err(|_| "serve failed")
        }
        _ => Err("bench-peer: expected echo, notify or file"),
    }
}

/// The bulk-read benchmark's file: bytes of `file_byte` in memory (the
/// size comes as an argument).
struct MemoryFile {
    data: &'static [u8],
}

impl scheme::server::Handler for MemoryFile {
    fn open(&mut self, _client: u64, path: &[u8], _flags: u64) -> Result<u64, Errno> {
        if path != b"/file" {
            return Err(Errno::NoEnt);
        }
        Ok(1)
    }

    fn read(&mut self, _resource: u64, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let start = (offset as usize).min(self.data.len());
        let n = buf.len().min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        Ok(n)
    }

    fn stat(&mut self, _resource: u64) -> Result<scheme::server::Stat, Errno> {
        Ok(scheme::server::Stat { size: self.data.len() as u64, kind: bedrock_abi::scheme::KIND_FILE })
    }

    fn other(&mut self, _badge: u64, label: u64, _words: [u64; 4]) -> (Result<[u64; 4], Errno>, scheme::server::Flow) {
        match label {
            STOP => (Ok([0; 4]), scheme::server::Flow::Stop),
            _ => (Err(Errno::Inval), scheme::server::Flow::Continue),
        }
    }
}

/// Starts a silo on every CPU (affinity 0, not the CPU we are pinned to)
/// and waits for it; `failed` unless it exits with code 0.
fn run_to_end(spawn: &SpawnArgs<'_>, failed: Error) -> Result<(), Error> {
    let silo = silo::spawn(&SpawnArgs { affinity: 0, ..*spawn }).map_err(|_| failed)?;
    let status = silo::wait(silo, u64::MAX).map_err(|_| failed);
    let _ = ipc::close(silo);
    match status? {
        ExitStatus::Code(0) => Ok(()),
        _ => Err(failed),
    }
}
