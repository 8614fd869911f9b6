"""Direct database access for what the API does not offer: a fresh Postgres database per run, counting what
the server wrote (to check the load generator's 2xx against real writes), and bulk-loading events.

SQLite through Python's sqlite3 module, Postgres through psql (Debian's postgresql-client), so that the bench
needs no pip package.
"""

import secrets
import sqlite3
import subprocess
from urllib.parse import urlsplit, urlunsplit

# The event each resend writes (sendCode, returnCode and the v1 resend alike).
CODE_ADDED = "user.human.phone.code.added"


def _psql(url, sql):
    r = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed: {r.stderr.strip()}")
    return r.stdout.strip()


def _with_database(url, name):
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


class PostgresDatabase:
    """A database created for this run on the given server and dropped at the end, whatever happens."""

    def __init__(self, server_url):
        self.name = f"phoneverify_bench_{secrets.token_hex(4)}"
        self._admin_url = _with_database(server_url, "postgres")
        _psql(self._admin_url, f"CREATE DATABASE {self.name}")
        self.url = _with_database(server_url, self.name)

    def drop(self):
        # FORCE: a server that was killed may leave connections behind for a moment.
        _psql(self._admin_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Store:
    """Read-mostly access to the server's database while it runs."""

    def __init__(self, backend, sqlite_path=None, postgres_url=None):
        self.backend = backend
        self.sqlite_path = sqlite_path
        self.postgres_url = postgres_url

    def _query(self, sql, params=()):
        if self.backend == "sqlite":
            # A connection of our own; WAL lets it read while the server writes. The timeout covers the
            # moments the server's writer holds the lock when we write (preload).
            db = sqlite3.connect(self.sqlite_path, timeout=60)
            try:
                with db:  # commits a write
                    return db.execute(sql, params).fetchall()
            finally:
                db.close()
        for p in params:  # psql -c takes no parameters; ours are integers and fixed event names only
            sql = sql.replace("?", str(p) if isinstance(p, int) else "'" + p.replace("'", "''") + "'", 1)
        out = _psql(self.postgres_url, sql)
        return [tuple(line.split("|")) for line in out.splitlines()]

    def last_position(self):
        """The newest event's position: what a route wrote is counted after this mark."""
        return int(self._query("SELECT COALESCE(MAX(position), 0) FROM events")[0][0])

    def count_events(self, event_type, after_position):
        rows = self._query("SELECT COUNT(*) FROM events WHERE position > ? AND event_type = ?",
                           (after_position, event_type))
        return int(rows[0][0])

    def total_events(self):
        return int(self._query("SELECT COUNT(*) FROM events")[0][0])

    def preload_events(self, count, template_user_id):
        """Appends `count` events for made-up users, copied in turn from the real events of one bench user, so
        the rows have the real types, payload sizes and index keys. One INSERT ... SELECT on the database
        side: a million rows take seconds, where a million API calls would take the whole afternoon.
        The made-up aggregates ('preload-N') have no projection rows; only the event log grows."""
        template = (
            "SELECT ROW_NUMBER() OVER (ORDER BY sequence) - 1 AS idx, aggregate_type, event_type, payload,"
            " resource_owner, creator, created_at FROM events WHERE aggregate_id = ?")
        k = int(self._query(f"SELECT COUNT(*) FROM ({template}) t", (template_user_id,))[0][0])
        if k == 0:
            raise RuntimeError(f"user {template_user_id} has no events to copy")
        def copy(source, template):
            """The INSERT that appends row i of `source` as template event i % k of user 'preload-(i / k)'."""
            return ("INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, payload,"
                    " resource_owner, creator, created_at)"
                    f" SELECT t.aggregate_type, 'preload-' || (n.i / {k}), n.i % {k} + 1, t.event_type, t.payload,"
                    f" t.resource_owner, t.creator, t.created_at FROM {source} JOIN {template} t ON t.idx = n.i % {k}")
        if self.backend == "sqlite":
            # The template goes into a table keyed by its index first: joined as a subquery, SQLite scanned all
            # k template rows for each of the `count` rows, and after a long run (k in the thousands, e.g.
            # after --memory-requests) the load would have taken hours.
            db = sqlite3.connect(self.sqlite_path, timeout=60)
            try:
                with db:
                    db.execute("CREATE TEMP TABLE preload_template (idx INTEGER PRIMARY KEY, aggregate_type,"
                               " event_type, payload, resource_owner, creator, created_at)")
                    db.execute(f"INSERT INTO preload_template {template}", (template_user_id,))
                    db.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                               + copy("n", "preload_template"), (count - 1,))
            finally:
                db.close()
        else:
            self._query(copy("generate_series(0, ? ) AS n(i)", f"({template})"),
                        (count - 1, template_user_id))
        if self.backend == "sqlite":
            # Into the database file, as checkpoints along the way would have put them on a store that grew over
            # time; otherwise the server's writer copies gigabytes of WAL during the rows measured next.
            self._query("PRAGMA wal_checkpoint(TRUNCATE)")
        if self.backend == "postgres":
            # Statistics as autovacuum would have them on a store that grew over time.
            self._query("ANALYZE events")
