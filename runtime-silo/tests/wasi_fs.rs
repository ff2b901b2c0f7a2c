//! WASI preview1 conformance: files and directories over a host preopen
//! (`/sandbox` is descriptor 3 unless a test says otherwise).

#[path = "wasi_data/harness.rs"]
mod harness;

use std::os::unix::fs::MetadataExt;

use harness::{Outcome, Setup, TempDir, run};

/// Runs `body` as `_start` (with locals `$fd`, `$fd2`, `$i`) with `dir`
/// preopened as `/sandbox`.
fn run_in(dir: &TempDir, body: &str) -> Outcome {
    run(
        Setup::dir("/sandbox", dir.path()),
        &format!(
            "(func (export \"_start\") (local $fd i32) (local $fd2 i32) (local $i i32)\n{body}\n)"
        ),
    )
}

#[test]
fn prestat_and_preopen_fdstat() {
    let a = TempDir::new("prestat-a");
    let b = TempDir::new("prestat-b");
    let setup = Setup {
        preopens: vec![
            ("/sandbox".into(), a.path().into()),
            (".".into(), b.path().into()),
        ],
        ..Setup::default()
    };
    run(
        setup,
        r#"(func (export "_start")
            (call $ok (call $fd_prestat_get (i32.const 3) (i32.const 256)))
            (call $expect (i32.load8_u (i32.const 256)) (i32.const 0))
            (call $expect (i32.load (i32.const 260)) (i32.const 8))
            (call $expect (call $fd_prestat_dir_name (i32.const 3) (i32.const 1024) (i32.const 7)) (i32.const 37))
            (call $ok (call $fd_prestat_dir_name (i32.const 3) (i32.const 1024) (i32.const 100)))
            (call $print (i32.const 1024) (i32.const 8))
            (call $ok (call $fd_prestat_get (i32.const 4) (i32.const 256)))
            (call $expect (i32.load (i32.const 260)) (i32.const 1))
            (call $ok (call $fd_prestat_dir_name (i32.const 4) (i32.const 1024) (i32.const 1)))
            (call $print (i32.const 1024) (i32.const 1))
            (call $expect (call $fd_prestat_get (i32.const 5) (i32.const 256)) (i32.const 8))
            (call $expect (call $fd_prestat_dir_name (i32.const 3) (i32.const 131070) (i32.const 8)) (i32.const 21))
            ;; A preopen is a directory with the directory rights and everything inheritable.
            (call $ok (call $fd_fdstat_get (i32.const 3) (i32.const 256)))
            (call $expect (i32.load8_u (i32.const 256)) (i32.const 3))
            (call $expect64 (i64.load (i32.const 264)) (i64.const 0x7bffe11))
            (call $expect64 (i64.load (i32.const 272)) (i64.const 0x0FFFFFFF))
            ;; Opening a file does not reuse a preopen number.
            (call $expect (call $open (i32.const 4) (str ".") (i32.const 2) (i32.const 0)) (i32.const 5)))"#,
    )
    .ok("/sandbox.");
}

#[test]
fn create_write_seek_read() {
    let dir = TempDir::new("rw");
    run_in(
        &dir,
        r#"(local.set $fd (call $open (i32.const 3) (str "new.txt") (i32.const 9) (i32.const 0)))
           (call $expect (local.get $fd) (i32.const 4))
           (call $ok (call $write (local.get $fd) (str "hello world")))
           (call $expect (i32.load (i32.const 24)) (i32.const 11))
           (call $ok (call $fd_tell (local.get $fd) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 256)) (i64.const 11))
           (call $ok (call $fd_seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 256)) (i64.const 0))
           (call $ok (call $read (local.get $fd) (i32.const 1024) (i32.const 5)))
           (call $expect (i32.load (i32.const 40)) (i32.const 5))
           (call $ok (call $fd_seek (local.get $fd) (i64.const 1) (i32.const 1) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 256)) (i64.const 6))
           (call $ok (call $read (local.get $fd) (i32.const 1029) (i32.const 100)))
           (call $expect (i32.load (i32.const 40)) (i32.const 5))
           (call $ok (call $read (local.get $fd) (i32.const 1029) (i32.const 100)))
           (call $expect (i32.load (i32.const 40)) (i32.const 0))
           ;; From the end; negative results and bad whence are inval.
           (call $ok (call $fd_seek (local.get $fd) (i64.const -2) (i32.const 2) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 256)) (i64.const 9))
           (call $expect (call $fd_seek (local.get $fd) (i64.const -1) (i32.const 0) (i32.const 256)) (i32.const 28))
           (call $expect (call $fd_seek (local.get $fd) (i64.const -10) (i32.const 1) (i32.const 256)) (i32.const 28))
           (call $expect (call $fd_seek (local.get $fd) (i64.const 0) (i32.const 3) (i32.const 256)) (i32.const 28))
           (call $expect (call $fd_seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 131070)) (i32.const 21))
           ;; Past the end is allowed; reading there gives 0.
           (call $ok (call $fd_seek (local.get $fd) (i64.const 100) (i32.const 0) (i32.const 256)))
           (call $ok (call $read (local.get $fd) (i32.const 2000) (i32.const 10)))
           (call $expect (i32.load (i32.const 40)) (i32.const 0))
           (call $ok (call $fd_close (local.get $fd)))
           (call $expect (call $fd_close (local.get $fd)) (i32.const 8))
           (call $print (i32.const 1024) (i32.const 10))"#,
    )
    .ok("helloworld");
    assert_eq!(dir.read("new.txt"), "hello world");
}

#[test]
fn pread_pwrite_keep_the_offset() {
    let dir = TempDir::new("prw");
    dir.write("f", "0123456789");
    run_in(
        &dir,
        r#"(local.set $fd (call $open (i32.const 3) (str "f") (i32.const 0) (i32.const 0)))
           ;; Two iovecs: 2 + 3 bytes from offset 4.
           (i32.store (i32.const 512) (i32.const 1024))
           (i32.store (i32.const 516) (i32.const 2))
           (i32.store (i32.const 520) (i32.const 1026))
           (i32.store (i32.const 524) (i32.const 3))
           (call $ok (call $fd_pread (local.get $fd) (i32.const 512) (i32.const 2) (i64.const 4) (i32.const 256)))
           (call $expect (i32.load (i32.const 256)) (i32.const 5))
           (call $ok (call $fd_tell (local.get $fd) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 256)) (i64.const 0))
           (i32.store (i32.const 16) (i32.const 1024))
           (i32.store (i32.const 20) (i32.const 2))
           (memory.copy (i32.const 1024) (str "AB"))
           (call $ok (call $fd_pwrite (local.get $fd) (i32.const 16) (i32.const 1) (i64.const 8) (i32.const 256)))
           (call $expect (i32.load (i32.const 256)) (i32.const 2))
           (call $ok (call $fd_tell (local.get $fd) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 256)) (i64.const 0))
           ;; Beyond the end: a hole of zeros.
           (call $ok (call $fd_pwrite (local.get $fd) (i32.const 16) (i32.const 1) (i64.const 12) (i32.const 256)))
           ;; pread at EOF reads nothing.
           (call $ok (call $fd_pread (local.get $fd) (i32.const 512) (i32.const 2) (i64.const 100) (i32.const 256)))
           (call $expect (i32.load (i32.const 256)) (i32.const 0))
           (call $print (i32.const 1024) (i32.const 5))"#,
    )
    .ok("AB678");
    assert_eq!(dir.read("f"), "01234567AB\0\0AB");
}

#[test]
fn append_mode() {
    let dir = TempDir::new("append");
    dir.write("log", "A");
    run_in(
        &dir,
        r#"(local.set $fd (call $open (i32.const 3) (str "log") (i32.const 0) (i32.const 1)))
           (call $ok (call $fd_fdstat_get (local.get $fd) (i32.const 256)))
           (call $expect (i32.load16_u (i32.const 258)) (i32.const 1))
           (call $ok (call $write (local.get $fd) (str "B")))
           (call $ok (call $fd_tell (local.get $fd) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 256)) (i64.const 2))
           (call $ok (call $fd_seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 256)))
           (call $ok (call $write (local.get $fd) (str "C")))
           ;; pwrite uses its offset even in append mode (POSIX).
           (memory.copy (i32.const 1024) (str "a"))
           (i32.store (i32.const 16) (i32.const 1024))
           (i32.store (i32.const 20) (i32.const 1))
           (call $ok (call $fd_pwrite (local.get $fd) (i32.const 16) (i32.const 1) (i64.const 0) (i32.const 256)))
           ;; Clearing append: writes go to the offset again.
           (call $ok (call $fd_fdstat_set_flags (local.get $fd) (i32.const 0)))
           (call $ok (call $fd_seek (local.get $fd) (i64.const 1) (i32.const 0) (i32.const 256)))
           (call $ok (call $write (local.get $fd) (str "x")))"#,
    )
    .ok("");
    assert_eq!(dir.read("log"), "axC");
}

#[test]
fn open_flags() {
    let dir = TempDir::new("oflags");
    dir.write("f", "content").mkdir("d");
    run_in(
        &dir,
        r#";; TRUNC empties an existing file.
           (local.set $fd (call $open (i32.const 3) (str "f") (i32.const 8) (i32.const 0)))
           (call $ok (call $fd_filestat_get (local.get $fd) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 288)) (i64.const 0))
           ;; CREAT|EXCL on an existing file; plain open of a missing one.
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "f") (i32.const 5) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 20))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "missing") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 44))
           (call $expect (i32.load (i32.const 240)) (i32.const -1))
           ;; DIRECTORY on a file; DIRECTORY with CREAT/TRUNC/EXCL.
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "f") (i32.const 2) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 54))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "d") (i32.const 3) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 28))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "d") (i32.const 10) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 28))
           ;; A directory opened without DIRECTORY is fine, but not for writing or truncation.
           (call $ok (call $try_open (i32.const 3) (i32.const 1) (str "d") (i32.const 0) (i64.const 0x4002) (i64.const 0) (i32.const 0)))
           (call $ok (call $fd_fdstat_get (i32.load (i32.const 240)) (i32.const 256)))
           (call $expect (i32.load8_u (i32.const 256)) (i32.const 3))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "d") (i32.const 0) (i64.const 0x40) (i64.const 0) (i32.const 0)) (i32.const 31))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "d") (i32.const 8) (i64.const 0) (i64.const 0) (i32.const 0)) (i32.const 31))
           ;; Trailing slashes: creating "x/" is isdir, "f/" is notdir.
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "x/") (i32.const 1) (i64.const 0x40) (i64.const 0) (i32.const 0)) (i32.const 31))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "f/") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 54))
           (call $ok (call $try_open (i32.const 3) (i32.const 1) (str "d/") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)))
           ;; Unknown bits in oflags, fdflags, lookupflags, rights: inval.
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "f") (i32.const 16) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 28))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "f") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 32)) (i32.const 28))
           (call $expect (call $try_open (i32.const 3) (i32.const 3) (str "f") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 28))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "f") (i32.const 0) (i64.const 0x40000000) (i64.const 0) (i32.const 0)) (i32.const 28))
           ;; Bad path pointer, invalid UTF-8, empty path.
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (i32.const 131070) (i32.const 5) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 21))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "\ff\fe") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 25))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 44))
           ;; Bad result pointer: nothing is created.
           (call $expect (call $path_open (i32.const 3) (i32.const 1) (str "nope") (i32.const 1) (i64.const 0x40) (i64.const 0) (i32.const 0) (i32.const -2)) (i32.const 21))
           (call $print (str "ok"))"#,
    )
    .ok("ok");
    assert!(!dir.exists("x"));
    assert!(!dir.exists("nope"));
}

#[test]
fn rights_decide_host_access() {
    let dir = TempDir::new("access");
    dir.write("ro", "data");
    std::fs::set_permissions(
        dir.join("ro"),
        std::os::unix::fs::PermissionsExt::from_mode(0o444),
    )
    .unwrap();
    run_in(
        &dir,
        r#";; Read-only rights open the host file read-only (so a 0444 file opens even for non-root).
           (call $ok (call $try_open (i32.const 3) (i32.const 1) (str "ro") (i32.const 0) (i64.const 0x200026) (i64.const 0) (i32.const 0)))
           (local.set $fd (i32.load (i32.const 240)))
           (call $ok (call $read (local.get $fd) (i32.const 1024) (i32.const 10)))
           (call $expect (call $write (local.get $fd) (str "x")) (i32.const 76))
           (call $expect (call $fd_filestat_set_size (local.get $fd) (i64.const 0)) (i32.const 76))
           (call $expect (call $fd_allocate (local.get $fd) (i64.const 0) (i64.const 10)) (i32.const 76))
           ;; O_CREAT on an existing read-only file opened for reading still works (no host write access needed).
           (call $ok (call $try_open (i32.const 3) (i32.const 1) (str "ro") (i32.const 1) (i64.const 2) (i64.const 0) (i32.const 0)))
           (call $print (i32.const 1024) (i32.const 4))"#,
    )
    .ok("data");
}

#[test]
fn filestat_and_path_filestat() {
    let dir = TempDir::new("filestat");
    dir.write("f", "12345").mkdir("d").symlink("f", "l");
    let out = run_in(
        &dir,
        r#"(local.set $fd (call $open (i32.const 3) (str "f") (i32.const 0) (i32.const 0)))
           (call $ok (call $fd_filestat_get (local.get $fd) (i32.const 256)))
           (call $expect (i32.load8_u (i32.const 272)) (i32.const 4))
           (call $expect64 (i64.load (i32.const 280)) (i64.const 1))
           (call $expect64 (i64.load (i32.const 288)) (i64.const 5))
           (call $print_num (i64.load (i32.const 264)))
           (call $print (str " "))
           ;; Same file by path; through the symlink when following.
           (call $ok (call $path_filestat_get (i32.const 3) (i32.const 0) (str "f") (i32.const 512)))
           (call $expect64 (i64.load (i32.const 520)) (i64.load (i32.const 264)))
           (call $expect64 (i64.load (i32.const 512)) (i64.load (i32.const 256)))
           (call $ok (call $path_filestat_get (i32.const 3) (i32.const 1) (str "l") (i32.const 512)))
           (call $expect64 (i64.load (i32.const 520)) (i64.load (i32.const 264)))
           ;; The symlink itself: type 7, size = target length.
           (call $ok (call $path_filestat_get (i32.const 3) (i32.const 0) (str "l") (i32.const 512)))
           (call $expect (i32.load8_u (i32.const 528)) (i32.const 7))
           (call $expect64 (i64.load (i32.const 544)) (i64.const 1))
           (call $ok (call $path_filestat_get (i32.const 3) (i32.const 0) (str "d") (i32.const 512)))
           (call $expect (i32.load8_u (i32.const 528)) (i32.const 3))
           (call $ok (call $path_filestat_get (i32.const 3) (i32.const 0) (str ".") (i32.const 512)))
           (call $expect (i32.load8_u (i32.const 528)) (i32.const 3))
           (call $ok (call $fd_filestat_get (i32.const 3) (i32.const 512)))
           (call $expect (i32.load8_u (i32.const 528)) (i32.const 3))
           (call $print_num (i64.load (i32.const 520)))
           (call $expect (call $path_filestat_get (i32.const 3) (i32.const 0) (str "missing") (i32.const 512)) (i32.const 44))
           (call $expect (call $path_filestat_get (i32.const 3) (i32.const 0) (str "f/") (i32.const 512)) (i32.const 54))
           (call $expect (call $path_filestat_get (i32.const 3) (i32.const 2) (str "f") (i32.const 512)) (i32.const 28))
           (call $expect (call $path_filestat_get (i32.const 3) (i32.const 0) (str "f") (i32.const 131070)) (i32.const 21))"#,
    );
    let file_ino = std::fs::metadata(dir.join("f")).unwrap().ino();
    let dir_ino = std::fs::metadata(dir.path()).unwrap().ino();
    out.ok(&format!("{file_ino} {dir_ino}"));
}

#[test]
fn set_size_allocate_and_times() {
    let dir = TempDir::new("setsize");
    dir.write("f", "0123456789").mkdir("d").symlink("f", "l");
    run_in(
        &dir,
        r#"(local.set $fd (call $open (i32.const 3) (str "f") (i32.const 0) (i32.const 0)))
           (call $ok (call $fd_filestat_set_size (local.get $fd) (i64.const 3)))
           (call $ok (call $fd_allocate (local.get $fd) (i64.const 4) (i64.const 2)))
           (call $ok (call $fd_allocate (local.get $fd) (i64.const 0) (i64.const 1)))
           (call $expect (call $fd_allocate (local.get $fd) (i64.const 0) (i64.const 0)) (i32.const 28))
           (call $expect (call $fd_allocate (local.get $fd) (i64.const -1) (i64.const 2)) (i32.const 22))
           (call $expect (call $fd_filestat_set_size (local.get $fd) (i64.const -1)) (i32.const 22))
           (call $ok (call $fd_advise (local.get $fd) (i64.const 0) (i64.const 100) (i32.const 5)))
           (call $expect (call $fd_advise (local.get $fd) (i64.const 0) (i64.const 100) (i32.const 6)) (i32.const 28))
           (call $ok (call $fd_sync (local.get $fd)))
           (call $ok (call $fd_datasync (local.get $fd)))
           (call $ok (call $fd_sync (i32.const 3)))
           ;; Times: explicit values, "now", and invalid combinations.
           (call $ok (call $fd_filestat_set_times (local.get $fd) (i64.const 1000000000123456789) (i64.const 1100000000987654321) (i32.const 5)))
           (call $expect (call $fd_filestat_set_times (local.get $fd) (i64.const 0) (i64.const 0) (i32.const 3)) (i32.const 28))
           (call $expect (call $fd_filestat_set_times (local.get $fd) (i64.const 0) (i64.const 0) (i32.const 12)) (i32.const 28))
           (call $expect (call $fd_filestat_set_times (local.get $fd) (i64.const 0) (i64.const 0) (i32.const 16)) (i32.const 28))
           (call $ok (call $fd_filestat_get (local.get $fd) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 296)) (i64.const 1000000000123456789))
           (call $expect64 (i64.load (i32.const 304)) (i64.const 1100000000987654321))
           ;; Through a path, following the symlink; on a directory; through fd of the directory.
           (call $ok (call $path_filestat_set_times (i32.const 3) (i32.const 1) (str "l") (i64.const 0) (i64.const 1200000000000000000) (i32.const 4)))
           (call $ok (call $path_filestat_set_times (i32.const 3) (i32.const 0) (str "d") (i64.const 0) (i64.const 1300000000000000000) (i32.const 4)))
           (call $ok (call $path_filestat_set_times (i32.const 3) (i32.const 0) (str "d") (i64.const 0) (i64.const 0) (i32.const 2)))
           (call $ok (call $fd_filestat_set_times (i32.const 3) (i64.const 0) (i64.const 0) (i32.const 0)))
           (call $expect (call $path_filestat_set_times (i32.const 3) (i32.const 0) (str "missing") (i64.const 0) (i64.const 0) (i32.const 2)) (i32.const 44))
           (call $print (str "ok"))"#,
    )
    .ok("ok");
    let meta = std::fs::metadata(dir.join("f")).unwrap();
    assert_eq!(meta.len(), 6);
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"012\0\0\0");
    assert_eq!(meta.mtime(), 1_200_000_000);
    assert_eq!(meta.atime(), 1_000_000_000);
    assert_eq!(meta.atime_nsec(), 123_456_789);
    let d = std::fs::metadata(dir.join("d")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((d.atime() - now).abs() < 60, "atime set to now");
    assert_eq!(d.mtime(), 1_300_000_000);
}

/// One `fd_readdir` result dumped as `<bufused>:<bytes>`.
struct Dirent {
    next: u64,
    ino: u64,
    kind: u8,
    name: String,
}

fn parse_dump(out: &[u8]) -> Vec<Vec<u8>> {
    let mut dumps = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let colon = rest.iter().position(|&b| b == b':').unwrap();
        let len: usize = std::str::from_utf8(&rest[..colon])
            .unwrap()
            .parse()
            .unwrap();
        dumps.push(rest[colon + 1..colon + 1 + len].to_vec());
        rest = &rest[colon + 1 + len..];
    }
    dumps
}

fn parse_dirents(mut buf: &[u8]) -> Vec<Dirent> {
    let mut entries = Vec::new();
    while buf.len() >= 24 {
        let namlen = u32::from_le_bytes(buf[16..20].try_into().unwrap()) as usize;
        if buf.len() < 24 + namlen {
            break;
        }
        entries.push(Dirent {
            next: u64::from_le_bytes(buf[0..8].try_into().unwrap()),
            ino: u64::from_le_bytes(buf[8..16].try_into().unwrap()),
            kind: buf[20],
            name: String::from_utf8(buf[24..24 + namlen].to_vec()).unwrap(),
        });
        buf = &buf[24 + namlen..];
    }
    entries
}

#[test]
fn readdir_layout_cookies_and_partial_buffers() {
    let dir = TempDir::new("readdir");
    dir.write("b", "")
        .write("a", "")
        .mkdir("c")
        .symlink("a", "d");
    let out = run(
        Setup::dir("/sandbox", dir.path()),
        &format!("{READDIR_BODY}\n(func (export \"_start\") (call $main))"),
    );
    assert_eq!(out.exit, Ok(0), "{}", out.stdout);
    let dumps = parse_dump(&out.stdout_bytes);
    assert_eq!(dumps.len(), 7);
    let ino = |rel: &str| std::fs::symlink_metadata(dir.join(rel)).unwrap().ino();

    let all = parse_dirents(&dumps[0]);
    let names: Vec<_> = all.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, [".", "..", "a", "b", "c", "d"]);
    assert_eq!(
        all.iter().map(|e| e.next).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        all.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [3, 3, 4, 4, 3, 7]
    );
    assert_eq!(all[0].ino, ino("."));
    assert_eq!(all[2].ino, ino("a"));
    assert_eq!(all[5].ino, ino("d"));
    assert_eq!(dumps[0].len(), 6 * 24 + 1 + 2 + 4);

    let from3: Vec<_> = parse_dirents(&dumps[1])
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(from3, ["b", "c", "d"]);
    assert_eq!(dumps[2].len(), 30);
    assert_eq!(parse_dirents(&dumps[2]).len(), 1);
    assert!(dumps[3].is_empty() && dumps[4].is_empty() && dumps[5].is_empty());

    let sub = parse_dirents(&dumps[6]);
    assert_eq!(
        sub.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        [".", ".."]
    );
    assert_eq!(sub[0].ino, ino("c"));
    assert_eq!(sub[1].ino, ino("."));
}

const READDIR_BODY: &str = r#"
  (func $dump (param $fd i32) (param $len i32) (param $cookie i64)
    (call $ok (call $fd_readdir (local.get $fd) (i32.const 2048) (local.get $len) (local.get $cookie) (i32.const 256)))
    (call $print_num (i64.extend_i32_u (i32.load (i32.const 256))))
    (call $print (str ":"))
    (call $print (i32.const 2048) (i32.load (i32.const 256))))
  (func $main (local $fd i32)
    (call $dump (i32.const 3) (i32.const 4096) (i64.const 0))
    (call $dump (i32.const 3) (i32.const 4096) (i64.const 3))
    ;; 30 bytes: "." (25) and a cut-off header; bufused == buf_len.
    (call $dump (i32.const 3) (i32.const 30) (i64.const 0))
    (call $dump (i32.const 3) (i32.const 4096) (i64.const 6))
    (call $dump (i32.const 3) (i32.const 4096) (i64.const 1000))
    (call $dump (i32.const 3) (i32.const 0) (i64.const 0))
    ;; A subdirectory opened by path.
    (local.set $fd (call $open (i32.const 3) (str "c") (i32.const 2) (i32.const 0)))
    (call $dump (local.get $fd) (i32.const 4096) (i64.const 0))
    ;; Errors.
    (local.set $fd (call $open (i32.const 3) (str "a") (i32.const 0) (i32.const 0)))
    (call $expect (call $fd_readdir (local.get $fd) (i32.const 2048) (i32.const 100) (i64.const 0) (i32.const 256)) (i32.const 54))
    (call $expect (call $fd_readdir (i32.const 3) (i32.const 131000) (i32.const 100) (i64.const 0) (i32.const 256)) (i32.const 21))
    (call $expect (call $fd_readdir (i32.const 3) (i32.const 2048) (i32.const 100) (i64.const 0) (i32.const 131070)) (i32.const 21))
    (drop (call $fd_fdstat_set_rights (i32.const 3) (i64.const 0) (i64.const 0)))
    (call $expect (call $fd_readdir (i32.const 3) (i32.const 2048) (i32.const 100) (i64.const 0) (i32.const 256)) (i32.const 76)))
"#;

#[test]
fn create_and_remove_directories() {
    let dir = TempDir::new("mkdir");
    dir.write("f", "");
    run_in(
        &dir,
        r#"(call $ok (call $path_create_directory (i32.const 3) (str "d")))
           (call $expect (call $path_create_directory (i32.const 3) (str "d")) (i32.const 20))
           (call $expect (call $path_create_directory (i32.const 3) (str "f")) (i32.const 20))
           (call $expect (call $path_create_directory (i32.const 3) (str ".")) (i32.const 20))
           (call $expect (call $path_create_directory (i32.const 3) (str "x/y")) (i32.const 44))
           (call $expect (call $path_create_directory (i32.const 3) (str "f/y")) (i32.const 54))
           (call $ok (call $path_create_directory (i32.const 3) (str "d/e/")))
           (call $expect (call $path_remove_directory (i32.const 3) (str "d")) (i32.const 55))
           (call $expect (call $path_remove_directory (i32.const 3) (str "f")) (i32.const 54))
           (call $expect (call $path_remove_directory (i32.const 3) (str "nope")) (i32.const 44))
           (call $expect (call $path_remove_directory (i32.const 3) (str ".")) (i32.const 28))
           (call $expect (call $path_remove_directory (i32.const 3) (str "d/..")) (i32.const 28))
           (call $ok (call $path_remove_directory (i32.const 3) (str "d/e/")))
           (call $ok (call $path_remove_directory (i32.const 3) (str "d")))
           (call $ok (call $path_create_directory (i32.const 3) (str "keep")))
           (call $print (str "ok"))"#,
    )
    .ok("ok");
    assert!(!dir.exists("d"));
    assert!(dir.join("keep").is_dir());
}

#[test]
fn unlink_files_and_symlinks() {
    let dir = TempDir::new("unlink");
    dir.write("f", "")
        .write("g", "")
        .mkdir("d")
        .symlink("g", "l")
        .symlink("d", "ld");
    run_in(
        &dir,
        r#"(call $ok (call $path_unlink_file (i32.const 3) (str "f")))
           (call $expect (call $path_unlink_file (i32.const 3) (str "f")) (i32.const 44))
           (call $expect (call $path_unlink_file (i32.const 3) (str "d")) (i32.const 31))
           (call $expect (call $path_unlink_file (i32.const 3) (str ".")) (i32.const 31))
           (call $expect (call $path_unlink_file (i32.const 3) (str "g/")) (i32.const 54))
           ;; Symlinks are removed themselves, never their targets.
           (call $ok (call $path_unlink_file (i32.const 3) (str "l")))
           (call $ok (call $path_unlink_file (i32.const 3) (str "ld")))
           (call $print (str "ok"))"#,
    )
    .ok("ok");
    assert!(!dir.exists("f") && !dir.exists("l") && !dir.exists("ld"));
    assert!(dir.exists("g") && dir.exists("d"));
}

#[test]
fn rename_files_and_directories() {
    let dir = TempDir::new("rename");
    dir.write("a", "A")
        .write("b", "B")
        .mkdir("d")
        .mkdir("full")
        .write("full/x", "");
    run_in(
        &dir,
        r#"(call $ok (call $path_rename (i32.const 3) (str "a") (i32.const 3) (str "d/a2")))
           ;; Over an existing file: replaced.
           (call $ok (call $path_rename (i32.const 3) (str "b") (i32.const 3) (str "d/a2")))
           (call $expect (call $path_rename (i32.const 3) (str "b") (i32.const 3) (str "c")) (i32.const 44))
           (call $expect (call $path_rename (i32.const 3) (str "d/a2") (i32.const 3) (str "nodir/x")) (i32.const 44))
           (call $expect (call $path_rename (i32.const 3) (str "d/a2") (i32.const 3) (str "y/")) (i32.const 54))
           (call $expect (call $path_rename (i32.const 3) (str ".") (i32.const 3) (str "y")) (i32.const 28))
           (call $expect (call $path_rename (i32.const 3) (str "d") (i32.const 3) (str "full")) (i32.const 55))
           (call $expect (call $path_rename (i32.const 3) (str "d") (i32.const 3) (str "d/inside")) (i32.const 28))
           ;; Directories move with their contents; trailing slashes are fine for them.
           (call $ok (call $path_rename (i32.const 3) (str "d/") (i32.const 3) (str "e/")))
           (call $print (str "ok"))"#,
    )
    .ok("ok");
    assert_eq!(dir.read("e/a2"), "B");
    assert!(!dir.exists("a") && !dir.exists("b") && !dir.exists("d"));
}

#[test]
fn symlink_and_readlink() {
    let dir = TempDir::new("symlink");
    dir.write("target.txt", "through the link").mkdir("sub");
    run_in(
        &dir,
        r#"(call $ok (call $path_symlink (str "target.txt") (i32.const 3) (str "link")))
           (call $ok (call $path_readlink (i32.const 3) (str "link") (i32.const 1024) (i32.const 100) (i32.const 256)))
           (call $expect (i32.load (i32.const 256)) (i32.const 10))
           (call $print (i32.const 1024) (i32.const 10))
           (call $print (str "|"))
           ;; Truncated to the buffer, like readlink(2).
           (call $ok (call $path_readlink (i32.const 3) (str "link") (i32.const 1024) (i32.const 4) (i32.const 256)))
           (call $expect (i32.load (i32.const 256)) (i32.const 4))
           (call $expect (call $path_readlink (i32.const 3) (str "target.txt") (i32.const 1024) (i32.const 100) (i32.const 256)) (i32.const 28))
           (call $expect (call $path_readlink (i32.const 3) (str "nope") (i32.const 1024) (i32.const 100) (i32.const 256)) (i32.const 44))
           (call $expect (call $path_readlink (i32.const 3) (str "link") (i32.const 131070) (i32.const 100) (i32.const 256)) (i32.const 21))
           ;; Reading through it.
           (local.set $fd (call $open (i32.const 3) (str "link") (i32.const 0) (i32.const 0)))
           (call $ok (call $read (local.get $fd) (i32.const 1024) (i32.const 100)))
           (call $print (i32.const 1024) (i32.load (i32.const 40)))
           ;; Without symlink_follow, opening a symlink is loop (O_NOFOLLOW).
           (call $expect (call $try_open (i32.const 3) (i32.const 0) (str "link") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 32))
           ;; Existing names; empty and absolute targets; a trailing slash on a new name.
           (call $expect (call $path_symlink (str "x") (i32.const 3) (str "link")) (i32.const 20))
           (call $expect (call $path_symlink (str "x") (i32.const 3) (str "sub")) (i32.const 20))
           (call $expect (call $path_symlink (str "") (i32.const 3) (str "e")) (i32.const 44))
           (call $expect (call $path_symlink (str "/etc") (i32.const 3) (str "abs")) (i32.const 63))
           (call $expect (call $path_symlink (str "x") (i32.const 3) (str "new/")) (i32.const 44))
           ;; Dangling symlinks: open fails, O_CREAT creates the target (POSIX).
           (call $ok (call $path_symlink (str "sub/made") (i32.const 3) (str "dangling")))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "dangling") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 44))
           (local.set $fd (call $open (i32.const 3) (str "dangling") (i32.const 1) (i32.const 0)))
           (call $ok (call $write (local.get $fd) (str "made")))
           ;; O_CREAT|O_EXCL does not follow: the link exists.
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "dangling") (i32.const 5) (i64.const 0x40) (i64.const 0) (i32.const 0)) (i32.const 20))
           ;; A symlink to a directory works as a path component and with a trailing slash.
           (call $ok (call $path_symlink (str "sub") (i32.const 3) (str "lsub")))
           (call $ok (call $path_filestat_get (i32.const 3) (i32.const 0) (str "lsub/made") (i32.const 512)))
           (call $ok (call $path_filestat_get (i32.const 3) (i32.const 0) (str "lsub/") (i32.const 512)))
           (call $expect (i32.load8_u (i32.const 528)) (i32.const 3))
           (call $expect (call $path_filestat_get (i32.const 3) (i32.const 0) (str "link/") (i32.const 512)) (i32.const 54))"#,
    )
    .ok("target.txt|through the link");
    assert_eq!(
        std::fs::read_link(dir.join("link")).unwrap().to_str(),
        Some("target.txt")
    );
    assert_eq!(dir.read("sub/made"), "made");
    assert!(!dir.exists("abs"));
}

#[test]
fn hard_links() {
    let dir = TempDir::new("link");
    dir.write("a", "data").mkdir("d").symlink("a", "sl");
    run_in(
        &dir,
        r#"(call $ok (call $path_link (i32.const 3) (i32.const 0) (str "a") (i32.const 3) (str "d/b")))
           (call $expect (call $path_link (i32.const 3) (i32.const 0) (str "a") (i32.const 3) (str "d/b")) (i32.const 20))
           (call $expect (call $path_link (i32.const 3) (i32.const 0) (str "d") (i32.const 3) (str "d2")) (i32.const 63))
           (call $expect (call $path_link (i32.const 3) (i32.const 0) (str "nope") (i32.const 3) (str "x")) (i32.const 44))
           (call $expect (call $path_link (i32.const 3) (i32.const 0) (str "a/") (i32.const 3) (str "x")) (i32.const 54))
           (call $expect (call $path_link (i32.const 3) (i32.const 2) (str "a") (i32.const 3) (str "x")) (i32.const 28))
           ;; With symlink_follow the link is to the target; without, to the symlink itself.
           (call $ok (call $path_link (i32.const 3) (i32.const 1) (str "sl") (i32.const 3) (str "followed")))
           (call $ok (call $path_link (i32.const 3) (i32.const 0) (str "sl") (i32.const 3) (str "unfollowed")))
           (call $ok (call $path_filestat_get (i32.const 3) (i32.const 0) (str "a") (i32.const 256)))
           (call $expect64 (i64.load (i32.const 280)) (i64.const 3))
           (call $print (str "ok"))"#,
    )
    .ok("ok");
    let ino = |rel: &str| std::fs::symlink_metadata(dir.join(rel)).unwrap().ino();
    assert_eq!(ino("d/b"), ino("a"));
    assert_eq!(ino("followed"), ino("a"));
    assert_eq!(ino("unfollowed"), ino("sl"));
    assert!(
        std::fs::symlink_metadata(dir.join("unfollowed"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn renumber_and_rights_shrinking() {
    let dir = TempDir::new("renumber");
    dir.write("one", "1").write("two", "2");
    run_in(
        &dir,
        r#"(local.set $fd (call $open (i32.const 3) (str "one") (i32.const 0) (i32.const 0)))
           (local.set $fd2 (call $open (i32.const 3) (str "two") (i32.const 0) (i32.const 0)))
           (call $ok (call $fd_renumber (local.get $fd2) (local.get $fd)))
           (call $ok (call $read (local.get $fd) (i32.const 1024) (i32.const 1)))
           (call $expect (call $fd_close (local.get $fd2)) (i32.const 8))
           ;; The lowest free number is reused.
           (call $expect (call $open (i32.const 3) (str "one") (i32.const 0) (i32.const 0)) (i32.const 5))
           ;; Rights only shrink.
           (call $ok (call $fd_fdstat_set_rights (local.get $fd) (i64.const 0x200002) (i64.const 0)))
           (call $ok (call $fd_fdstat_get (local.get $fd) (i32.const 256)))
           (call $expect64 (i64.load (i32.const 264)) (i64.const 0x200002))
           (call $expect (call $fd_fdstat_set_rights (local.get $fd) (i64.const 0x200006) (i64.const 0)) (i32.const 76))
           (call $expect (call $fd_fdstat_set_rights (local.get $fd) (i64.const 2) (i64.const 1)) (i32.const 76))
           (call $expect (call $fd_fdstat_set_rights (local.get $fd) (i64.const 0x4000000000) (i64.const 0)) (i32.const 28))
           (call $expect (call $fd_seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 256)) (i32.const 76))
           (call $expect (call $fd_tell (local.get $fd) (i32.const 256)) (i32.const 76))
           (call $ok (call $fd_filestat_get (local.get $fd) (i32.const 256)))
           (call $print (i32.const 1024) (i32.const 1))"#,
    )
    .ok("2");
}

#[test]
fn poll_on_files_and_sync_flags() {
    let dir = TempDir::new("pollfile");
    dir.write("f", "0123456789");
    run_in(
        &dir,
        r#"(local.set $fd (call $open (i32.const 3) (str "f") (i32.const 0) (i32.const 0)))
           (call $ok (call $fd_seek (local.get $fd) (i64.const 4) (i32.const 0) (i32.const 256)))
           (i64.store (i32.const 1024) (i64.const 9))
           (i32.store8 (i32.const 1032) (i32.const 1))
           (i32.store (i32.const 1040) (local.get $fd))
           (call $ok (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 256)))
           (call $expect (i32.load (i32.const 256)) (i32.const 1))
           (call $expect (i32.load16_u (i32.const 2056)) (i32.const 0))
           (call $expect (i32.load8_u (i32.const 2058)) (i32.const 1))
           (call $expect64 (i64.load (i32.const 2064)) (i64.const 6))
           ;; A directory cannot be polled.
           (i32.store (i32.const 1040) (i32.const 3))
           (call $ok (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 256)))
           (call $expect (i32.load16_u (i32.const 2056)) (i32.const 76))
           ;; dsync/sync open flags: writes are flushed; they cannot be changed later.
           (local.set $fd2 (call $open (i32.const 3) (str "s") (i32.const 1) (i32.const 18)))
           (call $ok (call $write (local.get $fd2) (str "synced")))
           (call $ok (call $fd_fdstat_get (local.get $fd2) (i32.const 256)))
           (call $expect (i32.load16_u (i32.const 258)) (i32.const 18))
           (call $ok (call $fd_fdstat_set_flags (local.get $fd2) (i32.const 19)))
           (call $expect (call $fd_fdstat_set_flags (local.get $fd2) (i32.const 1)) (i32.const 28))
           (call $print (str "ok"))"#,
    )
    .ok("ok");
    assert_eq!(dir.read("s"), "synced");
}

#[test]
fn descriptor_limit_is_mfile() {
    let dir = TempDir::new("mfile");
    run_in(
        &dir,
        r#"(block $done
             (loop $more
               (br_if $done (call $try_open (i32.const 3) (i32.const 0) (str ".") (i32.const 2)
                 (i64.const 0x4000) (i64.const 0) (i32.const 0)))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br $more)))
           (call $expect (call $try_open (i32.const 3) (i32.const 0) (str ".") (i32.const 2)
             (i64.const 0x4000) (i64.const 0) (i32.const 0)) (i32.const 33))
           (call $print_num (i64.extend_i32_u (local.get $i)))
           ;; Closing one makes room again.
           (call $ok (call $fd_close (i32.const 500)))
           (call $expect (call $open (i32.const 3) (str ".") (i32.const 2) (i32.const 0)) (i32.const 500))"#,
    )
    .ok("1020");
}

/// Review L8: a guest cannot make a host file larger than the silo's
/// `max_file_size` (here 1000 bytes), sparse or not: `fbig` (22), and a
/// write that crosses the limit is cut short there.
#[test]
fn file_size_limit_is_efbig() {
    let dir = TempDir::new("fbig");
    let setup = Setup {
        max_file_size: Some(1000),
        ..Setup::dir("/sandbox", dir.path())
    };
    run(
        setup,
        r#"(func (export "_start") (local $fd i32)
           (local.set $fd (call $open (i32.const 3) (str "f") (i32.const 1) (i32.const 0)))
           ;; The size bombs.
           (call $expect (call $fd_allocate (local.get $fd) (i64.const 0) (i64.const 0x7fffffffffffffff)) (i32.const 22))
           (call $expect (call $fd_allocate (local.get $fd) (i64.const 1) (i64.const 1000)) (i32.const 22))
           (call $expect (call $fd_filestat_set_size (local.get $fd) (i64.const 0x7fffffffffffffff)) (i32.const 22))
           (call $expect (call $fd_filestat_set_size (local.get $fd) (i64.const 1001)) (i32.const 22))
           (call $ok (call $fd_filestat_set_size (local.get $fd) (i64.const 1000)))
           (call $ok (call $fd_filestat_set_size (local.get $fd) (i64.const 0)))
           (call $ok (call $fd_allocate (local.get $fd) (i64.const 0) (i64.const 1000)))
           ;; Writes: 1500 bytes from 0 write 1000, the next write nothing.
           (call $ok (call $write (local.get $fd) (i32.const 1024) (i32.const 1500)))
           (call $expect (i32.load (i32.const 24)) (i32.const 1000))
           (call $expect (call $write (local.get $fd) (i32.const 1024) (i32.const 1)) (i32.const 22))
           ;; Positional writes, and a write far away after a seek.
           (i32.store (i32.const 16) (i32.const 1024))
           (i32.store (i32.const 20) (i32.const 10))
           (call $ok (call $fd_pwrite (local.get $fd) (i32.const 16) (i32.const 1) (i64.const 995) (i32.const 24)))
           (call $expect (i32.load (i32.const 24)) (i32.const 5))
           (call $expect (call $fd_pwrite (local.get $fd) (i32.const 16) (i32.const 1) (i64.const 0x4000000000000000) (i32.const 24)) (i32.const 22))
           (call $ok (call $fd_seek (local.get $fd) (i64.const 0x100000000) (i32.const 0) (i32.const 256)))
           (call $expect (call $write (local.get $fd) (i32.const 1024) (i32.const 1)) (i32.const 22))
           ;; Below the limit, everything still works ($write reused 16-23).
           (i32.store (i32.const 20) (i32.const 10))
           (call $ok (call $fd_pwrite (local.get $fd) (i32.const 16) (i32.const 1) (i64.const 0) (i32.const 24)))
           (call $expect (i32.load (i32.const 24)) (i32.const 10))
           (call $print (str "ok")))"#,
    )
    .ok("ok");
    let meta = std::fs::metadata(dir.join("f")).unwrap();
    assert_eq!(meta.len(), 1000);
    assert!(meta.blocks() * 512 <= 64 * 1024, "{} blocks", meta.blocks());
}

/// The default limit (1 GiB) applies without configuration.
#[test]
fn default_file_size_limit() {
    let dir = TempDir::new("fbig-default");
    run_in(
        &dir,
        r#"(local.set $fd (call $open (i32.const 3) (str "f") (i32.const 1) (i32.const 0)))
           (call $expect (call $fd_allocate (local.get $fd) (i64.const 0) (i64.const 0x7fffffffffffffff)) (i32.const 22))
           (call $expect (call $fd_filestat_set_size (local.get $fd) (i64.const 0x40000001)) (i32.const 22))
           (call $ok (call $fd_filestat_set_size (local.get $fd) (i64.const 0x40000000)))
           (call $ok (call $fd_filestat_set_size (local.get $fd) (i64.const 0)))
           (call $print (str "ok"))"#,
    )
    .ok("ok");
    assert_eq!(std::fs::metadata(dir.join("f")).unwrap().len(), 0);
}
