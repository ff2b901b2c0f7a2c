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

static REGISTRY: IrqSpin<BTreeMap<String, Arc<Port>>> = IrqSpin::new(BTreeMap::new());

/// Serves `name` with `port`. A name whose port can no longer receive
/// (its server is gone) may be taken over.
pub fn register(name: &str, port: Arc<Port>) -> Result<(), Errno> {
    if !valid_name(name) {
        return Err(Errno::Inval);
    }
    let mut registry = REGISTRY.lock();
    if registry.get(name).is_some_and(|p| !p.is_closed()) {
        return Err(Errno::Exist);
    }
    registry.insert(String::from(name), port);
    Ok(())
}

/// The port serving `name`, if someone still does.
pub fn lookup(name: &str) -> Option<Arc<Port>> {
    let mut registry = REGISTRY.lock();
    match registry.get(name) {
        Some(p) if p.is_closed() => {
            registry.remove(name);
            None
        }
        other => other.cloned(),
    }
}
