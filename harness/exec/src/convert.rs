//! What the exec protocol's messages mean: every conversion between the
//! wire types of [`doormat_formats::wire`] and the engine's values, in both
//! directions, for both ends of the protocol (the client in `design.rs` and
//! `primitives.rs`, the server in `serve.rs`).
//!
//! **Invariants:** each wire spelling is written once: device addresses by
//! [`DeviceAddr`]'s `Display` and [`DeviceAddr::parse`], event kinds by
//! [`EventKind::wire_name`], AEAD names by the serde names of [`WireAead`]
//! and [`WirePrimitive`] (paired with [`AeadAlg`] in [`AEADS`]). Reading
//! never guesses: an address, a user name, an event kind or a seed that is
//! not what the protocol defines is an error naming it, which the client
//! turns into a broken run and the server into a `failed` answer.

use doormat_engine::{
    AeadAlg, Bundle, DirectoryEntry, Event, EventKind, ImplError, InEnvelope, OutEnvelope, Seed, TargetContent,
};
use doormat_formats::wire::{
    ErrorKind, PublishOk, WireAead, WireEntry, WireEnvelope, WireError, WireEvent, WirePrimitive, B64,
};
use doormat_formats::{DeviceAddr, UserId};

/// Each AEAD the protocol names: the engine's algorithm, its `alg` in
/// `kat_aead_seal` / `kat_aead_open`, and the primitive `hello` offers it as.
const AEADS: [(AeadAlg, WireAead, WirePrimitive); 2] = [
    (AeadAlg::ChaCha20Poly1305, WireAead::ChaCha20Poly1305, WirePrimitive::ChaCha20Poly1305),
    (AeadAlg::Aes256Gcm, WireAead::Aes256Gcm, WirePrimitive::Aes256Gcm),
];

/// The wire `alg` of an AEAD and the primitive that offers it; `None` for
/// one the protocol does not name.
pub(crate) fn aead_to_wire(alg: AeadAlg) -> Option<(WireAead, WirePrimitive)> {
    AEADS.iter().find(|(a, _, _)| *a == alg).map(|&(_, w, p)| (w, p))
}

/// The AEAD a wire `alg` names; `None` for one the engine does not know.
pub(crate) fn aead_from_wire(alg: WireAead) -> Option<AeadAlg> {
    AEADS.iter().find(|(_, w, _)| *w == alg).map(|&(a, _, _)| a)
}

/// A device address from the wire.
pub(crate) fn addr_from_wire(s: &str) -> Result<DeviceAddr, String> {
    DeviceAddr::parse(s).ok_or_else(|| format!("`{s}` is not a device address: expected `user/device`"))
}

/// A seed or entropy from the wire: exactly 32 bytes.
pub(crate) fn seed_from_wire(b: &B64) -> Result<Seed, String> {
    Seed::try_from(b.0.as_slice()).map_err(|_| format!("a seed must be 32 bytes, not {}", b.0.len()))
}

/// A notice for the wire.
pub(crate) fn event_to_wire(e: Event) -> WireEvent {
    WireEvent { kind: e.kind.wire_name().to_owned(), user: e.user.0, device: e.device.map(|d| d.to_string()) }
}

/// A notice from the wire; a kind the protocol does not define is an error
/// naming it, never taken for another.
pub(crate) fn event_from_wire(e: WireEvent) -> Result<Event, String> {
    let Some(kind) = EventKind::from_wire_name(&e.kind) else {
        let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.wire_name()).collect();
        return Err(format!("unknown event kind `{}`: expected one of {}", e.kind, known.join(", ")));
    };
    if !doormat_formats::ids::valid_name(&e.user) {
        return Err(format!("`{}` is not a user name", e.user));
    }
    let device = e.device.as_deref().map(addr_from_wire).transpose()?;
    Ok(Event { kind, user: UserId(e.user), device })
}

/// Notices for the wire.
pub(crate) fn events_to_wire(events: Vec<Event>) -> Vec<WireEvent> {
    events.into_iter().map(event_to_wire).collect()
}

/// Notices from the wire, all or nothing.
pub(crate) fn events_from_wire(events: Vec<WireEvent>) -> Result<Vec<Event>, String> {
    events.into_iter().map(event_from_wire).collect()
}

/// The `from`, `conversation` and `body` of a `decrypt` or `forensic_open`
/// request.
pub(crate) fn in_envelope_to_wire(env: &InEnvelope<'_>) -> (String, String, B64) {
    (env.from.to_string(), env.conversation.to_owned(), B64(env.body.to_vec()))
}

/// A directory entry for `encrypt`.
pub(crate) fn entry_to_wire(e: &DirectoryEntry) -> WireEntry {
    WireEntry {
        device: e.device.to_string(),
        identity: B64(e.identity.clone()),
        prekey: B64(e.prekey.clone()),
        one_time: e.one_time.clone().map(B64),
    }
}

/// A directory entry from `encrypt`.
pub(crate) fn entry_from_wire(e: WireEntry) -> Result<DirectoryEntry, String> {
    Ok(DirectoryEntry {
        device: addr_from_wire(&e.device)?,
        identity: e.identity.0,
        prekey: e.prekey.0,
        one_time: e.one_time.map(|o| o.0),
        // Exec designs declare no key service (PROTOCOL.md).
        proof: None,
    })
}

/// An envelope of an `encrypt` answer.
pub(crate) fn envelope_to_wire(e: OutEnvelope) -> WireEnvelope {
    WireEnvelope { to: e.to.iter().map(ToString::to_string).collect(), body: B64(e.body) }
}

/// An envelope from an `encrypt` answer.
pub(crate) fn envelope_from_wire(e: WireEnvelope) -> Result<OutEnvelope, String> {
    let to = e.to.iter().map(|t| addr_from_wire(t)).collect::<Result<_, _>>()?;
    Ok(OutEnvelope { to, body: e.body.0 })
}

/// A `publish` answer.
pub(crate) fn bundle_to_wire(b: Bundle) -> PublishOk {
    PublishOk { identity: B64(b.identity), prekey: B64(b.prekey), one_time: b.one_time.into_iter().map(B64).collect() }
}

/// A bundle from a `publish` answer.
pub(crate) fn bundle_from_wire(ok: PublishOk) -> Bundle {
    Bundle { identity: ok.identity.0, prekey: ok.prekey.0, one_time: ok.one_time.into_iter().map(|b| b.0).collect() }
}

/// The `exact` and `similar` fields of a `target` request; `None` for
/// content the protocol cannot carry.
pub(crate) fn target_to_wire(content: &TargetContent<'_>) -> Option<(Option<B64>, Option<String>)> {
    match content {
        TargetContent::Exact(b) => Some((Some(B64(b.to_vec())), None)),
        TargetContent::Similar(t) => Some((None, Some((*t).to_owned()))),
        _ => None,
    }
}

/// The content a `target` request names (`exact` first); `None` when it
/// names none.
pub(crate) fn target_from_wire<'a>(exact: &'a Option<B64>, similar: &'a Option<String>) -> Option<TargetContent<'a>> {
    match (exact, similar) {
        (Some(e), _) => Some(TargetContent::Exact(&e.0)),
        (None, Some(t)) => Some(TargetContent::Similar(t)),
        (None, None) => None,
    }
}

/// An `error` answer.
pub(crate) fn error_to_wire(e: ImplError) -> WireError {
    let (kind, message) = match e {
        ImplError::Rejected(m) => (ErrorKind::Rejected, m),
        ImplError::Unsupported(m) => (ErrorKind::Unsupported, m),
        ImplError::Failed(m) => (ErrorKind::Failed, m),
        other => (ErrorKind::Failed, other.to_string()),
    };
    WireError { kind, message }
}

/// The engine's error for an `error` answer.
pub(crate) fn error_from_wire(e: WireError) -> ImplError {
    match e.kind {
        ErrorKind::Rejected => ImplError::Rejected(e.message),
        ErrorKind::Unsupported => ImplError::Unsupported(e.message),
        ErrorKind::Failed => ImplError::Failed(e.message),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_aead_and_event_kind_goes_there_and_back() {
        for (alg, wire, primitive) in AEADS {
            assert_eq!(aead_to_wire(alg), Some((wire, primitive)));
            assert_eq!(aead_from_wire(wire), Some(alg));
            assert_eq!(serde_json::to_value(wire).unwrap(), serde_json::to_value(primitive).unwrap());
            assert_eq!(primitive.name(), alg.name());
        }
        for kind in EventKind::ALL {
            let e = Event { kind, user: UserId::from("bob"), device: Some(DeviceAddr::new("bob", "phone")) };
            assert_eq!(event_from_wire(event_to_wire(e.clone())), Ok(e));
        }
    }

    #[test]
    fn an_unknown_event_kind_is_an_error_naming_it() {
        let e = WireEvent { kind: "device-lost".to_owned(), user: "bob".to_owned(), device: None };
        let err = event_from_wire(e).unwrap_err();
        assert!(err.starts_with("unknown event kind `device-lost`: expected one of identity-changed,"), "{err}");
        let bad_user = WireEvent { kind: "member-added".to_owned(), user: "Bob".to_owned(), device: None };
        assert_eq!(event_from_wire(bad_user).unwrap_err(), "`Bob` is not a user name");
    }

    #[test]
    fn errors_keep_their_kind_and_message() {
        for e in [ImplError::Rejected("a".into()), ImplError::Unsupported("b".into()), ImplError::Failed("c".into())] {
            assert_eq!(error_from_wire(error_to_wire(e.clone())), e);
        }
    }
}
