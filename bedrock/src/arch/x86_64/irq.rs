//! Device interrupt vectors (0x40..=0xef) and their in-kernel handlers.
//! Ring-3 drivers receive IRQs as notifications through IRQ line objects
//! (`ipc::irq_line`), which attach here like any kernel handler.

use core::sync::atomic::{AtomicUsize, Ordering};

/// First and last vector handed to devices.
pub const FIRST_DEVICE_VECTOR: u8 = 0x40;
pub const LAST_DEVICE_VECTOR: u8 = 0xef;

const COUNT: usize = (LAST_DEVICE_VECTOR - FIRST_DEVICE_VECTOR) as usize + 1;
/// Handler function pointers by vector (0 = none).
static HANDLERS: [AtomicUsize; COUNT] = [const { AtomicUsize::new(0) }; COUNT];

/// Why a handler could not be attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqError {
    NotADeviceVector(u8),
    Busy(u8),
}

/// Attaches `handler` to `vector`; it runs in interrupt context (interrupts
/// off, no allocation, no blocking) before the EOI, given the vector.
pub fn attach(vector: u8, handler: fn(u8)) -> Result<(), IrqError> {
    let slot = slot(vector)?;
    slot.compare_exchange(0, handler as usize, Ordering::AcqRel, Ordering::Acquire)
        .map(|_| ())
        .map_err(|_| IrqError::Busy(vector))
}

/// Detaches whatever handles `vector`.
pub fn detach(vector: u8) -> Result<(), IrqError> {
    slot(vector)?.store(0, Ordering::Release);
    Ok(())
}

fn slot(vector: u8) -> Result<&'static AtomicUsize, IrqError> {
    if !(FIRST_DEVICE_VECTOR..=LAST_DEVICE_VECTOR).contains(&vector) {
        return Err(IrqError::NotADeviceVector(vector));
    }
    Ok(&HANDLERS[(vector - FIRST_DEVICE_VECTOR) as usize])
}

/// Runs the handler of a device vector, if any (called by the trap path).
pub fn dispatch(vector: u8) {
    let Ok(slot) = slot(vector) else { return };
    let f = slot.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: only `attach` stores into the slot, always a `fn(u8)`.
        let handler: fn(u8) = unsafe { core::mem::transmute::<usize, fn(u8)>(f) };
        handler(vector);
    }
}
