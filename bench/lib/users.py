"""Creates the bench users through the public REST API, as a client would, and gets each its own token.

Each user gets a phone number with a pending code, which is what every resend route needs: a resend with
no pending code (e.g. after the number was verified) is refused with `Code is empty`.
"""

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

# Setup is not measured; a few parallel clients make it fast without flooding the group-commit writer.
_SETUP_CLIENTS = 8
# `phoneverify token` opens the database itself: a few at a time, or the two cores just thrash.
_TOKEN_PROCESSES = 4


class Client:
    """A keep-alive HTTP/1.1 JSON client (one per thread: http.client connections are not thread-safe)."""

    def __init__(self, base_url, token):
        u = urlsplit(base_url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.conn = None

    def call(self, method, path, body=None):
        """(status, decoded JSON body). Retries once on a dropped keep-alive connection."""
        payload = None if body is None else json.dumps(body)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, payload, headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def expect(self, method, path, body=None):
        status, answer = self.call(method, path, body)
        if status not in (200, 201):
            raise RuntimeError(f"{method} {path} {json.dumps(body)} answered {status}: {answer}")
        return answer


def phone_number(i):
    # Distinct valid Swiss mobile numbers (+41 79 xxx xx xx), so the per-number counters of each user are
    # separate rows, as with real users.
    return f"+4179{i:07d}"


def create_users(base_url, admin_token, count, prefix):
    """Creates `count` users with a phone and a pending code; returns their ids in creation order."""
    local = threading.local()

    def one(i):
        if not hasattr(local, "client"):
            local.client = Client(base_url, admin_token)
        c = local.client
        name = f"{prefix}{i}"
        created = c.expect("POST", "/v2/users/human", {
            "username": name,
            "profile": {"givenName": "Bench", "familyName": f"User {i}"},
            "email": {"email": f"{name}@bench.example.com"},
        })
        user_id = created["userId"]
        # returnCode: the code is pending like after an SMS, but setup costs no SMS and leaves the delivery
        # worker idle before the first measurement.
        c.expect("POST", f"/v2/users/{user_id}/phone", {"phone": phone_number(i), "returnCode": {}})
        return user_id

    with ThreadPoolExecutor(_SETUP_CLIENTS) as pool:
        return list(pool.map(one, range(count)))


def mint_tokens(server, user_ids):
    """{user_id: token}, each from `phoneverify token --user-id ID`."""
    with ThreadPoolExecutor(_TOKEN_PROCESSES) as pool:
        return dict(zip(user_ids, pool.map(server.token, user_ids)))


def write_users_file(path, tokens):
    """The file bench/wrk/route.lua reads: one "user_id<TAB>token" line per user."""
    with open(path, "w") as f:
        for user_id, token in tokens.items():
            f.write(f"{user_id}\t{token}\n")
