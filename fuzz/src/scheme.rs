//! `scheme_request`: the scheme server library's decoding of a received
//! message (`bedrock_abi::user::scheme::server::decode`), which every
//! ring-3 server (`silo:`, the native silo's and the tests' servers) runs
//! on whatever a client sends.
//!
//! Input: the message's fields in order (label, 4 words, data pointer,
//! data length, 4 handles, handle count, handle move, badge, reply,
//! reply capacity, flags, reserved), little-endian, zero-filled if short.
//!
//! Checks: never a panic; lengths within `MAX_DATA`; a resource never has
//! `RESOURCE_BADGE`; the request matches the label and the kind of handle
//! (scheme or resource) as `bedrock_abi::scheme` specifies; every
//! received handle is either released or is the bulk call's memory, and
//! no other handle is; an `OPEN` by `CallRegs` is refused.

use bedrock_abi::Errno;
use bedrock_abi::ipc::{MAX_DATA, MAX_HANDLES, Message, flags};
use bedrock_abi::scheme::{
    CLOSE, MKDIR, OPEN, READ, READ_BULK, READDIR, STAT, UNLINK, WRITE, WRITE_BULK,
};
use bedrock_abi::user::scheme::server::{Decoded, RESOURCE_BADGE, Request, decode};

use crate::Bytes;

const PROTOCOL: [u64; 10] = [
    OPEN, READ, WRITE, STAT, READDIR, MKDIR, UNLINK, CLOSE, READ_BULK, WRITE_BULK,
];

pub fn scheme_request(data: &[u8]) {
    let m = read_message(&mut Bytes::new(data));
    let Decoded { request, release } = decode(&m);
    assert_eq!(decode(&m), Decoded { request, release });

    let received = &m.handles[..(m.handle_count as usize).min(MAX_HANDLES)];
    let on_resource = m.badge & RESOURCE_BADGE != 0;
    let resource = m.badge & !RESOURCE_BADGE;
    let data_len = (m.data_len as usize).min(MAX_DATA);
    let mut kept = None;
    match request {
        Request::Open {
            client,
            path_len,
            flags: f,
        } => {
            assert!(m.label == OPEN && !on_resource);
            assert_eq!(m.flags & flags::REGISTER_CALL, 0, "OPEN by CallRegs");
            assert_eq!((client, path_len, f), (m.badge, data_len, m.words[0]));
        }
        Request::Mkdir { client, path_len } => {
            assert!(m.label == MKDIR && !on_resource);
            assert_eq!((client, path_len), (m.badge, data_len));
        }
        Request::Unlink { client, path_len } => {
            assert!(m.label == UNLINK && !on_resource);
            assert_eq!((client, path_len), (m.badge, data_len));
        }
        Request::Read {
            resource: r,
            offset,
            len,
        } => {
            assert!(m.label == READ && on_resource);
            assert!(len <= MAX_DATA);
            assert_eq!(len as u64, m.words[1].min(MAX_DATA as u64));
            assert_eq!((r, offset), (resource, m.words[0]));
        }
        Request::Write {
            resource: r,
            offset,
            data_len: n,
        } => {
            assert!(m.label == WRITE && on_resource);
            assert_eq!((r, offset, n), (resource, m.words[0], data_len));
        }
        Request::Stat { resource: r } => {
            assert!(m.label == STAT && on_resource);
            assert_eq!(r, resource);
        }
        Request::Readdir { resource: r, index } => {
            assert!(m.label == READDIR && on_resource);
            assert_eq!((r, index), (resource, m.words[0]));
        }
        Request::Bulk {
            read,
            resource: r,
            memory,
            offset,
            len,
            at,
        } => {
            assert!(matches!(m.label, READ_BULK | WRITE_BULK) && on_resource);
            assert_eq!(read, m.label == READ_BULK);
            assert_eq!(
                (r, offset, len, at),
                (resource, m.words[0], m.words[1], m.words[2])
            );
            assert_eq!(memory, received.first().copied());
            kept = memory;
        }
        Request::Close { resource: r } => {
            assert!(m.label == CLOSE && on_resource);
            assert_eq!(r, resource);
        }
        Request::Refuse(e) => {
            assert_eq!(e, Errno::Inval);
            assert!(PROTOCOL.contains(&m.label));
            let wrong_kind = on_resource != !matches!(m.label, OPEN | MKDIR | UNLINK);
            let register_open =
                m.label == OPEN && !on_resource && m.flags & flags::REGISTER_CALL != 0;
            assert!(wrong_kind || register_open, "{m:?} refused");
        }
        Request::Other {
            badge,
            label,
            words,
        } => {
            assert!(!PROTOCOL.contains(&label));
            assert_eq!((badge, label, words), (m.badge, m.label, m.words));
        }
    }
    if let Request::Read { resource, .. }
    | Request::Write { resource, .. }
    | Request::Stat { resource }
    | Request::Readdir { resource, .. }
    | Request::Bulk { resource, .. }
    | Request::Close { resource } = request
    {
        assert_eq!(resource & RESOURCE_BADGE, 0);
    }
    // Handles: the kept one first, the released ones after it, nothing else.
    let kept_count = usize::from(kept.is_some());
    assert_eq!(kept_count + release.len(), received.len());
    assert_eq!(release, &received[kept_count..]);
}

fn read_message(input: &mut Bytes<'_>) -> Message {
    let mut m = Message {
        label: input.u64(),
        ..Message::default()
    };
    for w in &mut m.words {
        *w = input.u64();
    }
    m.data = input.u64();
    m.data_len = input.u64();
    for h in &mut m.handles {
        *h = input.u32();
    }
    m.handle_count = input.u32();
    m.handle_move = input.u32();
    m.badge = input.u64();
    m.reply = input.u32();
    m.reply_capacity = input.u32();
    m.flags = input.u32();
    m.reserved = input.u32();
    m
}
