#!/usr/bin/env python3
"""The admin API at a real size: 100,000 users and 1,000,000 audit events.

    python3 bench/admin/run.py ORIGIN sqlite DATA_DIR/palisade.db PID
    python3 bench/admin/run.py ORIGIN postgres DATABASE_URL PID

Fills the running service's database directly (users, audit events), signs an
administrator in with a second factor through the API, then measures, one request at a
time on one kept-alive connection, the median and p99 of the user search and the audit-log
page (300 requests each, mixed filters), and the export of every event: events per second
and how much the server's resident memory grew while it streamed.
"""
import base64
import hashlib
import hmac
import http.client
import json
import random
import sqlite3
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

USERS, EVENTS = 100_000, 1_000_000
PASSWORD = "gravel orbit violet canteen"
KINDS = ["logged_in", "login_failed", "logged_out", "password_changed", "registered",
         "second_factor_added", "email_confirmed", "admin_group_added", "api_token_created", "oidc_code_issued"]
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
         "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe", "Åsa", "Émile"]


def totp(secret_b32, at):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    off = mac[19] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000)


class Client:
    def __init__(self, origin):
        url = urllib.parse.urlsplit(origin)
        self.origin, self.conn = origin, http.client.HTTPConnection(url.hostname, url.port, timeout=600)
        self.token = None

    def call(self, method, path, body=None):
        headers = {"Origin": self.origin}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()


def admin_session(origin):
    c = Client(origin)
    status, _ = c.call("POST", "/api/v1/register", {"username": "benchadmin", "email": "benchadmin@example.com", "password": PASSWORD})
    assert status == 201, status
    status, body = c.call("POST", "/api/v1/login", {"identifier": "benchadmin", "password": PASSWORD})
    c.token = json.loads(body)["token"]
    status, body = c.call("POST", "/api/v1/mfa/totp", {"name": "bench"})
    enrolment = json.loads(body)
    status, body = c.call("POST", f"/api/v1/mfa/totp/{enrolment['id']}/confirm", {"code": totp(enrolment["secret"], time.time())})
    assert status == 200, (status, body)
    return c


def fill_sqlite(path):
    db = sqlite3.connect(path, timeout=60)
    rng = random.Random(1)
    users = [(f"user{i:06d}", f"{rng.choice(FIRST).lower()}.{i}@example.com", f"{rng.choice(FIRST)} {rng.choice(FIRST)} {i}", 1_700_000_000 + i)
             for i in range(USERS)]
    with db:
        db.executemany("INSERT INTO users (username, email, email_key, display_name, password_hash, disabled, created_at, password_changed_at) "
                       "VALUES (?, ?, ?, ?, 'x', 0, ?, ?)", [(u, e, e, d, t, t) for u, e, d, t in users])
        db.execute("UPDATE users SET disabled = 1 WHERE id % 97 = 0")
        kinds = ",".join(f"('{k}')" for k in KINDS)
        db.execute(f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {EVENTS}),
                       k(kind, rn) AS (SELECT column1, ROW_NUMBER() OVER () - 1 FROM (VALUES {kinds}))
                       INSERT INTO audit_events (at, event, user_id, subject, client_addr, detail)
                       SELECT 1700000000 + i, (SELECT kind FROM k WHERE rn = i % 10), 1 + (i * 7919) % {USERS},
                              'user' || printf('%06d', (i * 7919) % {USERS}), '10.' || (i % 7) || '.' || (i % 251) || '.' || (i % 13),
                              'bench event ' || i FROM n""")
    db.close()


def fill_postgres(url):
    kinds = ",".join(f"'{k}'" for k in KINDS)
    first = ",".join(f"'{f}'" for f in FIRST)
    sql = f"""
      INSERT INTO users (username, email, email_key, display_name, password_hash, disabled, created_at, password_changed_at)
      SELECT 'user' || lpad(i::text, 6, '0'), f || '.' || i || '@example.com', lower(f) || '.' || i || '@example.com',
             f || ' ' || f || ' ' || i, 'x', CASE WHEN i % 97 = 0 THEN 1 ELSE 0 END, 1700000000 + i, 1700000000 + i
      FROM generate_series(0::bigint, {USERS - 1}) i, LATERAL (SELECT (ARRAY[{first}])[1 + (i * 31) % {len(FIRST)}] AS f) x;
      INSERT INTO audit_events (at, event, user_id, subject, client_addr, detail)
      SELECT 1700000000 + i, (ARRAY[{kinds}])[1 + i % 10], 1 + (i * 7919) % {USERS},
             'user' || lpad(((i * 7919) % {USERS})::text, 6, '0'),
             '10.' || (i % 7) || '.' || (i % 251) || '.' || (i % 13), 'bench event ' || i
      FROM generate_series(1::bigint, {EVENTS}) i;
      ANALYZE;"""
    subprocess.run(["psql", url, "-qc", sql], check=True)


def percentiles(times):
    times = sorted(times)
    return statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000


def timed(c, paths):
    times = []
    for path in paths:
        started = time.perf_counter()
        status, _ = c.call("GET", path)
        times.append(time.perf_counter() - started)
        assert status == 200, (path, status)
    return percentiles(times)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    origin, kind, where, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    c = admin_session(origin)
    started = time.time()
    fill_sqlite(where) if kind == "sqlite" else fill_postgres(where)
    filled = time.time() - started
    if kind == "sqlite":
        db = sqlite3.connect(where)
        db.execute("INSERT INTO user_groups (user_id, name) SELECT id, 'admins' FROM users WHERE username = 'benchadmin'")
        db.commit()
        db.close()
    else:
        subprocess.run(["psql", where, "-qc", "INSERT INTO user_groups (user_id, name) SELECT id, 'admins' FROM users WHERE username = 'benchadmin'"], check=True)
    # The connection idled out during the fill: a fresh one, kept alive from here.
    token, c = c.token, Client(origin)
    c.token = token
    rng = random.Random(2)
    searches = []
    for _ in range(300):
        shape = rng.randrange(5)
        prefix = rng.choice(FIRST)[: rng.randrange(1, 4)].lower()
        searches.append({0: f"?q={urllib.parse.quote(prefix)}", 1: f"?q=user0{rng.randrange(10)}",
                         2: "?disabled=true", 3: f"?q={urllib.parse.quote(prefix)}&disabled=true",
                         4: f"?after=user0{rng.randrange(10)}{rng.randrange(10)}"}[shape])
    audits = []
    for _ in range(300):
        shape = rng.randrange(4)
        audits.append({0: "", 1: f"?user=user{rng.randrange(USERS):06d}", 2: f"?event={rng.choice(KINDS)}",
                       3: f"?client=10.{rng.randrange(7)}.{rng.randrange(251)}.{rng.randrange(13)}"}[shape])
    search = timed(c, ["/api/v1/admin/users" + q for q in searches])
    audit = timed(c, ["/api/v1/admin/audit" + q for q in audits])
    # The export of every event, the server's memory sampled while it streams.
    before, peak, done = rss_kib(pid), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.05)
    threading.Thread(target=sample, daemon=True).start()
    exporter = Client(origin)
    exporter.token = c.token
    exporter.conn.request("GET", "/api/v1/admin/audit/export", headers={"Authorization": "Bearer " + c.token})
    response = exporter.conn.getresponse()
    started, lines = time.perf_counter(), 0
    while chunk := response.read(1 << 16):
        lines += chunk.count(b"\n")
    took = time.perf_counter() - started
    done.set()
    print(f"  {kind:<9} filled {USERS:,} users and {EVENTS:,} events in {filled:.0f} s; "
          f"user search p50 {search[0]:.1f} ms p99 {search[1]:.1f} ms; audit page p50 {audit[0]:.1f} ms p99 {audit[1]:.1f} ms; "
          f"export {lines:,} events in {took:.1f} s = {lines / took:,.0f} events/s, server memory {before // 1024} MiB → peak {peak[0] // 1024} MiB")


if __name__ == "__main__":
    main()
