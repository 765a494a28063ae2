//! The generic oracles: each reads a [`Run`] and its ground truth and gives
//! a [`Judgement`] per property.
//!
//! **Invariant:** no oracle knows a design's name; `Run::design` is never
//! read here. Everything is judged from the provider view, the reads, the
//! deliveries and the ground truth.

use crate::scan::{self, Scanner};
use crate::verdict::{Evidence, ExpectationResult, Finding, Judgement, Verdict};
use doormat_engine::provider::RecordKind;
use doormat_engine::run::{Access, DeliveryResult, Reader, Run};
use doormat_formats::{DeviceAddr, Outcome, Party, Property};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Counts describing a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Steps after expansion.
    pub steps: usize,
    /// Messages sent.
    pub messages: usize,
    /// Envelopes the provider stored.
    pub envelopes: usize,
    /// Records in the provider view.
    pub records: usize,
    /// Bytes in the provider view.
    pub bytes: usize,
    /// Deliveries to addressees.
    pub deliveries: usize,
    /// Decryptions tried by devices on envelopes not addressed to them.
    pub attempts: usize,
}

/// Everything the oracles concluded about one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VectorResult {
    /// The vector's id.
    pub vector: String,
    /// Its title.
    pub title: String,
    /// Counts.
    pub stats: Stats,
    /// One judgement per property, in [`Property::ALL`] order.
    pub judgements: Vec<Judgement>,
    /// The vector's expectations.
    pub expectations: Vec<ExpectationResult>,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl VectorResult {
    /// The judgement of `p`.
    pub fn judgement(&self, p: Property) -> Option<&Judgement> {
        self.judgements.iter().find(|j| j.property == p)
    }
}

/// Runs every oracle over `run`.
pub fn judge(run: &Run) -> VectorResult {
    let stats = Stats {
        steps: run.scenario.steps.len(),
        messages: run.truth.messages.len(),
        envelopes: run.envelopes.len(),
        records: run.view.len(),
        bytes: run.view.iter().map(|r| r.bytes.len()).sum(),
        deliveries: run.deliveries.len(),
        attempts: run.attempts,
    };
    let judgements = match &run.aborted {
        Some(why) => Property::ALL
            .iter()
            .map(|&p| Judgement {
                property: p,
                verdict: Verdict::Error,
                note: format!("the run stopped: {why}"),
                findings: Vec::new(),
            })
            .collect(),
        None => Property::ALL.iter().map(|&p| judge_property(run, p)).collect(),
    };
    VectorResult {
        vector: run.scenario.id.clone(),
        title: run.scenario.title.clone(),
        stats,
        judgements,
        expectations: expectations(run),
        error: run.aborted.clone(),
    }
}

fn judge_property(run: &Run, p: Property) -> Judgement {
    match p {
        Property::ProviderBlind => provider_blind(run),
        Property::RecipientsOnly => recipients_only(run),
        Property::OutsiderBlind => outsider_blind(run),
        Property::Delivers => delivers(run),
        Property::ChangeVisible => Judgement::not_tested(
            p,
            "no step of this vector has the provider change a device list, a key or a group's members, so there was no change to show",
        ),
        Property::Integrity => Judgement::not_tested(p, "no step of this vector tampers with, forges or replays an envelope"),
        Property::ForwardSecrecy => Judgement::not_tested(p, "no step of this vector seizes a device's state"),
        Property::PostCompromise => Judgement::not_tested(p, "no step of this vector seizes a device's state"),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

fn describe_record(run: &Run, record: usize) -> String {
    match run.view.get(record).map(|r| &r.kind) {
        Some(RecordKind::Bundle { device }) => format!("record #{record} (keys published by {device})"),
        Some(RecordKind::Envelope { envelope }) => match run.envelopes.get(*envelope) {
            Some(e) => format!("record #{record} (envelope {} → {})", e.from, join(&e.to)),
            None => format!("record #{record}"),
        },
        None => format!("record #{record}"),
    }
}

fn join(devs: &[DeviceAddr]) -> String {
    devs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn provider_blind(run: &Run) -> Judgement {
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

/// Who read what they should not have, as findings grouped by reader.
fn recipients_only(run: &Run) -> Judgement {
    let p = Property::RecipientsOnly;
    if run.truth.messages.is_empty() {
        return Judgement::not_tested(p, "the vector sends no message");
    }
    // First read of each message by each reader that may not read it.
    let mut first: BTreeMap<(&DeviceAddr, usize), &doormat_engine::run::Read> = BTreeMap::new();
    for read in &run.reads {
        let Reader::Device(d) = &read.reader else { continue };
        for &mi in &read.messages {
            if !run.truth.messages[mi].may_read(d) {
                first.entry((d, mi)).or_insert(read);
            }
        }
    }
    let mut by_reader: BTreeMap<&DeviceAddr, (Vec<Evidence>, BTreeSet<String>)> = BTreeMap::new();
    for ((d, mi), read) in first {
        let m = &run.truth.messages[mi];
        let how = match read.access {
            Access::Delivered => "the provider delivered it to this device".to_owned(),
            Access::Attempt => match run.envelopes.get(read.envelope) {
                Some(e) => format!("it decrypted an envelope addressed to {}", join(&e.to)),
                None => "it decrypted an envelope addressed to another device".to_owned(),
            },
        };
        let why = why_not_meant(run, d, mi);
        let entry = by_reader.entry(d).or_default();
        entry.1.insert(why.clone());
        entry.0.push(Evidence {
            step: read.step,
            message: Some(m.id.0.clone()),
            party: Some(d.to_string()),
            record: run.view.iter().position(|r| r.kind == RecordKind::Envelope { envelope: read.envelope }),
            offset: None,
            encoding: None,
            text: format!(
                "step {}: {d} read {}, which {} sent at step {} to {} ({why}); {how}",
                read.step,
                m.id,
                m.from,
                m.step,
                conversation_label(&m.conversation)
            ),
        });
    }
    let devices: BTreeSet<&DeviceAddr> = run.truth.enrolled.keys().collect();
    let note = format!(
        "every one of {} tried every envelope not addressed to it, when it was sent and again at the end ({} attempts in all, each on a copy of the device)",
        plural(devices.len(), "device", "devices"),
        run.attempts
    );
    let findings = by_reader
        .into_iter()
        .map(|(d, (mut ev, whys))| {
            ev.sort();
            let n = ev.len();
            let whys: Vec<String> = whys.into_iter().collect();
            let sentence = format!(
                "{d} read {} that {} not meant for it: {}",
                plural(n, "message", "messages"),
                if n == 1 { "was" } else { "were" },
                whys.join("; ")
            );
            Finding::new(p, &run.scenario.id, sentence, ev)
        })
        .collect();
    Judgement::from_findings(p, findings, note, "none read a message it was not meant to")
}

fn conversation_label(c: &str) -> String {
    match c.split_once('+') {
        Some((a, b)) => format!("the conversation of {a} and {b}"),
        None => format!("group {c}"),
    }
}

/// Why message `mi` was not meant for device `d`, in words.
fn why_not_meant(run: &Run, d: &DeviceAddr, mi: usize) -> String {
    let m = &run.truth.messages[mi];
    let user = &d.user;
    match run.truth.enrolled.get(d) {
        None => return format!("a device that {user} never enrolled"),
        Some(e) if m.members.contains(user) && e.step > m.step => {
            return format!("{user} linked this device only after the message was sent");
        }
        _ => {}
    }
    match run.truth.groups.iter().find(|(g, _)| g.0 == m.conversation) {
        Some((g, history)) => {
            if history.iter().any(|(step, members)| *step <= m.step && members.contains(user)) {
                format!("sent after {user} was removed from group {g}")
            } else {
                format!("sent to group {g} while {user} was not a member")
            }
        }
        None => format!("{user} is not part of {}", conversation_label(&m.conversation)),
    }
}

fn outsider_blind(run: &Run) -> Judgement {
    let p = Property::OutsiderBlind;
    if run.envelopes.is_empty() {
        return Judgement::not_tested(p, "the provider stored no envelope to try");
    }
    let mut evidence = Vec::new();
    let mut msgs = BTreeSet::new();
    for read in run.reads.iter().filter(|r| r.reader == Reader::Outsider) {
        for &mi in &read.messages {
            let m = &run.truth.messages[mi];
            msgs.insert(mi);
            evidence.push(Evidence {
                step: m.step,
                message: Some(m.id.0.clone()),
                party: Some("an outsider".to_owned()),
                record: run.view.iter().position(|r| r.kind == RecordKind::Envelope { envelope: read.envelope }),
                offset: None,
                encoding: None,
                text: format!("a fresh device that no user enrolled read {} ({} sent it at step {}) from the provider's copy of the envelope", m.id, m.from, m.step),
            });
        }
    }
    let note = format!(
        "a fresh device of the same design, never enrolled, tried all {} with nothing but public data",
        plural(run.envelopes.len(), "envelope", "envelopes")
    );
    let findings = if evidence.is_empty() {
        Vec::new()
    } else {
        let sentence = format!(
            "Someone holding only public data and the provider's records read {} of {}",
            msgs.len(),
            plural(run.truth.messages.len(), "message", "messages")
        );
        vec![Finding::new(p, &run.scenario.id, sentence, evidence)]
    };
    Judgement::from_findings(p, findings, note, "it read nothing")
}

/// For each message and intended device: did it read exactly what was sent?
fn delivered_exactly(run: &Run) -> BTreeSet<(usize, DeviceAddr)> {
    let mut ok = BTreeSet::new();
    for d in &run.deliveries {
        if let DeliveryResult::Opened { exact: Some(mi), sender, .. } = &d.result {
            let m = &run.truth.messages[*mi];
            if sender.as_ref().is_none_or(|s| *s == m.from) {
                ok.insert((*mi, d.device.clone()));
            }
        }
    }
    ok
}

fn delivers(run: &Run) -> Judgement {
    let p = Property::Delivers;
    if run.truth.messages.is_empty() {
        return Judgement::not_tested(p, "the vector sends no message");
    }
    let ok = delivered_exactly(run);
    let mut evidence = Vec::new();
    let mut expected = 0;
    let mut missing_msgs = BTreeSet::new();
    for (mi, m) in run.truth.messages.iter().enumerate() {
        for d in &m.intended {
            expected += 1;
            if ok.contains(&(mi, d.clone())) {
                continue;
            }
            missing_msgs.insert(mi);
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
                    why_not_delivered(run, mi, d)
                ),
            });
        }
    }
    let note = format!(
        "all {} deliveries of {} to their intended devices gave back exactly the text sent",
        expected,
        plural(run.truth.messages.len(), "message", "messages")
    );
    let findings = if evidence.is_empty() {
        Vec::new()
    } else {
        let sentence = format!(
            "{} of {} did not reach every intended device intact ({} of {} deliveries failed)",
            missing_msgs.len(),
            plural(run.truth.messages.len(), "message", "messages"),
            evidence.len(),
            expected
        );
        vec![Finding::new(p, &run.scenario.id, sentence, evidence)]
    };
    Judgement::from_findings(p, findings, note, "every one gave back exactly the text sent, from the right sender")
}

fn why_not_delivered(run: &Run, mi: usize, d: &DeviceAddr) -> String {
    let m = &run.truth.messages[mi];
    if let Some(f) = run.failures.iter().find(|f| f.step == m.step && f.device == m.from) {
        return format!("the sender's {} failed ({})", f.operation, f.error);
    }
    let mut tries = run.deliveries.iter().filter(|x| x.device == *d && m.envelopes.contains(&x.envelope)).peekable();
    if tries.peek().is_none() {
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

fn expectations(run: &Run) -> Vec<ExpectationResult> {
    let ok = delivered_exactly(run);
    let mut out = Vec::new();
    for e in &run.scenario.expect {
        let Some((mi, m)) = run.truth.message(&e.message) else { continue };
        let devices_of = |party: &Party, only_intended: bool| -> Vec<DeviceAddr> {
            match party {
                Party::Device(d) => vec![d.clone()],
                Party::User(u) => run
                    .truth
                    .enrolled
                    .keys()
                    .filter(|d| d.user == *u && (!only_intended || m.intended.contains(d)))
                    .cloned()
                    .collect(),
            }
        };
        for party in &e.read_by {
            let missing: Vec<String> = devices_of(party, true)
                .into_iter()
                .filter(|d| !ok.contains(&(mi, d.clone())))
                .map(|d| d.to_string())
                .collect();
            out.push(ExpectationResult {
                line: e.line,
                property: Property::Delivers,
                expected: format!("{party} reads {}", m.id),
                held: missing.is_empty(),
                observed: (!missing.is_empty()).then(|| format!("{} did not read it", missing.join(", "))),
            });
        }
        for party in &e.not_read_by {
            let devs = devices_of(party, false);
            let readers: BTreeSet<String> = run
                .reads
                .iter()
                .filter(|r| r.messages.contains(&mi))
                .filter_map(|r| match &r.reader {
                    Reader::Device(d) if devs.contains(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect();
            out.push(ExpectationResult {
                line: e.line,
                property: Property::RecipientsOnly,
                expected: format!("{party} does not read {}", m.id),
                held: readers.is_empty(),
                observed: (!readers.is_empty())
                    .then(|| format!("{} read it", readers.into_iter().collect::<Vec<_>>().join(", "))),
            });
        }
        if let Some(outcome) = e.outcome {
            let got = m.intended.iter().filter(|d| ok.contains(&(mi, (*d).clone()))).count();
            let (held, expected) = match outcome {
                Outcome::Delivered => (
                    got == m.intended.len(),
                    format!("{} is delivered to all {} intended devices", m.id, m.intended.len()),
                ),
                Outcome::NotDelivered => (got == 0, format!("{} is delivered to none of its intended devices", m.id)),
            };
            out.push(ExpectationResult {
                line: e.line,
                property: Property::Delivers,
                expected,
                held,
                observed: (!held).then(|| format!("{got} of {} intended devices read it", m.intended.len())),
            });
        }
    }
    out
}
