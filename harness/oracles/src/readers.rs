//! Who read what: *recipients-only* and *outsider-blind*.
//!
//! A read by a party that may not read a message is classified: **visible
//! access** when the reader came from a provider change (a ghost device,
//! impostor keys, a member nobody added) and the sender's client showed a
//! notice about it before encrypting; **hidden access** otherwise. Hidden
//! access fails *recipients-only*; visible access is reported beside the
//! verdict (the design warned; the user may not have understood).
//! Declared authorities that recover plaintext fail both *recipients-only*
//! and *outsider-blind*: they are third parties holding the provider view.

use crate::common::{conversation_label, describe_change, join, plural, record_of, told, Told};
use crate::verdict::{Evidence, Finding, Judgement};
use doormat_engine::run::{Access, ChangeKind, Read, Reader, Run};
use doormat_engine::truth::MessageTruth;
use doormat_formats::{DeviceAddr, Property};
use std::collections::{BTreeMap, BTreeSet};

/// How a read stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    /// The reader is an intended recipient or the sender.
    Legit,
    /// A provider change the sender was told about.
    Visible { change: usize, notice: String },
    /// Nobody was told (`change` is the provider change that brought the
    /// reader, if one did), or no change explains it.
    Hidden { why: String, change: Option<usize> },
    /// Not a matter for recipients-only (outsiders, seized copies).
    Other,
}

/// The provider change that brought `reader` message `mi`, if any.
fn change_of(run: &Run, reader: &Reader, mi: usize) -> Option<usize> {
    let m = &run.truth.messages[mi];
    // The change in force when the message was sent (a device can be
    // substituted more than once).
    run.changes.iter().rposition(|c| {
        c.step <= m.step
            && match (&c.kind, reader) {
                (ChangeKind::Ghost(g), Reader::Device(d)) => g == d,
                (ChangeKind::Substitute(s), Reader::Impostor(d)) => s == d,
                (ChangeKind::Member(g), Reader::Device(d)) => g.0 == m.conversation && c.user == d.user,
                _ => false,
            }
    })
}

/// Classifies a read of message `mi` by `reader`.
pub(crate) fn standing(run: &Run, reader: &Reader, mi: usize) -> Standing {
    let m = &run.truth.messages[mi];
    match reader {
        Reader::Device(d) if m.may_read(d) => Standing::Legit,
        Reader::Device(_) | Reader::Impostor(_) => match change_of(run, reader, mi) {
            Some(c) => match told(run, c, &m.from, mi) {
                Told::Before(s) => Standing::Visible {
                    change: c,
                    notice: format!(
                        "{} was shown \"{}: {}\" at step {}, before sending at step {}",
                        s.device,
                        s.event.kind,
                        s.event.device.as_ref().map_or(s.event.user.to_string(), ToString::to_string),
                        s.step,
                        m.step
                    ),
                },
                Told::Blocked(s) => Standing::Visible {
                    change: c,
                    notice: format!(
                        "{} was shown \"{}: {}\" at step {}, and sent nothing until its user acknowledged it",
                        s.device,
                        s.event.kind,
                        s.event.device.as_ref().map_or(s.event.user.to_string(), ToString::to_string),
                        s.step
                    ),
                },
                Told::WhileSending(s) => Standing::Hidden {
                    why: format!(
                        "{}; {} was shown \"{}\" only by the operation that sent it, too late to hold it back",
                        describe_change(run, c),
                        m.from,
                        s.event.kind
                    ),
                    change: Some(c),
                },
                Told::Prevented | Told::Silent => Standing::Hidden {
                    why: format!("{}; {} was shown no notice naming it", describe_change(run, c), m.from),
                    change: Some(c),
                },
            },
            None => match reader {
                Reader::Device(d) => Standing::Hidden { why: why_not_meant(run, d, mi), change: None },
                _ => Standing::Hidden {
                    why: "served by the provider in place of a real device".to_owned(),
                    change: None,
                },
            },
        },
        Reader::Authority(role) => Standing::Hidden {
            why: format!("the {role} is a third party the design gives data to; the provider handed it its records"),
            change: None,
        },
        Reader::Outsider | Reader::Seized(_) | Reader::Twin(_) => Standing::Other,
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

fn how(run: &Run, read: &Read) -> String {
    match read.access {
        Access::Delivered => "the provider delivered it".to_owned(),
        Access::Attempt => match read.envelope.and_then(|e| run.envelopes.get(e)) {
            Some(e) => format!("it decrypted an envelope addressed to {}", join(&e.to)),
            None => "it decrypted an envelope addressed to someone else".to_owned(),
        },
        Access::Compelled => "it was handed the provider's records".to_owned(),
        Access::Seized => "it used a seized copy of a device's state".to_owned(),
        Access::Forensic => "it opened the envelope with every key its state holds".to_owned(),
    }
}

fn reader_name(reader: &Reader) -> String {
    reader.to_string()
}

/// Hidden reads by one reader.
#[derive(Default)]
struct Hidden {
    evidence: Vec<Evidence>,
    whys: BTreeSet<String>,
    change: Option<usize>,
    unwarned: BTreeSet<DeviceAddr>,
}

/// "m1–m3, m7 and m9" (natural order, at most six items, then "and N more").
fn message_list(ev: &[Evidence]) -> String {
    crate::common::id_list(ev.iter().filter_map(|e| e.message.as_deref()), 6)
}

/// One plain sentence for a policy reader.
fn hidden_sentence(run: &Run, reader: &Reader, h: &Hidden) -> String {
    let n = h.evidence.len();
    let read = format!("read {} ({})", plural(n, "message", "messages"), message_list(&h.evidence));
    let senders: Vec<String> = h.unwarned.iter().map(ToString::to_string).collect();
    // Unwarned senders were shown nothing, or only by the send itself.
    let told = match senders.len() {
        0 => String::new(),
        1 => format!("; {} was not told before sending", senders[0]),
        _ => format!("; {} were not told before sending", senders.join(" and ")),
    };
    let change = h.change.and_then(|c| run.changes.get(c));
    match (reader, change.map(|c| &c.kind)) {
        (Reader::Device(d), Some(ChangeKind::Ghost(_))) => {
            let c = change.map_or(0, |c| c.step);
            format!(
                "{d}, a device the provider added to {}'s account at step {c}, which {} never enrolled, {read}{told}",
                d.user, d.user
            )
        }
        (Reader::Impostor(d), Some(ChangeKind::Substitute(_))) => {
            let c = change.map_or(0, |c| c.step);
            format!("The provider's impostor for {d}, whose keys it served in place of the real ones from step {c}, {read}{told}")
        }
        (Reader::Device(d), Some(ChangeKind::Member(g))) => {
            let c = change.map_or(0, |c| c.step);
            format!("{d}, made a member of group {g} by the provider at step {c}, {read}{told}")
        }
        (Reader::Authority(role), _) => {
            format!("The {role}, a third party the design gives data to, {read} from the provider's records when the provider was compelled")
        }
        _ => {
            let whys: Vec<&str> = h.whys.iter().map(String::as_str).collect();
            let mut who = reader_name(reader);
            if who.starts_with("the ") || who.starts_with("an ") {
                who = who[..1].to_uppercase() + &who[1..];
            }
            // The first reason; the evidence gives each message's.
            let why = match whys.split_first() {
                None => String::new(),
                Some((first, [])) => format!(": {first}"),
                Some((first, rest)) => format!(": {first}, and {} more", rest.len()),
            };
            format!(
                "{who} read {} ({}) not meant for it{why}",
                plural(n, "message", "messages"),
                crate::common::id_list(h.evidence.iter().filter_map(|e| e.message.as_deref()), 3)
            )
        }
    }
}

/// The evidence of `read`, a read of message `m`: its step, the message,
/// the reader, the record it was read from, and `text` telling it.
fn read_evidence(run: &Run, read: &Read, m: &MessageTruth, text: String) -> Evidence {
    Evidence {
        step: read.step,
        message: Some(m.id.0.clone()),
        party: Some(reader_name(&read.reader)),
        record: record_of(run, read.envelope),
        offset: None,
        encoding: None,
        text,
    }
}

/// *recipients-only*: hidden access fails; visible access is an observation.
pub(crate) fn recipients_only(run: &Run) -> Judgement {
    let p = Property::RecipientsOnly;
    if run.truth.messages.is_empty() {
        return Judgement::not_tested(p, "the vector sends no message");
    }
    // First read of each message by each reader.
    let mut first: BTreeMap<(&Reader, usize), &Read> = BTreeMap::new();
    for read in &run.reads {
        for &mi in &read.messages {
            first.entry((&read.reader, mi)).or_insert(read);
        }
    }
    let mut hidden: BTreeMap<&Reader, Hidden> = BTreeMap::new();
    let mut visible: BTreeMap<usize, Vec<Evidence>> = BTreeMap::new();
    for ((reader, mi), read) in first {
        let m = &run.truth.messages[mi];
        match standing(run, reader, mi) {
            Standing::Legit | Standing::Other => {}
            Standing::Visible { change, notice } => {
                visible.entry(change).or_default().push(read_evidence(
                    run,
                    read,
                    m,
                    format!(
                        "step {}: {} read {}, which {} sent at step {}; {notice}",
                        read.step,
                        reader_name(reader),
                        m.id,
                        m.from,
                        m.step
                    ),
                ));
            }
            Standing::Hidden { why, change } => {
                let entry = hidden.entry(reader).or_default();
                entry.change = entry.change.or(change);
                if change.is_some() {
                    entry.unwarned.insert(m.from.clone());
                } else {
                    entry.whys.insert(why.clone());
                }
                entry.evidence.push(read_evidence(
                    run,
                    read,
                    m,
                    format!(
                        "step {}: {} read {}, which {} sent at step {} to {} ({why}); {}",
                        read.step,
                        reader_name(reader),
                        m.id,
                        m.from,
                        m.step,
                        conversation_label(&m.conversation),
                        how(run, read)
                    ),
                ));
            }
        }
    }
    let findings: Vec<Finding> = hidden
        .into_iter()
        .map(|(r, mut h)| {
            h.evidence.sort();
            let s = hidden_sentence(run, r, &h);
            Finding::new(p, &run.scenario.id, s, h.evidence)
        })
        .collect();
    let observations: Vec<Finding> = visible
        .into_iter()
        .map(|(c, mut ev)| {
            ev.sort();
            // Which notice each sender saw, and when, is in the evidence.
            let who = ev.first().and_then(|e| e.party.clone()).unwrap_or_default();
            let s = format!(
                "Visible access: {who} read {} ({}) after the provider {}; the senders had been told before sending",
                plural(ev.len(), "message", "messages"),
                crate::common::id_list(ev.iter().filter_map(|e| e.message.as_deref()), 3),
                crate::common::change_clause(run, c)
            );
            Finding::new(p, &run.scenario.id, s, ev)
        })
        .collect();
    let devices = run.truth.enrolled.len();
    let note = format!(
        "every one of {} tried every envelope not addressed to it, when it was sent and again at the end ({} attempts, each on a copy of the device){}",
        plural(devices, "device", "devices"),
        run.attempts,
        if run.compelled.is_empty() { String::new() } else { "; compelled authorities were handed the provider's records".to_owned() }
    );
    let mut j = Judgement::from_findings(p, findings, note, "no one read a message without the sender being told");
    j.observations = observations;
    j
}

/// Who read, for *outsider-blind*: findings are grouped by kind of reader.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outside<'a> {
    /// The never-enrolled outsider.
    Outsider,
    /// A twin of some recipient device.
    Twin,
    /// A compelled authority.
    Authority(&'a str),
}

/// *outsider-blind*: nobody with only public data and the provider view
/// reads — a fresh device of the same design, a *twin* of each recipient
/// device (a fresh install with the same names, which no address check can
/// tell apart), or a compelled authority.
pub(crate) fn outsider_blind(run: &Run) -> Judgement {
    let p = Property::OutsiderBlind;
    if run.envelopes.is_empty() {
        return Judgement::not_tested(p, "the provider stored no envelope to try");
    }
    let mut by_reader: BTreeMap<Outside<'_>, (Vec<Evidence>, BTreeSet<usize>)> = BTreeMap::new();
    for read in run.reads.iter() {
        let kind = match &read.reader {
            Reader::Authority(role) => Outside::Authority(role),
            Reader::Outsider => Outside::Outsider,
            Reader::Twin(_) => Outside::Twin,
            _ => continue,
        };
        for &mi in &read.messages {
            let m = &run.truth.messages[mi];
            let entry = by_reader.entry(kind.clone()).or_default();
            if !entry.1.insert(mi) {
                continue;
            }
            let who = match &read.reader {
                Reader::Authority(role) => format!("the {role}, handed the provider's records at step {},", read.step),
                Reader::Twin(d) => format!("a fresh install of the app calling itself {d} (never enrolled)"),
                _ => "a fresh device that no user enrolled".to_owned(),
            };
            let from_where = if read.envelope.is_some() { " from the provider's copy of the envelope" } else { "" };
            entry.0.push(read_evidence(
                run,
                read,
                m,
                format!("{who} read {} ({} sent it at step {}){from_where}", m.id, m.from, m.step),
            ));
        }
    }
    let how = match &run.forensic_unsupported {
        None => "with every key it holds (forensic open, no address checks)".to_owned(),
        Some(_) => "with the design's own decrypt (it offers no forensic open)".to_owned(),
    };
    let twins: BTreeSet<&DeviceAddr> = run.truth.enrolled.keys().collect();
    let mut note = format!(
        "a fresh device of the same design, never enrolled, tried all {} {how}; a twin of each of the {} (a fresh install with the same names) tried the envelopes addressed to it",
        plural(run.envelopes.len(), "envelope", "envelopes"),
        plural(twins.len(), "enrolled device", "enrolled devices")
    );
    let roles: BTreeSet<&str> = run.compelled.iter().map(|(_, r)| r.as_str()).collect();
    if !roles.is_empty() {
        note.push_str(&format!("; compelled: {}", roles.into_iter().collect::<Vec<_>>().join(", ")));
    }
    let total = run.truth.messages.len();
    let findings = by_reader
        .into_iter()
        .map(|(reader, (ev, msgs))| {
            let who = match reader {
                Outside::Authority(role) => format!("The {role}, a third party given only the provider's records,"),
                Outside::Twin => "Anyone who installs the app and gives it a recipient's names".to_owned(),
                Outside::Outsider => "Someone holding only public data and the provider's records".to_owned(),
            };
            Finding::new(
                p,
                &run.scenario.id,
                format!("{who} read {} of {}", msgs.len(), plural(total, "message", "messages")),
                ev,
            )
        })
        .collect();
    let j = Judgement::from_findings(p, findings, note, "nobody read anything");
    match &run.forensic_unsupported {
        Some(why) => j.at_client_level(&format!(
            "the design offers no forensic open ({why}), so the outsider's and the twins' refusals may be the client's own checks (an address or identity check) rather than a missing key"
        )),
        None => j,
    }
}
