//! Byte framing shared by the built-in designs: fixed-size fields, big-endian
//! `u32`s, and fields prefixed by their `u32` length; plus the message
//! payload every design carries (conversation id, member list, plaintext).
//! (Not the exec protocol's messages, which are `doormat_formats::wire`.)
//!
//! **Invariant:** a [`Reader`] never panics and never allocates more than its
//! input holds: every length is checked against the bytes left, and every
//! failure is an [`ImplError::Rejected`] naming the field, because the bytes
//! come from the provider and may be anything.

use doormat_engine::ImplError;
use doormat_formats::UserId;

/// A refusal of malformed input.
pub(crate) fn rejected(what: impl Into<String>) -> ImplError {
    ImplError::Rejected(what.into())
}

/// The check of `create_authority` in a design with one authority,
/// `only`: `Ok` for that role, `unsupported` for any other.
pub(crate) fn only_authority(role: &str, only: &str) -> Result<(), ImplError> {
    if role == only {
        Ok(())
    } else {
        Err(ImplError::Unsupported(format!("authority `{role}`")))
    }
}

/// Builds a byte string field by field.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub(crate) fn new() -> Self {
        Writer::default()
    }

    /// One byte.
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A big-endian `u32`.
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Bytes as they are (a fixed-size field).
    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Bytes prefixed by their `u32` length.
    pub(crate) fn bytes(&mut self, b: &[u8]) -> Result<(), ImplError> {
        let len = u32::try_from(b.len())
            .map_err(|_| ImplError::Failed(format!("field of {} bytes is too long to frame", b.len())))?;
        self.u32(len);
        self.raw(b);
        Ok(())
    }

    /// The bytes written so far.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fields off a byte string, refusing anything truncated or malformed.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader { rest: input }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ImplError> {
        if self.rest.len() < n {
            return Err(rejected(format!("truncated {what}: expected {n} bytes, found {}", self.rest.len())));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, ImplError> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    /// A big-endian `u32`.
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, ImplError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A fixed-size field.
    pub(crate) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ImplError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// A field prefixed by its `u32` length.
    pub(crate) fn bytes(&mut self, what: &str) -> Result<&'a [u8], ImplError> {
        let len = self.u32(what)?;
        let len = usize::try_from(len).map_err(|_| rejected(format!("length of {what} does not fit in memory")))?;
        self.take(len, what)
    }

    /// A length-prefixed UTF-8 string.
    pub(crate) fn string(&mut self, what: &str) -> Result<String, ImplError> {
        let b = self.bytes(what)?;
        String::from_utf8(b.to_vec()).map_err(|_| rejected(format!("{what} is not UTF-8")))
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Everything left.
    pub(crate) fn rest(self) -> &'a [u8] {
        self.rest
    }

    /// Succeeds only if nothing is left.
    pub(crate) fn end(self, what: &str) -> Result<(), ImplError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(rejected(format!("{} unexpected bytes after {what}", self.rest.len())))
        }
    }
}

/// What a message carries besides its protection: which conversation it
/// belongs to, who the sender says the members are, and the plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payload {
    /// The conversation id.
    pub(crate) conversation: String,
    /// The member list as the sender's request stated it.
    pub(crate) members: Vec<UserId>,
    /// The message.
    pub(crate) plaintext: Vec<u8>,
}

impl Payload {
    /// `len conversation || u32 count || (len member)* || len plaintext`.
    pub(crate) fn encode(conversation: &str, members: &[UserId], plaintext: &[u8]) -> Result<Vec<u8>, ImplError> {
        let mut w = Writer::new();
        w.bytes(conversation.as_bytes())?;
        let count = u32::try_from(members.len())
            .map_err(|_| ImplError::Failed(format!("{} members is too many to frame", members.len())))?;
        w.u32(count);
        for m in members {
            w.bytes(m.as_str().as_bytes())?;
        }
        w.bytes(plaintext)?;
        Ok(w.finish())
    }

    /// Reads what [`Payload::encode`] wrote, and nothing more.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Payload, ImplError> {
        let conversation = r.string("conversation id")?;
        let count = r.u32("member count")?;
        // No preallocation: `count` is untrusted, each member costs at least
        // four bytes, so a lying count fails on truncation quickly.
        let mut members = Vec::new();
        for _ in 0..count {
            members.push(UserId(r.string("member")?));
        }
        let plaintext = r.bytes("plaintext")?.to_vec();
        Ok(Payload { conversation, members, plaintext })
    }

    /// The whole of `bytes` as a payload of `conversation`: refused if
    /// anything follows it, or if it belongs to another conversation (a
    /// message the provider delivered in the wrong one).
    pub(crate) fn open(bytes: &[u8], conversation: &str) -> Result<Payload, ImplError> {
        let mut r = Reader::new(bytes);
        let payload = Payload::decode(&mut r)?;
        r.end("payload")?;
        if payload.conversation != conversation {
            return Err(rejected(format!(
                "message of conversation `{}` delivered in `{conversation}`",
                payload.conversation
            )));
        }
        Ok(payload)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_rejects_every_truncation() {
        let members = [UserId::from("alice"), UserId::from("bob")];
        let bytes = Payload::encode("alice+bob", &members, b"hello").unwrap();
        let mut r = Reader::new(&bytes);
        let p = Payload::decode(&mut r).unwrap();
        r.end("payload").unwrap();
        assert_eq!(
            p,
            Payload { conversation: "alice+bob".into(), members: members.to_vec(), plaintext: b"hello".to_vec() }
        );
        for cut in 0..bytes.len() {
            let mut r = Reader::new(&bytes[..cut]);
            assert!(matches!(Payload::decode(&mut r), Err(ImplError::Rejected(_))), "cut at {cut}");
        }
    }

    #[test]
    fn huge_counts_and_lengths_are_refused_not_allocated() {
        let mut r = Reader::new(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(Payload::decode(&mut r), Err(ImplError::Rejected(_))));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert!(matches!(r.bytes("field"), Err(ImplError::Rejected(_))));
    }
}
