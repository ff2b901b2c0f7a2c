//! `compute [KERNEL|all]... [--scale N]`: runs CPU-bound kernels and prints
//! `NAME CHECKSUM` for each, in the order given (default: all of them).
//!
//! Deterministic, so tests compare the output with the same kernels run
//! natively, and benchmarks can run one kernel at a time.

use std::process::ExitCode;

use compute_kernels::Kernel;

fn usage() -> ExitCode {
    let names: Vec<&str> = Kernel::ALL.iter().map(|k| k.name()).collect();
    eprintln!(
        "usage: compute [KERNEL|all]... [--scale N]\nkernels: {}",
        names.join(", ")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut kernels = Vec::new();
    let mut scale = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--scale" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => scale = n,
                _ => return usage(),
            },
            "all" => kernels.extend(Kernel::ALL),
            name => match Kernel::from_name(name) {
                Some(kernel) => kernels.push(kernel),
                None => return usage(),
            },
        }
    }
    if kernels.is_empty() {
        kernels.extend(Kernel::ALL);
    }
    for kernel in kernels {
        println!("{}", kernel.line(scale));
    }
    ExitCode::SUCCESS
}
