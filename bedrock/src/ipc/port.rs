//! Ports: synchronous call / receive / reply, seL4 style.
//!
//! A caller's message waits in the port's queue until a server receives
//! it; the server gets the request and a single-use reply object (a
//! capability in its table), so one server thread may hold many calls and
//! many threads may serve one port. The caller blocks until the reply.
//!
//! Data is copied once: a request's bytes stay in the caller's buffer
//! until a server receives them straight into its own, and a reply is
//! written straight into the caller's receive buffer ([`UserData`]). A
//! register-only call carries just the label and words both ways.
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
use crate::mm::address_space::{AddressSpace, CopyError};
use crate::sched::wait::WaitQueue;
use crate::sync::IrqSpin;

/// Bytes in a silo's memory: a message's data stays in the sender's
/// buffer until the receiver takes it, and a reply is written straight
/// into the caller's buffer, so data crosses with a single copy and no
/// kernel buffer. The sender is blocked meanwhile (a caller in its call,
/// a server in its reply), so the buffer is as stable as the sender
/// keeps it.
#[derive(Debug)]
pub struct UserData {
    pub aspace: Arc<AddressSpace>,
    pub addr: u64,
    pub len: usize,
}

impl UserData {
    /// Copies the first `n` bytes (at most `len`) to `dst_addr` in `dst`.
    pub fn copy_to(&self, dst: &AddressSpace, dst_addr: u64, n: usize) -> Result<(), CopyError> {
        AddressSpace::copy_between(dst, dst_addr, &self.aspace, self.addr, n.min(self.len))
    }
}

/// A message inside the kernel: data still in the sender's memory,
/// handles already taken out of the sender's table.
#[derive(Debug, Default)]
pub struct KMessage {
    pub label: u64,
    pub words: [u64; WORDS],
    pub data: Option<UserData>,
    pub handles: Vec<Cap>,
}

impl KMessage {
    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.len)
    }
}

/// What a caller takes back: where the reply's data goes (already copied
/// there when the call completes) and whether handles may come.
#[derive(Debug, Default)]
pub struct ReplyTo {
    /// The caller's receive buffer (`len` = its capacity); `None` for a
    /// register-only call.
    pub buffer: Option<UserData>,
    pub handles: bool,
}

impl ReplyTo {
    pub fn capacity(&self) -> usize {
        self.buffer.as_ref().map_or(0, |b| b.len)
    }
}

/// A completed call's reply, its data already in the caller's buffer.
#[derive(Debug, Default)]
pub struct Reply {
    pub label: u64,
    pub words: [u64; WORDS],
    /// Bytes the server sent (more than the buffer took if it was short).
    pub data_len: usize,
    pub handles: Vec<Cap>,
}

#[derive(Debug)]
enum State {
    Pending,
    Replied(Reply),
    Failed(Errno),
    /// The caller stopped waiting.
    Abandoned,
}

/// One call in flight.
#[derive(Debug)]
pub struct Call {
    request: IrqSpin<Option<KMessage>>,
    badge: u64,
    reply_to: ReplyTo,
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

    /// Sends `message` with `badge` and waits for the reply, which comes
    /// back as `reply_to` allows.
    pub fn call(&self, message: KMessage, reply_to: ReplyTo, badge: u64) -> Result<Reply, Errno> {
        let call = Arc::new(Call {
            request: IrqSpin::new(Some(message)),
            badge,
            reply_to,
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
    /// What the caller takes back.
    pub fn reply_to(&self) -> &ReplyTo {
        &self.call.reply_to
    }

    /// Answers the call: the data goes straight into the caller's buffer
    /// (as much as fits). `Err(ConnReset)` if the caller is gone; the reply
    /// (and any handles in it) is then dropped. Handles the caller cannot
    /// take ([`ReplyTo::handles`]) are `Err(Inval)`; the system call checks
    /// that before it takes them from the server's table.
    pub fn reply(self, message: KMessage) -> Result<(), Errno> {
        let to = &self.call.reply_to;
        if !message.handles.is_empty() && !to.handles {
            return Err(Errno::Inval);
        }
        if !matches!(*self.call.state.lock(), State::Pending) {
            return Err(Errno::ConnReset);
        }
        let data_len = message.data_len();
        if let (Some(data), Some(buffer)) = (&message.data, &to.buffer)
            && data
                .copy_to(&buffer.aspace, buffer.addr, buffer.len)
                .is_err()
        {
            // The caller unmapped its own buffer meanwhile: its error.
            self.fail(Errno::Fault);
            return Ok(());
        }
        let reply = Reply {
            label: message.label,
            words: message.words,
            data_len,
            handles: message.handles,
        };
        if self.call.finish(State::Replied(reply)) {
            Ok(())
        } else {
            Err(Errno::ConnReset)
        }
    }

    /// Fails the call with `error` (e.g. its data could not be read).
    pub fn fail(self, error: Errno) {
        self.call.finish(State::Failed(error));
    }
}
