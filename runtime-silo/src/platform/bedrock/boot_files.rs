//! Read-only files from the boot archive (the cpio module the kernel hands
//! the first silo as `BOOT_ARCHIVE_HANDLE`), so that the runtime silo started
//! at boot can run the apps packed with it: `/hello.wasm` names the archive's
//! `hello.wasm`. Every other path goes to std (the libOS's schemes).

use std::io;
use std::path::Path;
use std::sync::OnceLock;

use bedrock_abi::user::silo::boot_archive;
use bedrock_initrd::Archive;

/// The archive, mapped once; `None` if this silo was not given one or it
/// does not parse (then only std paths work).
fn archive() -> Option<Archive<'static>> {
    static ARCHIVE: OnceLock<Option<Archive<'static>>> = OnceLock::new();
    *ARCHIVE.get_or_init(|| Archive::parse(boot_archive().ok()?).ok())
}

/// The archive entry `path` names: `/NAME` with no further `/`.
fn boot_name(path: &Path) -> Option<&str> {
    let name = path.to_str()?.strip_prefix('/')?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// Reads `path`: a boot-archive file for `/NAME`, else through std.
pub(in crate::platform) fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    if let Some(name) = boot_name(path) {
        let Some(archive) = archive() else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "this silo was given no boot archive",
            ));
        };
        return match archive.find(name) {
            Some(file) => Ok(file.data.to_vec()),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no such file in the boot archive",
            )),
        };
    }
    std::fs::read(path)
}
