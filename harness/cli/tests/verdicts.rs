//! The verdict table: every built-in design meets every shipped vector, in a
//! loop, with the oracles told nothing about designs, and the table of
//! verdicts must equal the expected one. Two leaky wrappers around the
//! honest design check that the oracles catch leaks they were never told of.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use doormat_engine::{
    Bundle, Capabilities, Design, Device, EncryptRequest, ImplError, InEnvelope, OutEnvelope, Received, Seed, Sent,
};
use doormat_formats::{DeviceAddr, Property, Scenario, Vector};
use doormat_oracles::{judge, VectorResult, Verdict};
use std::path::{Path, PathBuf};

fn vectors() -> Vec<Scenario> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p: PathBuf = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .iter()
        .map(|p| {
            let src = std::fs::read_to_string(p).unwrap();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            Vector::parse(&p.display().to_string(), &stem, &src).unwrap()
        })
        .collect()
}

fn audit(design: &dyn Design) -> Vec<VectorResult> {
    vectors().iter().map(|sc| judge(&doormat_engine::run(design, sc))).collect()
}

/// The overall verdict per property: FAIL if any vector fails, else PASS if
/// any passes, else NOT TESTED; ERROR if any run broke.
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

#[test]
fn every_builtin_design_gets_the_expected_verdicts() {
    let cases: &[(&str, Vec<(Property, Verdict)>)] = &[
        ("plaintext-relay", expected(&[ProviderBlind, RecipientsOnly, OutsiderBlind], &[Delivers])),
        ("ratchet", expected(&[], &[ProviderBlind, RecipientsOnly, OutsiderBlind, Delivers])),
    ];
    assert_eq!(cases.len(), doormat_designs::BUILTIN.len(), "every built-in design has an expected row");
    for (name, want) in cases {
        let design = doormat_designs::builtin(name).unwrap();
        let results = audit(design.as_ref());
        assert_eq!(&table(&results), want, "verdict table of {name}");
        for r in &results {
            assert!(r.error.is_none(), "{name} broke on {}: {:?}", r.vector, r.error);
        }
    }
}

#[test]
fn findings_name_the_right_parties() {
    let relay = doormat_designs::builtin("plaintext-relay").unwrap();
    let results = audit(relay.as_ref());
    let by_vector = |v: &str| results.iter().find(|r| r.vector == v).unwrap();
    let removed = by_vector("member-removed").judgement(RecipientsOnly).unwrap();
    assert_eq!(removed.findings.len(), 1, "{removed:?}");
    let f = &removed.findings[0];
    assert!(
        f.sentence.starts_with("carol/phone read 3 messages") && f.sentence.contains("removed from group team"),
        "{}",
        f.sentence
    );
    let msgs: Vec<&str> = f.evidence.iter().filter_map(|e| e.message.as_deref()).collect();
    assert_eq!(msgs, ["m3", "m4", "m5"]);
    let linked = by_vector("link-mid-conversation").judgement(RecipientsOnly).unwrap();
    assert!(linked.findings[0].sentence.starts_with("bob/laptop read 2 messages"), "{}", linked.findings[0].sentence);
    // Everything the honest design sends passes the vectors' own expectations.
    let ratchet = doormat_designs::builtin("ratchet").unwrap();
    for r in audit(ratchet.as_ref()) {
        for e in &r.expectations {
            assert!(e.held, "ratchet, {}: {} — {:?}", r.vector, e.expected, e.observed);
        }
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
    fn fork(&self) -> Box<dyn Device> {
        Box::new(LeakyDevice(self.0.fork(), self.1))
    }
}

#[test]
fn a_hex_copy_of_the_text_is_caught_by_provider_blind() {
    let design = Leaky(doormat_designs::builtin("ratchet").unwrap(), Leak::HexCopy);
    let results = audit(&design);
    assert_eq!(table(&results), expected(&[ProviderBlind], &[RecipientsOnly, OutsiderBlind, Delivers]));
    let f = &results[0].judgement(ProviderBlind).unwrap().findings[0];
    assert_eq!(f.evidence[0].encoding.as_deref(), Some("hex-upper"), "{f:?}");
}

#[test]
fn a_hard_coded_key_is_caught_by_outsider_blind_and_recipients_only() {
    let design = Leaky(doormat_designs::builtin("ratchet").unwrap(), Leak::FixedKey);
    let results = audit(&design);
    assert_eq!(table(&results), expected(&[RecipientsOnly, OutsiderBlind], &[ProviderBlind, Delivers]));
}
