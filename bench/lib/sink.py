"""A webhook SMS provider that accepts everything: the server's delivery worker POSTs each SMS here.

Run as its own process (`python3 sink.py PORT [DELAY_MS]`) so that its CPU shows up apart from the bench driver's.
It answers 200 to every POST, counts them, and answers `GET /count` with the count, so the report can show that
the worker really delivered while sendCode ran. HTTP/1.1 keep-alive, so the worker's client reuses its
connections as it would against a real provider. With DELAY_MS, each SMS is answered that long after it arrived,
as a provider's API takes its time (connections wait apart, so the waits overlap).

It is a bare asyncio protocol rather than http.server: at the several hundred SMS a second the worker delivers
during a sendCode row, a thread per connection and http.server's parsing took a quarter of a core, which the
server under test needs; a real provider's cost is not on our machine.
"""

import asyncio
import sys

_count = 0
_delay_s = 0.0


class Connection(asyncio.Protocol):
    """One keep-alive connection: requests are answered in order, one at a time (no pipelining needed)."""

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""
        self.busy = False

    def data_received(self, data):
        self.buffer += data
        if not self.busy:
            self.next_request()

    def next_request(self):
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end].decode("latin-1")
        lines = head.split("\r\n")
        method, path = (lines[0].split(" ") + ["", ""])[:2]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip() or 0)
        total = head_end + 4 + length
        if len(self.buffer) < total:
            return
        self.buffer = self.buffer[total:]
        if method == "POST":
            global _count
            _count += 1
            body = b"{}"
        elif path == "/count":
            body = str(_count).encode()
        else:
            body = b"{}"
        if method == "POST" and _delay_s:
            self.busy = True
            asyncio.get_running_loop().call_later(_delay_s, self.answer, body)
        else:
            self.answer(body)

    def answer(self, body):
        self.busy = False
        if self.transport.is_closing():
            return
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.next_request()


async def serve(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Connection, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main():
    global _delay_s
    if len(sys.argv) > 2:
        _delay_s = int(sys.argv[2]) / 1000
    asyncio.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
