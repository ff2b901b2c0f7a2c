//! What the figures were taken on: CPU, date, settings.

use std::time::{SystemTime, UNIX_EPOCH};

use runtime_silo::platform;

use super::{Options, Report};

/// Adds the `host.*` and `bench.*` description entries.
pub fn describe(report: &mut Report, options: &Options) {
    report.text("host.cpu", cpu_name().unwrap_or_else(|| "unknown".into()));
    report.number("host.cpus", platform::online_cpus().get() as f64, 0);
    report.text("bench.date", utc_now());
    report.text("bench.runtime_silo", env!("CARGO_PKG_VERSION"));
    report.text(
        "bench.profile",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    report.number("bench.runs", f64::from(options.runs.max(1)), 0);
    report.text("bench.examples", options.examples.display().to_string());
}

/// The processor's brand string from CPUID: an instruction, not an OS
/// interface, so it works the same hosted and on Bedrock.
#[cfg(target_arch = "x86_64")]
fn cpu_name() -> Option<String> {
    use std::arch::x86_64::__cpuid;
    if __cpuid(0x8000_0000).eax < 0x8000_0004 {
        return None;
    }
    let mut bytes = Vec::with_capacity(48);
    for leaf in 0x8000_0002..=0x8000_0004u32 {
        let r = __cpuid(leaf);
        for word in [r.eax, r.ebx, r.ecx, r.edx] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
    }
    let name = String::from_utf8_lossy(&bytes);
    let name = name.trim_matches(char::from(0)).trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_name() -> Option<String> {
    None
}

/// Now, as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        // 2000-02-29, a leap day of a century divisible by 400.
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_819), (2027, 1, 1));
    }
}
