//! The verdict table: every built-in design meets every shipped vector, in a
//! loop, with the oracles told nothing about designs (they never read a
//! design's name), and the table of claims against verdicts must equal the
//! expected one. Two leaky wrappers around the
//! honest design check that the oracles catch leaks they were never told of.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use doormat_audit::{audit_one, judge_pair, load, Loaded};
use doormat_engine::{
    Bundle, Capabilities, Design, Device, EncryptRequest, ImplError, InEnvelope, OutEnvelope, Received, Seed, Sent,
};
use doormat_formats::{DeviceAddr, Parameters, Property, Scenario, Spec};
use doormat_oracles::{Judgement, VectorResult, Verdict};
use doormat_report::{Claim, DesignAudit};
use libtest_mimic::{Arguments, Trial};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Every shipped vector, as `doormat audit` loads them.
fn vectors() -> Vec<Scenario> {
    load::vectors(&[root().join("vectors")]).unwrap()
}

/// `design` over every vector, with the default parameters (the oracles
/// are told nothing about the design).
fn audit(design: &dyn Design) -> Vec<VectorResult> {
    vectors().iter().map(|sc| judge_pair(design, sc, &Parameters::default())).collect()
}

fn spec(id: &str) -> Spec {
    load::parse_spec(&root().join(format!("specs/{id}.yaml"))).unwrap()
}

/// The raw verdict per property over all vectors: FAIL if any vector
/// fails, else PASS if any passes, else NOT TESTED; ERROR if any run broke.
fn table(results: &[VectorResult]) -> Vec<(Property, Verdict)> {
    Property::ALL
        .iter()
        .map(|&p| {
            let vs: Vec<Verdict> = results.iter().map(|r| r.judgement(p).unwrap().verdict).collect();
            let v = if vs.contains(&Verdict::Error) {
                Verdict::Error
            } else if vs.contains(&Verdict::Fail) {
                Verdict::Fail
            } else if vs.contains(&Verdict::Pass) {
                Verdict::Pass
            } else {
                Verdict::NotTested
            };
            (p, v)
        })
        .collect()
}

fn expected(fail: &[Property], pass: &[Property]) -> Vec<(Property, Verdict)> {
    Property::ALL
        .iter()
        .map(|p| {
            let v = if fail.contains(p) {
                Verdict::Fail
            } else if pass.contains(p) {
                Verdict::Pass
            } else {
                Verdict::NotTested
            };
            (*p, v)
        })
        .collect()
}

use Property::*;

/// Properties MLS keeps only within the limits its spec states (trust on
/// first use; membership changed only by members' commits, which go out
/// with the next message of the device that makes them).
const MLS_LIMITED: [Property; 3] = [RecipientsOnly, ChangeVisible, Delivers];

/// Every property except those listed holds as claimed.
fn claims(contradicted: &[Property], within_limits: &[Property]) -> Vec<(Property, Claim)> {
    Property::ALL
        .iter()
        .map(|p| {
            let c = if contradicted.contains(p) {
                Claim::Contradicted
            } else if within_limits.contains(p) {
                Claim::HoldsWithinLimits
            } else {
                Claim::Holds
            };
            (*p, c)
        })
        .collect()
}

/// The scorecard, design by design, from the generic oracles over every
/// shipped vector: the backdoored designs are caught by the properties
/// their trade-off gives away, and the honest baseline keeps every claim
/// (outside the trust-on-first-use limit its spec states). `None` for a
/// name the table does not know (a new design needs its row here).
fn expected_claims(name: &str) -> Option<Vec<(Property, Claim)>> {
    let relay: Vec<(Property, Claim)> =
        Property::ALL.iter().map(|&p| (p, if p == Delivers { Claim::Holds } else { Claim::NotClaimedFails })).collect();
    // The honest designs tell before they send: a newcomer misses the
    // message during which its notice appears (a delivery limit they state).
    // And a session started without a one-time prekey rests on a key the
    // device keeps for life: its first messages stay open to a later
    // seizure (a forward-secrecy limit they state).
    let told_first = [RecipientsOnly, ChangeVisible, Delivers, ForwardSecrecy];
    Some(match name {
        // The backup key never changes: a seized state reads every backup,
        // earlier and later, and its history holds the plaintexts.
        "backup-escrow" => {
            claims(&[RecipientsOnly, OutsiderBlind, ForwardSecrecy, PostCompromise], &[ChangeVisible, Delivers])
        }
        "client-scan" => claims(&[RecipientsOnly, OutsiderBlind], &[ChangeVisible, Delivers, ForwardSecrecy]),
        "escrow" => claims(&[RecipientsOnly, OutsiderBlind], &[ChangeVisible, Delivers, ForwardSecrecy]),
        "ghost" => claims(&[RecipientsOnly, ChangeVisible], &[ForwardSecrecy]),
        // Megolm gives neither forward secrecy for stored sessions (a seized
        // device opens every earlier message with forensic open) nor
        // post-compromise security within a session; it claims neither.
        "megolm" => claims(&[], &[RecipientsOnly, ChangeVisible, Delivers])
            .into_iter()
            .map(
                |(p, c)| {
                    if matches!(p, ForwardSecrecy | PostCompromise) {
                        (p, Claim::NotClaimedFails)
                    } else {
                        (p, c)
                    }
                },
            )
            .collect(),
        "mls" => claims(&[], &MLS_LIMITED),
        // vodozemac takes an Olm message whose chain-index field tag was
        // changed (an unknown field, the index read as 0) for the original.
        "olm" => claims(&[Integrity], &told_first),
        "plaintext-relay" => relay,
        "ratchet" => claims(&[], &told_first),
        _ => return None,
    })
}

/// Audits one built-in design over every vector and compares its claims
/// table with [`expected_claims`].
fn gets_the_expected_verdicts(name: &str) {
    let want = expected_claims(name).unwrap_or_else(|| panic!("no expected claims table for {name}"));
    let loaded = Loaded { spec: spec(name), design: doormat_designs::builtin(name).unwrap() };
    let audit: DesignAudit = audit_one(&loaded, &vectors());
    for r in &audit.vectors {
        assert!(r.error.is_none(), "{name} broke on {}: {:?}", r.vector, r.error);
    }
    let got: Vec<(Property, Claim)> = audit.properties.iter().map(|p| (p.property, p.claim)).collect();
    assert_eq!(got, want, "claims table of {name}");
}

/// The honest baseline fails nothing outside the vectors its spec names
/// as limits, and every vector's own expectations hold for it.
fn ratchet_fails_only_within_its_stated_limits() {
    let ratchet = doormat_designs::builtin("ratchet").unwrap();
    let spec = spec("ratchet");
    for r in audit(ratchet.as_ref()) {
        for j in &r.judgements {
            if j.verdict == Verdict::Fail {
                assert!(
                    spec.limits.iter().any(|l| l.property == j.property && l.covers(&r.vector, &r.tags)),
                    "ratchet fails {} in {} outside its stated limits: {:?}",
                    j.property,
                    r.vector,
                    j.findings
                );
            }
            assert_ne!(j.verdict, Verdict::Error, "{}: {}", r.vector, j.note);
        }
        for e in &r.expectations {
            let limited = spec.limits.iter().any(|l| l.property == e.property && l.covers(&r.vector, &r.tags));
            assert!(e.held || limited, "ratchet, {}: {} — {:?}", r.vector, e.expected, e.observed);
        }
    }
}

fn finding<'a>(results: &'a [VectorResult], vector: &str, p: Property) -> &'a Judgement {
    results.iter().find(|r| r.vector == vector).unwrap().judgement(p).unwrap()
}

fn findings_name_the_right_parties() {
    let relay = doormat_designs::builtin("plaintext-relay").unwrap();
    let results = audit(relay.as_ref());
    let removed = finding(&results, "member-removed", RecipientsOnly);
    assert_eq!(removed.findings.len(), 1, "{removed:?}");
    let f = &removed.findings[0];
    assert!(
        f.sentence.starts_with("carol/phone read 3 messages") && f.sentence.contains("removed from group team"),
        "{}",
        f.sentence
    );
    let msgs: Vec<&str> = f.evidence.iter().filter_map(|e| e.message.as_deref()).collect();
    assert_eq!(msgs, ["m3", "m4", "m5"]);
    let linked = finding(&results, "link-mid-conversation", RecipientsOnly);
    assert!(linked.findings[0].sentence.starts_with("bob/laptop read 2 messages"), "{}", linked.findings[0].sentence);

    // The ghost: the added device reads, and the senders were not told.
    let ghost = audit(doormat_designs::builtin("ghost").unwrap().as_ref());
    let g = &finding(&ghost, "ghost-mid-group", RecipientsOnly).findings[0];
    assert_eq!(
        g.sentence,
        "bob/ghost, a device the provider added to bob's account at step 8, which bob never enrolled, read 2 messages (m4 and m5); alice/phone and carol/phone were not told before sending"
    );
    let cv = finding(&ghost, "ghost-mid-group", ChangeVisible);
    assert_eq!(cv.verdict, Verdict::Fail);
    let parties: Vec<&str> = cv.findings[0].evidence.iter().filter_map(|e| e.party.as_deref()).collect();
    assert_eq!(parties, ["alice/phone", "carol/phone"]);

    // The same move against the honest design: each sender is told, and
    // holds that message back from the ghost (prevented); nothing is hidden.
    let honest = audit(doormat_designs::builtin("ratchet").unwrap().as_ref());
    let v = finding(&honest, "ghost-mid-group", RecipientsOnly);
    assert_eq!(v.verdict, Verdict::Pass, "{v:?}");
    let cv = finding(&honest, "ghost-mid-group", ChangeVisible);
    assert_eq!((cv.verdict, cv.grade.as_deref()), (Verdict::Pass, Some("prevented")), "{}", cv.note);
    // Told first, the ghost reads the sender's next message: visible access.
    let later = finding(&honest, "ghost-one-to-one", RecipientsOnly);
    assert_eq!(later.verdict, Verdict::Pass, "{later:?}");
    assert!(
        later.observations.iter().any(|o| o.sentence
            == "Visible access: bob/tablet read 1 message (m5) after the provider added bob/tablet to bob's account; the senders had been told before sending"
            && o.evidence.iter().any(|e| e
                .text
                .contains("alice/phone was shown \"device added: bob/tablet\" at step 6, before sending at step 8"))),
        "{:?}",
        later.observations
    );

    // The scanning service reads exactly the targeted messages.
    let scan = audit(doormat_designs::builtin("client-scan").unwrap().as_ref());
    let s = &finding(&scan, "targeted-scan", RecipientsOnly).findings[0];
    let read: Vec<&str> = s.evidence.iter().filter_map(|e| e.message.as_deref()).collect();
    assert_eq!(read, ["m3", "m4"], "{}", s.sentence);
    assert!(s.sentence.starts_with("The scanning-service"), "{}", s.sentence);

    // Escrow and backups: the compelled authority reads as an outsider.
    for (design, role) in [("escrow", "escrow-agent"), ("backup-escrow", "backup-operator")] {
        let results = audit(doormat_designs::builtin(design).unwrap().as_ref());
        let o = &finding(&results, "compel-after-conversation", OutsiderBlind).findings[0];
        assert_eq!(
            o.sentence,
            format!("The {role}, a third party given only the provider's records, read 4 of 4 messages")
        );
    }
}

fn a_seized_plaintext_device_exposes_everything_and_the_ratchet_heals() {
    let relay = audit(doormat_designs::builtin("plaintext-relay").unwrap().as_ref());
    assert_eq!(finding(&relay, "seize-and-heal", ForwardSecrecy).verdict, Verdict::Fail);
    assert_eq!(finding(&relay, "seize-and-heal", PostCompromise).verdict, Verdict::Fail);
    let ratchet = audit(doormat_designs::builtin("ratchet").unwrap().as_ref());
    let fs = finding(&ratchet, "seize-and-heal", ForwardSecrecy);
    assert_eq!(fs.verdict, Verdict::Pass, "{}", fs.note);
    let pcs = finding(&ratchet, "seize-and-heal", PostCompromise);
    assert_eq!(pcs.verdict, Verdict::Pass, "{}", pcs.note);
    assert!(pcs.note.contains("bob/phone healed with alice/phone at step"), "{}", pcs.note);
    // The copy that acts after the heal: Alice refuses what it sends as Bob,
    // and it reads nothing after.
    for design in ["ratchet", "olm", "mls"] {
        let results = audit(doormat_designs::builtin(design).unwrap().as_ref());
        let pcs = finding(&results, "active-copy", PostCompromise);
        assert_eq!(pcs.verdict, Verdict::Pass, "{design}: {:?}", pcs.findings);
        assert!(pcs.note.contains("the seized copy sent 1 message as the device after that"), "{design}: {}", pcs.note);
    }
}

/// How a wrapper leaks.
#[derive(Debug, Clone, Copy)]
enum Leak {
    /// Upper-case hex of the plaintext in an extra envelope.
    HexCopy,
    /// The plaintext under a key every device knows (hard-coded).
    FixedKey,
}

const MAGIC: &[u8] = b"LEAK";
const KEY: u8 = 0x5a;

/// The honest design plus a leak; the oracles are not told.
#[derive(Debug)]
struct Leaky(Box<dyn Design>, Leak);

#[derive(Debug)]
struct LeakyDevice(Box<dyn Device>, Leak);

impl Design for Leaky {
    fn name(&self) -> &str {
        "leaky"
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(LeakyDevice(self.0.create_device(addr, seed)?, self.1)))
    }
}

impl Device for LeakyDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        self.0.publish()
    }
    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let mut sent = self.0.encrypt(req)?;
        let body = match self.1 {
            Leak::HexCopy => req.plaintext.iter().map(|b| format!("{b:02X}")).collect::<String>().into_bytes(),
            Leak::FixedKey => MAGIC.iter().copied().chain(req.plaintext.iter().map(|b| b ^ KEY)).collect(),
        };
        sent.envelopes.push(OutEnvelope { to: Vec::new(), body });
        Ok(sent)
    }
    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        match env.body.strip_prefix(MAGIC) {
            Some(rest) => Ok(Received {
                plaintext: Some(rest.iter().map(|b| b ^ KEY).collect()),
                sender: None,
                events: Vec::new(),
            }),
            None => self.0.decrypt(env),
        }
    }
    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(LeakyDevice(self.0.fork()?, self.1)))
    }
}

fn a_hex_copy_of_the_text_is_caught_by_provider_blind() {
    let design = Leaky(doormat_designs::builtin("ratchet").unwrap(), Leak::HexCopy);
    let results = audit(&design);
    let t = table(&results);
    assert_eq!(t[0], (ProviderBlind, Verdict::Fail));
    assert_eq!(t[2], (OutsiderBlind, Verdict::Pass));
    delivers_as_the_ratchet(&results);
    let f = &results[0].judgement(ProviderBlind).unwrap().findings[0];
    assert_eq!(f.evidence[0].encoding.as_deref(), Some("hex at offset 0 → raw at 0"), "{f:?}");
}

fn a_hard_coded_key_is_caught_by_outsider_blind_and_recipients_only() {
    let design = Leaky(doormat_designs::builtin("ratchet").unwrap(), Leak::FixedKey);
    let results = audit(&design);
    let t = table(&results);
    // The "key" is one byte XORed over the text: the scanner finds the text
    // too, so provider-blind fails as well.
    assert_eq!(&t[..3], &expected(&[ProviderBlind, RecipientsOnly, OutsiderBlind], &[])[..3]);
    delivers_as_the_ratchet(&results);
}

/// The leak does not change delivery: it fails only where the ratchet's
/// spec states its delivery limit (a newcomer misses the message during
/// which it is announced).
fn delivers_as_the_ratchet(results: &[VectorResult]) {
    let spec = spec("ratchet");
    for r in results {
        let j = r.judgement(Delivers).unwrap();
        let limited = spec.limits.iter().any(|l| l.property == Delivers && l.covers(&r.vector, &r.tags));
        assert!(j.verdict != Verdict::Fail || limited, "{}: {:?}", r.vector, j.findings);
    }
}

/// One trial per built-in design from the registry (a failure names the
/// design, the others still run, and a new design is tested with no line
/// here: it fails until its row is in [`expected_claims`]), then the
/// other checks.
/// A change is judged on every message sent while it is served, not only
/// the first: here, after a first contact, the first message to the ghost
/// is dropped (it reaches nothing), and the next reaches the ghost with
/// nobody told. (Found by the
/// property tests: judged on the first message alone, the ghost passed
/// change-visible as "prevented" while recipients-only failed.)
fn a_dropped_first_message_does_not_excuse_the_next() {
    const VECTOR: &str = "title: t\ndescription: d\nseed: 7\nusers: [alice, bob]\nsteps:\n  - register: {user: alice}\n  - register: {user: bob}\n  - send: {id: m0, from: alice, to: bob}\n  - ghost: {user: bob}\n  - send: {id: m1, from: alice, to: bob, hold: true}\n  - drop: {messages: [m1]}\n  - send: {id: m2, from: alice, to: bob}\n";
    let sc = doormat_formats::Vector::parse("dropped-first.yaml", "dropped-first", VECTOR).unwrap();
    let judge = |name: &str| {
        let r = judge_pair(doormat_designs::builtin(name).unwrap().as_ref(), &sc, &Parameters::default());
        let j = r.judgement(ChangeVisible).unwrap().clone();
        (j.verdict, j.grade, r.judgement(RecipientsOnly).unwrap().verdict)
    };
    assert_eq!(judge("ghost"), (Verdict::Fail, Some("silent".to_owned()), Verdict::Fail));
    // The honest design holds m1 back from the ghost and warns (prevented);
    // m2 goes to the ghost after the warning (visible access, no failure).
    assert_eq!(judge("ratchet"), (Verdict::Pass, Some("prevented".to_owned()), Verdict::Pass));
}

/// A round trip that heals a ratchet is messages *opened* both ways, not
/// sent: here every message after the seizure but the last two is held and
/// dropped, so the peer never gets a key the copy lacks, and the copy
/// reading the last ones is no failure of post-compromise. (Found by the
/// property tests: counted by sends, the ratchet "failed" its claim.)
fn round_trips_are_counted_by_messages_opened() {
    const VECTOR: &str = "title: t\ndescription: d\nseed: 9\nusers: [alice, bob]\nsteps:\n  - register: {user: alice}\n  - register: {user: bob}\n  - send: {id: m1, from: alice, to: bob}\n  - send: {id: m2, from: bob, to: alice}\n  - seize: {device: bob/phone}\n  - send: {id: m3, from: bob, to: alice, hold: true}\n  - drop: {messages: [m3]}\n  - send: {id: m4, from: alice, to: bob, hold: true}\n  - drop: {messages: [m4]}\n  - send: {id: m5, from: bob, to: alice, hold: true}\n  - drop: {messages: [m5]}\n  - send: {id: m6, from: alice, to: bob}\n  - send: {id: m7, from: alice, to: bob}\n";
    let sc = doormat_formats::Vector::parse("dropped-trips.yaml", "dropped-trips", VECTOR).unwrap();
    let verdict = |name: &str| {
        let r = judge_pair(doormat_designs::builtin(name).unwrap().as_ref(), &sc, &Parameters::default());
        r.judgement(PostCompromise).unwrap().verdict
    };
    assert_ne!(verdict("ratchet"), Verdict::Fail);
    // With the messages delivered, two round trips do happen, and the
    // backup operator's design, whose keys never change, is caught.
    let delivered = VECTOR
        .replace(", hold: true", "")
        .replace("  - drop: {messages: [m3]}\n", "")
        .replace("  - drop: {messages: [m4]}\n", "")
        .replace("  - drop: {messages: [m5]}\n", "");
    let sc = doormat_formats::Vector::parse("trips.yaml", "trips", &delivered).unwrap();
    let r = judge_pair(doormat_designs::builtin("ratchet").unwrap().as_ref(), &sc, &Parameters::default());
    assert_eq!(r.judgement(PostCompromise).unwrap().verdict, Verdict::Pass, "{:?}", r.judgement(PostCompromise));
    let r = judge_pair(doormat_designs::builtin("backup-escrow").unwrap().as_ref(), &sc, &Parameters::default());
    assert_eq!(r.judgement(PostCompromise).unwrap().verdict, Verdict::Fail);
}

fn main() {
    let args = Arguments::from_args();
    let mut all: Vec<Trial> = doormat_designs::names()
        .into_iter()
        .map(|name| {
            Trial::test(format!("expected_verdicts::{}", name.replace('-', "_")), move || {
                gets_the_expected_verdicts(name);
                Ok(())
            })
        })
        .collect();
    let others: [(&str, fn()); 7] = [
        ("round_trips_are_counted_by_messages_opened", round_trips_are_counted_by_messages_opened),
        ("a_dropped_first_message_does_not_excuse_the_next", a_dropped_first_message_does_not_excuse_the_next),
        ("ratchet_fails_only_within_its_stated_limits", ratchet_fails_only_within_its_stated_limits),
        ("findings_name_the_right_parties", findings_name_the_right_parties),
        (
            "a_seized_plaintext_device_exposes_everything_and_the_ratchet_heals",
            a_seized_plaintext_device_exposes_everything_and_the_ratchet_heals,
        ),
        ("a_hex_copy_of_the_text_is_caught_by_provider_blind", a_hex_copy_of_the_text_is_caught_by_provider_blind),
        (
            "a_hard_coded_key_is_caught_by_outsider_blind_and_recipients_only",
            a_hard_coded_key_is_caught_by_outsider_blind_and_recipients_only,
        ),
    ];
    for (name, test) in others {
        all.push(Trial::test(name, move || {
            test();
            Ok(())
        }));
    }
    libtest_mimic::run(&args, all).exit();
}
