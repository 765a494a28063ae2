//! Tests every design must pass, written once and mounted once per design by
//! `tests/suite.rs` (as rustls mounts its API tests once per crypto
//! provider): each function here takes the design's name, so a failure names
//! the design (`olm::a_replay_is_rejected`) and a new design gets every test.
//!
//! A test that does not apply to a design returns early through [`skip!`],
//! with the reason beside the design's name; whatever such a design does in
//! its place is tested in its own file, named in the reason. Nothing here
//! names a design otherwise, except [`opens_session`], which knows the wire
//! of the designs whose bodies say whether they start a session.

#![allow(dead_code)]

pub mod forensic;
pub mod messaging;
pub mod notices;
pub mod sessions;
pub mod shared;

use crate::common::{addr, Net};
use doormat_engine::{Event, EventKind, Sent};
use doormat_formats::UserId;

/// Returns from the test when `$design` is one of the names given, each with
/// the reason the test does not apply to it.
macro_rules! skip {
    ($design:expr, $($name:literal => $reason:expr),+ $(,)?) => {
        match $design {
            $($name => {
                eprintln!("{}: skipped: {}", $name, $reason);
                return;
            })+
            _ => {}
        }
    };
}
pub(crate) use skip;

/// The names of every generic test, handed to `$mount!` (in `tests/suite.rs`,
/// one trial per design and name, calling `$path::$name(design)`).
macro_rules! each_test {
    ($mount:ident, $design:expr) => {
        $mount! {
            $design;
            shared::delivers_to_every_recipient_device,
            shared::a_seeded_design_is_deterministic,
            shared::envelopes_have_the_same_shape,
            shared::short_garbage_is_rejected,
            shared::huge_hkdf_lengths_are_refused_before_anything_is_allocated,
            messaging::one_to_one_both_ways_over_many_messages,
            sessions::session_setup_is_sent_until_the_peer_replies,
            sessions::a_one_time_item_served_twice_opens_one_session_and_none_is_fine,
            sessions::a_session_opening_message_is_refused_again_after_its_session_is_dropped,
            messaging::fan_out_is_one_envelope_per_recipient_device_never_to_self,
            messaging::out_of_order_and_delayed_delivery,
            messaging::simultaneous_first_contact_still_delivers_everything,
            messaging::a_replay_is_rejected,
            messaging::flipped_bits_truncations_and_appended_bytes_are_rejected,
            messaging::garbage_is_rejected_without_panicking,
            messaging::a_fork_decrypting_leaves_the_original_untouched,
            messaging::a_fork_is_independent,
            messaging::devices_that_are_not_addressed_cannot_decrypt,
            messaging::the_sender_is_bound_and_misrouting_is_rejected,
            messaging::export_then_import_continues_the_conversation,
            messaging::a_failed_decrypt_leaves_the_device_as_it_was,
            notices::member_changes_are_shown_to_sender_and_receivers,
            notices::new_and_vanished_devices_are_shown,
            notices::a_changed_identity_is_shown_once_to_the_sender_and_to_the_receiver,
            notices::a_substituted_key_is_shown_before_anything_is_encrypted_to_it,
            notices::verify_shows_a_mismatch_and_accepts_a_match,
            notices::a_verified_contact_is_not_encrypted_to_under_another_key,
            notices::a_message_from_a_verified_contact_under_another_key_is_rejected,
            forensic::a_copy_taken_after_reading_cannot_open_what_was_read,
            forensic::a_copy_taken_before_a_message_arrived_opens_it,
            forensic::forensic_open_finds_what_decrypt_finds_and_after_it_nothing,
            forensic::a_refused_replay_is_refused_by_the_keys,
            forensic::without_a_one_time_prekey_the_signed_prekey_reopens_the_first_chain,
            forensic::a_twin_or_another_device_opens_nothing_addressed_to_the_real_one,
            forensic::a_copy_of_the_sender_reads_what_it_sends_until_its_next_ratchet_step,
            forensic::a_seized_copy_follows_by_forensic_open_until_fresh_entropy_heals,
            forensic::forensic_open_ignores_the_claimed_sender,
            forensic::forensic_open_of_garbage_finds_nothing_and_never_fails,
        }
    };
}
pub(crate) use each_test;

pub use crate::common::{is_rejected, pair, AB, ALICE_BOB};

pub fn event(kind: EventKind, user: &str, device: Option<&str>) -> Event {
    Event { kind, user: UserId::from(user), device: device.map(addr) }
}

/// Whether `body` starts a session (a pre-key message), for the designs
/// whose wire says so in its second byte; `None` for the others.
pub fn opens_session(design: &str, body: &[u8]) -> Option<bool> {
    match design {
        // Version, then kind: 1 an ordinary message, 2 a prekey message.
        "ratchet" | "ghost" => Some(body[1] == 2),
        // Version, then vodozemac's Olm message type: 0 pre-key, 1 normal.
        "olm" => Some(body[1] == 0),
        _ => None,
    }
}

/// The bodies of `sent` addressed to `to`, in order.
pub fn bodies_for(sent: &Sent, to: &str) -> Vec<Vec<u8>> {
    let to = addr(to);
    sent.envelopes.iter().filter(|e| e.to.contains(&to)).map(|e| e.body.clone()).collect()
}

/// The envelopes of `sent` addressed to someone. Only backup-escrow sends
/// any to nobody (the backup it uploads with every send); for every other
/// design, one to nobody fails the test.
pub fn addressed<'a>(design: &str, sent: &'a Sent) -> Vec<&'a doormat_engine::OutEnvelope> {
    let (someone, nobody): (Vec<_>, Vec<_>) = sent.envelopes.iter().partition(|e| !e.to.is_empty());
    if design != "backup-escrow" {
        assert!(nobody.is_empty(), "{design}: an envelope addressed to nobody");
    }
    someone
}

/// `from` sends `text` in `alice+bob`; the bodies for `to`.
pub fn post(net: &mut Net, from: &str, to: &str, text: &str) -> Vec<Vec<u8>> {
    bodies_for(&net.send(from, AB, ALICE_BOB, text), to)
}

/// `to` reads `bodies` from `from` in `conversation`, in order, each accepted;
/// the texts it read, each authenticated as `from`'s.
pub fn read_in(net: &mut Net, to: &str, from: &str, conversation: &str, bodies: &[Vec<u8>]) -> Vec<String> {
    let mut texts = Vec::new();
    for body in bodies {
        let got = net
            .recv(to, from, conversation, body)
            .unwrap_or_else(|e| panic!("{}: {to} refused an envelope from {from}: {e}", net.design.name()));
        if let Some(p) = got.plaintext {
            assert_eq!(got.sender, Some(addr(from)), "{}: {from} -> {to}", net.design.name());
            texts.push(String::from_utf8(p).unwrap());
        }
    }
    texts
}

/// `to` reads `bodies` from `from` in `alice+bob`: exactly one text, which
/// it returns.
pub fn reads(net: &mut Net, to: &str, from: &str, bodies: &[Vec<u8>]) -> String {
    let mut texts = read_in(net, to, from, AB, bodies);
    assert_eq!(texts.len(), 1, "{}: {from} -> {to}: {texts:?}", net.design.name());
    texts.remove(0)
}

/// `from` writes `text` to `to` in `alice+bob`, and `to` reads exactly it.
pub fn talk(net: &mut Net, from: &str, to: &str, text: &str) {
    let bodies = post(net, from, to, text);
    assert_eq!(reads(net, to, from, &bodies), text);
}
