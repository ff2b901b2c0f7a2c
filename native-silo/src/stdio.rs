//! stdout and stderr: through the `console:` scheme when the silo's
//! namespace has one, else to the kernel log (`LogWrite`, one log line per
//! line of output, tagged with the silo). Output is kept until a newline
//! (or a full buffer, or exit/abort) so that a line written in pieces —
//! std's panic message is — stays one line. stdin reads as empty.

use core::sync::atomic::{AtomicU32, Ordering};

use bedrock_abi::user::{log, scheme};

use crate::lock::Mutex;

/// Bytes kept per stream before a line is sent anyway.
const LINE_MAX: usize = 1024;

struct LineBuf {
    buf: [u8; LINE_MAX],
    len: usize,
}

static STDOUT: Mutex<LineBuf> = Mutex::new(LineBuf::new());
static STDERR: Mutex<LineBuf> = Mutex::new(LineBuf::new());

/// Where output goes: [`UNKNOWN`] until the first line, then [`LOG`] or
/// the console resource's handle.
static SINK: AtomicU32 = AtomicU32::new(UNKNOWN);
const UNKNOWN: u32 = u32::MAX;
const LOG: u32 = u32::MAX - 1;

fn sink() -> u32 {
    match SINK.load(Ordering::Acquire) {
        UNKNOWN => {
            let chosen = match scheme::lookup("console") {
                Ok(server) => {
                    let _ = bedrock_abi::user::ipc::close(server);
                    scheme::open("console:/", bedrock_abi::scheme::open::WRITE).unwrap_or(LOG)
                }
                Err(_) => LOG,
            };
            match SINK.compare_exchange(UNKNOWN, chosen, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => chosen,
                Err(other) => {
                    if chosen != LOG {
                        let _ = scheme::close_resource(chosen);
                    }
                    other
                }
            }
        }
        s => s,
    }
}

/// Sends `bytes` (whole lines, or a cut-off piece) on their way.
fn emit(bytes: &[u8]) {
    let s = sink();
    if s != LOG {
        let mut rest = bytes;
        while !rest.is_empty() {
            match scheme::write(s, 0, rest) {
                Ok(n) if n > 0 => rest = &rest[n.min(rest.len())..],
                _ => break,
            }
        }
        if rest.is_empty() {
            return;
        }
        let _ = log(rest);
        return;
    }
    for chunk in bytes.chunks(bedrock_abi::MAX_IO_CHUNK) {
        let _ = log(chunk);
    }
}

impl LineBuf {
    const fn new() -> Self {
        Self {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    fn write(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = LINE_MAX - self.len;
            let take = data.len().min(room);
            self.buf[self.len..self.len + take].copy_from_slice(&data[..take]);
            self.len += take;
            data = &data[take..];
            if let Some(last_newline) = self.buf[..self.len].iter().rposition(|&b| b == b'\n') {
                emit(&self.buf[..=last_newline]);
                self.buf.copy_within(last_newline + 1..self.len, 0);
                self.len -= last_newline + 1;
            } else if self.len == LINE_MAX {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            emit(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

/// Writes to stdout (fd 1) or stderr (fd 2).
pub fn write(fd: i32, data: &[u8]) {
    let stream = if fd == 1 { &STDOUT } else { &STDERR };
    stream.lock().write(data);
}

/// Sends whatever is buffered (at exit, abort and thread exit).
pub fn flush_all() {
    STDOUT.lock().flush();
    STDERR.lock().flush();
}
