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

/// Notices shown to `device` about the change's user between the change
/// and `until` (inclusive).
pub(crate) fn told<'a>(run: &'a Run, change: usize, device: &DeviceAddr, until: usize) -> Vec<&'a Shown> {
    let Some(c) = run.changes.get(change) else { return Vec::new() };
    run.shown
        .iter()
        .filter(|s| s.device == *device && s.event.user == c.user && s.step >= c.step && s.step <= until)
        .collect()
}
