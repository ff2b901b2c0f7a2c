//! Sandboxed resolution of guest paths, over any [`FsProvider`].
//!
//! A guest path is always relative to a directory descriptor, and the
//! directory that descriptor names is the root of what the path may reach
//! (capability semantics, as in wasmtime/cap-std): a descriptor obtained by
//! opening `sub` from a preopen cannot reach `sub/..` either.
//!
//! Resolution walks the path one component at a time over the provider,
//! starting from the descriptor's [`DirHandle`] and descending with
//! [`FsProvider::open_dir`] (which never follows a symlink), so it only ever
//! asks the provider about one plain name in a directory it holds a handle
//! on:
//! - absolute paths are refused;
//! - `.` and empty components (`a//b`) are skipped;
//! - `..` goes back to the previous directory, and is refused at the
//!   descriptor's directory; the host is never asked to resolve `..`: the
//!   names walked so far are re-walked from the descriptor's handle;
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
use super::fs::{DirHandle, FsPath, FsProvider, Metadata, is_plain_name};

/// Symlink expansions allowed in one resolution (Linux's `MAXSYMLINKS`).
pub(crate) const MAX_SYMLINK_EXPANSIONS: usize = 40;

/// Longest path (bytes) accepted from a guest, POSIX `PATH_MAX`. Bounds the
/// work one call can cause; symlink targets are bounded by the provider.
pub(crate) const MAX_PATH_LEN: usize = 4096;

/// The outcome of resolving a path: the directory holding the final
/// component, and that component.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The directory containing the target (reached without following any
    /// symlink on the host).
    pub parent: DirHandle,
    /// The final name; `None` when the path designates `parent` itself
    /// (`.`, `a/..`, a symlink to `.`).
    pub name: Option<String>,
    /// The path ended with `/` (or `/.`): the target must be a directory.
    pub must_be_dir: bool,
}

impl Resolved {
    /// The final name, for operations that create or remove a directory
    /// entry; a path naming a directory itself (`.`) gets `error`.
    pub(crate) fn entry_name(&self, error: Errno) -> WasiResult<&str> {
        self.name.as_deref().ok_or(error)
    }

    /// Metadata of the target itself (not followed), `None` if it does not
    /// exist. Other lookup errors propagate.
    pub(crate) fn lookup(&self, fs: &dyn FsProvider) -> WasiResult<Option<Metadata>> {
        match fs.metadata(&self.parent, self.name.as_deref()) {
            Ok(meta) => Ok(Some(meta)),
            Err(Errno::Noent) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens the target, known to be a directory, as a directory handle.
    pub(crate) fn open_dir(&self, fs: &dyn FsProvider) -> WasiResult<DirHandle> {
        match &self.name {
            Some(name) => fs.open_dir(&self.parent, name),
            None => Ok(self.parent.clone()),
        }
    }
}

/// Where a resolution is: the directories descended into from the base (by
/// name) and a handle on the last one.
struct Position<'a> {
    fs: &'a dyn FsProvider,
    base: &'a DirHandle,
    names: FsPath,
    current: DirHandle,
}

impl Position<'_> {
    fn down(&mut self, name: &str) -> WasiResult<()> {
        self.current = self.fs.open_dir(&self.current, name)?;
        self.names.push(name);
        Ok(())
    }

    /// Back to the parent directory: re-walked from the base, never through
    /// a host `..`. `perm` at the base.
    fn up(&mut self) -> WasiResult<()> {
        if !self.names.pop() {
            return Err(Errno::Perm);
        }
        let mut current = self.base.clone();
        for name in self.names.components() {
            current = self.fs.open_dir(&current, name)?;
        }
        self.current = current;
        Ok(())
    }

    fn resolved(self, name: Option<String>, must_be_dir: bool) -> Resolved {
        Resolved {
            parent: self.current,
            name,
            must_be_dir,
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
    base: &DirHandle,
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
    let mut at = Position {
        fs,
        base,
        names: FsPath::root(),
        current: base.clone(),
    };
    let mut pending = VecDeque::new();
    let mut must_be_dir = split(path, &mut pending)?;
    let mut expansions = 0;

    while let Some(component) = pending.pop_front() {
        let name = match component {
            Component::Parent => {
                at.up()?;
                continue;
            }
            Component::Name(name) => name,
        };
        debug_assert!(is_plain_name(&name));
        let last = pending.is_empty();
        if last && !follow_final {
            return Ok(at.resolved(Some(name), must_be_dir));
        }
        let meta = match fs.metadata(&at.current, Some(&name)) {
            Ok(meta) => meta,
            Err(Errno::Noent) if last => return Ok(at.resolved(Some(name), must_be_dir)),
            Err(e) => return Err(e),
        };
        match meta.filetype {
            Filetype::SymbolicLink => {
                expansions += 1;
                if expansions > MAX_SYMLINK_EXPANSIONS {
                    return Err(Errno::Loop);
                }
                let target = fs.read_link(&at.current, &name)?;
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
            Filetype::Directory if !last => at.down(&name)?,
            _ if last => return Ok(at.resolved(Some(name), must_be_dir)),
            _ => return Err(Errno::Notdir),
        }
    }
    Ok(at.resolved(None, true))
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

    /// The fake's directory handle is the path from the root.
    fn path_of(dir: &DirHandle, name: Option<&str>) -> FsPath {
        let mut path = dir.get::<FsPath>().expect("a Fake handle").clone();
        if let Some(name) = name {
            path.push(name);
        }
        path
    }

    impl FsProvider for Fake {
        fn root_dir(&self) -> WasiResult<DirHandle> {
            Ok(DirHandle::new(FsPath::root()))
        }
        fn open_dir(&self, dir: &DirHandle, name: &str) -> WasiResult<DirHandle> {
            match self.metadata(dir, Some(name))?.filetype {
                Filetype::Directory => Ok(DirHandle::new(path_of(dir, Some(name)))),
                _ => Err(Errno::Notdir),
            }
        }
        fn metadata(&self, dir: &DirHandle, name: Option<&str>) -> WasiResult<Metadata> {
            let path = path_of(dir, name);
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
        fn read_link(&self, dir: &DirHandle, name: &str) -> WasiResult<String> {
            self.0
                .get(&path_of(dir, Some(name)).to_string())
                .cloned()
                .flatten()
                .ok_or(Errno::Inval)
        }
        fn open_file(
            &self,
            _: &DirHandle,
            _: &str,
            _: &OpenOptions,
        ) -> WasiResult<Box<dyn FileHandle>> {
            Err(Errno::Notsup)
        }
        fn read_dir(&self, _: &DirHandle) -> WasiResult<Vec<DirEntry>> {
            Err(Errno::Notsup)
        }
        fn create_dir(&self, _: &DirHandle, _: &str) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn remove_dir(&self, _: &DirHandle, _: &str) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn remove_file(&self, _: &DirHandle, _: &str) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn rename(&self, _: &DirHandle, _: &str, _: &DirHandle, _: &str) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn hard_link(&self, _: &DirHandle, _: &str, _: &DirHandle, _: &str) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn symlink(&self, _: &str, _: &DirHandle, _: &str) -> WasiResult<()> {
            Err(Errno::Notsup)
        }
        fn set_times(
            &self,
            _: &DirHandle,
            _: Option<&str>,
            _: TimeChange,
            _: TimeChange,
        ) -> WasiResult<()> {
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
        r.map(|r| {
            format!(
                "{}|{}",
                path_of(&r.parent, r.name.as_deref()),
                r.must_be_dir
            )
        })
    }

    #[test]
    fn resolves_inside() {
        let fs = tree();
        let root = DirHandle::new(FsPath::root());
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
        let root = DirHandle::new(FsPath::root());
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
        let mut a = FsPath::root();
        a.push("a");
        let a = DirHandle::new(a);
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
