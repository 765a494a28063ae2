//! *integrity*: tampered, spliced, forged and replayed envelopes are
//! rejected by the recipient (a replay may be dropped as a duplicate: any
//! answer without a plaintext counts as rejected). `every-bit` tampering
//! tries many single-bit copies of one envelope, each on its own fork of
//! the recipient; any one accepted is a failure, reported once per envelope
//! and device with the bits that passed.

use crate::common::plural;
use crate::verdict::{Evidence, Finding, Judgement};
use doormat_engine::run::{Delivery, DeliveryResult, Run};
use doormat_formats::{DeviceAddr, Property, Tamper};
use std::collections::BTreeMap;

/// Whether a tampered delivery was accepted; `Some(true)` when it gave back
/// the original text.
fn accepted(d: &Delivery) -> Option<bool> {
    match &d.result {
        DeliveryResult::Opened { plaintext: true, exact, .. } => Some(exact.is_some()),
        _ => None,
    }
}

/// Single-bit copies of one envelope tried on one device: how many, and the
/// bits whose copies were accepted (with whether they gave the original text).
type Sweep = (usize, Vec<(usize, bool)>);

fn what_of(run: &Run, envelope: usize) -> (Option<String>, String) {
    let m = run.truth.envelope_message.get(&envelope).map(|&i| &run.truth.messages[i]);
    (m.map(|m| m.id.0.clone()), m.map_or("an envelope".to_owned(), |m| format!("{}'s envelope", m.id)))
}

pub(crate) fn integrity(run: &Run) -> Judgement {
    let p = Property::Integrity;
    let tampered: Vec<_> = run.deliveries.iter().filter(|d| d.tamper.is_some()).collect();
    if tampered.is_empty() {
        return Judgement::not_tested(p, "no step of this vector tampers with, forges or replays an envelope");
    }
    let mut evidence = Vec::new();
    let mut accepted_copies = 0;
    for d in tampered.iter().filter(|d| d.tamper != Some(Tamper::EveryBit)) {
        if let Some(original) = accepted(d) {
            accepted_copies += 1;
            let (message, of) = what_of(run, d.envelope);
            let what = d.tamper.map_or_else(String::new, |t| t.to_string());
            let same = if original { "the original text" } else { "altered text" };
            evidence.push(Evidence {
                step: d.step,
                message,
                party: Some(d.device.to_string()),
                record: None,
                offset: None,
                encoding: None,
                text: format!("step {}: {} accepted {what} of {of} and returned {same}", d.step, d.device),
            });
        }
    }
    // Single-bit copies: one line per (step, envelope, device).
    let mut sweeps: BTreeMap<(usize, usize, &DeviceAddr), Sweep> = BTreeMap::new();
    for d in tampered.iter().filter(|d| d.tamper == Some(Tamper::EveryBit)) {
        let e = sweeps.entry((d.step, d.envelope, &d.device)).or_default();
        e.0 += 1;
        if let (Some(original), Some(bit)) = (accepted(d), d.flipped) {
            e.1.push((bit, original));
        }
    }
    for ((step, envelope, device), (tries, passed)) in &sweeps {
        if passed.is_empty() {
            continue;
        }
        accepted_copies += passed.len();
        let (message, of) = what_of(run, *envelope);
        let bits: Vec<String> =
            passed.iter().take(3).map(|(bit, _)| format!("byte {}, bit {}", bit / 8, bit % 8)).collect();
        let more = if passed.len() > 3 { format!(" and {} more", passed.len() - 3) } else { String::new() };
        let same = match passed.iter().filter(|(_, o)| *o).count() {
            0 => "altered text".to_owned(),
            n if n == passed.len() => "the original text".to_owned(),
            n => format!("the original text for {n} of them"),
        };
        evidence.push(Evidence {
            step: *step,
            message,
            party: Some(device.to_string()),
            record: None,
            offset: Some(passed[0].0 / 8),
            encoding: None,
            text: format!(
                "step {step}: {device} accepted {} of {tries} copies of {of} with one bit flipped ({}{more}) and returned {same}",
                passed.len(),
                bits.join("; ")
            ),
        });
    }
    let single: usize = sweeps.values().map(|(t, _)| t).sum();
    let others = tampered.len() - single;
    let mut delivered = Vec::new();
    if others > 0 {
        delivered.push(plural(others, "tampered, forged or replayed copy", "tampered, forged or replayed copies"));
    }
    if single > 0 {
        delivered.push(format!(
            "{} of {} (each tried on its own copy of the recipient)",
            plural(single, "single-bit copy", "single-bit copies"),
            plural(sweeps.len(), "envelope", "envelopes")
        ));
    }
    let note = format!("the provider delivered {}", delivered.join(" and "));
    let findings = if evidence.is_empty() {
        Vec::new()
    } else {
        let sentence = format!(
            "Recipients accepted {} of {} that the provider tampered with, forged or replayed",
            accepted_copies,
            plural(tampered.len(), "envelope", "envelopes")
        );
        vec![Finding::new(p, &run.scenario.id, sentence, evidence)]
    };
    Judgement::from_findings(p, findings, note, "every one was rejected")
}
