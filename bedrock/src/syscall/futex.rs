//! Futexes: wait while a user word holds a value, wake waiters. Keyed by
//! (address space, user address), so silos never see each other's waits.
//!
//! Each wait takes a ticket on the thread's [`WaitOutcome`]: a waker claims
//! it (then makes the thread runnable); a waiter that resumes unclaimed
//! gives it up (timeout or interruption) and removes itself. Whoever
//! decides first wins, and a ticket names one wait only, so a wake is never
//! lost, never counted twice, and never spent on a wait already abandoned.

use alloc::sync::Arc;
use alloc::vec::Vec;

use bedrock_abi::Errno;

use super::SysResult;
use crate::arch::x86_64::tsc;
use crate::arch::x86_64::usercopy::copy_from_user;
use crate::sched::outcome::{Ticket, WaitOutcome};
use crate::sched::thread::Thread;
use crate::silo::Silo;
use crate::sync::IrqSpin;

struct Waiter {
    key: Key,
    thread: Arc<Thread>,
    generation: u32,
    ticket: Ticket,
}

type Key = (u64, u64);

/// Waiters hashed by key into buckets, each with its own lock (as Linux
/// does): no global lock, and no allocation per wait once a bucket's
/// vector has grown.
const BUCKETS: usize = 64;
static FUTEXES: [IrqSpin<Vec<Waiter>>; BUCKETS] = [const { IrqSpin::new(Vec::new()) }; BUCKETS];

fn bucket(key: Key) -> &'static IrqSpin<Vec<Waiter>> {
    let h = (key.0 ^ key.1.rotate_left(17)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    &FUTEXES[(h >> 58) as usize % BUCKETS]
}

fn key(silo: &Silo, addr: u64) -> Result<Key, Errno> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::Inval);
    }
    Ok((silo.aspace.root(), addr))
}

fn read_word(addr: u64) -> Result<u32, Errno> {
    let mut b = [0u8; 4];
    copy_from_user(&mut b, addr).map_err(|_| Errno::Fault)?;
    Ok(u32::from_ne_bytes(b))
}

pub fn wait(silo: &Silo, addr: u64, expected: u64, timeout_ns: u64) -> SysResult {
    let key = key(silo, addr)?;
    let expected = u32::try_from(expected).map_err(|_| Errno::Inval)?;
    // Check the pointer and fault the page in before taking the lock.
    read_word(addr)?;
    let deadline = (timeout_ns != u64::MAX).then(|| tsc::now_ns().saturating_add(timeout_ns));
    let me = crate::sched::current();
    let outcome: &WaitOutcome = me.futex_outcome();
    let ticket = outcome.begin();
    let generation = {
        let mut waiters = bucket(key).lock();
        // Re-read under the lock: a waker changes the word before waking,
        // so a change between the caller's check and our block is seen.
        if read_word(addr)? != expected {
            return Err(Errno::Again);
        }
        if me.is_interrupted() {
            return Err(Errno::Intr);
        }
        let generation = crate::sched::prepare_block(&me);
        waiters.push(Waiter {
            key,
            thread: me.clone(),
            generation,
            ticket,
        });
        generation
    };
    crate::sched::block(me.clone(), generation, deadline);
    if !outcome.give_up(ticket) {
        return Ok(0);
    }
    bucket(key)
        .lock()
        .retain(|w| !(w.key == key && Arc::ptr_eq(&w.thread, &me)));
    Err(if me.is_interrupted() {
        Errno::Intr
    } else {
        Errno::TimedOut
    })
}

pub fn wake(silo: &Silo, addr: u64, count: u64) -> SysResult {
    let key = key(silo, addr)?;
    let mut woken = 0u64;
    let mut waiters = bucket(key).lock();
    let mut i = 0;
    while i < waiters.len() && woken < count {
        if waiters[i].key != key {
            i += 1;
            continue;
        }
        // `remove` keeps FIFO order among the waiters of one key.
        let w = waiters.remove(i);
        if w.thread.futex_outcome().wake(w.ticket) {
            crate::sched::wake(&w.thread, w.generation);
            woken += 1;
        }
    }
    Ok(woken as usize)
}

/// Logs every futex waiter: for diagnosing a hang.
pub fn log_waiters() {
    for (i, bucket) in FUTEXES.iter().enumerate() {
        for w in bucket.lock().iter() {
            log::warn!(
                "futex bucket {i}: thread {} waits on {:#x} (space {:#x}), generation {}, {:?}",
                w.thread.id,
                w.key.1,
                w.key.0,
                w.generation,
                w.ticket
            );
        }
    }
}
