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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 26), 20_783);
    }
}
