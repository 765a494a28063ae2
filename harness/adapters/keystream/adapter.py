#!/usr/bin/env python3
"""keystream: a deliberately FLAWED design for doormat's exec protocol
(harness/exec/PROTOCOL.md, version 1), on `cryptography`.

It looks careful: long-term X25519 keys per device, a key per pair of devices
from X25519 and HKDF-SHA256, AES-256 in counter mode, and an HMAC-SHA256 tag
over the whole envelope (encrypt-then-MAC), checked before anything is
decrypted. Its flaw: the counter block (nonce) is derived from the two
devices' addresses alone, so every message from one device to another is
XORed with the same keystream. Every tag verifies and every message is
delivered, but the envelopes of two messages XOR to the XOR of their texts:
a provider who knows or guesses one message reads the others (a two-time
pad). This example exists to show that doormat catches keystream reuse
behind a valid MAC (`harness/cli/tests/cli/keystream_exec.rs`).

Keys. A device's X25519 private key is SHA-256 of a label and its seed; its
published identity is the public key (32 bytes). No prekeys, no one-time
keys.

Envelope body:
    MAGIC (4) || header length (u32 BE) || header (JSON: from, to,
    conversation, counter) || ciphertext || HMAC-SHA256 tag (32)
with the tag over every byte before it. The ciphertext is AES-256-CTR of
the bare plaintext under the pair's key and the pair's fixed counter block.

Receiving. A device refuses (`rejected`) anything that does not parse, is
not addressed to it, names another sender or conversation, has a tag that
does not verify, or repeats a (sender, counter) pair already seen. No
notices are shown, and state cannot be exported.

Randomness: none is needed (that is the flaw); `add_entropy` is accepted
and ignored. No os.urandom, no clock.
"""

import hashlib
import hmac
import json
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402  (the shared protocol code, in the folder above)
from common import Rejected, b64d, b64e  # noqa: E402

NAME = "keystream"
MAGIC = b"KS01"


def raw_public(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def pair_keys(private, peer_public, a, b):
    """The encryption key, MAC key and counter block of the pair (a, b): the
    same for every message between them, in either direction."""
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError as e:
        raise Rejected(f"X25519: {e}")
    low, high = sorted([a, b])
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=None,
               info=b"keystream/v1/pair\n" + low.encode() + b"\n" + high.encode()).derive(shared)
    # The flaw: the counter block depends on the addresses alone.
    nonce = hashlib.sha256(b"keystream/v1/nonce\n" + a.encode() + b"\n" + b.encode()).digest()[:16]
    return okm[:32], okm[32:], nonce


def ctr(key, nonce, data):
    enc = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
    return enc.update(data) + enc.finalize()


class Device:
    def __init__(self, addr, seed):
        self.addr = addr
        self.seed = seed
        self.key = X25519PrivateKey.from_private_bytes(hashlib.sha256(b"keystream/v1/x25519" + seed).digest())
        self.identity = raw_public(self.key)
        self.sent = 0
        self.seen = set()
        self.peers = {}  # sender address -> identity (from the sender's envelopes)

    def fork(self):
        d = Device(self.addr, self.seed)
        d.sent = self.sent
        d.seen = set(self.seen)
        d.peers = dict(self.peers)
        return d

    def encrypt(self, conversation, recipients, plaintext):
        self.sent += 1
        envelopes = []
        done = set()
        for r in recipients:
            if not isinstance(r, dict):
                raise Rejected("a recipient entry is not an object")
            to = r.get("device")
            if not isinstance(to, str) or to == self.addr or to in done:
                continue
            done.add(to)
            identity = b64d(r.get("identity"), f"identity of {to}")
            if len(identity) != 32:
                raise Rejected(f"identity of {to} is {len(identity)} bytes, not 32")
            enc_key, mac_key, nonce = pair_keys(self.key, identity, self.addr, to)
            header = json.dumps({"from": self.addr, "to": to, "conversation": conversation,
                                 "counter": self.sent, "identity": b64e(self.identity)},
                                sort_keys=True, separators=(",", ":")).encode()
            body = MAGIC + struct.pack(">I", len(header)) + header + ctr(enc_key, nonce, plaintext)
            body += hmac.new(mac_key, body, hashlib.sha256).digest()
            envelopes.append({"to": [to], "body": b64e(body)})
        return {"envelopes": envelopes, "events": []}

    def decrypt(self, claimed_from, conversation, body):
        if body[:4] != MAGIC or len(body) < 8 + 32:
            raise Rejected("not a keystream envelope")
        (n,) = struct.unpack(">I", body[4:8])
        if 8 + n + 32 > len(body):
            raise Rejected("envelope too short")
        header = json.loads(body[8:8 + n])
        if not isinstance(header, dict):
            raise Rejected("header is not an object")
        if header.get("to") != self.addr:
            raise Rejected("not addressed to this device")
        sender = header.get("from")
        if sender != claimed_from:
            raise Rejected(f"envelope is from {sender!r}, not {claimed_from!r}")
        if header.get("conversation") != conversation:
            raise Rejected("envelope belongs to another conversation")
        identity = b64d(header.get("identity"), "sender identity")
        if len(identity) != 32:
            raise Rejected("sender identity is not 32 bytes")
        enc_key, mac_key, nonce = pair_keys(self.key, identity, sender, self.addr)
        if not hmac.compare_digest(body[-32:], hmac.new(mac_key, body[:-32], hashlib.sha256).digest()):
            raise Rejected("tag does not verify")
        counter = header.get("counter")
        if type(counter) is not int:
            raise Rejected("counter is not an integer")
        if (sender, counter) in self.seen:
            raise Rejected("replay")
        self.seen.add((sender, counter))
        return {"plaintext": b64e(ctr(enc_key, nonce, body[8 + n:-32])), "sender": sender, "events": []}


class Adapter(common.Handles):
    name = NAME
    # Plain exceptions, as this example has always raised for requests it
    # cannot serve: the `failed` message starts with `Exception`.
    failure = Exception

    def handle(self, req):
        op = req.get("op")
        if op == "hello":
            return {"protocol": 1, "name": NAME, "version": "0.1",
                    "capabilities": {"export_state": False}, "authorities": []}
        if op == "create_device":
            seed = b64d(req.get("seed"), "seed")
            if len(seed) != 32 or not isinstance(req.get("addr"), str):
                raise Exception("bad create_device request")
            return {"device": self.add(Device(req["addr"], seed))}
        if op == "publish":
            return {"identity": b64e(self.device(req).identity), "prekey": "", "one_time": []}
        if op == "encrypt":
            dev = self.device(req)
            recipients = req.get("recipients")
            if not isinstance(req.get("conversation"), str) or not isinstance(recipients, list):
                raise Exception("malformed encrypt request")
            work = dev.fork()
            out = work.encrypt(req["conversation"], recipients, b64d(req.get("plaintext"), "plaintext"))
            self.devices[req["device"]] = work
            return out
        if op == "add_entropy":
            self.device(req)
            return {}
        if op == "verify":
            self.device(req)
            return {"events": []}
        if op == "provider_push":
            self.device(req)
            return {}
        return super().handle(req)  # decrypt, fork, drop_device; or unsupported


def main():
    common.serve(Adapter())


if __name__ == "__main__":
    main()
