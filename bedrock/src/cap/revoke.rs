//! Revocation: every capability carries a [`Link`] into a derivation tree.
//! Deriving a capability (duplicate, transfer by copy) makes a child link
//! that remembers its parent's epoch. Revoking a capability bumps its
//! epoch, which invalidates every capability derived from it, transitively,
//! without finding them: a derived capability checks its ancestors' epochs
//! when it is used.
//!
//! Chains are bounded ([`MAX_DEPTH`]) and dropped iteratively: a silo that
//! duplicates a handle and closes the old one ten thousand times would
//! otherwise build a chain whose recursive drop overflows the kernel stack,
//! and whose every check walks ten thousand nodes with interrupts off
//! (finding H2 of the security review).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

/// Most links between a capability and its root: deriving from a link at
/// this depth fails. Real chains (init, a server, a client, a helper) are a
/// handful of links long.
pub const MAX_DEPTH: u32 = bedrock_abi::ipc::MAX_DERIVATION_DEPTH;

#[derive(Debug)]
struct Node {
    epoch: AtomicU64,
    /// Links above this one (0 for a root).
    depth: u32,
    /// (parent, the parent's epoch when this node was derived).
    parent: Option<(Arc<Node>, u64)>,
}

impl Drop for Node {
    /// Unlinks the ancestors this node held last one at a time, so that
    /// dropping a long chain never recurses.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some((parent, _)) = next {
            // Only the last holder takes the grandparent out; otherwise the
            // parent lives on and this drop ends here.
            next = match Arc::try_unwrap(parent) {
                Ok(mut node) => node.parent.take(),
                Err(_) => None,
            };
        }
    }
}

/// A capability's place in the derivation tree.
#[derive(Clone, Debug)]
pub struct Link(Arc<Node>);

impl Link {
    /// A root: the capability a kernel object was created with.
    pub fn root() -> Self {
        Link(Arc::new(Node {
            epoch: AtomicU64::new(0),
            depth: 0,
            parent: None,
        }))
    }

    /// A child of `self`, invalidated when `self` (or an ancestor) is
    /// revoked; `None` if `self` is [`MAX_DEPTH`] links from its root.
    pub fn derive(&self) -> Option<Self> {
        if self.0.depth >= MAX_DEPTH {
            return None;
        }
        let epoch = self.0.epoch.load(Ordering::Acquire);
        Some(Link(Arc::new(Node {
            epoch: AtomicU64::new(0),
            depth: self.0.depth + 1,
            parent: Some((self.0.clone(), epoch)),
        })))
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
        let child = root.derive().unwrap();
        let grandchild = child.derive().unwrap();
        assert!(child.is_valid() && grandchild.is_valid());
        root.revoke_children();
        assert!(root.is_valid());
        assert!(!child.is_valid());
        assert!(!grandchild.is_valid());
        let later = root.derive().unwrap();
        assert!(later.is_valid());
    }

    #[test]
    fn revoking_a_middle_link_spares_its_ancestors_and_siblings() {
        let root = Link::root();
        let a = root.derive().unwrap();
        let b = root.derive().unwrap();
        let a1 = a.derive().unwrap();
        a.revoke_children();
        assert!(a.is_valid() && b.is_valid() && root.is_valid());
        assert!(!a1.is_valid());
    }

    #[test]
    fn chains_stop_at_the_depth_limit() {
        let root = Link::root();
        let mut link = root.clone();
        for _ in 0..MAX_DEPTH {
            link = link.derive().expect("within the limit");
        }
        assert!(link.derive().is_none());
        assert!(link.is_valid());
        root.revoke_children();
        assert!(!link.is_valid());
        // A sibling chain from the root starts over.
        assert!(root.derive().is_some());
    }

    #[test]
    fn dropping_a_long_chain_does_not_recurse() {
        // Built by hand past the limit, as deep as no stack could recurse:
        // the drop must be iterative.
        let mut node = Arc::new(Node {
            epoch: AtomicU64::new(0),
            depth: 0,
            parent: None,
        });
        for depth in 1..1_000_000 {
            node = Arc::new(Node {
                epoch: AtomicU64::new(0),
                depth,
                parent: Some((node, 0)),
            });
        }
        drop(Link(node));
    }

    #[test]
    fn dropping_a_child_keeps_shared_ancestors() {
        let root = Link::root();
        let a = root.derive().unwrap();
        let a1 = a.derive().unwrap();
        let a2 = a.derive().unwrap();
        drop(a);
        drop(a1);
        assert!(a2.is_valid());
        root.revoke_children();
        assert!(!a2.is_valid());
    }
}
