//! Wall-clock time: the CMOS real-time clock read once at boot, advanced
//! by the monotonic TSC clock.

#[cfg(kernel)]
use core::sync::atomic::{AtomicU64, Ordering};

#[cfg(kernel)]
use crate::arch::x86_64::{rtc, tsc};

/// Unix time in ns at `tsc::now_ns() == 0`.
#[cfg(kernel)]
static BOOT_EPOCH_NS: AtomicU64 = AtomicU64::new(0);

/// Reads the RTC and anchors the wall clock. Call once at boot.
#[cfg(kernel)]
pub fn init() {
    if let Some(secs) = rtc::read_unix_seconds() {
        let now = tsc::now_ns();
        BOOT_EPOCH_NS.store(
            (secs * 1_000_000_000).saturating_sub(now),
            Ordering::Relaxed,
        );
    }
}

/// Nanoseconds since 1970-01-01 UTC (0-based if the RTC was unreadable).
#[cfg(kernel)]
pub fn realtime_ns() -> u64 {
    BOOT_EPOCH_NS.load(Ordering::Relaxed) + tsc::now_ns()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (valid for 1970..).
pub const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Ticks of a `hz` clock in `ns` nanoseconds, saturating: a "never"
/// deadline (`u64::MAX`) must stay the latest tick, not wrap to a random
/// one (finding M4 of the security review: a truncated TSC deadline armed
/// for a sleeper that never wakes gave interrupt storms or stray wake-ups).
pub const fn ns_to_ticks(ns: u64, hz: u64) -> u64 {
    let ticks = ns as u128 * hz as u128 / 1_000_000_000;
    if ticks > u64::MAX as u128 {
        u64::MAX
    } else {
        ticks as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_to_ticks_saturates() {
        use super::ns_to_ticks;
        assert_eq!(ns_to_ticks(1_000_000_000, 3_000_000_000), 3_000_000_000);
        assert_eq!(ns_to_ticks(1, 1_000_000_000), 1);
        assert_eq!(ns_to_ticks(u64::MAX, 3_000_000_000), u64::MAX);
        assert_eq!(ns_to_ticks(u64::MAX / 2, 4_000_000_000), u64::MAX);
        assert_eq!(ns_to_ticks(u64::MAX, 1_000_000_000), u64::MAX);
        assert_eq!(
            ns_to_ticks(u64::MAX, 999_999_999),
            18_446_744_055_262_807_541
        );
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 26), 20_783);
    }
}
