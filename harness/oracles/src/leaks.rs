//! *provider-blind*: no message text in anything the provider sees.
//!
//! Every canary is searched for in every record of the provider view, raw
//! and encoded, by the [`scan`](crate::scan) module in one pass.

use crate::common::{describe_record, plural};
use crate::scan::{self, Scanner};
use crate::verdict::{Evidence, Finding, Judgement};
use doormat_engine::run::Run;
use doormat_formats::Property;
use std::collections::BTreeMap;

pub(crate) fn provider_blind(run: &Run) -> Judgement {
    let p = Property::ProviderBlind;
    let msgs = &run.truth.messages;
    if msgs.is_empty() {
        return Judgement::not_tested(p, "the vector sends no message");
    }
    let canaries: Vec<scan::Canary<'_>> =
        msgs.iter().enumerate().map(|(id, m)| scan::Canary { id, bytes: &m.canary }).collect();
    let records: Vec<scan::Record<'_>> = run.view.iter().map(|r| scan::Record { id: r.seq, bytes: &r.bytes }).collect();
    let hits = Scanner::new(&canaries).scan(&records);
    // First hit per message, in message order.
    let mut first: BTreeMap<usize, &scan::Hit> = BTreeMap::new();
    for h in &hits {
        first.entry(h.canary).or_insert(h);
    }
    let bytes: usize = run.view.iter().map(|r| r.bytes.len()).sum();
    let note = format!(
        "searched {} ({} bytes) for the canaries of {}, raw, hex, base64, UTF-16, in compressed streams and as fragments of 12 bytes or more",
        plural(run.view.len(), "provider record", "provider records"),
        bytes,
        plural(msgs.len(), "message", "messages")
    );
    if first.is_empty() {
        return Judgement::pass(p, format!("{note}; none found"));
    }
    let evidence: Vec<Evidence> = first
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
                    "message {} (sent by {} at step {}) is in {} at byte offset {}, {} ({} bytes)",
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
        .collect();
    let sentence = format!(
        "The provider could read {} of {}: their text appeared in what it stored and forwarded",
        first.len(),
        plural(msgs.len(), "message", "messages")
    );
    Judgement::from_findings(p, vec![Finding::new(p, &run.scenario.id, sentence, evidence)], note, "none found")
}
