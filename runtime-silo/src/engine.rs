//! The wasmtime engine configuration shared by every mode.
//!
//! Bedrock constrains how wasmtime may run: no signal handlers to turn faults
//! into traps, explicit virtual-memory reservations made through the platform
//! hooks, no pooling allocator (it does not build on wasmtime's custom
//! platform backend). Hosted mode uses exactly the same settings so that a
//! test on Linux exercises the code paths that run on Bedrock, and so that
//! hosted benchmarks are a same-code baseline.

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
            // CPU deadlines and the kill switch: one timer thread bumps the
            // epoch, each store decides what a tick means for it.
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
