//! The `compute` example in silos: each kernel's checksum equals the same
//! kernel run natively (`compute-kernels`, compiled into this test), eight
//! silos at once each get theirs right, and a second deploy of the same
//! code is served by the code cache.

#[macro_use]
mod examples_support;
mod silo_support;

use std::path::Path;

use compute_kernels::Kernel;
use runtime_silo::silo::{DeployRequest, ExitStatus, Manager, SiloId};
use silo_support::{PATIENCE, manager, stdout, wait};

/// Deploys `compute KERNEL --scale SCALE` from `path`.
fn deploy(manager: &Manager, path: &Path, kernel: Kernel, scale: u32) -> SiloId {
    let mut request = DeployRequest::new("compute", path.to_path_buf());
    request.args = vec![kernel.name().into(), "--scale".into(), scale.to_string()];
    manager.deploy(request).expect("deploy")
}

/// What `compute KERNEL --scale SCALE` must print: the native result.
fn expected(kernel: Kernel, scale: u32) -> String {
    format!("{}\n", kernel.line(scale))
}

#[test]
fn each_kernel_prints_the_checksum_computed_natively() {
    let compute = require_example!("compute");
    let manager = manager();
    let silos: Vec<_> = Kernel::ALL
        .into_iter()
        .map(|kernel| (kernel, deploy(&manager, &compute, kernel, 1)))
        .collect();
    for (kernel, id) in silos {
        assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Exited(0));
        assert_eq!(stdout(&manager, id), expected(kernel, 1), "{kernel:?}");
    }
}

#[test]
fn eight_compute_silos_run_concurrently_with_correct_checksums() {
    let compute = require_example!("compute");
    let manager = manager();
    // Every kernel twice, at two scales, so no two silos print the same.
    let jobs: Vec<(Kernel, u32)> = (0..8u32)
        .map(|i| (Kernel::ALL[i as usize % 4], 1 + i / 4))
        .collect();
    let silos: Vec<_> = jobs
        .iter()
        .map(|&(kernel, scale)| deploy(&manager, &compute, kernel, scale))
        .collect();
    // The expected values, computed while the silos run.
    let expected: Vec<String> = jobs
        .iter()
        .map(|&(kernel, scale)| expected(kernel, scale))
        .collect();
    assert_eq!(manager.stats().known_silos, 8);
    for ((id, want), (kernel, scale)) in silos.into_iter().zip(expected).zip(jobs) {
        assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Exited(0));
        assert_eq!(stdout(&manager, id), want, "{kernel:?} at scale {scale}");
    }
    let stats = manager.stats();
    assert_eq!(stats.live_silos, 0);
    // Eight deploys of one file: compiled once, seven cache hits.
    assert_eq!((stats.cache.compilations, stats.cache.hits), (1, 7));
}

#[test]
fn a_second_deploy_of_the_same_code_hits_the_cache() {
    let compute = require_example!("compute");
    let manager = manager();
    let first = deploy(&manager, &compute, Kernel::Fib, 1);
    assert_eq!(wait(&manager, first, PATIENCE), ExitStatus::Exited(0));
    let stats = manager.stats().cache;
    assert_eq!((stats.compilations, stats.hits), (1, 0));

    let second = deploy(&manager, &compute, Kernel::Nbody, 1);
    assert_eq!(wait(&manager, second, PATIENCE), ExitStatus::Exited(0));
    assert_eq!(stdout(&manager, second), expected(Kernel::Nbody, 1));
    let stats = manager.stats().cache;
    assert_eq!((stats.compilations, stats.hits, stats.entries), (1, 1, 1));
}
