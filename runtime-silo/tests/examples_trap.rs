//! The `trap` example: each variant ends only its own silo, with the trap
//! kind it is named after, while a compute silo beside it finishes with the
//! right checksum and the manager carries on.

#[macro_use]
mod examples_support;
mod silo_support;

use compute_kernels::Kernel;
use runtime_silo::silo::{DeployRequest, ExitStatus, TrapKind};
use silo_support::{PATIENCE, manager, stdout, wait};

/// Each variant of the example and the trap it must end in. A panic ends in
/// `unreachable` (Rust's abort on wasm) after printing its message.
const VARIANTS: [(&str, TrapKind); 6] = [
    ("unreachable", TrapKind::Unreachable),
    ("panic", TrapKind::Unreachable),
    ("out-of-bounds", TrapKind::MemoryOutOfBounds),
    ("divide-by-zero", TrapKind::IntegerDivisionByZero),
    ("stack-overflow", TrapKind::StackOverflow),
    ("indirect-call-mismatch", TrapKind::IndirectCallTypeMismatch),
];

#[test]
fn each_trap_variant_ends_only_its_silo() {
    let trap = require_example!("trap");
    let compute = require_example!("compute");
    let manager = manager();

    let mut bystander = DeployRequest::new("bystander", compute.clone());
    bystander.args = vec!["all".into(), "--scale".into(), "2".into()];
    let bystander = manager.deploy(bystander).expect("deploy");

    let silos: Vec<_> = VARIANTS
        .iter()
        .map(|&(variant, _)| {
            let mut request = DeployRequest::new(variant, trap.clone());
            request.args = vec![variant.into()];
            manager.deploy(request).expect("deploy")
        })
        .collect();
    for (id, (variant, kind)) in silos.into_iter().zip(VARIANTS) {
        let status = wait(&manager, id, PATIENCE);
        let ExitStatus::Trapped(info) = &status else {
            panic!("{variant}: expected a trap, got {status}");
        };
        assert_eq!(info.kind, kind, "{variant}");
        assert!(info.backtrace.is_some(), "{variant}: no backtrace");
        // It got as far as the trap itself.
        assert_eq!(stdout(&manager, id), format!("trap: {variant}\n"));
        if variant == "panic" {
            let logs = manager.logs(id).expect("logs");
            let stderr = String::from_utf8_lossy(&logs.stderr.bytes);
            assert!(stderr.contains("deliberate panic"), "{stderr}");
        }
    }

    assert_eq!(wait(&manager, bystander, PATIENCE), ExitStatus::Exited(0));
    let expected: String = Kernel::ALL.iter().map(|k| k.line(2) + "\n").collect();
    assert_eq!(stdout(&manager, bystander), expected);

    // The manager still deploys and runs apps, from the cache.
    let mut again = DeployRequest::new("after", trap.clone());
    again.args = vec!["no-such-variant".into()];
    let again = manager.deploy(again).expect("deploy");
    assert_eq!(wait(&manager, again, PATIENCE), ExitStatus::Exited(2));
    let stats = manager.stats();
    assert_eq!(stats.live_silos, 0);
    assert_eq!(stats.memory_bytes, 0, "every silo's memory was given back");
    assert_eq!((stats.cache.compilations, stats.cache.hits), (2, 6));
}
