"""The data directory's filesystem fills up (a small tmpfs): writes are answered 503 with
Retry-After and logged in one clear line, reads go on, nothing is corrupted, and writes
work again once space returns — without a restart.

usage: disk_full.py PALISADE_BINARY
Needs root (it mounts a tmpfs); says SKIPPED otherwise, and fails under CI=true.
"""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile

import common

SIZE = "16m"


def fill(path):
    """Writes `path` until the filesystem has no space left, to the last 512 bytes."""
    with open(path, "wb", buffering=0) as f:
        for size in (65536, 512):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def main():
    binary = sys.argv[1]
    mount = tempfile.mkdtemp(prefix="palisade-full-")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", mount],
                             stderr=subprocess.PIPE, text=True)
    if mounted.returncode != 0:
        if os.environ.get("CI") == "true":
            common.fail(f"cannot mount a tmpfs under CI: {mounted.stderr.strip()}")
        print(f"SKIPPED: cannot mount a tmpfs ({mounted.stderr.strip()}); run as root")
        return
    # JSON logs: the line a log processor gets must parse.
    server = common.Server(binary, os.path.join(mount, "data"), env={"PALISADE_LOG_FORMAT": "json"})
    try:
        run(server, mount)
    finally:
        server.kill()
        subprocess.run(["umount", mount], check=False)


def run(server, mount):
    addr = server.start().addr
    username, password = common.new_name("u"), common.new_password()
    if common.register(addr, username, password).status != 201:
        common.fail("registration before the disk filled")
    token = common.login(addr, username, password).json()["token"]
    if common.call(addr, "PUT", "/api/v1/secrets/before", {"value": "kept"}, token=token).status // 100 != 2:
        common.fail("vault write before the disk filled")

    filler = os.path.join(mount, "filler")
    fill(filler)
    statuses = []
    written = []
    for i in range(40):
        answer = common.call(addr, "PUT", f"/api/v1/secrets/full{i}", {"value": "x" * 4000}, token=token)
        statuses.append(answer.status)
        if answer.status // 100 == 2:
            written.append(f"full{i}")
        elif answer.status == 503:
            if "retry-after" not in {k.lower() for k in answer.headers}:
                common.fail("503 without Retry-After")
        else:
            common.fail(f"a write on a full disk answered {answer.status}: {answer.body[:200]}")
    if 503 not in statuses:
        common.fail(f"no write failed on a full disk: {statuses}")
    register = common.register(addr, common.new_name("u"), common.new_password())
    if register.status not in (201, 503):
        common.fail(f"registration on a full disk answered {register.status}:\n" + server.stderr()[-3000:])
    me = common.call(addr, "GET", "/api/v1/me", token=token)
    listed = common.call(addr, "GET", "/api/v1/secrets", token=token)
    if me.status != 200 or listed.status != 200:
        common.fail(f"reads on a full disk answered {me.status} and {listed.status}")
    names = {item["name"] for item in listed.json()}
    if "before" not in names or not set(written) <= names:
        common.fail(f"a secret answered 2xx is missing on a full disk: {sorted(names)}")
    log = server.stderr()
    lines = [l for l in log.splitlines() if "disk is full" in l]
    if not lines:
        common.fail("no log line says the disk is full:\n" + log[-2000:])
    if len(lines) > 3:
        common.fail(f"{len(lines)} log lines for {statuses.count(503)} refused writes: the outage floods the log")
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            common.fail(f"a log line is not JSON: {line[:200]}")
        if entry.get("level") != "ERROR" or "timestamp" not in entry:
            common.fail(f"a log line lacks its level or time: {line[:200]}")
    if any(secret in log for secret in (password, token)):
        common.fail("a secret reached the log")

    os.remove(filler)
    again = common.call(addr, "PUT", "/api/v1/secrets/after", {"value": "back"}, token=token)
    if again.status // 100 != 2:
        common.fail(f"a write after space returned answered {again.status}")
    revealed = common.call(addr, "POST", "/api/v1/secrets/before/reveal", {}, token=token)
    if revealed.status != 200 or revealed.json().get("value") != "kept":
        common.fail(f"the secret written before the disk filled: {revealed.status}")
    server.kill()
    db = sqlite3.connect(os.path.join(mount, "data", "palisade.db"))
    result = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    if result != "ok":
        common.fail(f"integrity_check: {result}")
    print(f"disk full: {statuses.count(503)} of {len(statuses)} writes answered 503 with Retry-After "
          f"({len(written)} still fit), none 5xx otherwise; reads 200; {len(lines)} JSON log line(s) "
          f"like: {json.loads(lines[0])['fields']['message'][:120]}; writes work again after space returned; integrity_check ok")


if __name__ == "__main__":
    main()
