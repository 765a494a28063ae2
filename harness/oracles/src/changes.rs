//! *change-visible*: when the provider serves an extra device, substitutes
//! a key, or presents a member nobody added, each sender it served the
//! change to must be shown a notice about that user before (or while)
//! encrypting to it.

use crate::common::{describe_change, plural, told};
use crate::verdict::{Evidence, Finding, Judgement};
use doormat_engine::run::Run;
use doormat_formats::{DeviceAddr, Property};
use std::collections::BTreeMap;

pub(crate) fn change_visible(run: &Run) -> Judgement {
    let p = Property::ChangeVisible;
    if run.changes.is_empty() {
        return Judgement::not_tested(
            p,
            "no step of this vector has the provider change a device list, a key or a group's members, so there was no change to show",
        );
    }
    // First exposure of each (change, sender).
    let mut first: BTreeMap<(usize, &DeviceAddr), usize> = BTreeMap::new();
    for e in &run.exposures {
        first.entry((e.change, &e.sender)).or_insert(e.message);
    }
    if first.is_empty() {
        return Judgement::not_tested(
            p,
            "the provider made a change, but no device encrypted a message while it was served",
        );
    }
    let mut told_list = Vec::new();
    let mut evidence = Vec::new();
    for (&(c, sender), &mi) in &first {
        let m = &run.truth.messages[mi];
        let shown = told(run, c, sender, m.step);
        match shown.first() {
            Some(s) => told_list.push(format!(
                "{sender} was shown \"{}: {}\" at step {}",
                s.event.kind,
                s.event.device.as_ref().map_or(s.event.user.to_string(), ToString::to_string),
                s.step
            )),
            None => evidence.push(Evidence {
                step: m.step,
                message: Some(m.id.0.clone()),
                party: Some(sender.to_string()),
                record: None,
                offset: None,
                encoding: None,
                text: format!(
                    "step {}: {sender} encrypted {} while served {}, and was shown no change",
                    m.step,
                    m.id,
                    describe_change(run, c)
                ),
            }),
        }
    }
    let note = format!(
        "the provider made {}; {} encrypted while served one{}",
        plural(run.changes.len(), "change", "changes"),
        plural(first.len(), "sender", "senders"),
        if told_list.is_empty() { String::new() } else { format!(" ({})", told_list.join("; ")) }
    );
    let findings = if evidence.is_empty() {
        Vec::new()
    } else {
        let n = evidence.len();
        let sentence = format!(
            "The provider changed who receives messages and {} sent without being told",
            if n == 1 { "1 sender".to_owned() } else { format!("{n} senders") }
        );
        vec![Finding::new(p, &run.scenario.id, sentence, evidence)]
    };
    Judgement::from_findings(p, findings, note, "every one was told before sending")
}
