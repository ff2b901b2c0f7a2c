//! The silo manager: the library API that the command line, the `serve`
//! protocol and (later) Bedrock's `silo:` service are thin layers over.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cache::{CacheStats, CodeCache};
use super::logs::{DEFAULT_LOG_CAPACITY, Logs};
use super::record::{SiloId, SiloInfo, SiloRecord};
use super::request::DeployRequest;
use super::runner::{self, Runtime};
use super::status::{ExitStatus, TrapInfo, TrapKind};
use super::ticker::Ticker;
use crate::engine::EngineOptions;
use crate::platform;

/// Host stack a silo thread gets on top of the engine's `max_wasm_stack`:
/// room for compilation, instantiation and host calls (debug builds
/// included).
const HOST_STACK_HEADROOM: usize = 4 << 20;

/// How a [`Manager`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerOptions {
    /// The wasmtime engine configuration.
    pub engine: EngineOptions,
    /// Period of the timer that samples CPU clocks: how late a time limit
    /// may land (kills land at once).
    pub tick: Duration,
    /// Bytes kept per captured stream of each silo.
    pub log_capacity: usize,
    /// Compiled artifacts kept for reuse.
    pub cache_capacity: usize,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        Self {
            engine: EngineOptions::default(),
            tick: Duration::from_millis(10),
            log_capacity: DEFAULT_LOG_CAPACITY,
            cache_capacity: 64,
        }
    }
}

/// Errors of the manager itself (never of the code a silo runs: those end
/// as the silo's [`ExitStatus`]).
#[derive(Debug)]
pub enum ManagerError {
    /// The engine could not be set up.
    Setup(String),
    /// No silo has this id (any more).
    UnknownSilo(SiloId),
    /// The operation needs a finished silo.
    StillRunning(SiloId),
    /// The OS refused a thread.
    Spawn(io::Error),
}

impl fmt::Display for ManagerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Setup(message) => write!(f, "cannot set up the silo manager: {message}"),
            Self::UnknownSilo(id) => write!(f, "no silo with id {id}"),
            Self::StillRunning(id) => write!(f, "silo {id} has not finished"),
            Self::Spawn(e) => write!(f, "cannot start a silo thread: {e}"),
        }
    }
}

impl std::error::Error for ManagerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// Manager-wide figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagerStats {
    /// Silos not finished yet.
    pub live_silos: usize,
    /// Silos known (finished ones included, until removed).
    pub known_silos: usize,
    /// Linear memory held by live silos' stores, in bytes.
    pub memory_bytes: u64,
    /// The compiled-code cache.
    pub cache: CacheStats,
}

type Silos = BTreeMap<SiloId, Slot>;

/// Map insertions and removals cannot panic half-way, so a poisoned map is
/// intact.
fn lock(silos: &Mutex<Silos>) -> MutexGuard<'_, Silos> {
    silos.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Slot {
    record: Arc<SiloRecord>,
    thread: Option<JoinHandle<()>>,
}

/// Runs silos: each deployed app gets its own store, limits and thread.
///
/// Every method takes `&self`; a manager can be shared between threads.
/// Dropping it kills the silos still running and waits for their threads
/// (a silo blocked inside a host call, e.g. reading an inherited stdin, ends
/// when that call returns).
pub struct Manager {
    runtime: Arc<Runtime>,
    silos: Arc<Mutex<Silos>>,
    next_id: AtomicU64,
    log_capacity: usize,
    thread_stack: usize,
}

impl Manager {
    /// A manager with [`ManagerOptions::default`].
    pub fn new() -> Result<Self, ManagerError> {
        Self::with_options(ManagerOptions::default())
    }

    /// A manager with the given options.
    pub fn with_options(options: ManagerOptions) -> Result<Self, ManagerError> {
        let setup = |e: &dyn fmt::Display| ManagerError::Setup(e.to_string());
        let compiler = options.engine.build().map_err(|e| setup(&e))?;
        let silos: Arc<Mutex<Silos>> = Arc::default();
        // A zero period would spin the timer thread.
        let tick = options.tick.max(Duration::from_millis(1));
        let ticker = Ticker::start(tick, {
            let silos = silos.clone();
            move || {
                let now = Instant::now();
                for slot in lock(&silos).values() {
                    slot.record.sweep(now);
                }
            }
        })
        .map_err(ManagerError::Spawn)?;
        let runtime = Runtime {
            options: options.engine.clone(),
            compiler,
            cache: CodeCache::new(options.cache_capacity),
            ticker,
            memory_total: Arc::default(),
        };
        Ok(Self {
            runtime: Arc::new(runtime),
            silos,
            next_id: AtomicU64::new(1),
            log_capacity: options.log_capacity,
            thread_stack: options
                .engine
                .max_wasm_stack
                .saturating_add(HOST_STACK_HEADROOM),
        })
    }

    fn silos(&self) -> MutexGuard<'_, Silos> {
        lock(&self.silos)
    }

    fn record(&self, id: SiloId) -> Result<Arc<SiloRecord>, ManagerError> {
        self.silos()
            .get(&id)
            .map(|slot| slot.record.clone())
            .ok_or(ManagerError::UnknownSilo(id))
    }

    /// Starts a silo for `request` and returns its id at once.
    ///
    /// Reading, validating, compiling and instantiating the code happen on
    /// the silo's thread: whatever is wrong with the code shows as the silo's
    /// exit status ([`ExitStatus::Rejected`]), never as an error here.
    pub fn deploy(&self, request: DeployRequest) -> Result<SiloId, ManagerError> {
        let id = SiloId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let record = Arc::new(SiloRecord::new(id, request.name.clone(), self.log_capacity));
        let thread = platform::spawn_thread(format!("silo-{id}"), self.thread_stack, {
            let runtime = self.runtime.clone();
            let record = record.clone();
            move || {
                record.attach_clock();
                let guard = FinishOnUnwind(&record);
                let status = runner::run(&runtime, &record, request);
                // The store is gone by now: its memory is already returned.
                record.finish(status);
                std::mem::forget(guard);
            }
        })
        .map_err(ManagerError::Spawn)?;
        self.silos().insert(
            id,
            Slot {
                record,
                thread: Some(thread),
            },
        );
        Ok(id)
    }

    /// A snapshot of every known silo, by increasing id.
    pub fn list(&self) -> Vec<SiloInfo> {
        self.silos()
            .values()
            .map(|slot| slot.record.info())
            .collect()
    }

    /// A snapshot of one silo.
    pub fn info(&self, id: SiloId) -> Result<SiloInfo, ManagerError> {
        Ok(self.record(id)?.info())
    }

    /// Stops a silo. Wasm code stops at its next loop header or function
    /// entry; a silo asleep in a WASI call is woken; a silo inside another
    /// host call stops when the call returns; a silo not yet running never
    /// starts. Killing a finished silo does nothing.
    pub fn kill(&self, id: SiloId) -> Result<(), ManagerError> {
        self.record(id)?.request_kill();
        Ok(())
    }

    /// Blocks until the silo has finished; returns its exit status.
    pub fn wait(&self, id: SiloId) -> Result<ExitStatus, ManagerError> {
        Ok(self.record(id)?.wait())
    }

    /// Like [`Manager::wait`], giving up after `timeout` (then `Ok(None)`).
    pub fn wait_timeout(
        &self,
        id: SiloId,
        timeout: Duration,
    ) -> Result<Option<ExitStatus>, ManagerError> {
        Ok(self.record(id)?.wait_timeout(timeout))
    }

    /// The captured stdout and stderr of a silo (live while it runs).
    pub fn logs(&self, id: SiloId) -> Result<Logs, ManagerError> {
        Ok(self.record(id)?.logs())
    }

    /// Forgets a finished silo (its logs and status), returning its status.
    pub fn remove(&self, id: SiloId) -> Result<ExitStatus, ManagerError> {
        let mut silos = self.silos();
        let slot = silos.get(&id).ok_or(ManagerError::UnknownSilo(id))?;
        let status = slot
            .record
            .exit_status()
            .ok_or(ManagerError::StillRunning(id))?;
        if let Some(mut slot) = silos.remove(&id)
            && let Some(thread) = slot.thread.take()
        {
            drop(silos);
            // Finished: the thread is past its last statement.
            let _ = thread.join();
        }
        Ok(status)
    }

    /// Manager-wide figures.
    pub fn stats(&self) -> ManagerStats {
        let silos = self.silos();
        ManagerStats {
            live_silos: silos
                .values()
                .filter(|slot| slot.record.exit_status().is_none())
                .count(),
            known_silos: silos.len(),
            memory_bytes: self.runtime.memory_total.load(Ordering::Relaxed),
            cache: self.runtime.cache.stats(),
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let mut silos = std::mem::take(&mut *self.silos());
        for slot in silos.values() {
            slot.record.request_kill();
        }
        for slot in silos.values_mut() {
            if let Some(thread) = slot.thread.take() {
                // A panicked silo thread already recorded its status.
                let _ = thread.join();
            }
        }
    }
}

/// Gives a silo a status if its thread unwinds (a bug in the runtime, never
/// the guest's doing), so that nobody waits for it forever.
struct FinishOnUnwind<'a>(&'a SiloRecord);

impl Drop for FinishOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.finish(ExitStatus::Trapped(TrapInfo {
            kind: TrapKind::Host("the runtime panicked while running this silo".into()),
            backtrace: None,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manager_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Manager>();
    }

    #[test]
    fn unknown_ids_are_errors_not_panics() {
        let manager = Manager::new().expect("manager");
        let id = SiloId(42);
        assert!(matches!(
            manager.kill(id),
            Err(ManagerError::UnknownSilo(_))
        ));
        assert!(matches!(
            manager.wait(id),
            Err(ManagerError::UnknownSilo(_))
        ));
        assert!(matches!(
            manager.logs(id),
            Err(ManagerError::UnknownSilo(_))
        ));
        assert!(matches!(
            manager.remove(id),
            Err(ManagerError::UnknownSilo(_))
        ));
        assert_eq!(
            ManagerError::UnknownSilo(id).to_string(),
            "no silo with id 42"
        );
    }
}
