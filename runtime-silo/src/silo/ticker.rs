//! The one timer thread of a manager: it runs the manager's sweep every tick
//! while at least one silo runs, and sleeps otherwise.
//!
//! The sweep samples each running silo's CPU clock and stops the silos past
//! a time limit (see `SiloRecord::sweep`), so the tick period bounds how late
//! a deadline lands. Kills do not wait for it: they stop the silo at once.
//! Silo threads never run this code: their wasm is not interrupted by ticks,
//! only by a stop.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

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

pub(crate) struct Ticker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts the timer thread; `sweep` runs after every tick.
    pub(crate) fn start(period: Duration, sweep: impl Fn() + Send + 'static) -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let thread = platform::spawn_thread("silo-ticker".into(), 256 << 10, {
            let shared = shared.clone();
            move || tick_while_needed(&shared, period, &sweep)
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

fn tick_while_needed(shared: &Shared, period: Duration, sweep: &dyn Fn()) {
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
        sweep();
    }
}

impl Drop for Ticker {
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
