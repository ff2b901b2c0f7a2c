//! Filesystem probes, each under a directory the runtime preopened.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::Check;

/// Wraps an I/O error with what was being done.
fn ctx<T>(what: &str, result: io::Result<T>) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e}"))
}

/// Builds a small tree, lists it recursively (sorted, with types and file
/// sizes), then removes it with `remove_dir_all`.
pub fn read_dir(root: &str) -> Check {
    let top = Path::new(root).join("tree");
    ctx("mkdir", fs::create_dir_all(top.join("sub/deeper")))?;
    // Enough entries that fd_readdir needs more than one buffer refill.
    for i in 0..40 {
        ctx(
            "write",
            fs::write(top.join(format!("file-{i:02}.txt")), "x".repeat(i)),
        )?;
    }
    ctx("write", fs::write(top.join("sub/inner.txt"), "inner"))?;
    ctx("write", fs::write(top.join("sub/deeper/leaf"), "leaf!!"))?;
    let mut lines = Vec::new();
    walk(&top, "", &mut lines)?;
    lines.sort();
    println!("entries: {}", lines.len());
    for line in &lines {
        println!("{line}");
    }
    ctx("remove_dir_all", fs::remove_dir_all(&top))?;
    println!("removed: {}", !top.exists());
    Ok(())
}

fn walk(dir: &Path, prefix: &str, lines: &mut Vec<String>) -> Check {
    for entry in ctx("read_dir", fs::read_dir(dir))? {
        let entry = ctx("entry", entry)?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let kind = ctx("file_type", entry.file_type())?;
        if kind.is_dir() {
            lines.push(format!("{name}/"));
            walk(&entry.path(), &format!("{name}/"), lines)?;
        } else {
            let len = ctx("metadata", entry.metadata())?.len();
            lines.push(format!("{name} {len}"));
        }
    }
    Ok(())
}

/// Sizes, truncation, seeking, positioned reads and timestamps of a file.
pub fn metadata(root: &str) -> Check {
    let path = Path::new(root).join("meta.bin");
    let mut file = ctx(
        "create",
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path),
    )?;
    ctx("write", file.write_all(b"0123456789"))?;
    println!(
        "len after write: {}",
        ctx("metadata", file.metadata())?.len()
    );
    ctx("set_len", file.set_len(4))?;
    println!(
        "len after shrink: {}",
        ctx("metadata", fs::metadata(&path))?.len()
    );
    ctx("set_len", file.set_len(8))?;
    ctx("seek", file.seek(SeekFrom::Start(2)))?;
    let mut buf = Vec::new();
    ctx("read", file.read_to_end(&mut buf))?;
    println!("from offset 2: {buf:?}");
    let end = ctx("seek", file.seek(SeekFrom::End(-1)))?;
    println!("end - 1: {end}");
    ctx("sync", file.sync_all())?;
    let meta = ctx("metadata", file.metadata())?;
    println!("is_file: {}, is_dir: {}", meta.is_file(), meta.is_dir());
    let modified = ctx("modified", meta.modified())?;
    let age = modified.elapsed().unwrap_or_default();
    println!("modified recently: {}", age.as_secs() < 3600);
    let dir_meta = ctx("dir metadata", fs::metadata(root))?;
    println!("root is_dir: {}", dir_meta.is_dir());
    drop(file);
    ctx("remove", fs::remove_file(&path))?;
    Ok(())
}

/// The `io::ErrorKind` std reports for WASI errnos, and sandbox escapes.
pub fn errors(root: &str) -> Check {
    let root = Path::new(root);
    let dir = root.join("errors");
    ctx("mkdir", fs::create_dir_all(dir.join("full")))?;
    ctx("write", fs::write(dir.join("full/file"), "x"))?;
    let report = |what: &str, result: io::Result<()>| match result {
        Ok(()) => println!("{what}: ok"),
        Err(e) => println!("{what}: {:?} ({})", e.kind(), errno(&e)),
    };
    report("open missing", File::open(dir.join("missing")).map(drop));
    report("mkdir existing", fs::create_dir(dir.join("full")));
    report("rmdir non-empty", fs::remove_dir(dir.join("full")));
    report("unlink directory", fs::remove_file(dir.join("full")));
    report("rmdir file", fs::remove_dir(dir.join("full/file")));
    report(
        "open file as dir",
        fs::read_dir(dir.join("full/file")).map(drop),
    );
    report(
        "create in missing dir",
        fs::write(dir.join("nope/file"), "x"),
    );
    report(
        "create_new existing",
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join("full/file"))
            .map(drop),
    );
    // Escapes: `..` out of the preopen, and a host path outside every
    // preopen. Both must fail without touching the host.
    report(
        "escape with ..",
        File::open(root.join("../etc/passwd")).map(drop),
    );
    report("absolute outside", File::open("/etc/passwd").map(drop));
    ctx("cleanup", fs::remove_dir_all(&dir))?;
    Ok(())
}

/// The WASI errno of an error, or `-` if std made it up itself.
fn errno(error: &io::Error) -> String {
    error
        .raw_os_error()
        .map_or_else(|| "-".to_owned(), |n| n.to_string())
}
