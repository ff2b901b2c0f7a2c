//! The wasmtime engine configuration shared by every mode.
//!
//! Bedrock constrains how wasmtime may run: no signal handlers to turn faults
//! into traps, explicit virtual-memory reservations made through the platform
//! hooks, no pooling allocator (it does not build on wasmtime's custom
//! platform backend). Hosted mode uses exactly the same settings so that a
//! test on Linux exercises the code paths that run on Bedrock, and so that
//! hosted benchmarks are a same-code baseline.
//!
//! # Stopping wasm: final epoch deadlines
//!
//! Generated code checks the engine's epoch at every loop header and function
//! entry; that is how a kill or a time limit stops a silo that never calls
//! the host. Upstream wasmtime lets the check's slow path *return* into the
//! loop (deadline callbacks may extend the deadline), and a call that may
//! return inside every loop costs the loop its registers and Cranelift's
//! redundant-load elimination (wasmtime issue #7244): 1.38 times the default
//! configuration's time on the `compute` kernels. Bedrock builds wasmtime's
//! code generator with one change (`third_party/wasmtime-internal-cranelift`,
//! see its `BEDROCK.md`): a reached deadline is final, the slow path raises
//! the store's error or an `Interrupt` trap and never resumes, which brings
//! that to about 1.14. So each silo has an engine of its own, whose epoch
//! moves only to stop it (`silo::record`), and no store may rely on
//! `epoch_deadline_callback` continuing execution.

use wasmtime::{Config, Engine, OptLevel, Strategy};

/// Tunables of the engine. [`EngineOptions::default`] is the configuration
/// every silo runs with, hosted and on Bedrock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// Virtual address space reserved up front for each linear memory.
    ///
    /// The default, 4 GiB, covers every size a 32-bit memory can grow to,
    /// so a memory never moves: Cranelift then treats its base address as
    /// a constant and keeps it in a register, instead of reloading it from
    /// the instance after every call or epoch check that might have grown
    /// it (measured: `matmul` of the `compute` example 3.3 -> 2.4 times the
    /// default wasmtime's time). It is address space only: pages are
    /// committed as the memory grows, so on Bedrock this is a lazily backed
    /// VM region, and the memory limit still caps what is committed.
    /// Bounds checks stay explicit (against the current size) whatever the
    /// reservation, since signals-based traps are off.
    pub memory_reservation: u64,
    /// Whether a memory that outgrows its reservation may be moved (copied)
    /// into a larger one. Off: with a 4 GiB reservation no 32-bit memory
    /// needs it, and a memory that cannot move lets compiled code keep its
    /// base in a register. A 64-bit memory (memory64) is capped at the
    /// reservation.
    pub memory_may_move: bool,
    /// Unmapped guard region after each linear memory. Zero: with explicit
    /// bounds checks a guard never catches anything.
    pub memory_guard_size: u64,
    /// Room reserved for growth when a memory is moved to a new reservation
    /// (unused while memories may not move).
    pub memory_reservation_for_growth: u64,
    /// Native stack that wasm code may use before trapping with "call stack
    /// exhausted". Silo threads get this much plus host headroom.
    pub max_wasm_stack: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            memory_reservation: 1 << 32,
            memory_may_move: false,
            memory_guard_size: 0,
            memory_reservation_for_growth: 0,
            max_wasm_stack: 512 << 10,
        }
    }
}

impl EngineOptions {
    /// Builds the wasmtime [`Config`] for these options.
    pub fn config(&self) -> Config {
        let mut config = Config::new();
        config
            .strategy(Strategy::Cranelift)
            .cranelift_opt_level(OptLevel::Speed)
            // Bedrock delivers no faults to wasmtime: every trap condition is
            // checked explicitly by generated code.
            .signals_based_traps(false)
            .memory_reservation(self.memory_reservation)
            .memory_may_move(self.memory_may_move)
            .memory_guard_size(self.memory_guard_size)
            .memory_reservation_for_growth(self.memory_reservation_for_growth)
            // Copy-on-write memory images need `wasmtime_memory_image_*`
            // support from the platform; Bedrock's first backend has none, so
            // hosted mode does without as well (data segments are copied).
            .memory_init_cow(false)
            // The kill switch and time limits: advancing the epoch stops
            // the engine's stores (deadlines are final, see above).
            .epoch_interruption(true)
            .max_wasm_stack(self.max_wasm_stack)
            .wasm_component_model(true);
        config
    }

    /// Creates an engine with these options.
    pub fn build(&self) -> wasmtime::Result<Engine> {
        Engine::new(&self.config())
    }
}

/// The CPU features Cranelift generates code for, as the CPU reports them
/// (CPUID; under a hypervisor, what the guest sees). wasmtime's default
/// target is the host, whose flags `cranelift-native` detects with these
/// same `is_x86_feature_detected!` probes, so this is what JIT code uses.
pub fn cpu_features() -> Vec<&'static str> {
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($feature:tt),*) => {
                $(if std::is_x86_feature_detected!($feature) {
                    found.push($feature);
                })*
            };
        }
        probe!(
            "sse3",
            "ssse3",
            "sse4.1",
            "sse4.2",
            "popcnt",
            "avx",
            "avx2",
            "fma",
            "bmi1",
            "bmi2",
            "lzcnt",
            "avx512f",
            "avx512vl",
            "avx512dq",
            "avx512vbmi",
            "avx512bitalg"
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_build_an_engine() {
        EngineOptions::default().build().expect("engine");
    }

    #[test]
    fn memories_grow_in_place() {
        let engine = EngineOptions::default().build().expect("engine");
        let module =
            wasmtime::Module::new(&engine, r#"(module (memory (export "m") 1))"#).expect("module");
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
        let memory = instance.get_memory(&mut store, "m").expect("export");
        let base = memory.data_ptr(&store);
        // 64 MiB: far past any small reservation, which would have moved it.
        memory.grow(&mut store, 1023).expect("grow");
        assert_eq!(memory.data_size(&store), 64 << 20);
        assert_eq!(memory.data_ptr(&store), base);
    }

    /// Fails if wasmtime's code generator is the upstream one (the
    /// `[patch]` in the workspace's Cargo.toml lost): a callback asking to
    /// continue would then let the loop finish.
    #[test]
    fn a_reached_epoch_deadline_is_final() {
        let engine = EngineOptions::default().build().expect("engine");
        let module = wasmtime::Module::new(
            &engine,
            r#"(module (func (export "count") (param i32) (result i32)
                   (local i32)
                   (loop $l
                     (local.set 1 (i32.add (local.get 1) (i32.const 1)))
                     (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
                   local.get 1))"#,
        )
        .expect("module");
        let mut store = wasmtime::Store::new(&engine, 0u32);
        store.epoch_deadline_callback(|mut store| {
            *store.data_mut() += 1;
            Ok(wasmtime::UpdateDeadline::Continue(1))
        });
        store.set_epoch_deadline(1);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
        let count = instance
            .get_typed_func::<u32, u32>(&mut store, "count")
            .expect("export");
        assert_eq!(
            count.call(&mut store, 1000).expect("before the deadline"),
            1000
        );
        engine.increment_epoch();
        let err = count.call(&mut store, 1000).expect_err("must stop");
        assert_eq!(
            err.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::Interrupt)
        );
        // The store's own policy still ran once.
        assert_eq!(*store.data(), 1);
    }

    /// Loops that neither call nor store must still read the epoch anew on
    /// every iteration (the patched slow path writes the deadline back for
    /// that, see `third_party/wasmtime-internal-cranelift/BEDROCK.md`),
    /// including a loop after another one in the same function.
    #[test]
    fn loops_without_calls_or_stores_are_stopped() {
        let engine = EngineOptions::default().build().expect("engine");
        let module = wasmtime::Module::new(
            &engine,
            r#"(module
                 (func (export "spin") (loop (br 0)))
                 (func (export "two_loops") (local i32)
                   (loop $a
                     (local.set 0 (i32.add (local.get 0) (i32.const 1)))
                     (br_if $a (i32.lt_u (local.get 0) (i32.const 1000))))
                   (loop $b (br $b))))"#,
        )
        .expect("module");
        for name in ["spin", "two_loops"] {
            let mut store = wasmtime::Store::new(&engine, ());
            store.set_epoch_deadline(1);
            let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
            let func = instance
                .get_typed_func::<(), ()>(&mut store, name)
                .expect("export");
            let stopper = std::thread::spawn({
                let engine = engine.clone();
                move || {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    engine.increment_epoch();
                }
            });
            let err = func.call(&mut store, ()).expect_err("must stop");
            stopper.join().expect("stopper");
            assert_eq!(
                err.downcast_ref::<wasmtime::Trap>(),
                Some(&wasmtime::Trap::Interrupt),
                "{name}"
            );
        }
    }

    #[test]
    fn explicit_bounds_checks_still_trap_out_of_bounds() {
        let engine = EngineOptions::default().build().expect("engine");
        let module = wasmtime::Module::new(
            &engine,
            r#"(module (memory 1) (func (export "f") (result i32)
                   i32.const 65536 i32.load))"#,
        )
        .expect("module");
        let mut store = wasmtime::Store::new(&engine, ());
        store.set_epoch_deadline(1);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
        let f = instance
            .get_typed_func::<(), i32>(&mut store, "f")
            .expect("export");
        let err = f.call(&mut store, ()).expect_err("must trap");
        assert_eq!(
            err.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::MemoryOutOfBounds)
        );
    }
}
