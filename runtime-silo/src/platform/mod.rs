//! The platform layer: the only code in the runtime silo that knows which
//! operating system it runs on.
//!
//! Everything above this module (the silo manager, WASI, the component host)
//! is written against the fixed set of names re-exported here, so that moving
//! from hosted mode (Linux) to Bedrock swaps this module's backend and nothing
//! else. Code outside this module must not use `#[cfg(target_os = ...)]`.
//!
//! # The contract
//!
//! | name                  | meaning                                                               |
//! |-----------------------|-----------------------------------------------------------------------|
//! | [`online_cpus`]       | CPUs this process may run on (affinity and quotas applied)            |
//! | [`page_size`]         | the virtual-memory page size, in bytes                                |
//! | [`ThreadClock`]       | a thread's CPU-time clock, taken on that thread, read from any thread |
//! | [`fill_random`]       | fills a buffer from the OS entropy source (never a userspace PRNG)    |
//! | [`resident_memory`]   | bytes of this process resident in RAM, if the OS can tell             |
//! | [`spawn_thread`]      | starts a named thread with an explicit stack size                     |
//! | [`read_file`]         | reads a file (on Bedrock `/NAME` is a boot-archive file)              |
//! | [`serve_silo_service`] | serves the manager as the `silo:` scheme (Bedrock; hosted: an error) |
//!
//! # wasmtime's platform hooks (Bedrock backend)
//!
//! In hosted mode wasmtime uses its own Unix backend (`mmap`, `mprotect`,
//! native TLS). On Bedrock, wasmtime is built with the `custom-virtual-memory`
//! feature and calls C symbols that the embedder defines; they live in
//! `platform/bedrock/hooks.rs`, mirroring wasmtime's
//! `crates/wasmtime/src/runtime/vm/sys/custom/capi.rs`. Each returns 0 on
//! success and a nonzero error code (an errno) otherwise unless noted.
//!
//! | hook                                    | contract (as wasmtime documents it)                                      | Bedrock mapping                                 |
//! |-----------------------------------------|--------------------------------------------------------------------------|-------------------------------------------------|
//! | `wasmtime_mmap_new(size, prot, *ret)`   | new private anonymous mapping, may be committed lazily                  | `VmMap` (demand-zero reservation)               |
//! | `wasmtime_mmap_remap(addr, size, prot)` | replace `[addr, addr+size)` by a fresh zeroed mapping (decommits)       | `VmProtect` to none (frees frames), then `prot` |
//! | `wasmtime_munmap(ptr, size)`            | discard and decommit; later access must fault                           | `VmUnmap` (frees frames)                         |
//! | `wasmtime_mprotect(ptr, size, prot)`    | change protections (READ=1, WRITE=2, EXEC=4)                             | `VmProtect` (W^X: JIT code goes RW -> RX)       |
//! | `wasmtime_page_size()`                  | page size in bytes (no error code)                                      | 4096 from the ABI crate                         |
//! | `wasmtime_tls_get(slot)` / `_set`       | one pointer per thread and slot (0: runtime, 1: component async), NULL by default | a `thread_local!` (libOS static TLS)   |
//! | `wasmtime_memory_image_new(ptr, len, *ret)` | snapshot a page-aligned range for later copy-on-write mapping; storing NULL means "no image" and is not an error | NULL (no CoW)                                   |
//! | `wasmtime_memory_image_map_at(img, addr, len)` | map the image copy-on-write at `addr`                             | never called                                    |
//! | `wasmtime_memory_image_free(img)`       | drop the image; mappings made from it may outlive it                    | nothing to free                                 |
//!
//! `wasmtime_init_traps` (feature `custom-native-signals`) is not needed: the
//! engine is configured with `signals_based_traps(false)` in every mode (see
//! [`crate::engine`]), so generated code checks bounds and divisors explicitly
//! and never relies on a fault being delivered to user space.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as backend;

#[cfg(target_os = "hermit")]
mod bedrock;
#[cfg(target_os = "hermit")]
use bedrock as backend;

#[cfg(not(any(target_os = "linux", target_os = "hermit")))]
compile_error!(
    "runtime-silo has platform backends for Linux (hosted mode) and Bedrock (hermit target) only"
);

use std::io;
use std::num::NonZeroUsize;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

/// Number of CPUs this process may run on.
///
/// Takes CPU affinity and container quotas into account where the OS exposes
/// them; never returns zero (falls back to 1 when the OS cannot tell).
pub fn online_cpus() -> NonZeroUsize {
    backend::online_cpus()
}

/// The virtual-memory page size in bytes.
pub fn page_size() -> usize {
    backend::page_size()
}

/// The CPU-time clock of one thread: taken on that thread, read from any.
///
/// The silo manager reads a running silo's clock from its timer thread: that
/// is how CPU limits land while the silo's own thread is busy in wasm code
/// (which never calls back into the runtime, see [`crate::engine`]).
#[derive(Debug)]
pub struct ThreadClock(backend::ThreadClock);

impl ThreadClock {
    /// The clock of the calling thread.
    pub fn current() -> Self {
        Self(backend::ThreadClock::current())
    }

    /// CPU time the thread has consumed since it started; once the thread
    /// has ended, `None` (the OS forgot it).
    pub fn cpu_time(&self) -> Option<Duration> {
        self.0.cpu_time()
    }
}

/// Fills `buf` with bytes from the OS entropy source.
///
/// Blocks only if the OS entropy pool is not initialised yet (early boot).
pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    backend::fill_random(buf)
}

/// Bytes of this process currently resident in physical memory, or `None` if
/// the platform cannot tell.
///
/// Used by tests and diagnostics to check that silos which exited really gave
/// their memory back, independently of the runtime's own accounting.
pub fn resident_memory() -> Option<u64> {
    backend::resident_memory()
}

/// Reads a whole file: a wasm app, for instance.
///
/// On Bedrock, `/NAME` is file `NAME` of the boot archive (read-only), so the
/// runtime silo started at boot can run the apps packed beside it; other
/// paths (`scheme:/path`) go through std. Hosted, this is `std::fs::read`.
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    backend::read_file(path)
}

/// Serves `service` as the `silo:` scheme (registers it, then answers
/// requests until the port goes away). Bedrock only: hosted mode has no
/// scheme namespace and answers `Unsupported`.
pub fn serve_silo_service(service: crate::service::Service) -> io::Result<()> {
    backend::serve_silo_service(service)
}

/// Starts a thread named `name` with a stack of at least `stack_size` bytes.
///
/// Silo threads need an explicit stack size: wasm code may use up to
/// wasmtime's `max_wasm_stack` of the native stack on top of the host frames,
/// and with `signals_based_traps(false)` nothing catches a native stack
/// overflow, so the stack must be larger than that limit.
pub fn spawn_thread<F, T>(name: String, stack_size: usize, body: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // std's threads on both backends (the libOS's `sys_spawn2` on Bedrock).
    std::thread::Builder::new()
        .name(name)
        .stack_size(stack_size)
        .spawn(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_a_power_of_two() {
        assert!(page_size().is_power_of_two());
        assert!(page_size() >= 4096);
    }

    fn spin(time: Duration) {
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < time {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }

    #[test]
    fn thread_cpu_time_advances_with_work() {
        let clock = ThreadClock::current();
        let before = clock.cpu_time().expect("own clock");
        spin(Duration::from_millis(20));
        assert!(clock.cpu_time().expect("own clock") > before);
    }

    #[test]
    fn another_threads_clock_is_readable_and_is_its_own() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            tx.send(ThreadClock::current()).unwrap();
            spin(Duration::from_millis(50));
            // Stay alive (idle) until the reader is done.
            let _ = done_rx.recv();
        });
        let clock = rx.recv().unwrap();
        // Idle here while the worker spins: its clock must show the work.
        std::thread::sleep(Duration::from_millis(150));
        let seen = clock.cpu_time().expect("the worker is alive");
        assert!(seen >= Duration::from_millis(30), "{seen:?}");
        let mine = ThreadClock::current().cpu_time().unwrap();
        assert!(
            mine < seen,
            "the reader's own time {mine:?} vs the worker's {seen:?}"
        );
        done_tx.send(()).unwrap();
        worker.join().unwrap();
    }

    #[test]
    fn random_bytes_are_not_all_zero() {
        let mut buf = [0u8; 32];
        fill_random(&mut buf).expect("entropy source");
        assert!(buf.iter().any(|&b| b != 0));
    }

    #[test]
    fn resident_memory_is_reported_on_hosted_platforms() {
        assert!(resident_memory().is_some_and(|bytes| bytes > 0));
    }

    #[test]
    fn spawned_thread_has_its_name() {
        let handle = spawn_thread("platform-test".into(), 1 << 20, || {
            std::thread::current().name().map(str::to_owned)
        })
        .expect("spawn");
        assert_eq!(
            handle.join().ok().flatten().as_deref(),
            Some("platform-test")
        );
    }
}
