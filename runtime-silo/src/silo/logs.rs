//! Captured output: a bounded ring per stream, so a chatty or hostile silo
//! costs at most its ring's capacity, whatever it writes.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Default capacity of each stream's ring.
pub const DEFAULT_LOG_CAPACITY: usize = 64 << 10;

/// The newest `capacity` bytes written to a stream, plus how many older
/// bytes were dropped to make room.
#[derive(Debug)]
struct Ring {
    bytes: VecDeque<u8>,
    capacity: usize,
    dropped: u64,
}

impl Ring {
    fn push(&mut self, data: &[u8]) {
        let keep = data.len().min(self.capacity);
        let skipped = data.len() - keep;
        let overflow = (self.bytes.len() + keep).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(&data[skipped..]);
        self.dropped = self
            .dropped
            .saturating_add(u64::try_from(skipped + overflow).unwrap_or(u64::MAX));
    }
}

/// One captured stream, shared by the silo (writer) and the manager (reader).
#[derive(Debug, Clone)]
pub struct LogBuffer(Arc<Mutex<Ring>>);

impl LogBuffer {
    /// An empty ring holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self(Arc::new(Mutex::new(Ring {
            bytes: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            dropped: 0,
        })))
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        // Pushing bytes cannot panic half-way, so a poisoned ring is intact.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of what the ring holds now.
    pub fn snapshot(&self) -> StreamLog {
        let ring = self.ring();
        StreamLog {
            bytes: ring.bytes.iter().copied().collect(),
            dropped: ring.dropped,
        }
    }

    /// A writer appending to this ring (what the silo's stdout/stderr become).
    pub fn writer(&self) -> LogWriter {
        LogWriter(self.clone())
    }
}

/// Appends to a [`LogBuffer`]; never fails, never blocks on the reader for
/// longer than a copy.
#[derive(Debug)]
pub struct LogWriter(LogBuffer);

impl io::Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.ring().push(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The captured part of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamLog {
    /// The newest bytes, oldest first.
    pub bytes: Vec<u8>,
    /// Bytes written before those and dropped for lack of room.
    pub dropped: u64,
}

/// Captured stdout and stderr of a silo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logs {
    /// Standard output.
    pub stdout: StreamLog,
    /// Standard error.
    pub stderr: StreamLog,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn keeps_everything_below_capacity() {
        let log = LogBuffer::new(16);
        let mut w = log.writer();
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        assert_eq!(
            log.snapshot(),
            StreamLog {
                bytes: b"hello world".to_vec(),
                dropped: 0
            }
        );
    }

    #[test]
    fn drops_oldest_bytes_when_full() {
        let log = LogBuffer::new(8);
        let mut w = log.writer();
        w.write_all(b"0123456").unwrap();
        w.write_all(b"789").unwrap();
        assert_eq!(
            log.snapshot(),
            StreamLog {
                bytes: b"23456789".to_vec(),
                dropped: 2
            }
        );
    }

    #[test]
    fn a_write_larger_than_the_ring_keeps_its_tail() {
        let log = LogBuffer::new(4);
        let mut w = log.writer();
        w.write_all(b"ab").unwrap();
        w.write_all(b"0123456789").unwrap();
        assert_eq!(
            log.snapshot(),
            StreamLog {
                bytes: b"6789".to_vec(),
                dropped: 8
            }
        );
    }
}
