//! The scheme registry: which port serves which scheme name (`fs`, `net`,
//! `toy`...). A silo reaches a scheme only if its namespace, fixed by its
//! creator, names it; names outside the namespace look exactly like names
//! nobody serves (`NoEnt`), so a silo cannot probe what exists.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;

use bedrock_abi::Errno;
use bedrock_abi::scheme::valid_name;

use crate::ipc::port::Port;
use crate::sync::IrqSpin;

/// A registered name: the port that serves it and the silo that
/// registered it (whose registrations are bounded).
struct Entry {
    port: Arc<Port>,
    silo: u64,
}

static REGISTRY: IrqSpin<BTreeMap<String, Entry>> = IrqSpin::new(BTreeMap::new());

/// Most names one silo serves at once (`MFile` beyond): the registry is
/// kernel memory a silo could otherwise grow without bound.
pub const MAX_PER_SILO: usize = 16;

/// Serves `name` with `port` for `silo`, which the caller checked may
/// serve it (`Silo::may_serve`). A name whose port can no longer receive
/// (its server is gone) may be taken over; names of dead ports are
/// forgotten here, so they count against no one.
pub fn register(name: &str, port: Arc<Port>, silo: u64) -> Result<(), Errno> {
    if !valid_name(name) {
        return Err(Errno::Inval);
    }
    let mut registry = REGISTRY.lock();
    registry.retain(|_, e| !e.port.is_closed());
    if registry.contains_key(name) {
        return Err(Errno::Exist);
    }
    if registry.values().filter(|e| e.silo == silo).count() >= MAX_PER_SILO {
        return Err(Errno::MFile);
    }
    registry.insert(String::from(name), Entry { port, silo });
    Ok(())
}

/// The port serving `name`, if someone still does.
pub fn lookup(name: &str) -> Option<Arc<Port>> {
    let mut registry = REGISTRY.lock();
    match registry.get(name) {
        Some(e) if e.port.is_closed() => {
            registry.remove(name);
            None
        }
        other => other.map(|e| e.port.clone()),
    }
}

/// Names served now (for the kernel's resource counters).
pub fn served() -> usize {
    REGISTRY
        .lock()
        .values()
        .filter(|e| !e.port.is_closed())
        .count()
}
