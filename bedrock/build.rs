//! Sets `cfg(kernel)` and links the kernel binary with its linker script
//! when building for the bare-metal target. With `BEDROCK_LINT_KERNEL=1`
//! the host build also gets `cfg(kernel)` (type-check and lint only).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(kernel)");
    println!("cargo::rerun-if-changed=linker.ld");
    println!("cargo::rerun-if-env-changed=BEDROCK_LINT_KERNEL");
    let bare_metal = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none");
    if bare_metal || std::env::var("BEDROCK_LINT_KERNEL").as_deref() == Ok("1") {
        println!("cargo::rustc-cfg=kernel");
    }
    if bare_metal {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo::rustc-link-arg-bins=-T{dir}/linker.ld");
        println!("cargo::rustc-link-arg-bins=--no-pie");
        println!("cargo::rustc-link-arg-bins=-zmax-page-size=0x1000");
    }
}
