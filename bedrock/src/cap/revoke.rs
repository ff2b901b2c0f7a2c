//! Revocation: every capability carries a [`Link`] into a derivation tree.
//! Deriving a capability (duplicate, transfer by copy) makes a child link
//! that remembers its parent's epoch. Revoking a capability bumps its
//! epoch, which invalidates every capability derived from it, transitively,
//! without finding them: a derived capability checks its ancestors' epochs
//! when it is used.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
struct Node {
    epoch: AtomicU64,
    /// (parent, the parent's epoch when this node was derived).
    parent: Option<(Arc<Node>, u64)>,
}

/// A capability's place in the derivation tree.
#[derive(Clone, Debug)]
pub struct Link(Arc<Node>);

impl Link {
    /// A root: the capability a kernel object was created with.
    pub fn root() -> Self {
        Link(Arc::new(Node {
            epoch: AtomicU64::new(0),
            parent: None,
        }))
    }

    /// A child of `self`, invalidated when `self` (or an ancestor) is revoked.
    pub fn derive(&self) -> Self {
        let epoch = self.0.epoch.load(Ordering::Acquire);
        Link(Arc::new(Node {
            epoch: AtomicU64::new(0),
            parent: Some((self.0.clone(), epoch)),
        }))
    }

    /// Invalidates every link derived from this one; this one stays valid.
    pub fn revoke_children(&self) {
        self.0.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// False once an ancestor revoked its children after this link was made.
    pub fn is_valid(&self) -> bool {
        let mut node = &self.0;
        while let Some((parent, seen)) = &node.parent {
            if parent.epoch.load(Ordering::Acquire) != *seen {
                return false;
            }
            node = parent;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_reaches_grandchildren_but_not_self_or_siblings_made_later() {
        let root = Link::root();
        let child = root.derive();
        let grandchild = child.derive();
        assert!(child.is_valid() && grandchild.is_valid());
        root.revoke_children();
        assert!(root.is_valid());
        assert!(!child.is_valid());
        assert!(!grandchild.is_valid());
        let later = root.derive();
        assert!(later.is_valid());
    }

    #[test]
    fn revoking_a_middle_link_spares_its_ancestors_and_siblings() {
        let root = Link::root();
        let a = root.derive();
        let b = root.derive();
        let a1 = a.derive();
        a.revoke_children();
        assert!(a.is_valid() && b.is_valid() && root.is_valid());
        assert!(!a1.is_valid());
    }
}
