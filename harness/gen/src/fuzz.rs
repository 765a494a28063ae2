//! Entry points of the fuzz targets (`fuzz/fuzz_targets/*.rs` call these),
//! also replayed as ordinary tests over the committed corpora and crash
//! inputs. Each takes arbitrary bytes and must not panic.

use crate::GenScenario;
use arbitrary::{Arbitrary, Unstructured};
use doormat_engine::{DirectoryEntry, EncryptRequest, InEnvelope};
use doormat_formats::wire::{
    DecryptOk, EncryptOk, HelloOk, MacOk, OkmOk, OpenOk, OutputsOk, PublishOk, Request, Response, SealOk, SharedOk,
    ValidOk,
};
use doormat_formats::{DeviceAddr, Parameters, Spec, UserId, Vector};

/// Parses bytes as a spec file.
pub fn spec(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Spec::parse("fuzz.yaml", "fuzz", text);
    }
}

/// Parses bytes as a vector file (and checks it).
pub fn vector(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Vector::parse("fuzz.yaml", "fuzz", text);
    }
}

/// Decodes bytes as exec-protocol lines, both directions.
pub fn wire(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let _ = serde_json::from_slice::<Request>(line);
        if let Ok(r) = serde_json::from_slice::<Response>(line) {
            if let Some(ok) = r.ok {
                let _ = serde_json::from_value::<HelloOk>(ok.clone());
                let _ = serde_json::from_value::<PublishOk>(ok.clone());
                let _ = serde_json::from_value::<EncryptOk>(ok.clone());
                let _ = serde_json::from_value::<SharedOk>(ok.clone());
                let _ = serde_json::from_value::<ValidOk>(ok.clone());
                let _ = serde_json::from_value::<SealOk>(ok.clone());
                let _ = serde_json::from_value::<OpenOk>(ok.clone());
                let _ = serde_json::from_value::<OkmOk>(ok.clone());
                let _ = serde_json::from_value::<MacOk>(ok.clone());
                let _ = serde_json::from_value::<OutputsOk>(ok.clone());
                let _ = serde_json::from_value::<DecryptOk>(ok);
            }
        }
    }
}

/// Hands bytes to a built-in design's `decrypt` (the first byte picks the
/// design), on a device that already has a session with the sender.
pub fn decrypt(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else { return };
    let names = doormat_designs::names();
    let name = names[usize::from(pick) % names.len()];
    let Some(design) = doormat_designs::builtin(name) else { return };
    let (a, b) = (DeviceAddr::new("alice", "phone"), DeviceAddr::new("bob", "phone"));
    let (Ok(mut alice), Ok(mut bob)) = (design.create_device(&a, [1; 32]), design.create_device(&b, [2; 32])) else {
        return;
    };
    for role in design.authorities() {
        if let Ok(auth) = design.create_authority(&role, [3; 32]) {
            let _ = alice.provider_push(&role, &auth.public());
            let _ = bob.provider_push(&role, &auth.public());
        }
    }
    let (Ok(_), Ok(bb)) = (alice.publish(), bob.publish()) else { return };
    let to_bob = [DirectoryEntry::first_contact(b.clone(), &bb)];
    let members = [UserId::from("alice"), UserId::from("bob")];
    let req = EncryptRequest {
        conversation: "alice+bob",
        group: false,
        members: &members,
        recipients: &to_bob,
        plaintext: b"hello",
    };
    if let Ok(sent) = alice.encrypt(&req) {
        for e in sent.envelopes.iter().filter(|e| e.to.contains(&b)) {
            let _ = bob.decrypt(&InEnvelope { from: &a, conversation: "alice+bob", body: &e.body });
        }
    }
    let _ = bob.decrypt(&InEnvelope { from: &a, conversation: "alice+bob", body });
    if let Ok(mut fork) = bob.fork() {
        let _ = fork.decrypt(&InEnvelope { from: &a, conversation: "alice+bob", body });
    }
}

/// Turns bytes into a scenario and runs it against a built-in design (the
/// first byte picks it) with every oracle and every renderer.
pub fn scenario(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(g) = GenScenario::arbitrary(&mut Unstructured::new(rest)) else { return };
    let Ok((sc, _)) = g.scenario() else { return };
    let names = doormat_designs::names();
    let Some(design) = doormat_designs::builtin(names[usize::from(pick) % names.len()]) else { return };
    let result = doormat_audit::judge_pair(design.as_ref(), &sc, &Parameters::default());
    let _ = doormat_report::mermaid::sequence(&result.timeline);
    let _ = doormat_report::svg::sequence(&result.timeline);
    let _ = serde_json::to_string(&result);
}
