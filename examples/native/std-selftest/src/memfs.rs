//! A scheme server in memory for the file tests: a tree of directories
//! and files served with the ABI crate's server library, so that std's
//! `fs` goes through the libOS, the scheme protocol and IPC for real.

use std::collections::{BTreeMap, HashMap};

use bedrock_abi::Errno;
use bedrock_abi::scheme::{KIND_DIRECTORY, KIND_FILE, open};
use bedrock_abi::user::scheme::server::{Flow, Handler, Stat};

/// A label outside the protocol that stops the server.
pub const STOP: u64 = 0x5707;

enum Node {
    File(Vec<u8>),
    Dir,
}

#[derive(Default)]
pub struct MemFs {
    nodes: BTreeMap<String, Node>,
    open: HashMap<u64, String>,
    next: u64,
}

impl MemFs {
    pub fn new() -> Self {
        let mut fs = Self::default();
        fs.nodes.insert("/".into(), Node::Dir);
        fs
    }

    fn path(&self, raw: &[u8]) -> Result<String, Errno> {
        let p = std::str::from_utf8(raw).map_err(|_| Errno::Inval)?;
        if !p.starts_with('/') {
            return Err(Errno::NoEnt);
        }
        let p = p.trim_end_matches('/');
        Ok(if p.is_empty() { "/".into() } else { p.into() })
    }

    fn parent_is_dir(&self, path: &str) -> bool {
        let parent = match path.rfind('/') {
            Some(0) => "/",
            Some(i) => &path[..i],
            None => return false,
        };
        matches!(self.nodes.get(parent), Some(Node::Dir))
    }

    fn children(&self, dir: &str) -> Vec<String> {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.nodes
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(String::from)
            .collect()
    }

    fn resource(&self, r: u64) -> Result<&String, Errno> {
        self.open.get(&r).ok_or(Errno::BadF)
    }
}

impl Handler for MemFs {
    fn open(&mut self, _client: u64, raw: &[u8], flags: u64) -> Result<u64, Errno> {
        let path = self.path(raw)?;
        let creatable = flags & open::CREATE != 0 && self.parent_is_dir(&path);
        match self.nodes.get_mut(&path) {
            Some(Node::File(data)) => {
                if flags & open::DIRECTORY != 0 {
                    return Err(Errno::Inval);
                }
                if flags & open::TRUNCATE != 0 {
                    data.clear();
                }
            }
            Some(Node::Dir) => {}
            None if creatable => {
                self.nodes.insert(path.clone(), Node::File(Vec::new()));
            }
            None => return Err(Errno::NoEnt),
        }
        self.next += 1;
        self.open.insert(self.next, path);
        Ok(self.next)
    }

    fn read(&mut self, r: u64, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let path = self.resource(r)?;
        match self.nodes.get(path) {
            Some(Node::File(data)) => {
                let start = (offset as usize).min(data.len());
                let n = buf.len().min(data.len() - start);
                buf[..n].copy_from_slice(&data[start..start + n]);
                Ok(n)
            }
            _ => Err(Errno::Inval),
        }
    }

    fn write(&mut self, r: u64, offset: u64, bytes: &[u8]) -> Result<usize, Errno> {
        let path = self.resource(r)?.clone();
        match self.nodes.get_mut(&path) {
            Some(Node::File(data)) => {
                let end = offset as usize + bytes.len();
                if data.len() < end {
                    data.resize(end, 0);
                }
                data[offset as usize..end].copy_from_slice(bytes);
                Ok(bytes.len())
            }
            _ => Err(Errno::Inval),
        }
    }

    fn stat(&mut self, r: u64) -> Result<Stat, Errno> {
        let path = self.resource(r)?;
        match self.nodes.get(path) {
            Some(Node::File(data)) => Ok(Stat {
                size: data.len() as u64,
                kind: KIND_FILE,
            }),
            Some(Node::Dir) => Ok(Stat {
                size: 0,
                kind: KIND_DIRECTORY,
            }),
            None => Err(Errno::NoEnt),
        }
    }

    fn readdir(&mut self, r: u64, index: u64, name: &mut [u8]) -> Result<usize, Errno> {
        let path = self.resource(r)?.clone();
        if !matches!(self.nodes.get(&path), Some(Node::Dir)) {
            return Err(Errno::Inval);
        }
        match self.children(&path).get(index as usize) {
            Some(child) => {
                let n = child.len().min(name.len());
                name[..n].copy_from_slice(&child.as_bytes()[..n]);
                Ok(n)
            }
            None => Ok(0),
        }
    }

    fn mkdir(&mut self, _client: u64, raw: &[u8]) -> Result<(), Errno> {
        let path = self.path(raw)?;
        if self.nodes.contains_key(&path) {
            return Err(Errno::Exist);
        }
        if !self.parent_is_dir(&path) {
            return Err(Errno::NoEnt);
        }
        self.nodes.insert(path, Node::Dir);
        Ok(())
    }

    fn unlink(&mut self, _client: u64, raw: &[u8]) -> Result<(), Errno> {
        let path = self.path(raw)?;
        match self.nodes.get(&path) {
            None => Err(Errno::NoEnt),
            Some(Node::Dir) if path == "/" => Err(Errno::Busy),
            Some(Node::Dir) if !self.children(&path).is_empty() => Err(Errno::NotEmpty),
            Some(_) => {
                self.nodes.remove(&path);
                Ok(())
            }
        }
    }

    fn close(&mut self, r: u64) {
        self.open.remove(&r);
    }

    fn other(
        &mut self,
        _badge: u64,
        label: u64,
        _words: [u64; 4],
    ) -> (Result<[u64; 4], Errno>, Flow) {
        if label == STOP {
            (Ok([self.open.len() as u64, 0, 0, 0]), Flow::Stop)
        } else {
            (Err(Errno::Inval), Flow::Continue)
        }
    }
}
