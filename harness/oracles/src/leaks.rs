//! *provider-blind*: no message text in anything the provider sees.
//!
//! Every canary is searched for in every record of the provider view, raw
//! and encoded, by the [`scan`](crate::scan) module in one pass; the
//! envelopes are searched for a reused keystream and for deterministic
//! encryption by the [`keystream`](crate::keystream) module.

use crate::common::{describe_record, plural};
use crate::scan::{self, Scanner};
use crate::verdict::{Evidence, Finding, Judgement};
use doormat_engine::run::Run;
use doormat_engine::timings::{self, Phase};
use doormat_formats::Property;
use std::collections::BTreeMap;

/// Every form the scanner searches, for the note.
pub(crate) const FORMS: &str = "as text (any ASCII case, reversed, UTF-16 and UTF-32 in both byte orders, fragments of 8 bytes or more), XORed with a constant byte or a repeating key of up to 32 bytes, and as MD5, SHA-1, SHA-2, SHA-3, BLAKE2 and BLAKE3 digests of the whole text; inside base64 (standard and URL, any alignment, line breaks), base32, base32hex, hex, percent-encoding, JSON strings and JSON byte arrays, and zlib, gzip and zstd streams at any offset, raw deflate and brotli at any offset (at the start only of layers over 64 KiB), decoded up to 4 layers deep";

pub(crate) fn provider_blind(run: &Run) -> Judgement {
    let p = Property::ProviderBlind;
    let msgs = &run.truth.messages;
    if msgs.is_empty() {
        return Judgement::not_tested(p, "the vector sends no message");
    }
    let canaries: Vec<scan::Canary<'_>> =
        msgs.iter().enumerate().map(|(id, m)| scan::Canary { id, bytes: &m.canary, plaintext: &m.plaintext }).collect();
    let records: Vec<scan::Record<'_>> = run.view.iter().map(|r| scan::Record { id: r.seq, bytes: &r.bytes }).collect();
    let hits = timings::phase(Phase::Scan, || Scanner::shared(&canaries).scan(&records));
    // Best hit per message and kind, in message order: the fewest decodings,
    // then the first place.
    let mut text: BTreeMap<usize, &scan::Hit> = BTreeMap::new();
    let mut digest: BTreeMap<usize, &scan::Hit> = BTreeMap::new();
    for h in &hits {
        let best = match h.kind {
            scan::HitKind::Text => &mut text,
            scan::HitKind::Digest => &mut digest,
        };
        let slot = best.entry(h.canary).or_insert(h);
        if (h.depth(), h.record, h.offset) < (slot.depth(), slot.record, slot.offset) {
            *slot = h;
        }
    }
    // A message whose text leaks is not also reported for its digest.
    digest.retain(|mi, _| !text.contains_key(mi));
    let bytes: usize = run.view.iter().map(|r| r.bytes.len()).sum();
    let note = format!(
        "searched {} ({} bytes) for the text of {}, {FORMS}; and the envelopes for a keystream used under two messages (a two-time pad) and for equal ciphertext where a text repeats (deterministic encryption)",
        plural(run.view.len(), "provider record", "provider records"),
        bytes,
        plural(msgs.len(), "message", "messages")
    );
    let evidence = |first: &BTreeMap<usize, &scan::Hit>, what: &str| -> Vec<Evidence> {
        first
            .values()
            .map(|h| {
                let m = &msgs[h.canary];
                let step = run.view.get(h.record).map_or(m.step, |r| r.step);
                Evidence {
                    step,
                    message: Some(m.id.0.clone()),
                    party: Some("the provider".to_owned()),
                    record: Some(h.record),
                    offset: Some(h.offset),
                    encoding: Some(h.encoding.clone()),
                    text: format!(
                        "{what} {} (sent by {} at step {}) is in {} at byte offset {}, {} ({} bytes)",
                        m.id,
                        m.from,
                        m.step,
                        describe_record(run, h.record),
                        h.offset,
                        h.encoding,
                        h.len
                    ),
                }
            })
            .collect()
    };
    let mut findings = Vec::new();
    if !text.is_empty() {
        let sentence = format!(
            "The provider could read {} of {}: their text appeared in what it stored and forwarded",
            text.len(),
            plural(msgs.len(), "message", "messages")
        );
        findings.push(Finding::new(p, &run.scenario.id, sentence, evidence(&text, "message")));
    }
    if !digest.is_empty() {
        let sentence = format!(
            "The provider can confirm whether a message says X for {} of {}: an unkeyed digest of their text appeared in what it stored and forwarded",
            digest.len(),
            plural(msgs.len(), "message", "messages")
        );
        findings.push(Finding::new(p, &run.scenario.id, sentence, evidence(&digest, "a digest of message")));
    }
    findings.extend(crate::keystream::findings(run));
    Judgement::from_findings(p, findings, note, "none found")
}
