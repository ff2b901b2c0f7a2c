//! Compiled code cached by content: deploying the same bytes again skips
//! validation and Cranelift.
//!
//! Keyed by the SHA-256 of the deployed bytes exactly as given (text or
//! binary), so a hit costs one hash. Concurrent deploys of the same bytes
//! compile once: the first takes the entry's slot lock and compiles, the
//! others wait on it and count as hits. The least recently used entries are
//! evicted beyond the capacity; silos still running have their own copy of
//! the code (loaded into their own engines).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};

use super::artifact::Artifact;
use super::status::Rejection;

type Hash = [u8; 32];
type Slot = Arc<Mutex<Option<Artifact>>>;

/// Counters of the manager's compiled-code cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Deploys served from the cache.
    pub hits: u64,
    /// Deploys that compiled (successfully or not).
    pub compilations: u64,
    /// Entries held now.
    pub entries: usize,
}

struct Entry {
    slot: Slot,
    last_used: u64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Hash, Entry>,
    clock: u64,
}

pub(crate) struct CodeCache {
    capacity: usize,
    entries: Mutex<Entries>,
    hits: AtomicU64,
    compilations: AtomicU64,
}

/// Every critical section below leaves the data consistent even if it
/// panicked half-way, so a poisoned lock is safe to reuse.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CodeCache {
    /// A cache of at most `capacity` compiled artifacts (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::default(),
            hits: AtomicU64::new(0),
            compilations: AtomicU64::new(0),
        }
    }

    /// The compiled form of `bytes`: from the cache, or by calling `compile`
    /// and keeping its success.
    pub(crate) fn get_or_compile(
        &self,
        bytes: &[u8],
        compile: impl FnOnce(&[u8]) -> Result<Artifact, Rejection>,
    ) -> Result<Artifact, Rejection> {
        let hash: Hash = Sha256::digest(bytes).into();
        let slot = self.slot(hash);
        let mut compiled = lock(&slot);
        if let Some(code) = compiled.as_ref() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(code.clone());
        }
        self.compilations.fetch_add(1, Ordering::Relaxed);
        match compile(bytes) {
            Ok(code) => {
                *compiled = Some(code.clone());
                Ok(code)
            }
            Err(rejection) => {
                // Do not keep an empty entry for code that will never compile.
                drop(compiled);
                let mut entries = lock(&self.entries);
                if entries
                    .map
                    .get(&hash)
                    .is_some_and(|e| Arc::ptr_eq(&e.slot, &slot))
                {
                    entries.map.remove(&hash);
                }
                Err(rejection)
            }
        }
    }

    /// The slot of `hash`, created if needed, marked as just used; evicts the
    /// least recently used other entries beyond capacity.
    fn slot(&self, hash: Hash) -> Slot {
        let mut entries = lock(&self.entries);
        entries.clock += 1;
        let now = entries.clock;
        let slot = {
            let entry = entries.map.entry(hash).or_insert_with(|| Entry {
                slot: Slot::default(),
                last_used: now,
            });
            entry.last_used = now;
            entry.slot.clone()
        };
        while entries.map.len() > self.capacity {
            let oldest = entries
                .map
                .iter()
                .filter(|(key, _)| **key != hash)
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| *key);
            match oldest {
                Some(key) => entries.map.remove(&key),
                None => break,
            };
        }
        slot
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            compilations: self.compilations.load(Ordering::Relaxed),
            entries: lock(&self.entries).map.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::Engine;

    fn module(engine: &Engine) -> Result<Artifact, Rejection> {
        super::super::artifact::compile(engine, b"(module)")
    }

    #[test]
    fn second_lookup_of_the_same_bytes_is_a_hit() {
        let engine = Engine::default();
        let cache = CodeCache::new(4);
        cache.get_or_compile(b"a", |_| module(&engine)).unwrap();
        cache
            .get_or_compile(b"a", |_| panic!("must not compile again"))
            .unwrap();
        cache.get_or_compile(b"b", |_| module(&engine)).unwrap();
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 1,
                compilations: 2,
                entries: 2
            }
        );
    }

    #[test]
    fn failures_are_not_cached() {
        let cache = CodeCache::new(4);
        for _ in 0..2 {
            let result = cache.get_or_compile(b"bad", |_| Err(Rejection::Invalid("no".into())));
            assert!(result.is_err());
        }
        assert_eq!(cache.stats().compilations, 2);
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let engine = Engine::default();
        let cache = CodeCache::new(2);
        cache.get_or_compile(b"a", |_| module(&engine)).unwrap();
        cache.get_or_compile(b"b", |_| module(&engine)).unwrap();
        cache.get_or_compile(b"a", |_| module(&engine)).unwrap();
        cache.get_or_compile(b"c", |_| module(&engine)).unwrap();
        assert_eq!(cache.stats().entries, 2);
        // "a" was used more recently than "b", so it survived.
        cache
            .get_or_compile(b"a", |_| panic!("evicted the wrong entry"))
            .unwrap();
    }
}
