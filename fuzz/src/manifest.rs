//! `boot_manifest`: the runtime silo's boot manifest
//! (`runtime_silo::boot::Manifest::parse`, what `runtime-silo boot` reads)
//! and deploy spec (`App::parse_spec`, what a client writes to
//! `silo:/deploy`), both on the same text.
//!
//! The manifest is read as `runtime-silo boot` reads a file (lossy UTF-8),
//! the spec as the `silo:` service does (UTF-8 or refused). Checks of an
//! accepted manifest: at least one app, unique names without blanks,
//! known `expect` tags, a memory limit that fits in bytes, and every app
//! turns into a deploy request; an accepted spec has no boot-only keys.

use runtime_silo::boot::{App, Manifest};

const TAGS: [&str; 7] = [
    "exited", "failed", "trapped", "killed", "deadline", "limit", "rejected",
];

pub fn boot_manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Manifest::parse(&text) {
        Ok(m) => {
            assert!(!m.apps.is_empty());
            for (i, app) in m.apps.iter().enumerate() {
                check_app(app);
                assert!(
                    m.apps[..i].iter().all(|a| a.name != app.name),
                    "duplicate app name {:?}",
                    app.name
                );
                if let Some(tag) = &app.expect {
                    assert!(TAGS.contains(&tag.as_str()), "{tag:?}");
                }
            }
        }
        Err(e) => assert!(!e.is_empty()),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        match App::parse_spec(text) {
            Ok(app) => {
                check_app(&app);
                assert!(!app.after_previous);
                assert!(app.expect.is_none() && app.expect_detail.is_none());
                assert!(app.expect_stdout.is_none());
            }
            Err(e) => assert!(!e.is_empty()),
        }
    }
}

fn check_app(app: &App) {
    assert!(!app.name.is_empty() && !app.name.contains(char::is_whitespace));
    if let Some(mib) = app.memory_mib {
        assert!(mib.checked_mul(1 << 20).is_some());
    }
    let request = app.request();
    if let Some(mib) = app.memory_mib {
        assert_eq!(request.limits.memory_bytes, mib << 20);
    }
}
