//! The known-answer side of the exec adapter against small scripted
//! implementations: what `hello` offers decides `Design::primitives`, the
//! handshake is checked strictly, calls are forwarded as the protocol says,
//! and a misbehaving process breaks for good (no later request, no pass).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use doormat_engine::{AeadAlg, Design, ImplError};
use doormat_exec::{Command, ExecDesign, Limits};
use std::time::Duration;

/// A scripted implementation. `HELLO` is the JSON of `hello`'s extra
/// fields; a second process (the known-answer one) says `HELLO2` if given.
/// Every request is logged to `LOG`, one op per line. It answers:
/// `kat_x25519` with the private key reversed; `kat_ed25519_verify` per
/// `VERIFY` (a JSON value put in `valid`); `kat_protocol` with each input
/// under `out_` + its name; `kat_hkdf_sha256` with garbage; anything else
/// `failed`.
const SCRIPT: &str = r#"
import json, os, sys
hello_extra = json.loads(os.environ["HELLO"])
state = os.environ["LOG"]
second = os.path.exists(state) and "hello" in open(state).read()
if second and "HELLO2" in os.environ:
    hello_extra = json.loads(os.environ["HELLO2"])
log = open(state, "a")
for line in sys.stdin:
    req = json.loads(line)
    op = req["op"]
    log.write(op + "\n"); log.flush()
    if op == "hello":
        ok = {"protocol": 1, "name": "scripted", "version": "0", "capabilities": {"export_state": False},
              "authorities": [], **hello_extra}
    elif op == "kat_x25519":
        import base64
        ok = {"shared": base64.b64encode(base64.b64decode(req["private"])[::-1]).decode()}
    elif op == "kat_ed25519_verify":
        ok = {"valid": json.loads(os.environ.get("VERIFY", "true"))}
    elif op == "kat_protocol":
        ok = {"outputs": {"out_" + k: v for k, v in req["inputs"].items()}}
    elif op == "kat_hkdf_sha256":
        sys.stdout.write("not json\n"); sys.stdout.flush(); continue
    else:
        print(json.dumps({"id": req["id"], "error": {"kind": "failed", "message": "no " + op}}), flush=True)
        continue
    print(json.dumps({"id": req["id"], "ok": ok}), flush=True)
"#;

struct Scripted {
    design: ExecDesign,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Scripted {
    fn ops(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

fn scripted(hello: &str, env: &[(&str, &str)]) -> Scripted {
    let ok = std::process::Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "python3 is required by the exec adapter's tests; install it");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    // `env` is applied through a wrapper, since `Command` has no environment.
    let mut args = vec!["HELLO=".to_owned() + hello, format!("LOG={}", log.display())];
    args.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    args.extend(["python3".to_owned(), "-c".to_owned(), SCRIPT.to_owned()]);
    let command = Command { program: "env".to_owned(), args, cwd: None };
    let limits = Limits { timeout: Duration::from_secs(5), ..Limits::default() };
    Scripted { design: ExecDesign::new("scripted", command, limits), log, _dir: dir }
}

#[test]
fn an_implementation_that_offers_nothing_has_no_primitives() {
    let s = scripted("{}", &[]);
    assert!(s.design.probe().is_ok());
    assert!(s.design.primitives().is_none());
    let empty = scripted(r#"{"primitives": []}"#, &[]);
    assert!(empty.design.primitives().is_none());
}

#[test]
fn hello_is_checked_strictly() {
    for (hello, why) in [
        (r#"{"primitives": ["x25519", "x25519"]}"#, "lists the primitive `x25519` twice"),
        (r#"{"primitives": ["x448"]}"#, "unknown variant `x448`"),
        (r#"{"primitives": "x25519"}"#, "malformed `ok`"),
        (r#"{"kat_protocol": " "}"#, "empty `kat_protocol`"),
        (r#"{"primitive": ["x25519"]}"#, "unknown field `primitive`"),
    ] {
        let s = scripted(hello, &[]);
        let err = s.design.probe().expect_err(hello);
        assert!(err.contains(why), "{hello}: {why:?} not in {err}");
        assert!(s.design.primitives().is_none(), "{hello}");
    }
}

#[test]
fn offered_primitives_are_forwarded_and_the_others_are_not_asked() {
    let s = scripted(r#"{"primitives": ["x25519", "ed25519"], "kat_protocol": "scripted-v1"}"#, &[]);
    let p = s.design.primitives().expect("x25519 and ed25519 are offered");
    assert_eq!(s.ops(), ["hello"], "the handshake only; the known-answer process starts on the first call");
    assert_eq!(p.x25519(&[1, 2, 3], &[9]).unwrap(), [3, 2, 1]);
    assert!(p.ed25519_verify(&[], &[], &[]).unwrap());
    for e in [
        p.hmac_sha256(b"k", b"m").unwrap_err(),
        p.aead_open(AeadAlg::ChaCha20Poly1305, &[], &[], &[], &[]).unwrap_err(),
        p.aead_seal(AeadAlg::Aes256Gcm, &[], &[], &[], &[]).unwrap_err(),
    ] {
        assert!(matches!(e, ImplError::Unsupported(_)), "{e}");
    }
    assert_eq!(p.protocol().as_deref(), Some("scripted-v1"));
    let out = p.protocol_function("f", &[("rk".to_owned(), vec![7])].into()).unwrap();
    assert_eq!(out, [("out_rk".to_owned(), vec![7])].into());
    assert_eq!(p.broken(), None);
    assert_eq!(
        s.ops(),
        ["hello", "hello", "kat_x25519", "kat_ed25519_verify", "kat_protocol"],
        "unoffered primitives are not asked"
    );
    drop(p);
}

#[test]
fn a_misbehaving_process_breaks_for_good() {
    let s = scripted(r#"{"primitives": ["x25519", "hkdf-sha256"]}"#, &[]);
    let p = s.design.primitives().unwrap();
    assert!(p.x25519(&[1], &[2]).is_ok());
    let e = p.hkdf_sha256(b"", b"", b"", 8).unwrap_err();
    assert!(matches!(e, ImplError::Failed(_)), "{e}");
    let why = p.broken().expect("garbage breaks the process");
    assert!(
        why.contains("`scripted`")
            && why.contains("broke during the known-answer tests")
            && why.contains("(`kat_hkdf_sha256`)")
            && why.contains("is not a valid response object"),
        "{why}"
    );
    let later = p.x25519(&[1], &[2]).unwrap_err();
    assert!(matches!(later, ImplError::Failed(_)), "{later}");
    assert_eq!(s.ops().iter().filter(|o| *o == "kat_x25519").count(), 1, "no request after the break");
    assert!(s.design.broken().is_none(), "the scenario runs are not affected");
}

#[test]
fn answers_are_checked_strictly() {
    for (verify, why) in [(r#""yes""#, "malformed `ok`"), ("null", "malformed `ok`")] {
        let s = scripted(r#"{"primitives": ["ed25519"]}"#, &[("VERIFY", verify)]);
        let p = s.design.primitives().unwrap();
        assert!(p.ed25519_verify(&[], &[], &[]).is_err());
        let b = p.broken().unwrap_or_default();
        assert!(b.contains(why), "{verify}: {b}");
    }
}

#[test]
fn a_hello_that_changes_breaks_the_known_answer_process() {
    let s = scripted(r#"{"primitives": ["x25519"]}"#, &[("HELLO2", r#"{"primitives": ["x25519", "ed25519"]}"#)]);
    let p = s.design.primitives().unwrap();
    assert!(p.x25519(&[1], &[2]).is_err());
    let b = p.broken().unwrap_or_default();
    assert!(b.contains("changed since the first handshake"), "{b}");
    assert_eq!(s.ops(), ["hello", "hello"]);
}
