//! The local APIC (x2APIC through MSRs when the CPU has it, xAPIC through
//! MMIO otherwise) and the legacy 8259 PICs, which are masked for good.

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;

const IA32_APIC_BASE: u32 = 0x1b;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_X2APIC: u64 = 1 << 10;

/// Register offsets (xAPIC MMIO offsets; x2APIC MSR = 0x800 + offset / 16).
const REG_ID: u32 = 0x20;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_ESR: u32 = 0x280;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;
const REG_LVT_LINT0: u32 = 0x350;
const REG_LVT_LINT1: u32 = 0x360;
const REG_LVT_ERROR: u32 = 0x370;
const REG_LVT_TIMER: u32 = 0x320;
const REG_TIMER_INIT: u32 = 0x380;
const REG_TIMER_CURRENT: u32 = 0x390;
const REG_TIMER_DIVIDE: u32 = 0x3e0;
const IA32_TSC_DEADLINE: u32 = 0x6e0;
const LVT_TIMER_TSC_DEADLINE: u32 = 0b10 << 17;

/// Vector of spurious interrupts (its low 4 bits must be 1s on old CPUs).
pub const SPURIOUS_VECTOR: u8 = 0xff;
/// Vector of APIC errors.
pub const ERROR_VECTOR: u8 = 0xfe;

const LVT_MASKED: u32 = 1 << 16;
const ICR_PENDING: u32 = 1 << 12;

/// 0 = not set up, 1 = x2APIC, else the xAPIC register block's virtual address.
static MODE: AtomicU64 = AtomicU64::new(0);
const X2APIC: u64 = 1;

/// True when the CPU supports x2APIC (CPUID.1:ECX bit 21).
pub fn has_x2apic() -> bool {
    #[allow(unused_unsafe)]
    // SAFETY: CPUID leaf 1 exists on every x86_64 CPU.
    let leaf = unsafe { core::arch::x86_64::__cpuid(1) };
    leaf.ecx & (1 << 21) != 0
}

/// Chooses the access mode once, on the boot CPU: x2APIC when available,
/// else xAPIC MMIO at `mmio_virt` (the uncached mapping of the APIC page).
pub fn select_mode(mmio_virt: u64) {
    MODE.store(
        if has_x2apic() { X2APIC } else { mmio_virt },
        Ordering::Relaxed,
    );
}

pub fn is_x2apic() -> bool {
    MODE.load(Ordering::Relaxed) == X2APIC
}

fn read(reg: u32) -> u32 {
    match MODE.load(Ordering::Relaxed) {
        X2APIC => {
            // SAFETY: x2APIC registers are MSRs 0x800.. in x2APIC mode.
            unsafe { Msr::new(0x800 + reg / 16).read() as u32 }
        }
        // SAFETY: `base` maps the xAPIC register page (uncached); `reg` is
        // a register offset within it.
        base => unsafe { ((base + reg as u64) as *const u32).read_volatile() },
    }
}

fn write(reg: u32, value: u32) {
    match MODE.load(Ordering::Relaxed) {
        // SAFETY: as in `read`.
        X2APIC => unsafe { Msr::new(0x800 + reg / 16).write(value as u64) },
        // SAFETY: as in `read`.
        base => unsafe { ((base + reg as u64) as *mut u32).write_volatile(value) },
    }
}

/// Enables this CPU's local APIC in the selected mode: software enable,
/// spurious and error vectors, LINT pins masked, all priorities accepted.
pub fn init_cpu() {
    let mut base_msr = Msr::new(IA32_APIC_BASE);
    // SAFETY: IA32_APIC_BASE exists on every CPU with an APIC; we only set
    // the enable bits (x2APIC must be enabled after xAPIC, never cleared).
    unsafe {
        let mut v = base_msr.read() | APIC_BASE_ENABLE;
        if is_x2apic() {
            v |= APIC_BASE_X2APIC;
        }
        base_msr.write(v);
    }
    write(REG_TPR, 0);
    write(REG_LVT_LINT0, LVT_MASKED);
    write(REG_LVT_LINT1, LVT_MASKED);
    write(REG_LVT_ERROR, ERROR_VECTOR as u32);
    write(REG_ESR, 0);
    write(REG_SVR, 0x100 | SPURIOUS_VECTOR as u32);
    eoi();
}

/// This CPU's APIC ID.
pub fn id() -> u32 {
    if is_x2apic() {
        read(REG_ID)
    } else {
        read(REG_ID) >> 24
    }
}

pub fn eoi() {
    write(REG_EOI, 0);
}

/// Sends an inter-processor interrupt with the raw ICR low word `low` to
/// the CPU with APIC ID `dest`, and waits for the xAPIC to accept it.
fn send_icr(dest: u32, low: u32) {
    if is_x2apic() {
        // SAFETY: the x2APIC ICR is one 64-bit MSR (0x830).
        unsafe { Msr::new(0x830).write(((dest as u64) << 32) | low as u64) };
        return;
    }
    write(REG_ICR_HIGH, dest << 24);
    write(REG_ICR_LOW, low);
    for _ in 0..1_000_000 {
        if read(REG_ICR_LOW) & ICR_PENDING == 0 {
            break;
        }
        core::hint::spin_loop();
    }
}

/// INIT IPI (assert, level): resets the target into wait-for-SIPI.
pub fn send_init(dest: u32) {
    send_icr(dest, 0x0000_c500);
}

/// Startup IPI: the target starts in real mode at `page << 12`.
pub fn send_startup(dest: u32, page: u8) {
    send_icr(dest, 0x0000_4600 | page as u32);
}

/// A fixed-vector IPI.
pub fn send_ipi(dest: u32, vector: u8) {
    send_icr(dest, 0x0000_4000 | vector as u32);
}

/// Remaps the legacy PICs away from the exception vectors and masks every
/// line: all interrupts come through the APICs.
pub fn disable_legacy_pic() {
    let cmd = [Port::<u8>::new(0x20), Port::<u8>::new(0xa0)];
    let data = [Port::<u8>::new(0x21), Port::<u8>::new(0xa1)];
    let [mut c1, mut c2] = cmd;
    let [mut d1, mut d2] = data;
    // SAFETY: the standard 8259 initialisation sequence on its fixed ports:
    // ICW1 (init, ICW4 needed), ICW2 (vector base 0x20/0x28), ICW3 (cascade
    // on IRQ2), ICW4 (8086 mode), then mask all lines.
    unsafe {
        c1.write(0x11);
        c2.write(0x11);
        d1.write(0x20);
        d2.write(0x28);
        d1.write(0x04);
        d2.write(0x02);
        d1.write(0x01);
        d2.write(0x01);
        d1.write(0xff);
        d2.write(0xff);
    }
}

/// LAPIC timer ticks per second in one-shot mode (divide by 16); 0 when
/// the TSC-deadline mode is used instead.
static TIMER_HZ: AtomicU64 = AtomicU64::new(0);

/// True when the local APIC timer can fire at a TSC value (CPUID.1:ECX[24]).
pub fn has_tsc_deadline() -> bool {
    #[allow(unused_unsafe)]
    // SAFETY: CPUID leaf 1 exists on every x86_64 CPU.
    let leaf = unsafe { core::arch::x86_64::__cpuid(1) };
    leaf.ecx & (1 << 24) != 0
}

/// Chooses the timer mode on the boot CPU: TSC-deadline when available,
/// else one-shot with the LAPIC timer frequency measured against the TSC.
pub fn timer_calibrate() {
    if has_tsc_deadline() {
        return;
    }
    write(REG_LVT_TIMER, LVT_MASKED);
    write(REG_TIMER_DIVIDE, 0b0011);
    write(REG_TIMER_INIT, u32::MAX);
    super::tsc::spin_ns(10_000_000);
    let elapsed = u32::MAX - read(REG_TIMER_CURRENT);
    write(REG_TIMER_INIT, 0);
    TIMER_HZ.store((elapsed as u64 * 100).max(1), Ordering::Relaxed);
}

/// Describes the timer mode for the boot log.
pub fn timer_mode() -> &'static str {
    if TIMER_HZ.load(Ordering::Relaxed) == 0 {
        "TSC-deadline"
    } else {
        "one-shot"
    }
}

/// Programs this CPU's LAPIC timer LVT (call on every CPU after
/// [`timer_calibrate`] ran on the boot CPU).
pub fn timer_init_cpu() {
    if TIMER_HZ.load(Ordering::Relaxed) == 0 {
        write(
            REG_LVT_TIMER,
            LVT_TIMER_TSC_DEADLINE | super::interrupts::TIMER_VECTOR as u32,
        );
        // The SDM asks for a fence between the LVT write and the deadline MSR.
        core::sync::atomic::fence(Ordering::SeqCst);
    } else {
        write(REG_TIMER_DIVIDE, 0b0011);
        write(REG_LVT_TIMER, super::interrupts::TIMER_VECTOR as u32);
    }
}

/// Fires the timer interrupt at `deadline_ns` (clock of `tsc::now_ns`); a
/// deadline in the past fires at once. Replaces any earlier setting.
pub fn timer_arm(deadline_ns: u64) {
    let hz = TIMER_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        let tsc = super::tsc::ns_to_tsc(deadline_ns).max(1);
        // SAFETY: IA32_TSC_DEADLINE exists when CPUID says TSC-deadline.
        unsafe { Msr::new(IA32_TSC_DEADLINE).write(tsc) };
    } else {
        let delta = deadline_ns.saturating_sub(super::tsc::now_ns());
        let ticks = (delta as u128 * hz as u128 / 1_000_000_000).clamp(1, u32::MAX as u128);
        write(REG_TIMER_INIT, ticks as u32);
    }
}

/// Cancels a pending timer interrupt.
pub fn timer_disarm() {
    if TIMER_HZ.load(Ordering::Relaxed) == 0 {
        // SAFETY: as in `timer_arm`; zero disarms.
        unsafe { Msr::new(IA32_TSC_DEADLINE).write(0) };
    } else {
        write(REG_TIMER_INIT, 0);
    }
}
