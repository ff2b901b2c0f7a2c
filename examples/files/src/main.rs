//! `files DIR`: exercises std::fs under DIR (a directory the runtime
//! preopened, e.g. `runtime-silo run --dir /tmp/x::/data files.wasm /data`)
//! and prints each step. It leaves `DIR/files-demo/kept.txt` behind so that
//! the host can check the files really landed in its directory.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: files DIR");
        return ExitCode::from(2);
    };
    match demo(Path::new(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("files: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Adds the failing step to an I/O error.
fn step<T>(what: &str, result: io::Result<T>) -> io::Result<T> {
    result.map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}")))
}

fn demo(root: &Path) -> io::Result<()> {
    let dir = root.join("files-demo");
    step("mkdir", fs::create_dir_all(&dir))?;
    println!("mkdir {}", dir.display());

    let notes = dir.join("notes.txt");
    let text = "silos keep their files in their preopens\n";
    step("write", fs::write(&notes, text))?;
    println!("write {} ({} bytes)", notes.display(), text.len());

    let mut file = step(
        "open for append",
        fs::OpenOptions::new().append(true).open(&notes),
    )?;
    step("append", file.write_all(b"second line\n"))?;
    drop(file);
    let back = step("read", fs::read_to_string(&notes))?;
    println!(
        "read {} ({} bytes): {:?}",
        notes.display(),
        back.len(),
        back
    );

    let kept = dir.join("kept.txt");
    step("write kept", fs::write(&kept, "kept\n"))?;
    list(&dir)?;

    let renamed = dir.join("renamed.txt");
    step("rename", fs::rename(&notes, &renamed))?;
    println!("rename {} -> {}", notes.display(), renamed.display());
    let exists = notes.exists();
    println!("{} exists: {exists}", notes.display());

    step("remove", fs::remove_file(&renamed))?;
    println!("remove {}", renamed.display());

    let sub = dir.join("empty-subdir");
    step("mkdir sub", fs::create_dir(&sub))?;
    step("rmdir sub", fs::remove_dir(&sub))?;
    println!("mkdir+rmdir {}", sub.display());
    list(&dir)?;
    println!("done");
    Ok(())
}

/// Prints the entries of `dir`, sorted (read_dir's order is the host's).
fn list(dir: &Path) -> io::Result<()> {
    let mut entries = Vec::new();
    for entry in step("read_dir", fs::read_dir(dir))? {
        let entry = step("read_dir entry", entry)?;
        let meta = step("metadata", entry.metadata())?;
        let kind = if meta.is_dir() { "dir" } else { "file" };
        entries.push(format!(
            "{} ({kind}, {} bytes)",
            entry.file_name().to_string_lossy(),
            meta.len()
        ));
    }
    entries.sort();
    println!("list {}: {}", dir.display(), entries.join(", "));
    Ok(())
}
