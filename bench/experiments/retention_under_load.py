#!/usr/bin/env python3
"""sendCode load on SQLite while the retention pass deletes a backlog of old settled SMS jobs.

    python3 bench/experiments/retention_under_load.py [--backlog 200000] [--seconds 20] [BINARY]

Creates 300 users on a fresh data directory, stops the server, inserts BACKLOG settled jobs ten days old
(past the default 168 h retention), starts the server again and drives v2 resend sendCode with wrk for
SECONDS while the pass at start works through the backlog. Prints req/s, p50, p99, failures, the jobs left
and the server's WARN/ERROR lines. Run it with --backlog 0 as the control, alternating.
"""
import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from loadgen import run_wrk  # noqa: E402
from users import create_users  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, env, log, base):
    server = subprocess.Popen([binary], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit(f"the server did not start; see {log}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backlog", type=int, default=200_000)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("binary", nargs="?", default=str(ROOT / "target/release/phoneverify"))
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="phoneverify-retention-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PHONEVERIFY_DATA_DIR=str(work), PHONEVERIFY_LISTEN=f"127.0.0.1:{port}",
               PHONEVERIFY_SMS__PROVIDER="log", PHONEVERIFY_LIMITS__RESEND_COOLDOWN_SECS="0",
               PHONEVERIFY_LIMITS__MAX_SENDS_PER_PHONE_PER_DAY="0", RUST_LOG="info")
    try:
        server = start(args.binary, env, work / "setup.log", base)
        admin = (work / "admin.token").read_text().strip()
        ids = create_users(base, admin, 300, prefix="retention")
        server.terminate()
        server.wait()
        old = int((time.time() - 10 * 86400) * 1e6)
        with sqlite3.connect(work / "phoneverify.db") as db:
            db.executemany(
                "INSERT INTO sms_jobs (id, user_id, code_sequence, phone, encrypted_code, language, state,"
                " attempts, next_attempt_at, locked_until, expires_at, last_error, created_at, updated_at)"
                " VALUES (?, ?, 1, '+41790000000', '', 'en', ?, 1, ?, 0, 0, NULL, ?, ?)",
                ((f"old-{i:09d}", ids[i % len(ids)], ("sent", "failed", "dropped")[i % 3], old, old, old)
                 for i in range(args.backlog)))
        (work / "users.tsv").write_text("".join(f"{i}\tunused\n" for i in ids))
        (work / "admin.file").write_text(admin + "\n")
        server = start(args.binary, env, work / "server.log", base)
        row = run_wrk("sendCode", base, "v2_resend_send", work / "users.tsv", work / "admin.file",
                      args.seconds, 64, 2)
        server.terminate()
        server.wait()
        with sqlite3.connect(work / "phoneverify.db") as db:
            left = db.execute("SELECT COUNT(*) FROM sms_jobs WHERE id LIKE 'old-%'").fetchone()[0]
        print(f"backlog {args.backlog}: {row.rps:.0f} req/s, p50 {row.p50_ms:.2f} ms, p99 {row.p99_ms:.2f} ms, "
              f"non-2xx {row.non2xx}, errors {row.errors}; old jobs left {left}")
        for line in (work / "server.log").read_text().splitlines():
            if " WARN " in line or " ERROR " in line or "deleted" in line:
                print("  " + line[:240])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
