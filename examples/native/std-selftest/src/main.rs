//! The native-silo self-test: ordinary std code — threads, channels,
//! locks under contention across CPUs, clocks, sleeping, hashing with
//! random keys, files through a scheme server, sockets that fail cleanly —
//! each check printing `std-selftest: ... ok` for the QEMU scenario to
//! judge. A failed check panics, which ends the silo with the message and
//! status 134.
//!
//! `std-selftest panic-thread` panics in a spawned thread while the main
//! thread waits to join it: the panic must end the whole silo (status 134,
//! message in the log), not hang it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Barrier, Condvar, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bedrock_abi::Syscall;
use bedrock_abi::ipc::Message;
use bedrock_abi::user::{ipc, scheme, syscall};
// The libOS defines the hermit ABI std calls; nothing names it otherwise.
use bedrock_native_silo as _;

mod memfs;

/// The CPU the caller runs on.
fn cpu() -> usize {
    // SAFETY: GetCpu takes no pointers.
    unsafe { syscall(Syscall::GetCpu, &[]) }.expect("GetCpu")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("panic-thread") {
        panic_in_a_thread();
    }
    parallelism();
    threads_and_channels();
    contended_mutex_across_cpus();
    // Several rounds: wake-ups racing context switches across CPUs are
    // what this exercises, and each round is short.
    for _ in 0..4 {
        condvar_queue();
    }
    clocks_and_sleep();
    hashmap_with_random_keys();
    files_through_a_scheme();
    sockets_fail_cleanly();
    println!("std-selftest: all checks passed");
}

fn parallelism() {
    let n = thread::available_parallelism()
        .expect("available_parallelism")
        .get();
    println!("std-selftest: {n} CPUs available");
}

fn threads_and_channels() {
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (0..8u64)
        .map(|i| {
            let tx = tx.clone();
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let sum: u64 = (i * 1000..(i + 1) * 1000).sum();
                    tx.send((i, sum, thread::current().name().map(String::from)))
                        .unwrap();
                })
                .expect("spawn")
        })
        .collect();
    drop(tx);
    let mut got: Vec<_> = rx.iter().collect();
    for w in workers {
        w.join().expect("join");
    }
    got.sort();
    assert_eq!(got.len(), 8, "results from every worker");
    let total: u64 = got.iter().map(|g| g.1).sum();
    assert_eq!(total, (0..8000u64).sum::<u64>(), "sum over the channel");
    assert!(
        got.iter()
            .all(|(i, _, name)| name.as_deref() == Some(&*format!("worker-{i}"))),
        "thread names"
    );
    // A rendezvous channel: every message is handed over in lock step.
    let (tx, rx) = mpsc::sync_channel(0);
    let producer = thread::spawn(move || (0..2000u32).for_each(|i| tx.send(i).unwrap()));
    assert!(rx.iter().eq(0..2000), "rendezvous channel order");
    producer.join().unwrap();
    println!("std-selftest: threads and mpsc channels ok");
}

fn contended_mutex_across_cpus() {
    const THREADS: usize = 4;
    const ROUNDS: u64 = 20_000;
    let counter = Arc::new(Mutex::new(0u64));
    let cpus = Arc::new(Mutex::new(HashSet::new()));
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (counter, cpus, start) = (counter.clone(), cpus.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for i in 0..ROUNDS {
                    *counter.lock().unwrap() += 1;
                    if i % 1000 == 0 {
                        cpus.lock().unwrap().insert(cpu());
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total = *counter.lock().unwrap();
    assert_eq!(
        total,
        THREADS as u64 * ROUNDS,
        "lost updates under the mutex"
    );
    let seen = cpus.lock().unwrap().len();
    let online = thread::available_parallelism().unwrap().get();
    assert!(
        online == 1 || seen >= 2,
        "contending threads ran on {seen} CPU(s) of {online}"
    );
    println!("std-selftest: mutex contention across {seen} CPUs ok ({total} increments)");
}

fn condvar_queue() {
    const ITEMS: u64 = 10_000;
    let queue = Arc::new((Mutex::new(VecDeque::new()), Condvar::new(), Condvar::new()));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let queue = queue.clone();
            thread::spawn(move || {
                let (lock, not_empty, not_full) = &*queue;
                for i in 0..ITEMS / 2 {
                    let mut q = lock.lock().unwrap();
                    while q.len() >= 16 {
                        q = not_full.wait(q).unwrap();
                    }
                    q.push_back(p * ITEMS + i);
                    not_empty.notify_one();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let queue = queue.clone();
            thread::spawn(move || {
                let (lock, not_empty, not_full) = &*queue;
                let mut sum = 0u64;
                for _ in 0..ITEMS / 2 {
                    let mut q = lock.lock().unwrap();
                    loop {
                        if let Some(v) = q.pop_front() {
                            sum += v;
                            break;
                        }
                        // A timed wait exercises the futex timeout path too.
                        q = not_empty
                            .wait_timeout(q, Duration::from_millis(50))
                            .unwrap()
                            .0;
                    }
                    not_full.notify_one();
                }
                sum
            })
        })
        .collect();
    producers.into_iter().for_each(|p| p.join().unwrap());
    let sum: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    let expected: u64 = (0..2)
        .map(|p| (0..ITEMS / 2).map(|i| p * ITEMS + i).sum::<u64>())
        .sum();
    assert_eq!(
        sum, expected,
        "items lost or duplicated through the condvar queue"
    );
    println!("std-selftest: condvar queue ok");
}

fn clocks_and_sleep() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("realtime before 1970");
    assert!(
        now.as_secs() > 1_577_836_800,
        "realtime clock before 2020: {now:?}"
    );
    let t0 = Instant::now();
    thread::sleep(Duration::from_millis(50));
    let slept = t0.elapsed();
    assert!(slept >= Duration::from_millis(50), "slept only {slept:?}");
    assert!(slept < Duration::from_secs(5), "slept {slept:?}");
    assert!(Instant::now() >= t0 + slept, "monotonic clock went back");
    println!(
        "std-selftest: clocks and sleep ok (50 ms sleep took {} ms)",
        slept.as_millis()
    );
}

fn hashmap_with_random_keys() {
    let seed = RandomState::new();
    let keys: Vec<u64> = (0..10_000u64).map(|i| seed.hash_one(i)).collect();
    let map: HashMap<u64, u64> = keys.iter().map(|&k| (k, k ^ 0x5a5a)).collect();
    assert_eq!(map.len(), keys.len(), "random keys collided");
    assert!(keys.iter().all(|k| map[k] == k ^ 0x5a5a), "lookups");
    assert_ne!(
        RandomState::new().hash_one(1u8),
        RandomState::new().hash_one(1u8),
        "hash seeds repeat"
    );
    println!("std-selftest: HashMap with random keys ok");
}

fn files_through_a_scheme() {
    let port = ipc::port_create().expect("port");
    scheme::register("stdtest", port).expect("register scheme stdtest");
    let server = thread::spawn(move || {
        scheme::server::serve(port, &mut memfs::MemFs::new()).expect("serve");
    });

    fs::create_dir("stdtest:/dir").expect("create_dir");
    fs::write("stdtest:/dir/a.txt", "hello").expect("write");
    assert_eq!(fs::read_to_string("stdtest:/dir/a.txt").unwrap(), "hello");
    let mut f = OpenOptions::new()
        .append(true)
        .open("stdtest:/dir/a.txt")
        .expect("append");
    f.write_all(b" world").unwrap();
    drop(f);
    let mut f = File::open("stdtest:/dir/a.txt").unwrap();
    f.seek(SeekFrom::Start(6)).unwrap();
    let mut tail = String::new();
    f.read_to_string(&mut tail).unwrap();
    assert_eq!(tail, "world", "read after seek");
    let meta = f.metadata().unwrap();
    assert!(meta.is_file() && meta.len() == 11, "fstat: {meta:?}");
    drop(f);
    assert!(
        fs::metadata("stdtest:/dir").unwrap().is_dir(),
        "stat of a directory"
    );

    // Vectored I/O (the libOS's readv/writev): several buffers per call.
    let mut f = File::create("stdtest:/dir/v.txt").unwrap();
    let parts = [
        IoSlice::new(b"one "),
        IoSlice::new(b""),
        IoSlice::new(b"two"),
    ];
    assert_eq!(f.write_vectored(&parts).unwrap(), 7, "write_vectored");
    drop(f);
    let mut f = File::open("stdtest:/dir/v.txt").unwrap();
    let (mut a, mut b) = ([0u8; 4], [0u8; 8]);
    let n = f
        .read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
        .unwrap();
    assert_eq!((n, &a, &b[..3]), (7, b"one ", &b"two"[..]), "read_vectored");
    drop(f);
    fs::remove_file("stdtest:/dir/v.txt").unwrap();

    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    fs::write("stdtest:/dir/big.bin", &big).unwrap();
    assert!(
        fs::read("stdtest:/dir/big.bin").unwrap() == big,
        "100 KB file differs"
    );

    let mut names: Vec<(String, bool)> = fs::read_dir("stdtest:/dir")
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                e.file_type().unwrap().is_file(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [("a.txt".into(), true), ("big.bin".into(), true)],
        "read_dir"
    );

    assert!(File::create_new("stdtest:/dir/a.txt").unwrap_err().kind() == ErrorKind::AlreadyExists);
    assert!(
        fs::remove_dir("stdtest:/dir").is_err(),
        "removed a directory that is not empty"
    );
    fs::remove_file("stdtest:/dir/a.txt").unwrap();
    fs::remove_file("stdtest:/dir/big.bin").unwrap();
    fs::remove_dir("stdtest:/dir").unwrap();
    assert_eq!(
        fs::metadata("stdtest:/dir").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs::read("stdtest:/missing").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs::read("nosuchscheme:/x").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs::read("/etc/motd").unwrap_err().kind(),
        ErrorKind::NotFound
    );

    let h = scheme::lookup("stdtest").expect("lookup");
    let mut reply = Message::default();
    ipc::call_port(
        h,
        &Message {
            label: memfs::STOP,
            ..Message::default()
        },
        &mut reply,
    )
    .expect("stop");
    server.join().unwrap();
    assert_eq!(reply.words[0], 0, "files left open on the server");
    println!("std-selftest: files through the stdtest: scheme ok");
}

fn sockets_fail_cleanly() {
    let err = std::net::TcpStream::connect("10.0.2.2:80").expect_err("a socket without a network");
    println!("std-selftest: sockets fail cleanly ({err})");
}

fn panic_in_a_thread() -> ! {
    let t = thread::spawn(|| {
        thread::sleep(Duration::from_millis(20));
        panic!("deliberate panic in a std thread");
    });
    let _ = t.join();
    println!("std-selftest: the panicking thread did not end the silo");
    std::process::exit(0);
}
