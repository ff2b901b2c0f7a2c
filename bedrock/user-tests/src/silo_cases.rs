//! Silos spawned from ring 3: a parent maps the boot archive it was given,
//! finds `usertest` in it and starts other cases as child silos, passing
//! them handles; it waits for, and kills, them. The kernel-side scenario
//! checks what ring 3 cannot see (free frames after a kill).

use core::sync::atomic::{AtomicU32, Ordering};

use bedrock_abi::ipc::{Message, ObjectType, handle_info};
use bedrock_abi::silo::{MAX_IMAGE, MAX_SPAWN_HANDLES, SpawnSpec};
use bedrock_abi::user::silo::{self, ExitStatus, Pass, SpawnArgs};
use bedrock_abi::{Errno, Rights, Syscall, prot};
use bedrock_initrd::Archive;

use crate::rt::{self, Args, ipc};

type R = Result<(), &'static str>;

fn handle_arg(args: &Args, i: usize) -> Result<u32, &'static str> {
    args.get(i).and_then(|s| s.parse().ok()).ok_or("missing handle argument")
}

/// The `usertest` ELF from the boot archive behind our handle 1.
fn usertest_image() -> Result<&'static [u8], &'static str> {
    let bytes = silo::boot_archive().map_err(|_| "cannot map the boot archive (handle 1)")?;
    let archive = Archive::parse(bytes).map_err(|_| "the boot archive does not parse")?;
    Ok(archive.find("usertest").ok_or("no usertest in the boot archive")?.data)
}

/// Starts `usertest <argv...>` with `handles` and `namespace`.
fn child(image: &[u8], argv: &[&str], handles: &[Pass], namespace: &[&str]) -> Result<u32, Errno> {
    silo::spawn(&SpawnArgs { image, name: argv[1], argv, handles, namespace, ..SpawnArgs::default() })
}

/// Started by the kernel with handles 1 = boot archive, 2 = notification
/// to the kernel (SIGNAL), 3 = notification from the kernel (WAIT), and
/// the namespace {sys, toy}.
pub fn spawn(args: &Args) -> R {
    let (to_kernel, from_kernel) = (handle_arg(args, 2)?, handle_arg(args, 3)?);
    let image = usertest_image()?;

    // A child gets a copied port and a moved notification, in order, and
    // serves one call.
    let port = ipc::port_create().map_err(|_| "port")?;
    let note = ipc::notify_create().map_err(|_| "notification")?;
    let echo = child(image, &["usertest", "silo-echo", "1", "2"], &[Pass::Copy(port), Pass::Move(note)], &["sys"])
        .map_err(|_| "spawning the echo child")?;
    check!(ipc::info(note) == Err(Errno::BadF), "a moved handle stayed in our table");
    check!(
        ipc::info(echo) == Ok(handle_info(ObjectType::Silo, Rights::WAIT | Rights::KILL | Rights::GRANT | Rights::DUPLICATE) as usize),
        "silo handle type or rights"
    );
    let mut reply = Message::default();
    ipc::call_port(port, &Message { label: 1, words: [41, 0, 0, 0], ..Message::default() }, &mut reply)
        .map_err(|_| "call to the child")?;
    check!(reply.words[0] == 42, "the child's reply");
    check!(silo::wait(echo, u64::MAX) == Ok(ExitStatus::Code(42)), "echo child's exit status");
    check!(silo::wait(echo, 0) == Ok(ExitStatus::Code(42)), "a second wait sees the same status");
    ipc::close(echo).map_err(|_| "close")?;

    // A child that faults.
    let faulty = child(image, &["usertest", "fault-pf"], &[], &[]).map_err(|_| "spawning fault-pf")?;
    check!(silo::wait(faulty, u64::MAX) == Ok(ExitStatus::Fault { vector: 14 }), "fault-pf's status");

    // A child that spins after touching 16 MiB: killed, its memory freed
    // while we still hold its handle (the kernel counts the frames).
    let spin_note = ipc::notify_create().map_err(|_| "notification")?;
    let spinner = child(image, &["usertest", "silo-spin", "1"], &[Pass::Copy(spin_note)], &[])
        .map_err(|_| "spawning the spinner")?;
    ipc::wait(spin_note, u64::MAX).map_err(|_| "waiting for the spinner")?;
    check!(silo::wait(spinner, 0) == Err(Errno::TimedOut), "wait(0) on a running silo");
    check!(silo::wait(spinner, 20_000_000) == Err(Errno::TimedOut), "timed wait on a running silo");
    let wait_only = ipc::duplicate(spinner, Rights::WAIT).map_err(|_| "duplicate")?;
    check!(silo::kill(wait_only) == Err(Errno::Acces), "kill without KILL");
    ipc::signal(to_kernel, 1).map_err(|_| "signal")?;
    ipc::wait(from_kernel, u64::MAX).map_err(|_| "wait for the kernel")?;
    silo::kill(spinner).map_err(|_| "kill")?;
    check!(silo::wait(wait_only, u64::MAX) == Ok(ExitStatus::Killed), "killed silo's status");
    check!(silo::kill(spinner) == Ok(()), "killing a dead silo is harmless");
    ipc::signal(to_kernel, 2).map_err(|_| "signal")?;
    ipc::wait(from_kernel, u64::MAX).map_err(|_| "wait for the kernel")?;

    // Namespaces only shrink.
    check!(child(image, &["usertest", "hello"], &[], &["net"]) == Err(Errno::Acces), "granted a scheme we lack");
    check!(child(image, &["usertest", "hello"], &[], &["*"]) == Err(Errno::Acces), "granted the root namespace");
    check!(child(image, &["usertest", "hello"], &[], &["Bad Name"]) == Err(Errno::Acces), "granted a malformed name");
    let ok = child(image, &["usertest", "silo-ns"], &[], &["toy"]).map_err(|_| "spawn with a subset")?;
    check!(silo::wait(ok, u64::MAX) == Ok(ExitStatus::Code(0)), "silo-ns child");

    bad_specs(image)?;
    thread_handles()?;
    thread_cpu_clock()?;
    say!("silo-spawn: children spawned, waited for, faulted and killed; bad specs refused");
    Ok(())
}

/// A child: checks its initial handles, answers one call with words + 1
/// and exits 42.
pub fn echo(args: &Args) -> R {
    let (port, note) = (handle_arg(args, 2)?, handle_arg(args, 3)?);
    let port_rights = Rights::CALL | Rights::RECEIVE | Rights::GRANT | Rights::DUPLICATE;
    check!(ipc::info(port) == Ok(handle_info(ObjectType::Port, port_rights) as usize), "handle 1 is not our port");
    let note_rights = Rights::SIGNAL | Rights::WAIT | Rights::GRANT | Rights::DUPLICATE;
    check!(ipc::info(note) == Ok(handle_info(ObjectType::Notification, note_rights) as usize), "handle 2");
    check!(rt::call6(Syscall::SchemeLookup, [b"net".as_ptr() as usize, 3, 0, 0, 0, 0]) == Err(Errno::NoEnt), "net visible");
    let mut m = Message::default();
    ipc::receive(port, &mut m, u64::MAX).map_err(|_| "receive")?;
    let reply = Message { words: m.words.map(|w| w + 1), ..Message::default() };
    ipc::reply(m.reply, &reply).map_err(|_| "reply")?;
    rt::exit(42)
}

/// A child that touches 16 MiB, tells its parent, and spins in ring 3.
pub fn spin(args: &Args) -> R {
    let note = handle_arg(args, 2)?;
    const SIZE: usize = 16 << 20;
    let mem = rt::vm_map(SIZE, prot::READ | prot::WRITE).map_err(|_| "map")?;
    for off in (0..SIZE).step_by(4096) {
        // SAFETY: our own fresh mapping.
        unsafe { ((mem + off) as *mut u8).write_volatile(1) };
    }
    ipc::signal(note, 1).map_err(|_| "signal")?;
    let x = AtomicU32::new(0);
    loop {
        x.fetch_add(1, Ordering::Relaxed);
    }
}

/// A child granted {toy}: it cannot pass on what it lacks.
pub fn ns(_args: &Args) -> R {
    check!(silo::boot_archive() == Err(Errno::BadF), "a child got a boot archive it was not passed");
    let spec = SpawnSpec::default();
    check!(silo::spawn_raw(&spec) == Err(Errno::Inval), "empty spec");
    let image = b"\x7fELF";
    check!(child(image, &["usertest", "hello"], &[], &["sys"]) == Err(Errno::Acces), "sys from a child without it");
    Ok(())
}

/// Malformed spawn specs: errors, and nothing taken from our table.
fn bad_specs(image: &'static [u8]) -> R {
    let name = "bad";
    let argv = b"usertest\0hello\0";
    let good = SpawnSpec {
        image: image.as_ptr() as u64,
        image_len: image.len() as u64,
        name: name.as_ptr() as u64,
        name_len: name.len() as u64,
        argv: argv.as_ptr() as u64,
        argv_len: argv.len() as u64,
        argc: 2,
        ..SpawnSpec::default()
    };
    let try_spec = |f: &dyn Fn(&mut SpawnSpec)| {
        let mut s = good;
        f(&mut s);
        silo::spawn_raw(&s)
    };
    check!(rt::call6(Syscall::SiloSpawn, [0; 6]) == Err(Errno::Fault), "null spec");
    check!(rt::call6(Syscall::SiloSpawn, [0xffff_8000_0000_0000, 0, 0, 0, 0, 0]) == Err(Errno::Fault), "kernel spec");
    check!(try_spec(&|s| s.image = 0) == Err(Errno::Fault), "null image");
    check!(try_spec(&|s| s.image_len = 0) == Err(Errno::Inval), "empty image");
    check!(try_spec(&|s| s.image_len = MAX_IMAGE + 1) == Err(Errno::TooBig), "oversize image");
    let garbage = [0x5au8; 4096];
    check!(try_spec(&|s| { s.image = garbage.as_ptr() as u64; s.image_len = 4096 }) == Err(Errno::NoExec), "garbage ELF");
    check!(try_spec(&|s| s.image_len = 64) == Err(Errno::NoExec), "truncated ELF");
    check!(try_spec(&|s| s.name_len = 0) == Err(Errno::Inval), "empty name");
    check!(try_spec(&|s| s.name = 8) == Err(Errno::Fault), "bad name pointer");
    check!(try_spec(&|s| { s.name = b"a\nb".as_ptr() as u64; s.name_len = 3 }) == Err(Errno::Inval), "control char in name");
    check!(try_spec(&|s| s.argc = 3) == Err(Errno::Inval), "argc mismatch");
    check!(try_spec(&|s| s.argv_len -= 1) == Err(Errno::Inval), "argv without its final NUL");
    check!(try_spec(&|s| s.argv_len = 1 << 30) == Err(Errno::TooBig), "huge argv");
    check!(try_spec(&|s| s.flags = 1) == Err(Errno::Inval), "unknown flags");
    check!(try_spec(&|s| s.affinity = 1 << 63) == Err(Errno::Inval), "offline CPU in the affinity mask");
    check!(try_spec(&|s| s.handle_count = MAX_SPAWN_HANDLES as u32 + 1) == Err(Errno::TooBig), "too many handles");
    check!(try_spec(&|s| { s.handle_count = 1; s.handles[0] = 0xdead }) == Err(Errno::BadF), "garbage handle");
    let port = ipc::port_create().map_err(|_| "port")?;
    check!(try_spec(&|s| { s.handle_count = 2; s.handles[..2].copy_from_slice(&[port, port]) }) == Err(Errno::Inval), "duplicate handle");
    check!(try_spec(&|s| { s.handle_count = 1; s.handles[0] = port; s.handle_move = 2 }) == Err(Errno::Inval), "move bit beyond the count");
    let no_grant = ipc::duplicate(port, Rights::CALL).map_err(|_| "duplicate")?;
    check!(try_spec(&|s| { s.handle_count = 1; s.handles[0] = no_grant }) == Err(Errno::Acces), "handle without GRANT");
    // Failed spawns that would have moved `port` leave it with us.
    let moving = |s: &mut SpawnSpec| {
        s.handle_count = 1;
        s.handles[0] = port;
        s.handle_move = 1;
    };
    check!(try_spec(&|s| { moving(s); s.image_len = 64 }) == Err(Errno::NoExec), "bad ELF with a move");
    check!(try_spec(&|s| { moving(s); s.namespace = b"net\0".as_ptr() as u64; s.namespace_len = 4; s.namespace_count = 1 }) == Err(Errno::Acces), "bad namespace with a move");
    check!(ipc::info(port).is_ok(), "a failed spawn took a handle");
    // Wrong kinds of handle.
    check!(silo::wait(port, 0) == Err(Errno::Inval), "wait on a port");
    check!(silo::kill(port) == Err(Errno::Inval), "kill a port");
    check!(silo::wait(0xdead, 0) == Err(Errno::BadF), "wait on garbage");
    // Pinned to CPU 0, a good spec works.
    let pinned = try_spec(&|s| s.affinity = 1).map_err(|_| "pinned spawn")?;
    check!(silo::wait(pinned, u64::MAX) == Ok(ExitStatus::Code(0)), "pinned child");
    Ok(())
}

static GO: AtomicU32 = AtomicU32::new(0);

extern "C" fn worker(_: usize) -> ! {
    while GO.load(Ordering::Acquire) == 0 {
        let _ = rt::futex_wait(&GO, 0, u64::MAX);
    }
    rt::thread_exit(7)
}

/// Thread handles: minted for a live thread, waited for (repeatably, and
/// without spoiling `ThreadJoin`).
fn thread_handles() -> R {
    let tid = rt::thread_spawn(worker, 0, 0).map_err(|_| "thread")?;
    let h = silo::thread_handle(tid).map_err(|_| "thread handle")?;
    check!(ipc::info(h) == Ok(handle_info(ObjectType::Thread, Rights::WAIT | Rights::GRANT | Rights::DUPLICATE) as usize), "thread handle info");
    check!(silo::thread_wait(h, 0) == Err(Errno::TimedOut), "wait(0) on a live thread");
    check!(silo::thread_handle(0xdead_beef) == Err(Errno::Srch), "handle for an unknown thread");
    check!(silo::wait(h, 0) == Err(Errno::Inval), "silo wait on a thread handle");
    GO.store(1, Ordering::Release);
    let _ = rt::futex_wake(&GO, 1);
    check!(silo::thread_wait(h, u64::MAX) == Ok(7), "thread exit code");
    check!(silo::thread_wait(h, 0) == Ok(7), "second wait");
    check!(rt::thread_join(tid) == Ok(7), "join after a handle wait");
    let me = silo::thread_handle(0).map_err(|_| "own thread handle")?;
    check!(silo::thread_wait(me, 0) == Err(Errno::TimedOut), "own thread is alive");
    Ok(())
}

static SPIN: AtomicU32 = AtomicU32::new(1);

extern "C" fn spinner(_: usize) -> ! {
    while SPIN.load(Ordering::Acquire) != 0 {
        core::hint::spin_loop();
    }
    rt::thread_exit(0)
}

/// `ThreadCpuTime`: another thread's CPU time, read while it runs (its
/// current slice counts), and `Srch` once it has ended.
fn thread_cpu_clock() -> R {
    let me = silo::thread_handle(0).map_err(|_| "own thread handle")?;
    let mine_before = silo::thread_cpu_time(me).map_err(|_| "own cpu time")?;
    let tid = rt::thread_spawn(spinner, 0, 0).map_err(|_| "thread")?;
    let h = silo::thread_handle(tid).map_err(|_| "thread handle")?;
    // Sleeping here leaves a CPU to the spinner even on one CPU.
    rt::sleep_ns(100_000_000);
    let seen = silo::thread_cpu_time(h).map_err(|_| "cpu time of a live thread")?;
    check!(seen >= 30_000_000, "a thread spinning for 100 ms used less than 30 ms of CPU");
    let mine = silo::thread_cpu_time(me).map_err(|_| "own cpu time")?.saturating_sub(mine_before);
    check!(mine < seen, "the sleeper used more CPU than the spinner meanwhile");
    check!(silo::thread_cpu_time(0xdead) == Err(Errno::BadF), "cpu time of a garbage handle");
    SPIN.store(0, Ordering::Release);
    check!(rt::thread_join(tid) == Ok(0), "spinner exit");
    check!(silo::thread_cpu_time(h) == Err(Errno::Srch), "cpu time of an ended thread");
    Ok(())
}

/// Run as the first silo (as init would be): the archive is handle 1,
/// read-only, and the root namespace lets us grant any scheme.
pub fn init(_args: &Args) -> R {
    let archive_rights = Rights::READ | Rights::MAP | Rights::GRANT | Rights::DUPLICATE;
    check!(
        ipc::info(silo::BOOT_ARCHIVE_HANDLE) == Ok(handle_info(ObjectType::Memory, archive_rights) as usize),
        "handle 1 is not the read-only boot archive"
    );
    check!(ipc::mem_map(silo::BOOT_ARCHIVE_HANDLE, prot::READ | prot::WRITE) == Err(Errno::Acces), "archive writable");
    let bytes = silo::boot_archive().map_err(|_| "map the archive")?;
    let archive = Archive::parse(bytes).map_err(|_| "the boot archive does not parse")?;
    check!(archive.find("init").is_some(), "no init in the archive");
    let image = archive.find("usertest").ok_or("no usertest")?.data;
    let peer = child(image, &["usertest", "hello"], &[Pass::Copy(silo::BOOT_ARCHIVE_HANDLE)], &["*", "net", "fs"])
        .map_err(|_| "spawn from init")?;
    check!(silo::wait(peer, u64::MAX) == Ok(ExitStatus::Code(0)), "child of init");
    say!("silo-init: {} files in the boot archive; child started with the root namespace", archive.len());
    Ok(())
}
