"""A webhook SMS provider that accepts everything: the server's delivery worker POSTs each SMS here.

Run as its own process (`python3 sink.py PORT [DELAY_MS]`) so that its CPU shows up apart from the bench driver's. It
answers 200 to every POST, counts them, and answers `GET /count` with the count, so the report can show
that the worker really delivered while sendCode ran. HTTP/1.1 keep-alive, so the worker's client reuses its
connections as it would against a real provider. With DELAY_MS, each SMS is answered that long after it
arrived, as a provider's API takes its time (each request has a thread of its own, so they overlap).
"""

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()
_count = 0
_delay_s = 0.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global _count
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if _delay_s:
            time.sleep(_delay_s)
        with _lock:
            _count += 1
        self._answer(b"{}")

    def do_GET(self):
        with _lock:
            count = _count
        self._answer(str(count).encode())

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        # One line per SMS would only cost CPU that the server under test needs.
        pass


def main():
    global _delay_s
    if len(sys.argv) > 2:
        _delay_s = int(sys.argv[2]) / 1000
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
