"""What the fault scripts share: starting `palisade serve`, and a small JSON client.

Standard library only, so `.ci/run` needs nothing installed for them.
"""

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time

PG_VERSION_DIR = "/etc/postgresql"


class Server:
    """One `palisade serve` process on 127.0.0.1:<free port>, its stderr kept in memory."""

    def __init__(self, binary, data_dir, database_url=None, env=None):
        self.binary = binary
        self.data_dir = data_dir
        self.database_url = database_url
        self.extra_env = env or {}
        self.proc = None
        self.addr = None
        self.log = []

    def start(self, timeout=60):
        env = dict(os.environ)
        # Cheaper hashing keeps the load high; the parameters do not change what is tested.
        env.update({"PALISADE_ARGON2_MEMORY_KIB": "8192", "PALISADE_ARGON2_ITERATIONS": "1"})
        env.pop("DATABASE_URL", None)
        if self.database_url:
            env["PALISADE_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        self.log = []
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        found = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"listening on (\S+)$", line.rstrip("\n"))
                if m and not found.is_set():
                    host, port = m.group(1).rsplit(":", 1)
                    self.addr = (host, int(port))
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(timeout):
            self.kill()
            sys.exit("error: palisade serve did not start:\n" + "".join(self.log))
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stderr(self):
        return "".join(self.log)


class Answer:
    def __init__(self, status, headers, body, seconds):
        self.status = status
        self.headers = headers
        self.body = body
        self.seconds = seconds

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def random_loopback():
    """A loopback address other than 127.0.0.1: each call looks like its own client, so the
    per-address throttle (rightly) does not slow a load that stands for many people."""
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def call(addr, method, path, body=None, token=None, timeout=15, source=None):
    """One request on its own connection, from `source` (default: a random loopback
    address). Raises OSError when no answer came."""
    source = source or random_loopback()
    headers = {"accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    started = time.monotonic()
    conn = http.client.HTTPConnection(
        addr[0], addr[1], timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read().decode("utf-8", "replace")
        return Answer(response.status, dict(response.getheaders()), payload, time.monotonic() - started)
    except http.client.HTTPException as e:
        raise OSError(f"no HTTP answer: {e}") from e
    finally:
        conn.close()


def new_password():
    return "fault-" + secrets.token_urlsafe(18)


def new_name(prefix):
    return f"{prefix}{secrets.token_hex(6)}"


def register(addr, username, password, **kw):
    return call(
        addr,
        "POST",
        "/api/v1/register",
        {"username": username, "email": f"{username}@example.com", "password": password},
        **kw,
    )


def login(addr, username, password, **kw):
    return call(addr, "POST", "/api/v1/login", {"identifier": username, "password": password}, **kw)


def postgres(action):
    """Stops or starts the machine's PostgreSQL cluster (the one `.ci/run` starts)."""
    version = sorted(os.listdir(PG_VERSION_DIR))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def fresh_postgres_database(name):
    """Creates an empty database `name` beside PALISADE_TEST_DATABASE_URL's and returns its
    URL; None (after saying SKIPPED) when no server is named — a failure under CI=true."""
    url = os.environ.get("PALISADE_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI") == "true":
            fail("PALISADE_TEST_DATABASE_URL is not set under CI")
        print("SKIPPED: PALISADE_TEST_DATABASE_URL is not set")
        return None
    base = url.rsplit("/", 1)[0]
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", url, "-q", "-c", sql], check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, PGOPTIONS="--client-min-messages=warning"))
    return f"{base}/{name}"


def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)
