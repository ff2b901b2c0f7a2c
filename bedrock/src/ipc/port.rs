//! Ports: synchronous call / receive / reply, seL4 style.
//!
//! A caller's message waits in the port's queue until a server receives
//! it; the server gets the request and a single-use reply object (a
//! capability in its table), so one server thread may hold many calls and
//! many threads may serve one port. The caller blocks until the reply.
//!
//! A peer dying never strands the other side: a reply object dropped
//! unanswered (server silo ended, handle closed) fails its call with
//! `ConnReset`; when the last capability able to receive from a port goes,
//! every queued and future call fails the same way; a caller that is
//! interrupted (its silo ends) abandons its call, and a late reply to it is
//! refused.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use bedrock_abi::Errno;
use bedrock_abi::ipc::WORDS;

use crate::cap::Cap;
use crate::sched::wait::WaitQueue;
use crate::sync::IrqSpin;

/// A message inside the kernel: data already copied in, handles already
/// taken out of the sender's table.
#[derive(Debug, Default)]
pub struct KMessage {
    pub label: u64,
    pub words: [u64; WORDS],
    pub data: Vec<u8>,
    pub handles: Vec<Cap>,
}

#[derive(Debug)]
enum State {
    Pending,
    Replied(KMessage),
    Failed(Errno),
    /// The caller stopped waiting.
    Abandoned,
}

/// One call in flight.
#[derive(Debug)]
pub struct Call {
    request: IrqSpin<Option<KMessage>>,
    badge: u64,
    state: IrqSpin<State>,
    done: WaitQueue,
}

impl Call {
    fn finish(&self, outcome: State) -> bool {
        let mut state = self.state.lock();
        if !matches!(*state, State::Pending) {
            return false;
        }
        *state = outcome;
        drop(state);
        self.done.wake_all();
        true
    }
}

#[derive(Debug, Default)]
struct Queue {
    pending: VecDeque<Arc<Call>>,
    /// No capability can receive any more: calls fail at once.
    closed: bool,
}

#[derive(Debug, Default)]
pub struct Port {
    queue: IrqSpin<Queue>,
    servers: WaitQueue,
    /// Live capabilities with the RECEIVE right.
    receive_caps: AtomicUsize,
}

/// The receiving side of one call: answering it is its single use.
#[derive(Debug)]
pub struct ReplyObject {
    call: Arc<Call>,
}

impl Drop for ReplyObject {
    fn drop(&mut self) {
        self.call.finish(State::Failed(Errno::ConnReset));
    }
}

/// A request handed to a server.
#[derive(Debug)]
pub struct Received {
    pub message: KMessage,
    pub badge: u64,
    pub reply: ReplyObject,
}

impl Port {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn receiver_cap_added(&self) {
        self.receive_caps.fetch_add(1, Ordering::AcqRel);
        self.queue.lock().closed = false;
    }

    pub(crate) fn receiver_cap_dropped(&self) {
        if self.receive_caps.fetch_sub(1, Ordering::AcqRel) == 1 {
            let pending = {
                let mut q = self.queue.lock();
                q.closed = true;
                core::mem::take(&mut q.pending)
            };
            for call in pending {
                call.finish(State::Failed(Errno::ConnReset));
            }
        }
    }

    /// True once no capability can receive from the port any more.
    pub fn is_closed(&self) -> bool {
        self.queue.lock().closed
    }

    /// Sends `message` with `badge` and waits for the reply.
    pub fn call(&self, message: KMessage, badge: u64) -> Result<KMessage, Errno> {
        let call = Arc::new(Call {
            request: IrqSpin::new(Some(message)),
            badge,
            state: IrqSpin::new(State::Pending),
            done: WaitQueue::new(),
        });
        {
            let mut q = self.queue.lock();
            if q.closed {
                return Err(Errno::ConnReset);
            }
            q.pending.push_back(call.clone());
        }
        self.servers.wake_one();
        call.done
            .wait_while(|| matches!(*call.state.lock(), State::Pending));
        let mut state = call.state.lock();
        match core::mem::replace(&mut *state, State::Abandoned) {
            State::Replied(reply) => Ok(reply),
            State::Failed(e) => Err(e),
            State::Pending | State::Abandoned => {
                drop(state);
                // Interrupted: take the call back out of the queue if no
                // server has it yet; a server that has it finds it abandoned.
                self.queue.lock().pending.retain(|c| !Arc::ptr_eq(c, &call));
                Err(Errno::Intr)
            }
        }
    }

    /// Waits for a call (until `deadline_ns`), skipping abandoned ones.
    pub fn receive(&self, deadline_ns: Option<u64>) -> Result<Received, Errno> {
        loop {
            let mut taken = None;
            let woken = self.servers.wait_while_until(
                || {
                    let mut q = self.queue.lock();
                    taken = q.pending.pop_front();
                    taken.is_none()
                },
                deadline_ns,
            );
            let Some(call) = taken else {
                return Err(if !woken && crate::sched::current().is_interrupted() {
                    Errno::Intr
                } else {
                    Errno::TimedOut
                });
            };
            if !matches!(*call.state.lock(), State::Pending) {
                continue;
            }
            let message = call.request.lock().take().unwrap_or_default();
            let badge = call.badge;
            return Ok(Received {
                message,
                badge,
                reply: ReplyObject { call },
            });
        }
    }
}

impl ReplyObject {
    /// Answers the call. `Err(ConnReset)` if the caller is gone; the reply
    /// (and any handles in it) is then dropped.
    pub fn reply(self, message: KMessage) -> Result<(), Errno> {
        if self.call.finish(State::Replied(message)) {
            Ok(())
        } else {
            Err(Errno::ConnReset)
        }
    }
}
