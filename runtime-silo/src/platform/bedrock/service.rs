//! The `silo:` scheme over Bedrock IPC: the service's file tree
//! ([`crate::service`]) behind the scheme server of `bedrock_abi`. A read of
//! a `wait` file is answered by a thread of its own once the silo ends, so
//! a waiting client holds up no other.

use std::io;

use bedrock_abi::Errno;
use bedrock_abi::scheme::{KIND_DIRECTORY, KIND_FILE};
use bedrock_abi::silo_service::SCHEME;
use bedrock_abi::user::scheme::server::{self, Deferred, Handler, Stat};
use bedrock_abi::user::{ipc, scheme};

use super::io_error;
use crate::service::{Service, copy_at, wait_answer};

/// Stack of a thread answering one `wait` read.
const WAITER_STACK: usize = 256 << 10;

pub(in crate::platform) fn serve_silo_service(service: Service) -> io::Result<()> {
    let port = ipc::port_create().map_err(io_error)?;
    scheme::register(SCHEME, port).map_err(io_error)?;
    server::serve(port, &mut Glue(service)).map_err(io_error)
}

struct Glue(Service);

impl Handler for Glue {
    fn open(&mut self, _client: u64, path: &[u8], _flags: u64) -> Result<u64, Errno> {
        self.0.open(path)
    }

    fn read(&mut self, resource: u64, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.0.read(resource, offset, buf)
    }

    fn stat(&mut self, resource: u64) -> Result<Stat, Errno> {
        self.0.stat(resource).map(|e| Stat {
            size: e.size,
            kind: if e.directory {
                KIND_DIRECTORY
            } else {
                KIND_FILE
            },
        })
    }

    fn write(&mut self, resource: u64, _offset: u64, data: &[u8]) -> Result<usize, Errno> {
        self.0.write(resource, data)
    }

    fn readdir(&mut self, resource: u64, index: u64, name: &mut [u8]) -> Result<usize, Errno> {
        self.0.readdir(resource, index, name)
    }

    fn close(&mut self, resource: u64) {
        self.0.close(resource);
    }

    fn reads_later(&mut self, resource: u64) -> bool {
        self.0.waits_for(resource).is_some()
    }

    fn read_later(&mut self, resource: u64, offset: u64, len: usize, reply: Deferred) {
        let Some(id) = self.0.waits_for(resource) else {
            return reply.fail(Errno::BadF);
        };
        let manager = self.0.manager().clone();
        let spawned = std::thread::Builder::new()
            .name(format!("silo-wait-{id}"))
            .stack_size(WAITER_STACK)
            .spawn(move || {
                let answer = wait_answer(&manager, id);
                let mut buf = vec![0; len];
                let n = copy_at(&answer, offset, &mut buf);
                reply.reply(&buf[..n]);
            });
        // Without a thread the reply capability went down with the closure:
        // the client's read fails (ConnReset) instead of waiting forever.
        if let Err(e) = spawned {
            eprintln!("silo: no thread to answer a wait on silo {id}: {e}");
        }
    }
}
