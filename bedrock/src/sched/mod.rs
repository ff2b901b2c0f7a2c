//! Scheduling: per-CPU run queues with priorities and time slices, work
//! stealing, affinity, sleeping and wait queues. The policy ([`queue`],
//! [`policy`], [`cpuset`], [`outcome`]) is portable and host-tested; the kernel part
//! ([`scheduler`], [`thread`], [`wait`]) drives it from timer interrupts
//! and IPIs.

pub mod cpuset;
pub mod outcome;
pub mod policy;
pub mod queue;

#[cfg(kernel)]
mod scheduler;
#[cfg(kernel)]
pub mod thread;
#[cfg(kernel)]
pub mod wait;

#[cfg(kernel)]
pub use scheduler::{
    block, cpu_time_ns, create, current, current_cpu_time_ns, exit_current, idle_loop,
    idle_time_ns, init_cpu, interrupt, join, log_state, on_timer_interrupt, preempt_point,
    prepare_block, schedule, sleep_ns, sleep_until, spawn, spawn_with, start, wake, yield_now,
};
