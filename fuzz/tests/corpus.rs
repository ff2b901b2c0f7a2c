//! Runs every file of the checked-in corpus (`fuzz/corpus/<target>/`)
//! through its target, as libFuzzer would, under plain `cargo test`: a
//! regression test of every input the fuzzers found interesting (and of
//! the seeds). A missing or empty corpus directory fails too.

use std::fs;
use std::path::Path;

#[test]
fn corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut failures = Vec::new();
    for &(name, target) in bedrock_fuzz::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no corpus", dir.display());
        for file in files {
            let data = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            // Each input on its own, so one failure does not hide others.
            let outcome = std::panic::catch_unwind(|| target(&data));
            if outcome.is_err() {
                failures.push(file.display().to_string());
            }
        }
        println!("{name}: ok");
    }
    assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
}
