//! Capability and IPC system calls. Every handle is looked up in the
//! calling silo's table and checked for the right the operation needs;
//! every message descriptor is copied in and validated before anything
//! happens, so a bad call changes nothing.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use bedrock_abi::ipc::{self, MAX_DATA, MAX_HANDLES, Message, handle_info};
use bedrock_abi::{Errno, Rights};

use super::SysResult;
use crate::arch::x86_64::tsc;
use crate::arch::x86_64::usercopy::{copy_from_user, copy_to_user, user_range_ok};
use crate::cap::table::{Handle, TableError};
use crate::cap::{Cap, Object};
use crate::ipc::memory::MemoryObject;
use crate::ipc::notification::{Notification, WaitError};
use crate::ipc::port::{KMessage, Port, Reply, ReplyTo, UserData};
use crate::mm::address_space::CopyError;
use crate::mm::vmspace::Access;
use crate::mm::vmspace::{Placement, Prot, VmError};
use crate::silo::Silo;

/// Rights a new port's first handle has.
const PORT_RIGHTS: Rights =
    Rights(Rights::CALL.0 | Rights::RECEIVE.0 | Rights::GRANT.0 | Rights::DUPLICATE.0);
/// Rights a new notification's first handle has.
const NOTIFY_RIGHTS: Rights =
    Rights(Rights::SIGNAL.0 | Rights::WAIT.0 | Rights::GRANT.0 | Rights::DUPLICATE.0);

fn bad(_: TableError) -> Errno {
    Errno::BadF
}

fn handle(v: u64) -> Result<Handle, Errno> {
    Handle::try_from(v).map_err(|_| Errno::BadF)
}

/// Runs `f` on the capability behind `h` after checking `needed`.
pub(super) fn with_cap<R>(
    silo: &Silo,
    h: u64,
    needed: Rights,
    f: impl FnOnce(&Cap) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let table = silo.handles.lock();
    let cap = table.get(handle(h)?).map_err(bad)?;
    cap.check(needed)?;
    f(cap)
}

/// The object behind `h` as `pick` extracts it: a handle to any other kind
/// of object is `Inval`, one without `needed` is `Acces`.
pub(super) fn object_of<T>(
    silo: &Silo,
    h: u64,
    needed: Rights,
    pick: impl FnOnce(&Cap) -> Option<T>,
) -> Result<T, Errno> {
    with_cap(silo, h, Rights::NONE, |c| {
        let object = pick(c).ok_or(Errno::Inval)?;
        if let Err(e) = c.check(needed) {
            if e == Errno::Acces {
                silo.log_denial(format_args!(
                    "handle {h} ({:?}) lacks {} (has {})",
                    c.object.object_type(),
                    needed,
                    c.rights
                ));
            }
            return Err(e);
        }
        Ok(object)
    })
}

pub(super) fn insert(silo: &Silo, cap: Cap) -> SysResult {
    let mut table = silo.handles.lock();
    table
        .insert(cap)
        .map(|h| h as usize)
        .map_err(|_| Errno::MFile)
}

pub fn close(silo: &Silo, h: u64) -> SysResult {
    let cap = silo.handles.lock().remove(handle(h)?).map_err(bad)?;
    drop(cap);
    Ok(0)
}

pub fn duplicate(silo: &Silo, h: u64, rights: u64) -> SysResult {
    let rights =
        Rights::from_bits(u32::try_from(rights).map_err(|_| Errno::Inval)?).ok_or(Errno::Inval)?;
    let cap = with_cap(silo, h, Rights::DUPLICATE, |c| {
        if matches!(c.object, Object::Reply(_)) {
            return Err(Errno::Inval); // single use: never duplicated
        }
        c.derive(rights, c.badge)
    })?;
    insert(silo, cap)
}

pub fn revoke(silo: &Silo, h: u64) -> SysResult {
    with_cap(silo, h, Rights::NONE, |c| {
        c.revoke_derived();
        Ok(0)
    })
}

pub fn info(silo: &Silo, h: u64) -> SysResult {
    with_cap(silo, h, Rights::NONE, |c| {
        Ok(handle_info(c.object.object_type(), c.rights) as usize)
    })
}

pub fn port_create(silo: &Silo) -> SysResult {
    insert(
        silo,
        Cap::new(Object::Port(Arc::new(Port::new())), PORT_RIGHTS),
    )
}

pub fn port_mint(silo: &Silo, h: u64, badge: u64, rights: u64) -> SysResult {
    let rights =
        Rights::from_bits(u32::try_from(rights).map_err(|_| Errno::Inval)?).ok_or(Errno::Inval)?;
    let cap = with_cap(silo, h, Rights::DUPLICATE, |c| match c.object {
        Object::Port(_) => c.derive(rights, badge),
        _ => Err(Errno::Inval),
    })?;
    insert(silo, cap)
}

fn read_message(addr: u64) -> Result<Message, Errno> {
    let mut m = Message::default();
    // SAFETY: Message is repr(C) plain integers: any bytes are a valid value.
    let bytes = unsafe {
        core::slice::from_raw_parts_mut(
            &mut m as *mut Message as *mut u8,
            core::mem::size_of::<Message>(),
        )
    };
    copy_from_user(bytes, addr).map_err(|_| Errno::Fault)?;
    Ok(m)
}

fn write_message(addr: u64, m: &Message) -> Result<(), Errno> {
    // SAFETY: plain repr(C) data viewed as bytes.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            m as *const Message as *const u8,
            core::mem::size_of::<Message>(),
        )
    };
    copy_to_user(addr, bytes).map_err(|_| Errno::Fault)
}

/// Takes a message to send: checks the data buffer (it stays in the
/// sender's memory until the receiver copies it, see `UserData`) and takes
/// the handles it transfers (all checked first; nothing is taken if one is
/// bad).
fn take_message(silo: &Silo, m: &Message) -> Result<KMessage, Errno> {
    let count = m.handle_count as usize;
    if m.data_len > MAX_DATA as u64 || count > MAX_HANDLES || m.handle_move >> count != 0 {
        return Err(Errno::Inval);
    }
    let data = user_data(silo, m.data, m.data_len as usize, Access::Read)?;
    let wanted = &m.handles[..count];
    let mut handles = Vec::new();
    if count > 0 {
        let mut table = silo.handles.lock();
        for (i, &h) in wanted.iter().enumerate() {
            let cap = table.get(h).map_err(bad)?;
            cap.check(Rights::GRANT)?;
            if matches!(cap.object, Object::Reply(_)) && m.handle_move & (1 << i) == 0 {
                return Err(Errno::Inval);
            }
            if wanted[..i].contains(&h) {
                return Err(Errno::Inval);
            }
        }
        handles.reserve_exact(count);
        for (i, &h) in wanted.iter().enumerate() {
            let cap = if m.handle_move & (1 << i) != 0 {
                table.remove(h).map_err(bad)?
            } else {
                let c = table.get(h).map_err(bad)?;
                c.derive(c.rights, c.badge)?
            };
            handles.push(cap);
        }
    }
    Ok(KMessage {
        label: m.label,
        words: m.words,
        data,
        handles,
    })
}

/// `len` bytes at `addr` in the caller's memory, checked for `access`
/// now (so that a bad buffer is the caller's `Fault`, not its peer's).
fn user_data(
    silo: &Silo,
    addr: u64,
    len: usize,
    access: Access,
) -> Result<Option<UserData>, Errno> {
    if len == 0 {
        return Ok(None);
    }
    if !user_range_ok(addr, len) || !silo.aspace.allows(addr, len as u64, access) {
        return Err(Errno::Fault);
    }
    Ok(Some(UserData {
        aspace: silo.aspace.clone(),
        addr,
        len,
    }))
}

/// Moves `handles` into the silo's table, recording them in `out`.
fn receive_handles(silo: &Silo, handles: Vec<Cap>, out: &mut Message) -> Result<(), Errno> {
    if handles.is_empty() {
        return Ok(());
    }
    let mut table = silo.handles.lock();
    for (i, cap) in handles.into_iter().enumerate() {
        out.handles[i] = table.insert(cap).map_err(|_| Errno::MFile)?;
        out.handle_count += 1;
    }
    Ok(())
}

/// The port behind `h`, with the handle's badge.
fn port_of(silo: &Silo, h: u64, needed: Rights) -> Result<(Arc<Port>, u64), Errno> {
    object_of(silo, h, needed, |c| match &c.object {
        Object::Port(p) => Some((p.clone(), c.badge)),
        _ => None,
    })
}

pub fn call(silo: &Silo, h: u64, send: u64, recv: u64) -> SysResult {
    let (port, badge) = port_of(silo, h, Rights::CALL)?;
    let m = read_message(send)?;
    let into = read_message(recv)?;
    // Check now that the reply can be written back, before the call.
    write_message(recv, &into)?;
    let capacity = into.data_len.min(MAX_DATA as u64) as usize;
    let reply_to = ReplyTo {
        buffer: user_data(silo, into.data, capacity, Access::Write)?,
        handles: true,
    };
    let k = take_message(silo, &m)?;
    let reply = port.call(k, reply_to, badge)?;
    let mut out = Message {
        label: reply.label,
        words: reply.words,
        data: into.data,
        data_len: reply.data_len as u64,
        ..Message::default()
    };
    receive_handles(silo, reply.handles, &mut out)?;
    write_message(recv, &out)?;
    Ok(0)
}

/// `CallRegs`: a call whose message and reply are the label and the four
/// words, passed in registers: no descriptor, no buffer touched.
pub fn call_regs(silo: &Silo, a: [u64; 6]) -> Result<Reply, Errno> {
    let (port, badge) = port_of(silo, a[0], Rights::CALL)?;
    let k = KMessage {
        label: a[1],
        words: [a[2], a[3], a[4], a[5]],
        ..KMessage::default()
    };
    port.call(k, ReplyTo::default(), badge)
}

pub fn receive(silo: &Silo, h: u64, into_addr: u64, timeout_ns: u64) -> SysResult {
    let (port, _) = port_of(silo, h, Rights::RECEIVE)?;
    receive_from(silo, &port, into_addr, timeout_ns)
}

fn receive_from(silo: &Silo, port: &Port, into_addr: u64, timeout_ns: u64) -> SysResult {
    let into = read_message(into_addr)?;
    write_message(into_addr, &into)?;
    let capacity = into.data_len.min(MAX_DATA as u64) as usize;
    user_data(silo, into.data, capacity, Access::Write)?;
    let deadline = (timeout_ns != u64::MAX).then(|| tsc::now_ns().saturating_add(timeout_ns));
    loop {
        let got = port.receive(deadline)?;
        let message = got.message;
        if let Some(data) = &message.data {
            match data.copy_to(&silo.aspace, into.data, capacity) {
                Ok(()) => {}
                Err(CopyError::Source) => {
                    // The caller unmapped its own buffer: its error; serve
                    // the next call.
                    got.reply.fail(Errno::Fault);
                    continue;
                }
                Err(CopyError::Destination) => return Err(Errno::Fault),
            }
        }
        let reply_capacity = got.reply.reply_to().capacity() as u32;
        let register_call = got.reply.reply_to().buffer.is_none() && !got.reply.reply_to().handles;
        let reply_cap = Cap::new(Object::Reply(Arc::new(got.reply)), Rights::NONE);
        let reply = silo
            .handles
            .lock()
            .insert(reply_cap)
            .map_err(|_| Errno::MFile)?;
        let mut out = Message {
            label: message.label,
            words: message.words,
            data: into.data,
            data_len: message.data_len() as u64,
            badge: got.badge,
            reply,
            reply_capacity,
            flags: if register_call {
                ipc::flags::REGISTER_CALL
            } else {
                0
            },
            ..Message::default()
        };
        let delivered = receive_handles(silo, message.handles, &mut out)
            .and_then(|()| write_message(into_addr, &out));
        if let Err(e) = delivered {
            // The caller must not wait for a reply that cannot come.
            let _ = silo.handles.lock().remove(reply);
            return Err(e);
        }
        return Ok(0);
    }
}

pub fn reply(silo: &Silo, h: u64, send: u64) -> SysResult {
    let m = read_message(send)?;
    let h = handle(h)?;
    match &silo.handles.lock().get(h).map_err(bad)?.object {
        // Checked before anything is taken from the table.
        Object::Reply(r) if m.handle_count > 0 && !r.reply_to().handles => {
            return Err(Errno::Inval);
        }
        Object::Reply(_) => {}
        _ => return Err(Errno::Inval),
    }
    let k = take_message(silo, &m)?;
    let cap = silo.handles.lock().remove(h).map_err(bad)?;
    let Object::Reply(reply) = &cap.object else {
        return Err(Errno::Inval);
    };
    let reply = reply.clone();
    drop(cap);
    match Arc::try_unwrap(reply) {
        Ok(r) => r.reply(k).map(|()| 0),
        Err(_) => Err(Errno::Inval),
    }
}

/// `ReplyWait`: answers `reply_h` (if not 0) and waits for the next call
/// on `port_h`, in one system call — a server's loop costs one kernel
/// entry per request. A caller gone meanwhile (`ConnReset`) does not stop
/// the wait; any other reply error is returned before waiting.
pub fn reply_wait(
    silo: &Silo,
    reply_h: u64,
    send: u64,
    port_h: u64,
    into: u64,
    timeout_ns: u64,
) -> SysResult {
    let (port, _) = port_of(silo, port_h, Rights::RECEIVE)?;
    if reply_h != 0 {
        match reply(silo, reply_h, send) {
            Ok(_) | Err(Errno::ConnReset) => {}
            Err(e) => return Err(e),
        }
    }
    receive_from(silo, &port, into, timeout_ns)
}

fn notification_of(silo: &Silo, h: u64, needed: Rights) -> Result<Arc<Notification>, Errno> {
    object_of(silo, h, needed, |c| match &c.object {
        Object::Notification(n) => Some(n.clone()),
        _ => None,
    })
}

pub(super) fn memory_of(silo: &Silo, h: u64, needed: Rights) -> Result<Arc<MemoryObject>, Errno> {
    object_of(silo, h, needed, |c| match &c.object {
        Object::Memory(m) => Some(m.clone()),
        _ => None,
    })
}

fn irq_line_of(silo: &Silo, h: u64) -> Result<Arc<crate::ipc::irq_line::IrqLine>, Errno> {
    object_of(silo, h, Rights::WAIT, |c| match &c.object {
        Object::IrqLine(l) => Some(l.clone()),
        _ => None,
    })
}

pub fn notify_create(silo: &Silo) -> SysResult {
    insert(
        silo,
        Cap::new(
            Object::Notification(Arc::new(Notification::new())),
            NOTIFY_RIGHTS,
        ),
    )
}

pub fn notify_signal(silo: &Silo, h: u64, bits: u64) -> SysResult {
    notification_of(silo, h, Rights::SIGNAL)?.signal(bits);
    Ok(0)
}

pub fn notify_wait(silo: &Silo, h: u64, timeout_ns: u64) -> SysResult {
    let n = notification_of(silo, h, Rights::WAIT)?;
    let deadline = (timeout_ns != u64::MAX).then(|| tsc::now_ns().saturating_add(timeout_ns));
    match n.wait(deadline) {
        Ok(bits) => Ok(bits as usize),
        Err(WaitError::TimedOut) => Err(Errno::TimedOut),
        Err(WaitError::Interrupted) => Err(Errno::Intr),
    }
}

pub fn notify_poll(silo: &Silo, h: u64) -> SysResult {
    Ok(notification_of(silo, h, Rights::WAIT)?.poll() as usize)
}

/// Rights a new memory object's first handle has.
const MEMORY_RIGHTS: Rights = Rights(
    Rights::READ.0 | Rights::WRITE.0 | Rights::MAP.0 | Rights::GRANT.0 | Rights::DUPLICATE.0,
);

pub fn mem_create(silo: &Silo, size: u64) -> SysResult {
    let object = MemoryObject::new(size)?;
    insert(
        silo,
        Cap::new(Object::Memory(Arc::new(object)), MEMORY_RIGHTS),
    )
}

pub fn mem_size(silo: &Silo, h: u64) -> SysResult {
    memory_of(silo, h, Rights::MAP).map(|m| m.size() as usize)
}

pub fn mem_map(silo: &Silo, h: u64, hint: u64, prot_bits: u64) -> SysResult {
    let prot = Prot::from_bits(prot_bits).ok_or(Errno::Inval)?;
    let mut needed = Rights::MAP;
    if !prot.is_none() {
        needed = needed | Rights::READ;
    }
    if prot.contains(Prot::WRITE) {
        needed = needed | Rights::WRITE;
    }
    if prot.contains(Prot::EXEC) {
        needed = needed | Rights::EXECUTE;
    }
    let (object, rights) = object_of(silo, h, needed, |c| match &c.object {
        Object::Memory(m) => Some((m.clone(), c.rights)),
        _ => None,
    })?;
    if object.is_device() && prot.contains(Prot::EXEC) {
        return Err(Errno::Inval); // device registers are never code
    }
    // What `VmProtect` may later grant on this mapping: no more than the
    // handle allowed.
    let mut max = Prot::NONE;
    if rights.contains(Rights::READ) {
        max = max | Prot::READ;
    }
    if rights.contains(Rights::WRITE) {
        max = max | Prot::WRITE;
    }
    if rights.contains(Rights::EXECUTE) {
        max = max | Prot::EXEC;
    }
    let placement = if hint == 0 {
        Placement::Anywhere
    } else {
        Placement::Hint(hint)
    };
    silo.aspace
        .map_shared(object, placement, prot, max)
        .map(|a| a as usize)
        .map_err(|e| match e {
            VmError::WriteExecute | VmError::Misaligned(_) | VmError::OutOfRange { .. } => {
                Errno::Inval
            }
            VmError::Denied { .. } => Errno::Acces,
            _ => Errno::NoMem,
        })
}

fn read_name(ptr: u64, len: u64) -> Result<alloc::string::String, Errno> {
    if len == 0 || len > bedrock_abi::scheme::MAX_NAME as u64 {
        return Err(Errno::Inval);
    }
    let mut buf = vec![0u8; len as usize];
    copy_from_user(&mut buf, ptr).map_err(|_| Errno::Fault)?;
    let name = alloc::string::String::from_utf8(buf).map_err(|_| Errno::Inval)?;
    if !bedrock_abi::scheme::valid_name(&name) {
        return Err(Errno::Inval);
    }
    Ok(name)
}

pub fn scheme_register(silo: &Silo, ptr: u64, len: u64, h: u64) -> SysResult {
    let name = read_name(ptr, len)?;
    // Authority first: serving a name needs `+name` in the namespace, or a
    // client that sees the name could squat it (finding H4).
    if !silo.may_serve(&name) {
        log::warn!(
            "silo {} ({}): may not serve scheme {name}: (no +{name} in its namespace)",
            silo.id,
            silo.name
        );
        return Err(Errno::Acces);
    }
    let (port, _) = port_of(silo, h, Rights::RECEIVE)?;
    crate::scheme::register(&name, port, silo.id)?;
    log::info!("silo {} ({}) serves scheme {name}:", silo.id, silo.name);
    Ok(0)
}

pub fn scheme_lookup(silo: &Silo, ptr: u64, len: u64) -> SysResult {
    let name = read_name(ptr, len)?;
    if !silo.sees(&name) {
        log::warn!(
            "silo {} ({}): scheme {name}: is not in its namespace",
            silo.id,
            silo.name
        );
        return Err(Errno::NoEnt);
    }
    let port = crate::scheme::lookup(&name).ok_or(Errno::NoEnt)?;
    insert(
        silo,
        Cap::with_badge(Object::Port(port), Rights::CALL, silo.id),
    )
}

pub fn irq_bind(silo: &Silo, h: u64, n: u64, bits: u64) -> SysResult {
    let notification = notification_of(silo, n, Rights::SIGNAL)?;
    let line = irq_line_of(silo, h)?;
    line.bind(notification, bits).map(|()| 0)
}

pub fn irq_ack(silo: &Silo, h: u64) -> SysResult {
    let line = irq_line_of(silo, h)?;
    line.ack().map(|()| 0)
}
