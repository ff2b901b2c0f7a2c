//! From deployed bytes to compiled code: text or binary, core module or
//! component, each failure a precise [`Rejection`].
//!
//! Code is compiled once, by the manager's engine, and kept serialized
//! ([`Artifact`]); each silo loads it into an engine of its own, because an
//! engine's epoch is what stops a silo (see [`crate::engine`]) and a module
//! belongs to one engine.

use std::borrow::Cow;
use std::sync::Arc;

use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use super::status::Rejection;

/// Compiled code as the cache keeps it: machine code and metadata serialized
/// by the manager's engine (cheap to clone).
#[derive(Clone)]
pub(crate) struct Artifact {
    encoding: Encoding,
    image: Arc<[u8]>,
}

impl Artifact {
    /// Loads the code into `engine` (a silo's own; same configuration as the
    /// compiling one): a copy of the machine code, no compilation.
    pub(crate) fn load(&self, engine: &Engine) -> Result<Compiled, Rejection> {
        // `image` is the output of `serialize` by this process's manager
        // engine, whose configuration every silo engine shares (wasmtime
        // checks it again), and it never left our memory.
        let loaded = match self.encoding {
            Encoding::Module => {
                // SAFETY: trusted bytes of a module, see above.
                unsafe { Module::deserialize(engine, &self.image) }.map(Compiled::Module)
            }
            Encoding::Component => {
                // SAFETY: trusted bytes of a component, see above.
                unsafe { Component::deserialize(engine, &self.image) }.map(Compiled::Component)
            }
        };
        loaded.map_err(|e| Rejection::Instantiation(format!("loading the compiled code: {e:#}")))
    }
}

/// Compiled code loaded into a silo's engine.
pub(crate) enum Compiled {
    /// A core module, run as a WASI preview1 command.
    Module(Module),
    /// A component targeting `strat9:silo/app`.
    Component(Component),
}

/// What the 8-byte header of a wasm binary says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// `\0asm`, version 1: a core module.
    Module,
    /// `\0asm`, version 0x0d, layer 1: a component.
    Component,
}

const MAGIC: &[u8; 4] = b"\0asm";
const MODULE_VERSION: [u8; 4] = [0x01, 0x00, 0x00, 0x00];
const COMPONENT_VERSION: [u8; 4] = [0x0d, 0x00, 0x01, 0x00];

/// Reads the header of a binary.
pub(crate) fn encoding(binary: &[u8]) -> Result<Encoding, Rejection> {
    let Some((header, _)) = binary.split_first_chunk::<8>() else {
        return Err(Rejection::Malformed(format!(
            "{} bytes is too short for a wasm header",
            binary.len()
        )));
    };
    let (magic, version) = header.split_at(4);
    if magic != MAGIC {
        return Err(Rejection::Malformed(format!(
            "not WebAssembly: bad magic number {magic:02x?}, expected {MAGIC:02x?}"
        )));
    }
    match <[u8; 4]>::try_from(version) {
        Ok(MODULE_VERSION) => Ok(Encoding::Module),
        Ok(COMPONENT_VERSION) => Ok(Encoding::Component),
        _ => Err(Rejection::Malformed(format!(
            "unsupported wasm version/layer {version:02x?}"
        ))),
    }
}

/// The binary form of `input`: itself if it is a binary, parsed if it is WAT
/// text (any UTF-8 input not starting with the wasm magic).
pub(crate) fn to_binary(input: &[u8]) -> Result<Cow<'_, [u8]>, Rejection> {
    if input.starts_with(MAGIC) {
        return Ok(Cow::Borrowed(input));
    }
    if std::str::from_utf8(input).is_err() {
        // Neither a binary nor text: report the binary's view of it.
        return encoding(input).map(|_| Cow::Borrowed(input));
    }
    wat::parse_bytes(input).map_err(|e| {
        Rejection::Malformed(format!(
            "neither a wasm binary (no `\\0asm` magic) nor valid WAT text: {e}"
        ))
    })
}

/// Validates and compiles `input` with Cranelift.
pub(crate) fn compile(engine: &Engine, input: &[u8]) -> Result<Artifact, Rejection> {
    let binary = to_binary(input)?;
    let invalid = |e: wasmtime::Error| Rejection::Invalid(format!("{e:#}"));
    let encoding = encoding(&binary)?;
    let image = match encoding {
        Encoding::Module => Module::from_binary(engine, &binary)
            .map_err(invalid)?
            .serialize(),
        Encoding::Component => Component::from_binary(engine, &binary)
            .map_err(invalid)?
            .serialize(),
    }
    // Serializing compiled code only copies bytes out of memory.
    .map_err(|e| Rejection::Invalid(format!("serializing the compiled code: {e:#}")))?;
    Ok(Artifact {
        encoding,
        image: image.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_modules_and_components() {
        assert_eq!(encoding(b"\0asm\x01\0\0\0"), Ok(Encoding::Module));
        assert_eq!(encoding(b"\0asm\x0d\0\x01\0"), Ok(Encoding::Component));
    }

    #[test]
    fn rejects_bad_headers_as_malformed() {
        for bad in [&b"\0asm"[..], b"\x7fELF\x02\x01\x01\0", b"\0asm\x02\0\0\0"] {
            assert!(
                matches!(encoding(bad), Err(Rejection::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_is_parsed_and_binary_passes_through() {
        let binary = to_binary(b"(module)").expect("text");
        assert_eq!(encoding(&binary), Ok(Encoding::Module));
        assert!(matches!(to_binary(&binary), Ok(Cow::Borrowed(_))));
        assert!(matches!(
            to_binary(b"(module (func (oops)))"),
            Err(Rejection::Malformed(m)) if m.contains("nor valid WAT text")
        ));
        assert!(matches!(
            to_binary(&[0xff, 0xfe, 0x00, 0x01, 0, 0, 0, 0]),
            Err(Rejection::Malformed(m)) if m.contains("bad magic")
        ));
    }

    #[test]
    fn compiled_code_loads_into_another_engine() {
        let options = crate::engine::EngineOptions::default();
        let artifact =
            compile(&options.build().unwrap(), b"(module (func (export \"f\")))").unwrap();
        let Ok(Compiled::Module(module)) = artifact.load(&options.build().unwrap()) else {
            panic!("expected a module");
        };
        assert!(module.get_export("f").is_some());
        // An engine of another configuration refuses it (wasmtime checks).
        assert!(artifact.load(&wasmtime::Engine::default()).is_err());
    }

    #[test]
    fn invalid_code_is_rejected_with_the_validator_message() {
        let engine = crate::engine::EngineOptions::default().build().unwrap();
        let Err(Rejection::Invalid(message)) =
            compile(&engine, b"(module (func (result i32) i64.const 1))")
        else {
            panic!("expected Invalid");
        };
        assert!(message.contains("type mismatch"), "{message}");
    }
}
