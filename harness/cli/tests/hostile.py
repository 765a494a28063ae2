#!/usr/bin/env python3
"""A hostile or broken exec-protocol implementation, for doormat's tests.

Usage: hostile.py MODE[@N|@OP] DOORMAT [ONCE_FILE]

It proxies every request to `DOORMAT serve ratchet` (a correct
implementation) and misbehaves as MODE says at request N (default 3), or at
the first request whose operation is OP (`garbage@kat_hkdf_sha256`). With
ONCE_FILE, only the first process that gets that far misbehaves (it creates
the file); later processes behave, so the audit's restart can be seen.

Mode `open-skips-tag` is a broken primitive rather than a broken process:
every `kat_aead_open` decrypts without checking the tag (the keystream comes
from sealing zeros), so forged ciphertexts open.
"""
import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time


def main():
    mode, _, at = sys.argv[1].partition("@")
    at = int(at or "3") if at.isdigit() or not at else at
    doormat = sys.argv[2]
    once = sys.argv[3] if len(sys.argv) > 3 else None
    inner = subprocess.Popen([doormat, "serve", "ratchet"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if mode == "flood-stderr":
        def flood():
            line = "flooding standard error " * 40 + "\n"
            while True:
                try:
                    sys.stderr.write(line)
                except Exception:
                    return
        threading.Thread(target=flood, daemon=True).start()
    previous = None
    fired = False
    for n, line in enumerate(sys.stdin):
        req = json.loads(line)
        if mode == "open-skips-tag" and req.get("op") == "kat_aead_open":
            reply = open_without_tag(inner, req)
        else:
            inner.stdin.write(line.encode())
            inner.stdin.flush()
            reply = inner.stdout.readline().decode().rstrip("\n")
        armed = (n == at if isinstance(at, int) else req.get("op") == at and not fired) and mode != "flood-stderr"
        fired |= armed
        if armed and once:
            try:
                fd = os.open(once, os.O_CREAT | os.O_EXCL)
                os.close(fd)
            except FileExistsError:
                armed = False
        if armed:
            sys.stderr.write(f"hostile: misbehaving ({mode}) at request {n}\n")
            sys.stderr.flush()
            obj = json.loads(reply)
            if mode == "garbage":
                reply = "this is not json {"
            elif mode == "wrong-id":
                obj["id"] += 7
                reply = json.dumps(obj)
            elif mode == "stale":
                reply = previous
            elif mode == "no-result":
                obj.pop("ok", None)
                obj.pop("error", None)
                reply = json.dumps(obj)
            elif mode == "extra-field":
                obj["surprise"] = True
                reply = json.dumps(obj)
            elif mode == "missing-field":
                if "ok" in obj and isinstance(obj["ok"], dict) and obj["ok"]:
                    obj["ok"].pop(sorted(obj["ok"])[0])
                else:
                    obj = {"id": obj["id"], "ok": {"unexpected": 1}}
                reply = json.dumps(obj)
            elif mode == "bad-kind":
                reply = json.dumps({"id": obj["id"], "error": {"kind": "oops", "message": "?"}})
            elif mode == "exit":
                sys.exit(3)
            elif mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif mode == "hang":
                time.sleep(3600)
            elif mode == "long-line":
                sys.stdout.write("x" * (2 << 20))
                sys.stdout.flush()
                time.sleep(3600)
            elif mode == "hello-v2" and n == 0:
                obj["ok"]["protocol"] = 2
                reply = json.dumps(obj)
        previous = reply
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


def open_without_tag(inner, req):
    """AEAD decryption that never checks the tag: XOR with the keystream
    that sealing zeros of the same length gives."""
    ct = base64.b64decode(req["ct"])
    if len(ct) < 16:
        return json.dumps({"id": req["id"], "error": {"kind": "rejected", "message": "too short"}})
    body = len(ct) - 16
    seal = dict(req, op="kat_aead_seal", msg=base64.b64encode(bytes(body)).decode())
    del seal["ct"]
    inner.stdin.write((json.dumps(seal) + "\n").encode())
    inner.stdin.flush()
    sealed = json.loads(inner.stdout.readline())
    if "ok" not in sealed:
        return json.dumps(sealed)
    stream = base64.b64decode(sealed["ok"]["ct"])[:body]
    msg = bytes(a ^ b for a, b in zip(ct[:body], stream))
    return json.dumps({"id": req["id"], "ok": {"msg": base64.b64encode(msg).decode()}})


if __name__ == "__main__":
    main()
