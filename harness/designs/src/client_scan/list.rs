//! The scan list: what the scanning service asks clients to look for, as
//! the provider pushes it, and how a client matches a plaintext against it.
//!
//! An entry is either *exact* (SHA-256 of the content; a plaintext matches
//! when its SHA-256 is equal) or *similar* (the set of hashes of the
//! normalised words of a text; a plaintext matches when at least 80% of the
//! entry's words occur among its own words). Normalising splits on every
//! character that is not alphanumeric and lower-cases each word; a word's
//! hash is SHA-256 of [`WORD_LABEL`] ‖ word. So `"meet at the old square"`
//! matches `"Meet at the old square tonight <canary>"` (5 of 5 words) and
//! not `"the old bridge at noon"` (3 of 5: 60%).
//!
//! Encoding (the push data): `"DSL1" ‖ u32 count ‖ entry*`, an entry being
//! `1 ‖ hash (32)` (exact) or `2 ‖ u32 n ‖ hash (32) * n` (similar, n ≥ 1,
//! hashes in ascending order). An entry's id is its index in the list.
//!
//! **Invariants:** the list is opaque to the client: it holds hashes only,
//! never the targeted content; decoding never panics and refuses anything
//! that is not exactly one encoded list. No encoded list is 32 bytes long
//! (the smallest non-empty one has 41), so a push of 32 bytes is always the
//! service's public key.

use crate::framing::{rejected, Reader, Writer};
use doormat_engine::ImplError;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// First bytes of an encoded list.
const MAGIC: &[u8; 4] = b"DSL1";
const KIND_EXACT: u8 = 1;
const KIND_SIMILAR: u8 = 2;
/// Domain separation of word hashes.
const WORD_LABEL: &[u8] = b"doormat client-scan word v1\0";
/// A similar entry matches when `matched * NUMERATOR >= words * DENOMINATOR`
/// (at least 80% of its words occur in the plaintext).
const SHARE_NUMERATOR: usize = 5;
const SHARE_DENOMINATOR: usize = 4;

/// One thing to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    /// SHA-256 of the exact content.
    Exact([u8; 32]),
    /// Hashes of the normalised words of a text (never empty).
    Similar(BTreeSet<[u8; 32]>),
}

impl Entry {
    /// The exact entry for `content`.
    pub(super) fn exact(content: &[u8]) -> Entry {
        Entry::Exact(Sha256::digest(content).into())
    }

    /// The similar entry for `text`; refused when the text has no words.
    pub(super) fn similar(text: &str) -> Result<Entry, ImplError> {
        let words = word_hashes(text);
        if words.is_empty() {
            return Err(rejected("similar-content target has no words"));
        }
        Ok(Entry::Similar(words))
    }
}

/// A list of entries, in the order the service added them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ScanList {
    entries: Vec<Entry>,
}

impl ScanList {
    /// Adds an entry at the end.
    pub(super) fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// Whether the list has no entries.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The id (index) of the first entry `plaintext` matches.
    pub(super) fn first_match(&self, plaintext: &[u8]) -> Option<u32> {
        let digest: [u8; 32] = Sha256::digest(plaintext).into();
        let mut words = None;
        let index = self.entries.iter().position(|entry| match entry {
            Entry::Exact(hash) => *hash == digest,
            Entry::Similar(wanted) => {
                let have = words.get_or_insert_with(|| word_hashes(&String::from_utf8_lossy(plaintext)));
                let matched = wanted.intersection(have).count();
                matched * SHARE_NUMERATOR >= wanted.len() * SHARE_DENOMINATOR
            }
        })?;
        u32::try_from(index).ok()
    }

    /// The push data (see the module documentation).
    pub(super) fn encode(&self) -> Result<Vec<u8>, ImplError> {
        let mut w = Writer::new();
        w.raw(MAGIC);
        w.u32(count(self.entries.len())?);
        for entry in &self.entries {
            match entry {
                Entry::Exact(hash) => {
                    w.u8(KIND_EXACT);
                    w.raw(hash);
                }
                Entry::Similar(words) => {
                    w.u8(KIND_SIMILAR);
                    w.u32(count(words.len())?);
                    for hash in words {
                        w.raw(hash);
                    }
                }
            }
        }
        Ok(w.finish())
    }

    /// Reads what [`ScanList::encode`] wrote, and nothing more.
    pub(super) fn decode(bytes: &[u8]) -> Result<ScanList, ImplError> {
        let mut r = Reader::new(bytes);
        if r.array::<4>("scan list magic")? != *MAGIC {
            return Err(rejected("not a scan list"));
        }
        let n = r.u32("scan list entry count")?;
        // No preallocation: `n` is untrusted; every entry costs at least 33
        // bytes, so a lying count fails on truncation quickly.
        let mut entries = Vec::new();
        for _ in 0..n {
            let entry = match r.u8("scan list entry kind")? {
                KIND_EXACT => Entry::Exact(r.array("exact hash")?),
                KIND_SIMILAR => {
                    let words = r.u32("word count")?;
                    if words == 0 {
                        return Err(rejected("similar scan list entry without words"));
                    }
                    let mut set = BTreeSet::new();
                    for _ in 0..words {
                        if !set.insert(r.array("word hash")?) {
                            return Err(rejected("repeated word hash in a scan list entry"));
                        }
                    }
                    Entry::Similar(set)
                }
                other => return Err(rejected(format!("unknown scan list entry kind {other}"))),
            };
            entries.push(entry);
        }
        r.end("scan list")?;
        Ok(ScanList { entries })
    }
}

/// A length as the `u32` the encoding uses.
fn count(n: usize) -> Result<u32, ImplError> {
    u32::try_from(n).map_err(|_| ImplError::Failed(format!("{n} items are too many to encode")))
}

/// The hashes of the normalised words of `text`.
fn word_hashes(text: &str) -> BTreeSet<[u8; 32]> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| Sha256::new().chain_update(WORD_LABEL).chain_update(w.to_lowercase().as_bytes()).finalize().into())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn list(entries: Vec<Entry>) -> ScanList {
        ScanList { entries }
    }

    #[test]
    fn exact_entries_match_only_the_same_bytes() {
        let l = list(vec![Entry::exact(b"other"), Entry::exact(b"hello ABCD")]);
        assert_eq!(l.first_match(b"hello ABCD"), Some(1));
        assert_eq!(l.first_match(b"hello ABCE"), None);
        assert_eq!(l.first_match(b"hello ABCD "), None);
        assert_eq!(ScanList::default().first_match(b"hello ABCD"), None);
    }

    #[test]
    fn similar_entries_need_four_fifths_of_their_words() {
        let l = list(vec![Entry::similar("meet at the old square").unwrap()]);
        assert_eq!(l.first_match(b"Meet at the old square tonight ABCDEFGH"), Some(0));
        assert_eq!(l.first_match(b"MEET, at the OLD square!"), Some(0));
        // 4 of 5 words: exactly 80%.
        assert_eq!(l.first_match(b"meet at the old bridge"), Some(0));
        // 3 of 5 words: 60%.
        assert_eq!(l.first_match(b"the old bridge at noon"), None);
        assert_eq!(l.first_match(b"lunch tomorrow?"), None);
        assert_eq!(l.first_match(&[0xff, 0xfe, 0x00]), None);
        assert!(Entry::similar(" ,.!? ").is_err());
    }

    #[test]
    fn encoding_round_trips_and_refuses_every_truncation_and_extension() {
        let l = list(vec![Entry::exact(b"x"), Entry::similar("a b c").unwrap(), Entry::exact(b"y")]);
        let bytes = l.encode().unwrap();
        assert_eq!(ScanList::decode(&bytes).unwrap(), l);
        for cut in 0..bytes.len() {
            assert!(ScanList::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(ScanList::decode(&longer).is_err());
        assert_eq!(ScanList::decode(&ScanList::default().encode().unwrap()).unwrap(), ScanList::default());
    }

    #[test]
    fn lying_counts_are_refused() {
        assert!(ScanList::decode(b"DSL1\xff\xff\xff\xff\x01").is_err());
        assert!(ScanList::decode(b"DSL1\x00\x00\x00\x01\x02\x00\x00\x00\x00").is_err());
        assert!(ScanList::decode(b"DSL1\x00\x00\x00\x01\x02\xff\xff\xff\xff").is_err());
        assert!(ScanList::decode(b"DSL1\x00\x00\x00\x01\x03").is_err());
        assert!(ScanList::decode(&[0u8; 32]).is_err());
    }
}
