"""Paired comparison of builds or settings: which of two (or more) variants serves a route at less cost.

bench/compare installs wrk and runs this. A variant is a binary, optionally with environment settings for it
(`target/release/phoneverify:PHONEVERIFY_DATABASE__MAX_CONNECTIONS=2`). Each round starts a fresh server (and a
fresh Postgres database) per variant, in alternating order, and measures /healthz, the route, and /healthz again
on that server: the route's ratio to the mean of the two /healthz rows is the figure that survives a noisy
machine, and the per-request CPU and disk figures say where a difference comes from. Medians over the rounds are
printed at the end.
"""

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from database import PostgresDatabase
from loadgen import run_wrk
from server import Server, Sink, stop_started
from users import create_users, mint_tokens, write_users_file

WARM_UP_S = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Variant:
    binary: str
    env: dict

    @staticmethod
    def parse(text):
        binary, _, settings = text.partition(":")
        env = {}
        for setting in filter(None, settings.split(",")):
            name, sep, value = setting.partition("=")
            if not sep or not name:
                raise argparse.ArgumentTypeError(f"{setting!r} is not NAME=VALUE")
            env[name] = value
        if not os.access(binary, os.X_OK):
            raise argparse.ArgumentTypeError(f"{binary} is not an executable")
        return Variant(binary, env)

    def __str__(self):
        return " ".join([self.binary] + [f"{k}={v}" for k, v in self.env.items()])


@dataclass
class Measured:
    route_rps: float
    healthz_rps: float
    server_us: float     # the server's CPU per route request, all threads
    postgres_us: float   # Postgres's CPU per route request (0 on SQLite)
    wrk_us: float        # wrk's CPU per route request
    disk_bytes: float    # what the server wrote to disk per route request
    p99_ms: float
    failed: int          # non-2xx answers and requests without one

    @property
    def ratio(self):
        return self.route_rps / self.healthz_rps if self.healthz_rps else 0.0


def process_cpu_ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text()
    fields = fields[fields.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def postgres_cpu_ticks():
    """Every process named postgres on this machine: the server's backends, its writer and WAL writer."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
                total += process_cpu_ticks(pid)
        except OSError:
            continue  # it ended meanwhile
    return total


def written_bytes(pid):
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(variant, args):
    work = Path(tempfile.mkdtemp(prefix="phoneverify-compare-"))
    pg = PostgresDatabase(args.pg_url) if args.backend == "postgres" else None
    sink = server = None
    try:
        sink = Sink(work)
        server = Server(variant.binary, work, pg.url if pg else "", sink.url)
        # Over the bench's own settings: a variant may change any of them.
        server.env.update(variant.env)
        server.start()
        admin = server.admin_token()
        admin_file = work / "admin.token"
        admin_file.write_text(admin + "\n")
        ids = create_users(server.base_url, admin, args.users, prefix="bench")
        users_file = work / "users.tsv"
        write_users_file(users_file, mint_tokens(server, ids))

        def row(route, seconds):
            return run_wrk(route, server.base_url, route, users_file, admin_file, seconds, args.connections,
                           args.threads)

        row(args.route, WARM_UP_S)
        server.wait_sms_drained(60)
        before = row("healthz", args.seconds)
        pid = server.proc.pid
        cpu, pg_cpu, disk = process_cpu_ticks(pid), postgres_cpu_ticks(), written_bytes(pid)
        wrk_cpu = children_cpu_s()
        measured = row(args.route, args.seconds)
        requests = max(measured.requests, 1)
        tick_us = 1e6 / CLOCK_TICKS
        result = Measured(
            route_rps=measured.rps,
            healthz_rps=0.0,
            server_us=(process_cpu_ticks(pid) - cpu) * tick_us / requests,
            postgres_us=(postgres_cpu_ticks() - pg_cpu) * tick_us / requests if pg else 0.0,
            wrk_us=(children_cpu_s() - wrk_cpu) * 1e6 / requests,
            disk_bytes=(written_bytes(pid) - disk) / requests,
            p99_ms=measured.p99_ms,
            failed=measured.non2xx + measured.errors,
        )
        server.wait_sms_drained(60)
        after = row("healthz", args.seconds)
        result.healthz_rps = (before.rps + after.rps) / 2
        return result
    finally:
        stop_started(server, sink)
        if pg:
            pg.drop()
        shutil.rmtree(work, ignore_errors=True)


def line(name, m):
    postgres = f" postgres {m.postgres_us:6.1f} us" if m.postgres_us else ""
    return (f"{name}: {m.route_rps:8.0f} req/s  /healthz {m.healthz_rps:8.0f}  ratio {m.ratio:.3f}  "
            f"server {m.server_us:6.1f} us{postgres}  wrk {m.wrk_us:5.1f} us  disk {m.disk_bytes:7.0f} B  "
            f"p99 {m.p99_ms:6.1f} ms  failed {int(m.failed)}")


def median_of(results):
    fields = Measured.__dataclass_fields__
    return Measured(**{f: statistics.median(getattr(r, f) for r in results) for f in fields})


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/compare", description=(
        "Paired rounds of two or more phoneverify binaries or settings on one route; per-request costs and the "
        "route's ratio to /healthz, per round and as medians."))
    p.add_argument("variants", nargs="+", type=Variant.parse, metavar="BINARY[:NAME=VALUE,...]")
    p.add_argument("--route", default="v2_resend_send", help="a route of bench/wrk/route.lua (v2_resend_send)")
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--rounds", type=int, default=3, help="rounds; each runs every variant once (3)")
    p.add_argument("--seconds", type=int, default=4, help="per row (4)")
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432",
                   help="Postgres server whose user may create databases; a fresh one is made per server")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.seconds < 1:
        p.error("--rounds and --seconds must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    names = [f"v{i + 1}" for i in range(len(args.variants))]
    for name, variant in zip(names, args.variants):
        print(f"{name} = {variant}")
    results = {name: [] for name in names}
    pairs = list(zip(names, args.variants))
    for round_no in range(args.rounds):
        # Alternating order, so that neither variant always runs on the machine the other left warm.
        for name, variant in pairs if round_no % 2 == 0 else reversed(pairs):
            measured = measure(variant, args)
            results[name].append(measured)
            print(f"round {round_no + 1} " + line(name, measured), flush=True)
            time.sleep(1)
    print(f"medians over {args.rounds} rounds ({args.route}, {args.backend}):")
    for name in names:
        print("  " + line(name, median_of(results[name])))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        sys.exit(130)
