//! A vector's story as a list of items, for the sequence diagrams of the
//! Markdown report: who sent what, what the provider did, and where access
//! happened (taken from the findings' evidence).

use crate::verdict::{Judgement, Verdict};
use doormat_engine::run::Run;
use doormat_formats::{Action, Property, Target, TargetAim};

/// The provider, as a participant.
pub const PROVIDER: &str = "the provider";

/// One line of a sequence diagram.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Item {
    /// A note over a participant.
    Note {
        /// Step.
        step: usize,
        /// Participant.
        over: String,
        /// Text.
        text: String,
    },
    /// A message from one participant to another.
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
    /// Where access (or a failure) happened; `hidden` marks it red.
    Access {
        /// Step.
        step: usize,
        /// Who.
        who: String,
        /// What.
        text: String,
        /// Whether it fails a property (as opposed to visible access).
        hidden: bool,
    },
}

impl Item {
    /// The step the item belongs to.
    pub fn step(&self) -> usize {
        match self {
            Item::Note { step, .. } | Item::Arrow { step, .. } | Item::Access { step, .. } => *step,
        }
    }
}

const ACCESS: [Property; 7] = [
    Property::ProviderBlind,
    Property::RecipientsOnly,
    Property::OutsiderBlind,
    Property::ChangeVisible,
    Property::Integrity,
    Property::ForwardSecrecy,
    Property::PostCompromise,
];

/// The timeline of `run`, marking the evidence of `judgements`.
pub fn timeline(run: &Run, judgements: &[Judgement]) -> Vec<Item> {
    let mut items = Vec::new();
    for s in &run.scenario.steps {
        let n = s.number;
        let note = |over: String, text: String| Item::Note { step: n, over, text: format!("{n}: {text}") };
        let provider = |text: String| Item::Note { step: n, over: PROVIDER.to_owned(), text: format!("{n}: {text}") };
        items.push(match &s.action {
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
                let who = if *seized { " (sent by the seized copy)" } else { "" };
                Item::Arrow {
                    step: n,
                    from: from.to_string(),
                    to: PROVIDER.to_owned(),
                    text: format!("{n}: {message} to {to}{held}{who}"),
                }
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
            _ => provider("another step".to_owned()),
        });
    }
    for j in judgements.iter().filter(|j| ACCESS.contains(&j.property)) {
        let marked = if j.verdict == Verdict::Fail {
            j.findings.iter().map(|f| (f, true)).collect::<Vec<_>>()
        } else {
            Vec::new()
        };
        for (f, hidden) in marked.into_iter().chain(j.observations.iter().map(|f| (f, false))) {
            for e in &f.evidence {
                let who = e.party.clone().unwrap_or_else(|| PROVIDER.to_owned());
                let what = match &e.message {
                    Some(m) => format!("{m}: {}", j.property),
                    None => j.property.to_string(),
                };
                items.push(Item::Access { step: e.step, who, text: what, hidden });
            }
        }
    }
    items.sort_by_key(Item::step);
    items
}
