//! The envelope body of the `mls` design and its MLS group ids.
//!
//! Body: `"DMLS" || version (1) || group id (u32 length-prefixed) || count
//! (1) || count MLSMessages (each u32 length-prefixed)`. The MLSMessages are
//! RFC 9420 `MLSMessage` structures, in the order a receiver must process
//! them: at most one Welcome (first), then Commits in epoch order, then at
//! most one application message (last). Each names its own wire format, so
//! the frame carries no kind of its own.
//!
//! Group id: `conversation id (u32 length-prefixed) || 16 random bytes`.
//! MLS authenticates the group id (it is part of the GroupContext and of
//! every message's authenticated data), so a receiver that checks it against
//! the conversation the provider names knows the provider did not move a
//! message between conversations.
//!
//! **Invariant:** decoding never panics and allocates no more than the input
//! holds; every failure is [`ImplError::Rejected`].

use crate::framing::{rejected, Reader, Writer};
use doormat_engine::ImplError;

/// First bytes of every body.
const MAGIC: &[u8; 4] = b"DMLS";
/// The framing version.
const VERSION: u8 = 1;
/// Random bytes at the end of a group id.
pub(crate) const GROUP_ID_RANDOM: usize = 16;

/// A decoded body: the group and the MLS messages, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    /// The MLS group id.
    pub(crate) group_id: &'a [u8],
    /// Serialized `MLSMessage`s.
    pub(crate) messages: Vec<&'a [u8]>,
}

/// Encodes a body.
pub(crate) fn encode(group_id: &[u8], messages: &[&[u8]]) -> Result<Vec<u8>, ImplError> {
    let count = u8::try_from(messages.len())
        .map_err(|_| ImplError::Failed(format!("{} MLS messages do not fit in one envelope", messages.len())))?;
    let mut w = Writer::new();
    w.raw(MAGIC);
    w.u8(VERSION);
    w.bytes(group_id)?;
    w.u8(count);
    for m in messages {
        w.bytes(m)?;
    }
    Ok(w.finish())
}

/// Decodes a body, refusing anything else.
pub(crate) fn decode(body: &[u8]) -> Result<Frame<'_>, ImplError> {
    let mut r = Reader::new(body);
    if r.array::<4>("magic")? != *MAGIC {
        return Err(rejected("not an mls envelope"));
    }
    let version = r.u8("version")?;
    if version != VERSION {
        return Err(rejected(format!("unknown mls envelope version {version}")));
    }
    let group_id = r.bytes("group id")?;
    let count = r.u8("message count")?;
    if count == 0 {
        return Err(rejected("an mls envelope without messages"));
    }
    let mut messages = Vec::new();
    for _ in 0..count {
        messages.push(r.bytes("MLS message")?);
    }
    r.end("the MLS messages")?;
    Ok(Frame { group_id, messages })
}

/// The group id of a new group of `conversation`.
pub(crate) fn group_id(conversation: &str, random: &[u8; GROUP_ID_RANDOM]) -> Result<Vec<u8>, ImplError> {
    let mut w = Writer::new();
    w.bytes(conversation.as_bytes())?;
    w.raw(random);
    Ok(w.finish())
}

/// The conversation a group id belongs to, if it is one of this design's.
pub(crate) fn conversation_of(group_id: &[u8]) -> Option<&str> {
    let mut r = Reader::new(group_id);
    let conversation = r.bytes("conversation").ok()?;
    (r.remaining() == GROUP_ID_RANDOM).then_some(())?;
    std::str::from_utf8(conversation).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_every_truncation_is_refused() {
        let gid = group_id("alice+bob", &[7; GROUP_ID_RANDOM]).unwrap();
        assert_eq!(conversation_of(&gid), Some("alice+bob"));
        let body = encode(&gid, &[b"welcome", b"commit", b"application"]).unwrap();
        let frame = decode(&body).unwrap();
        assert_eq!(frame.group_id, gid.as_slice());
        assert_eq!(frame.messages, vec![b"welcome".as_slice(), b"commit", b"application"]);
        for cut in 0..body.len() {
            assert!(matches!(decode(&body[..cut]), Err(ImplError::Rejected(_))), "cut at {cut}");
        }
        let mut longer = body.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        assert!(decode(&encode(&gid, &[]).unwrap()).is_err());
    }

    #[test]
    fn group_ids_name_their_conversation_only_when_well_formed() {
        assert_eq!(conversation_of(b""), None);
        let mut gid = group_id("team", &[1; GROUP_ID_RANDOM]).unwrap();
        gid.push(0);
        assert_eq!(conversation_of(&gid), None);
    }
}
