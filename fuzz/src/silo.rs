//! `silo_spawn`: what `SiloSpawn` does with the caller's spawn spec before
//! loading anything (`bedrock/src/syscall/silo.rs`): the name with
//! `valid_name`, `argv`/`envp`/namespace with `unpack`, each namespace name
//! with `may_grant` against the parent's namespace.
//!
//! Input: a `SpawnSpec` as the kernel copies it from the caller (its
//! `repr(C)` bytes, zero-filled if short), then a data area. The spec's
//! pointers are offsets into that area; a range outside it is the
//! kernel's `Fault`. The parent's namespace is the first `namespace_count
//! / 2` names the spec grants (so the fuzzer explores both granted and
//! refused names), or `*` when the spec's `flags` is odd.
//!
//! Checks: `unpack` agrees with a plain model (at most `MAX_STRINGS`
//! bytes, UTF-8, ends with a NUL, exactly `count` NULs), and what it
//! yields packs back to the same bytes; `valid_name` and `may_grant`
//! agree with the rules written in `bedrock_abi::silo`.

use bedrock_abi::Errno;
use bedrock_abi::silo::{
    MAX_NAME, MAX_STRINGS, ROOT_NAMESPACE, SpawnSpec, may_grant, pack, unpack, valid_name,
};

use crate::Bytes;

pub fn silo_spawn(data: &[u8]) {
    let mut input = Bytes::new(data);
    let spec = read_spec(&mut input);
    let area = input.rest();
    let range = |ptr: u64, len: u64| -> Option<&[u8]> {
        let start = usize::try_from(ptr).ok()?;
        area.get(start..start.checked_add(usize::try_from(len).ok()?)?)
    };

    if let Some(name) = range(spec.name, spec.name_len) {
        let model = std::str::from_utf8(name)
            .is_ok_and(|n| (1..=MAX_NAME).contains(&n.len()) && !n.chars().any(char::is_control));
        assert_eq!(
            std::str::from_utf8(name).is_ok_and(valid_name),
            model,
            "{name:?}"
        );
    }
    for (ptr, len, count) in [
        (spec.argv, spec.argv_len, spec.argc),
        (spec.envp, spec.envp_len, spec.envc),
    ] {
        if let Some(buf) = range(ptr, len) {
            check_unpack(buf, count);
        }
    }
    if let Some(buf) = range(spec.namespace, spec.namespace_len)
        && let Some(names) = check_unpack(buf, spec.namespace_count)
    {
        let mut parent: Vec<&str> = names[..names.len() / 2].to_vec();
        if spec.flags & 1 != 0 {
            parent.push(ROOT_NAMESPACE);
        }
        for name in &names {
            let valid = *name == ROOT_NAMESPACE || scheme_name(name);
            let model = valid && parent.iter().any(|p| *p == ROOT_NAMESPACE || p == name);
            assert_eq!(
                may_grant(parent.iter().copied(), name),
                model,
                "{parent:?} granting {name:?}"
            );
        }
    }
}

/// `bedrock_abi::scheme::valid_name`, restated.
fn scheme_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// Runs `unpack` and checks it against the model; the strings if accepted.
fn check_unpack(buf: &[u8], count: u32) -> Option<Vec<&str>> {
    let result = unpack(buf, count);
    let nuls = buf.iter().filter(|&&b| b == 0).count();
    let model = if buf.len() > MAX_STRINGS {
        Err(Errno::TooBig)
    } else if std::str::from_utf8(buf).is_err()
        || buf.last().is_some_and(|&b| b != 0)
        || nuls != count as usize
    {
        Err(Errno::Inval)
    } else {
        Ok(())
    };
    assert_eq!(result.as_ref().map(|_| ()).map_err(|e| *e), model);
    let strings: Vec<&str> = result.ok()?.collect();
    assert_eq!(strings.len(), count as usize);
    // Packing them again gives the same bytes.
    let mut again = vec![0u8; buf.len() + 1];
    let n = pack(&strings, &mut again).expect("unpacked strings pack again");
    assert_eq!(&again[..n], buf);
    Some(strings)
}

/// The spec from its `repr(C)` bytes, field by field.
fn read_spec(input: &mut Bytes<'_>) -> SpawnSpec {
    let mut spec = SpawnSpec {
        image: input.u64(),
        image_len: input.u64(),
        name: input.u64(),
        name_len: input.u64(),
        argv: input.u64(),
        argv_len: input.u64(),
        envp: input.u64(),
        envp_len: input.u64(),
        namespace: input.u64(),
        namespace_len: input.u64(),
        argc: input.u32(),
        envc: input.u32(),
        namespace_count: input.u32(),
        handle_count: input.u32(),
        ..SpawnSpec::default()
    };
    for h in &mut spec.handles {
        *h = input.u32();
    }
    spec.handle_move = input.u32();
    spec.flags = input.u32();
    spec.affinity = input.u64();
    spec
}

/// The bytes of `spec` as `read_spec` reads them.
#[cfg(test)]
fn spec_bytes(spec: &SpawnSpec) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [
        spec.image,
        spec.image_len,
        spec.name,
        spec.name_len,
        spec.argv,
        spec.argv_len,
        spec.envp,
        spec.envp_len,
        spec.namespace,
        spec.namespace_len,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [
        spec.argc,
        spec.envc,
        spec.namespace_count,
        spec.handle_count,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for h in spec.handles {
        out.extend_from_slice(&h.to_le_bytes());
    }
    out.extend_from_slice(&spec.handle_move.to_le_bytes());
    out.extend_from_slice(&spec.flags.to_le_bytes());
    out.extend_from_slice(&spec.affinity.to_le_bytes());
    assert_eq!(out.len(), size_of::<SpawnSpec>());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_layout_round_trips() {
        let spec = SpawnSpec {
            image: 1,
            name_len: 2,
            namespace_len: 3,
            argc: 4,
            handle_count: 5,
            handles: [6; 16],
            handle_move: 7,
            flags: 8,
            affinity: 9,
            ..SpawnSpec::default()
        };
        let bytes = spec_bytes(&spec);
        assert_eq!(read_spec(&mut Bytes::new(&bytes)), spec);
    }
}
