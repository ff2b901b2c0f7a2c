//! `runtime-silo boot MANIFEST`: deploys the apps a boot manifest lists,
//! with their limits, and reports how each ended.
//!
//! The manifest is TOML (parsed by the `toml` crate; unknown keys are
//! errors, so a typo never silently drops a limit):
//!
//! ```toml
//! [[app]]
//! name = "hello"            # shown in reports; the app's argv[0]
//! wasm = "/hello.wasm"      # on Bedrock: a boot-archive file; else any path
//! args = ["world"]
//! env = { GREETING = "hi" }
//! memory_mib = 64           # linear memory limit (default: Limits::default)
//! file_mib = 1024           # largest file the app may write (default: Limits::default)
//! wall_ms = 2000            # wall-clock deadline
//! cpu_ms = 1000             # CPU-time deadline
//! stdin = "text"
//! after_previous = false    # true: wait until every app above has ended
//! expect = "exited"         # optional: the status tag the app must end with
//! expect_detail = "code 0"  # optional: text its status description must contain
//! expect_stdout = "..."     # optional: its whole standard output
//! ```
//!
//! Apps start in order, each as soon as it is reached (so all at once unless
//! `after_previous` holds one back). Output, one line each, in manifest
//! order once an app has ended: `NAME| LINE` for its captured stdout and
//! `NAME|2 LINE` for stderr, then `boot: NAME: STATUS (as expected)` or
//! `(UNEXPECTED: ...)`; last `boot: cache compilations=N hits=N`,
//! `boot: memory live=BYTES` and a summary. The command fails (exit 1) if
//! any app ended otherwise than its expectations say.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::silo::{
    DeployRequest, ExitStatus, Limits, Manager, ManagerError, SiloId, StdinSource, WasmSource,
};

/// A parsed boot manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The apps, in start order.
    #[serde(default, rename = "app")]
    pub apps: Vec<App>,
}

/// One `[[app]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub name: String,
    pub wasm: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub memory_mib: Option<u64>,
    pub file_mib: Option<u64>,
    pub wall_ms: Option<u64>,
    pub cpu_ms: Option<u64>,
    pub stdin: Option<String>,
    #[serde(default)]
    pub after_previous: bool,
    pub expect: Option<String>,
    pub expect_detail: Option<String>,
    pub expect_stdout: Option<String>,
}

/// The status tags `expect` may name (those of [`ExitStatus::tag`]).
const TAGS: [&str; 7] = [
    "exited", "failed", "trapped", "killed", "deadline", "limit", "rejected",
];

impl Manifest {
    /// Parses and checks a manifest: TOML syntax and types, no unknown
    /// keys, at least one app, unique non-empty names, known `expect` tags
    /// and memory and file limits that fit in bytes.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| e.to_string())?;
        if manifest.apps.is_empty() {
            return Err("the manifest lists no [[app]]".into());
        }
        let mut seen = Vec::new();
        for app in &manifest.apps {
            app.validate()?;
            if seen.contains(&&app.name) {
                return Err(format!("app name {:?} is used twice", app.name));
            }
            seen.push(&app.name);
        }
        Ok(manifest)
    }
}

impl App {
    /// Parses one app on its own (the keys of an `[[app]]`, at top level):
    /// a deploy spec of the `silo:` service. Only what deploys an app is
    /// allowed: the boot-time keys (`after_previous`, `expect*`) are refused.
    pub fn parse_spec(text: &str) -> Result<App, String> {
        let app: App = toml::from_str(text).map_err(|e| e.to_string())?;
        app.validate()?;
        if app.after_previous
            || app.expect.is_some()
            || app.expect_detail.is_some()
            || app.expect_stdout.is_some()
        {
            return Err(
                "after_previous and expect* belong in boot manifests, not in a deploy".into(),
            );
        }
        Ok(app)
    }

    /// Checks what TOML types cannot: the name, `expect`'s tag and that the
    /// memory and file limits fit in bytes.
    fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.contains(char::is_whitespace) {
            return Err(format!(
                "app name {:?}: must be non-empty, without blanks",
                self.name
            ));
        }
        if let Some(tag) = &self.expect
            && !TAGS.contains(&tag.as_str())
        {
            return Err(format!(
                "app {}: expect = {tag:?} is not one of {}",
                self.name,
                TAGS.join(", ")
            ));
        }
        for (key, mib) in [("memory_mib", self.memory_mib), ("file_mib", self.file_mib)] {
            if mib.is_some_and(|mib| mib.checked_mul(1 << 20).is_none()) {
                return Err(format!("app {}: {key} is too large", self.name));
            }
        }
        Ok(())
    }

    /// The manager's request for this app.
    pub fn request(&self) -> DeployRequest {
        let mut request =
            DeployRequest::new(self.name.clone(), WasmSource::Path(self.wasm.clone()));
        request.args = self.args.clone();
        request.env = self.env.clone().into_iter().collect();
        let mut limits = Limits::default();
        if let Some(mib) = self.memory_mib {
            limits.memory_bytes = mib << 20;
        }
        if let Some(mib) = self.file_mib {
            limits.file_bytes = mib << 20;
        }
        limits.wall_time = self.wall_ms.map(Duration::from_millis);
        limits.cpu_time = self.cpu_ms.map(Duration::from_millis);
        request.limits = limits;
        if let Some(text) = &self.stdin {
            request.stdin = StdinSource::Bytes(text.clone().into_bytes());
        }
        request
    }

    /// What is wrong with how the app ended, if anything.
    fn check(&self, status: &ExitStatus, stdout: &[u8]) -> Option<String> {
        if let Some(tag) = &self.expect
            && status.tag() != tag
        {
            return Some(format!("expected {tag}"));
        }
        if let Some(detail) = &self.expect_detail
            && !status.to_string().contains(detail.as_str())
        {
            return Some(format!("expected {detail:?} in the status"));
        }
        if let Some(want) = &self.expect_stdout
            && stdout != want.as_bytes()
        {
            return Some(format!(
                "stdout was {:?}, expected {want:?}",
                String::from_utf8_lossy(stdout)
            ));
        }
        None
    }
}

/// How a boot run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub apps: usize,
    /// Apps that ended otherwise than their expectations.
    pub unexpected: usize,
}

/// Deploys every app of `manifest` on `manager`, waits for all of them and
/// writes the report to `out`.
pub fn run(manager: &Manager, manifest: &Manifest, out: &mut dyn Write) -> io::Result<Summary> {
    let started = Instant::now();
    writeln!(
        out,
        "boot: {} apps; Cranelift for {} with {}; {} CPUs",
        manifest.apps.len(),
        std::env::consts::ARCH,
        crate::engine::cpu_features().join(" "),
        crate::platform::online_cpus()
    )?;
    let mut deployed: Vec<(&App, Result<SiloId, ManagerError>)> = Vec::new();
    for app in &manifest.apps {
        if app.after_previous {
            for (_, id) in &deployed {
                if let Ok(id) = id {
                    let _ = manager.wait(*id);
                }
            }
        }
        deployed.push((app, manager.deploy(app.request())));
    }
    let mut unexpected = 0;
    for (app, id) in deployed {
        let report = match id.and_then(|id| Ok((manager.wait(id)?, manager.logs(id)?))) {
            Ok((status, logs)) => {
                let mut report = String::new();
                for (tag, stream) in [("|", &logs.stdout), ("|2", &logs.stderr)] {
                    for line in String::from_utf8_lossy(&stream.bytes).lines() {
                        let _ = writeln!(report, "{}{tag} {line}", app.name);
                    }
                }
                let verdict = match app.check(&status, &logs.stdout.bytes) {
                    None => "as expected".to_owned(),
                    Some(why) => {
                        unexpected += 1;
                        format!("UNEXPECTED: {why}")
                    }
                };
                let _ = writeln!(report, "boot: {}: {status} ({verdict})", app.name);
                report
            }
            Err(e) => {
                unexpected += 1;
                format!("boot: {}: not deployed: {e} (UNEXPECTED)\n", app.name)
            }
        };
        out.write_all(report.as_bytes())?;
        out.flush()?;
    }
    let stats = manager.stats();
    writeln!(
        out,
        "boot: cache compilations={} hits={}",
        stats.cache.compilations, stats.cache.hits
    )?;
    writeln!(out, "boot: memory live={}", stats.memory_bytes)?;
    let apps = manifest.apps.len();
    if unexpected == 0 {
        writeln!(
            out,
            "boot: all {apps} apps ended as expected in {} ms",
            started.elapsed().as_millis()
        )?;
    } else {
        writeln!(
            out,
            "boot: {unexpected} of {apps} apps did not end as expected"
        )?;
    }
    out.flush()?;
    Ok(Summary { apps, unexpected })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_field() {
        let m = Manifest::parse(
            r#"
            [[app]]
            name = "hello"
            wasm = "/hello.wasm"
            args = ["a", "b c"]
            env = { GREETING = "hi" }
            memory_mib = 16
            file_mib = 2
            wall_ms = 500
            cpu_ms = 100
            stdin = "in"
            after_previous = true
            expect = "exited"
            expect_detail = "code 0"
            expect_stdout = "x\n"
            "#,
        )
        .expect("valid");
        let app = &m.apps[0];
        assert_eq!(app.args, ["a", "b c"]);
        assert_eq!(app.env.get("GREETING").map(String::as_str), Some("hi"));
        let request = app.request();
        assert_eq!(request.limits.memory_bytes, 16 << 20);
        assert_eq!(request.limits.file_bytes, 2 << 20);
        assert_eq!(request.limits.wall_time, Some(Duration::from_millis(500)));
        assert_eq!(request.limits.cpu_time, Some(Duration::from_millis(100)));
        assert!(app.after_previous);
    }

    #[test]
    fn rejects_bad_manifests_with_a_reason() {
        for (text, why) in [
            ("", "no [[app]]"),
            ("[[app]]\nname = \"a\"", "missing field `wasm`"),
            (
                "[[app]]\nname = \"a\"\nwasm = \"/a\"\nwal_ms = 5",
                "unknown field `wal_ms`",
            ),
            (
                "[[app]]\nname = \"a\"\nwasm = \"/a\"\nwall_ms = -5",
                "invalid value",
            ),
            (
                "[[app]]\nname = \"a\"\nwasm = \"/a\"\nexpect = \"ok\"",
                "not one of",
            ),
            (
                "[[app]]\nname = \"a\"\nwasm = \"/a\"\n[[app]]\nname = \"a\"\nwasm = \"/b\"",
                "used twice",
            ),
            ("[[app]]\nname = \"\"\nwasm = \"/a\"", "non-empty"),
            (
                "[[app]]\nname = \"a\"\nwasm = \"/a\"\nmemory_mib = 99999999999999",
                "too large",
            ),
            (
                "[[app]]\nname = \"a\"\nwasm = \"/a\"\nfile_mib = 99999999999999",
                "file_mib is too large",
            ),
            ("[[app]\nname = 1", "TOML parse error"),
        ] {
            let err = Manifest::parse(text).expect_err(text);
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn runs_apps_and_judges_them() {
        let dir = std::env::temp_dir().join(format!("rt-boot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let hello = dir.join("hello.wat");
        std::fs::write(
            &hello,
            r#"(module
                 (import "wasi_snapshot_preview1" "fd_write"
                   (func $w (param i32 i32 i32 i32) (result i32)))
                 (memory (export "memory") 1)
                 (data (i32.const 16) "hi\n")
                 (func (export "_start")
                   (i32.store (i32.const 0) (i32.const 16))
                   (i32.store (i32.const 4) (i32.const 3))
                   (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        )
        .expect("write");
        let text = format!(
            r#"
            [[app]]
            name = "one"
            wasm = "{0}"
            expect = "exited"
            expect_stdout = "hi\n"
            [[app]]
            name = "two"
            wasm = "{0}"
            after_previous = true
            expect = "trapped"
            [[app]]
            name = "spin"
            wasm = "{1}"
            wall_ms = 50
            expect = "deadline"
            "#,
            hello.display(),
            dir.join("spin.wat").display(),
        );
        std::fs::write(
            dir.join("spin.wat"),
            "(module (func (export \"_start\") (loop (br 0))))",
        )
        .expect("write");
        let manifest = Manifest::parse(&text).expect("valid");
        let manager = Manager::new().expect("manager");
        let mut out = Vec::new();
        let summary = run(&manager, &manifest, &mut out).expect("run");
        let out = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            summary,
            Summary {
                apps: 3,
                unexpected: 1
            },
            "{out}"
        );
        assert!(out.contains("one| hi\n"), "{out}");
        assert!(
            out.contains("boot: one: exited with code 0 (as expected)"),
            "{out}"
        );
        assert!(
            out.contains("boot: two: exited with code 0 (UNEXPECTED: expected trapped)"),
            "{out}"
        );
        assert!(out.contains("boot: spin: deadline exceeded"), "{out}");
        // The second deploy of the same file came from the code cache.
        assert!(out.contains("boot: cache compilations=2 hits=1"), "{out}");
        assert!(
            out.contains("boot: 1 of 3 apps did not end as expected"),
            "{out}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
