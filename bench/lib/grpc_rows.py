"""The gRPC row family (--grpc): v2 ResendPhoneCode over gRPC next to the same resend over REST.

Why pinned users. A gRPC request carries the user id in its protobuf body, not in its path, so a random
user per request needs a different body per request. The options looked at:
  - h2load (Debian's nghttp2-client, a real HTTP/2 load generator) posts one file (`-d`) for every request;
    several URIs vary the path only.
  - oha (crates.io) has `-Z FILE`, a random line of a file per request, but splits the file at newlines:
    the protobuf tag of field 1 (user_id, length-delimited) is byte 0x0A, a newline, so every body would be
    cut in two. (An overlong varint for the tag is not valid UTF-8, which `-Z` also requires.)
  - One h2load process per user, each with one connection: every request is a real gRPC call over HTTP/2,
    each connection has its own user, and the processes run at once. This is what we do.
So the gRPC row uses a fixed set of users (one per connection). To compare like with like, the REST row of
this family runs the identical user set and pinning with the same tool (h2load, HTTP/1.1), and the family
has its own /healthz reference from h2load; its ratios are to that row, not to wrk's.

h2load reads only the HTTP status, which is 200 for every gRPC answer; the call's outcome is in the
grpc-status trailer. So each resend row also counts the code events the server wrote: an answer that wrote
nothing counts as a failure (see loadgen.Row.non2xx). A curl probe checks grpc-status once before the run.
"""

import subprocess
import tempfile
from pathlib import Path

from loadgen import PinnedJob, run_h2load_pinned

GRPC_PATH = "/zitadel.user.v2.UserService/ResendPhoneCode"


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def resend_frame(user_id):
    """A gRPC message frame (uncompressed flag, 4-byte big-endian length) holding
    zitadel.user.v2.ResendPhoneCodeRequest{user_id = 1: user_id, send_code = 3: {}}."""
    uid = user_id.encode()
    message = b"\x0a" + _varint(len(uid)) + uid + b"\x1a\x00"
    return b"\x00" + len(message).to_bytes(4, "big") + message


def grpc_headers(token):
    return ["content-type: application/grpc", "te: trailers", f"authorization: Bearer {token}"]


def probe(grpc_url, user_id, admin_token):
    """(True, "grpc-status 0") when the server answers one ResendPhoneCode over h2c, else (False, why)."""
    with tempfile.TemporaryDirectory() as d:
        body, headers = Path(d) / "body", Path(d) / "headers"
        body.write_bytes(resend_frame(user_id))
        cmd = ["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-D", str(headers), "-w",
               "%{http_code}", "-X", "POST", "--data-binary", f"@{body}", "--max-time", "10"]
        for h in grpc_headers(admin_token):
            cmd += ["-H", h]
        r = subprocess.run(cmd + [grpc_url + GRPC_PATH], capture_output=True, text=True)
        if r.returncode != 0:
            return False, f"no HTTP/2 answer at {grpc_url} (curl exit {r.returncode})"
        # Trailers are written to the header dump after the headers.
        fields = {}
        for line in headers.read_text(errors="replace").splitlines():
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        status = fields.get("grpc-status")
        if r.stdout != "200" or status is None:
            return False, f"not a gRPC answer (HTTP {r.stdout}, no grpc-status)"
        if status != "0":
            return False, f"grpc-status {status}: {fields.get('grpc-message', '')}"
        return True, "grpc-status 0"


def run_family(measure, base_url, grpc_url, users, admin_token, seconds, workdir, grpc_ok):
    """Rows on `users` (one per connection). `measure(label, run, writes)` wraps a run with the write count
    (see main.py); rows it cannot run are returned as (label, reason)."""
    rest_headers = [f"authorization: Bearer {admin_token}", "content-type: application/json"]
    rows = [measure("GET /healthz [h2load h1, pinned ref]", lambda: run_h2load_pinned(
        "", base_url, [PinnedJob("/healthz", [])] * len(users), seconds, True, Path(workdir) / "h-health"),
        writes=False)]
    rows.append(measure("REST resend sendCode [h2load h1, pinned]", lambda: run_h2load_pinned(
        "", base_url, [PinnedJob(f"/v2/users/{u}/phone/resend", rest_headers, b'{"sendCode":{}}')
                       for u in users], seconds, True, Path(workdir) / "h-rest"), writes=True))
    if grpc_ok:
        rows.append(measure("gRPC resend sendCode [h2load h2c, pinned]", lambda: run_h2load_pinned(
            "", grpc_url, [PinnedJob(GRPC_PATH, grpc_headers(admin_token), resend_frame(u)) for u in users],
            seconds, False, Path(workdir) / "h-grpc", grpc=True), writes=True))
    return rows
