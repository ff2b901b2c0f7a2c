//! WASI preview1 conformance: sandbox escapes and rights enforcement.
//!
//! Layout of every test: a temporary directory holding `outside/secret`
//! (which no guest may reach) and `sandbox/`, preopened as descriptor 3.
//! Escapes give `perm` (63), loops `loop` (32), missing rights
//! `notcapable` (76).

#[path = "wasi_data/harness.rs"]
mod harness;

use harness::{Outcome, Setup, TempDir, run};

struct World {
    top: TempDir,
}

impl World {
    fn new(tag: &str) -> Self {
        let top = TempDir::new(tag);
        top.mkdir("outside")
            .write("outside/secret", "SECRET")
            .mkdir("sandbox");
        top.write("sandbox/f", "inside")
            .mkdir("sandbox/a/b")
            .write("sandbox/a/f", "in a");
        World { top }
    }

    fn sandbox(&self, rel: &str) -> String {
        format!("sandbox/{rel}")
    }

    fn symlink(&self, target: &str, rel: &str) -> &Self {
        self.top.symlink(target, &self.sandbox(rel));
        self
    }

    fn run(&self, body: &str) -> Outcome {
        run(
            Setup::dir("/", &self.top.join("sandbox")),
            &format!(
                "(func (export \"_start\") (local $fd i32) (local $fd2 i32)\n{body}\n(call $print (str \"ok\")))"
            ),
        )
    }

    /// The outside file is intact and nothing new appeared outside.
    fn assert_outside_untouched(&self) {
        assert_eq!(self.top.read("outside/secret"), "SECRET");
        let mut names: Vec<_> = std::fs::read_dir(self.top.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["outside", "sandbox"]);
        assert_eq!(
            std::fs::read_dir(self.top.join("outside")).unwrap().count(),
            1
        );
    }
}

/// `path_open` errno for reading `path` (following symlinks).
fn open_errno(path: &str, errno: i32) -> String {
    format!(
        "(call $expect (call $try_open (i32.const 3) (i32.const 1) (str \"{path}\") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const {errno}))\n"
    )
}

#[test]
fn absolute_paths_and_dotdot_are_refused() {
    let w = World::new("sbx-dotdot");
    let mut body = String::new();
    for path in [
        "/",
        "/f",
        "/etc/passwd",
        "..",
        "../outside/secret",
        "a/../../outside/secret",
        "a/b/../../..",
        "./../sandbox/f",
    ] {
        body += &open_errno(path, 63);
    }
    // `..` that stays inside is fine.
    body += &open_errno("a/b/../../f", 0);
    body += &open_errno("a/./b/..//f", 0);
    body += r#"
        (call $expect (call $path_filestat_get (i32.const 3) (i32.const 1) (str "..") (i32.const 256)) (i32.const 63))
        (call $expect (call $path_create_directory (i32.const 3) (str "../evil")) (i32.const 63))
        (call $expect (call $path_unlink_file (i32.const 3) (str "../outside/secret")) (i32.const 63))
        (call $expect (call $path_remove_directory (i32.const 3) (str "../outside")) (i32.const 63))
        (call $expect (call $path_rename (i32.const 3) (str "f") (i32.const 3) (str "../stolen")) (i32.const 63))
        (call $expect (call $path_rename (i32.const 3) (str "../outside/secret") (i32.const 3) (str "got")) (i32.const 63))
        (call $expect (call $path_link (i32.const 3) (i32.const 0) (str "../outside/secret") (i32.const 3) (str "got")) (i32.const 63))
        (call $expect (call $path_symlink (str "x") (i32.const 3) (str "../evil")) (i32.const 63))
        (call $expect (call $path_readlink (i32.const 3) (str "../x") (i32.const 1024) (i32.const 10) (i32.const 256)) (i32.const 63))
        (call $expect (call $path_filestat_set_times (i32.const 3) (i32.const 0) (str "..") (i64.const 0) (i64.const 0) (i32.const 2)) (i32.const 63))
        (call $expect (call $path_open (i32.const 3) (i32.const 1) (str "/tmp/x") (i32.const 1) (i64.const 0x40) (i64.const 0) (i32.const 0) (i32.const 240)) (i32.const 63))
    "#;
    w.run(&body).ok("ok");
    w.assert_outside_untouched();
    assert_eq!(w.top.read("sandbox/f"), "inside");
}

#[test]
fn symlinks_out_of_the_sandbox_are_refused() {
    let w = World::new("sbx-symlink");
    let secret = w.top.join("outside/secret");
    w.symlink(secret.to_str().unwrap(), "abs_file")
        .symlink(w.top.join("outside").to_str().unwrap(), "abs_dir")
        .symlink("../outside/secret", "rel_file")
        .symlink("../outside", "rel_dir")
        .symlink("..", "up")
        .symlink("a/../..", "sneaky")
        .symlink("../sandbox/f", "out_and_back");
    let mut body = String::new();
    for path in [
        "abs_file",
        "abs_dir/secret",
        "rel_file",
        "rel_dir/secret",
        "up/outside/secret",
        "sneaky/outside/secret",
        "out_and_back",
    ] {
        body += &open_errno(path, 63);
    }
    body += r#"
        ;; Following is refused for stat, times, link and creation through the link too.
        (call $expect (call $path_filestat_get (i32.const 3) (i32.const 1) (str "abs_file") (i32.const 256)) (i32.const 63))
        (call $expect (call $path_filestat_get (i32.const 3) (i32.const 1) (str "rel_dir/") (i32.const 256)) (i32.const 63))
        (call $expect (call $path_filestat_set_times (i32.const 3) (i32.const 1) (str "rel_file") (i64.const 0) (i64.const 0) (i32.const 2)) (i32.const 63))
        (call $expect (call $path_link (i32.const 3) (i32.const 1) (str "rel_file") (i32.const 3) (str "got")) (i32.const 63))
        (call $expect (call $path_create_directory (i32.const 3) (str "rel_dir/evil")) (i32.const 63))
        (call $expect (call $path_open (i32.const 3) (i32.const 1) (str "rel_dir/new") (i32.const 1) (i64.const 0x40) (i64.const 0) (i32.const 0) (i32.const 240)) (i32.const 63))
        (call $expect (call $path_unlink_file (i32.const 3) (str "rel_dir/secret")) (i32.const 63))
        (call $expect (call $path_rename (i32.const 3) (str "rel_dir/secret") (i32.const 3) (str "got")) (i32.const 63))
        ;; The links themselves can be inspected and removed (never their targets).
        (call $ok (call $path_filestat_get (i32.const 3) (i32.const 0) (str "abs_file") (i32.const 256)))
        (call $expect (i32.load8_u (i32.const 272)) (i32.const 7))
        (call $ok (call $path_readlink (i32.const 3) (str "rel_file") (i32.const 1024) (i32.const 100) (i32.const 256)))
        (call $expect (i32.load (i32.const 256)) (i32.const 17))
        (call $ok (call $path_unlink_file (i32.const 3) (str "rel_file")))
        (call $ok (call $path_rename (i32.const 3) (str "abs_file") (i32.const 3) (str "renamed")))
    "#;
    w.run(&body).ok("ok");
    w.assert_outside_untouched();
}

#[test]
fn guest_made_symlinks_cannot_escape() {
    let w = World::new("sbx-guestlink");
    w.run(
        r#";; Absolute targets cannot even be created; relative escaping ones can, but not be followed.
           (call $expect (call $path_symlink (str "/etc/passwd") (i32.const 3) (str "abs")) (i32.const 63))
           (call $ok (call $path_symlink (str "../outside/secret") (i32.const 3) (str "esc")))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "esc") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 63))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "esc") (i32.const 9) (i64.const 0x40) (i64.const 0) (i32.const 0)) (i32.const 63))
           ;; Re-pointing a directory component: a symlink planted where a directory was.
           (call $ok (call $path_symlink (str "..") (i32.const 3) (str "a/b/up")))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "a/b/up/f") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 0))
           (call $ok (call $path_symlink (str "../../..") (i32.const 3) (str "a/b/up3")))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "a/b/up3/outside/secret") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 63))"#,
    )
    .ok("ok");
    w.assert_outside_untouched();
    assert!(!w.top.exists("sandbox/abs"));
}

#[test]
fn dotdot_through_symlinks_inside() {
    let w = World::new("sbx-dotdot-link");
    w.symlink("a/b", "deep").symlink("b", "a/lb");
    w.run(
        r#";; Physical resolution: deep/.. is a, so deep/../f is a/f.
           (local.set $fd (call $open (i32.const 3) (str "deep/../f") (i32.const 0) (i32.const 0)))
           (call $ok (call $read (local.get $fd) (i32.const 1024) (i32.const 100)))
           (call $print (i32.const 1024) (i32.load (i32.const 40)))
           (call $print (str "|"))
           (local.set $fd (call $open (i32.const 3) (str "a/lb/../../f") (i32.const 0) (i32.const 0)))
           (call $ok (call $read (local.get $fd) (i32.const 1024) (i32.const 100)))
           (call $print (i32.const 1024) (i32.load (i32.const 40)))
           (call $print (str "|"))
           ;; One .. too many through the link.
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "deep/../../..") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 63))"#,
    )
    .ok("in a|inside|ok");
}

#[test]
fn symlink_loops_and_depth() {
    let w = World::new("sbx-loop");
    w.symlink("l2", "l1")
        .symlink("l1", "l2")
        .symlink("self", "self")
        .symlink("dirloop/x", "dirloop");
    // A chain c0 -> c1 -> ... -> c40 -> f: c1 needs 40 expansions (allowed),
    // c0 needs 41 (Linux's limit is 40).
    for i in 0..=40 {
        let target = if i == 40 {
            "f".to_string()
        } else {
            format!("c{}", i + 1)
        };
        w.symlink(&target, &format!("c{i}"));
    }
    let mut body = String::new();
    for path in ["l1", "self", "dirloop", "l1/x", "c0"] {
        body += &open_errno(path, 32);
    }
    body += &open_errno("c1", 0);
    body += r#"
        (call $expect (call $path_filestat_get (i32.const 3) (i32.const 1) (str "l1") (i32.const 256)) (i32.const 32))
        (call $ok (call $path_filestat_get (i32.const 3) (i32.const 0) (str "l1") (i32.const 256)))
        (call $expect (call $path_create_directory (i32.const 3) (str "self/x")) (i32.const 32))
        (call $ok (call $path_unlink_file (i32.const 3) (str "self")))
    "#;
    w.run(&body).ok("ok");
}

#[test]
fn subdirectory_descriptors_are_their_own_root() {
    let w = World::new("sbx-subdir");
    w.symlink("../f", "a/to_parent");
    w.run(
        r#"(local.set $fd (call $open (i32.const 3) (str "a") (i32.const 2) (i32.const 0)))
           (call $expect (call $try_open (local.get $fd) (i32.const 1) (str "f") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 0))
           (call $expect (call $try_open (local.get $fd) (i32.const 1) (str "../f") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 63))
           (call $expect (call $try_open (local.get $fd) (i32.const 1) (str "b/../../f") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 63))
           ;; The same symlink resolves from the preopen but not from the subdirectory.
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "a/to_parent") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 0))
           (call $expect (call $try_open (local.get $fd) (i32.const 1) (str "to_parent") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 63))
           (call $expect (call $path_filestat_get (local.get $fd) (i32.const 0) (str "..") (i32.const 256)) (i32.const 63))"#,
    )
    .ok("ok");
}

#[test]
fn malformed_paths() {
    let w = World::new("sbx-malformed");
    let long = "a/".repeat(2100);
    w.run(&format!(
        r#"(call $expect (call $try_open (i32.const 3) (i32.const 1) (str "f\00/etc") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 28))
           (call $expect (call $path_symlink (str "x\00y") (i32.const 3) (str "nul")) (i32.const 28))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "{long}") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 37))
           (call $expect (call $path_create_directory (i32.const 3) (str "\c3")) (i32.const 25))"#
    ))
    .ok("ok");
    w.assert_outside_untouched();
}

#[test]
fn rights_are_enforced() {
    let w = World::new("sbx-rights");
    w.run(
        r#";; A file opened with fd_read only.
           (call $ok (call $try_open (i32.const 3) (i32.const 1) (str "f") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)))
           (local.set $fd (i32.load (i32.const 240)))
           (call $ok (call $read (local.get $fd) (i32.const 1024) (i32.const 3)))
           (call $expect (call $write (local.get $fd) (str "x")) (i32.const 76))
           (call $expect (call $fd_seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 256)) (i32.const 76))
           (call $expect (call $fd_tell (local.get $fd) (i32.const 256)) (i32.const 76))
           (call $expect (call $fd_filestat_get (local.get $fd) (i32.const 256)) (i32.const 76))
           (call $expect (call $fd_sync (local.get $fd)) (i32.const 76))
           (call $expect (call $fd_fdstat_set_flags (local.get $fd) (i32.const 1)) (i32.const 76))
           ;; Rights the directory cannot hand down (sock_shutdown, bit 28).
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "f") (i32.const 0) (i64.const 0x10000000) (i64.const 0) (i32.const 0)) (i32.const 76))
           (call $expect (call $try_open (i32.const 3) (i32.const 1) (str "f") (i32.const 0) (i64.const 2) (i64.const 0x10000000) (i32.const 0)) (i32.const 76))
           ;; A subdirectory whose inheriting rights allow only fd_read.
           (call $ok (call $try_open (i32.const 3) (i32.const 1) (str "a") (i32.const 2) (i64.const 0x2000) (i64.const 2) (i32.const 0)))
           (local.set $fd2 (i32.load (i32.const 240)))
           (call $expect (call $try_open (local.get $fd2) (i32.const 1) (str "f") (i32.const 0) (i64.const 0x40) (i64.const 0) (i32.const 0)) (i32.const 76))
           (call $expect (call $try_open (local.get $fd2) (i32.const 1) (str "f") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 0))
           ;; ... and only path_open itself: no readdir, mkdir, unlink.
           (call $expect (call $fd_readdir (local.get $fd2) (i32.const 2048) (i32.const 100) (i64.const 0) (i32.const 256)) (i32.const 76))
           (call $expect (call $path_create_directory (local.get $fd2) (str "x")) (i32.const 76))
           (call $expect (call $path_unlink_file (local.get $fd2) (str "f")) (i32.const 76))
           (call $expect (call $path_filestat_get (local.get $fd2) (i32.const 0) (str "f") (i32.const 256)) (i32.const 76))
           ;; O_CREAT needs path_create_file, O_TRUNC path_filestat_set_size.
           (call $expect (call $try_open (local.get $fd2) (i32.const 1) (str "new") (i32.const 1) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 76))
           (call $expect (call $try_open (local.get $fd2) (i32.const 1) (str "f") (i32.const 8) (i64.const 2) (i64.const 0) (i32.const 0)) (i32.const 76))
           ;; Dropping rights on the preopen itself.
           (call $ok (call $fd_fdstat_set_rights (i32.const 3) (i64.const 0x2000) (i64.const 0x0FFFFFFF)))
           (call $expect (call $path_create_directory (i32.const 3) (str "x")) (i32.const 76))
           (call $expect (call $path_symlink (str "f") (i32.const 3) (str "x")) (i32.const 76))
           (call $expect (call $path_rename (i32.const 3) (str "f") (i32.const 3) (str "g")) (i32.const 76))
           (call $expect (call $path_link (i32.const 3) (i32.const 0) (str "f") (i32.const 3) (str "g")) (i32.const 76))
           (call $expect (call $path_readlink (i32.const 3) (str "f") (i32.const 1024) (i32.const 10) (i32.const 256)) (i32.const 76))
           (call $expect (call $path_remove_directory (i32.const 3) (str "a/b")) (i32.const 76))
           (call $expect (call $path_filestat_set_times (i32.const 3) (i32.const 0) (str "f") (i64.const 0) (i64.const 0) (i32.const 2)) (i32.const 76))
           (call $expect (call $fd_fdstat_set_rights (i32.const 3) (i64.const 0x6000) (i64.const 0)) (i32.const 76))
           (call $ok (call $try_open (i32.const 3) (i32.const 1) (str "f") (i32.const 0) (i64.const 0x40) (i64.const 0) (i32.const 0)))"#,
    )
    .ok("ok");
    assert!(
        !w.top.exists("sandbox/x") && !w.top.exists("sandbox/new") && !w.top.exists("sandbox/g")
    );
    assert_eq!(w.top.read("sandbox/f"), "inside");
}

#[test]
fn no_renames_or_links_across_preopens() {
    let w = World::new("sbx-xdev");
    let other = TempDir::new("sbx-xdev-other");
    let setup = Setup {
        preopens: vec![
            ("/".into(), w.top.join("sandbox")),
            ("/other".into(), other.path().into()),
        ],
        ..Setup::default()
    };
    run(
        setup,
        r#"(func (export "_start")
            (call $expect (call $path_rename (i32.const 3) (str "f") (i32.const 4) (str "f")) (i32.const 75))
            (call $expect (call $path_link (i32.const 3) (i32.const 0) (str "f") (i32.const 4) (str "f")) (i32.const 75))
            (call $ok (call $path_rename (i32.const 3) (str "f") (i32.const 3) (str "g")))
            (call $print (str "ok")))"#,
    )
    .ok("ok");
    assert!(std::fs::read_dir(other.path()).unwrap().next().is_none());
}

/// C2 of the security review: a directory descriptor must keep naming the
/// directory it was opened on, not the path it was opened by. Each test
/// opens a directory, moves or removes it (or its parent), plants a guest
/// symlink at the old name leading to `outside/`, and then tries every kind
/// of access through the old descriptor: nothing outside the preopen may be
/// read, listed, stat'ed, created, overwritten, linked, moved or removed.
mod wasi_stale_dir_fd_escape {
    use super::*;

    /// Attempts through `$fd`, each reported as `name=errno;` (with the
    /// data obtained, if any) so the host can tell what leaked.
    const ATTACK: &str = r#"
        (i32.store (i32.const 40) (i32.const 0))
        ;; Read the sentinel.
        (call $print (str "read="))
        (local.set $e (call $try_open (local.get $fd) (i32.const 0) (str "secret") (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)))
        (call $print_num (i64.extend_i32_u (local.get $e)))
        (if (i32.eqz (local.get $e)) (then
            (drop (call $read (i32.load (i32.const 240)) (i32.const 1024) (i32.const 100)))
            (call $print (str ":"))
            (call $print (i32.const 1024) (i32.load (i32.const 40)))))
        ;; List the directory.
        (call $print (str ";readdir="))
        (local.set $e (call $fd_readdir (local.get $fd) (i32.const 2048) (i32.const 1000) (i64.const 0) (i32.const 256)))
        (call $print_num (i64.extend_i32_u (local.get $e)))
        (if (i32.eqz (local.get $e)) (then
            (call $print (str ":"))
            (call $print_num (i64.extend_i32_u (i32.load (i32.const 256))))
            (call $print (str ":"))
            (call $print (i32.const 2048) (i32.load (i32.const 256)))))
        ;; Stat the sentinel and the directory itself.
        (call $print (str ";stat="))
        (call $print_num (i64.extend_i32_u
            (call $path_filestat_get (local.get $fd) (i32.const 0) (str "secret") (i32.const 256))))
        (call $print (str ";fstat="))
        (local.set $e (call $fd_filestat_get (local.get $fd) (i32.const 512)))
        (call $print_num (i64.extend_i32_u (local.get $e)))
        (if (i32.eqz (local.get $e)) (then
            (call $print (str ":"))
            (call $print_num (i64.load (i32.const 520)))))
        ;; Create a file and write to it.
        (call $print (str ";create="))
        (local.set $e (call $try_open (local.get $fd) (i32.const 0) (str "x") (i32.const 9) (i64.const 0x40) (i64.const 0) (i32.const 0)))
        (call $print_num (i64.extend_i32_u (local.get $e)))
        (if (i32.eqz (local.get $e)) (then
            (drop (call $write (i32.load (i32.const 240)) (str "PWNED")))))
        ;; Overwrite the sentinel.
        (call $print (str ";overwrite="))
        (local.set $e (call $try_open (local.get $fd) (i32.const 0) (str "secret") (i32.const 8) (i64.const 0x40) (i64.const 0) (i32.const 0)))
        (call $print_num (i64.extend_i32_u (local.get $e)))
        (if (i32.eqz (local.get $e)) (then
            (drop (call $write (i32.load (i32.const 240)) (str "PWNED")))))
        ;; Other entries.
        (call $print (str ";mkdir="))
        (call $print_num (i64.extend_i32_u (call $path_create_directory (local.get $fd) (str "evil"))))
        (call $print (str ";symlink="))
        (call $print_num (i64.extend_i32_u (call $path_symlink (str "secret") (local.get $fd) (str "evil_link"))))
        ;; Pull the sentinel into the sandbox.
        (call $print (str ";link="))
        (call $print_num (i64.extend_i32_u
            (call $path_link (local.get $fd) (i32.const 0) (str "secret") (i32.const 3) (str "stolen_link"))))
        (call $print (str ";rename="))
        (call $print_num (i64.extend_i32_u
            (call $path_rename (local.get $fd) (str "secret") (i32.const 3) (str "stolen"))))
        ;; Remove it.
        (call $print (str ";unlink="))
        (call $print_num (i64.extend_i32_u (call $path_unlink_file (local.get $fd) (str "secret"))))
        (call $print (str ";"))
    "#;

    /// `bufused` of a listing holding only `.` and `..` (two 24-byte
    /// headers and the names).
    const ONLY_DOTS: usize = 24 + 1 + 24 + 2;

    /// Runs `setup` (which leaves the directory to attack in `$fd`), then
    /// [`ATTACK`]; returns what the guest reported.
    fn attack(w: &World, setup: &str) -> String {
        let out = run(
            Setup::dir("/", &w.top.join("sandbox")),
            &format!(
                "(func (export \"_start\") (local $fd i32) (local $e i32)\n{setup}\n{ATTACK}\n(call $print (str \"ok\")))"
            ),
        );
        assert_eq!(
            out.exit,
            Ok(0),
            "stdout: {}\nstderr: {}",
            out.stdout,
            out.stderr
        );
        let report = out.stdout;
        let outside_ino =
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(w.top.join("outside")).unwrap());
        // Nothing read, listed or described from outside.
        assert!(!report.contains("SECRET"), "read outside: {report}");
        assert!(!report.contains("secret"), "listed outside: {report}");
        assert!(
            !report.contains(&format!("fstat=0:{outside_ino};")),
            "stat'ed outside: {report}"
        );
        assert!(report.contains("stat=44;"), "stat'ed outside: {report}");
        // Nothing changed outside, nothing pulled in.
        w.assert_outside_untouched();
        assert!(!w.top.exists("sandbox/stolen") && !w.top.exists("sandbox/stolen_link"));
        report
    }

    fn world(tag: &str) -> World {
        World::new(tag)
    }

    /// The review's sequence: the directory is removed and a symlink put in
    /// its place. Like Linux, the descriptor now names an empty, deleted
    /// directory in which nothing can be created.
    #[test]
    fn removed() {
        let w = world("sbx-stale-rm");
        let report = attack(
            &w,
            r#"(call $ok (call $path_create_directory (i32.const 3) (str "d")))
               (local.set $fd (call $open (i32.const 3) (str "d") (i32.const 2) (i32.const 0)))
               (call $ok (call $path_remove_directory (i32.const 3) (str "d")))
               (call $ok (call $path_symlink (str "../outside") (i32.const 3) (str "d")))"#,
        );
        // Listing a deleted directory gives `noent` or nothing (Linux
        // versions and filesystems differ).
        assert!(
            report.starts_with("read=44;readdir=44;")
                || report.starts_with(&format!("read=44;readdir=0:{ONLY_DOTS}:")),
            "{report}"
        );
        assert!(
            report.ends_with(
                ";create=44;overwrite=44;mkdir=44;symlink=44;link=44;rename=44;unlink=44;ok"
            ),
            "{report}"
        );
        assert_eq!(
            std::fs::read_link(w.top.join("sandbox/d")).unwrap(),
            std::path::Path::new("../outside")
        );
    }

    /// The directory is renamed and a symlink planted at its old name: the
    /// descriptor follows the directory (POSIX semantics).
    #[test]
    fn renamed() {
        let w = world("sbx-stale-mv");
        let report = attack(
            &w,
            r#"(call $ok (call $path_create_directory (i32.const 3) (str "d")))
               (local.set $fd (call $open (i32.const 3) (str "d") (i32.const 2) (i32.const 0)))
               (call $ok (call $path_rename (i32.const 3) (str "d") (i32.const 3) (str "e")))
               (call $ok (call $path_symlink (str "../outside") (i32.const 3) (str "d")))"#,
        );
        assert_followed(&w, "sandbox/e", &report);
    }

    /// The directory is moved away and a ready-made symlink renamed onto
    /// its name (the atomic swap).
    #[test]
    fn replaced_by_symlink() {
        let w = world("sbx-stale-swap");
        let report = attack(
            &w,
            r#"(call $ok (call $path_create_directory (i32.const 3) (str "d")))
               (local.set $fd (call $open (i32.const 3) (str "d") (i32.const 2) (i32.const 0)))
               (call $ok (call $path_symlink (str "../outside") (i32.const 3) (str "tmp")))
               (call $ok (call $path_rename (i32.const 3) (str "d") (i32.const 3) (str "a/moved")))
               (call $ok (call $path_rename (i32.const 3) (str "tmp") (i32.const 3) (str "d")))"#,
        );
        assert_followed(&w, "sandbox/a/moved", &report);
    }

    /// A parent of the opened directory is moved away and replaced by a
    /// symlink, so that the descriptor's old path `p/outside` now names
    /// the real `outside/`.
    #[test]
    fn parent_swapped() {
        let w = world("sbx-stale-parent");
        let report = attack(
            &w,
            r#"(call $ok (call $path_create_directory (i32.const 3) (str "p")))
               (call $ok (call $path_create_directory (i32.const 3) (str "p/outside")))
               (local.set $fd (call $open (i32.const 3) (str "p/outside") (i32.const 2) (i32.const 0)))
               (call $ok (call $path_rename (i32.const 3) (str "p") (i32.const 3) (str "p2")))
               (call $ok (call $path_symlink (str "..") (i32.const 3) (str "p")))"#,
        );
        assert_followed(&w, "sandbox/p2/outside", &report);
    }

    /// The descriptor followed its directory to `dir`: what the guest
    /// created landed there, and the rest found nothing.
    fn assert_followed(w: &World, dir: &str, report: &str) {
        assert!(
            report.starts_with(&format!("read=44;readdir=0:{ONLY_DOTS}:")),
            "{report}"
        );
        assert!(
            report.ends_with(
                ";create=0;overwrite=44;mkdir=0;symlink=0;link=44;rename=44;unlink=44;ok"
            ),
            "{report}"
        );
        assert_eq!(w.top.read(&format!("{dir}/x")), "PWNED");
        assert!(w.top.exists(&format!("{dir}/evil")));
        assert!(w.top.exists(&format!("{dir}/evil_link")));
    }
}
