"""SIGKILL under load, then restart: every write answered 2xx is there, nothing answered as
failed is there, and (SQLite) `PRAGMA integrity_check` is ok.

usage: crash.py PALISADE_BINARY {sqlite|postgres} KILLS

The load: registrations, logins, password changes and vault writes from 8 threads. Each
write's outcome is recorded as acknowledged (2xx), refused (an answer that is not 2xx) or
unknown (the connection died with the server). After each restart the checks run against
everything acknowledged or refused so far; unknown outcomes may have gone either way.
"""

import os
import random
import sqlite3
import sys
import tempfile
import threading
import time

import common

WORKERS = 8


class Ledger:
    """What the server answered, per account."""

    def __init__(self):
        self.lock = threading.Lock()
        # username -> {"passwords": set of passwords it may have, "known": the acknowledged
        # one or None, "secrets": {name: value acknowledged}, "maybe_secrets": {name: set}}
        self.accounts = {}
        self.refused_users = set()
        self.counts = {"acknowledged": 0, "refused": 0, "unknown": 0}

    def count(self, outcome):
        with self.lock:
            self.counts[outcome] += 1


def outcome(answer):
    if answer is None:
        return "unknown"
    return "acknowledged" if 200 <= answer.status < 300 else "refused"


def attempt(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except OSError:
        return None


def worker(addr, ledger, stop, rng):
    while not stop.is_set():
        username = common.new_name("u")
        password = common.new_password()
        answer = attempt(common.register, addr, username, password, timeout=10)
        result = outcome(answer)
        ledger.count(result)
        with ledger.lock:
            if result == "acknowledged":
                ledger.accounts[username] = {
                    "known": password, "candidates": {password}, "secrets": {}, "maybe": {}}
            elif result == "refused":
                if answer.status >= 500:
                    ledger.refused_users.add(username)
            else:
                ledger.accounts[username] = {
                    "known": None, "candidates": {password}, "secrets": {}, "maybe": {}}
        if result != "acknowledged":
            continue
        answer = attempt(common.login, addr, username, password, timeout=10)
        if answer is None or answer.status != 200:
            continue
        token = answer.json()["token"]
        for _ in range(rng.randint(1, 3)):
            if stop.is_set():
                return
            name = common.new_name("s")
            value = common.new_name("v")
            answer = attempt(common.call, addr, "PUT", f"/api/v1/secrets/{name}",
                             {"value": value}, token=token, timeout=10)
            result = outcome(answer)
            ledger.count(result)
            with ledger.lock:
                if result == "acknowledged":
                    ledger.accounts[username]["secrets"][name] = value
                elif result == "unknown":
                    ledger.accounts[username]["maybe"][name] = value
        if rng.random() < 0.5:
            new = common.new_password()
            with ledger.lock:
                ledger.accounts[username]["candidates"].add(new)
            answer = attempt(common.call, addr, "POST", "/api/v1/password",
                             {"current_password": password, "new_password": new},
                             token=token, timeout=10)
            result = outcome(answer)
            ledger.count(result)
            with ledger.lock:
                account = ledger.accounts[username]
                if result == "acknowledged":
                    account["known"], account["candidates"] = new, {new}
                elif result == "refused":
                    account["candidates"].discard(new)
                else:
                    account["known"] = None


def verify(addr, ledger):
    """Checks every recorded outcome against the restarted server; returns accounts checked."""
    with ledger.lock:
        accounts = {u: dict(a, candidates=set(a["candidates"]), secrets=dict(a["secrets"]))
                    for u, a in ledger.accounts.items()}
        refused = set(ledger.refused_users)
    for username in refused:
        answer = common.login(addr, username, "x" * 12)
        if answer.status != 401 or username in accounts:
            common.fail(f"{username} was answered 5xx at registration but exists")
    checked = 0
    for username, account in accounts.items():
        signed_in = None
        for password in account["candidates"]:
            answer = common.login(addr, username, password)
            if answer.status == 200:
                signed_in = (password, answer.json()["token"])
                break
            if answer.status == 429:
                common.fail(f"throttled while verifying {username}")
        if account["known"] is not None:
            if signed_in is None:
                common.fail(f"{username}: acknowledged, but no acknowledged password signs in")
            if signed_in[0] != account["known"]:
                common.fail(f"{username}: signs in with {signed_in[0]!r}, not the acknowledged password")
        if signed_in is None:
            continue  # registration or password change of unknown outcome
        checked += 1
        token = signed_in[1]
        listed = common.call(addr, "GET", "/api/v1/secrets", token=token)
        if listed.status != 200:
            common.fail(f"{username}: listing secrets answered {listed.status}")
        names = {item["name"] for item in listed.json()}
        for name, value in account["secrets"].items():
            if name not in names:
                common.fail(f"{username}: acknowledged secret {name} is missing")
            revealed = common.call(addr, "POST", f"/api/v1/secrets/{name}/reveal", {}, token=token)
            if revealed.status != 200 or revealed.json().get("value") != value:
                common.fail(f"{username}: secret {name} answered {revealed.status} {revealed.body[:80]}")
        unexpected = names - set(account["secrets"]) - set(account["maybe"])
        if unexpected:
            common.fail(f"{username}: secrets nobody acknowledged or sent: {sorted(unexpected)}")
        # Sign out again so the next round's sessions do not pile up.
        common.call(addr, "POST", "/api/v1/logout", {}, token=token)
    return checked


def main():
    binary, database, kills = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data_dir = tempfile.mkdtemp(prefix="palisade-crash-")
    url = None
    if database == "postgres":
        url = common.fresh_postgres_database("palisade_crash")
        if url is None:
            return
    server = common.Server(binary, data_dir, url)
    ledger = Ledger()
    rng = random.Random(int(os.environ.get("PALISADE_FAULT_SEED", time.time_ns())))
    checked = 0
    for round_ in range(1, kills + 1):
        server.start()
        if round_ > 1:
            checked = verify(server.addr, ledger)
        stop = threading.Event()
        threads = [threading.Thread(target=worker, args=(server.addr, ledger, stop, random.Random(rng.random())))
                   for _ in range(WORKERS)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 2.0))
        stop.set()  # no new requests: what the kill cuts off is what was in flight
        server.kill()
        for t in threads:
            t.join()
        if database == "sqlite":
            db = sqlite3.connect(os.path.join(data_dir, "palisade.db"))
            result = db.execute("PRAGMA integrity_check").fetchone()[0]
            db.close()
            if result != "ok":
                common.fail(f"integrity_check after kill {round_}: {result}")
    server.start()
    checked = verify(server.addr, ledger)
    server.kill()
    c = ledger.counts
    print(f"crash ({database}): {kills} SIGKILLs under load; writes acknowledged {c['acknowledged']}, "
          f"refused {c['refused']}, cut off {c['unknown']}; {checked} accounts verified after the last "
          f"restart, all acknowledged writes present"
          + (", integrity_check ok after every kill" if database == "sqlite" else ""))


if __name__ == "__main__":
    main()
