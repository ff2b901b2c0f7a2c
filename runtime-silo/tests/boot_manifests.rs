//! The boot manifests packed into Bedrock's boot archive
//! (`runtime-silo/boot/*.toml`, run by the `wasm_*` QEMU scenarios) are
//! valid, their compute checksums are those of the kernels run natively,
//! and run in hosted mode they end exactly as they say (same manager, same
//! engine: what the scenarios check on Bedrock holds here first).

#[macro_use]
mod examples_support;

use std::path::{Path, PathBuf};

use compute_kernels::Kernel;
use runtime_silo::boot::{self, Manifest, Summary};
use runtime_silo::silo::Manager;

fn boot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("boot")
}

fn manifests() -> Vec<(String, Manifest)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(boot_dir()).expect("boot dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".toml") || name == "bad-manifest.toml" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let manifest = Manifest::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        found.push((name, manifest));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(found.len() >= 5, "manifests: {found:?}");
    found
}

#[test]
fn the_bad_manifest_is_refused_naming_the_key() {
    let text = std::fs::read_to_string(boot_dir().join("bad-manifest.toml")).expect("read");
    let err = Manifest::parse(&text).expect_err("must be refused");
    assert!(err.contains("unknown field `wal_ms`"), "{err}");
}

#[test]
fn compute_expectations_are_the_native_checksums() {
    let mut checked = 0;
    for (name, manifest) in manifests() {
        for app in manifest
            .apps
            .iter()
            .filter(|a| a.wasm == Path::new("/compute.wasm"))
        {
            let mut scale = 1;
            let mut kernels = Vec::new();
            let mut args = app.args.iter();
            while let Some(arg) = args.next() {
                if arg == "--scale" {
                    scale = args.next().and_then(|n| n.parse().ok()).expect("scale");
                } else {
                    kernels.push(Kernel::from_name(arg).expect("kernel name"));
                }
            }
            let want: String = kernels
                .iter()
                .map(|k| format!("{}\n", k.line(scale)))
                .collect();
            assert_eq!(
                app.expect_stdout.as_deref(),
                Some(want.as_str()),
                "{name}: app {}",
                app.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} compute apps checked");
}

/// `/NAME` on Bedrock is a boot-archive file; here the same file is an
/// example or a file of `runtime-silo/boot/`.
fn hosted_path(wasm: &Path, examples: &Path) -> PathBuf {
    let name = wasm.strip_prefix("/").expect("absolute");
    let in_boot = boot_dir().join(name);
    if in_boot.exists() {
        return in_boot;
    }
    examples.join(name)
}

#[test]
fn every_manifest_ends_as_it_expects_in_hosted_mode() {
    let hello = require_example!("hello");
    let examples = hello.parent().expect("dir").to_path_buf();
    let scratch = examples_support::Scratch::new("boot-manifests");
    // `truncated.wasm` is made by xtask when packing the archive.
    let truncated = scratch.0.join("truncated.wasm");
    std::fs::write(&truncated, &std::fs::read(&hello).expect("hello")[..64]).expect("write");
    for (name, mut manifest) in manifests() {
        for app in &mut manifest.apps {
            app.wasm = if app.wasm == Path::new("/truncated.wasm") {
                truncated.clone()
            } else {
                hosted_path(&app.wasm, &examples)
            };
            if let Some(detail) = &mut app.expect_detail
                && detail == "no such file in the boot archive"
            {
                // Hosted, a missing file is the OS's error.
                *detail = "No such file".into();
            }
        }
        let manager = Manager::new().expect("manager");
        let mut out = Vec::new();
        let summary = boot::run(&manager, &manifest, &mut out).expect("run");
        let out = String::from_utf8_lossy(&out);
        assert_eq!(
            summary,
            Summary {
                apps: manifest.apps.len(),
                unexpected: 0
            },
            "{name}:\n{out}"
        );
        if name == "cache.toml" {
            assert!(out.contains("boot: cache compilations=1 hits=1"), "{out}");
        }
    }
}
