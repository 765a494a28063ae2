#!/usr/bin/env python3
"""sealed-box: an honest end-to-end encrypted design, spoken over the doormat
exec protocol (harness/exec/PROTOCOL.md, version 1).

Keys. Each device derives, from its 32-byte seed, an Ed25519 signing key and
an X25519 identity key (SHA-256 of a label and the seed, used as raw private
keys). Its published identity is Ed25519 public (32) || X25519 public (32);
it publishes no prekey and no one-time keys.

Sending. For every recipient device the provider serves, the sender draws an
ephemeral X25519 key from its deterministic generator, does ECDH with the
recipient's X25519 identity key, derives a ChaCha20-Poly1305 key and nonce
with HKDF-SHA256, and encrypts a payload (conversation, members, plaintext,
the sender's message counter). The associated data is the whole envelope
header: both identities, the ephemeral key, sender address, recipient
address and conversation. The sender signs the whole envelope with Ed25519.

Envelope body:
    MAGIC (8) || sender identity (64) || recipient identity (64)
    || ephemeral public (32) || sender addr || recipient addr || conversation
    || ciphertext || signature (64)
where addresses, conversation and ciphertext are length-prefixed (u32 BE),
and the signature covers a context label and every byte before it.

Receiving. A device refuses (error kind `rejected`) anything that does not
parse, is not addressed to its own address and identity, does not carry the
sender the provider names, fails the signature or the AEAD, belongs to
another conversation, repeats a (sender, counter) pair already seen, or
comes from a verified contact under another identity. Any exception while
decrypting is a refusal, never a crash.

Notices. Like a careful client (trust on first use): the first sighting of a
device, of a user's device list or of a conversation is recorded silently; afterwards a new device
of a known user is `device-added`, a vanished one `device-removed`, a new
identity for a known device `identity-changed`, a change in a known
conversation's members `member-added` / `member-removed`. `verify` pins a
contact's identity: a mismatch is shown as `identity-changed`, and the
sender then skips that device (sends it nothing) and refuses its messages.
A device, identity or member that a notice of this `encrypt` names gets
nothing from it: the user is told before anything goes to a newcomer, which
gets messages from the next one on.

Randomness. Everything random comes from a SHA-256 counter-mode generator
keyed by the seed, re-keyed with every `add_entropy` input. No os.urandom,
no clock.

There is no ratchet: a device's long-term X25519 key opens every envelope
ever sent to it, so the design has neither forward secrecy nor
post-compromise security, and its spec does not claim them.

Known answers. `hello` offers the primitives the design is built on, so
doormat can check them one by one against published test vectors:
X25519, Ed25519, ChaCha20-Poly1305 and HKDF-SHA256, each answered by the
same `cryptography` calls the design makes, with the same checks (an
X25519 exchange whose shared secret is all zero raises, which is a
refusal, as in `seal`). It does not offer AES-256-GCM or HMAC-SHA256 on
their own: the design does not use them.
"""

import base64
import copy
import hashlib
import json
import os
import struct
import sys

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402  (the shared protocol code, in the folder above)
from common import Failed, Rejected, Unsupported, b64d, b64e  # noqa: E402

NAME = "sealed-box"
VERSION = "0.1"
MAGIC = b"SBOX\x00\x00\x00\x01"
SIGN_CONTEXT = b"sealed-box/v1/envelope-signature"
SEAL_LABEL = b"sealed-box/v1/seal"
MAX_FIELD = 1 << 26  # a length prefix above this is garbage

# The primitives offered for known-answer tests (`hello`'s `primitives`).
KAT_PRIMITIVES = ["x25519", "ed25519", "chacha20-poly1305", "hkdf-sha256"]

EVENT_ORDER = ["identity-changed", "device-added", "device-removed", "member-added", "member-removed"]


def h(label, *parts):
    d = hashlib.sha256(b"sealed-box/v1/" + label.encode())
    for p in parts:
        d.update(struct.pack(">I", len(p)))
        d.update(p)
    return d.digest()


def split_addr(addr):
    if not isinstance(addr, str) or addr.count("/") != 1:
        raise Rejected(f"malformed device address {addr!r}")
    user, device = addr.split("/")
    if not user or not device:
        raise Rejected(f"malformed device address {addr!r}")
    return user, device


def event(kind, user, device):
    return (kind, user, device)


def events_json(events):
    ordered = sorted(events, key=lambda e: (EVENT_ORDER.index(e[0]), e[1], e[2] or ""))
    return [{"kind": k, "user": u, "device": d} for (k, u, d) in ordered]


def held(events):
    """What the user is only now being told about, by the notices `events`
    of a send: (devices, users). It gets this message not (a notice while
    the message goes out would come too late), but the next one."""
    held_devices = {e[2] for e in events if e[0] in ("device-added", "identity-changed") and e[2]}
    held_users = {e[1] for e in events if e[0] == "member-added"}
    return held_devices, held_users


def x_raw(pub):
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --- wire format -------------------------------------------------------------


def lp(b):
    return struct.pack(">I", len(b)) + b


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def raw(self, n, what):
        if n < 0 or self.pos + n > len(self.data):
            raise Rejected(f"envelope too short ({what})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def lp(self, what):
        (n,) = struct.unpack(">I", self.raw(4, what))
        if n > MAX_FIELD:
            raise Rejected(f"implausible length for {what}")
        return self.raw(n, what)

    def text(self, what):
        try:
            return self.lp(what).decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(f"{what} is not UTF-8")


# --- the device --------------------------------------------------------------


class Device:
    """One device's whole state. Everything is plain data (bytes, ints, str,
    dicts, sets), so a deep copy is an independent fork and the JSON form is
    the exported state."""

    # What `seal` writes: the envelope's first bytes, the label its
    # signature covers first, and the HKDF label of its keys (tricks puts
    # its own).
    magic = MAGIC
    sign_context = SIGN_CONTEXT
    seal_label = SEAL_LABEL

    def __init__(self, addr, seed):
        self.addr = addr
        self.seed = seed
        self.rng_key = h("rng-init", seed)
        self.rng_counter = 0
        self.counter = 0  # messages sent
        self.identities = {}  # addr -> identity bytes (seen)
        self.devices = {}  # user -> set of device names (seen)
        self.conversations = {}  # conversation -> set of members (seen)
        self.listed = set()  # users whose device list this client was served
        self.verified = {}  # addr -> identity bytes (pinned by the user)
        self.replay = set()  # (sender addr, sender identity hex, counter)
        self._derive_keys()

    def _derive_keys(self):
        self.sign_key = Ed25519PrivateKey.from_private_bytes(h("ed25519", self.seed))
        self.x_key = X25519PrivateKey.from_private_bytes(h("x25519", self.seed))
        self.identity = (
            self.sign_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            + x_raw(self.x_key.public_key())
        )

    # randomness

    def draw(self, n):
        out = b""
        while len(out) < n:
            out += h("rng-block", self.rng_key, struct.pack(">Q", self.rng_counter))
            self.rng_counter += 1
        return out[:n]

    def add_entropy(self, entropy):
        self.rng_key = h("rng-reseed", self.rng_key, struct.pack(">Q", self.rng_counter), entropy)
        self.rng_counter = 0

    # state

    def to_json(self):
        return {
            "v": 1,
            "addr": self.addr,
            "seed": b64e(self.seed),
            "rng_key": b64e(self.rng_key),
            "rng_counter": self.rng_counter,
            "counter": self.counter,
            "identities": {a: b64e(i) for a, i in sorted(self.identities.items())},
            "devices": {u: sorted(d) for u, d in sorted(self.devices.items())},
            "conversations": {c: sorted(m) for c, m in sorted(self.conversations.items())},
            "verified": {a: b64e(i) for a, i in sorted(self.verified.items())},
            "replay": sorted([a, i, c] for (a, i, c) in self.replay),
            "listed": sorted(self.listed),
        }

    @classmethod
    def from_json(cls, j, addr=None):
        if not isinstance(j, dict) or j.get("v") != 1:
            raise Rejected("not a sealed-box state")
        seed = base64.b64decode(j["seed"], validate=True)
        if len(seed) != 32:
            raise Rejected("state seed is not 32 bytes")
        d = cls(addr or j["addr"], seed)
        d.rng_key = base64.b64decode(j["rng_key"], validate=True)
        d.rng_counter = int(j["rng_counter"])
        d.counter = int(j["counter"])
        d.identities = {a: base64.b64decode(i, validate=True) for a, i in j["identities"].items()}
        d.devices = {u: set(ds) for u, ds in j["devices"].items()}
        d.conversations = {c: set(ms) for c, ms in j["conversations"].items()}
        d.verified = {a: base64.b64decode(i, validate=True) for a, i in j["verified"].items()}
        d.replay = {(a, i, int(c)) for a, i, c in j["replay"]}
        d.listed = set(j.get("listed", []))
        return d

    def fork(self):
        return Device.from_json(copy.deepcopy(self.to_json()))

    # what the client remembers to show (trust on first use)

    def seen_identity(self, peer, identity, events):
        old = self.identities.get(peer)
        self.identities[peer] = identity
        if old is not None and old != identity:
            user, _ = split_addr(peer)
            events.add(event("identity-changed", user, peer))

    def seen_directory(self, entries, events):
        me_user, me_dev = split_addr(self.addr)
        served = {}
        for peer, identity in entries:
            user, dev = split_addr(peer)
            if peer != self.addr:
                self.seen_identity(peer, identity, events)
            served.setdefault(user, set()).add(dev)
        if me_user in served:
            served[me_user].add(me_dev)
        for user, now in served.items():
            known = self.devices.get(user)
            first_list = user not in self.listed
            self.listed.add(user)
            if known is None:
                self.devices[user] = set(now)
                continue
            if first_list:
                # The first list served for a user is first sight too.
                self.devices[user] = set(now) | known
                continue
            for dev in sorted(now - known):
                events.add(event("device-added", user, f"{user}/{dev}"))
            for dev in sorted(known - now):
                events.add(event("device-removed", user, f"{user}/{dev}"))
            self.devices[user] = set(now)

    def seen_sender(self, peer, identity, events):
        self.seen_identity(peer, identity, events)
        user, dev = split_addr(peer)
        known = self.devices.get(user)
        if known is None:
            first = {dev}
            me_user, me_dev = split_addr(self.addr)
            if user == me_user:
                first.add(me_dev)
            self.devices[user] = first
        elif dev not in known:
            known.add(dev)
            events.add(event("device-added", user, peer))

    def seen_members(self, conversation, members, events):
        now = set(members)
        known = self.conversations.get(conversation)
        if known is not None:
            for user in sorted(now - known):
                events.add(event("member-added", user, None))
            for user in sorted(known - now):
                events.add(event("member-removed", user, None))
        self.conversations[conversation] = now

    # operations

    def publish(self):
        return {"identity": b64e(self.identity), "prekey": "", "one_time": []}

    def verify(self, contact, identity):
        user, _ = split_addr(contact)
        events = set()
        known = self.identities.get(contact)
        if known is not None and known != identity:
            events.add(event("identity-changed", user, contact))
        self.verified[contact] = identity
        return events

    def prepare(self, conversation, members, recipients, plaintext):
        """What every send starts with: the served entries checked and
        remembered (the notices they give), and the payload to seal."""
        events = set()
        entries = []
        for r in recipients:
            if not isinstance(r, dict):
                raise Rejected("a recipient entry is not an object")
            addr = r.get("device")
            split_addr(addr)
            entries.append((addr, b64d(r.get("identity"), f"identity of {addr}")))
        self.seen_members(conversation, members, events)
        self.seen_directory(entries, events)
        self.counter += 1
        payload = json.dumps(
            {"conversation": conversation, "members": sorted(members), "counter": self.counter,
             "plaintext": b64e(plaintext)},
            sort_keys=True, separators=(",", ":"),
        ).encode()
        return events, entries, payload

    def encrypt(self, conversation, members, recipients, plaintext):
        events, entries, payload = self.prepare(conversation, members, recipients, plaintext)
        held_devices, held_users = held(events)
        envelopes = self.seal_all(entries, events, held_devices, held_users, conversation, payload)
        return {"envelopes": envelopes, "events": events_json(events)}

    def seal_all(self, entries, events, held_devices, held_users, conversation, payload):
        """The envelopes of one message: one for every served device but
        this one and those held back (by address, or by user); a verified
        contact under another identity gets none, and a notice in `events`."""
        envelopes = []
        done = set()
        for addr, identity in entries:
            if addr == self.addr or addr in done:
                continue
            if addr in held_devices or split_addr(addr)[0] in held_users:
                continue
            done.add(addr)
            pinned = self.verified.get(addr)
            if pinned is not None and pinned != identity:
                # A verified contact's safety number changed: warn, send nothing.
                user, _ = split_addr(addr)
                events.add(event("identity-changed", user, addr))
                continue
            envelopes.append({"to": [addr], "body": b64e(self.seal(addr, identity, conversation, payload))})
        return envelopes

    def seal(self, addr, identity, conversation, payload):
        if len(identity) != 64:
            raise Rejected(f"identity served for {addr} is {len(identity)} bytes, not 64")
        peer_x = X25519PublicKey.from_public_bytes(identity[32:])
        eph = X25519PrivateKey.from_private_bytes(self.draw(32))
        eph_pub = x_raw(eph.public_key())
        shared = self.exchange(eph, peer_x, addr)
        header = (
            self.magic + self.identity + identity + eph_pub
            + lp(self.addr.encode()) + lp(addr.encode()) + lp(conversation.encode())
        )
        key, nonce = self.envelope_keys(shared, eph_pub, identity[32:], header)
        signed = header + lp(ChaCha20Poly1305(key).encrypt(nonce, payload, header))
        return signed + self.sign_key.sign(self.sign_context + signed)

    def exchange(self, eph, peer_x, addr):
        """The secret of ephemeral key `eph` and recipient `addr`'s X25519
        key `peer_x`; `Rejected` if the exchange is degenerate."""
        try:
            return eph.exchange(peer_x)
        except ValueError:
            raise Rejected(f"identity served for {addr} has a degenerate X25519 key")

    def envelope_keys(self, shared, eph_pub, recipient_x, header):
        """The AEAD key and nonce of an envelope: `kdf` under `seal_label`."""
        return kdf(shared, eph_pub, recipient_x, header, self.seal_label)

    def decrypt(self, sender_claimed, conversation, body):
        r = Reader(body)
        if r.raw(len(MAGIC), "magic") != MAGIC:
            raise Rejected("not a sealed-box envelope")
        sender_identity = r.raw(64, "sender identity")
        recipient_identity = r.raw(64, "recipient identity")
        eph_pub = r.raw(32, "ephemeral key")
        sender = r.text("sender address")
        recipient = r.text("recipient address")
        conv = r.text("conversation")
        header = body[:r.pos]
        ciphertext = r.lp("ciphertext")
        signed_len = r.pos
        signature = r.raw(64, "signature")
        if r.pos != len(body):
            raise Rejected("trailing bytes after the signature")
        if recipient != self.addr or recipient_identity != self.identity:
            raise Rejected("not addressed to this device")
        if sender != sender_claimed:
            raise Rejected(f"envelope is from {sender}, not from {sender_claimed}")
        if conv != conversation:
            raise Rejected(f"envelope of conversation {conv!r} delivered in {conversation!r}")
        split_addr(sender)
        try:
            Ed25519PublicKey.from_public_bytes(sender_identity[:32]).verify(signature, SIGN_CONTEXT + body[:signed_len])
        except InvalidSignature:
            raise Rejected("bad signature")
        pinned = self.verified.get(sender)
        if pinned is not None and pinned != sender_identity:
            raise Rejected(f"{sender} is verified with another identity")
        try:
            shared = self.x_key.exchange(X25519PublicKey.from_public_bytes(eph_pub))
        except ValueError:
            raise Rejected("degenerate ephemeral key")
        key, nonce = kdf(shared, eph_pub, self.identity[32:], header)
        try:
            payload = json.loads(ChaCha20Poly1305(key).decrypt(nonce, ciphertext, header))
        except InvalidTag:
            raise Rejected("bad authentication tag")
        if payload.get("conversation") != conversation:
            raise Rejected("payload belongs to another conversation")
        counter = payload["counter"]
        members = payload["members"]
        if not isinstance(counter, int) or not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise Rejected("malformed payload")
        plaintext = b64d(payload["plaintext"], "payload plaintext")
        seen = (sender, sender_identity.hex(), counter)
        if seen in self.replay:
            raise Rejected(f"replay of message {counter} from {sender}")
        # Authenticated: remember, and show what changed.
        self.replay.add(seen)
        events = set()
        self.seen_sender(sender, sender_identity, events)
        self.seen_members(conversation, members, events)
        return {"plaintext": b64e(plaintext), "sender": sender, "events": events_json(events)}


def kdf(shared, eph_pub, recipient_x, header, label=SEAL_LABEL):
    """The AEAD key and nonce of an envelope, from the exchange's secret and
    what the envelope binds, under HKDF info label `label`."""
    okm = HKDF(
        algorithm=hashes.SHA256(), length=44, salt=None,
        info=label + eph_pub + recipient_x + hashlib.sha256(header).digest(),
    ).derive(shared)
    return okm[:32], okm[32:]


# --- known answers -----------------------------------------------------------


def known_answer(op, req):
    """One `kat_*` operation on the primitives the design uses. A refused
    input is `Rejected`; an operation on a primitive not offered is
    `Unsupported`."""
    if op == "kat_x25519":
        private, public = b64d(req.get("private"), "private"), b64d(req.get("public"), "public")
        try:
            key = X25519PrivateKey.from_private_bytes(private)
            peer = X25519PublicKey.from_public_bytes(public)
        except ValueError as e:
            raise Rejected(f"X25519 key: {e}")
        try:
            return {"shared": b64e(key.exchange(peer))}
        except ValueError:
            raise Rejected("low-order X25519 public key (all-zero shared secret)")
    if op == "kat_ed25519_verify":
        public, msg, sig = (b64d(req.get(f), f) for f in ("public", "msg", "sig"))
        try:
            key = Ed25519PublicKey.from_public_bytes(public)
        except ValueError as e:
            raise Rejected(f"Ed25519 public key: {e}")
        try:
            key.verify(sig, msg)
            return {"valid": True}
        except InvalidSignature:
            return {"valid": False}
    if op in ("kat_aead_seal", "kat_aead_open"):
        if req.get("alg") != "chacha20-poly1305":
            raise Unsupported(f"AEAD {req.get('alg')!r} is not offered by {NAME}")
        key, nonce, aad = (b64d(req.get(f), f) for f in ("key", "nonce", "aad"))
        if len(key) != 32:
            raise Rejected(f"ChaCha20-Poly1305 key: expected 32 bytes, got {len(key)}")
        if len(nonce) != 12:
            raise Rejected(f"ChaCha20-Poly1305 nonce: expected 12 bytes, got {len(nonce)}")
        aead = ChaCha20Poly1305(key)
        if op == "kat_aead_seal":
            return {"ct": b64e(aead.encrypt(nonce, b64d(req.get("msg"), "msg"), aad))}
        try:
            return {"msg": b64e(aead.decrypt(nonce, b64d(req.get("ct"), "ct"), aad))}
        except InvalidTag:
            raise Rejected("ChaCha20-Poly1305 tag does not verify")
    if op == "kat_hkdf_sha256":
        ikm, salt, info = (b64d(req.get(f), f) for f in ("ikm", "salt", "info"))
        length = req.get("len")
        if type(length) is not int or length < 0:
            raise Failed(f"len is {length!r}: expected a non-negative integer")
        try:
            return {"okm": b64e(HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm))}
        except ValueError as e:
            raise Rejected(f"HKDF-SHA256: {e}")
    raise Unsupported(f"operation {op!r} is not offered by {NAME}")


# --- the protocol ------------------------------------------------------------


class Adapter(common.Handles):
    name = NAME
    # The client state this adapter makes, and the design its refusal of a
    # state that does not load names (tricks puts its own).
    device_class = Device
    state_name = NAME

    def encrypt_options(self, req):
        """Keyword arguments of `Device.encrypt` beyond the request's
        conversation, members, recipients and plaintext: none here."""
        return {}

    def handle(self, req):
        op = req.get("op")
        if op == "hello":
            return {"protocol": 1, "name": NAME, "version": VERSION,
                    "capabilities": {"export_state": True}, "authorities": [], "primitives": KAT_PRIMITIVES}
        if op == "create_device":
            seed = b64d(req.get("seed"), "seed")
            if len(seed) != 32:
                raise Failed(f"seed is {len(seed)} bytes, not 32")
            split_addr(req.get("addr"))
            return {"device": self.add(self.device_class(req["addr"], seed))}
        if op == "import_device":
            split_addr(req.get("addr"))
            raw = b64d(req.get("state"), "state")
            try:
                dev = self.device_class.from_json(json.loads(raw), req["addr"])
            except Rejected:
                raise
            except Exception as e:
                raise Rejected(f"not a {self.state_name} state: {e}")
            return {"device": self.add(dev)}
        if op == "publish":
            return self.device(req).publish()
        if op == "encrypt":
            dev = self.device(req)
            conversation, members = req.get("conversation"), req.get("members")
            recipients = req.get("recipients")
            if not isinstance(conversation, str) or not isinstance(members, list) \
                    or not all(isinstance(m, str) for m in members) or not isinstance(recipients, list):
                raise Failed("malformed encrypt request")
            plaintext = b64d(req.get("plaintext"), "plaintext")
            work = dev.fork()  # all or nothing: keep the copy only on success
            out = work.encrypt(conversation, members, recipients, plaintext, **self.encrypt_options(req))
            self.devices[req["device"]] = work
            return out
        if op == "export_state":
            state = json.dumps(self.device(req).to_json(), sort_keys=True, separators=(",", ":")).encode()
            return {"state": b64e(state)}
        if op == "add_entropy":
            self.device(req).add_entropy(b64d(req.get("entropy"), "entropy"))
            return {}
        if op == "verify":
            dev = self.device(req)
            contact = req.get("contact")
            split_addr(contact)
            return {"events": events_json(dev.verify(contact, b64d(req.get("identity"), "identity")))}
        if op == "provider_push":
            self.device(req)
            return {}
        if isinstance(op, str) and op.startswith("kat_"):
            return known_answer(op, req)
        return super().handle(req)  # decrypt, fork, drop_device; or unsupported


def main():
    common.serve(Adapter())


if __name__ == "__main__":
    main()
