//! Small helpers shared by the oracles: wording and lookups.

use doormat_engine::provider::RecordKind;
use doormat_engine::run::{ChangeKind, Run, Shown};
use doormat_formats::DeviceAddr;

/// `1 message`, `2 messages`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Message ids in natural order ("m2" before "m10"), without repeats, runs
/// of three or more consecutive numbers as ranges ("m1–m114"), at most
/// `cap` items and then "and N more": "m1–m5, m7 and m9".
pub(crate) fn id_list<'a>(ids: impl IntoIterator<Item = &'a str>, cap: usize) -> String {
    fn key(id: &str) -> (&str, Option<u64>, &str) {
        let digits = id.len() - id.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, number) = id.split_at(id.len() - digits);
        // A number with a leading zero ("m01") keeps its text order.
        let n = if number.starts_with('0') { None } else { number.parse().ok() };
        (prefix, n, id)
    }
    let mut ids: Vec<&str> = ids.into_iter().collect();
    ids.sort_by(|a, b| key(a).cmp(&key(b)));
    ids.dedup();
    // Runs of consecutive numbers under one prefix.
    let mut items: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let (prefix, n, _) = key(ids[i]);
        let mut j = i + 1;
        if let Some(n) = n {
            while j < ids.len() && key(ids[j]).0 == prefix && key(ids[j]).1 == Some(n + (j - i) as u64) {
                j += 1;
            }
        }
        if j - i >= 3 {
            items.push((format!("{}–{}", ids[i], ids[j - 1]), j - i));
        } else {
            j = i + 1;
            items.push((ids[i].to_owned(), 1));
        }
        i = j;
    }
    let shown: Vec<&str> = items.iter().take(cap.max(1)).map(|(t, _)| t.as_str()).collect();
    let rest: usize = items.iter().skip(shown.len()).map(|(_, n)| n).sum();
    match (rest, shown.split_last()) {
        (_, None) => String::new(),
        (0, Some((only, []))) => (*only).to_owned(),
        (0, Some((last, init))) => format!("{} and {last}", init.join(", ")),
        (n, _) => format!("{} and {n} more", shown.join(", ")),
    }
}

/// Devices, comma-separated.
pub(crate) fn join(devs: &[DeviceAddr]) -> String {
    devs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// A record of the provider view in words.
pub(crate) fn describe_record(run: &Run, record: usize) -> String {
    match run.view.get(record).map(|r| &r.kind) {
        Some(RecordKind::Bundle { device }) => format!("record #{record} (keys published for {device})"),
        Some(RecordKind::Envelope { envelope }) => match run.envelopes.get(*envelope) {
            Some(e) if e.to.is_empty() => format!("record #{record} (data {} stored at the provider)", e.from),
            Some(e) => format!("record #{record} (envelope {} → {})", e.from, join(&e.to)),
            None => format!("record #{record}"),
        },
        None => format!("record #{record}"),
    }
}

/// The provider-view record of an envelope.
pub(crate) fn record_of(run: &Run, envelope: Option<usize>) -> Option<usize> {
    let e = envelope?;
    run.view.iter().position(|r| r.kind == RecordKind::Envelope { envelope: e })
}

/// `the conversation of alice and bob` or `group team`.
pub(crate) fn conversation_label(c: &str) -> String {
    match c.split_once('+') {
        Some((a, b)) => format!("the conversation of {a} and {b}"),
        None => format!("group {c}"),
    }
}

/// A provider change as a short clause after "the provider": "added
/// bob/ghost to bob's account".
pub(crate) fn change_clause(run: &Run, change: usize) -> String {
    let Some(c) = run.changes.get(change) else { return "made a change".to_owned() };
    match &c.kind {
        ChangeKind::Ghost(d) => format!("added {d} to {}'s account", c.user),
        ChangeKind::Substitute(d) => format!("served impostor keys for {d}"),
        ChangeKind::Member(g) => format!("presented {} as a member of group {g}", c.user),
    }
}

/// A provider change in words.
pub(crate) fn describe_change(run: &Run, change: usize) -> String {
    let Some(c) = run.changes.get(change) else { return "a change".to_owned() };
    match &c.kind {
        ChangeKind::Ghost(d) => format!("{d}, a device the provider added to {}'s account at step {}", c.user, c.step),
        ChangeKind::Substitute(d) => format!("the provider's impostor keys for {d}, served from step {}", c.step),
        ChangeKind::Member(g) => {
            format!("{}, whom the provider presented as a member of group {g} from step {}", c.user, c.step)
        }
    }
}

/// How the sender of a message stood towards a provider change that was
/// served to it when it encrypted the message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Told<'a> {
    /// The party the change introduced read nothing of the message: the
    /// design did not encrypt it to them.
    Prevented,
    /// A notice naming the change (of the right kind) held the message
    /// until the sender's user acknowledged it: nothing went anywhere
    /// before the user knew.
    Blocked(&'a Shown),
    /// A notice naming the change (the device, or the member) and of the
    /// right kind was shown to the sending device by an operation before
    /// the one that encrypted the message.
    Before(&'a Shown),
    /// Such a notice came only with the operation that already encrypted
    /// the message to the new party: too late to count as told.
    WhileSending(&'a Shown),
    /// No such notice.
    Silent,
}

impl Told<'_> {
    /// Worst last: the order in which grades are compared.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Told::Prevented => 0,
            Told::Blocked(_) => 1,
            Told::Before(_) => 2,
            Told::WhileSending(_) => 3,
            Told::Silent => 4,
        }
    }

    /// Whether the sender was not told in time (warned only while sending,
    /// or silent).
    pub(crate) fn fails(self) -> bool {
        matches!(self, Told::WhileSending(_) | Told::Silent)
    }

    /// The grade in words, for notes and evidence.
    pub(crate) fn grade(self) -> &'static str {
        match self {
            Told::Prevented => "prevented",
            Told::Blocked(_) => "blocked until acknowledged",
            Told::Before(_) => "warned before sending",
            Told::WhileSending(_) => "warned only while sending",
            Told::Silent => "silent",
        }
    }
}

/// Whether `event` names the change: a device added for a ghost device, an
/// identity change for a substituted key (each naming that device), a
/// member added for a member nobody added.
fn names_change(kind: &ChangeKind, user: &doormat_formats::UserId, event: &doormat_engine::Event) -> bool {
    use doormat_engine::EventKind as K;
    event.user == *user
        && match kind {
            ChangeKind::Ghost(d) => event.kind == K::DeviceAdded && event.device.as_ref() == Some(d),
            ChangeKind::Substitute(d) => event.kind == K::IdentityChanged && event.device.as_ref() == Some(d),
            ChangeKind::Member(_) => event.kind == K::MemberAdded,
        }
}

/// Whether the party a change introduced read message `mi`.
fn reached(run: &Run, change: &doormat_engine::run::Change, mi: usize) -> bool {
    use doormat_engine::run::Reader;
    run.reads.iter().filter(|r| r.messages.contains(&mi)).any(|r| match (&change.kind, &r.reader) {
        (ChangeKind::Ghost(g), Reader::Device(d)) => g == d,
        (ChangeKind::Substitute(s), Reader::Impostor(d)) => s == d,
        (ChangeKind::Member(_), Reader::Device(d)) => d.user == change.user,
        _ => false,
    })
}

/// How `device`, sending message `mi`, stood towards provider change
/// `change`: the notice must name the change and come before the sending
/// operation; a first sight of a user or conversation stays trust on first
/// use (the design may show nothing, and that is no notice).
pub(crate) fn told<'a>(run: &'a Run, change: usize, device: &DeviceAddr, mi: usize) -> Told<'a> {
    let (Some(c), Some(m)) = (run.changes.get(change), run.truth.messages.get(mi)) else { return Told::Silent };
    if !reached(run, c, mi) {
        return Told::Prevented;
    }
    let mut shown = run.shown.iter().filter(|s| {
        s.device == *device && s.step >= c.step && s.step <= m.step && names_change(&c.kind, &c.user, &s.event)
    });
    match shown.next() {
        Some(s) if s.step < m.step => Told::Before(s),
        Some(s) if s.blocking => Told::Blocked(s),
        Some(s) => Told::WhileSending(s),
        None => Told::Silent,
    }
}

#[cfg(test)]
mod tests {
    use super::id_list;

    #[test]
    fn ids_in_natural_order_with_ranges() {
        assert_eq!(id_list(["m10", "m2", "m1", "m3", "m11"], 6), "m1–m3, m10 and m11");
        assert_eq!(id_list(["m4", "m5"], 6), "m4 and m5");
        assert_eq!(id_list(["m7"], 6), "m7");
        assert_eq!(
            id_list((1..=114).map(|i| format!("m{i}")).collect::<Vec<_>>().iter().map(String::as_str), 6),
            "m1–m114"
        );
        assert_eq!(
            id_list(["a1", "b1", "a2", "a10", "b2", "a3", "c9", "d1", "e1", "f1"], 3),
            "a1–a3, a10, b1 and 5 more"
        );
        assert_eq!(id_list(["m1", "m1", "m01"], 6), "m01 and m1");
        assert_eq!(id_list(["hello", "m2"], 6), "hello and m2");
        assert_eq!(id_list(std::iter::empty(), 6), "");
    }
}
