//! `timespec` ↔ nanoseconds, and futex timeouts (relative, or absolute on
//! the monotonic clock) as the relative nanoseconds Bedrock waits for.

use hermit_abi::timespec;

/// Nanoseconds in `t`; `None` if it is negative or out of range.
pub fn to_ns(t: &timespec) -> Option<u64> {
    let secs = u64::try_from(t.tv_sec).ok()?;
    let nanos = u64::try_from(t.tv_nsec)
        .ok()
        .filter(|&n| n < 1_000_000_000)?;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// A `timespec` for `ns` nanoseconds.
pub fn from_ns(ns: u64) -> timespec {
    timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i32,
    }
}

/// How long a futex wait may last: `u64::MAX` without a timeout, the
/// relative time, or what is left until an absolute deadline (`now` on the
/// monotonic clock; 0 once passed). `None` for an invalid timespec.
pub fn wait_ns(timeout: Option<&timespec>, relative: bool, now: u64) -> Option<u64> {
    match timeout {
        None => Some(u64::MAX),
        Some(t) => {
            let ns = to_ns(t)?;
            Some(if relative { ns } else { ns.saturating_sub(now) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let t = from_ns(3_000_000_007);
        assert_eq!((t.tv_sec, t.tv_nsec), (3, 7));
        assert_eq!(to_ns(&t), Some(3_000_000_007));
        assert_eq!(
            to_ns(&timespec {
                tv_sec: -1,
                tv_nsec: 0
            }),
            None
        );
        assert_eq!(
            to_ns(&timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000
            }),
            None
        );
        assert_eq!(
            to_ns(&timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0
            }),
            None
        );
    }

    #[test]
    fn futex_timeouts() {
        let t = from_ns(500);
        assert_eq!(wait_ns(None, true, 0), Some(u64::MAX));
        assert_eq!(wait_ns(Some(&t), true, 10_000), Some(500));
        assert_eq!(wait_ns(Some(&t), false, 200), Some(300));
        assert_eq!(wait_ns(Some(&t), false, 10_000), Some(0));
        let bad = timespec {
            tv_sec: 0,
            tv_nsec: -5,
        };
        assert_eq!(wait_ns(Some(&bad), true, 0), None);
    }
}
