"""What the example exec adapters (keystream, sealed-box, tricks) share of
doormat's exec protocol (harness/exec/PROTOCOL.md, version 1): the three
error kinds as exceptions, base64 fields, the table of device handles, and
the loop that answers one JSON request per line. Standard library only.

An adapter imports it from the folder above its own, which it puts on
`sys.path` first, so it runs from any working directory:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import common

Invariants: a request never crashes the loop (anything raised becomes an
error response with the request's id), and every response is one line,
flushed at once.
"""

import base64
import json
import sys


class Rejected(Exception):
    """The input is refused: the protocol's `rejected` error."""


class Unsupported(Exception):
    """The operation is not offered: the protocol's `unsupported` error."""


class Failed(Exception):
    """Something that should have worked did not: the protocol's `failed` error."""


def b64e(b):
    return base64.b64encode(b).decode("ascii")


def b64d(s, what):
    """The bytes of base64 field `what`; `Rejected` if it is not base64."""
    if not isinstance(s, str):
        raise Rejected(f"{what} is not a base64 string")
    try:
        return base64.b64decode(s.encode("ascii"), validate=True)
    except Exception:
        raise Rejected(f"{what} is not valid base64")


class Handles:
    """The devices of one run by handle, numbered from 1 in creation order,
    and the operations every example does alike on them (`op_*`). An
    adapter's `Adapter` derives from it and adds `handle(req)`."""

    # The design's name, in `unsupported` messages and in the log.
    name = "adapter"
    # What a request that names no known device (or is not a JSON object)
    # raises: its class name starts the `failed` message.
    failure = Failed

    def __init__(self):
        self.devices = {}
        self.next_handle = 1

    def add(self, dev):
        handle = self.next_handle
        self.next_handle += 1
        self.devices[handle] = dev
        return handle

    def device(self, req):
        handle = req.get("device")
        if not isinstance(handle, int) or handle not in self.devices:
            raise self.failure(f"no device with handle {handle!r}")
        return self.devices[handle]

    def handle(self, req):
        """The operations every example does alike (`decrypt`, `fork`,
        `drop_device`); any other is `unsupported`. An adapter's own
        `handle` answers the rest and ends with this one."""
        op = req.get("op")
        if op == "decrypt":
            return self.op_decrypt(req)
        if op == "fork":
            return self.op_fork(req)
        if op == "drop_device":
            return self.op_drop_device(req)
        raise Unsupported(f"operation {op!r} is not offered by {self.name}")

    def op_decrypt(self, req):
        """`decrypt`: the request's device opens `body` on a copy, which
        replaces it only if it opens. Anything raised but `Rejected` and
        `Failed` is a refusal too: garbage must never crash the client."""
        work = self.device(req).fork()
        try:
            out = work.decrypt(req.get("from"), req.get("conversation"), b64d(req.get("body"), "body"))
        except (Rejected, Failed):
            raise
        except Exception as e:
            raise Rejected(f"unreadable envelope ({type(e).__name__})")
        self.devices[req["device"]] = work
        return out

    def op_fork(self, req):
        """`fork`: an independent copy of the request's device."""
        return {"device": self.add(self.device(req).fork())}

    def op_drop_device(self, req):
        """`drop_device`: the handle is forgotten."""
        self.device(req)
        del self.devices[req["device"]]
        return {}


def serve(adapter):
    """Answers requests from standard input with `adapter.handle`, one JSON
    line each, until standard input ends. A `failed` answer is also logged
    to standard error, after `adapter.name`."""
    out = sys.stdout
    for line in sys.stdin.buffer:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise adapter.failure("request is not a JSON object")
            rid = req.get("id")
            resp = {"id": rid, "ok": adapter.handle(req)}
        except Rejected as e:
            resp = {"id": rid, "error": {"kind": "rejected", "message": str(e)}}
        except Unsupported as e:
            resp = {"id": rid, "error": {"kind": "unsupported", "message": str(e)}}
        except Exception as e:
            print(f"{adapter.name}: request {rid}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            resp = {"id": rid, "error": {"kind": "failed", "message": f"{type(e).__name__}: {e}"}}
        out.write(json.dumps(resp, separators=(",", ":")) + "\n")
        out.flush()
