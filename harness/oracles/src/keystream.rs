//! Keystream reuse and deterministic encryption: what ciphertext gives away
//! when the same keystream, or the same key without a fresh nonce, serves
//! two messages. The harness knows every plaintext, so it can tell without
//! breaking anything.
//!
//! - **Two-time pad.** When two messages `P1`, `P2` are XORed with the same
//!   keystream `K`, whatever surrounds them (headers of any length before,
//!   a MAC or tag after), `C1 ⊕ C2 = P1 ⊕ P2`: a provider who knows or
//!   guesses one message reads the other. Every envelope gives, under its
//!   own message's plaintext, candidate keystream windows `body[s+j..s+j+16]
//!   ⊕ P[j..j+16]` for every start `s` of the plaintext in the body and a
//!   few anchors `j` (every 16 bytes of the first 128, and the two 16-byte
//!   halves of the canary at the end). They go into one hash map (a keyed
//!   64-bit digest and where it came from: 24 bytes a window); the same
//!   window from envelopes of two different messages, under plaintext
//!   windows that differ in at least half their bytes, is keystream reuse.
//!   The match is then counted byte by byte over everything the two
//!   plaintexts share. Cost: at most 10 map operations per body byte, never
//!   a comparison of pairs of envelopes; each message pair is reported once,
//!   against the first message that used the keystream.
//! - **Deterministic encryption.** When two messages with the same text
//!   (what precedes the canary; the canaries always differ) give envelopes
//!   with an equal 16-byte window that no envelope of a message with another
//!   text, and no published key bundle, holds, and that does not overlap
//!   the text in the clear (or XORed with a constant, or with its case
//!   changed), the provider sees when a text repeats (ECB, CBC or CTR with a
//!   fixed IV). A window is only counted when each sender also sent, in the
//!   same conversation, a message of the same length with another text:
//!   without such a control, a header every message of that sender carries,
//!   or a length in the clear, could not be told from ciphertext (the vector
//!   `basic/same-text-twice` has one). Cost: one map operation per byte of
//!   the envelopes, and only when some text was sent twice.
//!
//! Windows with fewer than 8 distinct byte values (all zero: text in the
//! clear; one or a few values: text XORed with a short constant, or case
//! changes) are never counted: the text scanner reports those forms.
//!
//! Not found: keystream reuse where the plaintext sits at different offsets
//! of the keystream in the two envelopes, except where an anchor happens to
//! line up; plaintext encoded before encryption (base64, compression); a
//! deterministic scheme over the whole message (AES-SIV), which the per-message
//! canary makes look random, as it should.

use crate::common::{describe_record, plural};
use crate::verdict::{Evidence, Finding};
use doormat_engine::provider::RecordKind;
use doormat_engine::run::Run;
use doormat_formats::Property;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher as _;

/// Length of the windows compared, in bytes.
pub const WINDOW: usize = 16;
/// Fewest distinct byte values a window needs to be counted.
const MIN_DISTINCT: usize = 8;
/// Anchors every [`WINDOW`] bytes from the start of a plaintext, at most.
const MAX_ANCHORS: usize = 8;

/// What was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The same keystream under two different messages.
    TwoTimePad,
    /// The same text gave equal ciphertext.
    Deterministic,
}

/// One side of a reuse: an envelope of a message and where in its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Side {
    /// Index into `run.truth.messages`.
    pub message: usize,
    /// Index into `run.envelopes`.
    pub envelope: usize,
    /// Byte offset in the envelope's body where the shared bytes start.
    pub offset: usize,
    /// For a two-time pad, the index of the message's plaintext byte that
    /// `offset` encrypts; 0 for deterministic encryption.
    pub plaintext: usize,
}

/// Two messages whose envelopes give each other away.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reuse {
    /// What was reused.
    pub kind: Kind,
    /// The earlier envelope.
    pub first: Side,
    /// The later envelope.
    pub second: Side,
    /// Bytes covered: for a two-time pad, the bytes of the plaintexts whose
    /// XOR the two envelopes show; for deterministic encryption, the equal
    /// bytes in one run.
    pub len: usize,
}

/// Every reuse in the run, two-time pads first, each pair of messages once
/// per kind, in a stable order.
pub fn find(run: &Run) -> Vec<Reuse> {
    let mut out = two_time_pads(run);
    out.extend(deterministic(run));
    out.sort();
    out
}

/// The provider-blind findings these give: at most one per kind, with one
/// piece of evidence per pair of messages (the finding keeps the first
/// few).
pub fn findings(run: &Run) -> Vec<Finding> {
    let all = find(run);
    let records = envelope_records(run);
    let p = Property::ProviderBlind;
    let mut out = Vec::new();
    for kind in [Kind::TwoTimePad, Kind::Deterministic] {
        let of_kind: Vec<&Reuse> = all.iter().filter(|r| r.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        // The later message of each pair: the one given away.
        let later: BTreeSet<usize> = of_kind.iter().map(|r| r.second.message).collect();
        let n = later.len();
        let sentence = match kind {
            Kind::TwoTimePad => format!(
                "A provider who knows or guesses one message reads another: {} {} encrypted with a keystream already used for an earlier message (a two-time pad)",
                plural(n, "message", "messages"),
                if n == 1 { "was" } else { "were" }
            ),
            Kind::Deterministic => format!(
                "The provider sees when a text repeats: {} repeated the text of an earlier message and gave equal ciphertext (deterministic encryption)",
                plural(n, "message", "messages")
            ),
        };
        let evidence = of_kind.iter().map(|r| evidence_with(run, &records, r)).collect();
        out.push(Finding::new(p, &run.scenario.id, sentence, evidence));
    }
    out
}

/// One reuse as evidence: the later message, its record and offset.
pub fn evidence(run: &Run, r: &Reuse) -> Evidence {
    evidence_with(run, &envelope_records(run), r)
}

fn evidence_with(run: &Run, records: &HashMap<usize, usize>, r: &Reuse) -> Evidence {
    let msgs = &run.truth.messages;
    let (m1, m2) = (&msgs[r.first.message], &msgs[r.second.message]);
    let rec = |e: usize| records.get(&e).copied();
    let describe = |e: usize| rec(e).map_or_else(|| format!("envelope {e}"), |n| describe_record(run, n));
    let (text, encoding) = match r.kind {
        Kind::TwoTimePad => (
            format!(
                "a provider who knows or guesses {} reads {}: the envelopes of {} and {}, {} and {}, were encrypted with the same keystream at byte offsets {} and {} ({} bytes of their texts)",
                m1.id,
                m2.id,
                m1.id,
                m2.id,
                describe(r.first.envelope),
                describe(r.second.envelope),
                r.first.offset,
                r.second.offset,
                r.len
            ),
            "keystream reused (two-time pad)",
        ),
        Kind::Deterministic => (
            format!(
                "{} and {} have the same text and their envelopes, {} and {}, share {} equal ciphertext bytes at offsets {} and {}: the provider sees when a text repeats",
                m1.id,
                m2.id,
                describe(r.first.envelope),
                describe(r.second.envelope),
                r.len,
                r.first.offset,
                r.second.offset
            ),
            "deterministic encryption",
        ),
    };
    Evidence {
        step: run.envelopes.get(r.second.envelope).map_or(m2.step, |e| e.step),
        message: Some(m2.id.0.clone()),
        party: Some("the provider".to_owned()),
        record: rec(r.second.envelope),
        offset: Some(r.second.offset),
        encoding: Some(encoding.to_owned()),
        text,
    }
}

/// Envelope index → provider-view record.
fn envelope_records(run: &Run) -> HashMap<usize, usize> {
    run.view
        .iter()
        .filter_map(|r| match r.kind {
            RecordKind::Envelope { envelope } => Some((envelope, r.seq)),
            RecordKind::Bundle { .. } => None,
        })
        .collect()
}

/// The 16 bytes at `at` as one number (the caller checks the bounds).
fn word(bytes: &[u8], at: usize) -> u128 {
    let mut w = [0u8; WINDOW];
    w.copy_from_slice(&bytes[at..at + WINDOW]);
    u128::from_le_bytes(w)
}

/// Whether a window has at least [`MIN_DISTINCT`] distinct byte values.
fn varied(w: u128) -> bool {
    let mut seen = [0u64; 4];
    let mut n = 0;
    for b in w.to_le_bytes() {
        let (i, bit) = (usize::from(b >> 6), 1u64 << (b & 63));
        if seen[i] & bit == 0 {
            seen[i] |= bit;
            n += 1;
        }
    }
    n >= MIN_DISTINCT
}

/// Bytes that differ between two windows.
fn differing(a: u128, b: u128) -> usize {
    (a ^ b).to_le_bytes().iter().filter(|&&x| x != 0).count()
}

/// Where keystream windows are taken in a plaintext of `len` bytes: every
/// [`WINDOW`] bytes from its start (at most [`MAX_ANCHORS`]), and the two
/// halves of the last 32 bytes (the canary).
fn anchors(len: usize) -> Vec<usize> {
    if len < WINDOW {
        return Vec::new();
    }
    let mut a: Vec<usize> = (0..=len - WINDOW).step_by(WINDOW).take(MAX_ANCHORS).collect();
    a.push(len - WINDOW);
    if len >= 2 * WINDOW {
        a.push(len - 2 * WINDOW);
    }
    a.sort_unstable();
    a.dedup();
    a
}

/// Where a keystream window was first derived (16 bytes: the map holds one
/// per candidate window, 24 bytes with its key).
#[derive(Debug, Clone, Copy)]
struct Origin {
    envelope: u32,
    message: u32,
    /// Offset of the plaintext's first byte in the body.
    start: u32,
    /// The anchor: offset of the window in the plaintext.
    anchor: u32,
}

impl Origin {
    fn new(envelope: usize, message: usize, start: usize, anchor: usize) -> Option<Origin> {
        let n = |x: usize| u32::try_from(x).ok();
        Some(Origin { envelope: n(envelope)?, message: n(message)?, start: n(start)?, anchor: n(anchor)? })
    }

    fn envelope(self) -> usize {
        self.envelope as usize
    }

    fn message(self) -> usize {
        self.message as usize
    }

    fn start(self) -> usize {
        self.start as usize
    }

    fn anchor(self) -> usize {
        self.anchor as usize
    }

    /// The keystream window it gives.
    fn window(self, run: &Run) -> u128 {
        let (b, p) = (&run.envelopes[self.envelope()].body, &run.truth.messages[self.message()].plaintext);
        word(b, self.start() + self.anchor()) ^ word(p, self.anchor())
    }
}

fn two_time_pads(run: &Run) -> Vec<Reuse> {
    let msgs = &run.truth.messages;
    // Keyed 64-bit digests of the windows (checked in full on a match), so
    // the map costs 24 bytes a window.
    let keys = Keyed::new();
    let mut seen: HashMap<u64, Origin, Digested> = HashMap::with_hasher(Digested);
    let mut reported: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut out = Vec::new();
    for (ei, env) in run.envelopes.iter().enumerate() {
        let Some(&mi) = run.truth.envelope_message.get(&ei) else { continue };
        let Some(m) = msgs.get(mi) else { continue };
        let (p, b) = (&m.plaintext, &env.body);
        if b.len() < p.len() {
            continue;
        }
        for anchor in anchors(p.len()) {
            let pw = word(p, anchor);
            for start in 0..=b.len() - p.len() {
                let k = word(b, start + anchor) ^ pw;
                let Some(here) = Origin::new(ei, mi, start, anchor) else { continue };
                let first = match seen.entry(keys.digest(k)) {
                    Entry::Vacant(v) => {
                        v.insert(here);
                        continue;
                    }
                    Entry::Occupied(o) => *o.get(),
                };
                // Text in the clear (all zero) or under a short repeating
                // key is the scanner's; two messages of the same text are
                // the same window.
                if first.message() == mi || reported.contains(&(first.message(), mi)) || !varied(k) {
                    continue;
                }
                if first.window(run) != k {
                    continue;
                }
                let p1 = &msgs[first.message()].plaintext;
                if differing(word(p1, first.anchor()), pw) < WINDOW / 2 {
                    continue;
                }
                if let Some(r) = two_time_pad(run, first, here) {
                    reported.insert((first.message(), mi));
                    out.push(r);
                }
            }
        }
    }
    out
}

/// Counts the bytes over which the two envelopes show the XOR of their
/// plaintexts, under the alignment the matching window gives.
fn two_time_pad(run: &Run, a: Origin, b: Origin) -> Option<Reuse> {
    let msgs = &run.truth.messages;
    let (p1, p2) = (&msgs[a.message()].plaintext, &msgs[b.message()].plaintext);
    let (b1, b2) = (&run.envelopes[a.envelope()].body, &run.envelopes[b.envelope()].body);
    // Plaintext index i of the first is index i + shift of the second.
    let shift = b.anchor() as isize - a.anchor() as isize;
    let lo = 0isize.max(-shift);
    let hi = (p1.len() as isize).min(p2.len() as isize - shift);
    let mut len = 0;
    for i in lo..hi {
        let (i1, i2) = (i as usize, (i + shift) as usize);
        let (x, y) = (b1.get(a.start() + i1), b2.get(b.start() + i2));
        if let (Some(&x), Some(&y)) = (x, y) {
            if x ^ y == p1[i1] ^ p2[i2] {
                len += 1;
            }
        }
    }
    if len < WINDOW {
        return None;
    }
    let lo = lo as usize;
    Some(Reuse {
        kind: Kind::TwoTimePad,
        first: Side { message: a.message(), envelope: a.envelope(), offset: a.start() + lo, plaintext: lo },
        second: Side {
            message: b.message(),
            envelope: b.envelope(),
            offset: b.start() + (lo as isize + shift) as usize,
            plaintext: (lo as isize + shift) as usize,
        },
        len,
    })
}

/// A message's text: its plaintext without the canary (and the space before
/// it); `None` when there is none.
fn text(m: &doormat_engine::truth::MessageTruth) -> Option<&[u8]> {
    let t = m.plaintext.strip_suffix(&m.canary[..])?;
    let t = t.strip_suffix(b" ").unwrap_or(t);
    (!t.is_empty()).then_some(t)
}

/// A window of an envelope of a message whose text was sent more than once.
#[derive(Debug, Clone, Copy)]
struct Spot {
    envelope: usize,
    message: usize,
    offset: usize,
}

#[derive(Debug)]
struct Candidate {
    /// The text group of the messages it was seen in.
    group: usize,
    first: Spot,
    /// One spot for each later message it was seen in (at most
    /// [`MAX_REPEATS`]).
    later: Vec<Spot>,
    /// Also seen where the text differs (or in a bundle).
    mixed: bool,
}

/// Later messages kept per window for deterministic encryption.
const MAX_REPEATS: usize = 16;

/// Which windows of `body` overlap a copy of `text` in the clear or in a
/// form the scanner reads (XORed with a constant byte, case changed: the
/// body XOR the text takes fewer than [`MIN_DISTINCT`] values over the
/// whole text, or, for a text shorter than a window, at most two); those
/// are the scanner's, not ciphertext.
fn clear_text_mask(body: &[u8], text: &[u8]) -> Vec<bool> {
    let mut covered = vec![false; body.len()];
    let most = if text.len() >= WINDOW { MIN_DISTINCT - 1 } else { 2 };
    if text.len() >= 4 && body.len() >= text.len() {
        for s in 0..=body.len() - text.len() {
            let mut seen = [0u64; 4];
            let mut n = 0;
            let plain = body[s..s + text.len()].iter().zip(text).all(|(b, t)| {
                let x = b ^ t;
                let (i, bit) = (usize::from(x >> 6), 1u64 << (x & 63));
                if seen[i] & bit == 0 {
                    seen[i] |= bit;
                    n += 1;
                }
                n <= most
            });
            if plain {
                covered[s..s + text.len()].iter_mut().for_each(|c| *c = true);
            }
        }
    }
    // Window `o` overlaps the text if any of its bytes does.
    let mut mask = vec![false; (body.len() + 1).saturating_sub(WINDOW)];
    let mut last = None;
    for (x, &c) in covered.iter().enumerate() {
        if c {
            last = Some(x);
        }
        if x + 1 >= WINDOW {
            mask[x + 1 - WINDOW] = last.is_some_and(|l| l + WINDOW > x);
        }
    }
    mask
}

fn deterministic(run: &Run) -> Vec<Reuse> {
    let msgs = &run.truth.messages;
    // Texts sent more than once, numbered.
    let mut by_text: BTreeMap<&[u8], Vec<usize>> = BTreeMap::new();
    for (i, m) in msgs.iter().enumerate() {
        if let Some(t) = text(m) {
            by_text.entry(t).or_default().push(i);
        }
    }
    let group: HashMap<usize, usize> = by_text
        .values()
        .filter(|v| v.len() > 1)
        .enumerate()
        .flat_map(|(g, v)| v.iter().map(move |&i| (i, g)))
        .collect();
    if group.is_empty() {
        return Vec::new();
    }
    let message_of = |e: usize| run.truth.envelope_message.get(&e).copied();
    let mut cands: HashMap<u128, Candidate, Keyed> = HashMap::with_hasher(Keyed::new());
    for (ei, env) in run.envelopes.iter().enumerate() {
        let Some((mi, &g)) = message_of(ei).and_then(|mi| Some((mi, group.get(&mi)?))) else { continue };
        let clear = clear_text_mask(&env.body, text(&msgs[mi]).unwrap_or_default());
        for (off, &in_clear) in clear.iter().enumerate() {
            let w = word(&env.body, off);
            if in_clear || !varied(w) {
                continue;
            }
            let here = Spot { envelope: ei, message: mi, offset: off };
            match cands.entry(w) {
                Entry::Vacant(v) => {
                    v.insert(Candidate { group: g, first: here, later: Vec::new(), mixed: false });
                }
                Entry::Occupied(mut o) => {
                    let c = o.get_mut();
                    if c.group != g {
                        c.mixed = true;
                    } else if c.first.message != mi
                        && c.later.len() < MAX_REPEATS
                        && c.later.last().is_none_or(|l| l.message != mi)
                    {
                        c.later.push(here);
                    }
                }
            }
        }
    }
    cands.retain(|_, c| !c.later.is_empty() && !c.mixed);
    if cands.is_empty() {
        return Vec::new();
    }
    // Everything else the provider saw: envelopes of other texts, bundles.
    for r in &run.view {
        if let RecordKind::Envelope { envelope } = r.kind {
            if message_of(envelope).is_some_and(|mi| group.contains_key(&mi)) {
                continue;
            }
        }
        for off in 0..(r.bytes.len() + 1).saturating_sub(WINDOW) {
            if let Some(c) = cands.get_mut(&word(&r.bytes, off)) {
                c.mixed = true;
            }
        }
    }
    // Each sender needs a control: a message of the same length in the same
    // conversation with another text, so that what a clear length (or
    // anything else that follows from it) makes equal is seen there too.
    type Shape<'a> = (&'a doormat_formats::DeviceAddr, &'a str, usize);
    let mut texts_of: HashMap<Shape<'_>, BTreeSet<Option<usize>>> = HashMap::new();
    for (i, m) in msgs.iter().enumerate() {
        let shape = (&m.from, m.conversation.as_str(), m.plaintext.len());
        texts_of.entry(shape).or_default().insert(group.get(&i).copied());
    }
    let controlled = |mi: usize| {
        let m = &msgs[mi];
        texts_of.get(&(&m.from, m.conversation.as_str(), m.plaintext.len())).is_some_and(|s| s.len() > 1)
    };
    // Per pair of messages, the windows found: the two envelopes, the
    // diagonal (offset in the second minus offset in the first) and the
    // offset in the first.
    type Found = BTreeSet<(usize, usize, isize, usize)>;
    let mut pairs: BTreeMap<(usize, usize), Found> = BTreeMap::new();
    for c in cands.values().filter(|c| !c.mixed && controlled(c.first.message)) {
        let a = c.first;
        for b in c.later.iter().filter(|b| controlled(b.message)) {
            let diagonal = b.offset as isize - a.offset as isize;
            pairs.entry((a.message, b.message)).or_default().insert((a.envelope, b.envelope, diagonal, a.offset));
        }
    }
    pairs
        .into_iter()
        .filter_map(|((m1, m2), spots)| {
            let &(e1, e2, diagonal, s) = spots.first()?;
            // The consecutive windows from the first one on.
            let last = (s..).take_while(|o| spots.contains(&(e1, e2, diagonal, *o))).last()?;
            let (b1, b2) = (&run.envelopes[e1].body, &run.envelopes[e2].body);
            let at2 = |o: usize| (o as isize + diagonal) as usize;
            let equal = |o: usize| o < b1.len() && at2(o) < b2.len() && b1[o] == b2[at2(o)];
            // Equal bytes just outside the run are also where the text
            // differs: only the bytes no such window holds are the text's.
            let mut start = if s > 0 && at2(s) > 0 && equal(s - 1) { s + WINDOW - 1 } else { s };
            let mut end = if equal(last + WINDOW) { last + 1 } else { last + WINDOW };
            if start >= end {
                (start, end) = (s, last + WINDOW);
            }
            // Fewer equal bytes than one window, once the edges are taken
            // off, is framing that happens to repeat, not a repeated text.
            if end - start < WINDOW {
                return None;
            }
            Some(Reuse {
                kind: Kind::Deterministic,
                first: Side { message: m1, envelope: e1, offset: start, plaintext: 0 },
                second: Side { message: m2, envelope: e2, offset: at2(start), plaintext: 0 },
                len: end - start,
            })
        })
        .collect()
}

/// A hasher for the 16-byte windows: a folded multiply under keys drawn
/// from the standard library's random state, so that an implementation
/// cannot choose windows that collide (SipHash costs too much here).
#[derive(Debug, Clone, Copy)]
struct Keyed(u64, u64);

impl Keyed {
    fn new() -> Keyed {
        let state = std::collections::hash_map::RandomState::new();
        Keyed(state.hash_one(0u8) | 1, state.hash_one(1u8) | 1)
    }
}

impl Keyed {
    /// A 64-bit digest of a window under the keys.
    fn digest(self, x: u128) -> u64 {
        let mut f = Folded { keys: self, h: 0 };
        f.fold(x as u64, (x >> 64) as u64);
        f.h
    }
}

/// Hashes keys that are already keyed digests: passes them through.
#[derive(Debug, Clone, Copy, Default)]
struct Digested;

impl std::hash::BuildHasher for Digested {
    type Hasher = Passed;
    fn build_hasher(&self) -> Passed {
        Passed(0)
    }
}

#[derive(Debug)]
struct Passed(u64);

impl std::hash::Hasher for Passed {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl std::hash::BuildHasher for Keyed {
    type Hasher = Folded;
    fn build_hasher(&self) -> Folded {
        Folded { keys: *self, h: 0 }
    }
}

#[derive(Debug)]
struct Folded {
    keys: Keyed,
    h: u64,
}

impl Folded {
    fn fold(&mut self, lo: u64, hi: u64) {
        let m = u128::from(lo ^ self.keys.0 ^ self.h) * u128::from(hi ^ self.keys.1);
        self.h = (m as u64) ^ ((m >> 64) as u64);
    }
}

impl std::hash::Hasher for Folded {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(16) {
            let mut w = [0u8; 16];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u128(u128::from_le_bytes(w));
        }
    }

    fn write_u128(&mut self, x: u128) {
        self.fold(x as u64, (x >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.h
    }
}
