"""The two load generators and what a measured row is.

wrk (HTTP/1.1) drives the main rows: a Lua script picks a random user per request. h2load (HTTP/1.1 or h2c)
drives the pinned rows: it can only send one fixed body per process, so each process gets one connection and
one user (see grpc.py for why).
"""

import json
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from server import die_with_parent

LUA = Path(__file__).resolve().parent.parent / "wrk" / "route.lua"
# Above the server's own request timeout (15 s), so a slow answer is measured, not dropped by wrk.
CLIENT_TIMEOUT = "20s"


@dataclass
class Row:
    """One measured route."""
    label: str
    requests: int            # answers received, any status
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict           # HTTP status -> count
    errors: int = 0          # socket errors and timeouts: requests that got no answer
    samples: dict = field(default_factory=dict)  # status -> first body seen (non-2xx)
    writes: int = None       # code.added events the server wrote during the row (resend rows)
    grpc: bool = False       # HTTP 200 says nothing there: failures are counted from the writes
    sms_sent: int = None     # SMS jobs of this row the worker sent (to the sink), during the row or after ...
    sms_dropped: int = None  # ... and dropped, because a later resend had replaced the code
    sms_settled_in_load: int = None  # jobs sent, dropped or given up while the load ran
    drain_s: float = None    # seconds after the row until no SMS job was pending

    def to_json(self):
        return {**self.__dict__, "rps": self.rps, "ok": self.ok, "non2xx": self.non2xx}

    @property
    def rps(self):
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self):
        return sum(n for s, n in self.statuses.items() if 200 <= int(s) <= 299)

    @property
    def non2xx(self):
        """Answers that were not a success. For gRPC the HTTP status is 200 even on a failed call (the
        outcome is in the grpc-status trailer, which h2load does not read), so there the count is the
        answers that wrote nothing."""
        if self.grpc and self.writes is not None:
            return max(0, self.ok - self.writes) + (self.requests - self.ok)
        return self.requests - self.ok


def run_wrk(label, base_url, route, users_file, admin_file, seconds, connections, threads):
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", CLIENT_TIMEOUT,
           "-s", str(LUA), base_url, "--", route, str(users_file), str(admin_file)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, preexec_fn=die_with_parent)
    line = next((l for l in r.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
    data = json.loads(line[len("BENCH_JSON "):])
    e = data["errors"]
    return Row(
        label=label,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["latency_us"]["p50"] / 1000,
        p99_ms=data["latency_us"]["p99"] / 1000,
        statuses={int(k): v for k, v in data["statuses"].items()},
        errors=e["connect"] + e["read"] + e["write"] + e["timeout"],
        samples={int(k): v for k, v in data["samples"].items()},
    )


@dataclass
class PinnedJob:
    """One h2load process: one connection, one request shape."""
    path: str
    headers: list
    body: bytes = None


def run_h2load_pinned(label, base_url, jobs, seconds, h1, workdir, grpc=False):
    """Runs all jobs at once, one h2load process each, and merges them into one row. Latencies come from
    h2load's per-request log (start, status, microseconds), so p50/p99 are over every request."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    procs = []
    for i, job in enumerate(jobs):
        log = workdir / f"h2load-{i}.log"
        cmd = ["h2load", "-c", "1", "-t", "1", "-m", "1", "-D", str(seconds), "--log-file", str(log)]
        if h1:
            cmd.append("--h1")
        for h in job.headers:
            cmd += ["-H", h]
        if job.body is not None:
            body = workdir / f"body-{i}"
            body.write_bytes(job.body)
            cmd += ["-d", str(body)]
        cmd.append(base_url + job.path)
        procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       preexec_fn=die_with_parent), log))
    latencies, statuses, errors = [], Counter(), 0
    for proc, log in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        m = re.search(r"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, \d+ failed, (\d+) errored,"
                      r" (\d+) timeout", out)
        if proc.returncode != 0 or m is None:
            raise RuntimeError(f"h2load failed ({proc.returncode}): {out.strip()[-2000:]}")
        errors += int(m.group(1)) + int(m.group(2))
        for line in log.read_text().splitlines():
            _, status, micros = line.split("\t")
            statuses[int(status)] += 1
            latencies.append(int(micros))
    p50, p99 = percentiles(latencies, 50, 99)
    return Row(label=label, requests=len(latencies), seconds=float(seconds), p50_ms=p50 / 1000,
               p99_ms=p99 / 1000, statuses=dict(statuses), errors=errors, grpc=grpc)


def percentiles(values, *ps):
    """Nearest-rank percentiles (0 for an empty list)."""
    if not values:
        return tuple(0 for _ in ps)
    values = sorted(values)
    return tuple(values[min(len(values) - 1, max(0, -(-p * len(values) // 100) - 1))] for p in ps)
