//! The CMOS real-time clock (read once at boot for wall-clock time).

use x86_64::instructions::port::Port;

fn read_reg(reg: u8) -> u8 {
    let mut index = Port::<u8>::new(0x70);
    let mut data = Port::<u8>::new(0x71);
    // SAFETY: CMOS index/data ports; bit 7 of the index keeps NMIs enabled
    // state unchanged on QEMU and is left clear.
    unsafe {
        index.write(reg);
        data.read()
    }
}

fn write_reg(reg: u8, value: u8) {
    let mut index = Port::<u8>::new(0x70);
    let mut data = Port::<u8>::new(0x71);
    // SAFETY: CMOS index/data ports; only the RTC control registers are
    // written, by callers that own the RTC interrupt.
    unsafe {
        index.write(reg);
        data.write(value);
    }
}

/// ISA IRQ line of the RTC.
pub const IRQ: u8 = 8;

/// Starts the RTC's periodic interrupt at 32768 >> (rate - 1) Hz
/// (`rate` 3..=15), or stops it with `None`.
pub fn set_periodic(rate: Option<u8>) {
    let b = read_reg(0x0b);
    match rate {
        Some(r) => {
            let a = read_reg(0x0a);
            write_reg(0x0a, (a & 0xf0) | (r.clamp(3, 15) & 0x0f));
            write_reg(0x0b, b | 0x40);
        }
        None => write_reg(0x0b, b & !0x40),
    }
    ack();
}

/// Acknowledges an RTC interrupt (reading register C re-arms it).
pub fn ack() {
    let _ = read_reg(0x0c);
}

fn update_in_progress() -> bool {
    read_reg(0x0a) & 0x80 != 0
}

/// Seconds since 1970 according to the RTC, or None if it reads nonsense.
pub fn read_unix_seconds() -> Option<u64> {
    for _ in 0..1_000_000 {
        if !update_in_progress() {
            break;
        }
    }
    let regs = [0x00, 0x02, 0x04, 0x07, 0x08, 0x09].map(read_reg);
    let status_b = read_reg(0x0b);
    let bcd = status_b & 0x04 == 0;
    let conv = |v: u8| if bcd { (v & 0x0f) + (v >> 4) * 10 } else { v };
    let [sec, min, hour_raw, day, month, year] = regs;
    let pm = hour_raw & 0x80 != 0;
    let mut hour = conv(hour_raw & 0x7f);
    if status_b & 0x02 == 0 && pm {
        hour = (hour % 12) + 12;
    }
    let (sec, min, day, month, year) = (conv(sec), conv(min), conv(day), conv(month), conv(year));
    if sec > 59 || min > 59 || hour > 23 || !(1..=31).contains(&day) || !(1..=12).contains(&month) {
        return None;
    }
    let days = crate::time::days_from_civil(2000 + year as i64, month as u32, day as u32);
    Some(days as u64 * 86_400 + hour as u64 * 3600 + min as u64 * 60 + sec as u64)
}
