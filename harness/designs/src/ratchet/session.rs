//! One Double Ratchet session between this device and one remote device:
//! a root chain (HKDF), a sending and a receiving chain (HMAC-SHA256), a DH
//! ratchet step whenever the peer's ratchet key changes, and the keys of
//! skipped messages so delayed and reordered messages still open.
//!
//! For a forensic open (what a copy of the state can read, with no client
//! courtesy), [`Session::received_key`] and [`Session::sent_key`] give the
//! key the session holds or can derive for a header, using nothing up: a
//! key that was used is gone from the state (the chain moved past it and
//! the skipped key was removed), so they cannot return it.
//!
//! **Invariants:** [`Session::open`] never changes the session it is called
//! on: it returns the advanced copy, which the caller keeps only if the
//! message authenticated. A message key is used once (replays are refused);
//! at most [`MAX_SKIP`] keys are derived per message and [`MAX_SKIPPED`]
//! kept, so hostile headers cost bounded work and memory; a forensic
//! derivation stops after [`FORENSIC_MAX_DERIVE`] keys.

use super::keys;
use crate::framing::{rejected, Reader, Writer};
use doormat_engine::ImplError;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Most message keys one incoming message may make this session skip.
pub(super) const MAX_SKIP: u32 = 1000;
/// Most skipped message keys kept; the oldest are dropped first.
pub(super) const MAX_SKIPPED: usize = 2000;

/// Most message keys [`Session::received_key`] and [`Session::sent_key`]
/// derive ahead in one chain. A bound on work (a hostile header may name
/// any message number), not on what the state holds: a key further ahead is
/// held too, and is reported as not derived. No conversation comes near it.
pub(super) const FORENSIC_MAX_DERIVE: u32 = 1 << 16;

/// The ratchet header of a message: `ratchet public key (32) || previous
/// chain length (u32) || message number (u32)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    /// The sender's current ratchet public key.
    pub(super) dh: [u8; 32],
    /// How many messages the sender sent in its previous sending chain.
    pub(super) pn: u32,
    /// This message's number in the current sending chain.
    pub(super) n: u32,
}

impl Header {
    pub(super) fn encode(&self, w: &mut Writer) {
        w.raw(&self.dh);
        w.u32(self.pn);
        w.u32(self.n);
    }

    pub(super) fn decode(r: &mut Reader<'_>) -> Result<Header, ImplError> {
        Ok(Header { dh: r.array("ratchet key")?, pn: r.u32("previous chain length")?, n: r.u32("message number")? })
    }
}

/// What an initiator repeats in every message until the peer answers, so
/// the peer can run X3DH: the ephemeral base key, the signed prekey used and
/// the one-time prekey used (if the directory served one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Initiation {
    /// The initiator's X3DH ephemeral public key.
    pub(super) base_key: [u8; 32],
    /// The responder's signed prekey it was run against.
    pub(super) signed_prekey: [u8; 32],
    /// The responder's one-time prekey id, if one was used.
    pub(super) one_time: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SkippedKey {
    dh: [u8; 32],
    n: u32,
    key: [u8; 32],
}

/// The state of one session.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Session {
    /// The remote device's identity (`ed25519 public || x25519 public`).
    pub(super) peer_identity: Vec<u8>,
    /// The X3DH base key that started the session; identifies it.
    pub(super) base_key: [u8; 32],
    /// Set on the initiator's side until a message from the peer arrives.
    pub(super) initiation: Option<Initiation>,
    root: [u8; 32],
    /// Our ratchet secret key.
    dh_self: [u8; 32],
    dh_remote: Option<[u8; 32]>,
    chain_send: Option<[u8; 32]>,
    chain_recv: Option<[u8; 32]>,
    n_send: u32,
    n_recv: u32,
    prev_send: u32,
    skipped: VecDeque<SkippedKey>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("initiation", &self.initiation.is_some())
            .field("n_send", &self.n_send)
            .field("n_recv", &self.n_recv)
            .field("skipped", &self.skipped.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The initiator's session after X3DH gave `secret`: a first DH ratchet
    /// step against the responder's signed prekey.
    pub(super) fn initiator(
        secret: [u8; 32],
        peer_identity: Vec<u8>,
        initiation: Initiation,
        rng: &mut ChaCha20Rng,
    ) -> Result<Session, ImplError> {
        let dh_self = keys::random_secret(rng);
        let (root, chain_send) = keys::kdf_root(&secret, &keys::dh(&dh_self, &initiation.signed_prekey)?)?;
        Ok(Session {
            peer_identity,
            base_key: initiation.base_key,
            initiation: Some(initiation),
            root,
            dh_self,
            dh_remote: Some(initiation.signed_prekey),
            chain_send: Some(chain_send),
            chain_recv: None,
            n_send: 0,
            n_recv: 0,
            prev_send: 0,
            skipped: VecDeque::new(),
        })
    }

    /// The responder's session after X3DH gave `secret`; its ratchet key is
    /// the signed prekey until the first message arrives.
    pub(super) fn responder(
        secret: [u8; 32],
        peer_identity: Vec<u8>,
        base_key: [u8; 32],
        signed_prekey_secret: [u8; 32],
    ) -> Session {
        Session {
            peer_identity,
            base_key,
            initiation: None,
            root: secret,
            dh_self: signed_prekey_secret,
            dh_remote: None,
            chain_send: None,
            chain_recv: None,
            n_send: 0,
            n_recv: 0,
            prev_send: 0,
            skipped: VecDeque::new(),
        }
    }

    /// Whether this session can send (a responder can once it has received).
    pub(super) fn can_send(&self) -> bool {
        self.chain_send.is_some()
    }

    /// The header and message key of the next message to send.
    pub(super) fn next_send(&mut self) -> Result<(Header, [u8; 32]), ImplError> {
        let chain = self.chain_send.ok_or_else(|| ImplError::Failed("session has no sending chain".to_owned()))?;
        let (next, key) = keys::kdf_chain(&chain)?;
        let header = Header { dh: keys::x_public(&self.dh_self), pn: self.prev_send, n: self.n_send };
        self.n_send =
            self.n_send.checked_add(1).ok_or_else(|| ImplError::Failed("sending chain exhausted".to_owned()))?;
        self.chain_send = Some(next);
        Ok((header, key))
    }

    /// Opens a message: returns the advanced session and rng and the
    /// plaintext, leaving `self` and `rng` untouched.
    pub(super) fn open(
        &self,
        header: &Header,
        ad: &[u8],
        ciphertext: &[u8],
        rng: &ChaCha20Rng,
    ) -> Result<(Session, ChaCha20Rng, Vec<u8>), ImplError> {
        let mut s = self.clone();
        let mut rng = rng.clone();
        if let Some(i) = s.skipped.iter().position(|k| k.dh == header.dh && k.n == header.n) {
            let plaintext = keys::open(&s.skipped[i].key, ad, ciphertext)?;
            s.skipped.remove(i);
            s.initiation = None;
            return Ok((s, rng, plaintext));
        }
        if s.dh_remote != Some(header.dh) {
            s.skip_until(header.pn)?;
            s.dh_ratchet(header.dh, &mut rng)?;
        }
        if header.n < s.n_recv {
            return Err(rejected("message key already used (replay) or dropped"));
        }
        s.skip_until(header.n)?;
        let chain = s.chain_recv.ok_or_else(|| rejected("session has no receiving chain"))?;
        let (next, key) = keys::kdf_chain(&chain)?;
        let plaintext = keys::open(&key, ad, ciphertext)?;
        s.chain_recv = Some(next);
        s.n_recv = s.n_recv.checked_add(1).ok_or_else(|| rejected("receiving chain exhausted"))?;
        s.initiation = None;
        Ok((s, rng, plaintext))
    }

    /// The message key this session holds, or can derive, for a message the
    /// peer sent with `header`, checking nothing the keys do not decide and
    /// changing nothing: a skipped key still kept; a key at or ahead of the
    /// receiving chain's position; or, for a ratchet key this session has
    /// not reached, a key of the chain that a DH ratchet step from its
    /// current root key and ratchet secret starts (what [`Session::open`]
    /// would do). `None` when the key is gone (the chain moved past it and
    /// no skipped key is kept) or cannot be derived.
    pub(super) fn received_key(&self, header: &Header) -> Option<[u8; 32]> {
        if let Some(k) = self.skipped.iter().find(|k| k.dh == header.dh && k.n == header.n) {
            return Some(k.key);
        }
        if self.dh_remote == Some(header.dh) {
            return derive(self.chain_recv?, self.n_recv, header.n);
        }
        let (_, chain) = keys::kdf_root(&self.root, &keys::dh(&self.dh_self, &header.dh).ok()?).ok()?;
        derive(chain, 0, header.n)
    }

    /// The message key of a message this device sent in this session with
    /// `header`, while the sending chain still holds it: the header's
    /// ratchet key is this session's own and the message is not older than
    /// the chain's position (older keys were deleted as they were used).
    pub(super) fn sent_key(&self, header: &Header) -> Option<[u8; 32]> {
        if keys::x_public(&self.dh_self) != header.dh {
            return None;
        }
        derive(self.chain_send?, self.n_send, header.n)
    }

    /// Derives and keeps the keys of receiving-chain messages before `until`.
    fn skip_until(&mut self, until: u32) -> Result<(), ImplError> {
        let (Some(mut chain), Some(dh)) = (self.chain_recv, self.dh_remote) else {
            return Ok(());
        };
        if until.saturating_sub(self.n_recv) > MAX_SKIP {
            return Err(rejected(format!("message skips more than {MAX_SKIP} messages")));
        }
        while self.n_recv < until {
            let (next, key) = keys::kdf_chain(&chain)?;
            self.skipped.push_back(SkippedKey { dh, n: self.n_recv, key });
            if self.skipped.len() > MAX_SKIPPED {
                self.skipped.pop_front();
            }
            chain = next;
            self.n_recv += 1;
        }
        self.chain_recv = Some(chain);
        Ok(())
    }

    /// A DH ratchet step on a new remote ratchet key.
    fn dh_ratchet(&mut self, remote: [u8; 32], rng: &mut ChaCha20Rng) -> Result<(), ImplError> {
        self.prev_send = self.n_send;
        self.n_send = 0;
        self.n_recv = 0;
        self.dh_remote = Some(remote);
        let (root, chain_recv) = keys::kdf_root(&self.root, &keys::dh(&self.dh_self, &remote)?)?;
        self.dh_self = keys::random_secret(rng);
        let (root, chain_send) = keys::kdf_root(&root, &keys::dh(&self.dh_self, &remote)?)?;
        self.root = root;
        self.chain_recv = Some(chain_recv);
        self.chain_send = Some(chain_send);
        Ok(())
    }
}

/// The message key of message `n` of a chain whose key at position `at` is
/// `chain`; `None` if `n` is behind `at` (that key is gone) or more than
/// [`FORENSIC_MAX_DERIVE`] ahead.
fn derive(mut chain: [u8; 32], at: u32, n: u32) -> Option<[u8; 32]> {
    let ahead = n.checked_sub(at)?;
    if ahead > FORENSIC_MAX_DERIVE {
        return None;
    }
    for _ in 0..ahead {
        chain = keys::kdf_chain(&chain).ok()?.0;
    }
    Some(keys::kdf_chain(&chain).ok()?.1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn pair() -> (Session, Session, ChaCha20Rng) {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let spk = keys::random_secret(&mut rng);
        let init = Initiation { base_key: [2; 32], signed_prekey: keys::x_public(&spk), one_time: None };
        let a = Session::initiator([3; 32], vec![], init, &mut rng).unwrap();
        let b = Session::responder([3; 32], vec![], [2; 32], spk);
        (a, b, rng)
    }

    fn send(s: &mut Session, msg: &[u8]) -> (Header, Vec<u8>) {
        let (h, k) = s.next_send().unwrap();
        (h, keys::seal(&k, b"ad", msg).unwrap())
    }

    #[test]
    fn skipped_keys_open_late_messages_once() {
        let (mut a, b, rng) = pair();
        let m0 = send(&mut a, b"m0");
        let m1 = send(&mut a, b"m1");
        let (b, rng, p1) = b.open(&m1.0, b"ad", &m1.1, &rng).unwrap();
        assert_eq!(p1, b"m1");
        assert_eq!(b.skipped.len(), 1);
        let (b, _, p0) = b.open(&m0.0, b"ad", &m0.1, &rng).unwrap();
        assert_eq!(p0, b"m0");
        assert!(b.skipped.is_empty());
        assert!(matches!(b.open(&m0.0, b"ad", &m0.1, &rng), Err(ImplError::Rejected(_))));
    }

    #[test]
    fn forensic_keys_are_the_keys_still_held_and_no_others() {
        let (mut a, b, rng) = pair();
        let before_sending = a.clone();
        let m: Vec<_> = (0..3).map(|i| send(&mut a, format!("m{i}").as_bytes())).collect();
        let opens = |key: Option<[u8; 32]>, i: usize| {
            key.is_some_and(|k| keys::open(&k, b"ad", &m[i].1).ok() == Some(format!("m{i}").into_bytes()))
        };
        // Before anything arrived, every key is derivable; so are the sender's
        // from a copy taken before it sent, and none from its state after.
        for (i, (header, _)) in m.iter().enumerate() {
            assert!(opens(b.received_key(header), i), "m{i} before arrival");
            assert!(opens(before_sending.sent_key(header), i), "m{i} from the sender's earlier state");
            assert_eq!(a.sent_key(header), None, "m{i}: the sender deleted its key");
        }
        // m1 arrives first: m0's key is kept as skipped, m1's is gone, m2's ahead.
        let (b, _, _) = b.open(&m[1].0, b"ad", &m[1].1, &rng).unwrap();
        assert!(opens(b.received_key(&m[0].0), 0));
        assert_eq!(b.received_key(&m[1].0), None);
        assert!(opens(b.received_key(&m[2].0), 2));
        // Too far ahead is not derived.
        let far = Header { n: b.n_recv + FORENSIC_MAX_DERIVE + 1, ..m[2].0 };
        assert_eq!(b.received_key(&far), None);
    }

    #[test]
    fn hostile_message_numbers_cost_bounded_work() {
        let (mut a, b, rng) = pair();
        let (mut h, ct) = send(&mut a, b"m");
        h.n = u32::MAX;
        assert!(matches!(b.open(&h, b"ad", &ct, &rng), Err(ImplError::Rejected(_))));
        assert!(b.skipped.is_empty());
    }
}
