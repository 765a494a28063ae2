//! Protocol known answers of the `ratchet` design
//! (`vectors/kat/ratchet-protocol.yaml`, protocol `doormat-ratchet-v1`).
//!
//! The file is written from fixed inputs by [`build`], through the design's
//! own protocol functions; the test fails when the committed file and the
//! design disagree (set `DOORMAT_UPDATE_KAT=1` to rewrite the file on
//! purpose, then read the diff). Where the protocol has two sides they are
//! checked against each other while building (the responder's X3DH secret
//! is the initiator's), and broken variants of the protocol must fail it.
#![allow(clippy::unwrap_used)]

use doormat_engine::{AeadAlg, ImplError, Primitives, ProtocolBytes};
use doormat_formats::kat::KatFile;
use doormat_oracles::kat::{run, KatSummary};
use ed25519_dalek::{Signer, SigningKey};
use std::fmt::Write as _;
use std::path::PathBuf;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors/kat/ratchet-protocol.yaml")
}

fn ratchet() -> Box<dyn Primitives> {
    doormat_designs::builtin("ratchet").unwrap().primitives().unwrap()
}

/// `n` bytes counting up from `start`.
fn count(start: u8, n: u8) -> Vec<u8> {
    (0..n).map(|i| start.wrapping_add(i)).collect()
}

fn inputs(pairs: &[(&str, &[u8])]) -> ProtocolBytes {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())).collect()
}

/// Hex, quoted, folded every 64 digits onto lines indented by `indent`.
fn hex(b: &[u8], indent: usize) -> String {
    let h = hex::encode(b);
    let lines: Vec<&str> = h.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("\"{}\"", lines.join(&format!("\n{}", " ".repeat(indent))))
}

/// The YAML of the file, group by group.
struct Writer {
    out: String,
    next_id: u64,
}

/// One case to write.
struct Case<'a> {
    comment: &'a str,
    flags: &'a [&'a str],
    inputs: ProtocolBytes,
    /// The outputs of a valid case, or `None` for an invalid one.
    outputs: Option<&'a ProtocolBytes>,
}

impl Writer {
    fn group(&mut self, function: &str, cases: &[Case<'_>]) {
        writeln!(self.out, "  - function: {function}\n    tests:").unwrap();
        for c in cases {
            let id = self.next_id;
            self.next_id += 1;
            writeln!(self.out, "      - tcId: {id}\n        comment: \"{}\"", c.comment).unwrap();
            writeln!(self.out, "        flags: [{}]", c.flags.join(", ")).unwrap();
            for (what, map) in [("inputs", Some(&c.inputs)), ("outputs", c.outputs)] {
                let Some(map) = map else { continue };
                writeln!(self.out, "        {what}:").unwrap();
                for (k, v) in map {
                    let indent = 10 + k.len() + 3;
                    writeln!(self.out, "          {k}: {}", hex(v, indent)).unwrap();
                }
            }
            let result = if c.outputs.is_some() { "valid" } else { "invalid" };
            writeln!(self.out, "        result: {result}").unwrap();
        }
    }
}

const HEADER: &str = "\
# Protocol known answers of the `ratchet` design (doormat-ratchet-v1).
# Every function, its inputs and outputs: vectors/README.md, \"Protocol
# known answers\". Written from fixed inputs by
# harness/oracles/tests/ratchet_protocol.rs; do not edit by hand.
algorithm: PROTOCOL
protocol: doormat-ratchet-v1
header:
  - Fixed-input known answers of the doormat ratchet, version 1, for
    checking a re-implementation byte for byte.
notes:
  Ktv: {bugType: BASIC, description: Known answer from fixed inputs.}
  OneTimePrekey: {bugType: FUNCTIONALITY, description: X3DH with the served one-time prekey (four DH outputs).}
  NoOneTimePrekey: {bugType: FUNCTIONALITY, description: X3DH without a one-time prekey (three DH outputs).}
  Chained: {bugType: FUNCTIONALITY, description: The inputs are outputs of the previous case.}
  BadSignature: {bugType: AUTH_BYPASS, description: The signed prekey's signature does not verify under the identity served with it.}
  LowOrderPublic: {bugType: CONFIDENTIALITY, description: A low-order X25519 public key; the DH output would be all zero.}
  ModifiedCiphertext: {bugType: AUTH_BYPASS, description: The ciphertext or its tag was modified.}
  ModifiedAd: {bugType: AUTH_BYPASS, description: The associated data differs from what was sealed.}
  WrongKey: {bugType: AUTH_BYPASS, description: Opened with another message key.}
  EndToEnd: {bugType: FUNCTIONALITY, description: Whole envelopes between two devices made from seeds.}
testGroups:
";

/// The file's text, computed by `p`'s protocol functions from fixed inputs:
/// each group of cases from the outputs of the groups before it.
fn build(p: &dyn Primitives) -> String {
    let mut w = Writer { out: HEADER.to_owned(), next_id: 1 };
    let (alice_seed, bob_seed) = (count(0x00, 32), count(0x20, 32));
    let secret = x3dh(&mut w, p, &alice_seed, &bob_seed);
    let steps = kdfs(&mut w, p, &secret);
    messages(&mut w, p, &steps);
    conversation(&mut w, p, &alice_seed, &bob_seed);
    w.out
}

fn call(p: &dyn Primitives, function: &str, inputs: &ProtocolBytes) -> ProtocolBytes {
    p.protocol_function(function, inputs).unwrap()
}

/// `device-keys`, `x3dh-initiator` and the responder's side of the same
/// exchanges; the secret of the exchange with a one-time prekey.
fn x3dh(w: &mut Writer, p: &dyn Primitives, alice_seed: &[u8], bob_seed: &[u8]) -> Vec<u8> {
    let ephemeral = count(0x40, 32);
    let alice = call(p, "device-keys", &inputs(&[("seed", alice_seed)]));
    let bob = call(p, "device-keys", &inputs(&[("seed", bob_seed)]));
    w.group(
        "device-keys",
        &[
            Case {
                comment: "Alice's device, seed 00..1f",
                flags: &["Ktv"],
                inputs: inputs(&[("seed", alice_seed)]),
                outputs: Some(&alice),
            },
            Case {
                comment: "Bob's device, seed 20..3f",
                flags: &["Ktv"],
                inputs: inputs(&[("seed", bob_seed)]),
                outputs: Some(&bob),
            },
        ],
    );

    // x3dh-initiator, and the responder's side of the same exchanges
    let init = |one_time: bool, prekey: &[u8], identity: &[u8]| {
        let mut i = inputs(&[
            ("identity_key", &alice["identity_key"]),
            ("ephemeral", &ephemeral),
            ("peer_identity", identity),
            ("peer_prekey", prekey),
        ]);
        if one_time {
            i.insert("peer_one_time".to_owned(), bob["one_time"].clone());
        }
        i
    };
    let with_otk = call(p, "x3dh-initiator", &init(true, &bob["prekey"], &bob["identity"]));
    let without = call(p, "x3dh-initiator", &init(false, &bob["prekey"], &bob["identity"]));
    let mut bad_sig = bob["prekey"].clone();
    *bad_sig.last_mut().unwrap() ^= 1;
    let zero = [0u8; 32];
    let signed_zero = {
        let label = b"doormat ratchet v1 signed prekey";
        let sk = SigningKey::from_bytes(&bob["signing_key"].as_slice().try_into().unwrap());
        [zero.as_slice(), &sk.sign(&[label.as_slice(), &zero].concat()).to_bytes()].concat()
    };
    let mut zero_otk = init(true, &bob["prekey"], &bob["identity"]);
    zero_otk.insert("peer_one_time".to_owned(), [&bob["one_time"][..4], &zero].concat());
    w.group(
        "x3dh-initiator",
        &[
            Case {
                comment: "Alice starts a session with Bob's served entry and one-time prekey 1, ephemeral 40..5f",
                flags: &["Ktv", "OneTimePrekey"],
                inputs: init(true, &bob["prekey"], &bob["identity"]),
                outputs: Some(&with_otk),
            },
            Case {
                comment: "the same without a one-time prekey",
                flags: &["Ktv", "NoOneTimePrekey"],
                inputs: init(false, &bob["prekey"], &bob["identity"]),
                outputs: Some(&without),
            },
            Case {
                comment: "the signed prekey's signature with its last bit flipped",
                flags: &["BadSignature"],
                inputs: init(true, &bad_sig, &bob["identity"]),
                outputs: None,
            },
            Case {
                comment: "Bob's signed prekey served with Alice's identity",
                flags: &["BadSignature"],
                inputs: init(true, &bob["prekey"], &alice["identity"]),
                outputs: None,
            },
            Case {
                comment: "an all-zero signed prekey, validly signed by Bob",
                flags: &["LowOrderPublic"],
                inputs: init(true, &signed_zero, &bob["identity"]),
                outputs: None,
            },
            Case {
                comment: "an all-zero one-time prekey",
                flags: &["LowOrderPublic"],
                inputs: zero_otk,
                outputs: None,
            },
        ],
    );
    let resp = |one_time: bool, base_key: &[u8]| {
        let mut i = inputs(&[
            ("identity_key", &bob["identity_key"]),
            ("signed_prekey", &bob["signed_prekey"]),
            ("peer_identity", &alice["identity"]),
            ("base_key", base_key),
        ]);
        if one_time {
            i.insert("one_time".to_owned(), bob["one_time_key"].clone());
        }
        i
    };
    let r1 = call(p, "x3dh-responder", &resp(true, &with_otk["base_key"]));
    let r2 = call(p, "x3dh-responder", &resp(false, &without["base_key"]));
    assert_eq!(r1["secret"], with_otk["secret"], "the responder must derive the initiator's secret");
    assert_eq!(r2["secret"], without["secret"], "the responder must derive the initiator's secret");
    w.group(
        "x3dh-responder",
        &[
            Case {
                comment: "Bob answers tcId 3: the same secret",
                flags: &["Ktv", "OneTimePrekey"],
                inputs: resp(true, &with_otk["base_key"]),
                outputs: Some(&r1),
            },
            Case {
                comment: "Bob answers tcId 4: the same secret",
                flags: &["Ktv", "NoOneTimePrekey"],
                inputs: resp(false, &without["base_key"]),
                outputs: Some(&r2),
            },
            Case {
                comment: "an all-zero base key",
                flags: &["LowOrderPublic"],
                inputs: resp(true, &zero),
                outputs: None,
            },
        ],
    );
    with_otk["secret"].clone()
}

/// `kdf-root` (three steps from the X3DH `secret`) and `kdf-chain` (three
/// steps from the first chain key); the `kdf-chain` cases.
fn kdfs(w: &mut Writer, p: &dyn Primitives, secret: &[u8]) -> Vec<(ProtocolBytes, ProtocolBytes)> {
    let mut root = secret.to_vec();
    let mut cases = Vec::new();
    let mut roots = Vec::new();
    for step in 0..3u8 {
        let i = inputs(&[("root", &root), ("dh", &count(0x60 + step * 0x20, 32))]);
        let o = call(p, "kdf-root", &i);
        root = o["root"].clone();
        roots.push((i, o));
    }
    for (n, (i, o)) in roots.iter().enumerate() {
        let flags: &[&str] = if n == 0 { &["Ktv"] } else { &["Ktv", "Chained"] };
        let comment = if n == 0 { "from tcId 3's secret" } else { "from the previous root key" };
        cases.push(Case { comment, flags, inputs: i.clone(), outputs: Some(o) });
    }
    w.group("kdf-root", &cases);

    // kdf-chain: three steps from the first chain key
    let mut chain = roots[0].1["chain"].clone();
    let mut steps = Vec::new();
    for _ in 0..3 {
        let i = inputs(&[("chain", &chain)]);
        let o = call(p, "kdf-chain", &i);
        chain = o["chain"].clone();
        steps.push((i, o));
    }
    let cases: Vec<Case<'_>> = steps
        .iter()
        .enumerate()
        .map(|(n, (i, o))| Case {
            comment: if n == 0 {
                "from the chain key of the first kdf-root case"
            } else {
                "from the previous chain key"
            },
            flags: if n == 0 { &["Ktv"] } else { &["Ktv", "Chained"] },
            inputs: i.clone(),
            outputs: Some(o),
        })
        .collect();
    w.group("kdf-chain", &cases);
    steps
}

/// `message-key`, `seal` and `open`, from the message keys of the
/// `kdf-chain` cases `steps`.
fn messages(w: &mut Writer, p: &dyn Primitives, steps: &[(ProtocolBytes, ProtocolBytes)]) {
    let keys: Vec<(ProtocolBytes, ProtocolBytes)> = steps
        .iter()
        .map(|(_, o)| {
            let i = inputs(&[("message_key", &o["message_key"])]);
            let out = call(p, "message-key", &i);
            (i, out)
        })
        .collect();
    let cases: Vec<Case<'_>> = keys
        .iter()
        .map(|(i, o)| Case {
            comment: "a message key of the kdf-chain cases",
            flags: &["Ktv", "Chained"],
            inputs: i.clone(),
            outputs: Some(o),
        })
        .collect();
    w.group("message-key", &cases);
    let (mk, mk2) = (&steps[0].1["message_key"], &steps[1].1["message_key"]);
    let (ad, plaintext) = (b"doormat ratchet v1 known answer".as_slice(), b"hello bob".as_slice());
    let seal_in = inputs(&[("message_key", mk), ("ad", ad), ("plaintext", plaintext)]);
    let sealed = call(p, "seal", &seal_in);
    let empty_in = inputs(&[("message_key", mk2), ("ad", b""), ("plaintext", b"")]);
    let sealed_empty = call(p, "seal", &empty_in);
    w.group(
        "seal",
        &[
            Case {
                comment: "the first message key of the kdf-chain cases",
                flags: &["Ktv", "Chained"],
                inputs: seal_in,
                outputs: Some(&sealed),
            },
            Case {
                comment: "empty associated data and plaintext, the second message key",
                flags: &["Ktv", "Chained"],
                inputs: empty_in,
                outputs: Some(&sealed_empty),
            },
        ],
    );
    let ct = &sealed["ciphertext"];
    let open_in = |key: &[u8], ad: &[u8], ct: &[u8]| inputs(&[("message_key", key), ("ad", ad), ("ciphertext", ct)]);
    let opened = call(p, "open", &open_in(mk, ad, ct));
    let mut flipped_tag = ct.clone();
    *flipped_tag.last_mut().unwrap() ^= 0x80;
    let mut flipped_body = ct.clone();
    flipped_body[0] ^= 1;
    w.group(
        "open",
        &[
            Case {
                comment: "the first seal case, opened",
                flags: &["Ktv", "Chained"],
                inputs: open_in(mk, ad, ct),
                outputs: Some(&opened),
            },
            Case {
                comment: "the tag's last bit flipped",
                flags: &["ModifiedCiphertext"],
                inputs: open_in(mk, ad, &flipped_tag),
                outputs: None,
            },
            Case {
                comment: "the ciphertext's first bit flipped",
                flags: &["ModifiedCiphertext"],
                inputs: open_in(mk, ad, &flipped_body),
                outputs: None,
            },
            Case {
                comment: "other associated data",
                flags: &["ModifiedAd"],
                inputs: open_in(mk, b"doormat ratchet v1 known answer!", ct),
                outputs: None,
            },
            Case {
                comment: "the second message key",
                flags: &["WrongKey"],
                inputs: open_in(mk2, ad, ct),
                outputs: None,
            },
            Case {
                comment: "only the tag",
                flags: &["ModifiedCiphertext"],
                inputs: open_in(mk, ad, &ct[ct.len() - 16..]),
                outputs: None,
            },
        ],
    );
}

/// `conversation`: whole envelopes between two devices made from seeds.
fn conversation(w: &mut Writer, p: &dyn Primitives, alice_seed: &[u8], bob_seed: &[u8]) {
    let conv_in = inputs(&[
        ("alice_seed", alice_seed),
        ("bob_seed", bob_seed),
        ("m1", b"hello bob"),
        ("m2", b"hello alice"),
        ("m3", b"how are you?"),
    ]);
    let conv = call(p, "conversation", &conv_in);
    w.group(
        "conversation",
        &[Case {
            comment: "Alice (seed 00..1f) and Bob (seed 20..3f), three messages",
            flags: &["Ktv", "EndToEnd"],
            inputs: conv_in,
            outputs: Some(&conv),
        }],
    );
}

fn committed() -> KatFile {
    let p = path();
    KatFile::parse(&p.display().to_string(), &std::fs::read_to_string(&p).unwrap()).unwrap()
}

#[test]
fn the_committed_file_is_what_the_ratchet_computes() {
    let text = build(ratchet().as_ref());
    if std::env::var_os("DOORMAT_UPDATE_KAT").is_some() {
        std::fs::write(path(), &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(path()).unwrap();
    assert!(
        on_disk == text,
        "vectors/kat/ratchet-protocol.yaml differs from what the ratchet computes; \
         if the protocol changed on purpose, rerun with DOORMAT_UPDATE_KAT=1 and read the diff"
    );
}

#[test]
fn the_ratchet_passes_every_case_and_other_designs_are_not_asked() {
    let file = committed();
    let s = run(ratchet().as_ref(), std::slice::from_ref(&file), &[]);
    assert!(s.ok(), "{:#?}", s.failures);
    assert_eq!(
        s.table(),
        "doormat-ratchet-v1 conversation valid 1/0/0/0\n\
         doormat-ratchet-v1 device-keys valid 2/0/0/0\n\
         doormat-ratchet-v1 kdf-chain valid 3/0/0/0\n\
         doormat-ratchet-v1 kdf-root valid 3/0/0/0\n\
         doormat-ratchet-v1 message-key valid 3/0/0/0\n\
         doormat-ratchet-v1 open valid 1/0/0/0\n\
         doormat-ratchet-v1 open invalid 5/0/0/0\n\
         doormat-ratchet-v1 seal valid 2/0/0/0\n\
         doormat-ratchet-v1 x3dh-initiator valid 2/0/0/0\n\
         doormat-ratchet-v1 x3dh-initiator invalid 4/0/0/0\n\
         doormat-ratchet-v1 x3dh-responder valid 2/0/0/0\n\
         doormat-ratchet-v1 x3dh-responder invalid 1/0/0/0\n"
    );
    // Designs built on the ratchet change the wire; they are not asked.
    for name in ["ghost", "escrow", "plaintext-relay"] {
        let p = doormat_designs::builtin(name).unwrap().primitives().unwrap();
        let s = run(p.as_ref(), std::slice::from_ref(&file), &[]);
        assert!(s.files.is_empty() && s.counts.is_empty(), "{name}: {}", s.table());
    }
}

/// The ratchet with one deliberate mistake.
#[derive(Debug)]
enum Broken {
    /// The chain step's two HMAC inputs swapped (0x01 for the next chain key).
    ChainSwapped,
    /// X3DH that ignores the signed prekey's signature.
    NoSignatureCheck,
    /// The root step's two outputs swapped.
    RootSwapped,
}

impl Primitives for Broken {
    fn aead_seal(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        ratchet().aead_seal(alg, key, nonce, aad, msg)
    }
    fn protocol(&self) -> Option<String> {
        ratchet().protocol()
    }
    fn protocol_function(&self, function: &str, inputs: &ProtocolBytes) -> Result<ProtocolBytes, ImplError> {
        let r = ratchet();
        match (self, function) {
            (Broken::ChainSwapped, "kdf-chain") => {
                let mut o = r.protocol_function(function, inputs)?;
                let (c, m) = (o["chain"].clone(), o["message_key"].clone());
                o.insert("chain".to_owned(), m);
                o.insert("message_key".to_owned(), c);
                Ok(o)
            }
            (Broken::RootSwapped, "kdf-root") => {
                let mut o = r.protocol_function(function, inputs)?;
                let (a, b) = (o["root"].clone(), o["chain"].clone());
                o.insert("root".to_owned(), b);
                o.insert("chain".to_owned(), a);
                Ok(o)
            }
            (Broken::NoSignatureCheck, "x3dh-initiator") => {
                // An initiator that ignores the signature computes what the
                // real one computes for a correctly signed entry: the test
                // knows Bob's, so it answers as if Bob's key were served so.
                let mut i = inputs.clone();
                let bob = r.protocol_function("device-keys", &self::inputs(&[("seed", &count(0x20, 32))]))?;
                if i["peer_prekey"][..32] == bob["prekey"][..32] {
                    i.insert("peer_prekey".to_owned(), bob["prekey"].clone());
                    i.insert("peer_identity".to_owned(), bob["identity"].clone());
                }
                r.protocol_function(function, &i)
            }
            _ => r.protocol_function(function, inputs),
        }
    }
}

fn failed(s: &KatSummary) -> Vec<(String, u64)> {
    s.failures.iter().map(|f| (f.algorithm.clone(), f.tc_id)).collect()
}

#[test]
fn broken_ratchets_fail_the_file() {
    let file = committed();
    let s = run(&Broken::ChainSwapped, std::slice::from_ref(&file), &[]);
    let f = failed(&s);
    assert!(f.iter().any(|(a, _)| a.ends_with("kdf-chain")), "{f:?}");
    assert!(s.failures.iter().all(|i| i.expected == "valid" && i.got.contains("`chain` is")), "{:#?}", s.failures);
    let s = run(&Broken::RootSwapped, std::slice::from_ref(&file), &[]);
    assert_eq!(failed(&s).iter().filter(|(a, _)| a.ends_with("kdf-root")).count(), 3, "{:#?}", s.failures);
    let s = run(&Broken::NoSignatureCheck, std::slice::from_ref(&file), &[]);
    let f = failed(&s);
    assert_eq!(f.len(), 2, "{:#?}", s.failures);
    assert!(s.failures.iter().all(|i| i.expected == "invalid" && i.flags == ["BadSignature"]), "{:#?}", s.failures);
}

/// An implementation of the protocol written from vectors/README.md alone,
/// in Python on `cryptography` (harness/adapters/reference/ratchet_v1.py),
/// agrees with the file byte for byte, and notices a changed answer. Its
/// environment is made by the project's own script.
#[test]
fn an_independent_implementation_agrees_byte_for_byte() {
    use std::process::Command;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let setup = Command::new("bash").arg("harness/adapters/setup.sh").current_dir(&root).output();
    let setup = setup.expect("bash is needed to run harness/adapters/setup.sh");
    assert!(setup.status.success(), "harness/adapters/setup.sh failed:\n{}", String::from_utf8_lossy(&setup.stderr));
    let python = root.join("harness/adapters/.venv/bin/python3");
    let check = |file: &std::path::Path| {
        Command::new(&python)
            .arg("harness/adapters/reference/ratchet_v1.py")
            .arg(file)
            .current_dir(&root)
            .output()
            .unwrap()
    };
    let out = check(&path());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("conversation: 1/1 agree") && stdout.contains("x3dh-initiator: 6/6 agree"), "{stdout}");
    // The last byte of the conversation's third body changed.
    let src = std::fs::read_to_string(path()).unwrap();
    let body3 = src.rfind("body3:").unwrap();
    let end = body3 + src[body3..].find("\"\n").unwrap();
    let mut changed = src.clone().into_bytes();
    changed[end - 1] = if changed[end - 1] == b'0' { b'1' } else { b'0' };
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("changed.yaml");
    std::fs::write(&f, changed).unwrap();
    let out = check(&f);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("DISAGREES: conversation tcId") && stdout.contains("['body3']"), "{stdout}");
}
