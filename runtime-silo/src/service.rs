//! The silo manager as a file tree: Bedrock's `silo:` service (the
//! protocol is `bedrock_abi::silo_service`). Portable, so hosted tests drive
//! it through the same calls the IPC server makes
//! (`platform/bedrock/service.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use bedrock_abi::Errno;
use bedrock_abi::silo_service as proto;

use crate::boot::App;
use crate::serve::{describe, list_line, stats_line};
use crate::silo::{Manager, ManagerError, SiloId, SiloState};

/// Longest deploy spec accepted.
pub const MAX_SPEC: usize = 64 << 10;

/// The files of a silo's directory, in `readdir` order.
const SILO_FILES: [&str; 5] = [
    proto::STATUS,
    proto::WAIT,
    proto::STDOUT,
    proto::STDERR,
    proto::CTL,
];

/// The open resources of the service, by handle.
pub struct Service {
    manager: Arc<Manager>,
    open: HashMap<u64, Node>,
    next: u64,
}

/// What an open resource is.
enum Node {
    Root,
    SiloDir,
    /// The spec written so far; the answer once read; how much of it was.
    Deploy {
        spec: Vec<u8>,
        answer: Option<Vec<u8>>,
        consumed: usize,
    },
    /// Contents fixed at open: listings, counters, status, logs.
    Text(Vec<u8>),
    Wait(SiloId),
    Ctl(SiloId),
}

/// What `stat` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub size: u64,
    pub directory: bool,
}

impl Service {
    pub fn new(manager: Arc<Manager>) -> Self {
        Service {
            manager,
            open: HashMap::new(),
            next: 1,
        }
    }

    pub fn manager(&self) -> &Arc<Manager> {
        &self.manager
    }

    /// Opens `path` (the bytes after `silo:`); returns its handle.
    pub fn open(&mut self, path: &[u8]) -> Result<u64, Errno> {
        let path = std::str::from_utf8(path).map_err(|_| Errno::Inval)?;
        let node = self.resolve(path)?;
        let handle = self.next;
        self.next += 1;
        self.open.insert(handle, node);
        Ok(handle)
    }

    fn resolve(&self, path: &str) -> Result<Node, Errno> {
        let trimmed = path.trim_end_matches('/');
        match trimmed {
            "" => return Ok(Node::Root),
            proto::DEPLOY => {
                return Ok(Node::Deploy {
                    spec: Vec::new(),
                    answer: None,
                    consumed: 0,
                });
            }
            proto::LIST => {
                let mut text = String::new();
                for silo in self.manager.list() {
                    text.push_str(&list_line(&silo));
                    text.push('\n');
                }
                return Ok(Node::Text(text.into_bytes()));
            }
            proto::STATS => {
                return Ok(Node::Text(
                    format!("{}\n", stats_line(&self.manager)).into_bytes(),
                ));
            }
            _ => {}
        }
        let rest = trimmed.strip_prefix('/').ok_or(Errno::NoEnt)?;
        let (id, file) = match rest.split_once('/') {
            Some((id, file)) => (id, Some(file)),
            None => (rest, None),
        };
        let id: SiloId = id.parse().map_err(|_| Errno::NoEnt)?;
        let info = self.manager.info(id).map_err(errno)?;
        Ok(match file {
            None => Node::SiloDir,
            Some(proto::STATUS) => Node::Text(
                match &info.state {
                    SiloState::Finished(status) => format!("{}\n", describe(status)),
                    _ => format!("{}\n", proto::RUNNING),
                }
                .into_bytes(),
            ),
            Some(proto::WAIT) => Node::Wait(id),
            Some(file @ (proto::STDOUT | proto::STDERR)) => {
                let logs = self.manager.logs(id).map_err(errno)?;
                let stream = if file == proto::STDOUT {
                    logs.stdout
                } else {
                    logs.stderr
                };
                Node::Text(stream.bytes)
            }
            Some(proto::CTL) => Node::Ctl(id),
            Some(_) => return Err(Errno::NoEnt),
        })
    }

    fn node(&mut self, handle: u64) -> Result<&mut Node, Errno> {
        self.open.get_mut(&handle).ok_or(Errno::BadF)
    }

    /// The silo a read of `handle` waits for, if it is a `wait` file: the
    /// IPC server answers those later ([`wait_answer`]).
    pub fn waits_for(&self, handle: u64) -> Option<SiloId> {
        match self.open.get(&handle) {
            Some(Node::Wait(id)) => Some(*id),
            _ => None,
        }
    }

    /// Reads at `offset` into `buf` (a `wait` file blocks until its silo
    /// ends; the `deploy` stream ignores offsets).
    pub fn read(&mut self, handle: u64, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let manager = self.manager.clone();
        match self.node(handle)? {
            Node::Root | Node::SiloDir => Err(Errno::Inval),
            Node::Text(text) => Ok(copy_at(text, offset, buf)),
            Node::Wait(id) => {
                let answer = wait_answer(&manager, *id);
                Ok(copy_at(&answer, offset, buf))
            }
            Node::Ctl(_) => Ok(0),
            Node::Deploy {
                spec,
                answer,
                consumed,
            } => {
                let answer = answer.get_or_insert_with(|| deploy(&manager, spec));
                let n = copy_at(answer, *consumed as u64, buf);
                *consumed += n;
                Ok(n)
            }
        }
    }

    /// Writes `data`: a deploy spec (appended) or a `ctl` command.
    pub fn write(&mut self, handle: u64, data: &[u8]) -> Result<usize, Errno> {
        let manager = self.manager.clone();
        match self.node(handle)? {
            Node::Deploy {
                spec, answer: None, ..
            } => {
                if spec.len() + data.len() > MAX_SPEC {
                    return Err(Errno::TooBig);
                }
                spec.extend_from_slice(data);
                Ok(data.len())
            }
            // Deployed already: a new spec needs a new open.
            Node::Deploy { .. } => Err(Errno::Inval),
            Node::Ctl(id) => {
                let command = std::str::from_utf8(data).map_err(|_| Errno::Inval)?;
                match command.trim() {
                    proto::KILL => manager.kill(*id).map_err(errno)?,
                    proto::REMOVE => {
                        manager.remove(*id).map_err(errno)?;
                    }
                    _ => return Err(Errno::Inval),
                }
                Ok(data.len())
            }
            _ => Err(Errno::Acces),
        }
    }

    pub fn stat(&mut self, handle: u64) -> Result<Entry, Errno> {
        Ok(match self.node(handle)? {
            Node::Root | Node::SiloDir => Entry {
                size: 0,
                directory: true,
            },
            Node::Text(text) => Entry {
                size: text.len() as u64,
                directory: false,
            },
            Node::Deploy { .. } | Node::Wait(_) | Node::Ctl(_) => Entry {
                size: 0,
                directory: false,
            },
        })
    }

    /// Writes the name of entry `index` of a directory into `name`; 0 past
    /// the end.
    pub fn readdir(&mut self, handle: u64, index: u64, name: &mut [u8]) -> Result<usize, Errno> {
        let entry = match self.node(handle)? {
            Node::Root => {
                let silos = self.manager.list();
                usize::try_from(index)
                    .ok()
                    .and_then(|i| silos.get(i))
                    .map(|s| s.id.to_string())
            }
            Node::SiloDir => usize::try_from(index)
                .ok()
                .and_then(|i| SILO_FILES.get(i))
                .map(|s| (*s).to_owned()),
            _ => return Err(Errno::Inval),
        };
        Ok(entry.map_or(0, |e| copy_at(e.as_bytes(), 0, name)))
    }

    pub fn close(&mut self, handle: u64) {
        self.open.remove(&handle);
    }
}

/// Deploys `spec`; the `/deploy` answer.
fn deploy(manager: &Manager, spec: &[u8]) -> Vec<u8> {
    let result = std::str::from_utf8(spec)
        .map_err(|_| "the spec is not UTF-8".to_owned())
        .and_then(App::parse_spec)
        .and_then(|app| manager.deploy(app.request()).map_err(|e| e.to_string()));
    match result {
        Ok(id) => format!("ok {id}\n"),
        Err(e) => format!("err {}\n", e.replace('\n', " ")),
    }
    .into_bytes()
}

/// The contents of `/ID/wait`: blocks until silo `id` ends.
pub fn wait_answer(manager: &Manager, id: SiloId) -> Vec<u8> {
    match manager.wait(id) {
        Ok(status) => format!("{}\n", describe(&status)),
        Err(e) => format!("err {e}\n"),
    }
    .into_bytes()
}

/// Copies what `data` has from `offset` into `buf`.
pub fn copy_at(data: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let start = usize::try_from(offset).map_or(data.len(), |o| o.min(data.len()));
    let n = (data.len() - start).min(buf.len());
    buf[..n].copy_from_slice(&data[start..start + n]);
    n
}

fn errno(e: ManagerError) -> Errno {
    match e {
        ManagerError::UnknownSilo(_) => Errno::NoEnt,
        ManagerError::StillRunning(_) => Errno::Busy,
        ManagerError::Spawn(_) => Errno::Again,
        ManagerError::Setup(_) => Errno::Io,
    }
}
