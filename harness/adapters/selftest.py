#!/usr/bin/env python3
"""Self-test of an exec-protocol adapter, without doormat (standard library only).

Starts the adapter as a child process, plays the example transcript of
harness/exec/PROTOCOL.md (hello, two devices, publish, encrypt, a fork of the
sender trying the envelope, drop, the recipient decrypting) plus a few extra
checks (replay, garbage, an outsider device, fork independence, an
unsupported operation, state export if offered), checks every response's
shape strictly, and exits non-zero with a message on the first mismatch.
If `hello` offers primitives for known-answer tests, each offered one is
asked one published answer and one input it must refuse; an operation on a
primitive it does not offer must be `unsupported`.

    python3 harness/adapters/selftest.py                   # both examples
    python3 harness/adapters/selftest.py harness/adapters/sealed-box/sealed-box.yaml
    python3 harness/adapters/selftest.py --leaky harness/adapters/name-key

A spec (or its folder) is run the way doormat runs it: the `exec:` command of
<name>.yaml, split like a shell does, in the spec's folder. `--leaky` expects
the design to let the wrong device and an outsider read (the point of a
deliberately leaky example): the test then checks that the leak shows.
"""

import base64
import json
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = [("sealed-box", False), ("name-key", True)]

ALICE_SEED = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="
BOB_SEED = base64.b64encode(bytes(range(32, 64))).decode()
EVE_SEED = base64.b64encode(bytes(range(64, 96))).decode()
ENTROPY_1 = base64.b64encode(bytes([7] * 32)).decode()
ENTROPY_2 = base64.b64encode(bytes([9] * 32)).decode()
PLAINTEXT = base64.b64encode(b"hi bob CANARY-Q4ZJ7MXK2B5N3WPLR6TD8YHVCF").decode()
EVENT_KINDS = {"identity-changed", "device-added", "device-removed", "member-added", "member-removed"}
PRIMITIVES = ["x25519", "ed25519", "chacha20-poly1305", "aes-256-gcm", "hkdf-sha256", "hmac-sha256"]


def h64(hex_text):
    return base64.b64encode(bytes.fromhex(hex_text)).decode()


# One published answer per primitive (RFC 7748 6.1, RFC 8032 7.1 TEST 1,
# RFC 8439 2.8.2, McGrew-Viega GCM test case 16, RFC 5869 A.1, RFC 4231
# case 1), as in vectors/kat/.
CHACHA = dict(
    alg="chacha20-poly1305",
    key=h64("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
    nonce=h64("070000004041424344454647"),
    aad=h64("50515253c0c1c2c3c4c5c6c7"),
)
CHACHA_MSG = h64(
    "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966204920636f756c64"
    "206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73637265656e20776f"
    "756c642062652069742e")
CHACHA_CT = (
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e"
    "060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576"
    "d26586cec64b6116" "1ae10b594f09e26a7e902ecbd0600691")
GCM = dict(
    alg="aes-256-gcm",
    key=h64("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
    nonce=h64("cafebabefacedbaddecaf888"),
    aad=h64("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
)
GCM_MSG = h64(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa"
    "0de657ba637b39")
GCM_CT = (
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393"
    "ba7a0abcc9f662" "76fc6ece0f4e1768cddf8853bb2d551b")


class Mismatch(Exception):
    pass


def is_b64(s):
    if not isinstance(s, str):
        return False
    try:
        base64.b64decode(s.encode("ascii"), validate=True)
        return len(s) % 4 == 0
    except Exception:
        return False


def check_events(evs, where):
    if not isinstance(evs, list):
        raise Mismatch(f"{where}: events is not an array")
    for e in evs:
        if not isinstance(e, dict) or set(e) != {"kind", "user", "device"}:
            raise Mismatch(f"{where}: malformed event {e!r}")
        if e["kind"] not in EVENT_KINDS or not isinstance(e["user"], str) \
                or not (e["device"] is None or isinstance(e["device"], str)):
            raise Mismatch(f"{where}: malformed event {e!r}")


def check_fields(ok, fields, where):
    """`fields`: name -> checker. Exactly these fields, each passing its check."""
    if not isinstance(ok, dict):
        raise Mismatch(f"{where}: ok is not an object: {ok!r}")
    if set(ok) != set(fields):
        raise Mismatch(f"{where}: fields {sorted(ok)} instead of {sorted(fields)}")
    for name, check in fields.items():
        if not check(ok[name]):
            raise Mismatch(f"{where}: field {name!r} has a wrong type or value: {ok[name]!r}")


class Session:
    def __init__(self, argv, cwd):
        self.argv = argv
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.next_id = 0

    def call(self, op, **fields):
        rid = self.next_id
        self.next_id += 1
        req = {"id": rid, "op": op, **fields}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise Mismatch(f"{op} (id {rid}): the adapter closed its output (exit code {self.proc.poll()})")
        if not line.endswith("\n"):
            raise Mismatch(f"{op} (id {rid}): response not terminated by a newline")
        try:
            resp = json.loads(line)
        except json.JSONDecodeError as e:
            raise Mismatch(f"{op} (id {rid}): response is not JSON ({e}): {line[:200]!r}")
        if not isinstance(resp, dict):
            raise Mismatch(f"{op} (id {rid}): response is not an object")
        if resp.get("id") != rid or type(resp.get("id")) is not int:
            raise Mismatch(f"{op} (id {rid}): response has id {resp.get('id')!r}")
        keys = set(resp) - {"id"}
        if keys not in ({"ok"}, {"error"}):
            raise Mismatch(f"{op} (id {rid}): response has fields {sorted(resp)}")
        if "error" in resp:
            err = resp["error"]
            if not isinstance(err, dict) or set(err) != {"kind", "message"} \
                    or err["kind"] not in ("rejected", "unsupported", "failed") or not isinstance(err["message"], str):
                raise Mismatch(f"{op} (id {rid}): malformed error {err!r}")
        return resp

    def ok(self, op, **fields):
        resp = self.call(op, **fields)
        if "ok" not in resp:
            raise Mismatch(f"{op} (id {resp['id']}): expected ok, got error {resp['error']}")
        return resp["ok"]

    def close(self):
        try:
            self.proc.stdin.close()
        except Exception:
            pass
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Mismatch("the adapter did not exit after end of input")
        rest = self.proc.stdout.read()
        if rest.strip():
            raise Mismatch(f"output after the last response: {rest[:200]!r}")
        return code

    def stderr_tail(self):
        try:
            return self.proc.stderr.read()[-2000:]
        except Exception:
            return ""


def handle_ok(v):
    return type(v) is int


def run(argv, cwd, leaky):
    s = Session(argv, cwd)
    notes = []
    try:
        # --- the transcript of PROTOCOL.md ---
        hello = s.ok("hello", protocol=1)
        offered = hello.pop("primitives", [])
        kat_protocol = hello.pop("kat_protocol", None)
        if not isinstance(offered, list) or any(p not in PRIMITIVES for p in offered) \
                or len(set(offered)) != len(offered):
            raise Mismatch(f"hello: primitives {offered!r}: expected each of {PRIMITIVES} at most once")
        if kat_protocol is not None and (not isinstance(kat_protocol, str) or not kat_protocol.strip()):
            raise Mismatch(f"hello: kat_protocol {kat_protocol!r}: expected a protocol's name")
        check_fields(hello, {
            "protocol": lambda v: v == 1,
            "name": lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9_-]+", v) is not None,
            "version": lambda v: isinstance(v, str),
            "capabilities": lambda v: isinstance(v, dict) and set(v) <= {"export_state", "forensic_open"} and "export_state" in v and all(isinstance(x, bool) for x in v.values())
            and isinstance(v["export_state"], bool),
            "authorities": lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
        }, "hello")
        exports = hello["capabilities"]["export_state"]
        bundle = {"identity": is_b64, "prekey": is_b64,
                  "one_time": lambda v: isinstance(v, list) and all(is_b64(x) for x in v)}

        alice = s.ok("create_device", addr="alice/phone", seed=ALICE_SEED)
        check_fields(alice, {"device": handle_ok}, "create_device alice")
        alice = alice["device"]
        pub_a = s.ok("publish", device=alice)
        check_fields(pub_a, bundle, "publish alice")
        bob = s.ok("create_device", addr="bob/phone", seed=BOB_SEED)
        check_fields(bob, {"device": handle_ok}, "create_device bob")
        bob = bob["device"]
        if bob == alice:
            raise Mismatch("two devices got the same handle")
        pub_b = s.ok("publish", device=bob)
        check_fields(pub_b, bundle, "publish bob")
        if pub_a == pub_b:
            raise Mismatch("two devices with different seeds published the same keys")

        check_fields(s.ok("add_entropy", device=alice, entropy=ENTROPY_1), {}, "add_entropy")
        one_time = pub_b["one_time"][0] if pub_b["one_time"] else None
        entry = {"device": "bob/phone", "identity": pub_b["identity"], "prekey": pub_b["prekey"], "one_time": one_time}
        sent = s.ok("encrypt", device=alice, conversation="alice+bob", group=False, members=["alice", "bob"],
                    recipients=[entry], plaintext=PLAINTEXT)
        check_fields(sent, {"envelopes": lambda v: isinstance(v, list), "events": lambda v: True}, "encrypt")
        check_events(sent["events"], "encrypt")
        for env in sent["envelopes"]:
            check_fields(env, {"to": lambda v: isinstance(v, list) and all(isinstance(d, str) for d in v),
                               "body": is_b64}, "encrypt envelope")
        mine = [e for e in sent["envelopes"] if "bob/phone" in e["to"]]
        if not mine:
            raise Mismatch("encrypt: no envelope addressed to bob/phone")
        if sent["events"]:
            raise Mismatch(f"encrypt: events on first contact: {sent['events']}")
        canary = b"CANARY-Q4ZJ7MXK2B5N3WPLR6TD8YHVCF"
        for env in sent["envelopes"]:
            raw = base64.b64decode(env["body"])
            if canary in raw or canary.hex().encode() in raw:
                raise Mismatch("encrypt: the plaintext is visible in an envelope (provider-blind)")

        fork = s.ok("fork", device=alice)
        check_fields(fork, {"device": handle_ok}, "fork")
        fork = fork["device"]
        if fork in (alice, bob):
            raise Mismatch("fork reused a live handle")
        body = mine[0]["body"]
        wrong = s.call("decrypt", device=fork, **{"from": "alice/phone"}, conversation="alice+bob", body=body)
        if leaky:
            if "ok" in wrong and wrong["ok"].get("plaintext") == PLAINTEXT:
                notes.append("leak shown: a fork of alice/phone reads an envelope addressed to bob/phone")
            else:
                raise Mismatch(f"--leaky: expected the wrong device to read, got {wrong}")
        elif wrong.get("error", {}).get("kind") != "rejected":
            raise Mismatch(f"decrypt on the wrong device: expected rejected, got {wrong}")
        check_fields(s.ok("drop_device", device=fork), {}, "drop_device")

        seized = None
        if exports:
            st = s.ok("export_state", device=bob)
            check_fields(st, {"state": is_b64}, "export_state")
            seized = s.ok("import_device", addr="bob/phone", state=st["state"])
            check_fields(seized, {"device": handle_ok}, "import_device")
            seized = seized["device"]

        check_fields(s.ok("add_entropy", device=bob, entropy=ENTROPY_2), {}, "add_entropy")
        got = s.ok("decrypt", device=bob, **{"from": "alice/phone"}, conversation="alice+bob", body=body)
        check_fields(got, {"plaintext": lambda v: v is None or is_b64(v),
                           "sender": lambda v: v is None or isinstance(v, str),
                           "events": lambda v: True}, "decrypt")
        check_events(got["events"], "decrypt")
        if got["plaintext"] != PLAINTEXT:
            raise Mismatch(f"decrypt on bob/phone: plaintext {got['plaintext']!r} instead of {PLAINTEXT!r}")
        if got["sender"] != "alice/phone":
            raise Mismatch(f"decrypt on bob/phone: sender {got['sender']!r} instead of 'alice/phone'")
        if got["events"]:
            raise Mismatch(f"decrypt: events on first contact: {got['events']}")

        # --- extra checks ---
        again = s.call("decrypt", device=bob, **{"from": "alice/phone"}, conversation="alice+bob", body=body)
        if again.get("error", {}).get("kind") != "rejected":
            raise Mismatch(f"replayed envelope: expected rejected, got {again}")
        for garbage in ["", "AAAA", base64.b64encode(bytes(range(200))).decode()]:
            r = s.call("decrypt", device=bob, **{"from": "alice/phone"}, conversation="alice+bob", body=garbage)
            if r.get("error", {}).get("kind") != "rejected":
                raise Mismatch(f"garbage envelope {garbage[:12]!r}: expected rejected, got {r}")
        raw = bytearray(base64.b64decode(body))
        raw[len(raw) // 2] ^= 1
        r = s.call("decrypt", device=bob, **{"from": "alice/phone"}, conversation="alice+bob",
                   body=base64.b64encode(bytes(raw)).decode())
        if r.get("error", {}).get("kind") != "rejected":
            raise Mismatch(f"flipped bit: expected rejected, got {r}")

        eve = s.ok("create_device", addr="eve/phone", seed=EVE_SEED)["device"]
        out = s.call("decrypt", device=eve, **{"from": "alice/phone"}, conversation="alice+bob", body=body)
        if leaky:
            if "ok" in out and out["ok"].get("plaintext") == PLAINTEXT:
                notes.append("leak shown: an outsider device (eve/phone) reads alice's message to bob")
            else:
                raise Mismatch(f"--leaky: expected the outsider to read, got {out}")
        elif out.get("error", {}).get("kind") != "rejected":
            raise Mismatch(f"outsider decrypt: expected rejected, got {out}")

        if seized is not None:
            r = s.ok("decrypt", device=seized, **{"from": "alice/phone"}, conversation="alice+bob", body=body)
            if r["plaintext"] != PLAINTEXT:
                raise Mismatch("imported state (exported before the message arrived) cannot read it")
            notes.append("export_state/import_device: the imported copy reads what reached the device later")
        else:
            r = s.call("export_state", device=bob)
            if r.get("error", {}).get("kind") != "unsupported":
                raise Mismatch(f"export_state without the capability: expected unsupported, got {r}")

        # a fork is independent: what it receives does not touch the original
        f2 = s.ok("fork", device=alice)["device"]
        check_fields(s.ok("verify", device=f2, contact="bob/phone", identity=pub_a["identity"]),
                     {"events": lambda v: True}, "verify")
        s.ok("drop_device", device=f2)
        again = s.ok("encrypt", device=alice, conversation="alice+bob", group=False, members=["alice", "bob"],
                     recipients=[entry], plaintext=PLAINTEXT)
        if not any("bob/phone" in e["to"] for e in again["envelopes"]):
            raise Mismatch("a verify on a fork changed the original (it stopped encrypting to bob/phone)")

        notes.extend(known_answers(s, offered, kat_protocol))

        r = s.call("recover", authority=1, view=[])
        if r.get("error", {}).get("kind") != "unsupported":
            raise Mismatch(f"authority op on a design without authorities: expected unsupported, got {r}")
        r = s.call("no_such_op", device=alice, extra_field={"x": 1})
        if r.get("error", {}).get("kind") != "unsupported":
            raise Mismatch(f"unknown op: expected unsupported, got {r}")

        code = s.close()
        if code != 0:
            raise Mismatch(f"exit code {code} after end of input")
        return notes
    except Mismatch:
        try:
            s.proc.kill()
            s.proc.wait()
        except Exception:
            pass
        tail = s.stderr_tail()
        if tail.strip():
            sys.stderr.write("--- adapter stderr (tail) ---\n" + tail + "\n")
        raise


def known_answers(s, offered, kat_protocol):
    """One published answer and one refusal for each offered primitive;
    `unsupported` for the others."""
    def answer(op, fields, want, **req):
        ok = s.ok(op, **req)
        check_fields(ok, fields, op)
        if want is not None and ok != want:
            raise Mismatch(f"{op}: got {ok} instead of the published answer {want}")

    def refused(op, what, **req):
        r = s.call(op, **req)
        if r.get("error", {}).get("kind") != "rejected":
            raise Mismatch(f"{op} with {what}: expected a rejected error, got {r}")

    cases = {
        "x25519": lambda: (
            answer("kat_x25519", {"shared": is_b64},
                   {"shared": h64("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")},
                   private=h64("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
                   public=h64("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")),
            refused("kat_x25519", "an all-zero public key (an all-zero shared secret counts as accepting)",
                    private=h64("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
                    public=h64("00" * 32))),
        "ed25519": lambda: [
            answer("kat_ed25519_verify", {"valid": lambda v: type(v) is bool}, {"valid": valid},
                   public=h64("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"), msg="",
                   sig=h64("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
                           "39701cf9b46bd25bf5f0595bbe24655141438e7a10" + last))
            for valid, last in ((True, "0b"), (False, "0a"))],
        "chacha20-poly1305": lambda: (
            answer("kat_aead_seal", {"ct": is_b64}, {"ct": h64(CHACHA_CT)}, msg=CHACHA_MSG, **CHACHA),
            answer("kat_aead_open", {"msg": is_b64}, {"msg": CHACHA_MSG}, ct=h64(CHACHA_CT), **CHACHA),
            refused("kat_aead_open", "a flipped tag bit", ct=h64(CHACHA_CT[:-1] + "0"), **CHACHA)),
        "aes-256-gcm": lambda: (
            answer("kat_aead_seal", {"ct": is_b64}, {"ct": h64(GCM_CT)}, msg=GCM_MSG, **GCM),
            answer("kat_aead_open", {"msg": is_b64}, {"msg": GCM_MSG}, ct=h64(GCM_CT), **GCM),
            refused("kat_aead_open", "a flipped tag bit", ct=h64(GCM_CT[:-1] + "a"), **GCM)),
        "hkdf-sha256": lambda: (
            answer("kat_hkdf_sha256", {"okm": is_b64},
                   {"okm": h64("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")},
                   ikm=h64("0b" * 22), salt=h64("000102030405060708090a0b0c"), info=h64("f0f1f2f3f4f5f6f7f8f9"),
                   len=42),
            refused("kat_hkdf_sha256", "an output longer than 255 x 32 bytes", ikm=h64("0b" * 22), salt="",
                    info="", len=255 * 32 + 1)),
        "hmac-sha256": lambda: answer(
            "kat_hmac_sha256", {"mac": is_b64},
            {"mac": h64("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")},
            key=h64("0b" * 20), msg=h64("4869205468657265")),
    }
    notes = []
    for name in PRIMITIVES:
        if name in offered:
            cases[name]()
            notes.append(f"known answers: {name} gave the published answer and refused a bad input")
    unoffered = {
        "x25519": ("kat_x25519", dict(private=h64("00" * 32), public=h64("09" + "00" * 31))),
        "hmac-sha256": ("kat_hmac_sha256", dict(key="", msg="")),
        "aes-256-gcm": ("kat_aead_open", dict(ct=h64(GCM_CT), **GCM)),
    }
    for name, (op, req) in unoffered.items():
        if name not in offered:
            r = s.call(op, **req)
            if r.get("error", {}).get("kind") != "unsupported":
                raise Mismatch(f"{op} on {name}, which hello does not offer: expected unsupported, got {r}")
    if kat_protocol is not None:
        r = s.call("kat_protocol", function="selftest-no-such-function", inputs={})
        if r.get("error", {}).get("kind") != "unsupported":
            raise Mismatch(f"kat_protocol with a function that does not exist: expected unsupported, got {r}")
    return notes


def exec_of(spec_or_dir):
    spec = spec_or_dir
    if os.path.isdir(spec):
        spec = os.path.join(spec, os.path.basename(os.path.normpath(spec)) + ".yaml")
    text = open(spec, encoding="utf-8").read()
    m = re.search(r"^\s*exec:\s*(.+?)\s*$", text, re.M)
    if not m:
        raise SystemExit(f"{spec}: no `exec:` line")
    cmd = m.group(1)
    if cmd[:1] in "\"'" and cmd[-1:] == cmd[:1]:
        cmd = cmd[1:-1]
    return shlex.split(cmd), os.path.dirname(os.path.abspath(spec))


def main(args):
    leaky = False
    if args and args[0] == "--leaky":
        leaky, args = True, args[1:]
    targets = [(a, leaky) for a in args] or [(os.path.join(HERE, d), lk) for d, lk in DEFAULT]
    failed = 0
    for target, lk in targets:
        argv, cwd = exec_of(target)
        label = f"{target} ({' '.join(argv)})" + (" [expecting leaks]" if lk else "")
        try:
            notes = run(argv, cwd, lk)
        except (Mismatch, OSError) as e:
            print(f"FAIL {label}: {e}")
            failed += 1
            continue
        print(f"PASS {label}")
        for n in notes:
            print(f"     {n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
