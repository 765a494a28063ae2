//! *delivers*: every intended recipient device reads exactly the plaintext
//! sent, from the right sender (a design that names no sender has not
//! delivered), also when delivery is delayed or out of order. Deliveries the provider interfered with (dropped, diverted to an
//! impostor) are not judged.

use crate::common::plural;
use crate::verdict::{Evidence, Finding, Judgement};
use doormat_engine::run::{DeliveryResult, Run};
use doormat_formats::{DeviceAddr, Property};
use std::collections::BTreeSet;

/// (message, device) pairs where the device read exactly what was sent.
pub(crate) fn delivered_exactly(run: &Run) -> BTreeSet<(usize, DeviceAddr)> {
    let mut ok = BTreeSet::new();
    for d in run.deliveries.iter().filter(|d| d.tamper.is_none()) {
        if let DeliveryResult::Opened { exact: Some(mi), sender, .. } = &d.result {
            let m = &run.truth.messages[*mi];
            // A design that says nothing of who sent it has not delivered
            // the message: the reader cannot tell it from a forgery.
            if sender.as_ref() == Some(&m.from) {
                ok.insert((*mi, d.device.clone()));
            }
        }
    }
    ok
}

pub(crate) fn delivers(run: &Run) -> Judgement {
    let p = Property::Delivers;
    // What a seized copy sends as its device is owed no delivery.
    let owed = run.truth.messages.iter().filter(|m| m.forged_by.is_none()).count();
    if owed == 0 {
        return Judgement::not_tested(p, "the vector sends no message");
    }
    let ok = delivered_exactly(run);
    let mut evidence = Vec::new();
    let mut expected = 0;
    let mut missing = BTreeSet::new();
    for (mi, m) in run.truth.messages.iter().enumerate().filter(|(_, m)| m.forged_by.is_none()) {
        for d in &m.intended {
            if run.interfered.contains(&(mi, d.clone())) {
                continue;
            }
            expected += 1;
            if ok.contains(&(mi, d.clone())) {
                continue;
            }
            missing.insert(mi);
            evidence.push(Evidence {
                step: m.step,
                message: Some(m.id.0.clone()),
                party: Some(d.to_string()),
                record: None,
                offset: None,
                encoding: None,
                text: format!(
                    "{d} did not read {} as sent by {} at step {}: {}",
                    m.id,
                    m.from,
                    m.step,
                    why_not(run, mi, d)
                ),
            });
        }
    }
    if expected == 0 {
        return Judgement::not_tested(p, "the provider interfered with every delivery of this vector");
    }
    let skipped = run.interfered.len();
    let mut note = format!("{} had {expected} deliveries to intended devices", plural(owed, "message", "messages"));
    if skipped > 0 {
        note.push_str(&format!(
            " ({} the provider interfered with were not judged)",
            plural(skipped, "delivery", "deliveries")
        ));
    }
    let findings = if evidence.is_empty() {
        Vec::new()
    } else {
        let sentence = format!(
            "{} of {} did not reach every intended device intact ({} of {expected} deliveries failed)",
            missing.len(),
            plural(owed, "message", "messages"),
            evidence.len(),
        );
        vec![Finding::new(p, &run.scenario.id, sentence, evidence)]
    };
    Judgement::from_findings(p, findings, note, "every one gave back exactly the text sent, from the right sender")
}

fn why_not(run: &Run, mi: usize, d: &DeviceAddr) -> String {
    let m = &run.truth.messages[mi];
    if let Some(f) = run.failures.iter().find(|f| f.step == m.step && f.device == m.from.to_string()) {
        return format!("the sender's {} failed ({})", f.operation, f.error);
    }
    let tries: Vec<_> = run
        .deliveries
        .iter()
        .filter(|x| x.device == *d && x.tamper.is_none() && m.envelopes.contains(&x.envelope))
        .collect();
    if tries.is_empty() {
        return "no envelope for it was addressed to this device".to_owned();
    }
    let mut reasons = Vec::new();
    for t in tries {
        reasons.push(match &t.result {
            DeliveryResult::Error(e) => format!("decryption {e}"),
            DeliveryResult::NoSuchDevice => "addressed to a device that does not exist".to_owned(),
            DeliveryResult::Opened { plaintext: false, .. } => continue,
            DeliveryResult::Opened { exact: None, .. } => "decryption gave back different text".to_owned(),
            DeliveryResult::Opened { sender, .. } => {
                format!("it was attributed to {}", sender.as_ref().map_or("nobody".to_owned(), ToString::to_string))
            }
        });
    }
    if reasons.is_empty() {
        "only handshake envelopes reached it".to_owned()
    } else {
        reasons.join("; ")
    }
}
