//! Sandboxed resolution of guest paths, over any [`FsProvider`].
//!
//! A guest path is always relative to a directory descriptor, and the
//! directory that descriptor names is the root of what the path may reach
//! (capability semantics, as in wasmtime/cap-std): a descriptor obtained by
//! opening `sub` from a preopen cannot reach `sub/..` either.
//!
//! Resolution walks the path one component at a time over the provider:
//! - absolute paths are refused;
//! - `.` and empty components (`a//b`) are skipped;
//! - `..` pops the last resolved directory, and is refused at the root;
//! - every intermediate component is looked up without following; a symlink
//!   is expanded by us (its target's components are pushed in front of the
//!   rest of the path) so its `..`s are checked exactly like the guest's own;
//!   an absolute target is refused; after [`MAX_SYMLINK_EXPANSIONS`]
//!   expansions the walk fails with `loop` (Linux's limit, so symlink cycles
//!   end there);
//! - the last component is followed only when asked (`symlink_follow`, or a
//!   trailing slash where the operation says so).
//!
//! Escapes are refused with `perm` (`ERRNO_PERM`), the value wasmtime
//! (through cap-std) returns and the WASI test suite expects; `notcapable` is
//! kept for missing rights. Because the resolver is physical (it resolves
//! `link/..` after expanding `link`, as POSIX does), `..` through a symlink
//! that stays inside the tree works, and one that leaves is refused.

use std::collections::VecDeque;

use super::abi::{Errno, Filetype, WasiResult};
use super::fs::{FsPath, FsProvider, Metadata, is_plain_name};

/// Symlink expansions allowed in one resolution (Linux's `MAXSYMLINKS`).
pub(crate) const MAX_SYMLINK_EXPANSIONS: usize = 40;

/// Longest path (bytes) accepted from a guest, POSIX `PATH_MAX`. Bounds the
/// work one call can cause; symlink targets are bounded by the provider.
pub(crate) const MAX_PATH_LEN: usize = 4096;

/// The outcome of resolving a path: the directory holding the final
/// component, and that component.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The directory containing the target (already resolved, no symlinks).
    pub parent: FsPath,
    /// The final name; `None` when the path designates `parent` itself
    /// (`.`, `a/..`, a symlink to `.`).
    pub name: Option<String>,
    /// The path ended with `/` (or `/.`): the target must be a directory.
    pub must_be_dir: bool,
}

impl Resolved {
    /// The full path of the target.
    pub(crate) fn path(&self) -> FsPath {
        match &self.name {
            Some(name) => self.parent.join(name),
            None => self.parent.clone(),
        }
    }

    /// The final name, for operations that create or remove a directory
    /// entry; a path naming a directory itself (`.`) gets `error`.
    pub(crate) fn entry_name(&self, error: Errno) -> WasiResult<&str> {
        self.name.as_deref().ok_or(error)
    }

    /// Metadata of the target itself (not followed), `None` if it does not
    /// exist. Other lookup errors propagate.
    pub(crate) fn lookup(&self, fs: &dyn FsProvider) -> WasiResult<Option<Metadata>> {
        match fs.metadata(&self.path()) {
            Ok(meta) => Ok(Some(meta)),
            Err(Errno::Noent) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

enum Component {
    Parent,
    Name(String),
}

/// Whether a guest path ends with a slash or `/.` (so it must name a
/// directory and a final symlink is followed, as in POSIX).
pub(crate) fn has_trailing_slash(path: &str) -> bool {
    let trimmed = path.trim_end_matches('/');
    trimmed.len() != path.len() || trimmed.ends_with("/.") || trimmed == "."
}

/// Splits `path` into pending components; returns whether it ended with a
/// slash or a `.` (the last real component must then be a directory).
fn split(path: &str, pending: &mut VecDeque<Component>) -> WasiResult<bool> {
    let mut parts = Vec::new();
    let mut trailing_dir = false;
    for part in path.split('/') {
        match part {
            "" | "." => trailing_dir = true,
            ".." => {
                parts.push(Component::Parent);
                trailing_dir = false;
            }
            name => {
                if name.contains('\0') {
                    return Err(Errno::Inval);
                }
                parts.push(Component::Name(name.to_owned()));
                trailing_dir = false;
            }
        }
    }
    for part in parts.into_iter().rev() {
        pending.push_front(part);
    }
    Ok(trailing_dir)
}

/// Resolves `path` relative to the directory `base` of `fs`.
///
/// `follow_final` asks for a symlink in the last position to be expanded.
/// The result never leaves `base`.
pub(crate) fn resolve(
    fs: &dyn FsProvider,
    base: &FsPath,
    path: &str,
    follow_final: bool,
) -> WasiResult<Resolved> {
    if path.is_empty() {
        return Err(Errno::Noent);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(Errno::Nametoolong);
    }
    if path.starts_with('/') {
        return Err(Errno::Perm);
    }
    let floor = base.depth();
    let mut current = base.clone();
    let mut pending = VecDeque::new();
    let mut must_be_dir = split(path, &mut pending)?;
    let mut expansions = 0;

    while let Some(component) = pending.pop_front() {
        let name = match component {
            Component::Parent => {
                if current.depth() <= floor {
                    return Err(Errno::Perm);
                }
                current.pop();
                continue;
            }
            Component::Name(name) => name,
        };
        debug_assert!(is_plain_name(&name));
        let last = pending.is_empty();
        if last && !follow_final {
            return Ok(Resolved {
                parent: current,
                name: Some(name),
                must_be_dir,
            });
        }
        let candidate = current.join(&name);
        let meta = match fs.metadata(&candidate) {
            Ok(meta) => meta,
            Err(Errno::Noent) if last => {
                return Ok(Resolved {
                    parent: current,
                    name: Some(name),
                    must_be_dir,
                });
            }
            Err(e) => return Err(e),
        };
        match meta.filetype {
            Filetype::SymbolicLink => {
                expansions += 1;
                if expansions > MAX_SYMLINK_EXPANSIONS {
                    return Err(Errno::Loop);
                }
                let target = fs.read_link(&candidate)?;
                if target.is_empty() {
                    return Err(Errno::Noent);
                }
                if target.starts_with('/') {
                    return Err(Errno::Perm);
                }
                let target_dir = split(&target, &mut pending)?;
                if last {
                    // The target's own trailing slash now ends the path.
                    must_be_dir |= target_dir;
                }
            }
            Filetype::Directory => {
                if last {
                    return Ok(Resolved {
                        parent: current,
                        name: Some(name),
                        must_be_dir,
                    });
                }
                current.push(&name);
            }
            _ => {
                if last {
                    return Ok(Resolved {
                        parent: current,
                        name: Some(name),
                        must_be_dir,
                    });
                }
                return Err(Errno::Notdir);
            }
        }
    }
    Ok(Resolved {
        parent: current,
        name: None,
        must_be_dir: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasi::fs::{DirEntry, FileHandle, OpenOptions, TimeChange};
    use std::collections::HashMap;

    /// An in-memory tree: path string -> symlink target or directory marker.
    struct Fake(HashMap<String, Option<String>>);

    impl Fake {
        fn new(entries: &[(&str, Option<&str>)]) -> Self {
            Fake(
                entries
                    .iter()
                    .map(|(p, t)| (p.to_string(), t.map(str::to_string)))
                    .collect(),
            )
        }
    }

    fn meta(filetype: Filetype) -> Metadata {
        Metadata {
            filetype,
            dev: 0,
            ino: 0,
            nlink: 1,
            size: 0,
            atim: 0,
            mtim: 0,
            ctim: 0,
        }
    }

    impl FsProvider for Fake {
        fn metadata(&self, path: &FsPath) -> WasiResult<Metadata> {
            if path.is_root() {
                return Ok(meta(Filetype::Directory));
            }
            match self.0.get(&path.to_string()) {
                Some(Some(t)) if t == "<file>" => Ok(meta(Filetype::RegularFile)),
                Some(Some(_)) => Ok(meta(Filetype::SymbolicLink)),
                Some(None) => Ok(meta(Filetype::Directory)),
                None => Err(Errno::Noent),
            }
        }
        fn read_link(&self, path: &FsPath) -> WasiResult<String> {
            self.0
                .get(&path.to_string())
                .cloned()
                .flatten()
                .ok_or(Errno::Inval)
        }
        fn open_file(&self, _: &FsPath, _: &OpenOptions) -> WasiResult<Box<dyn FileHandle>> {
            Err(Errno::Notsup)
        }
        fn read_dir(&self, _: &FsPath) -> WasiResult<Vec<DirEntry>> {
            Err(Errno::Notsup)
        }
        fn create_dir(&self, _: &FsPath) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn remove_dir(&self, _: &FsPath) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn remove_file(&self, _: &FsPath) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn rename(&self, _: &FsPath, _: &FsPath) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn hard_link(&self, _: &FsPath, _: &FsPath) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn symlink(&self, _: &str, _: &FsPath) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn set_times(&self, _: &FsPath, _: TimeChange, _: TimeChange) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
    }

    fn tree() -> Fake {
        Fake::new(&[
            ("a", None),
            ("a/b", None),
            ("a/f", Some("<file>")),
            ("up", Some("..")),
            ("in", Some("a/b/..")),
            ("out", Some("../x")),
            ("abs", Some("/etc")),
            ("loop1", Some("loop2")),
            ("loop2", Some("loop1")),
            ("self", Some(".")),
            ("a/b/toa", Some("../f")),
        ])
    }

    fn show(r: WasiResult<Resolved>) -> Result<String, Errno> {
        r.map(|r| format!("{}|{}", r.path(), r.must_be_dir))
    }

    #[test]
    fn resolves_inside() {
        let fs = tree();
        let root = FsPath::root();
        assert_eq!(
            show(resolve(&fs, &root, "a/b/../f", true)),
            Ok("a/f|false".into())
        );
        assert_eq!(
            show(resolve(&fs, &root, "a//b/./", true)),
            Ok("a/b|true".into())
        );
        assert_eq!(show(resolve(&fs, &root, ".", true)), Ok(".|true".into()));
        assert_eq!(
            show(resolve(&fs, &root, "in/f", true)),
            Ok("a/f|false".into())
        );
        assert_eq!(
            show(resolve(&fs, &root, "a/b/toa", true)),
            Ok("a/f|false".into())
        );
        assert_eq!(
            show(resolve(&fs, &root, "a/b/toa", false)),
            Ok("a/b/toa|false".into())
        );
        assert_eq!(
            show(resolve(&fs, &root, "self/a", true)),
            Ok("a|false".into())
        );
        assert_eq!(
            show(resolve(&fs, &root, "a/new", true)),
            Ok("a/new|false".into())
        );
    }

    #[test]
    fn refuses_escapes() {
        let fs = tree();
        let root = FsPath::root();
        assert_eq!(show(resolve(&fs, &root, "/a", true)), Err(Errno::Perm));
        assert_eq!(show(resolve(&fs, &root, "..", true)), Err(Errno::Perm));
        assert_eq!(show(resolve(&fs, &root, "a/../..", true)), Err(Errno::Perm));
        assert_eq!(show(resolve(&fs, &root, "up/a", true)), Err(Errno::Perm));
        assert_eq!(show(resolve(&fs, &root, "out", true)), Err(Errno::Perm));
        assert_eq!(
            show(resolve(&fs, &root, "abs/passwd", true)),
            Err(Errno::Perm)
        );
        assert_eq!(show(resolve(&fs, &root, "loop1", true)), Err(Errno::Loop));
        assert_eq!(show(resolve(&fs, &root, "a/f/x", true)), Err(Errno::Notdir));
        assert_eq!(show(resolve(&fs, &root, "nope/x", true)), Err(Errno::Noent));
        assert_eq!(show(resolve(&fs, &root, "", true)), Err(Errno::Noent));
        // Not following the last component does not look at it at all.
        assert_eq!(
            show(resolve(&fs, &root, "out", false)),
            Ok("out|false".into())
        );
        // A descriptor's own directory is the floor.
        let a = FsPath::root().join("a");
        assert_eq!(show(resolve(&fs, &a, "../a", true)), Err(Errno::Perm));
        assert_eq!(show(resolve(&fs, &a, "b/..", true)), Ok("a|true".into()));
    }

    #[test]
    fn trailing_slash_detection() {
        assert!(has_trailing_slash("a/"));
        assert!(has_trailing_slash("a/."));
        assert!(has_trailing_slash("."));
        assert!(!has_trailing_slash("a"));
        assert!(!has_trailing_slash("a/.."));
    }
}
