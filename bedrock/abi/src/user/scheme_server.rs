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
//!
//! Decoding is kept apart from acting: [`decode`] turns a received
//! [`Message`] into a [`Request`] (which operation, on what, with lengths
//! clamped to [`MAX_DATA`] and the handles to let go of) without a system
//! call, so it is tested and fuzzed on the host (`fuzz/`, target
//! `scheme_request`); [`serve`] then carries the request out.

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

/// What a received message asks [`serve`] to do, decoded and checked
/// without any system call by [`decode`]. Lengths are clamped to
/// [`MAX_DATA`] (the receive buffer); `resource` values never have
/// [`RESOURCE_BADGE`] set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `OPEN` on the scheme handle: the path is the first `path_len` bytes
    /// of the data, `flags` the [`crate::scheme::open`] flags.
    Open {
        client: u64,
        path_len: usize,
        flags: u64,
    },
    /// `MKDIR` on the scheme handle.
    Mkdir {
        client: u64,
        path_len: usize,
    },
    /// `UNLINK` on the scheme handle.
    Unlink {
        client: u64,
        path_len: usize,
    },
    /// `READ` of at most `len` bytes from `offset`.
    Read {
        resource: u64,
        offset: u64,
        len: usize,
    },
    /// `WRITE` of the first `data_len` bytes of the data at `offset`.
    Write {
        resource: u64,
        offset: u64,
        data_len: usize,
    },
    Stat {
        resource: u64,
    },
    /// `READDIR`: the name of entry `index`.
    Readdir {
        resource: u64,
        index: u64,
    },
    /// `READ_BULK` (`read`) or `WRITE_BULK`: `len` bytes between `offset`
    /// in the resource and `at` in the shared memory object; `memory` is
    /// the object sent with the call (attached, replacing any other), or
    /// none to use the one attached. `at + len` is checked against the
    /// object's size when it is known, by [`serve`].
    Bulk {
        read: bool,
        resource: u64,
        memory: Option<u32>,
        offset: u64,
        len: u64,
        at: u64,
    },
    /// `CLOSE`: the client is done with `resource`.
    Close {
        resource: u64,
    },
    /// A protocol label refused without asking the handler: sent to the
    /// wrong kind of handle (scheme vs resource), or an `OPEN` made with
    /// `CallRegs` (the resource handle could not reach the caller).
    Refuse(Errno),
    /// A label outside the protocol, for [`Handler::other`].
    Other {
        badge: u64,
        label: u64,
        words: [u64; 4],
    },
}

/// A decoded message: the request, and the received handles it does not
/// keep, which [`serve`] closes at once. Every received handle is either
/// in `release` or is the `memory` of a [`Request::Bulk`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub request: Request,
    pub release: &'a [u32],
}

/// Decodes and checks a received message; pure (no system call, no
/// handler), total (any `Message` value gives a [`Decoded`], never a
/// panic).
pub fn decode(m: &Message) -> Decoded<'_> {
    let data_len = (m.data_len as usize).min(MAX_DATA);
    let on_resource = m.badge & RESOURCE_BADGE != 0;
    let resource = m.badge & !RESOURCE_BADGE;
    let received = &m.handles[..(m.handle_count as usize).min(m.handles.len())];
    let client = m.badge;
    let [w0, w1, w2, _] = m.words;
    let request = match (m.label, on_resource) {
        (OPEN, false) if m.flags & flags::REGISTER_CALL != 0 => Request::Refuse(Errno::Inval),
        (OPEN, false) => Request::Open {
            client,
            path_len: data_len,
            flags: w0,
        },
        (MKDIR, false) => Request::Mkdir {
            client,
            path_len: data_len,
        },
        (UNLINK, false) => Request::Unlink {
            client,
            path_len: data_len,
        },
        (READ, true) => Request::Read {
            resource,
            offset: w0,
            len: (w1 as usize).min(MAX_DATA),
        },
        (WRITE, true) => Request::Write {
            resource,
            offset: w0,
            data_len,
        },
        (STAT, true) => Request::Stat { resource },
        (READDIR, true) => Request::Readdir {
            resource,
            index: w0,
        },
        (READ_BULK | WRITE_BULK, true) => Request::Bulk {
            read: m.label == READ_BULK,
            resource,
            // Only the bulk calls keep a handle: the first one.
            memory: received.first().copied(),
            offset: w0,
            len: w1,
            at: w2,
        },
        (CLOSE, true) => Request::Close { resource },
        (
            OPEN | MKDIR | UNLINK | READ | WRITE | STAT | READDIR | READ_BULK | WRITE_BULK | CLOSE,
            _,
        ) => Request::Refuse(Errno::Inval),
        (label, _) => Request::Other {
            badge: m.badge,
            label,
            words: m.words,
        },
    };
    let kept = usize::from(matches!(
        request,
        Request::Bulk {
            memory: Some(_),
            ..
        }
    ));
    Decoded {
        request,
        release: &received[kept..],
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
        let Decoded { request, release } = decode(m);
        for &h in release {
            let _ = ipc::close(h);
        }
        let answer = match request {
            Request::Open {
                client,
                path_len,
                flags,
            } => self.open(handler, client, &buf[..path_len], flags),
            Request::Mkdir { client, path_len } => handler
                .mkdir(client, &buf[..path_len])
                .map(|()| words([0; 4])),
            Request::Unlink { client, path_len } => handler
                .unlink(client, &buf[..path_len])
                .map(|()| words([0; 4])),
            Request::Read {
                resource,
                offset,
                len,
            } if m.reply != 0 && handler.reads_later(resource) => {
                let reply = Deferred {
                    reply: m.reply,
                    capacity: len,
                };
                handler.read_later(resource, offset, len, reply);
                return (Answer::Later, Flow::Continue);
            }
            Request::Read {
                resource,
                offset,
                len,
            } => handler
                .read(resource, offset, &mut buf[..len])
                .map(|n| Message {
                    data: buf.as_ptr() as u64,
                    data_len: n.min(len) as u64,
                    ..Message::default()
                }),
            Request::Write {
                resource,
                offset,
                data_len,
            } => handler
                .write(resource, offset, &buf[..data_len])
                .map(|n| words([n as u64, 0, 0, 0])),
            Request::Stat { resource } => handler
                .stat(resource)
                .map(|s| words([s.size, s.kind, 0, 0])),
            Request::Readdir { resource, index } => handler
                .readdir(resource, index, &mut buf[..])
                .map(|n| Message {
                    data: buf.as_ptr() as u64,
                    data_len: n.min(MAX_DATA) as u64,
                    ..Message::default()
                }),
            Request::Bulk {
                read,
                resource,
                memory,
                offset,
                len,
                at,
            } => self.bulk(handler, read, resource, memory, [offset, len, at]),
            Request::Close { resource } => {
                self.detach(resource);
                handler.close(resource);
                Ok(words([0; 4]))
            }
            Request::Refuse(e) => Err(e),
            Request::Other {
                badge,
                label,
                words: w,
            } => {
                let (result, flow) = handler.other(badge, label, w);
                return (Answer::Now(result.map_or_else(status, words)), flow);
            }
        };
        (Answer::Now(answer.unwrap_or_else(status)), Flow::Continue)
    }

    fn open(
        &mut self,
        handler: &mut impl Handler,
        client: u64,
        path: &[u8],
        flags: u64,
    ) -> Result<Message, Errno> {
        let resource = handler.open(client, path, flags)?;
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

    /// `READ_BULK`/`WRITE_BULK`: `[offset in the resource, length, offset
    /// in the memory object]`; a memory handle attaches (replaces) the
    /// resource's object, none uses the one attached.
    fn bulk(
        &mut self,
        handler: &mut impl Handler,
        read: bool,
        resource: u64,
        memory: Option<u32>,
        [offset, len, at]: [u64; 3],
    ) -> Result<Message, Errno> {
        if let Some(h) = memory {
            self.attach(resource, h)?;
        }
        let a = self.find(resource).ok_or(Errno::Inval)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::MAX_HANDLES;
    use crate::scheme::SEEK;

    fn message(label: u64, badge: u64) -> Message {
        Message {
            label,
            badge,
            words: [7, 9, 11, 13],
            data_len: 5,
            handles: [21, 22, 23, 24],
            ..Message::default()
        }
    }

    const ON_RESOURCE: u64 = RESOURCE_BADGE | 3;

    #[test]
    fn requests_by_label_and_handle_kind() {
        let d = |m: &Message| decode(m).request;
        assert_eq!(
            d(&message(OPEN, 42)),
            Request::Open {
                client: 42,
                path_len: 5,
                flags: 7
            }
        );
        assert_eq!(
            d(&message(UNLINK, 42)),
            Request::Unlink {
                client: 42,
                path_len: 5
            }
        );
        assert_eq!(
            d(&message(READ, ON_RESOURCE)),
            Request::Read {
                resource: 3,
                offset: 7,
                len: 9
            }
        );
        assert_eq!(
            d(&message(WRITE_BULK, ON_RESOURCE)),
            Request::Bulk {
                read: false,
                resource: 3,
                memory: None,
                offset: 7,
                len: 9,
                at: 11
            }
        );
        assert_eq!(
            d(&message(CLOSE, ON_RESOURCE)),
            Request::Close { resource: 3 }
        );
        // Protocol labels on the wrong kind of handle.
        assert_eq!(
            d(&message(OPEN, ON_RESOURCE)),
            Request::Refuse(Errno::Inval)
        );
        assert_eq!(d(&message(STAT, 42)), Request::Refuse(Errno::Inval));
        // OPEN through CallRegs cannot carry the resource handle back.
        let mut m = message(OPEN, 42);
        m.flags = flags::REGISTER_CALL;
        assert_eq!(d(&m), Request::Refuse(Errno::Inval));
        // Anything else is the handler's, on either kind of handle.
        assert_eq!(
            d(&message(SEEK, ON_RESOURCE)),
            Request::Other {
                badge: ON_RESOURCE,
                label: SEEK,
                words: [7, 9, 11, 13]
            }
        );
    }

    #[test]
    fn lengths_are_clamped_to_the_buffer() {
        let mut m = message(WRITE, ON_RESOURCE);
        m.data_len = u64::MAX;
        m.words[1] = u64::MAX;
        assert_eq!(
            decode(&m).request,
            Request::Write {
                resource: 3,
                offset: 7,
                data_len: MAX_DATA
            }
        );
        m.label = READ;
        assert_eq!(
            decode(&m).request,
            Request::Read {
                resource: 3,
                offset: 7,
                len: MAX_DATA
            }
        );
    }

    #[test]
    fn every_received_handle_is_kept_or_released() {
        for count in [0, 1, 3, 4, 5, u32::MAX] {
            let received = (count as usize).min(MAX_HANDLES);
            let mut m = message(READ_BULK, ON_RESOURCE);
            m.handle_count = count;
            let bulk = decode(&m);
            let kept = match bulk.request {
                Request::Bulk { memory, .. } => memory,
                other => panic!("{other:?}"),
            };
            assert_eq!(kept, (received > 0).then_some(21));
            assert_eq!(
                bulk.release,
                &m.handles[usize::from(received > 0)..received]
            );
            // Not a bulk call, or a bulk call refused: nothing is kept.
            for (label, badge) in [(STAT, ON_RESOURCE), (READ_BULK, 42), (SEEK, 42)] {
                let mut m = message(label, badge);
                m.handle_count = count;
                assert_eq!(decode(&m).release, &m.handles[..received]);
            }
        }
    }
}
