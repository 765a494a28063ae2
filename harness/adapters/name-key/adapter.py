#!/usr/bin/env python3
# name-key: a deliberately LEAKY messaging design, for doormat's exec protocol
# (harness/exec/PROTOCOL.md, version 1). Python standard library only.
#
# The "encryption key" of a conversation is SHA-256 of its members' user
# names, sorted (for a one-to-one conversation: the two names). The message
# is XORed with a SHA-256 counter-mode keystream under that key and a random
# nonce, and an HMAC-SHA256 tag is appended. The provider sees no plaintext,
# but anyone who knows who talks to whom (the provider, any other client of
# the design, a removed member) can compute the key and read everything.
# The key never depended on any secret. One envelope per message goes to all
# recipient devices; it names the members in clear so receivers can derive
# the key.
#
# Envelope body: b"NK1" || header length (u32 BE) || header (JSON: from,
# conversation, members, counter, nonce) || ciphertext || HMAC tag (32).
#
# Apart from that weakness it behaves: it answers every request in order,
# rejects garbage, tampered envelopes and replays, and draws its nonces from
# the seed and add_entropy (no os.urandom, no clock). It shows no notices and
# cannot export a device's state.

import base64
import hashlib
import hmac
import json
import struct
import sys

MAGIC = b"NK1"

devices = {}  # handle -> {"addr", "rng", "sent", "seen"}
next_handle = 1


def log(msg):
    sys.stderr.write("name-key: " + msg + "\n")
    sys.stderr.flush()


def b64e(b):
    return base64.b64encode(b).decode("ascii")


def b64d(s):
    return base64.b64decode(s.encode("ascii"), validate=True)


def conversation_key(members):
    names = "\n".join(sorted(set(members)))
    return hashlib.sha256(b"name-key/v1/" + names.encode()).digest()


def keystream_xor(key, nonce, data):
    out = bytearray()
    block = 0
    while len(out) < len(data):
        out += hashlib.sha256(key + nonce + struct.pack(">Q", block)).digest()
        block += 1
    return bytes(a ^ b for a, b in zip(data, out))


def mac(key, data):
    return hmac.new(hashlib.sha256(b"name-key/v1/mac" + key).digest(), data, hashlib.sha256).digest()


def draw16(dev):
    dev["rng_n"] += 1
    return hashlib.sha256(dev["rng"] + struct.pack(">Q", dev["rng_n"])).digest()[:16]


def reply(rid, ok=None, kind=None, message=""):
    if kind is None:
        line = {"id": rid, "ok": ok}
    else:
        line = {"id": rid, "error": {"kind": kind, "message": message}}
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def new_handle(dev):
    global next_handle
    h = next_handle
    next_handle += 1
    devices[h] = dev
    return h


def open_envelope(dev, claimed_from, conversation, body):
    # Returns (plaintext, sender) or raises ValueError with the reason.
    if body[:3] != MAGIC or len(body) < 3 + 4 + 32:
        raise ValueError("not a name-key envelope")
    (n,) = struct.unpack(">I", body[3:7])
    if 7 + n + 32 > len(body):
        raise ValueError("envelope too short")
    header_bytes = body[7:7 + n]
    ciphertext = body[7 + n:-32]
    tag = body[-32:]
    header = json.loads(header_bytes)
    key = conversation_key(header["members"])
    if not hmac.compare_digest(tag, mac(key, body[:-32])):
        raise ValueError("bad tag")
    if header["from"] != claimed_from:
        raise ValueError("envelope is from %s, not %s" % (header["from"], claimed_from))
    if header["conversation"] != conversation:
        raise ValueError("envelope belongs to another conversation")
    seen = "%s#%d" % (header["from"], int(header["counter"]))
    if seen in dev["seen"]:
        raise ValueError("replay")
    plaintext = keystream_xor(key, bytes.fromhex(header["nonce"]), ciphertext)
    dev["seen"].add(seen)
    return plaintext, header["from"]


for raw_line in sys.stdin.buffer:
    raw_line = raw_line.strip()
    if not raw_line:
        continue
    rid = None
    try:
        req = json.loads(raw_line)
        rid = req.get("id")
        op = req.get("op")
        dev = None
        if "device" in req and op not in ("hello", "create_device", "import_device"):
            dev = devices.get(req["device"]) if isinstance(req["device"], int) else None
            if dev is None:
                reply(rid, kind="failed", message="no device with handle %r" % (req["device"],))
                continue

        if op == "hello":
            reply(rid, {"protocol": 1, "name": "name-key", "version": "0.1",
                        "capabilities": {"export_state": False}, "authorities": []})

        elif op == "create_device":
            seed = b64d(req["seed"])
            dev = {
                "addr": req["addr"],
                "id": hashlib.sha256(b"name-key/v1/id" + seed).digest(),
                "rng": hashlib.sha256(b"name-key/v1/rng" + seed).digest(),
                "rng_n": 0,
                "sent": 0,
                "seen": set(),
            }
            reply(rid, {"device": new_handle(dev)})

        elif op == "publish":
            reply(rid, {"identity": b64e(dev["id"]), "prekey": "", "one_time": []})

        elif op == "add_entropy":
            dev["rng"] = hashlib.sha256(b"name-key/v1/reseed" + dev["rng"] + b64d(req["entropy"])).digest()
            dev["rng_n"] = 0
            reply(rid, {})

        elif op == "encrypt":
            plaintext = b64d(req["plaintext"])
            members = sorted(set(req["members"]))
            key = conversation_key(members)
            dev["sent"] += 1
            nonce = draw16(dev)
            header = json.dumps({"from": dev["addr"], "conversation": req["conversation"], "members": members,
                                 "counter": dev["sent"], "nonce": nonce.hex()},
                                sort_keys=True, separators=(",", ":")).encode()
            body = MAGIC + struct.pack(">I", len(header)) + header + keystream_xor(key, nonce, plaintext)
            body += mac(key, body)
            to = []
            for r in req["recipients"]:
                if r["device"] != dev["addr"] and r["device"] not in to:
                    to.append(r["device"])
            reply(rid, {"envelopes": [{"to": to, "body": b64e(body)}], "events": []})

        elif op == "decrypt":
            try:
                body = b64d(req["body"])
                plaintext, sender = open_envelope(dev, req.get("from"), req.get("conversation"), body)
            except Exception as e:  # garbage, tampering, replays: refuse, never crash
                reply(rid, kind="rejected", message="%s: %s" % (type(e).__name__, e))
                continue
            reply(rid, {"plaintext": b64e(plaintext), "sender": sender, "events": []})

        elif op == "fork":
            copy = dict(dev)
            copy["seen"] = set(dev["seen"])
            reply(rid, {"device": new_handle(copy)})

        elif op == "drop_device":
            del devices[req["device"]]
            reply(rid, {})

        elif op == "verify":
            reply(rid, {"events": []})

        elif op == "provider_push":
            reply(rid, {})

        else:
            # export_state, import_device, authorities, anything newer
            reply(rid, kind="unsupported", message="name-key does not offer %r" % (op,))

    except Exception as e:
        log("request %r: %s: %s" % (rid, type(e).__name__, e))
        reply(rid, kind="failed", message="%s: %s" % (type(e).__name__, e))
