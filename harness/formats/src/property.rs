//! The security properties a spec may claim and the oracles judge
//! (see the table in README.md).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A property id, spelled in kebab-case in specs and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    /// No plaintext in anything the provider sees.
    ProviderBlind,
    /// Only devices legitimately enrolled by the intended recipients read a message.
    RecipientsOnly,
    /// Nobody holding only public data and the provider view can read.
    OutsiderBlind,
    /// Provider-made changes of devices, members or keys are shown to users.
    ChangeVisible,
    /// The intended recipients read exactly what was sent.
    Delivers,
    /// Tampered, replayed and forged envelopes are rejected.
    Integrity,
    /// Seizing a device's state does not expose earlier messages.
    ForwardSecrecy,
    /// After healing, a seized state no longer reads new messages.
    PostCompromise,
}

impl Property {
    /// Every property, in report order.
    pub const ALL: [Property; 8] = [
        Property::ProviderBlind,
        Property::RecipientsOnly,
        Property::OutsiderBlind,
        Property::ChangeVisible,
        Property::Delivers,
        Property::Integrity,
        Property::ForwardSecrecy,
        Property::PostCompromise,
    ];

    /// The kebab-case id.
    pub fn id(self) -> &'static str {
        match self {
            Property::ProviderBlind => "provider-blind",
            Property::RecipientsOnly => "recipients-only",
            Property::OutsiderBlind => "outsider-blind",
            Property::ChangeVisible => "change-visible",
            Property::Delivers => "delivers",
            Property::Integrity => "integrity",
            Property::ForwardSecrecy => "forward-secrecy",
            Property::PostCompromise => "post-compromise",
        }
    }

    /// What holding the property means, in one plain sentence.
    pub fn plain(self) -> &'static str {
        match self {
            Property::ProviderBlind => "The provider never sees message text",
            Property::RecipientsOnly => "Only the devices the recipients enrolled can read a message",
            Property::OutsiderBlind => "Nobody with only public data and the provider's records can read",
            Property::ChangeVisible => "Users are told when their contacts' devices, keys or groups change",
            Property::Delivers => "The intended recipients read exactly what was sent",
            Property::Integrity => "Tampered, forged and replayed messages are rejected",
            Property::ForwardSecrecy => "A device seized today does not expose earlier messages",
            Property::PostCompromise => "A seized device's copy stops working once the owner keeps talking",
        }
    }

    /// What a failure of the property means, as a clause ("the provider
    /// sees message text").
    pub fn broken(self) -> &'static str {
        match self {
            Property::ProviderBlind => "the provider can see message text",
            Property::RecipientsOnly => "devices the recipients never enrolled can read their messages",
            Property::OutsiderBlind => "someone with only public data and the provider's records can read messages",
            Property::ChangeVisible => "users are not always told when their contacts' devices, keys or groups change",
            Property::Delivers => "the intended recipients do not always read exactly what was sent",
            Property::Integrity => "tampered, forged or replayed messages can be accepted",
            Property::ForwardSecrecy => "a device seized today can expose earlier messages",
            Property::PostCompromise => "a seized device's copy can keep reading after its owner goes on talking",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
