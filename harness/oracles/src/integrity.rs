//! *integrity*: tampered, spliced, forged and replayed envelopes are
//! rejected by the recipient (a replay may be dropped as a duplicate: any
//! answer without a plaintext counts as rejected).

use crate::common::plural;
use crate::verdict::{Evidence, Finding, Judgement};
use doormat_engine::run::{DeliveryResult, Run};
use doormat_formats::Property;

pub(crate) fn integrity(run: &Run) -> Judgement {
    let p = Property::Integrity;
    let tampered: Vec<_> = run.deliveries.iter().filter(|d| d.tamper.is_some()).collect();
    if tampered.is_empty() {
        return Judgement::not_tested(p, "no step of this vector tampers with, forges or replays an envelope");
    }
    let mut evidence = Vec::new();
    for d in &tampered {
        if let DeliveryResult::Opened { plaintext: true, exact, .. } = &d.result {
            let mi = run.truth.envelope_message.get(&d.envelope).copied();
            let m = mi.map(|i| &run.truth.messages[i]);
            let what = d.tamper.map_or_else(String::new, |t| t.to_string());
            let same = if exact.is_some() { "the original text" } else { "altered text" };
            evidence.push(Evidence {
                step: d.step,
                message: m.map(|m| m.id.0.clone()),
                party: Some(d.device.to_string()),
                record: None,
                offset: None,
                encoding: None,
                text: format!(
                    "step {}: {} accepted {what} of {} and returned {same}",
                    d.step,
                    d.device,
                    m.map_or("an envelope".to_owned(), |m| format!("{}'s envelope", m.id))
                ),
            });
        }
    }
    let note = format!(
        "the provider delivered {}",
        plural(tampered.len(), "tampered, forged or replayed copy", "tampered, forged or replayed copies")
    );
    let findings = if evidence.is_empty() {
        Vec::new()
    } else {
        let sentence = format!(
            "Recipients accepted {} of {} that the provider tampered with, forged or replayed",
            evidence.len(),
            plural(tampered.len(), "envelope", "envelopes")
        );
        vec![Finding::new(p, &run.scenario.id, sentence, evidence)]
    };
    Judgement::from_findings(p, findings, note, "every one was rejected")
}
