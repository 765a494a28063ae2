#!/usr/bin/env python3
"""An independent implementation of the doormat-ratchet-v1 protocol, written
from its description in vectors/README.md ("Protocol known answers") on the
`cryptography` package, that checks itself against the protocol's known
answers (vectors/kat/ratchet-protocol.yaml).

It shares no code with doormat: if it agrees with the file byte for byte,
the description is complete enough to re-implement the protocol.

Usage: ratchet_v1.py [FILE]   (default: vectors/kat/ratchet-protocol.yaml)
Prints one line per function and exits 0 when every case agrees, 1 when one
does not, 2 on a file it cannot read.
"""

import hashlib
import hmac
import struct
import sys
from pathlib import Path

import yaml
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

INFO_X3DH = b"doormat ratchet v1 X3DH"
INFO_ROOT = b"doormat ratchet v1 root chain"
INFO_MESSAGE = b"doormat ratchet v1 message key"
SIGNED_PREKEY_LABEL = b"doormat ratchet v1 signed prekey"
AD_LABEL = b"doormat ratchet v1 message"
ONE_TIME_PREKEYS = 100


class Refused(Exception):
    """The protocol refuses this input."""


# --- primitives -------------------------------------------------------------

def raw(public):
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def x_public(secret):
    return raw(X25519PrivateKey.from_private_bytes(secret).public_key())


def dh(secret, public):
    try:
        out = X25519PrivateKey.from_private_bytes(secret).exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError as e:  # cryptography refuses an all-zero result
        raise Refused(f"X25519: {e}") from e
    if out == bytes(32):
        raise Refused("X25519: all-zero shared secret")
    return out


def ed_public(signing):
    return raw(Ed25519PrivateKey.from_private_bytes(signing).public_key())


def hkdf(salt, ikm, info, n):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(ikm)


def hmac1(key, byte):
    return hmac.new(key, bytes([byte]), hashlib.sha256).digest()


class Rng:
    """A device's generator: the ChaCha20 keystream under the seed, nonce 0."""

    def __init__(self, seed):
        self.stream = Cipher(algorithms.ChaCha20(seed, bytes(16)), mode=None).encryptor()

    def secret(self):
        return self.stream.update(bytes(32))


def be32(n):
    return struct.pack(">I", n)


def framed(b):
    return be32(len(b)) + b


# --- the key schedule -------------------------------------------------------

def x3dh_secret(dhs):
    return hkdf(bytes(32), b"\xff" * 32 + b"".join(dhs), INFO_X3DH, 32)


def kdf_root(root, dh_out):
    out = hkdf(root, dh_out, INFO_ROOT, 64)
    return out[:32], out[32:]


def kdf_chain(chain):
    return hmac1(chain, 0x02), hmac1(chain, 0x01)


def message_key(mk):
    out = hkdf(bytes(32), mk, INFO_MESSAGE, 44)
    return out[:32], out[32:]


def seal(mk, ad, plaintext):
    key, nonce = message_key(mk)
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, ad)


def open_(mk, ad, ciphertext):
    key, nonce = message_key(mk)
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, ad)
    except InvalidTag as e:
        raise Refused("message does not authenticate") from e


# --- devices and X3DH ---------------------------------------------------------

class Device:
    def __init__(self, user, device, seed):
        self.user, self.device = user.encode(), device.encode()
        self.rng = Rng(seed)
        self.signing_key = self.rng.secret()
        self.identity_key = self.rng.secret()
        self.signed_prekey = self.rng.secret()
        self.one_time = {i: self.rng.secret() for i in range(1, ONE_TIME_PREKEYS + 1)}
        self.identity = ed_public(self.signing_key) + x_public(self.identity_key)
        spk = x_public(self.signed_prekey)
        sig = Ed25519PrivateKey.from_private_bytes(self.signing_key).sign(SIGNED_PREKEY_LABEL + spk)
        self.prekey = spk + sig
        self.sessions = {}

    def one_time_item(self, i):
        return be32(i) + x_public(self.one_time[i])


def parse_entry(identity, prekey, one_time):
    if len(identity) != 64 or len(prekey) != 96:
        raise Refused("identity or prekey of the wrong length")
    spk, sig = prekey[:32], prekey[32:]
    try:
        Ed25519PublicKey.from_public_bytes(identity[:32]).verify(sig, SIGNED_PREKEY_LABEL + spk)
    except (InvalidSignature, ValueError) as e:
        raise Refused("signed prekey signature does not verify") from e
    otk = None
    if one_time is not None:
        if len(one_time) != 36:
            raise Refused("one-time prekey of the wrong length")
        otk = (struct.unpack(">I", one_time[:4])[0], one_time[4:])
    return identity[32:], spk, otk


def x3dh_initiator(identity_key, ephemeral, peer_identity, peer_prekey, peer_one_time):
    ik_b, spk_b, otk = parse_entry(peer_identity, peer_prekey, peer_one_time)
    dhs = [dh(identity_key, spk_b), dh(ephemeral, ik_b), dh(ephemeral, spk_b)]
    if otk is not None:
        dhs.append(dh(ephemeral, otk[1]))
    return x3dh_secret(dhs), spk_b, otk


def x3dh_responder(identity_key, signed_prekey, one_time, peer_identity, base_key):
    ik_a = peer_identity[32:]
    dhs = [dh(signed_prekey, ik_a), dh(identity_key, base_key), dh(signed_prekey, base_key)]
    if one_time is not None:
        dhs.append(dh(one_time, base_key))
    return x3dh_secret(dhs)


# --- sessions and envelopes -------------------------------------------------

class Session:
    def __init__(self, root, dh_self, dh_remote, peer_identity):
        self.root, self.dh_self, self.dh_remote = root, dh_self, dh_remote
        self.peer_identity = peer_identity
        self.chain_send = self.chain_recv = None
        self.n_send = self.n_recv = self.prev_send = 0
        self.initiation = None

    def next_send(self):
        self.chain_send, mk = kdf_chain(self.chain_send)
        header = x_public(self.dh_self) + be32(self.prev_send) + be32(self.n_send)
        self.n_send += 1
        return header, mk

    def receive(self, header, rng):
        """The message key of an in-order message (all this check needs)."""
        remote, n = header[:32], struct.unpack(">I", header[36:40])[0]
        if remote != self.dh_remote:
            self.prev_send, self.n_send, self.n_recv = self.n_send, 0, 0
            self.dh_remote = remote
            self.root, self.chain_recv = kdf_root(self.root, dh(self.dh_self, remote))
            self.dh_self = rng.secret()
            self.root, self.chain_send = kdf_root(self.root, dh(self.dh_self, remote))
        if n != self.n_recv:
            raise Refused("out-of-order message (not needed by the known answers)")
        self.chain_recv, mk = kdf_chain(self.chain_recv)
        self.n_recv += 1
        return mk


def associated_data(sender_identity, receiver_identity, sender, receiver, conversation, prefix):
    fields = [sender_identity, receiver_identity, sender.user, sender.device,
              receiver.user, receiver.device, conversation, prefix]
    return AD_LABEL + b"".join(framed(f) for f in fields)


def payload(conversation, members, plaintext):
    return framed(conversation) + be32(len(members)) + b"".join(framed(m) for m in members) + framed(plaintext)


def send(sender, receiver, plaintext, one_time):
    conversation, members = b"alice+bob", [b"alice", b"bob"]
    key = (receiver.user, receiver.device)
    if key not in sender.sessions:
        ephemeral = sender.rng.secret()
        otk = receiver.one_time_item(one_time) if one_time else None
        secret, spk_b, otk = x3dh_initiator(sender.identity_key, ephemeral, receiver.identity, receiver.prekey, otk)
        dh_self = sender.rng.secret()
        s = Session(None, dh_self, spk_b, receiver.identity)
        s.root, s.chain_send = kdf_root(secret, dh(dh_self, spk_b))
        s.initiation = (x_public(ephemeral), spk_b, otk[0] if otk else None)
        sender.sessions[key] = s
    s = sender.sessions[key]
    header, mk = s.next_send()
    body = b"\x01"
    if s.initiation:
        base, spk, otk_id = s.initiation
        body += b"\x02" + sender.identity + base + spk
        body += (b"\x01" + be32(otk_id)) if otk_id is not None else b"\x00"
        body += framed(sender.user) + framed(sender.device)
    else:
        body += b"\x01"
    body += header
    ad = associated_data(sender.identity, receiver.identity, sender, receiver, conversation, body)
    body += seal(mk, ad, payload(conversation, members, plaintext))
    receive(receiver, sender, body, conversation, members, plaintext)
    return body


def receive(receiver, sender, body, conversation, members, expected):
    """Opens `body` on the receiver's side, as the receiving device would."""
    key = (sender.user, sender.device)
    if body[1] == 2:
        at = 2 + 64
        base, spk = body[at:at + 32], body[at + 32:at + 64]
        at += 64
        otk = None
        if body[at] == 1:
            otk = receiver.one_time[struct.unpack(">I", body[at + 1:at + 5])[0]]
            at += 5
        else:
            at += 1
        for _ in range(2):
            (n,) = struct.unpack(">I", body[at:at + 4])
            at += 4 + n
        if spk != x_public(receiver.signed_prekey):
            raise Refused("unknown signed prekey")
        secret = x3dh_responder(receiver.identity_key, receiver.signed_prekey, otk, sender.identity, base)
        receiver.sessions[key] = Session(secret, receiver.signed_prekey, None, sender.identity)
    else:
        at = 2
    header, ciphertext = body[at:at + 40], body[at + 40:]
    s = receiver.sessions[key]
    mk = s.receive(header, receiver.rng)
    ad = associated_data(sender.identity, receiver.identity, sender, receiver, conversation, body[:at + 40])
    s.initiation = None  # an answered session stops repeating its initiation
    got = open_(mk, ad, ciphertext)
    if got != payload(conversation, members, expected):
        raise Refused("the payload read back differs")


def conversation(i):
    alice = Device("alice", "phone", i["alice_seed"])
    bob = Device("bob", "phone", i["bob_seed"])
    body1 = send(alice, bob, i["m1"], one_time=1)
    body2 = send(bob, alice, i["m2"], one_time=None)
    body3 = send(alice, bob, i["m3"], one_time=None)
    return {"body1": body1, "body2": body2, "body3": body3}


# --- the functions of the known-answer file --------------------------------

def device_keys(i):
    d = Device("kat", "device", i["seed"])
    return {
        "signing_key": d.signing_key, "identity_key": d.identity_key, "signed_prekey": d.signed_prekey,
        "one_time_key": d.one_time[1], "identity": d.identity, "prekey": d.prekey, "one_time": d.one_time_item(1),
    }


def initiator(i):
    secret, _, _ = x3dh_initiator(i["identity_key"], i["ephemeral"], i["peer_identity"], i["peer_prekey"],
                                  i.get("peer_one_time"))
    return {"secret": secret, "base_key": x_public(i["ephemeral"])}


FUNCTIONS = {
    "device-keys": device_keys,
    "x3dh-initiator": initiator,
    "x3dh-responder": lambda i: {"secret": x3dh_responder(i["identity_key"], i["signed_prekey"], i.get("one_time"),
                                                          i["peer_identity"], i["base_key"])},
    "kdf-root": lambda i: dict(zip(("root", "chain"), kdf_root(i["root"], i["dh"]))),
    "kdf-chain": lambda i: dict(zip(("chain", "message_key"), kdf_chain(i["chain"]))),
    "message-key": lambda i: dict(zip(("key", "nonce"), message_key(i["message_key"]))),
    "seal": lambda i: {"ciphertext": seal(i["message_key"], i["ad"], i["plaintext"])},
    "open": lambda i: {"plaintext": open_(i["message_key"], i["ad"], i["ciphertext"])},
    "conversation": conversation,
}


def unhex(m):
    return {k: bytes.fromhex("".join(str(v).split())) for k, v in (m or {}).items()}


def main(argv):
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[3] / "vectors/kat/ratchet-protocol.yaml"
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        print(f"ratchet_v1.py: cannot read {path}: {e}", file=sys.stderr)
        return 2
    if doc.get("protocol") != "doormat-ratchet-v1":
        print(f"ratchet_v1.py: {path} is not a doormat-ratchet-v1 file", file=sys.stderr)
        return 2
    failed = 0
    for group in doc["testGroups"]:
        function = FUNCTIONS[group["function"]]
        agreed = 0
        for t in group["tests"]:
            want, valid = unhex(t.get("outputs")), t["result"] == "valid"
            try:
                got = function(unhex(t["inputs"]))
                ok = valid and got == want
                why = "" if ok else ("accepted an invalid case" if not valid else
                                     f"differs in {sorted(k for k in want.keys() | got.keys() if got.get(k) != want.get(k))}")
            except Refused as e:
                ok, why = not valid, f"refused: {e}"
            if ok:
                agreed += 1
            else:
                failed += 1
                print(f"DISAGREES: {group['function']} tcId {t['tcId']} ({t['comment']}): {why}")
        print(f"{group['function']}: {agreed}/{len(group['tests'])} agree")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
