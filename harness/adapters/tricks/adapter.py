#!/usr/bin/env python3
"""tricks: one honest design with exactly one cheap trick, spoken over the
doormat exec protocol (harness/exec/PROTOCOL.md, version 1). It exists to
keep doormat's oracles honest: each trick is the cheapest way a dishonest
design could pass an oracle that trusted client code, and each spec in this
folder claims the property its trick pretends to have. The audit must catch
every one (harness/cli/tests/cli/tricks_exec.rs); `--trick none` is the control,
which keeps every property it claims. This is the exec-protocol twin of the
Rust red team in harness/oracles/tests/tricks.rs.

    adapter.py --trick NAME      NAME: none, replay-cache, history-in-state,
                                 app-key, late-warning, provider-member,
                                 no-sender

The honest base. It reuses the sealed-box example (../sealed-box/adapter.py,
imported as a module, unchanged) for everything a careful client remembers:
its deterministic generator, its trust-on-first-use notices (first sight of
a user, device or conversation is silent; afterwards `device-added`,
`device-removed`, `identity-changed`, `member-added`, `member-removed`),
verification, and its state. Like sealed-box it tells before it sends: a
device, identity or member that a notice of an `encrypt` names gets nothing
from that message, and gets messages from the next one on. Each device has
static keys (an Ed25519 signing key and an X25519 key, from its seed); for
every recipient the sender draws an ephemeral X25519 key, derives a
ChaCha20-Poly1305 key with HKDF-SHA256 from the exchange with the
recipient's static key, and signs the envelope:

    MAGIC (8) || sender identity (64) || recipient identity (64)
    || ephemeral public (32) || sender addr || recipient addr || conversation
    || ciphertext || signature (64)

(addresses, conversation and ciphertext length-prefixed, u32 BE). `decrypt`
refuses what is not addressed to this device, not from the sender the
provider names, for another conversation, badly signed, a replay, or from a
verified contact under another key. `forensic_open` is honest: it opens the
envelope with every key the state holds (the static X25519 key; with
`app-key`, the app's key too) and skips every check that is the client's
choice (address, sender, conversation, signature, replay). `export_state`
and `import_device` work, so seizure vectors run. There is no ratchet: the
static key opens everything ever sent to the device, so the base has no
forward secrecy or post-compromise security and the control does not claim
them.

The tricks (exactly one per run):

- `replay-cache`: nothing changes in the client. A seized copy's own
  `decrypt` refuses the envelopes the device already received, only because
  its replay set says so; its static key still opens them (`forensic_open`
  says so). Its spec claims forward secrecy on the strength of that refusal.
- `history-in-state`: the state keeps every plaintext the device sent or
  received, as JSON arrays of byte numbers (`list(plaintext)`), as serde
  writes a `Vec<u8>`.
- `app-key`: every copy of the app encrypts with one constant key; the only
  thing between another install and a message is `decrypt`'s "not
  addressed to me" check (which `forensic_open`, honestly, skips).
- `late-warning`: a new device of a known contact is shown (`device-added`)
  only in the events of the `encrypt` that already sends to it.
- `provider-member`: in a group, whoever the provider lists in `members` is
  added at once (as an MLS client committing an Add for whatever the
  provider serves): `member-added` is shown in the `encrypt` that already
  sends to the new member.
- `no-sender`: `decrypt` opens and checks everything, but answers
  `"sender": null`.

Randomness: sealed-box's SHA-256 generator, keyed by the seed and re-keyed
by `add_entropy`. No os.urandom, no clock: reports are deterministic.
"""

import argparse
import copy
import importlib.util
import json
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305


def _load_sealed_box():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sealed-box", "adapter.py")
    spec = importlib.util.spec_from_file_location("sealed_box", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sb = _load_sealed_box()
Rejected, Unsupported = sb.Rejected, sb.Unsupported
b64e, b64d, split_addr = sb.b64e, sb.b64d, sb.split_addr

TRICKS = ("none", "replay-cache", "history-in-state", "app-key", "late-warning", "provider-member", "no-sender")
TRICK = "none"  # set once by main() from --trick

VERSION = "0.1"
MAGIC = b"TRIX\x00\x00\x00\x01"
SIGN_CONTEXT = b"tricks/v1/envelope-signature"
SEAL_LABEL = b"tricks/v1/seal"
# `app-key`: the one key inside every copy of the app.
APP_KEY = b"the same key in every app copy!!"


class Envelope:
    """The parts of an envelope body; `Rejected` if it does not parse."""

    def __init__(self, body):
        r = sb.Reader(body)
        if r.raw(len(MAGIC), "magic") != MAGIC:
            raise Rejected("not a tricks envelope")
        self.sender_identity = r.raw(64, "sender identity")
        self.recipient_identity = r.raw(64, "recipient identity")
        self.eph_pub = r.raw(32, "ephemeral key")
        self.sender = r.text("sender address")
        self.recipient = r.text("recipient address")
        self.conversation = r.text("conversation")
        self.header = body[:r.pos]
        self.ciphertext = r.lp("ciphertext")
        self.signed = body[:r.pos]
        self.signature = r.raw(64, "signature")
        if r.pos != len(body):
            raise Rejected("trailing bytes after the signature")


class Device(sb.Device):
    """sealed-box's client state (notices, verification, generator) with
    this design's envelopes, a forensic open, and the trick."""

    magic = MAGIC
    sign_context = SIGN_CONTEXT
    seal_label = SEAL_LABEL

    def __init__(self, addr, seed):
        super().__init__(addr, seed)
        self.history = []  # plaintexts handled: only `history-in-state` keeps any

    def to_json(self):
        j = super().to_json()
        j["trick"] = TRICK
        j["history"] = [list(p) for p in self.history]
        return j

    @classmethod
    def from_json(cls, j, addr=None):
        if not isinstance(j, dict) or j.get("trick") != TRICK:
            raise Rejected(f"not a state of the {TRICK!r} trick")
        d = super().from_json(j, addr)
        d.history = [bytes(p) for p in j.get("history", [])]
        return d

    def fork(self):
        return Device.from_json(copy.deepcopy(self.to_json()))

    def remember(self, plaintext):
        if TRICK == "history-in-state":
            self.history.append(bytes(plaintext))

    # sending

    def encrypt(self, conversation, members, recipients, plaintext, group=False):
        events, entries, payload = self.prepare(conversation, members, recipients, plaintext)
        # Honest: what the user is only now being told about gets this
        # message not; it gets messages from the next one on.
        held_devices, held_users = sb.held(events)
        if TRICK == "late-warning":
            # The notice goes out with the message that already reaches it.
            held_devices = {e[2] for e in events if e[0] == "identity-changed" and e[2]}
        if TRICK == "provider-member" and group:
            # Whoever the provider lists is a member now, told in passing.
            held_users = set()
        envelopes = self.seal_all(entries, events, held_devices, held_users, conversation, payload)
        self.remember(plaintext)
        return {"envelopes": envelopes, "events": sb.events_json(events)}

    def exchange(self, eph, peer_x, addr):
        if TRICK == "app-key":
            return APP_KEY
        return super().exchange(eph, peer_x, addr)

    # receiving

    def unseal(self, env):
        """The payload, with the keys alone (no check of who or where)."""
        if TRICK == "app-key":
            shared = APP_KEY
        else:
            try:
                shared = self.x_key.exchange(X25519PublicKey.from_public_bytes(env.eph_pub))
            except ValueError:
                raise Rejected("degenerate ephemeral key")
        key, nonce = self.envelope_keys(shared, env.eph_pub, env.recipient_identity[32:], env.header)
        try:
            payload = json.loads(ChaCha20Poly1305(key).decrypt(nonce, env.ciphertext, env.header))
        except InvalidTag:
            raise Rejected("bad authentication tag")
        if not isinstance(payload, dict):
            raise Rejected("malformed payload")
        return payload

    def decrypt(self, sender_claimed, conversation, body):
        env = Envelope(body)
        # Courtesy: "not addressed to me".
        if env.recipient != self.addr or env.recipient_identity != self.identity:
            raise Rejected("not addressed to this device")
        if env.sender != sender_claimed:
            raise Rejected(f"envelope is from {env.sender}, not from {sender_claimed}")
        if env.conversation != conversation:
            raise Rejected(f"envelope of conversation {env.conversation!r} delivered in {conversation!r}")
        split_addr(env.sender)
        try:
            Ed25519PublicKey.from_public_bytes(env.sender_identity[:32]).verify(env.signature, SIGN_CONTEXT + env.signed)
        except InvalidSignature:
            raise Rejected("bad signature")
        pinned = self.verified.get(env.sender)
        if pinned is not None and pinned != env.sender_identity:
            raise Rejected(f"{env.sender} is verified with another identity")
        payload = self.unseal(env)
        if payload.get("conversation") != conversation:
            raise Rejected("payload belongs to another conversation")
        counter, members = payload.get("counter"), payload.get("members")
        if not isinstance(counter, int) or not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise Rejected("malformed payload")
        plaintext = b64d(payload.get("plaintext"), "payload plaintext")
        # Courtesy: the replay cache.
        seen = (env.sender, env.sender_identity.hex(), counter)
        if seen in self.replay:
            raise Rejected(f"replay of message {counter} from {env.sender}")
        self.replay.add(seen)
        events = set()
        self.seen_sender(env.sender, env.sender_identity, events)
        self.seen_members(conversation, members, events)
        self.remember(plaintext)
        sender = None if TRICK == "no-sender" else env.sender
        return {"plaintext": b64e(plaintext), "sender": sender, "events": sb.events_json(events)}

    def forensic_open(self, body):
        """What whoever holds this state could read: every key held, none of
        the client's checks."""
        try:
            payload = self.unseal(Envelope(body))
            return [b64d(payload.get("plaintext"), "payload plaintext")]
        except Exception:
            return []


class Adapter(sb.Adapter):
    device_class = Device
    state_name = "tricks"

    def encrypt_options(self, req):
        """`group`: whether the conversation is a group, for `provider-member`."""
        return {"group": req.get("group") is True}

    def handle(self, req):
        op = req.get("op")
        if op == "hello":
            return {"protocol": 1, "name": f"trick-{TRICK}", "version": VERSION,
                    "capabilities": {"export_state": True, "forensic_open": True}, "authorities": []}
        if op == "forensic_open":
            dev = self.device(req)
            body = b64d(req.get("body"), "body")
            return {"plaintexts": [b64e(p) for p in dev.forensic_open(body)]}
        if isinstance(op, str) and op.startswith("kat_"):
            raise Unsupported(f"the tricks design offers no known-answer operations ({op!r})")
        # create_device, import_device, encrypt (with `group`), decrypt,
        # publish, fork, drop_device, export_state, add_entropy, verify,
        # provider_push: as sealed-box does them, on this Device (and under
        # its name, in `unsupported` messages and the log).
        return super().handle(req)


def main():
    global TRICK
    parser = argparse.ArgumentParser(description="An honest design with one trick, over the doormat exec protocol.")
    parser.add_argument("--trick", choices=TRICKS, required=True)
    TRICK = parser.parse_args().trick
    sb.common.serve(Adapter())


if __name__ == "__main__":
    main()
