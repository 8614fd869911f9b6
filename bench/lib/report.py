"""The printed report: one table per backend, the targets from the issue, and what looked wrong."""

import memory_run

# From the issue: sendCode throughput relative to /healthz in the same run, its p99, no failures, memory.
TARGETS = {
    "sqlite": {"ratio": 0.33, "p99_ms": 25.0},
    "postgres": {"ratio": 0.12, "p99_ms": 25.0},
}
RSS_TARGET_MB = 100.0
SEND_ROW = "v2 resend sendCode"
HEALTHZ_END = "GET /healthz (end)"

LEGEND = """routes: GET /healthz | v2 resend = POST /v2/users/{id}/phone/resend {"sendCode":{}} or {"returnCode":{}}
  (admin token) | v1 self resend = POST /auth/v1/users/me/phone/_resend_verification {} (the user's own token)
  | v2 get user = GET /v2/users/{id} (admin token)
columns: req/s = answers per second (any status); p50/p99 = latency of all answers; non-2xx = answers that
  were not 2xx; errors = requests with no answer (socket errors, 20 s timeouts); x ref = req/s / the
  reference /healthz (main table: mean of its first and last row); writes = code events the server
  committed during the row (2xx plus at most one per connection still in flight at the end; "!" marks
  anything else); SMS sent/dropped = this row's SMS jobs the worker delivered to the sink / dropped because
  a later resend had replaced the code; worker/s = jobs it settled per second while the load ran; drain s =
  seconds after the row until none was pending"""


def mb(kib):
    return kib * 1024 / 1e6 if kib is not None else float("nan")


def reference_rps(rows):
    """The mean of the /healthz rows at the start and at the end of the main rows. On a shared machine the
    CPU left to the bench changes within minutes (trials saw /healthz at 11k and 34k req/s in one run), so
    one /healthz row before the others would turn that drift into the ratios; the mean of two that bracket
    them halves it, and their difference shows it."""
    refs = [r.rps for r in rows if r.label.startswith("GET /healthz")]
    return sum(refs) / len(refs) if refs else float("nan")


def _table(rows, reference, connections):
    """`reference`: the req/s that x ref divides by."""
    head = f"  {'route':<44} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} {'errors':>6}" \
           f" {'x ref':>6} {'writes':>7} {'SMS sent/dropped':>16} {'worker/s':>8} {'drain s':>7}"
    lines = [head]
    for r in rows:
        ratio = r.rps / reference if reference else float("nan")
        writes = "-" if r.writes is None else str(r.writes)
        # Requests still in flight when the load generator stops are answered and written by the server
        # but not counted by the client: up to one per connection more writes than 2xx is expected.
        if r.writes is not None and not r.grpc and not r.ok <= r.writes <= r.ok + connections:
            writes += "!"
        sms, worker = "-", "-"
        if r.sms_sent or r.sms_dropped:
            sms, worker = f"{r.sms_sent}/{r.sms_dropped}", f"{r.sms_settled_in_load / r.seconds:.0f}"
        drain = "limit" if r.drain_s is None else f"{r.drain_s:.1f}"
        lines.append(f"  {r.label:<44} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.non2xx:>7}"
                     f" {r.errors:>6} {ratio:>5.2f}x {writes:>7} {sms:>16} {worker:>8} {drain:>7}")
    return lines


def _find(rows, label):
    return next((r for r in rows if r.label == label), None)


def _targets(result):
    rows, backend = result["rows"], result["backend"]
    target = TARGETS[backend]
    send = _find(rows, SEND_ROW)
    checks = []
    ratio = send.rps / reference_rps(rows)
    checks.append((f"sendCode >= {target['ratio']:.2f}x /healthz", f"{ratio:.2f}x", ratio >= target["ratio"]))
    if target["p99_ms"] is not None:
        checks.append((f"sendCode p99 <= {target['p99_ms']:.0f} ms", f"{send.p99_ms:.1f} ms",
                       send.p99_ms <= target["p99_ms"]))
    failures = sum(r.non2xx + r.errors for r in rows)
    checks.append(("zero non-2xx and errors (all routes)", str(failures), failures == 0))
    peak = mb(result["peak_rss_kib"])
    checks.append((f"peak RSS <= {RSS_TARGET_MB:.0f} MB", f"{peak:.1f} MB", peak <= RSS_TARGET_MB))
    if result.get("memory_row"):
        s = memory_run.summary(result["memory_samples"])
        value = f"{mb(s['quarter']):.1f} -> {mb(s['end']):.1f} MB" if s else "no samples"
        checks.append((f"RSS flat over {result['memory_row'].requests} requests (end within"
                       f" {memory_run.FLAT_WITHIN:.0%} of a quarter in)", value, memory_run.is_flat(s)))
    return [f"  {'PASS' if ok else 'MISS'}  {name}: {value}" for name, value, ok in checks]


def _shorten(line, head=220, tail=140):
    """A long log line's start (what) and end (its fields, e.g. elapsed=) without the middle."""
    return line if len(line) <= head + tail else f"{line[:head]} … {line[-tail:]}"


def _problems(result):
    lines = []
    for r in result["rows"] + result["grpc_rows"] + result["preload_rows"]:
        bad = {s: n for s, n in r.statuses.items() if not 200 <= s <= 299}
        for status, n in sorted(bad.items()):
            sample = r.samples.get(status, "(body not captured by h2load)")
            lines.append(f"  {r.label}: HTTP {status} x{n}: {sample[:300]}")
        if r.errors:
            lines.append(f"  {r.label}: {r.errors} requests without an answer")
        if r.grpc and r.writes is not None and r.writes < r.ok:
            lines.append(f"  {r.label}: {r.ok - r.writes} answers wrote no code (grpc-status != 0)")
    failed = result["failed_requests"]
    if failed:
        lines.append("  non-2xx answers in the server's request log (method, path, status: count):")
        lines += [f"    {m} {path} {status}: {n}" for (m, path, status), n in failed.most_common(12)]
    logged = result["server_log_problems"]
    if logged:
        lines.append(f"  server log: {len(logged)} ERROR/WARN lines; the first ones:")
        lines += [f"    {_shorten(line)}" for line in logged[:8]]
    return lines or ["  none: every answer 2xx, no ERROR/WARN line in the server log"]


def backend_report(result, args):
    backend, rows = result["backend"], result["rows"]
    out = ["", f"== phoneverify bench: {backend} ==",
           f"{args.users} users (random user per request), {args.connections} connections, wrk -t{args.threads},"
           f" {args.duration} s per route; SMS by webhook to a local sink"
           + (f" answering after {args.sms_latency_ms} ms" if args.sms_latency_ms else "") + ", resend cooldown off, "
           + ("daily caps counted (out of reach)" if args.limits_on else "daily cap off"),
           f"machine: {result['cpus']} CPUs, load average {result['load_before']:.1f} before the run,"
           f" {result['load_after']:.1f} at its end (the bench itself adds about 2-3)", ""]
    out += _table(rows, reference_rps(rows), args.connections)
    start, end = _find(rows, "GET /healthz"), _find(rows, HEALTHZ_END)
    if start and end:
        out.append(f"  x ref divides by the mean of the two /healthz rows ({reference_rps(rows):.0f} req/s); they"
                   f" differ by {abs(end.rps - start.rps) / max(start.rps, end.rps) * 100:.0f} %: the machine's"
                   " drift during the run")
    jobs = result["sms_jobs"]
    out += ["", f"peak RSS (VmHWM at the end): {mb(result['peak_rss_kib']):.1f} MB"
                f" (RSS after creating the users: {mb(result['rss_after_setup_kib']):.1f} MB)",
            "SMS jobs at the end: " + ", ".join(f"{k} {v}" for k, v in sorted(jobs.items()))
            + f"; the sink received {result['sms_received']}"]
    if result["grpc_rows"] or "grpc_probe" in result:
        out += ["", f"gRPC family: {args.connections} users, each pinned to one connection (one h2load process per"
                    " user, since h2load sends one fixed body);",
                "  the REST row runs the identical users and pinning with the same tool and one request in flight per",
                "  connection (gRPC: -m 1), so the two rows compare; x ref is to this family's own /healthz row.",
                "  The random-user wrk rows above are not pinned and not comparable one to one.",
                f"  gRPC probe: {result.get('grpc_probe')}"]
        if not any(r.grpc for r in result["grpc_rows"]):
            out.append("  gRPC row skipped: the server does not answer gRPC there (the REST rows still ran)")
        out += _table(result["grpc_rows"], result["grpc_rows"][0].rps if result["grpc_rows"] else None,
                      args.connections)
    if result["preload_rows"]:
        pre_rows = result["preload_rows"]
        pre_ref = pre_rows[0]
        out += ["", f"with {args.preload_events} events preloaded (store: {result['events_before_preload']} ->"
                    f" {result['events_after_preload']} events, loaded in {result['preload_seconds']:.1f} s);"
                    " x ref is to the /healthz row measured after the preload"]
        out += _table(pre_rows, pre_ref.rps, args.connections)
        ref = reference_rps(rows)
        for pre in pre_rows[1:]:
            base = _find(rows, pre.label.replace(" (preloaded)", ""))
            out.append(f"  {pre.label}: {pre.rps / pre_ref.rps:.2f}x /healthz vs {base.rps / ref:.2f}x before"
                       f" the preload; p99 {pre.p99_ms:.1f} ms vs {base.p99_ms:.1f} ms")
    if result.get("memory_row"):
        row, s = result["memory_row"], memory_run.summary(result["memory_samples"])
        out += ["", f"memory run: {row.requests} sendCode requests in {row.seconds:.0f} s ({row.rps:.0f} req/s,"
                    f" p99 {row.p99_ms:.1f} ms, non-2xx {row.non2xx}, errors {row.errors}); server RSS sampled every"
                    " second:"]
        if s:
            out.append(f"  start {mb(s['start']):.1f} MB, a quarter in {mb(s['quarter']):.1f} MB, highest"
                       f" {mb(s['max']):.1f} MB, end {mb(s['end']):.1f} MB")
            step = max(1, len(result["memory_samples"]) // 10)
            out.append("  " + ", ".join(f"{t:.0f} s: {mb(rss):.1f}" for t, rss in result["memory_samples"][::step]))
    for note in result["notes"]:
        out.append(f"note: {note}")
    out += ["", f"targets ({backend}):"] + _targets(result)
    out += ["", "non-2xx, errors, server log:"] + _problems(result)
    out += ["", LEGEND]
    return "\n".join(out)


def comparison(results):
    """The resend rows side by side, for the backends of this run."""
    out = ["", "== backends side by side (x ref = req/s relative to the same backend's /healthz) =="]
    head = f"  {'route':<28}" + "".join(f" {r['backend'] + ' req/s':>16} {'x ref':>6} {'p99 ms':>7}" for r in results)
    out.append(head)
    for label in [r.label for r in results[0]["rows"]]:
        line = f"  {label:<28}"
        for res in results:
            row = _find(res["rows"], label)
            line += f" {row.rps:>16.0f} {row.rps / reference_rps(res['rows']):>5.2f}x {row.p99_ms:>7.2f}"
        out.append(line)
    return "\n".join(out)
