//! `usertest device <platform> <checker port> <weak platform> <hpet caps>`:
//! a ring-3 driver's view of device capabilities. Port I/O reads the PCI
//! host bridge's ID, MMIO maps the HPET, DMA memory is written here and
//! checked by the kernel at the physical address reported; every bad
//! argument must come back as an error.

use bedrock_abi::device::{MINT_DMA, MINT_IO_PORTS, MINT_ISA_IRQ, MINT_MMIO};
use bedrock_abi::ipc::{Message, ObjectType};
use bedrock_abi::{Errno, Rights, Syscall, prot};

use bedrock_abi::user::device;

use crate::rt::{self, Args, ipc};

type R = Result<(), &'static str>;

/// Labels of the kernel checker's protocol (words: phys, len, seed).
pub const CHECK_PATTERN: u64 = 1;
pub const CHECK_ALLOCATED: u64 = 2;
pub const CHECK_FREED: u64 = 3;
/// Words: a user address where the HPET page is mapped read-only.
pub const CHECK_MMIO_MAPPING: u64 = 4;

const PAGE: u64 = 4096;
const HPET: u64 = 0xfed0_0000;
const RW: Rights = Rights(Rights::READ.0 | Rights::WRITE.0);
const RWM: Rights = Rights(Rights::READ.0 | Rights::WRITE.0 | Rights::MAP.0);
const RM: Rights = Rights(Rights::READ.0 | Rights::MAP.0);

fn arg(args: &Args, i: usize) -> Result<u64, &'static str> {
    let s = args.get(i).ok_or("missing argument")?;
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
    .ok_or("bad argument")
}

fn object_type(h: u32) -> Result<u64, Errno> {
    ipc::info(h).map(|i| i as u64 >> 32)
}

/// The pattern word `i` of a DMA buffer (the kernel computes the same).
pub fn pattern(seed: u64, i: u64) -> u64 {
    seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn ask_kernel(port: u32, label: u64, phys: u64, len: u64, seed: u64) -> R {
    let send = Message { label, words: [phys, len, seed, 0], ..Message::default() };
    let mut reply = Message::default();
    ipc::call_port(port, &send, &mut reply).map_err(|_| "call to the kernel checker")?;
    check!(reply.label == 0, "the kernel checker disagreed");
    Ok(())
}

pub fn run(args: &Args) -> R {
    let platform = arg(args, 2)? as u32;
    let checker = arg(args, 3)? as u32;
    let weak = arg(args, 4)? as u32;
    let hpet_caps = arg(args, 5)?;
    check!(object_type(platform) == Ok(ObjectType::Platform as u64), "platform handle type");
    ports(platform, checker)?;
    mmio(platform, weak, checker, hpet_caps)?;
    dma(platform, checker)?;
    irq(platform)?;
    // Minted capabilities derive from the authority handle: revoking it
    // takes them all back.
    let pci = device::mint(platform, MINT_IO_PORTS, 0xcf8, 8, RW).map_err(|_| "mint before revoke")?;
    ipc::revoke(platform).map_err(|_| "revoke the platform handle")?;
    check!(device::port_in(pci, 0xcfc, 4) == Err(Errno::BadF), "minted cap survived revocation");
    check!(object_type(platform) == Ok(ObjectType::Platform as u64), "the authority itself stays");
    say!("device: every bad argument was refused and the kernel is fine");
    Ok(())
}

fn ports(platform: u32, other: u32) -> R {
    let pci = device::mint(platform, MINT_IO_PORTS, 0xcf8, 8, RW | Rights::DUPLICATE).map_err(|_| "mint 0xcf8..0xcff")?;
    check!(object_type(pci) == Ok(ObjectType::IoPorts as u64), "port handle type");
    // PCI configuration mechanism #1: bus 0, device 0, function 0, register 0.
    device::port_out(pci, 0xcf8, 4, 0x8000_0000).map_err(|_| "out 0xcf8")?;
    let id = device::port_in(pci, 0xcfc, 4).map_err(|_| "in 0xcfc")?;
    let (vendor, dev) = (id & 0xffff, id >> 16);
    check!((vendor, dev) == (0x8086, 0x29c0), "not the q35 host bridge");
    // Byte and word widths reach the same register.
    check!(device::port_in(pci, 0xcfc, 2) == Ok(0x8086), "16-bit in");
    check!(device::port_in(pci, 0xcfd, 1) == Ok(0x80), "8-bit in");
    say!("device ports: PCI host bridge {vendor:04x}:{dev:04x} read through ports 0xcf8..0xcff");

    check!(device::port_in(pci, 0xd00, 1) == Err(Errno::Acces), "port above the range");
    check!(device::port_in(pci, 0xcf7, 1) == Err(Errno::Acces), "port below the range");
    check!(device::port_in(pci, 0xcfd, 4) == Err(Errno::Acces), "access running past the range");
    check!(device::port_in(pci, 0x3f8, 1) == Err(Errno::Acces), "COM1 through the PCI range");
    for w in [0u8, 3, 8] {
        check!(device::port_in(pci, 0xcfc, w) == Err(Errno::Inval), "bad width");
    }
    check!(device::port_out(pci, 0xcf8, 1, 0x100) == Err(Errno::Inval), "value wider than the access");
    let ro = ipc::duplicate(pci, Rights::READ).map_err(|_| "duplicate read-only")?;
    check!(device::port_out(ro, 0xcf8, 4, 0x8000_0000) == Err(Errno::Acces), "out without WRITE");
    check!(device::port_in(ro, 0xcfc, 4) == Ok(id), "in with READ only");
    let wo = ipc::duplicate(pci, Rights::WRITE).map_err(|_| "duplicate write-only")?;
    check!(device::port_in(wo, 0xcfc, 4) == Err(Errno::Acces), "in without READ");
    check!(device::port_in(platform, 0xcfc, 4) == Err(Errno::Inval), "port in on the platform handle");
    check!(device::port_in(other, 0xcfc, 4) == Err(Errno::Inval), "port in on a port handle");
    check!(device::port_in(0xdead, 0xcfc, 4) == Err(Errno::BadF), "port in on a bad handle");
    // The kernel's own ports and impossible ranges cannot be minted.
    check!(device::mint(platform, MINT_IO_PORTS, 0x3f8, 8, RW) == Err(Errno::Busy), "COM1 minted");
    check!(device::mint(platform, MINT_IO_PORTS, 0x60, 0x20, RW) == Err(Errno::Busy), "PIT/RTC minted");
    check!(device::mint(platform, MINT_IO_PORTS, 0xf4, 1, RW) == Err(Errno::Busy), "debug exit minted");
    check!(device::mint(platform, MINT_IO_PORTS, 0xcf8, 0, RW) == Err(Errno::Inval), "empty port range");
    check!(device::mint(platform, MINT_IO_PORTS, 0xffff, 2, RW) == Err(Errno::Inval), "range past 0xffff");
    check!(device::mint(platform, MINT_IO_PORTS, u64::MAX, 2, RW) == Err(Errno::Inval), "wrapping range");
    check!(device::mint(platform, MINT_IO_PORTS, 0xcf8, 8, Rights::MAP) == Err(Errno::Inval), "MAP on ports");
    for h in [ro, wo, pci] {
        ipc::close(h).map_err(|_| "close")?;
    }
    Ok(())
}

fn read64(addr: u64) -> u64 {
    // SAFETY: `addr` is a mapped, readable MMIO page of ours; volatile
    // because device registers change under us.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

fn mmio(platform: u32, weak: u32, checker: u32, hpet_caps: u64) -> R {
    let hpet = device::mint(platform, MINT_MMIO, HPET, PAGE, RM).map_err(|_| "mint the HPET page")?;
    check!(object_type(hpet) == Ok(ObjectType::Memory as u64), "MMIO handle type");
    let a = ipc::mem_map(hpet, prot::READ).map_err(|_| "map the HPET")? as u64;
    check!(read64(a) == hpet_caps, "HPET capabilities differ from the kernel's");
    let b = ipc::mem_map(hpet, prot::READ).map_err(|_| "map the HPET twice")? as u64;
    check!(read64(b) == hpet_caps, "second mapping");
    // The kernel checks the page table entry: HPET frame, uncached, NX.
    ask_kernel(checker, CHECK_MMIO_MAPPING, b, HPET, 0)?;
    say!("device mmio: HPET capabilities {hpet_caps:#x} read through an uncached mapping");

    check!(ipc::mem_map(hpet, prot::READ | prot::WRITE) == Err(Errno::Acces), "writable map without WRITE");
    check!(ipc::mem_map(hpet, prot::READ | prot::EXEC) == Err(Errno::Acces), "executable map");
    let protect = |addr: u64, p: usize| rt::call6(Syscall::VmProtect, [addr as usize, PAGE as usize, p, 0, 0, 0]);
    check!(protect(a, prot::READ | prot::WRITE) == Err(Errno::Acces), "VmProtect escalated to write");
    check!(protect(a, prot::READ | prot::EXEC) == Err(Errno::Acces), "VmProtect escalated to execute");
    check!(protect(a, 0) == Ok(0), "VmProtect to none");
    check!(protect(a, prot::READ) == Ok(0), "VmProtect back to read");
    check!(read64(a) == hpet_caps, "read after protect");
    // Unmapping device memory frees nothing (a frame that is not RAM
    // would make the allocator panic); the other mapping still works.
    rt::vm_unmap(a as usize, PAGE as usize).map_err(|_| "unmap the HPET")?;
    check!(read64(b) == hpet_caps, "read after the other mapping went");
    ipc_refuses_device_memory(b)?;
    check!(device::phys_addr(hpet) == Err(Errno::Acces), "physical address without WRITE");
    let hpet_w = device::mint(platform, MINT_MMIO, HPET, PAGE, RWM).map_err(|_| "mint the HPET writable")?;
    check!(device::phys_addr(hpet_w) == Ok(HPET), "MMIO physical address");
    ipc::close(hpet_w).map_err(|_| "close")?;

    // A weaker authority mints only within its own rights.
    let weak_hpet = device::mint(weak, MINT_MMIO, HPET, PAGE, RM).map_err(|_| "weak mint")?;
    ipc::close(weak_hpet).map_err(|_| "close")?;
    check!(device::mint(weak, MINT_MMIO, HPET, PAGE, RWM) == Err(Errno::Acces), "weak mint with WRITE");
    check!(device::mint(weak, MINT_DMA, 0, PAGE, RWM) == Err(Errno::Acces), "weak DMA with WRITE");

    // Refused: RAM, the kernel's own devices, bad ranges and rights.
    for (base, len, want, why) in [
        (0x10_0000, PAGE, Errno::Perm, "MMIO over the kernel's RAM"),
        (0, PAGE, Errno::Perm, "MMIO over low RAM"),
        (0x20_0000, 0x10_0000, Errno::Perm, "MMIO over free RAM"),
        (0xfee0_0000, PAGE, Errno::Busy, "MMIO over the local APIC"),
        (0xfec0_0000, PAGE, Errno::Busy, "MMIO over the I/O APIC"),
        (HPET + 1, PAGE, Errno::Inval, "unaligned MMIO base"),
        (HPET, 100, Errno::Inval, "unaligned MMIO length"),
        (HPET, 0, Errno::Inval, "empty MMIO range"),
        (HPET, 1 << 40, Errno::Inval, "huge MMIO range"),
        (u64::MAX & !0xfff, 2 * PAGE, Errno::Inval, "wrapping MMIO range"),
        (1 << 60, PAGE, Errno::Inval, "MMIO beyond the physical address width"),
    ] {
        check!(device::mint(platform, MINT_MMIO, base, len, RM) == Err(want), why);
    }
    check!(device::mint(platform, MINT_MMIO, HPET, PAGE, Rights::EXECUTE | Rights::MAP) == Err(Errno::Inval), "executable MMIO minted");
    check!(device::mint(platform, MINT_MMIO, HPET, PAGE, Rights(1 << 30)) == Err(Errno::Inval), "undefined rights");
    check!(device::mint(platform, 7, HPET, PAGE, RM) == Err(Errno::Inval), "unknown kind");
    check!(device::mint(platform, 0, HPET, PAGE, RM) == Err(Errno::Inval), "kind 0");
    check!(device::mint(hpet, MINT_MMIO, HPET, PAGE, RM) == Err(Errno::Inval), "mint from a memory handle");
    check!(device::mint(0xdead, MINT_MMIO, HPET, PAGE, RM) == Err(Errno::BadF), "mint from a bad handle");
    let shm = ipc::mem_create(PAGE as usize).map_err(|_| "mem create")?;
    check!(device::phys_addr(shm) == Err(Errno::Inval), "physical address of scattered memory");
    check!(device::phys_addr(platform) == Err(Errno::Inval), "physical address of the platform");
    ipc::close(shm).map_err(|_| "close")?;
    // Exits with `b` still mapped: tearing down the space frees nothing either.
    ipc::close(hpet).map_err(|_| "close")?;
    check!(read64(b) == hpet_caps, "mapping outlives its handle");
    Ok(())
}

/// IPC never copies device memory (the kernel would touch device
/// registers): data in an MMIO mapping fails the call with `Fault` while
/// the receiver, another thread, keeps waiting; a read-only MMIO page is
/// no reply buffer either.
fn ipc_refuses_device_memory(mmio: u64) -> R {
    extern "C" fn receiver(port: usize) -> ! {
        let mut buf = [0u8; 64];
        let mut m = Message { data: buf.as_mut_ptr() as u64, data_len: 64, ..Message::default() };
        let got = ipc::receive(port as u32, &mut m, 500_000_000);
        rt::thread_exit(if got == Err(Errno::TimedOut) { 0 } else { 1 })
    }
    let port = ipc::port_create().map_err(|_| "port")?;
    let t = rt::thread_spawn(receiver, port as usize, 0).map_err(|_| "receiver thread")?;
    let send = Message { label: 1, data: mmio, data_len: 8, ..Message::default() };
    let mut r = Message::default();
    check!(ipc::call_port(port, &send, &mut r) == Err(Errno::Fault), "MMIO data was sent");
    let mut into = Message { data: mmio, data_len: 8, ..Message::default() };
    check!(ipc::call_port(port, &Message::default(), &mut into) == Err(Errno::Fault), "MMIO reply buffer accepted");
    check!(rt::thread_join(t) == Ok(0), "the receiver got a message out of device memory");
    ipc::close(port).map_err(|_| "close")?;
    say!("device ipc: messages never copy device memory");
    Ok(())
}

fn dma(platform: u32, checker: u32) -> R {
    const LEN: u64 = 3 * PAGE;
    let seed = rt::clock(bedrock_abi::ClockId::Monotonic) | 1;
    let dma = device::mint(platform, MINT_DMA, 0, LEN, RWM).map_err(|_| "mint DMA memory")?;
    let phys = device::phys_addr(dma).map_err(|_| "DMA physical address")?;
    check!(phys % PAGE == 0 && phys != 0, "DMA address not page-aligned");
    let a = ipc::mem_map(dma, prot::READ | prot::WRITE).map_err(|_| "map DMA memory")?;
    let words = (LEN / 8) as usize;
    // SAFETY: a fresh RW mapping of LEN bytes, ours alone.
    let buf = unsafe { core::slice::from_raw_parts_mut(a as *mut u64, words) };
    check!(buf.iter().all(|&w| w == 0), "DMA memory not zeroed");
    for (i, w) in buf.iter_mut().enumerate() {
        *w = pattern(seed, i as u64);
    }
    ask_kernel(checker, CHECK_PATTERN, phys, LEN, seed)?;
    say!("device dma: {LEN} bytes at physical {phys:#x}, pattern verified by the kernel there");

    // Freed when the last handle and mapping go, not before.
    ipc::close(dma).map_err(|_| "close DMA")?;
    ask_kernel(checker, CHECK_ALLOCATED, phys, LEN, seed)?;
    rt::vm_unmap(a, LEN as usize).map_err(|_| "unmap DMA")?;
    ask_kernel(checker, CHECK_FREED, phys, LEN, seed)?;

    let low = device::mint(platform, MINT_DMA, 1 << 32, PAGE, RWM).map_err(|_| "DMA below 4 GiB")?;
    let p = device::phys_addr(low).map_err(|_| "its address")?;
    check!(p + PAGE <= 1 << 32, "DMA limit ignored");
    ipc::close(low).map_err(|_| "close")?;
    for (len, why) in [(0, "empty DMA"), (100, "unaligned DMA"), ((16 << 20) + PAGE, "DMA over 16 MiB"), (u64::MAX, "huge DMA")] {
        check!(device::mint(platform, MINT_DMA, 0, len, RWM) == Err(Errno::Inval), why);
    }
    check!(device::mint(platform, MINT_DMA, 0, PAGE, RWM | Rights::EXECUTE) == Err(Errno::Inval), "executable DMA");
    check!(device::mint(platform, MINT_DMA, PAGE, PAGE, RWM) == Err(Errno::NoMem), "DMA below one page");
    say!("device dma: freed after the last handle and mapping went");
    Ok(())
}

fn irq(platform: u32) -> R {
    let w = Rights::WAIT;
    let line = device::mint(platform, MINT_ISA_IRQ, 5, 1, w).map_err(|_| "mint IRQ 5")?;
    check!(object_type(line) == Ok(ObjectType::IrqLine as u64), "IRQ handle type");
    check!(device::mint(platform, MINT_ISA_IRQ, 5, 1, w) == Err(Errno::Busy), "IRQ 5 minted twice");
    check!(device::mint(platform, MINT_ISA_IRQ, 16, 1, w) == Err(Errno::Inval), "ISA IRQ 16");
    check!(device::mint(platform, MINT_ISA_IRQ, 5, 2, w) == Err(Errno::Inval), "two IRQs at once");
    check!(device::mint(platform, MINT_ISA_IRQ, 6, 1, Rights::READ) == Err(Errno::Inval), "IRQ with READ");
    ipc::close(line).map_err(|_| "close the IRQ")?;
    let again = device::mint(platform, MINT_ISA_IRQ, 5, 1, w).map_err(|_| "IRQ 5 after close")?;
    ipc::close(again).map_err(|_| "close")?;
    Ok(())
}
