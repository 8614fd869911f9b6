"""The memory run: one long v2 resend (sendCode) load of about a given number of requests, with the server's
resident set sampled every second, to show whether memory stays flat as requests accumulate (a leak grows
with them; caches and pools fill early and then stay).

The request count is reached by time: wrk runs for the count divided by the sendCode rate measured in the
main table, plus a tenth. The report says how many requests were really answered.
"""

import math
import threading
import time

# Flat: the resident set at the end of the run within this fraction of the one a quarter into it. The first
# quarter is warm-up: the allocator's arenas, the row cache and SQLite's page caches fill there.
FLAT_WITHIN = 0.10


def run(measure_row, server, requests, rate):
    """measure_row(seconds) runs and measures the load; returns (row, [(seconds, rss KiB), ...])."""
    seconds = max(10, math.ceil(requests / max(rate, 1.0) * 1.1))
    samples = []
    stop = threading.Event()

    def sample():
        start = time.monotonic()
        while not stop.is_set():
            samples.append((time.monotonic() - start, server.rss_kib()))
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        row = measure_row(seconds)
    finally:
        stop.set()
        sampler.join()
    return row, samples


def summary(samples):
    """RSS (KiB) at the start, a quarter in, at its highest and at the end; None without samples."""
    if not samples:
        return None
    total = samples[-1][0]
    quarter = next(rss for t, rss in samples if t >= total / 4)
    return {"start": samples[0][1], "quarter": quarter, "max": max(rss for _, rss in samples),
            "end": samples[-1][1], "seconds": total}


def is_flat(s):
    return s is not None and s["end"] <= s["quarter"] * (1 + FLAT_WITHIN)
