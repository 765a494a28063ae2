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

Modes that leave processes behind (each such process is a fork of this
script, or runs it as `hostile.py sleeper ...`, so its command line carries
ONCE_FILE for the test to look for): `background-holds-stdout` forks a
child that keeps standard output open and sleeps, then hangs;
`background-then-exit` does the same, then exits 3; `setsid-daemon` forks a
child that leaves the process group (setsid) and sleeps, then hangs;
`setsid-daemon-noenv` does the same but the child also drops its whole
environment (exec with an empty one), so only the pipe it holds gives it
away; `fork-20-children` forks 20 sleeping children, then hangs.

Modes that send too much: `envelope-flood` answers with 20,000 envelopes
and `huge-answer` with 1,500,000 (36 MB on one line), both streamed;
`request-flood` adds 9,000 envelopes addressed to nobody to this and every
later `encrypt` answer (each one makes doormat try it on every device);
`addressee-flood` adds one envelope addressed to 9,000 devices that do not
exist to this and every later `encrypt` answer; `event-flood` adds 9,000
events to this and every later `encrypt` and `decrypt` answer;
`byte-flood` pads this and every later answer with 1 MiB of spaces (valid
JSON whitespace).
"""
import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time


SLEEP = 60


def sleep_in_child(setsid=False, noenv=False):
    """Fork a child that keeps this process's standard streams and sleeps."""
    if os.fork() == 0:
        if setsid:
            os.setsid()
        if noenv:
            os.execve(sys.executable, [sys.executable, __file__, "sleeper"] + sys.argv[2:], {})
        time.sleep(SLEEP)
        os._exit(0)


def stream_envelopes(req_id, n):
    """Write an encrypt answer with `n` envelopes without holding it."""
    out = sys.stdout
    out.write('{"id":%d,"ok":{"envelopes":[' % req_id)
    batch = ",".join(['{"to":["bob/phone"],"body":"AAAA"}'] * 1000)
    for i in range(n // 1000):
        out.write(("," if i else "") + batch)
    out.write('],"events":[]}}\n')
    out.flush()


def main():
    if sys.argv[1] == "sleeper":
        time.sleep(SLEEP)
        return
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
    flooding = False
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
            elif mode in ("background-holds-stdout", "background-then-exit"):
                sleep_in_child()
                if mode == "background-then-exit":
                    sys.exit(3)
                time.sleep(3600)
            elif mode in ("setsid-daemon", "setsid-daemon-noenv"):
                sleep_in_child(setsid=True, noenv=mode.endswith("noenv"))
                time.sleep(3600)
            elif mode == "fork-20-children":
                for _ in range(20):
                    sleep_in_child()
                time.sleep(3600)
            elif mode in ("envelope-flood", "huge-answer"):
                stream_envelopes(req["id"], 20_000 if mode == "envelope-flood" else 1_500_000)
                time.sleep(3600)
            elif mode in ("request-flood", "byte-flood", "addressee-flood", "event-flood"):
                flooding = True
        if flooding and mode == "request-flood" and req.get("op") == "encrypt":
            obj = json.loads(reply)
            if "ok" in obj:
                obj["ok"]["envelopes"] += [{"to": [], "body": "AAAA"}] * 9000
                reply = json.dumps(obj)
        elif flooding and mode == "addressee-flood" and req.get("op") == "encrypt":
            obj = json.loads(reply)
            if "ok" in obj:
                obj["ok"]["envelopes"].append({"to": ["x/y"] * 9000, "body": "AAAA"})
                reply = json.dumps(obj)
        elif flooding and mode == "event-flood" and req.get("op") in ("encrypt", "decrypt"):
            obj = json.loads(reply)
            if "ok" in obj:
                obj["ok"]["events"] += [{"kind": "member-added", "user": "a"}] * 9000
                reply = json.dumps(obj)
        elif flooding and mode == "byte-flood":
            reply += " " * (1 << 20)
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
