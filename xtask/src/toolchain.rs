//! Finding the cross toolchain: the cargo + rustc pair that builds the kernel.
//!
//! The kernel target (`x86_64-unknown-none`) ships no precompiled `core`, so
//! the kernel is built with `-Zbuild-std`, which needs the standard library
//! sources of exactly the compiler in use (`<sysroot>/lib/rustlib/src`). The
//! host toolchain pinned in `rust-toolchain.toml` may lack them, and `rustup
//! component add rust-src` cannot download on every machine, so any toolchain
//! that has them will do, tried in this order:
//!
//! 1. `$BEDROCK_CROSS_TOOLCHAIN`: a directory holding `cargo` and `rustc`, or
//!    a rustup toolchain name. Explicit, so it must work: no fallback.
//! 2. The first rustup toolchain with `rust-src`.
//! 3. Debian's `/usr/bin/{cargo,rustc}` (packages `rustc-web`, `cargo-web`,
//!    `rust-web-src`), which can be installed without rustup's servers.
//!
//! `-Z` flags need nightly; `RUSTC_BOOTSTRAP=1` unlocks them on any channel.

use std::env;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Context, Error, Result, bail};
use crate::process::{is_executable, output_of, which};

/// Environment variable that names the cross toolchain explicitly.
pub const OVERRIDE_VAR: &str = "BEDROCK_CROSS_TOOLCHAIN";

/// Where Debian's rustc-web installs the compiler and cargo.
const DEBIAN_BIN: &str = "/usr/bin";

/// Variables that the environment of xtask may carry (rustup's proxy sets
/// the first, a developer's shell the others) and that would make the cross
/// cargo use another rustc, wrap it, or pass it flags meant for the host.
const INHERITED_VARS_TO_CLEAR: &[&str] = &[
    "RUSTUP_TOOLCHAIN",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_BUILD_RUSTC",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTDOC",
    "CARGO_BUILD_TARGET",
];

/// Where a toolchain was found; also how to describe it to a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `$BEDROCK_CROSS_TOOLCHAIN`, with its value.
    Override(String),
    /// A rustup toolchain, by name.
    Rustup(String),
    /// Debian's packaged compiler in `/usr/bin`.
    Debian,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Override(value) => write!(f, "${OVERRIDE_VAR}={value}"),
            Source::Rustup(name) => write!(f, "rustup toolchain {name}"),
            Source::Debian => f.write_str("Debian rustc-web/cargo-web"),
        }
    }
}

/// A cargo + rustc pair that exists, with what discovery learned about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub source: Source,
    pub cargo: PathBuf,
    pub rustc: PathBuf,
    pub sysroot: PathBuf,
    /// Whether `<sysroot>/lib/rustlib/src/rust/library/core` exists.
    pub has_rust_src: bool,
}

/// Everything discovery found, in no particular preference; see [`choose`].
#[derive(Debug, Default)]
pub struct Facts {
    pub overridden: Option<Candidate>,
    pub rustup: Vec<Candidate>,
    pub debian: Option<Candidate>,
}

/// How the kernel gets linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linker {
    /// The toolchain's own `rust-lld`: the target's default, no flag needed.
    RustLld,
    /// LLVM's `ld.lld` from the host (Debian's rustc-web has no `rust-lld`).
    LdLld,
}

impl fmt::Display for Linker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Linker::RustLld => "rust-lld (bundled with the toolchain)",
            Linker::LdLld => "ld.lld (host lld)",
        })
    }
}

/// The chosen, usable cross toolchain.
#[derive(Clone, Debug)]
pub struct CrossToolchain {
    pub source: Source,
    pub cargo: PathBuf,
    pub rustc: PathBuf,
    /// `rustdoc` next to `rustc`, if there is one.
    pub rustdoc: Option<PathBuf>,
    pub sysroot: PathBuf,
    /// `rustc -V`, e.g. `rustc 1.96.0 (ac68faa20 2026-05-25)`.
    pub version: String,
    /// The compiler's host triple, where its `rust-lld` would live.
    pub host: String,
    pub linker: Linker,
}

impl CrossToolchain {
    /// A `cargo` command of this toolchain whose children can only reach
    /// this toolchain's `rustc`.
    ///
    /// xtask runs under rustup's proxy, which exports `RUSTUP_TOOLCHAIN`; a
    /// child cargo that found `rustc` on `$PATH` would get the host
    /// toolchain back through the proxy, and `-Zbuild-std` would then
    /// compile one version's sources with another version's compiler.
    pub fn cargo_command(&self) -> Command {
        let mut command = Command::new(&self.cargo);
        for var in INHERITED_VARS_TO_CLEAR {
            command.env_remove(var);
        }
        command
            .env("RUSTC", &self.rustc)
            .env("RUSTC_BOOTSTRAP", "1");
        match &self.rustdoc {
            Some(rustdoc) => command.env("RUSTDOC", rustdoc),
            None => command.env_remove("RUSTDOC"),
        };
        command
    }
}

/// The directory of the standard library sources in a sysroot.
pub fn rust_src_dir(sysroot: &Path) -> PathBuf {
    sysroot.join("lib/rustlib/src/rust/library")
}

/// Picks the toolchain to use from what discovery found.
///
/// An override is taken or rejected as is; otherwise rustup toolchains come
/// before Debian's, because a developer who installed `rust-src` with rustup
/// chose that toolchain deliberately. `Ok(None)` means nothing usable exists
/// yet (and Debian's packages would provide one).
pub fn choose(facts: Facts) -> Result<Option<Candidate>> {
    if let Some(chosen) = facts.overridden {
        if !chosen.has_rust_src {
            let name = match &chosen.source {
                Source::Override(value) if !value.contains('/') => value.as_str(),
                _ => "<name>",
            };
            bail!(
                "{} has no standard library sources ({} is missing); \
                 with rustup: rustup component add rust-src --toolchain {name}",
                chosen.source,
                rust_src_dir(&chosen.sysroot).join("core").display()
            );
        }
        return Ok(Some(chosen));
    }
    Ok(facts
        .rustup
        .into_iter()
        .chain(facts.debian)
        .find(|c| c.has_rust_src))
}

/// Looks at this machine and returns the cross toolchain, if any.
pub fn discover() -> Result<Option<CrossToolchain>> {
    choose(gather_facts()?)?.map(finish).transpose()
}

fn gather_facts() -> Result<Facts> {
    if let Some(value) = env::var_os(OVERRIDE_VAR).filter(|v| !v.is_empty()) {
        let value = value
            .into_string()
            .map_err(|v| Error::new(format!("${OVERRIDE_VAR} is not UTF-8: {v:?}")))?;
        let candidate = probe_override(&value).context(|| format!("${OVERRIDE_VAR}={value}"))?;
        return Ok(Facts {
            overridden: Some(candidate),
            ..Facts::default()
        });
    }
    Ok(Facts {
        overridden: None,
        rustup: probe_rustup(),
        debian: probe_debian(),
    })
}

/// What a `$BEDROCK_CROSS_TOOLCHAIN` value means.
#[derive(Debug, PartialEq, Eq)]
enum OverrideKind {
    Directory,
    RustupName,
}

/// A value naming an existing directory, or that looks like a path, is a
/// directory; anything else is a rustup toolchain name (which has no `/`).
fn override_kind(value: &str, is_dir: bool) -> Result<OverrideKind> {
    if is_dir {
        Ok(OverrideKind::Directory)
    } else if value.contains('/') {
        bail!("not a directory")
    } else {
        Ok(OverrideKind::RustupName)
    }
}

fn probe_override(value: &str) -> Result<Candidate> {
    let source = Source::Override(value.to_owned());
    match override_kind(value, Path::new(value).is_dir())? {
        OverrideKind::Directory => {
            let dir = Path::new(value);
            probe_pair(source, &dir.join("cargo"), &dir.join("rustc"))
        }
        OverrideKind::RustupName => {
            let Some(rustup) = which("rustup") else {
                bail!("not a directory, and rustup (for a toolchain name) is not installed");
            };
            probe_rustup_toolchain(&rustup, value).map(|mut c| {
                c.source = source;
                c
            })
        }
    }
}

/// All installed rustup toolchains; none if rustup is absent or fails, as
/// that only means this source has nothing to offer.
fn probe_rustup() -> Vec<Candidate> {
    let Some(rustup) = which("rustup") else {
        return Vec::new();
    };
    let mut list = Command::new(&rustup);
    list.args(["toolchain", "list"]);
    let Ok(listing) = output_of(list) else {
        return Vec::new();
    };
    parse_toolchain_list(&listing)
        .into_iter()
        .filter_map(|name| probe_rustup_toolchain(&rustup, name).ok())
        .collect()
}

/// Names from `rustup toolchain list` ("stable-x86_64-... (default)").
fn parse_toolchain_list(listing: &str) -> Vec<&str> {
    listing
        .lines()
        .filter(|line| !line.starts_with("no installed toolchains"))
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

/// A rustup toolchain's binaries, found through its sysroot so that the
/// proxies (which obey `RUSTUP_TOOLCHAIN`) are bypassed.
fn probe_rustup_toolchain(rustup: &Path, name: &str) -> Result<Candidate> {
    let mut query = Command::new(rustup);
    query.args(["run", name, "rustc", "--print", "sysroot"]);
    let sysroot = PathBuf::from(output_of(query)?);
    let bin = sysroot.join("bin");
    probe_pair(
        Source::Rustup(name.to_owned()),
        &bin.join("cargo"),
        &bin.join("rustc"),
    )
}

fn probe_debian() -> Option<Candidate> {
    let bin = Path::new(DEBIAN_BIN);
    probe_pair(Source::Debian, &bin.join("cargo"), &bin.join("rustc")).ok()
}

/// Checks that both binaries exist and asks the compiler for its sysroot.
fn probe_pair(source: Source, cargo: &Path, rustc: &Path) -> Result<Candidate> {
    for binary in [cargo, rustc] {
        if !is_executable(binary) {
            bail!("{} does not exist", binary.display());
        }
    }
    let mut query = Command::new(rustc);
    query
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["--print", "sysroot"]);
    let sysroot = PathBuf::from(output_of(query)?);
    let has_rust_src = rust_src_dir(&sysroot).join("core").is_dir();
    Ok(Candidate {
        source,
        cargo: cargo.to_owned(),
        rustc: rustc.to_owned(),
        sysroot,
        has_rust_src,
    })
}

/// Completes a chosen candidate with its version, host and linker.
fn finish(candidate: Candidate) -> Result<CrossToolchain> {
    let mut query = Command::new(&candidate.rustc);
    query.env_remove("RUSTUP_TOOLCHAIN").arg("-vV");
    let verbose = output_of(query)?;
    let (version, host) = parse_verbose_version(&verbose).ok_or_else(|| {
        Error::new(format!(
            "unexpected `{} -vV` output:\n{verbose}",
            candidate.rustc.display()
        ))
    })?;
    let rust_lld = candidate
        .sysroot
        .join("lib/rustlib")
        .join(&host)
        .join("bin/rust-lld");
    let linker = if is_executable(&rust_lld) {
        Linker::RustLld
    } else {
        Linker::LdLld
    };
    let rustdoc = candidate.rustc.with_file_name("rustdoc");
    Ok(CrossToolchain {
        rustdoc: is_executable(&rustdoc).then_some(rustdoc),
        source: candidate.source,
        cargo: candidate.cargo,
        rustc: candidate.rustc,
        sysroot: candidate.sysroot,
        version,
        host,
        linker,
    })
}

/// The first line and the `host:` field of `rustc -vV`.
fn parse_verbose_version(text: &str) -> Option<(String, String)> {
    let first = text.lines().next()?.trim();
    let host = text
        .lines()
        .find_map(|line| line.strip_prefix("host: "))?
        .trim();
    (!first.is_empty() && !host.is_empty()).then(|| (first.to_owned(), host.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(source: Source, has_rust_src: bool) -> Candidate {
        Candidate {
            source,
            cargo: "/x/cargo".into(),
            rustc: "/x/rustc".into(),
            sysroot: "/x".into(),
            has_rust_src,
        }
    }

    fn rustup(name: &str, src: bool) -> Candidate {
        candidate(Source::Rustup(name.into()), src)
    }

    #[test]
    fn override_wins_even_over_usable_others() {
        let facts = Facts {
            overridden: Some(candidate(Source::Override("/opt/tc".into()), true)),
            rustup: vec![rustup("nightly", true)],
            debian: Some(candidate(Source::Debian, true)),
        };
        let chosen = choose(facts).unwrap().unwrap();
        assert_eq!(chosen.source, Source::Override("/opt/tc".into()));
    }

    #[test]
    fn override_without_sources_is_an_error_not_a_fallback() {
        let facts = Facts {
            overridden: Some(candidate(Source::Override("nightly".into()), false)),
            rustup: vec![],
            debian: Some(candidate(Source::Debian, true)),
        };
        let err = choose(facts).unwrap_err().to_string();
        assert!(err.contains("rust-src"), "{err}");
    }

    #[test]
    fn first_rustup_toolchain_with_sources_comes_before_debian() {
        let facts = Facts {
            overridden: None,
            rustup: vec![rustup("stable", false), rustup("nightly", true)],
            debian: Some(candidate(Source::Debian, true)),
        };
        let chosen = choose(facts).unwrap().unwrap();
        assert_eq!(chosen.source, Source::Rustup("nightly".into()));
    }

    #[test]
    fn debian_is_the_fallback_and_nothing_is_none() {
        let facts = Facts {
            overridden: None,
            rustup: vec![rustup("stable", false)],
            debian: Some(candidate(Source::Debian, true)),
        };
        assert_eq!(choose(facts).unwrap().unwrap().source, Source::Debian);

        let facts = Facts {
            overridden: None,
            rustup: vec![rustup("stable", false)],
            debian: Some(candidate(Source::Debian, false)),
        };
        assert_eq!(choose(facts).unwrap(), None);
    }

    #[test]
    fn override_value_kinds() {
        assert_eq!(
            override_kind("/opt/rust/bin", true).unwrap(),
            OverrideKind::Directory
        );
        assert_eq!(
            override_kind("nightly", false).unwrap(),
            OverrideKind::RustupName
        );
        assert!(override_kind("/no/such/dir", false).is_err());
    }

    #[test]
    fn toolchain_list_parsing() {
        let listing = "stable-x86_64-unknown-linux-gnu (default)\n\
                       nightly-x86_64-unknown-linux-gnu\n\
                       1.95.0-x86_64-unknown-linux-gnu (active)\n";
        assert_eq!(
            parse_toolchain_list(listing),
            [
                "stable-x86_64-unknown-linux-gnu",
                "nightly-x86_64-unknown-linux-gnu",
                "1.95.0-x86_64-unknown-linux-gnu"
            ]
        );
        assert!(parse_toolchain_list("no installed toolchains\n").is_empty());
    }

    #[test]
    fn verbose_version_parsing() {
        let text = "rustc 1.96.0 (ac68faa20 2026-05-25) (built from a source tarball)\n\
                    binary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.96.0\n";
        let (version, host) = parse_verbose_version(text).unwrap();
        assert!(version.starts_with("rustc 1.96.0"));
        assert_eq!(host, "x86_64-unknown-linux-gnu");
        assert_eq!(parse_verbose_version("rustc 1.0\n"), None);
    }
}
