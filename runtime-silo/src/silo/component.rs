//! Host side of the `strat9:silo/app` world (`wit/silo/world.wit`): what a
//! component app may import, and its `run` entry point.

use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::{HasSelf, Linker};

use crate::platform;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/silo",
        world: "app",
        imports: {
            // Entropy can fail at the OS level and its size is guest-chosen:
            // both end the silo rather than the runtime.
            "strat9:silo/random.get-random-bytes": trappable,
        },
    });
}

use bindings::strat9::silo::{clocks, console, random};
pub(crate) use bindings::{App, AppPre};

/// Largest `get-random-bytes` request served; the guest chooses the size, so
/// it must not be able to make the host allocate without bound.
const MAX_RANDOM_REQUEST: u64 = 1 << 20;

/// Per-silo state behind the world's imports.
pub(crate) struct AppHost {
    stdout: Box<dyn Write + Send>,
    stderr: Box<dyn Write + Send>,
    /// Origin of `monotonic-now`.
    started: Instant,
}

impl AppHost {
    pub(crate) fn new(stdout: Box<dyn Write + Send>, stderr: Box<dyn Write + Send>) -> Self {
        Self {
            stdout,
            stderr,
            started: Instant::now(),
        }
    }
}

/// Adds the world's imports to `linker`, reaching each silo's [`AppHost`]
/// through `get`.
pub(crate) fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut AppHost,
) -> wasmtime::Result<()> {
    App::add_to_linker::<T, HasSelf<AppHost>>(linker, get)
}

impl console::Host for AppHost {
    fn write(&mut self, to: console::OutputStream, bytes: Vec<u8>) {
        let sink = match to {
            console::OutputStream::Stdout => &mut self.stdout,
            console::OutputStream::Stderr => &mut self.stderr,
        };
        // The interface promises the app that writes do not fail: a closed
        // terminal of the host (the only way an inherited stream fails; log
        // rings never do) loses the output, as it would for a native program
        // ignoring EPIPE.
        let _ = sink.write_all(&bytes).and_then(|()| sink.flush());
    }
}

impl clocks::Host for AppHost {
    fn monotonic_now(&mut self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn wall_now(&mut self) -> clocks::Datetime {
        // A clock set before 1970 reads as the epoch itself.
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        clocks::Datetime {
            seconds: since_epoch.as_secs(),
            nanoseconds: since_epoch.subsec_nanos(),
        }
    }
}

impl random::Host for AppHost {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        if len > MAX_RANDOM_REQUEST {
            wasmtime::bail!(
                "get-random-bytes: {len} bytes requested, at most {MAX_RANDOM_REQUEST} per call"
            );
        }
        // Lossless: len <= MAX_RANDOM_REQUEST.
        let mut bytes = vec![0; len as usize];
        platform::fill_random(&mut bytes)?;
        Ok(bytes)
    }
}
