//! Capabilities over kernel objects.

use alloc::sync::{Arc, Weak};

use bedrock_abi::ipc::ObjectType;
use bedrock_abi::{Errno, Rights};

use super::revoke::Link;
use crate::ipc::device::{IoPorts, Platform};
use crate::ipc::irq_line::IrqLine;
use crate::ipc::memory::MemoryObject;
use crate::ipc::notification::Notification;
use crate::ipc::port::{Port, ReplyObject};
use crate::silo::{Ending, ExitStatus, Silo, SiloId};

/// What a silo capability holds: the silo only weakly (so a handle to a
/// dead silo frees its address space and handles, and silos holding
/// handles to each other or to themselves make no cycle) and its
/// [`Ending`] strongly (so the status stays readable after the end).
pub struct SiloRef {
    pub id: SiloId,
    pub silo: Weak<Silo>,
    pub end: Arc<Ending<ExitStatus>>,
}

impl SiloRef {
    pub fn new(silo: &Arc<Silo>) -> SiloRef {
        SiloRef {
            id: silo.id,
            silo: Arc::downgrade(silo),
            end: silo.end.clone(),
        }
    }
}

/// What a thread capability holds: ids and the thread's exit code cell,
/// never the thread (whose user context keeps its whole silo alive).
pub struct ThreadRef {
    pub silo: SiloId,
    pub id: u64,
    pub end: Arc<Ending<i32>>,
}

/// A kernel object a capability can name.
#[derive(Clone)]
pub enum Object {
    Port(Arc<Port>),
    Reply(Arc<ReplyObject>),
    Notification(Arc<Notification>),
    Memory(Arc<MemoryObject>),
    IrqLine(Arc<IrqLine>),
    Silo(Arc<SiloRef>),
    Thread(Arc<ThreadRef>),
    Platform(Arc<Platform>),
    IoPorts(Arc<IoPorts>),
}

impl Object {
    pub fn object_type(&self) -> ObjectType {
        match self {
            Object::Port(_) => ObjectType::Port,
            Object::Reply(_) => ObjectType::Reply,
            Object::Notification(_) => ObjectType::Notification,
            Object::Memory(_) => ObjectType::Memory,
            Object::IrqLine(_) => ObjectType::IrqLine,
            Object::Silo(_) => ObjectType::Silo,
            Object::Thread(_) => ObjectType::Thread,
            Object::Platform(_) => ObjectType::Platform,
            Object::IoPorts(_) => ObjectType::IoPorts,
        }
    }
}

/// A capability: an object, rights, a badge (ports), and its place in the
/// derivation tree.
pub struct Cap {
    pub object: Object,
    pub rights: Rights,
    pub badge: u64,
    link: Link,
}

impl core::fmt::Debug for Cap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cap")
            .field("type", &self.object.object_type())
            .field("rights", &self.rights)
            .field("badge", &self.badge)
            .finish()
    }
}

impl Cap {
    /// The original capability of a new object.
    pub fn new(object: Object, rights: Rights) -> Cap {
        let cap = Cap {
            object,
            rights,
            badge: 0,
            link: Link::root(),
        };
        cap.on_create();
        cap
    }

    /// An original capability carrying `badge` (e.g. a scheme handle
    /// badged with the silo that looked it up).
    pub fn with_badge(object: Object, rights: Rights, badge: u64) -> Cap {
        let cap = Cap {
            object,
            rights,
            badge,
            link: Link::root(),
        };
        cap.on_create();
        cap
    }

    /// A derived capability with `rights` (which must be a subset) and
    /// `badge`; revoking `self` later invalidates it.
    pub fn derive(&self, rights: Rights, badge: u64) -> Result<Cap, Errno> {
        if !self.rights.contains(rights) {
            return Err(Errno::Acces);
        }
        let cap = Cap {
            object: self.object.clone(),
            rights,
            badge,
            link: self.link.derive().ok_or(Errno::MLink)?,
        };
        cap.on_create();
        Ok(cap)
    }

    /// A capability to a new `object` made from this one (a device cap
    /// minted from the platform authority): a child in the derivation
    /// tree, so revoking `self` invalidates it too. `rights` must be a
    /// subset of this capability's.
    pub fn derive_new(&self, object: Object, rights: Rights) -> Result<Cap, Errno> {
        if !self.rights.contains(rights) {
            return Err(Errno::Acces);
        }
        let cap = Cap {
            object,
            rights,
            badge: 0,
            link: self.link.derive().ok_or(Errno::MLink)?,
        };
        cap.on_create();
        Ok(cap)
    }

    /// Moves the capability as is (transfer by move keeps its link).
    pub fn is_valid(&self) -> bool {
        self.link.is_valid()
    }

    /// Checks validity and that `needed` rights are present.
    pub fn check(&self, needed: Rights) -> Result<(), Errno> {
        if !self.is_valid() {
            return Err(Errno::BadF);
        }
        if !self.rights.contains(needed) {
            return Err(Errno::Acces);
        }
        Ok(())
    }

    /// Invalidates every capability derived from this one.
    pub fn revoke_derived(&self) {
        self.link.revoke_children();
    }

    /// Objects count the capabilities that can serve them (see `Port`).
    fn on_create(&self) {
        if let Object::Port(p) = &self.object
            && self.rights.contains(Rights::RECEIVE)
        {
            p.receiver_cap_added();
        }
    }
}

impl Drop for Cap {
    fn drop(&mut self) {
        // The line's table entry holds one reference, this cap another:
        // when no other cap remains, the line is given back.
        if let Object::IrqLine(line) = &self.object
            && Arc::strong_count(line) <= 2
        {
            line.release();
        }
        if let Object::Port(p) = &self.object
            && self.rights.contains(Rights::RECEIVE)
        {
            p.receiver_cap_dropped();
        }
    }
}
