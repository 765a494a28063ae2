//! *forward-secrecy* and *post-compromise*, from seized copies of device
//! state.
//!
//! Forward secrecy: a copy made at step t must not read any envelope the
//! device had received and processed, or sent, before t — neither with the
//! design's own decrypt nor with its forensic open (every key the state
//! holds, no replay cache or "already seen" set in the way) — and the
//! exported state must not hold those messages' text (searched with the
//! provider-blind scanner). A design without a forensic open passes at
//! client level only. Post-compromise security:
//! after the device's owner completes N round trips (a message sent, then
//! one received back, counted per pair of devices, since pairwise designs
//! heal pair by pair; N from the spec, default 2), the copy — which
//! followed every envelope to and from the device in order — must not read
//! any later message between them, and nothing the copy sends as the
//! device after that (a `send` with `seized: true`) may be accepted as the
//! device's by those peers. What the copy sends before the pair has healed
//! is not judged: until then anyone holding the state can speak as the
//! device.

use crate::common::plural;
use crate::scan::{self, Scanner};
use crate::verdict::{Evidence, Finding, Judgement};
use doormat_engine::provider::StoredEnvelope;
use doormat_engine::run::{Access, DeliveryResult, Reader, Run};
use doormat_engine::timings::{self, Phase};
use doormat_formats::{DeviceAddr, Property};
use std::collections::{BTreeMap, BTreeSet};

fn no_seizure(run: &Run, p: Property) -> Option<Judgement> {
    if run.seizures.is_empty() {
        return Some(Judgement::not_tested(p, "no step of this vector seizes a device's state"));
    }
    if run.seizures.iter().all(|s| s.error.is_some()) {
        let why: BTreeSet<&str> = run.seizures.iter().filter_map(|s| s.error.as_deref()).collect();
        return Some(Judgement::not_tested(p, why.into_iter().collect::<Vec<_>>().join("; ")));
    }
    None
}

/// How a seized copy read an envelope, in words.
fn by(access: Access) -> &'static str {
    match access {
        Access::Forensic => "opened the provider's copy with the keys the state holds",
        _ => "decrypted it with the design's own code",
    }
}

/// Why a PASS of a seizure property is client-level only, if it is.
fn client_level(run: &Run) -> Option<String> {
    run.forensic_unsupported.as_ref().map(|why| {
        format!("the design offers no forensic open ({why}), so a refusal by the seized copy may be the client's courtesy (a replay cache, an \"already seen\" set) rather than a missing key")
    })
}

pub(crate) fn forward_secrecy(run: &Run) -> Judgement {
    let p = Property::ForwardSecrecy;
    if let Some(j) = no_seizure(run, p) {
        return j;
    }
    let mut tried = 0;
    let mut scanned = 0;
    let mut evidence = Vec::new();
    for (i, s) in run.seizures.iter().enumerate().filter(|(_, s)| s.error.is_none()) {
        // What the device had before the seizure: envelopes it received and
        // opened, and envelopes it sent.
        let mut before: BTreeSet<usize> = run
            .deliveries
            .iter()
            .filter(|d| {
                d.device == s.device
                    && d.step < s.step
                    && d.tamper.is_none()
                    && matches!(d.result, DeliveryResult::Opened { .. })
            })
            .map(|d| d.envelope)
            .collect();
        before.extend(
            run.envelopes.iter().enumerate().filter(|(_, e)| e.from == s.device && e.step < s.step).map(|(i, _)| i),
        );
        tried += before.len();
        let earlier: BTreeSet<usize> =
            before.iter().filter_map(|e| run.truth.envelope_message.get(e).copied()).collect();
        let mut seen = BTreeSet::new();
        for read in run
            .reads
            .iter()
            .filter(|r| r.reader == Reader::Seized(i) && r.envelope.is_some_and(|e| before.contains(&e)))
        {
            for &mi in read.messages.iter().filter(|mi| earlier.contains(mi)) {
                if !seen.insert(mi) {
                    continue;
                }
                let m = &run.truth.messages[mi];
                let had = if m.from == s.device { "the device had sent" } else { "the device had already received" };
                evidence.push(Evidence {
                    step: s.step,
                    message: Some(m.id.0.clone()),
                    party: Some(format!("a copy of {}", s.device)),
                    record: crate::common::record_of(run, read.envelope),
                    offset: None,
                    encoding: None,
                    text: format!(
                        "a copy of {}'s state seized at step {} {} and read {}, which {} sent at step {} and {had}",
                        s.device,
                        s.step,
                        by(read.access),
                        m.id,
                        m.from,
                        m.step
                    ),
                });
            }
        }
        // The state itself, searched for the text of those messages.
        if !s.state.is_empty() && !earlier.is_empty() {
            scanned += 1;
            let canaries: Vec<scan::Canary<'_>> = earlier
                .iter()
                .map(|&mi| scan::Canary { id: mi, bytes: &run.truth.messages[mi].canary, plaintext: &[] })
                .collect();
            let mut first: BTreeMap<usize, scan::Hit> = BTreeMap::new();
            let hits = timings::phase(Phase::Scan, || {
                Scanner::new(&canaries).scan(&[scan::Record { id: 0, bytes: &s.state }])
            });
            for h in hits {
                first.entry(h.canary).or_insert(h);
            }
            for (mi, h) in first {
                if seen.contains(&mi) {
                    continue;
                }
                let m = &run.truth.messages[mi];
                evidence.push(Evidence {
                    step: s.step,
                    message: Some(m.id.0.clone()),
                    party: Some(format!("a copy of {}", s.device)),
                    record: None,
                    offset: Some(h.offset),
                    encoding: Some(h.encoding.clone()),
                    text: format!(
                        "the state of {} seized at step {} holds the text of {} ({} sent it at step {}) at byte offset {}, {}",
                        s.device, s.step, m.id, m.from, m.step, h.offset, h.encoding
                    ),
                });
            }
        }
    }
    if tried == 0 {
        return Judgement::not_tested(p, "the seized devices had received or sent nothing before the seizure");
    }
    let forensic =
        if run.forensic_unsupported.is_none() { " with every key the state holds (forensic open)" } else { "" };
    let mut note = format!(
        "seized copies tried{forensic} the {} their devices had received or sent before the seizure",
        plural(tried, "envelope", "envelopes")
    );
    if scanned > 0 {
        note.push_str(&format!(
            ", and {} searched for the text of those messages",
            plural(scanned, "exported state was", "exported states were")
        ));
    }
    let findings = if evidence.is_empty() {
        Vec::new()
    } else {
        let sentence = format!(
            "A device seized by force exposed {} it had before the seizure",
            plural(evidence.len(), "earlier message", "earlier messages")
        );
        vec![Finding::new(p, &run.scenario.id, sentence, evidence)]
    };
    let j = Judgement::from_findings(p, findings, note, "none could be read");
    match client_level(run) {
        Some(why) => j.at_client_level(&why),
        None => j,
    }
}

/// For each peer of the seized device, the step at which the pair has
/// completed `round_trips` round trips after the seizure. A round trip is
/// what heals a ratchet: the peer *opens* a message the device sent after
/// the seizure, then sends the device a reply, and the device *opens* that
/// reply. Sends alone count for nothing: a message held and dropped, or a
/// reply written before the peer had the device's message, carries no key
/// the copy lacks.
fn healed_pairs(run: &Run, seizure: usize, round_trips: u32) -> BTreeMap<&DeviceAddr, usize> {
    let s = &run.seizures[seizure];
    let device = &s.device;
    // Sends (0) before deliveries (1) within a step: a message delivered
    // as it is sent is opened after it was written.
    let mut events: Vec<(usize, u8, usize, Option<&DeviceAddr>)> = Vec::new();
    for (mi, m) in run.truth.messages.iter().enumerate() {
        if m.step > s.step && m.forged_by.is_none() {
            events.push((m.step, 0, mi, None));
        }
    }
    for d in run.deliveries.iter().filter(|d| d.step > s.step && d.tamper.is_none()) {
        if let (DeliveryResult::Opened { plaintext: true, .. }, Some(&mi)) =
            (&d.result, run.truth.envelope_message.get(&d.envelope))
        {
            if run.truth.messages[mi].forged_by.is_none() {
                events.push((d.step, 1, mi, Some(&d.device)));
            }
        }
    }
    events.sort();
    #[derive(Default)]
    struct Pair {
        done: u32,
        /// The peer has opened a message of the device's.
        got: bool,
        /// Messages the peer sent the device since.
        replies: BTreeSet<usize>,
    }
    let mut pairs: BTreeMap<&DeviceAddr, Pair> = BTreeMap::new();
    let mut healed = BTreeMap::new();
    for (step, kind, mi, to) in events {
        let m = &run.truth.messages[mi];
        match (kind, to) {
            // The peer replies, having the device's message.
            (0, _) if m.from != *device && m.intended.contains(device) => {
                if let Some(pair) = pairs.get_mut(&m.from).filter(|p| p.got) {
                    pair.replies.insert(mi);
                }
            }
            // The peer opens the device's message.
            (1, Some(peer)) if m.from == *device && peer != device => {
                pairs.entry(peer).or_default().got = true;
            }
            // The device opens the peer's reply: a round trip.
            (1, Some(at)) if at == device && m.from != *device => {
                let pair = pairs.entry(&m.from).or_default();
                if pair.replies.contains(&mi) {
                    pair.done += 1;
                    pair.got = false;
                    pair.replies.clear();
                    if pair.done == round_trips {
                        healed.entry(&m.from).or_insert(step);
                    }
                }
            }
            _ => {}
        }
    }
    healed
}

/// The peers of `device` an envelope connects it with.
fn peers<'a>(env: &'a StoredEnvelope, device: &DeviceAddr) -> Vec<&'a DeviceAddr> {
    if env.from == *device {
        env.to.iter().collect()
    } else {
        vec![&env.from]
    }
}

pub(crate) fn post_compromise(run: &Run, round_trips: u32) -> Judgement {
    let p = Property::PostCompromise;
    if let Some(j) = no_seizure(run, p) {
        return j;
    }
    let rt = plural(round_trips as usize, "round trip", "round trips");
    let mut judged = BTreeSet::new();
    let mut heal_notes = Vec::new();
    let mut evidence = Vec::new();
    let mut acts = BTreeSet::new();
    let mut spoke = Vec::new();
    for (i, s) in run.seizures.iter().enumerate().filter(|(_, s)| s.error.is_none()) {
        let healed = healed_pairs(run, i, round_trips);
        if healed.is_empty() {
            continue;
        }
        heal_notes.push(format!(
            "{} healed with {}",
            s.device,
            healed.iter().map(|(p, st)| format!("{p} at step {st}")).collect::<Vec<_>>().join(", ")
        ));
        // An envelope is judged when every pair it connects has healed before it.
        let after_heal = |idx: usize| {
            let env = &run.envelopes[idx];
            (env.from == s.device || env.to.contains(&s.device))
                && peers(env, &s.device).iter().all(|p| healed.get(p).is_some_and(|&h| h < env.step))
        };
        for idx in (0..run.envelopes.len()).filter(|&e| after_heal(e)) {
            if let Some(&mi) = run.truth.envelope_message.get(&idx) {
                if run.truth.messages[mi].forged_by.is_none() {
                    judged.insert(mi);
                }
            }
        }
        let mut seen = BTreeSet::new();
        for read in run.reads.iter().filter(|r| r.reader == Reader::Seized(i) && r.envelope.is_some_and(after_heal)) {
            for &mi in &read.messages {
                // What a thief's copy sent itself is no news to it.
                if run.truth.messages[mi].forged_by.is_some() || !seen.insert(mi) {
                    continue;
                }
                let m = &run.truth.messages[mi];
                evidence.push(Evidence {
                    step: m.step,
                    message: Some(m.id.0.clone()),
                    party: Some(format!("a copy of {}", s.device)),
                    record: None,
                    offset: None,
                    encoding: None,
                    text: format!(
                        "a copy of {}'s state seized at step {} still read {} ({} sent it at step {}) after the devices involved had completed {rt} since the seizure",
                        s.device, s.step, m.id, m.from, m.step
                    ),
                });
            }
        }
        // The copy also acts: what it sent as the device after the pair
        // healed must not be taken for the device's own words.
        for (mi, m) in run.truth.messages.iter().enumerate().filter(|(_, m)| m.forged_by == Some(i)) {
            let healed_for: Vec<&DeviceAddr> =
                m.intended.iter().filter(|d| healed.get(d).is_some_and(|&h| h < m.step)).collect();
            if healed_for.is_empty() {
                continue;
            }
            acts.insert(mi);
            for d in run.deliveries.iter().filter(|d| {
                d.tamper.is_none()
                    && healed_for.contains(&&d.device)
                    && run.truth.envelope_message.get(&d.envelope) == Some(&mi)
            }) {
                if let DeliveryResult::Opened { plaintext: true, sender: Some(sender), .. } = &d.result {
                    if *sender == s.device {
                        spoke.push(Evidence {
                            step: d.step,
                            message: Some(m.id.0.clone()),
                            party: Some(d.device.to_string()),
                            record: crate::common::record_of(run, Some(d.envelope)),
                            offset: None,
                            encoding: None,
                            text: format!(
                                "a copy of {}'s state seized at step {} sent {} as {} at step {}, after the devices involved had completed {rt} since the seizure, and {} accepted it as {}'s",
                                s.device, s.step, m.id, s.device, m.step, d.device, s.device
                            ),
                        });
                    }
                }
            }
        }
    }
    if judged.is_empty() && acts.is_empty() {
        return Judgement::not_tested(
            p,
            format!("no seized device completed {rt} with a peer and then exchanged more messages with it"),
        );
    }
    let mut note =
        format!("{}; {} followed afterwards", heal_notes.join("; "), plural(judged.len(), "message", "messages"));
    if !acts.is_empty() {
        note.push_str(&format!(
            ", and the seized copy sent {} as the device after that",
            plural(acts.len(), "message", "messages")
        ));
    }
    let (read, spoke) = (evidence.len(), {
        let n = spoke.len();
        evidence.append(&mut spoke);
        n
    });
    let findings = if evidence.is_empty() {
        Vec::new()
    } else {
        let sentence = match (read, spoke) {
            (_, 0) => format!(
                "A seized copy of a device kept reading {} after its owner had exchanged {rt} with the other side",
                plural(read, "new message", "new messages")
            ),
            (0, _) => format!(
                "A seized copy of a device still spoke as the device after its owner had exchanged {rt} with the other side: {} accepted",
                plural(spoke, "forged message was", "forged messages were")
            ),
            _ => format!(
                "A seized copy of a device kept reading {} and had {} accepted after its owner had exchanged {rt} with the other side",
                plural(read, "new message", "new messages"),
                plural(spoke, "forged message", "forged messages")
            ),
        };
        vec![Finding::new(p, &run.scenario.id, sentence, evidence)]
    };
    let pass = if acts.is_empty() {
        "the seized copy read none of them"
    } else {
        "the seized copy read none of them, and nothing it sent as the device was accepted"
    };
    let j = Judgement::from_findings(p, findings, note, pass);
    match client_level(run) {
        Some(why) => j.at_client_level(&why),
        None => j,
    }
}
