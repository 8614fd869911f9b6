"""The processes the benchmark runs: the real phoneverify binary and the webhook sink it delivers SMS to.

Both are started with PR_SET_PDEATHSIG, so that they die with the bench driver even if it is killed with
SIGKILL: a benchmark must never leave a server running behind it.
"""

import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

_PR_SET_PDEATHSIG = 1
# Colour codes, in case the server's logger writes them despite NO_COLOR.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The server's line per answered request (text format), inside its request span.
_RESPONSE_LINE = re.compile(r'request\{method=(\S+) route="([^"]*)".*request served status=(\d+)')
_ID = re.compile(r"\d{10,}")


def die_with_parent():
    """preexec_fn for every long-lived child (server, sink, load generators). Runs between fork and exec."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_started(*processes):
    """Stops each of the given server and sink processes that was started (None: never made)."""
    for process in processes:
        if process:
            process.stop()


def free_port():
    """A port nobody listens on right now (the kernel's pick); the tiny race is acceptable for a bench."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=2.0):
    """(status, body) of a GET, or (None, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


class Sink:
    """The SMS webhook: bench/lib/sink.py in its own process."""

    def __init__(self, workdir, delay_ms=0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/sms"
        self._log = open(Path(workdir) / "sink.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("sink.py")), str(self.port), str(delay_ms)],
            stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        _wait_until(lambda: http_get(f"http://127.0.0.1:{self.port}/count")[0] == 200, 10, "the SMS sink",
                    self.proc)

    def count(self):
        """SMS received so far."""
        status, body = http_get(f"http://127.0.0.1:{self.port}/count")
        return int(body) if status == 200 else None

    def stop(self):
        _stop(self.proc)
        self._log.close()


# A daily cap no bench run reaches (the settings are u32).
LIMIT_OUT_OF_REACH = 1_000_000_000


class Server:
    """One `phoneverify serve` on 127.0.0.1 with a throwaway data dir and the bench settings."""

    def __init__(self, binary, workdir, database_url, sms_url, port=None, limits_on=False):
        self.binary = binary
        self.data_dir = Path(workdir) / "data"
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(workdir) / "server.log"
        self.env = dict(os.environ)
        # Settings the operator may have in the environment are kept (so PHONEVERIFY_DATABASE__MAX_CONNECTIONS
        # and the like can be tried), except a config file and those the bench itself must decide.
        self.env.pop("PHONEVERIFY_CONFIG", None)
        self.env.update({
            "PHONEVERIFY_LISTEN": f"127.0.0.1:{self.port}",
            "PHONEVERIFY_DATA_DIR": str(self.data_dir),
            # Empty selects the embedded SQLite file under the data dir.
            "PHONEVERIFY_DATABASE_URL": database_url,
            # The bench resends to the same users many times a second: with the anti-pumping throttles on,
            # nearly every resend would be a 429 and we would measure the refusal, not the send.
            "PHONEVERIFY_LIMITS__RESEND_COOLDOWN_SECS": "0",
            "PHONEVERIFY_LIMITS__MAX_SENDS_PER_PHONE_PER_DAY": "0",
            # A real provider over HTTP, so sendCode runs with the delivery worker working; the sink answers
            # at once, so the worker's cost is ours, not a provider's.
            "PHONEVERIFY_SMS__PROVIDER": "webhook",
            "PHONEVERIFY_SMS__WEBHOOK__URL": sms_url,
            # Plain log lines in server.log, so log_lines() can find the errors in it.
            "NO_COLOR": "1",
        })
        if limits_on:
            # Both daily caps on but out of reach: every send pays for its counters, none is refused.
            self.env.update({
                "PHONEVERIFY_LIMITS__MAX_SENDS_PER_PHONE_PER_DAY": str(LIMIT_OUT_OF_REACH),
                "PHONEVERIFY_LIMITS__MAX_SMS_PER_ORG_PER_DAY": str(LIMIT_OUT_OF_REACH),
            })
        self.proc = None
        self._log = None

    def start(self):
        # Owner-only, as the server makes it itself: it will hold the key material.
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        # /readyz (not /healthz) so that migrations, bootstrap and the database are done before we start.
        _wait_until(lambda: http_get(self.base_url + "/readyz")[0] == 200, 60, "phoneverify", self.proc,
                    self.log_path)

    def admin_token(self):
        return (self.data_dir / "admin.token").read_text().strip()

    def token(self, user_id):
        """The user's own bearer token, from the binary's `token` subcommand, as the README documents."""
        r = subprocess.run([self.binary, "token", "--user-id", user_id], env=self.env,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"phoneverify token --user-id {user_id} failed: {r.stderr.strip()}")
        return r.stdout.strip().splitlines()[-1]

    def peak_rss_kib(self):
        """VmHWM: the largest resident set the process has had since it started."""
        return _proc_status_kib(self.proc.pid, "VmHWM")

    def rss_kib(self):
        return _proc_status_kib(self.proc.pid, "VmRSS")

    def sms_jobs(self):
        """{state: count} from the server's /metrics (pending, sent, failed, dropped)."""
        status, body = http_get(self.base_url + "/metrics")
        jobs = {}
        if status == 200:
            for line in body.splitlines():
                if line.startswith("phoneverify_sms_jobs{"):
                    state = line.split('state="', 1)[1].split('"', 1)[0]
                    jobs[state] = int(float(line.rsplit(" ", 1)[1]))
        return jobs

    def wait_sms_drained(self, limit_s=60):
        """Waits until no SMS job is pending, so one route's delivery backlog does not run during the next
        route's measurement. Returns the seconds waited (or None if the limit was hit)."""
        start = time.monotonic()
        while time.monotonic() - start < limit_s:
            if self.sms_jobs().get("pending", 0) == 0:
                return time.monotonic() - start
            time.sleep(0.2)
        return None

    def check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"phoneverify exited with {self.proc.returncode}; see {self.log_path}")

    def log_lines(self, *levels):
        """Log lines at the given levels (e.g. 'ERROR', 'WARN'): what went wrong inside the server."""
        found = []
        with open(self.log_path, "rb") as f:
            for raw in f:
                line = _ANSI.sub("", raw.decode(errors="replace")).rstrip()
                if any(f" {level} " in line for level in levels):
                    found.append(line)
        return found

    def failed_requests(self):
        """{(method, path with ids as {id}, status): count} of the answers that were not 2xx, from the per-request
        log lines (level info, the default): which requests caused a non-2xx, as the server saw them."""
        found = Counter()
        with open(self.log_path, "rb") as f:
            for raw in f:
                m = _RESPONSE_LINE.search(_ANSI.sub("", raw.decode(errors="replace")))
                if m and not m.group(3).startswith("2"):
                    found[(m.group(1), _ID.sub("{id}", m.group(2)), int(m.group(3)))] += 1
        return found

    def stop(self):
        if self.proc is not None:
            _stop(self.proc)
        if self._log is not None:
            self._log.close()


def _proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _wait_until(ready, limit_s, what, proc, log_path=None):
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        if proc.poll() is not None:
            hint = f"; see {log_path}" if log_path else ""
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting{hint}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within {limit_s} s")


def _stop(proc):
    """SIGTERM (the server finishes requests in flight and the SMS in hand), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
