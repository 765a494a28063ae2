//! `doormat adapter-check 'exec:CMD'`: a short conformance sequence of the
//! exec protocol, printed operation by operation, so an implementer can
//! debug an adapter before a full audit.
//!
//! When `hello` offers primitives, each offered one is run against
//! doormat's own known-answer file for it (`vectors/kat/`, built into the
//! binary, so the check works from any folder) through the same judge as an
//! audit; an offered `kat_protocol` is asked for a function that does not
//! exist, which must be `unsupported`.

use crate::{exec_command, Failure, EXIT_FINDINGS, EXIT_OK};
use doormat_engine::{
    Bundle, Design, Device, DirectoryEntry, EncryptRequest, ImplError, InEnvelope, Sent, TargetContent,
};
use doormat_exec::{Command, ExecDesign, Limits, Probe};
use doormat_formats::wire::WirePrimitive;
use doormat_formats::{DeviceAddr, KatFile, UserId};

/// doormat's own known-answer file for each primitive, built in.
const KAT_FILES: [(WirePrimitive, &str, &str); 6] = [
    (WirePrimitive::X25519, "vectors/kat/x25519.yaml", include_str!("../../../vectors/kat/x25519.yaml")),
    (WirePrimitive::Ed25519, "vectors/kat/ed25519.yaml", include_str!("../../../vectors/kat/ed25519.yaml")),
    (
        WirePrimitive::ChaCha20Poly1305,
        "vectors/kat/chacha20poly1305.yaml",
        include_str!("../../../vectors/kat/chacha20poly1305.yaml"),
    ),
    (WirePrimitive::Aes256Gcm, "vectors/kat/aes256gcm.yaml", include_str!("../../../vectors/kat/aes256gcm.yaml")),
    (WirePrimitive::HkdfSha256, "vectors/kat/hkdf-sha256.yaml", include_str!("../../../vectors/kat/hkdf-sha256.yaml")),
    (WirePrimitive::HmacSha256, "vectors/kat/hmac-sha256.yaml", include_str!("../../../vectors/kat/hmac-sha256.yaml")),
];

struct Checker {
    design: ExecDesign,
    required_ok: usize,
    required: usize,
    failed: bool,
    /// Whether the known-answer operations are being checked: they run in a
    /// process of their own, which reports its own breaks.
    known_answers: bool,
}

enum Outcome {
    Ok(String),
    Fail(String),
    Skip(String),
}

impl Checker {
    /// Records one operation's outcome; a broken implementation fails it.
    fn report(&mut self, op: &str, required: bool, outcome: Outcome) {
        let outcome = match (self.design.broken().filter(|_| !self.known_answers), outcome) {
            (Some(b), _) => Outcome::Fail(b),
            (None, o) => o,
        };
        if required {
            self.required += 1;
        }
        let (mark, text) = match outcome {
            Outcome::Ok(t) => {
                if required {
                    self.required_ok += 1;
                }
                ("ok", t)
            }
            Outcome::Fail(t) => {
                self.failed |= required;
                ("FAIL", t)
            }
            Outcome::Skip(t) => ("skipped", t),
        };
        let mut lines = text.lines();
        out!("  {op:<26} {mark:<8} {}", lines.next().unwrap_or_default());
        for l in lines {
            out!("  {:<26} {:<8} {l}", "", "");
        }
    }
}

fn entry(addr: &DeviceAddr, b: &Bundle) -> DirectoryEntry {
    DirectoryEntry::first_contact(addr.clone(), b)
}

fn err(e: &ImplError) -> Outcome {
    Outcome::Fail(e.to_string())
}

/// Runs the sequence; exit 0 only when every required operation conforms.
pub fn run(implementation: &str, limits: Limits) -> Result<u8, Failure> {
    let cmdline = exec_command(implementation)?;
    let command = Command::parse(&cmdline, None).map_err(|e| Failure::Usage(format!("`{cmdline}`: {e}")))?;
    out!("doormat adapter-check: `{}` (protocol 1)", command.display());
    let design = ExecDesign::new("adapter-check", command, limits);
    let mut c = Checker { design, required_ok: 0, required: 0, failed: false, known_answers: false };
    let probe = c.design.probe().cloned().map_err(str::to_owned);
    match probe {
        Ok(p) => {
            let roles = if p.authorities.is_empty() {
                "no authorities".to_owned()
            } else {
                format!("authorities: {}", p.authorities.join(", "))
            };
            let prims = if p.primitives.is_empty() {
                String::new()
            } else {
                format!(", primitives: {}", p.primitives.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "))
            };
            let protocol = p.kat_protocol.as_deref().map(|k| format!(", kat_protocol: {k}")).unwrap_or_default();
            c.report(
                "hello",
                true,
                Outcome::Ok(format!(
                    "`{}` {}, export_state: {}, {roles}{prims}{protocol}",
                    p.name, p.version, p.capabilities.export_state
                )),
            );
        }
        Err(e) => {
            c.report("hello", true, Outcome::Fail(e));
            out!("0 of 1 required operations conform; nothing else can be checked");
            return Ok(EXIT_FINDINGS);
        }
    }
    if let Err(e) = c.design.begin_run() {
        c.report("restart", true, err(&e));
        return Ok(EXIT_FINDINGS);
    }
    sequence(&mut c);
    c.design.end_run();
    if let Ok(p) = c.design.probe().cloned() {
        c.known_answers = true;
        known_answers(&mut c, &p);
    }
    out!("{} of {} required operations conform", c.required_ok, c.required);
    Ok(if c.failed { EXIT_FINDINGS } else { EXIT_OK })
}

/// The conformance script: create three devices, publish, encrypt and
/// decrypt, fork and drop a copy, forensic open, export and import, add
/// entropy, and the authorities' operations, in that order. It stays one function on purpose: it reads as the
/// script an implementer follows, each step uses what the steps before it
/// made (devices, envelopes, copies), and every row it reports names its
/// operation, so splitting it would only hand the same locals around.
fn sequence(c: &mut Checker) {
    let names = [("alice", "phone"), ("bob", "phone"), ("carol", "phone")];
    let mut devices: Vec<(DeviceAddr, Box<dyn Device>)> = Vec::new();
    for (i, (u, d)) in names.into_iter().enumerate() {
        let addr = DeviceAddr::new(u, d);
        match c.design.create_device(&addr, [i as u8 + 1; 32]) {
            Ok(dev) => devices.push((addr, dev)),
            Err(e) => return c.report("create_device", true, err(&e)),
        }
    }
    c.report("create_device", true, Outcome::Ok(format!("{} devices", devices.len())));
    let mut bundles = Vec::new();
    for (_, d) in &mut devices {
        match d.publish() {
            Ok(b) => bundles.push(b),
            Err(e) => return c.report("publish", true, err(&e)),
        }
    }
    c.report(
        "publish",
        true,
        Outcome::Ok(format!(
            "identity of {} bytes, {} one-time items",
            bundles[0].identity.len(),
            bundles[0].one_time.len()
        )),
    );
    // As in an audit: each authority's public data goes to every device.
    let mut authorities = Vec::new();
    for role in c.design.authorities() {
        match c.design.create_authority(&role, [9; 32]) {
            Ok(a) => authorities.push((role, a)),
            Err(e) => return c.report("create_authority", true, err(&e)),
        }
    }
    let mut pushed = Ok(());
    for (_, d) in &mut devices {
        for (role, a) in &authorities {
            pushed = pushed.and_then(|()| d.provider_push(role, &a.public()));
        }
        pushed = pushed.and_then(|()| d.provider_push("no-such-role", b""));
    }
    c.report("provider_push", true, pushed.map_or_else(|e| err(&e), |()| Outcome::Ok("accepted".to_owned())));
    for (_, d) in &mut devices {
        d.add_entropy(&[7; 32]);
    }
    c.report("add_entropy", true, Outcome::Ok("accepted".to_owned()));
    let (alice, bob) = (devices[0].0.clone(), devices[1].0.clone());
    let members = [UserId::from("alice"), UserId::from("bob")];
    let send = |dev: &mut Box<dyn Device>, text: &[u8], to: &DirectoryEntry| -> Result<Sent, ImplError> {
        let req = EncryptRequest {
            conversation: "alice+bob",
            group: false,
            members: &members,
            recipients: std::slice::from_ref(to),
            plaintext: text,
        };
        dev.encrypt(&req)
    };
    let to_bob = entry(&bob, &bundles[1]);
    let first = match send(&mut devices[0].1, b"adapter-check message 1", &to_bob) {
        Ok(s) if s.envelopes.iter().any(|e| e.to.contains(&bob)) => {
            c.report(
                "encrypt",
                true,
                Outcome::Ok(format!("{} envelope(s), {} notice(s)", s.envelopes.len(), s.events.len())),
            );
            s
        }
        Ok(s) => {
            return c.report(
                "encrypt",
                true,
                Outcome::Fail(format!("{} envelope(s), none addressed to bob/phone", s.envelopes.len())),
            )
        }
        Err(e) => return c.report("encrypt", true, err(&e)),
    };
    let open = |dev: &mut Box<dyn Device>, s: &Sent, to: &DeviceAddr| -> Result<Option<Vec<u8>>, ImplError> {
        let mut last = None;
        for e in s.envelopes.iter().filter(|e| e.to.contains(to)) {
            let r = dev.decrypt(&InEnvelope { from: &alice, conversation: "alice+bob", body: &e.body })?;
            if r.plaintext.is_some() {
                last = r.plaintext;
            }
        }
        Ok(last)
    };
    match open(&mut devices[1].1, &first, &bob) {
        Ok(Some(p)) if p == b"adapter-check message 1" => {
            c.report("decrypt", true, Outcome::Ok("bob/phone read the message".to_owned()))
        }
        Ok(other) => c.report(
            "decrypt",
            true,
            Outcome::Fail(format!(
                "bob/phone got {:?} instead of the message",
                other.map(|p| String::from_utf8_lossy(&p).into_owned())
            )),
        ),
        Err(e) => c.report("decrypt", true, err(&e)),
    }
    // Forks are independent copies.
    let second = match send(&mut devices[0].1, b"adapter-check message 2", &to_bob) {
        Ok(s) => s,
        Err(e) => return c.report("encrypt", true, err(&e)),
    };
    let mut fork = match devices[1].1.fork() {
        Ok(f) => f,
        Err(e) => return c.report("fork, drop_device", true, err(&e)),
    };
    let on_fork = open(&mut fork, &second, &bob);
    drop(fork);
    let on_original = open(&mut devices[1].1, &second, &bob);
    c.report(
        "fork, drop_device",
        true,
        match (on_fork, on_original) {
            (Ok(Some(_)), Ok(Some(_))) => Outcome::Ok("a fork read message 2 and the original still could".to_owned()),
            (f, o) => Outcome::Fail(format!("fork read: {f:?}, original afterwards: {o:?} (both must read message 2)")),
        },
    );
    // Foreign and garbage envelopes.
    let carol = devices[2].0.clone();
    let foreign = open(&mut devices[2].1, &first, &bob);
    c.report(
        "decrypt (foreign)",
        true,
        match foreign {
            Err(ImplError::Rejected(_)) => Outcome::Ok(format!("{carol} rejected an envelope for bob/phone")),
            Ok(Some(p)) if p == b"adapter-check message 1" => {
                Outcome::Ok(format!("answered, but {carol} READ an envelope for bob/phone: the audit will report it"))
            }
            Ok(Some(_)) => Outcome::Ok(format!(
                "answered with bytes that are not the message ({carol} did not read it; `rejected` is expected)"
            )),
            Ok(None) | Err(_) => Outcome::Ok("answered (an error other than `rejected` or no plaintext)".to_owned()),
        },
    );
    // Optional: forensic open (every key a state holds, no courtesy).
    let mut copy = match devices[2].1.fork() {
        Ok(f) => f,
        Err(e) => return c.report("fork, drop_device", true, err(&e)),
    };
    let mut forensic = Vec::new();
    let mut outcome = None;
    for e in first.envelopes.iter().filter(|e| e.to.contains(&bob)) {
        match copy.forensic_open(&InEnvelope { from: &alice, conversation: "alice+bob", body: &e.body }) {
            Ok(pts) => forensic.extend(pts),
            Err(ImplError::Unsupported(why)) => {
                outcome = Some((
                    false,
                    Outcome::Skip(format!("not offered ({why}); seizure verdicts will be client-level only")),
                ));
                break;
            }
            Err(ImplError::Rejected(_)) => {}
            Err(e) => {
                outcome = Some((true, err(&e)));
                break;
            }
        }
    }
    drop(copy);
    let (required, outcome) = outcome.unwrap_or_else(|| {
        if forensic.iter().any(|p| p == b"adapter-check message 1") {
            (
                true,
                Outcome::Ok(format!(
                    "answered, but {carol}'s keys READ an envelope for bob/phone: the audit will report it"
                )),
            )
        } else {
            (true, Outcome::Ok(format!("answered: {carol}'s keys open nothing addressed to bob/phone")))
        }
    });
    c.report("forensic_open", required, outcome);
    let garbage =
        devices[1].1.decrypt(&InEnvelope { from: &alice, conversation: "alice+bob", body: b"\x00garbage\xff" });
    c.report(
        "decrypt (garbage)",
        true,
        match garbage {
            Err(ImplError::Rejected(_)) => Outcome::Ok("rejected".to_owned()),
            other => {
                Outcome::Ok(format!("answered {:?}; `rejected` is expected", other.map(|r| r.plaintext.is_some())))
            }
        },
    );
    let verified = devices[0].1.verify(&bob, &bundles[1].identity);
    c.report(
        "verify",
        true,
        verified.map_or_else(|e| err(&e), |ev| Outcome::Ok(format!("{} notice(s) for the right identity", ev.len()))),
    );
    // Optional: state export.
    if c.design.capabilities().export_state {
        let third = send(&mut devices[0].1, b"adapter-check message 3", &to_bob);
        let state = devices[1].1.export_state();
        let outcome = match (third, state) {
            (Ok(third), Ok(state)) => match c.design.import_device(&bob, &state) {
                Ok(mut copy) => match open(&mut copy, &third, &bob) {
                    Ok(Some(_)) => {
                        Outcome::Ok(format!("{} bytes of state; the imported copy read message 3", state.len()))
                    }
                    other => Outcome::Fail(format!("the imported copy could not read message 3: {other:?}")),
                },
                Err(e) => err(&e),
            },
            (Err(e), _) | (_, Err(e)) => err(&e),
        };
        c.report("export/import", true, outcome);
    } else {
        c.report("export/import", false, Outcome::Skip("hello says export_state is false".to_owned()));
    }
    // Optional: authorities.
    if authorities.is_empty() {
        c.report("authorities", false, Outcome::Skip("hello lists no authorities".to_owned()));
    }
    for (role, mut a) in authorities {
        let t = a.target(&TargetContent::Exact(b"adapter-check message 1"));
        let r = a.recover(&[first.envelopes[0].body.as_slice()]);
        let outcome = match (t, r) {
            (Ok(t), Ok(found)) => Outcome::Ok(format!(
                "public {} bytes, target {}, recover found {}",
                a.public().len(),
                if t.is_some() { "gave data" } else { "gave none" },
                found.len()
            )),
            (Err(e), _) | (_, Err(e)) => err(&e),
        };
        c.report(&format!("authority {role}"), true, outcome);
    }
}

/// The known-answer operations `hello` offered, one line per primitive.
fn known_answers(c: &mut Checker, probe: &Probe) {
    let Some(prims) = c.design.primitives() else {
        return c.report("known answers", false, Outcome::Skip("hello offers no primitives".to_owned()));
    };
    for (primitive, name, src) in KAT_FILES {
        let op = format!("kat {}", primitive.name());
        if !probe.primitives.contains(&primitive) {
            c.report(&op, false, Outcome::Skip("not offered in hello".to_owned()));
            continue;
        }
        if let Some(why) = prims.broken() {
            c.report(&op, true, Outcome::Fail(format!("not run: {why}")));
            continue;
        }
        let file = match KatFile::parse(name, src) {
            Ok(f) => f,
            Err(e) => {
                c.report(&op, true, Outcome::Fail(format!("the built-in known-answer file does not load: {e}")));
                continue;
            }
        };
        let (s, why) = crate::kat::judge(prims.as_ref(), &[file], &[]);
        let (mut passed, mut failed, mut unlisted, mut skipped) = (0, 0, 0, 0);
        for k in &s.counts {
            (passed, failed, unlisted, skipped) =
                (passed + k.passed, failed + k.failed, unlisted + k.unlisted, skipped + k.skipped);
        }
        let outcome = if let Some(why) = why {
            Outcome::Fail(why)
        } else if !s.failures.is_empty() {
            let mut text = format!("{failed} of {} cases of {name} wrong:", passed + failed + unlisted + skipped);
            for i in &s.failures {
                text.push_str(&format!("\ntcId {} ({}; expected {}): {}", i.tc_id, i.comment, i.expected, i.got));
            }
            Outcome::Fail(text)
        } else if passed + unlisted == 0 {
            Outcome::Fail(format!("offered, but every case of {name} was skipped (`unsupported`)"))
        } else {
            let mut text = format!("{passed} cases of {name} as expected");
            if unlisted > 0 {
                text.push_str(&format!(", {unlisted} acceptable either way (a spec's `kat_accepts` decides)"));
            }
            if skipped > 0 {
                text.push_str(&format!(", {skipped} skipped"));
            }
            Outcome::Ok(text)
        };
        c.report(&op, true, outcome);
    }
    if let Some(protocol) = &probe.kat_protocol {
        let outcome = match prims.protocol_function("adapter-check-no-such-function", &Default::default()) {
            _ if prims.broken().is_some() => Outcome::Fail(prims.broken().unwrap_or_default()),
            Err(ImplError::Unsupported(_)) => {
                Outcome::Ok(format!("`{protocol}`: a function it does not have is `unsupported`"))
            }
            Ok(out) => Outcome::Fail(format!(
                "`{protocol}`: answered {} output(s) for a function that does not exist: expected `unsupported`",
                out.len()
            )),
            Err(e) => Outcome::Fail(format!(
                "`{protocol}`: a function that does not exist gave `{e}`: expected an `unsupported` error"
            )),
        };
        c.report("kat_protocol", true, outcome);
    }
}
