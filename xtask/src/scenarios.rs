//! The harness's side of the in-kernel test scenarios.
//!
//! The kernel owns the scenarios' code and lists their names (`test=list`);
//! this table owns how each one is booted and what counts as passing. The
//! harness checks that the two name lists agree, so a scenario cannot be
//! added to one side and silently never run.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Context, Result};

/// How a scenario must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Exit with `ExitCode::Success`, print `scenario <name>: ok`, print no
    /// `FAILED` line, and print every string in `must_contain`.
    Pass {
        must_contain: &'static [&'static str],
    },
    /// Exit with `ExitCode::Failure` and print every string in
    /// `must_contain`: for scenarios that deliberately fault or panic to
    /// test the kernel's reporting path.
    Fail {
        must_contain: &'static [&'static str],
    },
}

/// What a scenario's preparation produced.
#[derive(Debug, Default)]
pub struct Prepared {
    /// A generated file to pass with `-initrd`.
    pub initrd: Option<PathBuf>,
    /// Further strings the log must contain, known only once the files exist.
    pub must_contain: Vec<String>,
}

/// Generates a scenario's boot files in the given directory.
pub type Prepare = fn(&Path) -> Result<Prepared>;

#[derive(Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub smp: u32,
    pub memory_mib: u32,
    /// Command-line words after `test=<name>`.
    pub cmdline: &'static [&'static str],
    pub timeout: Duration,
    pub expect: Expect,
    pub prepare: Option<Prepare>,
}

/// Resources of a scenario (and of the `test=list` boot) unless it says
/// otherwise: two CPUs so that SMP paths run, and little memory so that a
/// boot under TCG stays quick.
pub const DEFAULT_SMP: u32 = 2;
pub const DEFAULT_MEMORY_MIB: u32 = 256;
/// Generous for TCG on a loaded CI machine; a hung kernel costs this much.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const DEFAULT: Scenario = Scenario {
    name: "",
    smp: DEFAULT_SMP,
    memory_mib: DEFAULT_MEMORY_MIB,
    cmdline: &[],
    timeout: DEFAULT_TIMEOUT,
    expect: Expect::Pass { must_contain: &[] },
    prepare: None,
};

/// Every scenario, in the kernel's order (that of `test=list`) so that the
/// two lists can be read side by side.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "boot_banner",
        expect: Expect::Pass {
            must_contain: &[
                "Bedrock 0.1.0",
                "MiB usable",
                "command line \"test=boot_banner\"",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "cmdline_unknown_option",
        cmdline: &["frobnicate=7"],
        expect: Expect::Pass {
            must_contain: &["unknown command-line option \"frobnicate=7\" ignored"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "frame_stress",
        ..DEFAULT
    },
    Scenario {
        name: "heap_stress",
        ..DEFAULT
    },
    Scenario {
        name: "kernel_mappings",
        ..DEFAULT
    },
    Scenario {
        name: "page_fault_report",
        expect: Expect::Fail {
            must_contain: &["EXCEPTION #PF", "cr2=0xffff900000000000", "rip="],
        },
        ..DEFAULT
    },
    Scenario {
        name: "panic_exit",
        expect: Expect::Fail {
            must_contain: &["PANIC", "deliberate panic from scenario panic_exit"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "stack_overflow_report",
        // The overflow faults on the guard page, and the fault handler,
        // still on the overflowed stack, faults again: only the double
        // fault handler (on its own IST stack) can report it.
        expect: Expect::Fail {
            must_contain: &["EXCEPTION #DF"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "boot_module",
        prepare: Some(prepare_boot_module),
        ..DEFAULT
    },
    Scenario {
        name: "smp_all_cpus_online",
        // More CPUs than the default, so that APs beyond the first count.
        smp: 4,
        expect: Expect::Pass {
            must_contain: &["smp: 4 CPUs online"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "ioapic_rtc_irq",
        expect: Expect::Pass {
            must_contain: &["RTC interrupts through GSI 8"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "preempt_busy_threads",
        ..DEFAULT
    },
    Scenario {
        name: "sleep_accuracy",
        ..DEFAULT
    },
    Scenario {
        name: "thread_join_64",
        ..DEFAULT
    },
    Scenario {
        name: "wait_queue_ping_pong",
        ..DEFAULT
    },
    Scenario {
        name: "affinity_respected",
        ..DEFAULT
    },
    Scenario {
        name: "timed_wait_preempted",
        ..DEFAULT
    },
    Scenario {
        name: "wake_while_switching",
        smp: 4,
        ..DEFAULT
    },
    Scenario {
        name: "user_hello",
        expect: Expect::Pass {
            must_contain: &["hello from ring 3", "ended: exit code 0"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "user_fault_isolation",
        smp: 4,
        // Each faulting silo is reported with its silo id and RIP; the
        // kernel (and the healthy silo) keep running.
        expect: Expect::Pass {
            must_contain: &[
                "#PF (page fault) at rip=",
                "#UD (invalid opcode) at rip=",
                "#GP (general protection fault) at rip=",
                "#DE (divide error) at rip=",
                "threads: 64 threads created and joined",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "syscall_bad_pointers",
        expect: Expect::Pass {
            must_contain: &["badptr: every bad argument was refused"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "user_threads_64",
        smp: 4,
        ..DEFAULT
    },
    Scenario {
        name: "futex_cross_cpu",
        smp: 4,
        expect: Expect::Pass {
            must_contain: &["futex: 500 ping-pong rounds"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "wx_refused",
        expect: Expect::Pass {
            must_contain: &["wx: W^X refused, RW->RX code ran"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "user_sleep",
        ..DEFAULT
    },
    Scenario {
        name: "static_pie_load",
        expect: Expect::Pass {
            must_contain: &[
                "pie: static PIE loaded at 0x40000000",
                "StaticPie image 0x40000000",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "fpu_state_per_thread",
        smp: 4,
        ..DEFAULT
    },
    Scenario {
        name: "fpu_state_fxsave",
        smp: 4,
        cmdline: &["fpu=fxsave"],
        expect: Expect::Pass {
            must_contain: &["user FPU state by FXSAVE (512 bytes)"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "silo_memory_freed",
        ..DEFAULT
    },
    Scenario {
        name: "ipc_ping_pong",
        smp: 4,
        expect: Expect::Pass {
            must_contain: &[
                "ipc client: 200 calls with up to 4 KiB",
                "ipc server: served 201 calls",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "ipc_fast_path",
        smp: 2,
        expect: Expect::Pass {
            must_contain: &[
                "ipc fast: register calls, ReplyWait and single-copy data correct",
                "ipc fast server: stopped",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "cap_denied",
        expect: Expect::Pass {
            must_contain: &[
                "ipc denied: calls without the right were refused",
                "denied: handle 1 (Port) lacks call (has grant)",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "cap_attenuation",
        expect: Expect::Pass {
            must_contain: &[
                "ipc attenuate: a duplicate without CALL could not call, the original could",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "cap_transfer_revoke",
        expect: Expect::Pass {
            must_contain: &["ipc transfer: handle worked after transfer and not after revoke"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "ipc_peer_death",
        expect: Expect::Pass {
            must_contain: &[
                "ipc crash: caller got ConnReset when the server died",
                "#PF (page fault)",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "ipc_bad_messages",
        expect: Expect::Pass {
            must_contain: &["ipc badargs: malformed messages and invalid handles were refused"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "ipc_shared_memory",
        // 16 MiB of pattern written and checked under TCG.
        memory_mib: 512,
        timeout: Duration::from_secs(120),
        expect: Expect::Pass {
            must_contain: &["ipc bulk: 16 MiB shared read-only, checksum matched"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "scheme_bulk_16mib",
        memory_mib: 512,
        timeout: Duration::from_secs(120),
        expect: Expect::Pass {
            must_contain: &[
                "serves scheme toy:",
                "scheme client: read 16 MiB of toy:/big byte-exact through the bulk path",
                "scheme server: stopped",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "namespace_isolation",
        expect: Expect::Pass {
            must_contain: &[
                "serves scheme toy:",
                "scheme outsider: toy: is not reachable outside its namespace",
                "scheme toy: is not in its namespace",
                "scheme server: stopped",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "user_irq_notification",
        expect: Expect::Pass {
            must_contain: &["irq: 5 device interrupts arrived as notifications"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "sys_introspection",
        expect: Expect::Pass {
            must_contain: &["sys: ", " silos and 2 CPUs listed"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "tlb_shootdown",
        expect: Expect::Pass {
            must_contain: &["#PF (page fault) at rip="],
        },
        ..DEFAULT
    },
    Scenario {
        name: "user_affinity",
        expect: Expect::Pass {
            must_contain: &["affinity: pinned threads stayed on their CPUs, bad masks refused"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "user_bench_smoke",
        // Every benchmark printed a result line (`cargo xtask bench` parses
        // them; here only their presence counts) and the run completed.
        expect: Expect::Pass {
            must_contain: &[
                "BENCH result name=syscall ",
                "BENCH result name=page_fault ",
                "BENCH result name=ctx_switch ",
                "BENCH result name=ctx_switch_cross ",
                "BENCH result name=ipc_same_core ",
                "BENCH result name=ipc_cross_core ",
                "BENCH result name=notify ",
                "BENCH result name=bulk_read ",
                "BENCH info bulk_read_mb_s=",
                // The std program (a native silo) that `usertest bench`
                // starts last.
                "(std-bench): BENCH result name=std_spawn_join ",
                "(std-bench): BENCH result name=std_mutex_uncontended ",
                "(std-bench): BENCH result name=std_mutex_contended ",
                "(std-bench): BENCH result name=std_malloc ",
                "(std-bench) ended: exit code 0",
                // Then the runtime silo's guest benchmark (quick: one run,
                // every kernel at scale 1).
                "(runtime-silo): BENCH info wasm.compile.compute.ms=",
                "(runtime-silo): BENCH info wasm.deploy_first_output.cold_ms=",
                "(runtime-silo): BENCH info wasm.deploy_first_output.cached_ms=",
                "(runtime-silo): BENCH info wasm.compute.sha256.silo_ms=",
                "(runtime-silo): BENCH info wasm.compute.fib.silo_ms=",
                "(runtime-silo): BENCH info wasm.done=1",
                "(runtime-silo) ended: exit code 0",
                "BENCH done",
            ],
        },
        memory_mib: 512,
        timeout: Duration::from_secs(240),
        ..DEFAULT
    },
    Scenario {
        name: "silo_spawn",
        expect: Expect::Pass {
            must_contain: &[
                "silo-spawn: children spawned, waited for, faulted and killed; bad specs refused",
                "(silo-echo) ended: exit code 42",
                "(fault-pf) ended: #PF",
                "kills silo",
                "cannot grant scheme \"net\" to a child",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "init_demo",
        memory_mib: 512,
        timeout: Duration::from_secs(180),
        expect: Expect::Pass {
            must_contain: &[
                "init: Bedrock user space is up",
                "init: platform authority at handle 2",
                "init: runtime silo started",
                "serves scheme silo:",
                "std-hello: hello from Rust std on Bedrock",
                "std-hello: env GREETING=hello from init",
                "init: demo std-hello ended: exit code 0",
                "init: wasm demo (silo 1 of silo:) ended: exited exited with code 0",
                "init: wasm demo printed: Hello from a Bedrock silo!",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "silo_init_archive",
        expect: Expect::Pass {
            must_contain: &["silo-init: ", "child started with the root namespace"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "device_caps",
        expect: Expect::Pass {
            must_contain: &[
                "device ports: PCI host bridge 8086:29c0 read through ports 0xcf8..0xcff",
                "device mmio: HPET capabilities 0x",
                "device ipc: messages never copy device memory",
                "device dma: 12288 bytes at physical 0x",
                "pattern verified by the kernel there",
                "device dma: freed after the last handle and mapping went",
                "device: every bad argument was refused and the kernel is fine",
                "device_caps: DMA pattern found at the reported physical address",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        // Issue 13: 200 000 fuzzed calls (fixed seed) from several threads
        // on two CPUs; then frames, heap, handles, threads, silos and
        // scheme names back to their baseline. 25-90 s of fuzzing under
        // TCG, depending on the host's load.
        name: "syscall_fuzz",
        timeout: Duration::from_secs(240),
        expect: Expect::Pass {
            must_contain: &[
                "fuzz: seed=0x13f022 target 200000 calls",
                "fuzz: 200000 calls after",
                "fuzz: done: ",
                "syscall_fuzz: every counter back to its baseline",
                "fuzz counters: ",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "std_hello",
        expect: Expect::Pass {
            must_contain: &[
                "(std-hello): std-hello: hello from Rust std on Bedrock",
                "std-hello: args [\"std-hello\", \"one\", \"two words\"]",
                "std-hello: env GREETING=hi from the kernel",
                "std-hello: args [\"std-hello\", \"panic\"]",
                "panicked at std-hello/src/main.rs",
                "deliberate panic from std-hello",
                "(std-hello) ended: exit code 134",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "std_selftest_smp4",
        smp: 4,
        memory_mib: 512,
        timeout: Duration::from_secs(180),
        expect: Expect::Pass {
            must_contain: &[
                "std-selftest: 4 CPUs available",
                "std-selftest: threads and mpsc channels ok",
                "std-selftest: mutex contention across ",
                "std-selftest: condvar queue ok",
                "std-selftest: clocks and sleep ok",
                "std-selftest: HashMap with random keys ok",
                "std-selftest: files through the stdtest: scheme ok",
                "std-selftest: sockets fail cleanly (",
                "std-selftest: all checks passed",
                "(std-selftest) ended: exit code 0",
                "deliberate panic in a std thread",
                "(std-selftest) ended: exit code 134",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "wasm_hello",
        memory_mib: 512,
        timeout: Duration::from_secs(180),
        expect: Expect::Pass {
            must_contain: &[
                "Hello from a Bedrock silo!",
                "argv[1] = from",
                "argv[2] = ring 3",
                "(runtime-silo) ended: exit code 0",
                "Error: rejected: cannot read the wasm file: /no-such-app.wasm: no such file in the boot archive",
                "(runtime-silo) ended: exit code 1",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "wasm_compute_8_silos_smp4",
        smp: 4,
        memory_mib: 1024,
        timeout: Duration::from_secs(300),
        expect: Expect::Pass {
            must_contain: &[
                "boot: 8 apps; Cranelift for x86_64 with ",
                "boot: sha256-x1: exited with code 0 (as expected)",
                "boot: nbody-x1: exited with code 0 (as expected)",
                "boot: matmul-x1: exited with code 0 (as expected)",
                "boot: fib-x1: exited with code 0 (as expected)",
                "boot: sha256-x2: exited with code 0 (as expected)",
                "boot: nbody-x2: exited with code 0 (as expected)",
                "boot: matmul-x2: exited with code 0 (as expected)",
                "boot: fib-x2: exited with code 0 (as expected)",
                "boot: cache compilations=1 hits=7",
                "boot: all 8 apps ended as expected",
                "(runtime-silo) ended: exit code 0",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "wasm_trap_isolation",
        memory_mib: 1024,
        timeout: Duration::from_secs(240),
        expect: Expect::Pass {
            must_contain: &[
                "boot: unreachable: trapped: unreachable instruction executed (as expected)",
                "boot: panic: trapped: unreachable instruction executed (as expected)",
                "panic|2 ",
                "boot: out-of-bounds: trapped: out of bounds memory access (as expected)",
                "boot: divide-by-zero: trapped: integer divide by zero (as expected)",
                "boot: stack-overflow: trapped: call stack exhausted (as expected)",
                "boot: indirect-call-mismatch: trapped: indirect call type mismatch (as expected)",
                "hello| Hello from a Bedrock silo!",
                "boot: hello: exited with code 0 (as expected)",
                "boot: all 7 apps ended as expected",
                "(runtime-silo) ended: exit code 0",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "wasm_deadline_kill",
        memory_mib: 1024,
        timeout: Duration::from_secs(240),
        expect: Expect::Pass {
            must_contain: &[
                "boot: spin-wall: deadline exceeded: ran longer than 1500 ms wall-clock (as expected)",
                "boot: spin-cpu: deadline exceeded: used more than 1000 ms of CPU time (as expected)",
                "boot: fib: exited with code 0 (as expected)",
                "boot: all 3 apps ended as expected",
                "(runtime-silo) ended: exit code 0",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "wasm_malformed_rejected",
        memory_mib: 512,
        timeout: Duration::from_secs(180),
        expect: Expect::Pass {
            must_contain: &[
                "boot: not-wasm: rejected: malformed wasm: ",
                "boot: truncated: rejected: ",
                "boot: invalid: rejected: invalid wasm: ",
                "boot: missing: rejected: cannot read the wasm file: /no-such-app.wasm: no such file in the boot archive (as expected)",
                "boot: hello: exited with code 0 (as expected)",
                "boot: all 5 apps ended as expected",
                "unknown field `wal_ms`",
                "(runtime-silo) ended: exit code 1",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "wasm_code_cache",
        memory_mib: 512,
        timeout: Duration::from_secs(180),
        expect: Expect::Pass {
            must_contain: &[
                "hello-first| argv[1] = first",
                "hello-again| argv[1] = again",
                "boot: cache compilations=1 hits=1",
                "boot: all 2 apps ended as expected",
                "(runtime-silo) ended: exit code 0",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "wasm_silo_service",
        smp: 4,
        memory_mib: 512,
        timeout: Duration::from_secs(240),
        expect: Expect::Pass {
            must_contain: &[
                "serves scheme silo:",
                "it exited 0 and printed its greeting",
                "silo-client: killed the endless silo",
                "silo-client: ok",
                "(silo-client) ended: exit code 0",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "wasm_memory_baseline",
        smp: 4,
        memory_mib: 512,
        timeout: Duration::from_secs(300),
        expect: Expect::Pass {
            must_contain: &[
                "silo-client: 50 cycles ok",
                "wasm_memory_baseline: runtime silo",
            ],
        },
        ..DEFAULT
    },
    // Issue 13: the security review's findings, one scenario each.
    Scenario {
        name: "sec_shared_map_race",
        timeout: Duration::from_secs(180),
        expect: Expect::Pass {
            must_contain: &["sec-map-race: ", "showed object data"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "sec_fs_base_canonical",
        expect: Expect::Pass {
            must_contain: &[
                "sec-canonical: FS base, TLS, stack and entry past the user end refused",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "sec_derive_chain",
        expect: Expect::Pass {
            must_contain: &["sec-derive: chain stopped at depth 64"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "sec_early_wake_no_leak",
        timeout: Duration::from_secs(180),
        expect: Expect::Pass {
            must_contain: &["sec-wake: 1000 early-woken futex waits"],
        },
        ..DEFAULT
    },
    Scenario {
        name: "sec_scheme_squat",
        expect: Expect::Pass {
            must_contain: &[
                "sec-squat: unauthorised names refused, 16 names per silo, dead names freed",
                "may not serve scheme silo:",
            ],
        },
        ..DEFAULT
    },
    Scenario {
        name: "sec_unmap_shootdown",
        smp: 4,
        timeout: Duration::from_secs(180),
        expect: Expect::Pass {
            must_contain: &["#PF (page fault) at rip="],
        },
        ..DEFAULT
    },
    Scenario {
        name: "vm_race_stress",
        smp: 4,
        timeout: Duration::from_secs(300),
        expect: Expect::Pass {
            must_contain: &["sec-map-race: ", "showed object data"],
        },
        ..DEFAULT
    },
];

/// Size of the `boot_module` scenario's module: not a multiple of the page
/// size, so the kernel must honour the exact length.
const BOOT_MODULE_LEN: usize = 100_000;
/// Fixed so the module (and its hash) is the same on every run.
const BOOT_MODULE_SEED: u64 = 0xB0_07_0D_u64;

/// Writes `boot_module.bin` and expects the kernel to report its size and
/// FNV-1a hash, which proves it read the module from the right place.
fn prepare_boot_module(dir: &Path) -> Result<Prepared> {
    let bytes = pseudo_random_bytes(BOOT_MODULE_SEED, BOOT_MODULE_LEN);
    let path = dir.join("boot_module.bin");
    fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    fs::write(&path, &bytes).context(|| format!("writing {}", path.display()))?;
    Ok(Prepared {
        initrd: Some(path),
        must_contain: vec![module_line(0, &bytes)],
    })
}

/// The line the kernel prints for boot module `index`.
fn module_line(index: usize, bytes: &[u8]) -> String {
    format!(
        "module {index}: {} bytes, fnv1a64={:#018x}",
        bytes.len(),
        fnv1a64(bytes)
    )
}

/// 64-bit FNV-1a: trivial to implement identically in the kernel.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// `len` bytes from SplitMix64: deterministic, and unlike a repeating
/// pattern it catches a module read at a wrong offset.
fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut bytes: Vec<u8> = std::iter::repeat_with(|| next().to_le_bytes())
        .take(len.div_ceil(8))
        .flatten()
        .collect();
    bytes.truncate(len);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_not_the_list_keyword() {
        let names: HashSet<_> = SCENARIOS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SCENARIOS.len());
        assert!(!names.contains(bedrock_testproto::LIST));
        assert!(SCENARIOS.iter().all(|s| !s.name.is_empty()));
    }

    #[test]
    fn fnv1a64_known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn pseudo_random_bytes_are_deterministic_and_exact_length() {
        let a = pseudo_random_bytes(1, 13);
        assert_eq!(a.len(), 13);
        assert_eq!(a, pseudo_random_bytes(1, 13));
        assert_ne!(a, pseudo_random_bytes(2, 13));
        // SplitMix64's first output for seed 0.
        assert_eq!(
            pseudo_random_bytes(0, 8),
            0xe220_a839_7b1d_cdaf_u64.to_le_bytes()
        );
    }

    #[test]
    fn module_line_format() {
        let line = module_line(0, b"a");
        assert_eq!(line, "module 0: 1 bytes, fnv1a64=0xaf63dc4c8601ec8c");
        let line = module_line(0, &[0; 100_000]);
        let hash = line.rsplit_once("=0x").unwrap().1;
        assert_eq!(hash.len(), 16);
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn boot_module_writes_the_file_it_describes() {
        let dir = std::env::temp_dir().join(format!("xtask-test-{}", std::process::id()));
        let prepared = prepare_boot_module(&dir).unwrap();
        let path = prepared.initrd.unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len(), BOOT_MODULE_LEN);
        assert_eq!(prepared.must_contain, [module_line(0, &bytes)]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
