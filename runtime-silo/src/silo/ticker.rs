//! The one timer thread of a manager: it advances the engine's epoch every
//! tick while at least one silo runs, and sleeps otherwise.
//!
//! Each silo's store checks the epoch at function entries and loop headers
//! and calls its deadline callback once per tick (see `runner`), which is
//! where kill requests and time limits take effect. So the tick period bounds
//! how late a kill or deadline lands. On each tick the ticker also runs the
//! manager's sweep, which wakes silos sleeping in a host call past their
//! deadline (epoch checks only happen in wasm code).

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;

use crate::platform;

#[derive(Default)]
struct State {
    running_silos: usize,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Counter updates cannot panic half-way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) struct EpochTicker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts the timer thread; `sweep` runs after every tick.
    pub(crate) fn start(
        engine: Engine,
        period: Duration,
        sweep: impl Fn() + Send + 'static,
    ) -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let thread = platform::spawn_thread("silo-epoch".into(), 256 << 10, {
            let shared = shared.clone();
            move || tick_while_needed(&shared, &engine, period, &sweep)
        })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Keeps the ticker running until the returned guard is dropped.
    pub(crate) fn hold(&self) -> TickerHold {
        self.shared.state().running_silos += 1;
        self.shared.wake.notify_one();
        TickerHold(self.shared.clone())
    }
}

fn tick_while_needed(shared: &Shared, engine: &Engine, period: Duration, sweep: &dyn Fn()) {
    loop {
        let state = shared
            .wake
            .wait_while(shared.state(), |s| s.running_silos == 0 && !s.stop)
            .unwrap_or_else(PoisonError::into_inner);
        if state.stop {
            return;
        }
        drop(state);
        std::thread::sleep(period);
        engine.increment_epoch();
        sweep();
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.state().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // The ticker body cannot panic; nothing to report if it did.
            let _ = thread.join();
        }
    }
}

/// A running silo's claim on the ticker.
pub(crate) struct TickerHold(Arc<Shared>);

impl Drop for TickerHold {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.running_silos = state.running_silos.saturating_sub(1);
    }
}
