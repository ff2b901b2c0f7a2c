//! From deployed bytes to compiled code: text or binary, core module or
//! component, each failure a precise [`Rejection`].

use std::borrow::Cow;

use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use super::status::Rejection;

/// Compiled code, ready to instantiate any number of times (cheap to clone).
#[derive(Clone)]
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
pub(crate) fn compile(engine: &Engine, input: &[u8]) -> Result<Compiled, Rejection> {
    let binary = to_binary(input)?;
    let invalid = |e: wasmtime::Error| Rejection::Invalid(format!("{e:#}"));
    match encoding(&binary)? {
        Encoding::Module => Module::from_binary(engine, &binary)
            .map(Compiled::Module)
            .map_err(invalid),
        Encoding::Component => Component::from_binary(engine, &binary)
            .map(Compiled::Component)
            .map_err(invalid),
    }
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
