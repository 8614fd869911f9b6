"""The bench driver: for each backend, a fresh server and database, the users, then one row per route.

bench/run installs the tools and builds the binary, then runs this. Progress goes to stderr, the report to
stdout (see report.py).
"""

import argparse
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import grpc_rows
import memory_run
import report
from database import CODE_ADDED, PostgresDatabase, Store
from loadgen import run_wrk
from server import Server, Sink, stop_started
from users import create_users, mint_tokens, write_users_file

# (label, wrk route in bench/wrk/route.lua, counts code events). /healthz first and last: the reference is
# their mean, so the machine's drift during the run shows and counts only half (see report.reference_rps).
ROUTES = [
    ("GET /healthz", "healthz", False),
    ("v2 resend sendCode", "v2_resend_send", True),
    ("v2 resend returnCode", "v2_resend_return", True),
    ("v1 self resend (own token)", "v1_self_resend", True),
    ("v2 get user", "v2_get_user", False),
    ("GET /healthz (end)", "healthz", False),
]
# /healthz again after the preload: its own reference, as the machine's load may have changed meanwhile.
PRELOAD_ROUTES = ROUTES[0:3]


def seconds(text):
    m = re.fullmatch(r"(\d+)(s|m)?", text)
    if not m:
        raise argparse.ArgumentTypeError("a duration like 10s, 2m or 30")
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run", description=(
        "Benchmarks the real phoneverify binary: REST routes under wrk against /healthz, per backend."))
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    p.add_argument("--duration", type=seconds, default=10, help="per route, e.g. 10s (default) or 1m")
    p.add_argument("--users", type=int, default=500, help="users with a phone, picked at random (500)")
    p.add_argument("--connections", type=int, default=64, help="open connections during a route (64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2, the machine's cores)")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432",
                   help="Postgres server whose user may create databases; a fresh one is made and dropped")
    p.add_argument("--grpc", action="store_true", help="add the gRPC row family (h2load, pinned users)")
    p.add_argument("--grpc-url", help="where gRPC is served (default: the REST address, over h2c)")
    p.add_argument("--port", type=int, help="REST port (default: a free one)")
    p.add_argument("--preload-events", type=int, default=0, metavar="N",
                   help="then append N events to the store and measure the resends again")
    p.add_argument("--memory-requests", type=int, default=0, metavar="N",
                   help="then one sendCode run of about N requests with the server's RSS sampled every second")
    p.add_argument("--limits-on", action="store_true",
                   help="count every send against the per-number and per-org daily caps, set out of reach")
    p.add_argument("--sms-latency-ms", type=int, default=0, metavar="MS",
                   help="the SMS sink answers each SMS this long after it arrived, as a provider's API would")
    p.add_argument("--json", type=Path, help="also write the results to this file")
    p.add_argument("--keep", action="store_true", help="keep the work dir (server.log, data) afterwards")
    p.add_argument("--binary", required=True, help=argparse.SUPPRESS)
    p.add_argument("--no-build", action="store_true", help="do not run cargo build first (bench/run)")
    args = p.parse_args(argv)
    if args.users < 1 or args.connections < args.threads or args.threads < 1:
        p.error("need --users >= 1 and --connections >= --threads >= 1")
    return args


def say(backend, text):
    print(f"[{backend}] {text}", file=sys.stderr, flush=True)


class Bench:
    """Measures rows on one running server, each under the same conditions."""

    def __init__(self, backend, server, store, seconds):
        self.backend, self.server, self.store = backend, server, store
        # The backlog grows with the row's length; an idle worker settled ~500 jobs/s in trials, a row makes
        # ~1500/s, so a drain takes a few times the row. Past this limit the next row starts anyway.
        self.drain_limit = 60 + 10 * seconds

    def measure(self, label, run, writes):
        # The previous route's SMS backlog would otherwise be delivered during this one and steal its CPU.
        if self.server.wait_sms_drained(self.drain_limit) is None:
            say(self.backend, f"warning: SMS jobs still pending after {self.drain_limit} s")
        mark = self.store.last_position() if writes else None
        jobs_before = self.server.sms_jobs()
        row = run()
        row.label = label
        jobs_mid = self.server.sms_jobs()
        if writes:
            row.writes = self.store.count_events(CODE_ADDED, mark)
        # The jobs this row queued are settled (sent, or dropped because a later resend replaced the code)
        # once none is pending; how long that takes, and how many were settled while the load ran, show
        # whether the worker keeps up.
        row.drain_s = self.server.wait_sms_drained(self.drain_limit)
        jobs_after = self.server.sms_jobs()
        settled = ("sent", "dropped", "failed")
        row.sms_settled_in_load = sum(jobs_mid.get(k, 0) - jobs_before.get(k, 0) for k in settled)
        row.sms_sent, row.sms_dropped = (jobs_after.get(k, 0) - jobs_before.get(k, 0) for k in ("sent", "dropped"))
        self.server.check_alive()
        say(self.backend, f"{label}: {row.rps:.0f} req/s, p99 {row.p99_ms:.1f} ms, non-2xx {row.non2xx},"
                          f" errors {row.errors}")
        return row


def run_backend(args, backend):
    workdir = Path(tempfile.mkdtemp(prefix=f"phoneverify-bench-{backend}-"))
    # Other processes on the machine take CPU from the server and from wrk alike: the report says how busy
    # the machine was, so a reader can tell a slow server from a busy machine.
    result = {"backend": backend, "rows": [], "grpc_rows": [], "preload_rows": [], "notes": [],
              "load_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    pg = sink = server = None
    failed = True
    try:
        if backend == "postgres":
            pg = PostgresDatabase(args.pg_url)
            say(backend, f"database {pg.name} created")
        sink = Sink(workdir, args.sms_latency_ms)
        server = Server(args.binary, workdir, pg.url if pg else "", sink.url, args.port, args.limits_on)
        server.start()
        say(backend, f"server pid {server.proc.pid} at {server.base_url}, work dir {workdir}")
        admin = server.admin_token()
        admin_file = workdir / "admin.token"
        admin_file.write_text(admin + "\n")

        t = time.monotonic()
        ids = create_users(server.base_url, admin, args.users, prefix="bench")
        say(backend, f"{len(ids)} users with a pending phone code in {time.monotonic() - t:.1f} s")
        t = time.monotonic()
        tokens = mint_tokens(server, ids)
        users_file = workdir / "users.tsv"
        write_users_file(users_file, tokens)
        say(backend, f"{len(tokens)} user tokens in {time.monotonic() - t:.1f} s")

        store = Store(backend, sqlite_path=server.data_dir / "phoneverify.db", postgres_url=pg and pg.url)
        bench = Bench(backend, server, store, args.duration)
        rss_after_setup = server.rss_kib()

        def wrk_row(label, route, writes, duration=args.duration):
            return bench.measure(label, lambda: run_wrk(label, server.base_url, route, users_file, admin_file,
                                                        duration, args.connections, args.threads), writes)

        result["rows"] = [wrk_row(*r) for r in ROUTES]

        if args.memory_requests > 0:
            rate = next(r.rps for r in result["rows"] if r.label == "v2 resend sendCode")
            row, samples = memory_run.run(lambda s: wrk_row("v2 resend sendCode (memory run)", "v2_resend_send",
                                                           True, s), server, args.memory_requests, rate)
            result["memory_row"], result["memory_samples"] = row, samples

        if args.grpc:
            pinned = [ids[i % len(ids)] for i in range(args.connections)]
            if len(ids) < args.connections:
                result["notes"].append(f"only {len(ids)} users for {args.connections} pinned connections:"
                                       " some users are shared")
            grpc_url = args.grpc_url or server.base_url
            grpc_ok, why = grpc_rows.probe(grpc_url, pinned[0], admin)
            result["grpc_probe"] = why
            say(backend, f"gRPC probe: {why}")
            result["grpc_rows"] = grpc_rows.run_family(bench.measure, server.base_url, grpc_url, pinned, admin,
                                                  args.duration, workdir / "h2load", grpc_ok)

        if args.preload_events > 0:
            result["events_before_preload"] = store.total_events()
            t = time.monotonic()
            store.preload_events(args.preload_events, ids[0])
            result["preload_seconds"] = time.monotonic() - t
            result["events_after_preload"] = store.total_events()
            say(backend, f"preloaded {args.preload_events} events in {result['preload_seconds']:.1f} s")
            result["preload_rows"] = [wrk_row(label + " (preloaded)", route, writes)
                                      for label, route, writes in PRELOAD_ROUTES]

        result["load_after"] = os.getloadavg()[0]
        result["peak_rss_kib"] = server.peak_rss_kib()
        result["rss_after_setup_kib"] = rss_after_setup
        result["sms_jobs"] = server.sms_jobs()
        result["sms_received"] = sink.count()
        result["server_log_problems"] = server.log_lines("ERROR", "WARN")
        result["failed_requests"] = server.failed_requests()
        result["settings"] = {k: v for k, v in server.env.items() if k.startswith("PHONEVERIFY_")}
        failed = False
        return result
    finally:
        stop_started(server, sink)
        if pg:
            pg.drop()
            say(backend, f"database {pg.name} dropped")
        if args.keep or failed:
            say(backend, f"work dir kept: {workdir} (server.log is there)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _stop_on_sigterm(signum, frame):
    # As for Ctrl-C: unwind, so the finally blocks stop the server and drop the Postgres database.
    raise KeyboardInterrupt


def main(argv):
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    args = parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        results.append(run_backend(args, backend))
        print(report.backend_report(results[-1], args), flush=True)
    if len(results) > 1:
        print(report.comparison(results))
    if args.json:
        for r in results:  # tuple keys do not go into JSON
            r["failed_requests"] = [{"method": m, "path": p, "status": s, "count": n}
                                    for (m, p, s), n in r["failed_requests"].items()]
        args.json.write_text(json.dumps(results, indent=2, default=lambda o: o.to_json()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("bench: interrupted; server stopped, database dropped", file=sys.stderr)
        sys.exit(130)
