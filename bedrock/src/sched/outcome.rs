//! The outcome of one wait, decided exactly once: a waker claims it
//! (woken) or the waiter abandons it (timeout, interruption), whoever gets
//! there first.
//!
//! Each wait takes a fresh [`Ticket`], so a waker still holding the ticket
//! of an *earlier* wait of the same thread (it dequeued the entry, then the
//! waiter timed out and began waiting elsewhere) can no longer claim the
//! new wait: with a single reused flag it would, and the later waker would
//! find the wait already "woken" and skip it, a lost wake-up.

use core::sync::atomic::{AtomicU64, Ordering};

const WAITING: u64 = 0;
const WOKEN: u64 = 1;
const GAVE_UP: u64 = 2;
const STATUS_BITS: u32 = 2;

/// One thread's wait outcome word: a wait sequence number and a status.
#[derive(Debug, Default)]
pub struct WaitOutcome(AtomicU64);

/// Names one wait of one thread; quoted by the waker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl WaitOutcome {
    pub const fn new() -> Self {
        WaitOutcome(AtomicU64::new(0))
    }

    /// Starts a new wait. Only the waiting thread calls this; every earlier
    /// ticket becomes stale.
    pub fn begin(&self) -> Ticket {
        let seq = (self.0.load(Ordering::Relaxed) >> STATUS_BITS).wrapping_add(1);
        let ticket = (seq << STATUS_BITS) | WAITING;
        self.0.store(ticket, Ordering::Release);
        Ticket(ticket)
    }

    /// A waker claims the wait: true if it was still undecided and the
    /// ticket is current (the caller must then make the thread runnable).
    pub fn wake(&self, ticket: Ticket) -> bool {
        self.decide(ticket, WOKEN)
    }

    /// The waiter abandons the wait: true unless a waker claimed it first
    /// (then the wait counts as woken).
    pub fn give_up(&self, ticket: Ticket) -> bool {
        self.decide(ticket, GAVE_UP)
    }

    fn decide(&self, ticket: Ticket, status: u64) -> bool {
        self.0
            .compare_exchange(
                ticket.0,
                ticket.0 | status,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_decision_wins() {
        let o = WaitOutcome::new();
        let t = o.begin();
        assert!(o.wake(t));
        assert!(!o.give_up(t));
        assert!(!o.wake(t));

        let t = o.begin();
        assert!(o.give_up(t));
        assert!(!o.wake(t));
    }

    /// The lost wake-up this type exists to prevent: a waker that dequeued
    /// the first wait's entry claims the ticket only after the waiter gave
    /// up and began a second wait. The stale claim must fail and leave the
    /// second wait for its own waker.
    #[test]
    fn stale_ticket_cannot_claim_a_later_wait() {
        let o = WaitOutcome::new();
        let first = o.begin();
        assert!(o.give_up(first));
        let second = o.begin();
        assert_ne!(first, second);
        assert!(!o.wake(first), "a stale waker claimed a later wait");
        assert!(o.wake(second));
    }

    #[test]
    fn racing_wakers_and_waiter_decide_once() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicUsize;
        for _ in 0..200 {
            let o = Arc::new(WaitOutcome::new());
            let t = o.begin();
            let wins = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..3)
                .map(|i| {
                    let (o, wins) = (o.clone(), wins.clone());
                    std::thread::spawn(move || {
                        let won = if i == 0 { o.give_up(t) } else { o.wake(t) };
                        if won {
                            wins.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            threads.into_iter().for_each(|h| h.join().unwrap());
            assert_eq!(wins.load(Ordering::Relaxed), 1);
        }
    }
}
