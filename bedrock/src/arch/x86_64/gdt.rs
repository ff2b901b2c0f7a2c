//! Global descriptor table and task state segment, one pair per CPU.
//!
//! Segment order matches what SYSCALL/SYSRET will require for ring 3:
//! kernel code, kernel data, user data, user code. The TSS supplies the
//! interrupt stacks (IST) for faults that must not run on a possibly broken
//! stack: double fault, NMI and machine check.

use alloc::boxed::Box;
use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

use crate::mm::kernel_space::alloc_kernel_stack;

/// IST slots (the TSS's IST1..IST3 are indices 0..2 here).
pub const IST_DOUBLE_FAULT: u16 = 0;
pub const IST_NMI: u16 = 1;
pub const IST_MACHINE_CHECK: u16 = 2;
const IST_SLOTS: [u16; 3] = [IST_DOUBLE_FAULT, IST_NMI, IST_MACHINE_CHECK];

const IST_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct IstStack([u8; IST_STACK_SIZE]);

/// The boot CPU's IST stacks: it sets up its tables before the heap and the
/// kernel stack area exist.
static mut BSP_IST_STACKS: [IstStack; 3] = [const { IstStack([0; IST_STACK_SIZE]) }; 3];

#[derive(Debug)]
pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

static mut BSP_TSS: TaskStateSegment = TaskStateSegment::new();
static BSP_TSS_INIT: Once<()> = Once::new();
static BSP_GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

fn build_gdt(tss: &'static TaskStateSegment) -> (GlobalDescriptorTable, Selectors) {
    let mut gdt = GlobalDescriptorTable::new();
    let kernel_code = gdt.append(Descriptor::kernel_code_segment());
    let kernel_data = gdt.append(Descriptor::kernel_data_segment());
    let user_data = gdt.append(Descriptor::user_data_segment());
    let user_code = gdt.append(Descriptor::user_code_segment());
    let tss = gdt.append(Descriptor::tss_segment(tss));
    (
        gdt,
        Selectors {
            kernel_code,
            kernel_data,
            user_data,
            user_code,
            tss,
        },
    )
}

fn load(gdt: &'static GlobalDescriptorTable, sel: &Selectors) {
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, with matching types.
    unsafe {
        CS::set_reg(sel.kernel_code);
        DS::set_reg(sel.kernel_data);
        ES::set_reg(sel.kernel_data);
        SS::set_reg(sel.kernel_data);
        load_tss(sel.tss);
    }
}

/// Loads the boot CPU's GDT and TSS.
pub fn init_bsp() {
    let tss = &raw mut BSP_TSS;
    BSP_TSS_INIT.call_once(|| {
        let stacks = &raw const BSP_IST_STACKS as u64;
        for (n, slot) in IST_SLOTS.into_iter().enumerate() {
            let top = stacks + ((n + 1) * IST_STACK_SIZE) as u64;
            // SAFETY: runs once, on the boot CPU, before the TSS is loaded.
            unsafe { (*tss).interrupt_stack_table[slot as usize] = VirtAddr::new(top) };
        }
    });
    // SAFETY: after setup the TSS is only changed by this CPU (RSP0 on
    // context switches, through `percpu`), which the CPU reads on entry.
    let (gdt, sel) = BSP_GDT.call_once(|| build_gdt(unsafe { &*tss }));
    load(gdt, sel);
    super::percpu::set_tss(tss);
}

/// The selectors every CPU uses (same layout on all CPUs).
pub fn selectors() -> &'static Selectors {
    &BSP_GDT.get().expect("GDT not set up").1
}

/// Builds and loads a GDT and TSS for an application processor, with IST
/// stacks that have guard pages. They live as long as the CPU: forever.
pub fn init_ap() -> Result<(), crate::mm::paging::MapError> {
    let mut tss = TaskStateSegment::new();
    for slot in IST_SLOTS {
        let top = alloc_kernel_stack(IST_STACK_SIZE as u64)?;
        tss.interrupt_stack_table[slot as usize] = VirtAddr::new(top);
    }
    let tss: *mut TaskStateSegment = Box::into_raw(Box::new(tss));
    // SAFETY: leaked, so it lives forever; see `init_bsp` for mutation.
    let (gdt, sel) = build_gdt(unsafe { &*tss });
    let gdt: &'static GlobalDescriptorTable = Box::leak(Box::new(gdt));
    load(gdt, &sel);
    super::percpu::set_tss(tss);
    Ok(())
}
