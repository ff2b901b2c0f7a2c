//! The server side of the resource protocol (see [`crate::scheme`]): a
//! ring-3 server implements [`Handler`] over its own resources and calls
//! [`serve`], which decodes requests, mints resource handles, keeps the
//! shared memory of the bulk path mapped, and answers every call (a bad
//! request gets an error reply, never a crash or a stuck caller).
//!
//! Requests are served one at a time with `ReplyWait` (one system call per
//! request), except reads a handler answers later ([`Deferred`]: the
//! reply capability moves to the handler, e.g. to a thread waiting for an
//! event); `READ` data goes from the handler's buffer straight into the
//! caller's (one copy), `READ_BULK` data is written by the handler straight
//! into memory the client maps.

use crate::ipc::{MAX_DATA, Message, flags};
use crate::scheme::{
    CLOSE, MKDIR, OPEN, READ, READ_BULK, READDIR, STAT, UNLINK, WRITE, WRITE_BULK,
};
use crate::{Errno, Rights, Syscall, prot};

use super::ipc;

/// Badges of the resource handles [`serve`] mints have this bit; a scheme
/// handle's badge (the client's silo id) never does.
pub const RESOURCE_BADGE: u64 = 1 << 63;

/// Shared memory objects kept mapped for the bulk path at once; the
/// oldest is let go beyond this.
pub const BULK_SLOTS: usize = 8;

/// `STAT`'s answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    /// [`crate::scheme::KIND_FILE`] or [`crate::scheme::KIND_DIRECTORY`].
    pub kind: u64,
}

/// Whether [`serve`] goes on after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Answer this request, then return from [`serve`].
    Stop,
}

/// A scheme's resources. `client` is the silo id the kernel badged the
/// caller's scheme handle with; `resource` is what [`Handler::open`]
/// returned (below [`RESOURCE_BADGE`]). Paths are the bytes after
/// `scheme:`. The defaults refuse what a read-only server does not do.
pub trait Handler {
    fn open(&mut self, client: u64, path: &[u8], flags: u64) -> Result<u64, Errno>;
    /// Fills `buf` from `offset`; returns the bytes read (0 at the end).
    fn read(&mut self, resource: u64, offset: u64, buf: &mut [u8]) -> Result<usize, Errno>;
    fn stat(&mut self, resource: u64) -> Result<Stat, Errno>;
    fn write(&mut self, _resource: u64, _offset: u64, _data: &[u8]) -> Result<usize, Errno> {
        Err(Errno::Perm)
    }
    /// Writes the name of entry `index` into `name`; 0 = no such entry.
    fn readdir(&mut self, _resource: u64, _index: u64, _name: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::Inval)
    }
    fn mkdir(&mut self, _client: u64, _path: &[u8]) -> Result<(), Errno> {
        Err(Errno::Perm)
    }
    fn unlink(&mut self, _client: u64, _path: &[u8]) -> Result<(), Errno> {
        Err(Errno::Perm)
    }
    /// The client is done with `resource`.
    fn close(&mut self, _resource: u64) {}
    /// Whether `READ`s of `resource` are answered later: [`serve`] then
    /// hands each to [`Handler::read_later`] with its reply capability and
    /// goes on serving, so a read that waits for an event (a silo ending)
    /// holds up no other client.
    fn reads_later(&mut self, _resource: u64) -> bool {
        false
    }
    /// A `READ` of at most `len` bytes that [`Handler::reads_later`] claimed:
    /// answer it through `reply`, from any thread, whenever.
    fn read_later(&mut self, _resource: u64, _offset: u64, _len: usize, reply: Deferred) {
        reply.fail(Errno::Inval);
    }
    /// A label outside the protocol: the reply's status and words.
    fn other(
        &mut self,
        _badge: u64,
        _label: u64,
        _words: [u64; 4],
    ) -> (Result<[u64; 4], Errno>, Flow) {
        (Err(Errno::Inval), Flow::Continue)
    }
}

/// A call answered later (see [`Handler::reads_later`]): owns the call's
/// reply capability. Dropped unanswered, the caller's call fails with
/// `ConnReset`, so no client waits forever on a forgotten request.
#[derive(Debug)]
pub struct Deferred {
    reply: u32,
    capacity: usize,
}

impl Deferred {
    /// The most data the answer may carry (the caller's buffer).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Answers with `data` (cut to [`Deferred::capacity`]).
    pub fn reply(self, data: &[u8]) {
        let m = Message {
            data: data.as_ptr() as u64,
            data_len: data.len().min(self.capacity) as u64,
            ..Message::default()
        };
        self.send(&m);
    }

    /// Answers with an error status.
    pub fn fail(self, e: Errno) {
        self.send(&status(e));
    }

    fn send(self, m: &Message) {
        let reply = self.reply;
        core::mem::forget(self);
        // A caller gone meanwhile refuses the reply; the object goes either way.
        if ipc::reply(reply, m).is_err() {
            let _ = ipc::close(reply);
        }
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        let _ = ipc::close(self.reply);
    }
}

/// A shared memory object a client attached to a resource.
#[derive(Clone, Copy, Debug)]
struct Attached {
    resource: u64,
    handle: u32,
    addr: usize,
    size: usize,
}

/// Serves requests on `port` (a handle with RECEIVE, the scheme's) until
/// the handler says [`Flow::Stop`] or receiving fails.
pub fn serve(port: u32, handler: &mut impl Handler) -> Result<(), Errno> {
    let mut server = Server {
        port,
        attached: [None; BULK_SLOTS],
        next_slot: 0,
    };
    let mut buf = [0u8; MAX_DATA];
    let mut reply = Message::default();
    let mut pending = 0u32;
    loop {
        let mut m = Message {
            data: buf.as_mut_ptr() as u64,
            data_len: buf.len() as u64,
            ..Message::default()
        };
        match ipc::reply_wait(pending, &reply, port, &mut m, u64::MAX) {
            Ok(_) => {}
            Err(e) if pending != 0 => {
                // Our reply was refused (e.g. a handle to a register-only
                // call): the caller still gets an answer, and we go on.
                let status = Message {
                    label: e as u64,
                    ..Message::default()
                };
                if ipc::reply(pending, &status).is_err() {
                    let _ = ipc::close(pending);
                }
                pending = 0;
                reply = Message::default();
                continue;
            }
            Err(e) => return Err(e),
        }
        pending = m.reply;
        let (answer, flow) = server.handle(handler, &m, &mut buf);
        match answer {
            Answer::Now(answer) => reply = answer,
            Answer::Later => {
                // The handler holds the reply capability now.
                pending = 0;
                reply = Message::default();
                continue;
            }
        }
        if flow == Flow::Stop {
            ipc::reply(pending, &reply)?;
            server.release_all();
            return Ok(());
        }
    }
}

/// What [`Server::handle`] does with a call.
enum Answer {
    Now(Message),
    /// The handler answers it later (it took the reply capability).
    Later,
}

struct Server {
    port: u32,
    attached: [Option<Attached>; BULK_SLOTS],
    next_slot: usize,
}

fn status(e: Errno) -> Message {
    Message {
        label: e as u64,
        ..Message::default()
    }
}

fn words(w: [u64; 4]) -> Message {
    Message {
        words: w,
        ..Message::default()
    }
}

impl Server {
    /// The answer to `m` (its data in `buf`).
    fn handle(
        &mut self,
        handler: &mut impl Handler,
        m: &Message,
        buf: &mut [u8; MAX_DATA],
    ) -> (Answer, Flow) {
        let data_len = (m.data_len as usize).min(MAX_DATA);
        let on_resource = m.badge & RESOURCE_BADGE != 0;
        let resource = m.badge & !RESOURCE_BADGE;
        // Only the bulk calls take a handle: any other is let go at once.
        let bulk = matches!(m.label, READ_BULK | WRITE_BULK);
        let memory = (m.handle_count > 0).then_some(m.handles[0]);
        let count = (m.handle_count as usize).min(m.handles.len());
        for &h in &m.handles[usize::from(bulk).min(count)..count] {
            let _ = ipc::close(h);
        }
        let answer = match (m.label, on_resource) {
            (OPEN, false) => self.open(handler, m, &buf[..data_len]),
            (MKDIR, false) => handler
                .mkdir(m.badge, &buf[..data_len])
                .map(|()| words([0; 4])),
            (UNLINK, false) => handler
                .unlink(m.badge, &buf[..data_len])
                .map(|()| words([0; 4])),
            (READ, true) if m.reply != 0 && handler.reads_later(resource) => {
                let len = (m.words[1] as usize).min(MAX_DATA);
                let reply = Deferred {
                    reply: m.reply,
                    capacity: len,
                };
                handler.read_later(resource, m.words[0], len, reply);
                return (Answer::Later, Flow::Continue);
            }
            (READ, true) => {
                let len = (m.words[1] as usize).min(MAX_DATA);
                handler
                    .read(resource, m.words[0], &mut buf[..len])
                    .map(|n| Message {
                        data: buf.as_ptr() as u64,
                        data_len: n.min(len) as u64,
                        ..Message::default()
                    })
            }
            (WRITE, true) => handler
                .write(resource, m.words[0], &buf[..data_len])
                .map(|n| words([n as u64, 0, 0, 0])),
            (STAT, true) => handler
                .stat(resource)
                .map(|s| words([s.size, s.kind, 0, 0])),
            (READDIR, true) => handler
                .readdir(resource, m.words[0], &mut buf[..])
                .map(|n| Message {
                    data: buf.as_ptr() as u64,
                    data_len: n.min(MAX_DATA) as u64,
                    ..Message::default()
                }),
            (READ_BULK | WRITE_BULK, true) => {
                self.bulk(handler, m.label == READ_BULK, resource, memory, m.words)
            }
            (CLOSE, true) => {
                self.detach(resource);
                handler.close(resource);
                Ok(words([0; 4]))
            }
            (
                OPEN | MKDIR | UNLINK | READ | WRITE | STAT | READDIR | READ_BULK | WRITE_BULK
                | CLOSE,
                _,
            ) => {
                if bulk && let Some(h) = memory {
                    let _ = ipc::close(h);
                }
                Err(Errno::Inval)
            }
            (label, _) => {
                let (result, flow) = handler.other(m.badge, label, m.words);
                return (Answer::Now(result.map_or_else(status, words)), flow);
            }
        };
        (Answer::Now(answer.unwrap_or_else(status)), Flow::Continue)
    }

    fn open(
        &mut self,
        handler: &mut impl Handler,
        m: &Message,
        path: &[u8],
    ) -> Result<Message, Errno> {
        if m.flags & flags::REGISTER_CALL != 0 {
            // The resource handle could not reach the caller.
            return Err(Errno::Inval);
        }
        let resource = handler.open(m.badge, path, m.words[0])?;
        if resource & RESOURCE_BADGE != 0 {
            handler.close(resource);
            return Err(Errno::Io);
        }
        let h = match ipc::mint(
            self.port,
            resource | RESOURCE_BADGE,
            Rights::CALL | Rights::GRANT,
        ) {
            Ok(h) => h,
            Err(e) => {
                handler.close(resource);
                return Err(e);
            }
        };
        Ok(Message {
            handles: [h, 0, 0, 0],
            handle_count: 1,
            handle_move: 1,
            ..Message::default()
        })
    }

    /// `READ_BULK`/`WRITE_BULK`: words = [offset in the resource, length,
    /// offset in the memory object]; a memory handle attaches (replaces)
    /// the resource's object, none uses the one attached.
    fn bulk(
        &mut self,
        handler: &mut impl Handler,
        read: bool,
        resource: u64,
        memory: Option<u32>,
        w: [u64; 4],
    ) -> Result<Message, Errno> {
        if let Some(h) = memory {
            self.attach(resource, h)?;
        }
        let a = self.find(resource).ok_or(Errno::Inval)?;
        let [offset, len, at, _] = w;
        let end = at
            .checked_add(len)
            .filter(|&e| e <= a.size as u64)
            .ok_or(Errno::Inval)?;
        // SAFETY: `[addr + at, addr + end)` lies inside the object's mapping
        // (checked above), which stays mapped while attached. The client
        // may write it concurrently: bytes, never memory safety, are at
        // stake (the handler sees whatever is there).
        let window = unsafe {
            core::slice::from_raw_parts_mut((a.addr + at as usize) as *mut u8, (end - at) as usize)
        };
        let n = if read {
            handler.read(resource, offset, window)?
        } else {
            handler.write(resource, offset, window)?
        };
        Ok(words([n as u64, 0, 0, 0]))
    }

    fn find(&self, resource: u64) -> Option<Attached> {
        self.attached
            .iter()
            .flatten()
            .find(|a| a.resource == resource)
            .copied()
    }

    /// Maps memory object `h` (read-write) as `resource`'s bulk buffer.
    fn attach(&mut self, resource: u64, h: u32) -> Result<(), Errno> {
        let mapped = ipc::mem_size(h)
            .and_then(|size| Ok((ipc::mem_map(h, prot::READ | prot::WRITE)?, size)));
        let (addr, size) = match mapped {
            Ok(m) => m,
            Err(e) => {
                let _ = ipc::close(h);
                return Err(e);
            }
        };
        self.detach(resource);
        let slot = match self.attached.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                let victim = self.next_slot;
                self.next_slot = (victim + 1) % BULK_SLOTS;
                if let Some(old) = self.attached[victim].take() {
                    release(old);
                }
                victim
            }
        };
        self.attached[slot] = Some(Attached {
            resource,
            handle: h,
            addr,
            size,
        });
        Ok(())
    }

    fn detach(&mut self, resource: u64) {
        for slot in &mut self.attached {
            if slot.is_some_and(|a| a.resource == resource) {
                release(slot.take().expect("checked"));
            }
        }
    }

    fn release_all(&mut self) {
        for slot in &mut self.attached {
            if let Some(a) = slot.take() {
                release(a);
            }
        }
    }
}

fn release(a: Attached) {
    // SAFETY: unmaps only the mapping `attach` made; nothing refers to it
    // once its slot is empty.
    let _ = unsafe { super::syscall(Syscall::VmUnmap, &[a.addr, a.size]) };
    let _ = ipc::close(a.handle);
}
