//! What the exec adapter makes of a device's answers that the protocol does
//! not define, against a small scripted implementation: never a guess, but
//! a broken run whose reason names what was wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use doormat_engine::{Design, DirectoryEntry, EncryptRequest, ImplError};
use doormat_exec::{Command, ExecDesign, Limits};
use doormat_formats::{DeviceAddr, UserId};
use std::time::Duration;

/// A scripted implementation whose `encrypt` answers one envelope and the
/// event `EVENT` (JSON); anything else after `hello` gets a device or `{}`.
const SCRIPT: &str = r#"
import json, os, sys
event = json.loads(os.environ["EVENT"])
for line in sys.stdin:
    req = json.loads(line)
    op = req["op"]
    if op == "hello":
        ok = {"protocol": 1, "name": "scripted", "version": "0", "capabilities": {"export_state": False},
              "authorities": []}
    elif op == "create_device":
        ok = {"device": 1}
    elif op == "encrypt":
        ok = {"envelopes": [{"to": ["bob/phone"], "body": "AA=="}], "events": [event]}
    else:
        ok = {}
    print(json.dumps({"id": req["id"], "ok": ok}), flush=True)
"#;

/// The error of an `encrypt` whose answer carries `event`, and why the run
/// broke.
fn encrypt_with_event(event: &str) -> (ImplError, Option<String>) {
    let ok = std::process::Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "python3 is required by the exec adapter's tests; install it");
    let args = ["EVENT=".to_owned() + event, "python3".to_owned(), "-c".to_owned(), SCRIPT.to_owned()];
    let command = Command { program: "env".to_owned(), args: args.to_vec(), cwd: None };
    let limits = Limits { timeout: Duration::from_secs(5), ..Limits::default() };
    let design = ExecDesign::new("scripted", command, limits);
    design.begin_run().unwrap();
    let mut alice = design.create_device(&DeviceAddr::new("alice", "phone"), [1; 32]).unwrap();
    let bob = DirectoryEntry {
        device: DeviceAddr::new("bob", "phone"),
        identity: vec![1],
        prekey: Vec::new(),
        one_time: None,
        proof: None,
    };
    let members = [UserId::from("alice"), UserId::from("bob")];
    let req = EncryptRequest {
        conversation: "alice+bob",
        group: false,
        members: &members,
        recipients: std::slice::from_ref(&bob),
        plaintext: b"hi",
    };
    let err = alice.encrypt(&req).expect_err("an answer the protocol does not define");
    let broken = design.broken();
    drop(alice);
    design.end_run();
    (err, broken)
}

#[test]
fn an_unknown_event_kind_breaks_the_run_naming_the_kind() {
    let (err, broken) = encrypt_with_event(r#"{"kind": "device-lost", "user": "bob", "device": "bob/phone"}"#);
    assert!(matches!(&err, ImplError::Failed(m) if m.contains("unknown event kind `device-lost`")), "{err:?}");
    let broken = broken.expect("the run is broken");
    assert!(broken.contains("unknown event kind `device-lost`: expected one of identity-changed"), "{broken}");
}

#[test]
fn a_known_event_kind_with_a_bad_device_address_breaks_the_run_naming_it() {
    let (_, broken) = encrypt_with_event(r#"{"kind": "device-added", "user": "bob", "device": "bob:phone"}"#);
    let broken = broken.expect("the run is broken");
    assert!(broken.contains("`bob:phone` is not a device address"), "{broken}");
}
