//! *change-visible*: when the provider serves an extra device, substitutes
//! a key, or presents a member nobody added, each sender it served the
//! change to must either keep its message from the new party (prevented),
//! or have been shown a notice naming the change, of the right kind, by an
//! operation *before* the one that encrypted to it. A notice that comes
//! with the encryption itself is too late: the message has gone. Grades:
//! prevented, warned before sending (both hold), warned only while sending,
//! detected by the owner or by an auditor (a key directory found the lie
//! out, though the sender was not told), silent (all three fail). A sender
//! is graded by its first message while served a change, unless a later one
//! fails: a first message kept from the new party does not excuse a later
//! one that reaches it untold. A first sight of a user or conversation is
//! trust on first use: no change to show.

use crate::common::{change_clause, describe_change, id_list, plural, told, Told};
use crate::verdict::{Evidence, Finding, Judgement};
use doormat_engine::run::{ChangeKind, Reader, Run, Shown};
use doormat_engine::EventKind;
use doormat_formats::{DeviceAddr, Property};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn change_visible(run: &Run) -> Judgement {
    let p = Property::ChangeVisible;
    if run.changes.is_empty() {
        return Judgement::not_tested(
            p,
            "no step of this vector has the provider change a device list, a key or a group's members, so there was no change to show",
        );
    }
    // Each (change, sender) is graded by its first message, unless a later
    // one fails: a notice before the first covers the later ones, but a
    // first message kept from the new party does not excuse a later one
    // that reaches it untold (the earliest, worst such message counts).
    let mut first: BTreeMap<(usize, &DeviceAddr), (usize, Told<'_>)> = BTreeMap::new();
    for e in &run.exposures {
        let t = told(run, e.change, &e.sender, e.message);
        let slot = first.entry((e.change, &e.sender)).or_insert((e.message, t));
        if t.fails() && t.rank() > slot.1.rank() {
            *slot = (e.message, t);
        }
    }
    if first.is_empty() {
        return Judgement::not_tested(
            p,
            "the provider made a change, but no device encrypted a message while it was served",
        );
    }
    let mut told_list = Vec::new();
    let mut evidence = Vec::new();
    // Who sent what to which change untold, for the headline.
    let mut untold: Vec<(usize, &DeviceAddr, &str)> = Vec::new();
    let mut grades: BTreeMap<&str, usize> = BTreeMap::new();
    // The worst grade: (rank, words); a detection ranks between warned
    // only while sending and silent.
    let mut worst: Option<(u8, &str)> = None;
    for (&(c, sender), &(mi, t)) in &first {
        let m = &run.truth.messages[mi];
        let detected = if matches!(t, Told::Silent) { detection(run, c) } else { None };
        let (rank, grade) = match detected {
            Some((_, by)) => (7, by),
            None => (2 * t.rank(), t.grade()),
        };
        *grades.entry(grade).or_default() += 1;
        if worst.is_none_or(|(r, _)| rank > r) {
            worst = Some((rank, grade));
        }
        match t {
            Told::Prevented => told_list.push(format!(
                "{sender} sent {} without it reaching {} (prevented)",
                m.id,
                describe_change(run, c)
            )),
            Told::Before(s) => told_list.push(format!(
                "{sender} was shown \"{}: {}\" at step {}, before sending {} at step {} (warned before sending)",
                s.event.kind,
                s.event.device.as_ref().map_or(s.event.user.to_string(), ToString::to_string),
                s.step,
                m.id,
                m.step
            )),
            Told::Blocked(s) => told_list.push(format!(
                "{sender} was shown \"{}: {}\" at step {}, and held {} until its user acknowledged it (blocked until acknowledged)",
                s.event.kind,
                s.event.device.as_ref().map_or(s.event.user.to_string(), ToString::to_string),
                s.step,
                m.id
            )),
            Told::WhileSending(_) | Told::Silent => untold.push((c, sender, m.id.0.as_str())),
        }
        match t {
            Told::Prevented | Told::Before(_) | Told::Blocked(_) => {}
            Told::WhileSending(s) => evidence.push(unwarned(
                m,
                sender,
                format!(
                    "encrypted {} to {}, and was shown \"{}\" only by that same operation, after the message had gone (warned only while sending)",
                    m.id,
                    describe_change(run, c),
                    s.event.kind
                ),
            )),
            Told::Silent => evidence.push(unwarned(
                m,
                sender,
                match detected {
                    None => format!(
                        "encrypted {} while served {}, and was shown no notice naming it (silent)",
                        m.id,
                        describe_change(run, c)
                    ),
                    Some((shown, by)) => format!(
                        "encrypted {} while served {}, and was shown no notice naming it; {} was shown \"{}\" at step {} ({by}), when {} had read {} sent while it was served",
                        m.id,
                        describe_change(run, c),
                        shown.device,
                        shown.event.kind,
                        shown.step,
                        newcomer(run, c).map_or_else(|| "the new party".to_owned(), |(_, name)| name),
                        plural(read_before(run, c, shown.step), "message", "messages"),
                    ),
                },
            )),
        }
    }
    let grades = grades.iter().map(|(g, n)| format!("{n} {g}")).collect::<Vec<_>>().join(", ");
    let note = format!(
        "the provider made {}; {} encrypted while served one ({grades}){}",
        plural(run.changes.len(), "change", "changes"),
        plural(first.len(), "sender", "senders"),
        if told_list.is_empty() { String::new() } else { format!(" ({})", told_list.join("; ")) }
    );
    let findings = if evidence.is_empty() {
        Vec::new()
    } else {
        vec![Finding::new(p, &run.scenario.id, untold_sentence(run, &untold), evidence)]
    };
    let mut j =
        Judgement::from_findings(p, findings, note, "every one was told before sending, or the change reached nothing");
    j.grade = worst.map(|(_, g)| g.to_owned());
    j
}

/// Where a change the senders were not told of was found out anyway, by a
/// key directory: the owner's device shown a key it never published under
/// the changed address ("detected by the owner"), or any device shown that
/// its directory differs from the auditor's ("detected by an auditor").
/// The first such notice at or after the change.
fn detection(run: &Run, c: usize) -> Option<(&Shown, &'static str)> {
    let change = run.changes.get(c)?;
    let (ChangeKind::Substitute(d) | ChangeKind::Ghost(d)) = &change.kind else { return None };
    run.shown.iter().filter(|s| s.step >= change.step).find_map(|s| match s.event.kind {
        EventKind::KeyNotMine if s.event.device.as_ref() == Some(d) => Some((s, "detected by the owner")),
        EventKind::ViewSplit => Some((s, "detected by an auditor")),
        _ => None,
    })
}

/// Who reads through change `c`, and how to name it: the impostor, or the
/// added device.
fn newcomer(run: &Run, c: usize) -> Option<(Reader, String)> {
    match &run.changes.get(c)?.kind {
        ChangeKind::Substitute(d) => Some((Reader::Impostor(d.clone()), format!("the impostor for {d}"))),
        ChangeKind::Ghost(d) => Some((Reader::Device(d.clone()), d.to_string())),
        ChangeKind::Member(_) => None,
    }
}

/// How many messages the party change `c` let in had read before `step`.
fn read_before(run: &Run, c: usize, step: usize) -> usize {
    let Some((reader, _)) = newcomer(run, c) else { return 0 };
    let read: BTreeSet<usize> =
        run.reads.iter().filter(|r| r.reader == reader && r.step < step).flat_map(|r| r.messages.clone()).collect();
    read.len()
}

/// "dave/phone sent m21 while the provider added bob/ghost to bob's
/// account, and was not told before sending": who, what and which change,
/// in at most about 30 words (two senders and two changes named, the rest
/// counted).
fn untold_sentence(run: &Run, untold: &[(usize, &DeviceAddr, &str)]) -> String {
    let mut changes: Vec<usize> = untold.iter().map(|u| u.0).collect();
    changes.sort_unstable();
    changes.dedup();
    let mut senders: Vec<&DeviceAddr> = untold.iter().map(|u| u.1).collect();
    senders.sort();
    senders.dedup();
    let names = |all: Vec<String>, other: &str| match all.len() {
        0 | 1 => all.concat(),
        2 => all.join(" and "),
        n => format!("{}, {} and {}", all[0], all[1], plural(n - 2, other, &format!("{other}s"))),
    };
    let who = names(senders.iter().map(ToString::to_string).collect(), "other sender");
    let what = names(changes.iter().map(|&c| change_clause(run, c)).collect(), "more change");
    let messages = id_list(untold.iter().map(|u| u.2), 3);
    let told = if senders.len() == 1 { "was" } else { "were" };
    format!("{who} sent {messages} while the provider {what}, and {told} not told before sending")
}

/// Evidence that `sender` sent message `m` to a change without being told
/// in time; `what` follows "step N: SENDER ".
fn unwarned(m: &doormat_engine::truth::MessageTruth, sender: &DeviceAddr, what: String) -> Evidence {
    Evidence {
        step: m.step,
        message: Some(m.id.0.clone()),
        party: Some(sender.to_string()),
        record: None,
        offset: None,
        encoding: None,
        text: format!("step {}: {sender} {what}", m.step),
    }
}
