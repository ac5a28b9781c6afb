//! The on-disk layout of the store's single sled tree.
//!
//! - `o/<key>` → resourceVersion (8 bytes, big-endian) then the object's bytes.
//! - `h/<rv>` (8 bytes, big-endian) → one history record: the commit's wall-clock time in
//!   seconds, then each change as type, key, value and optional previous value, each
//!   length-prefixed.
//! - `m/rv` → the newest resourceVersion; `m/compacted` → the oldest a watch may start after.
//!
//! One tree keeps a commit (objects, history and counter) a single atomic batch.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{Change, ChangeType, Commit, Rv, StoreError, Stored};

pub const OBJECT_PREFIX: &[u8] = b"o/";
pub const HISTORY_PREFIX: &[u8] = b"h/";
pub const META_RV: &[u8] = b"m/rv";
pub const META_COMPACTED: &[u8] = b"m/compacted";

pub fn object_key(key: &str) -> Vec<u8> {
    [OBJECT_PREFIX, key.as_bytes()].concat()
}

pub fn history_key(rv: Rv) -> Vec<u8> {
    [HISTORY_PREFIX, &rv.to_be_bytes()].concat()
}

pub fn encode_rv(rv: Rv) -> [u8; 8] {
    rv.to_be_bytes()
}

pub fn decode_rv(bytes: &[u8]) -> Result<Rv, StoreError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("resourceVersion".into()))?;
    Ok(Rv::from_be_bytes(array))
}

pub fn rv_of_history_key(key: &[u8]) -> Result<Rv, StoreError> {
    decode_rv(&key[HISTORY_PREFIX.len()..])
}

pub fn encode_object(rv: Rv, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&rv.to_be_bytes());
    out.extend_from_slice(value);
    out
}

pub fn decode_object(key: &str, raw: &[u8]) -> Result<Stored, StoreError> {
    if raw.len() < 8 {
        return Err(StoreError::Corrupt(format!("object {key}")));
    }
    let rv = decode_rv(&raw[..8])?;
    Ok(Stored {
        rv,
        value: Bytes::copy_from_slice(&raw[8..]),
    })
}

fn put_chunk(out: &mut BytesMut, chunk: &[u8]) {
    out.put_u32(u32::try_from(chunk.len()).unwrap_or(u32::MAX));
    out.put_slice(chunk);
}

fn get_chunk(input: &mut Bytes) -> Option<Bytes> {
    if input.remaining() < 4 {
        return None;
    }
    let len = input.get_u32() as usize;
    (input.remaining() >= len).then(|| input.split_to(len))
}

pub fn encode_history(time: u64, commit: &Commit) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_u64(time);
    for c in &commit.changes {
        out.put_u8(match c.change {
            ChangeType::Added => 0,
            ChangeType::Modified => 1,
            ChangeType::Deleted => 2,
        });
        put_chunk(&mut out, c.key.as_bytes());
        put_chunk(&mut out, &c.value);
        match &c.prev {
            Some(prev) => {
                out.put_u8(1);
                put_chunk(&mut out, prev);
            }
            None => out.put_u8(0),
        }
    }
    out.to_vec()
}

/// The time of a history record, read without decoding the rest.
pub fn history_time(raw: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(raw.get(..8)?.try_into().ok()?))
}

pub fn decode_history(rv: Rv, raw: &[u8]) -> Result<Commit, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("history record {rv}"));
    let mut input = Bytes::copy_from_slice(raw);
    if input.remaining() < 8 {
        return Err(corrupt());
    }
    input.advance(8);
    let mut changes = Vec::new();
    while input.has_remaining() {
        let change = match input.get_u8() {
            0 => ChangeType::Added,
            1 => ChangeType::Modified,
            2 => ChangeType::Deleted,
            _ => return Err(corrupt()),
        };
        let key = get_chunk(&mut input).ok_or_else(corrupt)?;
        let key = String::from_utf8(key.to_vec()).map_err(|_| corrupt())?;
        let value = get_chunk(&mut input).ok_or_else(corrupt)?;
        if !input.has_remaining() {
            return Err(corrupt());
        }
        let prev = match input.get_u8() {
            0 => None,
            _ => Some(get_chunk(&mut input).ok_or_else(corrupt)?),
        };
        changes.push(Change {
            key,
            change,
            value,
            prev,
        });
    }
    Ok(Commit::new(rv, changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_round_trips() {
        let commit = Commit::new(
            7,
            vec![
                Change {
                    key: "pods/a/b".into(),
                    change: ChangeType::Added,
                    value: Bytes::from_static(b"x"),
                    prev: None,
                },
                Change {
                    key: "pods/a/c".into(),
                    change: ChangeType::Deleted,
                    value: Bytes::from_static(b"y"),
                    prev: Some(Bytes::from_static(b"z")),
                },
            ],
        );
        let raw = encode_history(42, &commit);
        assert_eq!(history_time(&raw), Some(42));
        assert_eq!(decode_history(7, &raw).unwrap(), commit);
    }

    #[test]
    fn truncated_history_is_corrupt_not_a_panic() {
        let commit = Commit::new(
            1,
            vec![Change {
                key: "k".into(),
                change: ChangeType::Added,
                value: Bytes::from_static(b"v"),
                prev: None,
            }],
        );
        let raw = encode_history(1, &commit);
        for cut in 0..raw.len() {
            let _ = decode_history(1, &raw[..cut]);
        }
    }
}
