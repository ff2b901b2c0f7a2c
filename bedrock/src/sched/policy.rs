//! Scheduling decisions that do not depend on the hardware: time slices,
//! preemption, where to place a woken thread, whom to steal from.

use super::cpuset::CpuSet;

/// Time slice of a thread before another of the same priority gets the CPU.
pub const TIME_SLICE_NS: u64 = 4_000_000;

/// Should the running thread (priority `current`, running for `ran_ns`)
/// give way to the best waiting thread (priority `waiting`)?
pub fn should_preempt(current: u8, ran_ns: u64, waiting: Option<u8>) -> bool {
    match waiting {
        None => false,
        Some(w) if w < current => true,
        Some(w) => w == current && ran_ns >= TIME_SLICE_NS,
    }
}

/// Picks the CPU for a thread that becomes runnable: its last CPU if
/// allowed and no busier than the least loaded allowed CPU (cache
/// warmth), else the least loaded allowed CPU. Never queueing behind a
/// running thread while another CPU idles keeps wake-up latency at an IPI
/// instead of a time slice.
/// `loads[i]` = runnable threads on CPU i (running one included).
pub fn place(affinity: CpuSet, last: Option<usize>, loads: &[usize]) -> Option<usize> {
    let allowed = affinity.within(loads.len());
    let least = (0..loads.len())
        .filter(|&c| allowed.contains(c))
        .min_by_key(|&c| (loads[c], c))?;
    match last {
        Some(l) if allowed.contains(l) && loads[l] <= loads[least] => Some(l),
        _ => Some(least),
    }
}

/// Picks the CPU an idle CPU `thief` should steal from: the busiest other
/// CPU that has at least one thread waiting besides the one it runs.
pub fn steal_victim(thief: usize, queued: &[usize]) -> Option<usize> {
    (0..queued.len())
        .filter(|&c| c != thief && queued[c] > 0)
        .max_by_key(|&c| (queued[c], core::cmp::Reverse(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preemption() {
        assert!(!should_preempt(16, 0, None));
        assert!(should_preempt(16, 0, Some(3)));
        assert!(!should_preempt(16, TIME_SLICE_NS - 1, Some(16)));
        assert!(should_preempt(16, TIME_SLICE_NS, Some(16)));
        assert!(!should_preempt(3, TIME_SLICE_NS * 10, Some(16)));
    }

    #[test]
    fn placement() {
        assert_eq!(place(CpuSet::ALL, Some(1), &[1, 1, 2, 1]), Some(1));
        assert_eq!(place(CpuSet::ALL, Some(1), &[0, 1, 0, 0]), Some(0));
        assert_eq!(place(CpuSet::ALL, Some(1), &[0, 3, 0, 0]), Some(0));
        assert_eq!(
            place(CpuSet::from_bits(0b1100), Some(0), &[0, 0, 5, 2]),
            Some(3)
        );
        assert_eq!(place(CpuSet::from_bits(0b10000), None, &[0, 0]), None);
    }

    #[test]
    fn stealing() {
        assert_eq!(steal_victim(0, &[0, 2, 5, 5]), Some(2));
        assert_eq!(steal_victim(2, &[0, 0, 4, 0]), None);
        assert_eq!(steal_victim(0, &[]), None);
    }
}
