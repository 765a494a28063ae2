//! A vector's story as a list of items, for the report's sequence diagrams:
//! who sent what, what the provider did, what it delivered to whom (ghost
//! devices and impostors included), which notices each device showed its
//! user, and, from the findings' evidence, who read what they should not
//! have and which failures were not reads (a sender not told of a change,
//! a device that accepted a forgery).
//!
//! **Invariants:** an access mark sits on the *reader* (a device, ghost,
//! impostor, the provider, an authority, a seized copy, an outsider or a
//! twin), never on the party a finding merely concerns; a participant has
//! one name wherever it appears; items come in step order, and within a
//! step in a fixed order (the step itself, deliveries, notices, failures,
//! access), so the same run gives the same items.

use crate::common::{told, Told};
use crate::verdict::{Evidence, Judgement, Verdict};
use doormat_engine::run::{Access, ChangeKind, Delivery, DeliveryResult, Reader, Run};
use doormat_formats::{Action, DeviceAddr, Property, Tamper, Target, TargetAim};
use std::collections::{BTreeMap, BTreeSet};

/// The provider, as a participant.
pub const PROVIDER: &str = "the provider";

/// Longest text of a notice item, in characters.
const NOTICE_CHARS: usize = 60;

/// One line of a sequence diagram. Texts carry no step number: renderers
/// add it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Item {
    /// A note over a participant: what a user did, what the provider did,
    /// a notice a device showed its user.
    Note {
        /// Step.
        step: usize,
        /// Participant.
        over: String,
        /// Text.
        text: String,
    },
    /// A message from one participant to another: a send to the provider,
    /// or a delivery from it.
    Arrow {
        /// Step.
        step: usize,
        /// From.
        from: String,
        /// To.
        to: String,
        /// Text.
        text: String,
    },
    /// A read by a party that should not have read; `hidden` marks a
    /// failure (red), otherwise visible access: the sender was told (amber).
    Access {
        /// Step.
        step: usize,
        /// The reader.
        who: String,
        /// What.
        text: String,
        /// Whether it fails a property (as opposed to visible access).
        hidden: bool,
    },
    /// A failure that is no read, over the party at fault: a sender that
    /// sent without being told of a change, a device that accepted a
    /// tampered envelope or a seized copy's message.
    Fault {
        /// Step.
        step: usize,
        /// Participant.
        over: String,
        /// What.
        text: String,
    },
}

impl Item {
    /// The step the item belongs to.
    pub fn step(&self) -> usize {
        match self {
            Item::Note { step, .. }
            | Item::Arrow { step, .. }
            | Item::Access { step, .. }
            | Item::Fault { step, .. } => *step,
        }
    }

    /// Whether the item marks a failure: hidden access or a fault.
    pub fn fails(&self) -> bool {
        matches!(self, Item::Access { hidden: true, .. } | Item::Fault { .. })
    }

    /// Whether the item is a mark (a failure or visible access).
    pub fn marked(&self) -> bool {
        matches!(self, Item::Access { .. } | Item::Fault { .. })
    }
}

const MARKED: [Property; 7] = [
    Property::ProviderBlind,
    Property::RecipientsOnly,
    Property::OutsiderBlind,
    Property::ChangeVisible,
    Property::Integrity,
    Property::ForwardSecrecy,
    Property::PostCompromise,
];

/// Whether `d` is a device the provider made up (a ghost), not one a user
/// enrolled.
fn ghost(run: &Run, d: &DeviceAddr) -> bool {
    !run.truth.enrolled.contains_key(d) && run.changes.iter().any(|c| c.kind == ChangeKind::Ghost(d.clone()))
}

/// A reader's name as a participant.
pub(crate) fn participant(run: &Run, reader: &Reader) -> String {
    match reader {
        Reader::Device(d) if ghost(run, d) => format!("{d} (ghost)"),
        Reader::Device(d) => d.to_string(),
        Reader::Impostor(d) => format!("impostor for {d}"),
        Reader::Authority(role) => format!("the {role}"),
        Reader::Seized(i) => match run.seizures.get(*i) {
            Some(s) if run.seizures.iter().filter(|x| x.device == s.device).count() > 1 => {
                format!("seized copy of {} (step {})", s.device, s.step)
            }
            Some(s) => format!("seized copy of {}", s.device),
            None => format!("seized copy #{i}"),
        },
        Reader::Outsider => "an outsider".to_owned(),
        Reader::Twin(d) => format!("twin of {d}"),
    }
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Where an item goes within its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Step,
    Delivery,
    Notice,
    Fault,
    Access,
}

/// The timeline of `run`, marking the evidence of `judgements`.
pub fn timeline(run: &Run, judgements: &[Judgement]) -> Vec<Item> {
    let mut items: Vec<(Rank, Item)> = Vec::new();
    steps(run, &mut items);
    deliveries(run, &mut items);
    notices(run, &mut items);
    marks(run, judgements, &mut items);
    let end = run.scenario.steps.len() + 1;
    if items.iter().any(|(_, i)| i.step() >= end) {
        items.push((
            Rank::Step,
            Item::Note {
                step: end,
                over: PROVIDER.to_owned(),
                text: "after the last step: delivers what it held, and everyone tries again".to_owned(),
            },
        ));
    }
    items.sort_by_key(|(rank, i)| (i.step(), *rank));
    items.into_iter().map(|(_, i)| i).collect()
}

/// One item per step of the scenario: what the user or the provider did.
fn steps(run: &Run, items: &mut Vec<(Rank, Item)>) {
    for s in &run.scenario.steps {
        let n = s.number;
        let note = |over: String, text: String| Item::Note { step: n, over, text };
        let provider = |text: String| Item::Note { step: n, over: PROVIDER.to_owned(), text };
        let item = match &s.action {
            Action::Register { device } => note(device.to_string(), "enrolled".to_owned()),
            Action::Link { device } => note(device.to_string(), format!("{} links this device", device.user)),
            Action::CreateGroup { group, members, by } => note(
                by.to_string(),
                format!(
                    "creates group {group} ({})",
                    members.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ),
            ),
            Action::AddMember { group, user, by } => note(by.to_string(), format!("adds {user} to {group}")),
            Action::RemoveMember { group, user, by } => note(by.to_string(), format!("removes {user} from {group}")),
            Action::Send { message, from, to, hold, seized, .. } => {
                let to = match to {
                    Target::User(u) => u.to_string(),
                    Target::Group(g) => format!("group {g}"),
                };
                let held = if *hold { " (held)" } else { "" };
                // What the seized copy sends comes from the copy.
                let from = if *seized { seized_name(run, from, n) } else { from.to_string() };
                Item::Arrow { step: n, from, to: PROVIDER.to_owned(), text: format!("{message} to {to}{held}") }
            }
            Action::Deliver { .. } => provider("delivers held envelopes".to_owned()),
            Action::ServeGhost { device } => {
                provider(format!("serves extra device {device} in {}'s list", device.user))
            }
            Action::Substitute { device, .. } => provider(format!("serves impostor keys for {device}")),
            Action::WithholdOneTime { user } => provider(format!("serves {user}'s devices without one-time prekeys")),
            Action::ProviderAdd { group, user } => provider(format!("presents {user} as a member of {group}")),
            Action::Drop { messages, .. } => {
                provider(format!("drops {}", messages.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")))
            }
            Action::Tamper { message, how, .. } => provider(format!("delivers {how} of {message}")),
            Action::Verify { users } => provider(format!(
                "{} compare safety numbers",
                users.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ")
            )),
            Action::Seize { device } => note(device.to_string(), "state seized".to_owned()),
            Action::Target { content } => provider(match content {
                TargetAim::Message(m) => format!("pushes a list entry targeting {m}'s exact text"),
                TargetAim::Text(t) => format!("pushes a list entry targeting text like \"{t}\""),
            }),
            Action::Compel { role } => {
                provider(format!("compels {}", role.as_deref().unwrap_or("the design's authorities")))
            }
            Action::Gossip { users } if users.is_empty() => {
                provider("devices compare their key directory with the auditor's".to_owned())
            }
            Action::Gossip { users } => provider(format!(
                "{}'s devices compare their key directory with the auditor's",
                users.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ")
            )),
            _ => provider("another step".to_owned()),
        };
        items.push((Rank::Step, item));
    }
}

/// The participant of the latest seized copy of `device` made before `step`.
fn seized_name(run: &Run, device: &DeviceAddr, step: usize) -> String {
    match run.seizures.iter().rposition(|s| s.device == *device && s.step <= step) {
        Some(i) => participant(run, &Reader::Seized(i)),
        None => format!("seized copy of {device}"),
    }
}

/// The message an envelope carries, by its id, or the envelope's number.
fn carried(run: &Run, envelope: usize) -> String {
    match run.truth.envelope_message.get(&envelope).and_then(|&mi| run.truth.messages.get(mi)) {
        Some(m) => m.id.to_string(),
        None => format!("envelope {envelope}"),
    }
}

/// One arrow from the provider per step, addressee, message and kind of
/// copy: to the devices users enrolled (tampered and replayed copies
/// labelled so), and to the provider's own ghost devices and impostors.
fn deliveries(run: &Run, items: &mut Vec<(Rank, Item)>) {
    type Key = (usize, String, String, Option<Tamper>);
    let mut order: Vec<Key> = Vec::new();
    let mut groups: BTreeMap<Key, Vec<&Delivery>> = BTreeMap::new();
    for d in &run.deliveries {
        let key = (d.step, d.device.to_string(), carried(run, d.envelope), d.tamper);
        let entry = groups.entry(key.clone()).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(d);
    }
    for key in order {
        let ds = &groups[&key];
        let (step, to, message, tamper) = key;
        let opened = ds.iter().filter(|d| matches!(d.result, DeliveryResult::Opened { plaintext: true, .. })).count();
        let refused = ds.iter().all(|d| !matches!(d.result, DeliveryResult::Opened { .. }));
        let text = match tamper {
            None if refused => format!("{message} (refused)"),
            None => message,
            Some(Tamper::EveryBit) => {
                format!("{} one-bit copies of {message} ({opened} accepted)", ds.len())
            }
            Some(t) => {
                let what = match t {
                    Tamper::Flip => "bit-flipped",
                    Tamper::Truncate => "truncated",
                    Tamper::Splice => "spliced",
                    Tamper::Forge => "forged",
                    _ => "replayed",
                };
                let answer = if opened > 0 { "accepted" } else { "refused" };
                format!("{what} {message} ({answer})")
            }
        };
        items.push((Rank::Delivery, Item::Arrow { step, from: PROVIDER.to_owned(), to, text }));
    }
    // The provider's own devices: what they read of what it handed them.
    let mut seen: BTreeSet<(usize, String, String)> = BTreeSet::new();
    for r in run.reads.iter().filter(|r| r.access == Access::Delivered) {
        let theirs = match &r.reader {
            Reader::Device(d) => ghost(run, d),
            Reader::Impostor(_) => true,
            _ => false,
        };
        let Some(e) = r.envelope else { continue };
        if !theirs {
            continue;
        }
        let to = participant(run, &r.reader);
        let message = carried(run, e);
        if seen.insert((r.step, to.clone(), message.clone())) {
            items.push((Rank::Delivery, Item::Arrow { step: r.step, from: PROVIDER.to_owned(), to, text: message }));
        }
    }
}

/// One note per step and device: the notices it showed its user.
fn notices(run: &Run, items: &mut Vec<(Rank, Item)>) {
    let mut by: BTreeMap<(usize, &DeviceAddr), Vec<String>> = BTreeMap::new();
    for s in &run.shown {
        let about = s.event.device.as_ref().map_or_else(|| s.event.user.to_string(), ToString::to_string);
        let held = if s.blocking { ", send held" } else { "" };
        let words = format!("{} {about}{held}", s.event.kind);
        let list = by.entry((s.step, &s.device)).or_default();
        if !list.contains(&words) {
            list.push(words);
        }
    }
    for ((step, device), words) in by {
        let text = shorten(&format!("shows \"{}\"", words.join("\", \"")), NOTICE_CHARS);
        items.push((Rank::Notice, Item::Note { step, over: device.to_string(), text }));
    }
}

/// The marks: every piece of evidence of every failure (and every visible
/// access), on the reader, merged by step, participant and wording (the
/// messages and properties listed).
fn marks(run: &Run, judgements: &[Judgement], items: &mut Vec<(Rank, Item)>) {
    type Merged = (Vec<String>, BTreeSet<Property>);
    let mut merged: BTreeMap<(usize, Mark, String, String), Merged> = BTreeMap::new();
    for j in judgements.iter().filter(|j| MARKED.contains(&j.property)) {
        let failed = if j.verdict == Verdict::Fail { j.findings.as_slice() } else { &[] };
        let found = failed.iter().map(|f| (f, true)).chain(j.observations.iter().map(|f| (f, false)));
        for (f, hidden) in found {
            for e in &f.evidence {
                let message = e.message.clone().unwrap_or_else(|| "a message".to_owned());
                let (kind, who, wording) = mark(run, j.property, e, &message, hidden);
                let (messages, properties) = merged.entry((e.step, kind, who, wording)).or_default();
                if !messages.contains(&message) {
                    messages.push(message);
                }
                properties.insert(j.property);
            }
        }
    }
    for ((step, kind, who, wording), (messages, properties)) in merged {
        let properties = properties.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let text = format!("{} ({properties})", wording.replace(MESSAGES, &list(&messages)));
        items.push(match kind {
            Mark::Fault => (Rank::Fault, Item::Fault { step, over: who, text }),
            Mark::Hidden => (Rank::Access, Item::Access { step, who, text, hidden: true }),
            Mark::Visible => (Rank::Access, Item::Access { step, who, text, hidden: false }),
        });
    }
}

/// Where a mark's wording takes its messages.
const MESSAGES: &str = "{messages}";

/// `m1`, `m1 and m2`, `m1, m2, m3 and 4 more`.
fn list(messages: &[String]) -> String {
    match messages {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] if messages.len() <= 3 => format!("{} and {last}", rest.join(", ")),
        _ => format!("{} and {} more", messages[..3].join(", "), messages.len() - 3),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    Fault,
    Hidden,
    Visible,
}

/// The mark a piece of evidence of `property` makes: its kind, the
/// participant it sits on and its text.
fn mark(run: &Run, property: Property, e: &Evidence, message: &str, hidden: bool) -> (Mark, String, String) {
    let access = if hidden { Mark::Hidden } else { Mark::Visible };
    let party = e.party.clone().unwrap_or_else(|| PROVIDER.to_owned());
    match property {
        Property::ProviderBlind => (access, PROVIDER.to_owned(), format!("reads {MESSAGES}")),
        Property::RecipientsOnly | Property::OutsiderBlind => {
            let reader = run.reads.iter().find(|r| {
                r.step == e.step
                    && r.reader.to_string() == party
                    && r.messages.iter().any(|&mi| run.truth.messages.get(mi).is_some_and(|m| m.id.0 == *message))
            });
            let who = reader.map_or(party, |r| participant(run, &r.reader));
            (access, who, format!("reads {MESSAGES}"))
        }
        Property::ChangeVisible => (Mark::Fault, party.clone(), unwarned(run, &party, message)),
        Property::Integrity => {
            let what = run
                .deliveries
                .iter()
                .find(|d| d.step == e.step && d.device.to_string() == party && d.tamper.is_some())
                .and_then(|d| d.tamper);
            let what = match what {
                Some(Tamper::Replay) => "a replayed",
                Some(Tamper::Forge) => "a forged",
                _ => "a tampered",
            };
            (Mark::Fault, party, format!("accepts {what} copy of {MESSAGES}"))
        }
        Property::ForwardSecrecy | Property::PostCompromise => match party.strip_prefix("a copy of ") {
            Some(device) => {
                // A forward-secrecy mark sits at the seizure; a
                // post-compromise one at the message, after it.
                let i =
                    run.seizures.iter().position(|s| s.device.to_string() == device && s.step == e.step).or_else(
                        || run.seizures.iter().rposition(|s| s.device.to_string() == device && s.step <= e.step),
                    );
                let who =
                    i.map_or_else(|| format!("seized copy of {device}"), |i| participant(run, &Reader::Seized(i)));
                let text = if e.offset.is_some() && e.record.is_none() {
                    format!("its state holds the text of {MESSAGES}")
                } else {
                    format!("reads {MESSAGES}")
                };
                (access, who, text)
            }
            None => (Mark::Fault, party, format!("accepts {MESSAGES} from a seized copy")),
        },
        _ => (access, party, MESSAGES.to_owned()),
    }
}

/// The fault of a sender that sent `message` while served a change and was
/// not told in time.
fn unwarned(run: &Run, sender: &str, message: &str) -> String {
    let Some((mi, _)) = run.truth.messages.iter().enumerate().find(|(_, m)| m.id.0 == message) else {
        return format!("sent {MESSAGES} without being told of a change");
    };
    let mut silent = Vec::new();
    let mut late = Vec::new();
    for x in run.exposures.iter().filter(|x| x.message == mi && x.sender.to_string() == sender) {
        let Some(c) = run.changes.get(x.change) else { continue };
        let what = match &c.kind {
            ChangeKind::Ghost(d) => d.to_string(),
            ChangeKind::Substitute(d) => format!("new keys for {d}"),
            ChangeKind::Member(g) => format!("{} in {g}", c.user),
        };
        let list = match told(run, x.change, &x.sender, mi) {
            Told::WhileSending(_) => &mut late,
            Told::Silent => &mut silent,
            _ => continue,
        };
        if !list.contains(&what) {
            list.push(what);
        }
    }
    match (silent.is_empty(), late.is_empty()) {
        (false, true) => format!("sent {MESSAGES} without being told of {}", silent.join(" or ")),
        (true, false) => format!("sent {MESSAGES}, told of {} only as it went", late.join(" and ")),
        (false, false) => format!(
            "sent {MESSAGES} without being told of {}, and of {} only as it went",
            silent.join(" or "),
            late.join(" and ")
        ),
        (true, true) => format!("sent {MESSAGES} without being told of a change"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use doormat_formats::{Parameters, Vector};
    use std::path::Path;

    /// The timeline of a built-in design through a vector of the repository.
    fn timeline_of(design: &str, vector: &str) -> Vec<Item> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(vector);
        let src = std::fs::read_to_string(&p).unwrap();
        let id = p.file_stem().unwrap().to_string_lossy().into_owned();
        let scenario = Vector::parse(&p.display().to_string(), &id, &src).unwrap();
        let design = doormat_designs::builtin(design).unwrap();
        crate::judge(&doormat_engine::run(design.as_ref(), &scenario), &Parameters::default()).timeline
    }

    const GHOST: &str = "vectors/provider-moves/ghost-one-to-one.yaml";

    fn arrow(items: &[Item], step: usize, from: &str, to: &str, text: &str) -> bool {
        items.iter().any(|i| {
            matches!(i, Item::Arrow { step: s, from: f, to: t, text: x } if *s == step && f == from && t == to && x == text)
        })
    }

    #[test]
    fn deliveries_reach_devices_and_the_providers_ghost() {
        let items = timeline_of("ghost", GHOST);
        // The send, then the delivery to the real device.
        assert!(arrow(&items, 3, "alice/phone", PROVIDER, "m1 to bob"), "{items:#?}");
        assert!(arrow(&items, 3, PROVIDER, "bob/phone", "m1"), "{items:#?}");
        assert!(arrow(&items, 4, PROVIDER, "alice/phone", "m2"), "{items:#?}");
        // The ghost, served from step 5, is handed m3 and m5.
        assert!(arrow(&items, 6, PROVIDER, "bob/tablet (ghost)", "m3"), "{items:#?}");
        assert!(arrow(&items, 8, PROVIDER, "bob/tablet (ghost)", "m5"), "{items:#?}");
        // One arrow per device and message.
        let to_bob_at_6 = items
            .iter()
            .filter(|i| matches!(i, Item::Arrow { step: 6, from, to, .. } if from == PROVIDER && to == "bob/phone"))
            .count();
        assert_eq!(to_bob_at_6, 1, "{items:#?}");
    }

    #[test]
    fn access_sits_on_the_reader_and_the_unwarned_sender_is_a_fault() {
        let items = timeline_of("ghost", GHOST);
        let access: Vec<(&str, &str, bool)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Access { who, text, hidden, .. } => Some((who.as_str(), text.as_str(), *hidden)),
                _ => None,
            })
            .collect();
        assert!(access.contains(&("bob/tablet (ghost)", "reads m3 (recipients-only)", true)), "{access:#?}");
        assert!(access.iter().all(|(who, ..)| *who == "bob/tablet (ghost)"), "{access:#?}");
        // change-visible: the sender was not told; it read nothing.
        assert!(
            items.iter().any(|i| matches!(i, Item::Fault { step: 6, over, text }
                if over == "alice/phone" && text == "sent m3 without being told of bob/tablet (change-visible)")),
            "{items:#?}"
        );
        // Items come in step order, the step itself before its marks.
        assert!(items.windows(2).all(|w| w[0].step() <= w[1].step()));
    }

    #[test]
    fn notices_are_notes_over_the_device_that_showed_them() {
        // The ratchet tells its user of bob's new device.
        let items = timeline_of("ratchet", GHOST);
        let notes: Vec<(usize, &str, &str)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Note { step, over, text } if text.starts_with("shows ") => {
                    Some((*step, over.as_str(), text.as_str()))
                }
                _ => None,
            })
            .collect();
        assert!(
            notes.iter().any(|(_, over, text)| *over == "alice/phone" && text.contains("device added bob/tablet")),
            "{notes:#?}"
        );
        assert!(notes.iter().all(|(_, _, text)| text.chars().count() <= NOTICE_CHARS), "{notes:#?}");
        // Told before sending: whatever the ghost read is visible access, no failure.
        assert!(!items.iter().any(Item::fails), "{items:#?}");
    }

    #[test]
    fn tampered_copies_are_labelled_and_an_accepting_device_is_at_fault() {
        let items = timeline_of("plaintext-relay", "vectors/provider-moves/tamper.yaml");
        let labels: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                Item::Arrow { from, to, text, .. } if from == PROVIDER && to == "bob/phone" => Some(text.as_str()),
                _ => None,
            })
            .collect();
        // The relay checks nothing but its framing: the bit flip gets through.
        for l in ["bit-flipped m3 (accepted)", "truncated m3 (refused)", "forged m4 (refused)", "m3", "m4"] {
            assert!(labels.contains(&l), "{l} in {labels:#?}");
        }
        assert!(
            items.iter().any(|i| matches!(i, Item::Fault { over, text, .. }
                if over == "bob/phone" && text.starts_with("accepts a tampered copy of m3"))),
            "{items:#?}"
        );
    }
}
