"""PostgreSQL stopped and started under load: while it is down every request is answered
within 5 s (503 with Retry-After where the database is needed, no hang), /healthz says
"database unavailable", /livez stays 200, and once it is back the same process serves again.

usage: pg_restart.py PALISADE_BINARY [OUTAGE_SECONDS]
Stops and starts the machine's cluster with pg_ctlcluster: run it where nothing else uses it.
"""

import sys
import tempfile
import threading
import time

import common

ANSWER_WITHIN = 5.0


def main():
    binary = sys.argv[1]
    outage = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
    url = common.fresh_postgres_database("palisade_outage")
    if url is None:
        return
    server = common.Server(binary, tempfile.mkdtemp(prefix="palisade-outage-"), url).start()
    addr = server.addr
    username, password = common.new_name("u"), common.new_password()
    if common.register(addr, username, password).status != 201:
        common.fail("registration before the outage")
    token = common.login(addr, username, password).json()["token"]

    down = threading.Event()
    stop = threading.Event()
    problems = []
    seen = {"during": {}, "slowest": 0.0}
    lock = threading.Lock()

    def load():
        while not stop.is_set():
            for method, path, body in (("GET", "/api/v1/me", None),
                                       ("POST", "/api/v1/login", {"identifier": username, "password": password}),
                                       ("GET", "/healthz", None)):
                try:
                    answer = common.call(addr, method, path, body,
                                         token=token if path == "/api/v1/me" else None,
                                         timeout=ANSWER_WITHIN + 5)
                except OSError as e:
                    with lock:
                        problems.append(f"{method} {path}: no answer ({e})")
                    continue
                with lock:
                    seen["slowest"] = max(seen["slowest"], answer.seconds)
                    if answer.seconds > ANSWER_WITHIN:
                        problems.append(f"{method} {path} took {answer.seconds:.1f} s")
                    if answer.status >= 500 and answer.status != 503:
                        problems.append(f"{method} {path} answered {answer.status}")
                    if answer.status == 503 and "retry-after" not in {k.lower() for k in answer.headers}:
                        problems.append(f"{method} {path}: 503 without Retry-After")
                    if down.is_set():
                        key = f"{path} {answer.status}"
                        seen["during"][key] = seen["during"].get(key, 0) + 1
                        if path == "/healthz" and answer.status == 503 and "database unavailable" not in answer.body:
                            problems.append(f"/healthz said {answer.body!r}")

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    try:
        common.postgres("stop")
        down.set()
        time.sleep(1.0)
        live = common.call(addr, "GET", "/livez")
        if live.status != 200:
            problems.append(f"/livez answered {live.status} during the outage")
        time.sleep(max(0.0, outage - 1.0))
    finally:
        down.clear()
        common.postgres("start")
    started = time.monotonic()
    recovered = None
    while time.monotonic() - started < 30:
        answer = common.call(addr, "GET", "/api/v1/me", token=token)
        if answer.status == 200:
            recovered = time.monotonic() - started
            break
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    server.kill()
    if recovered is None:
        common.fail("the service did not recover within 30 s of PostgreSQL's start")
    if not any(k.endswith(" 503") for k in seen["during"]):
        common.fail(f"no 503 during the outage: {seen['during']}")
    if "/healthz 503" not in seen["during"]:
        common.fail(f"/healthz never reported the outage: {seen['during']}")
    if problems:
        common.fail("; ".join(sorted(set(problems))[:10]))
    during = ", ".join(f"{k}: {v}" for k, v in sorted(seen["during"].items()))
    print(f"postgres restart: {outage:.0f} s outage under load; answers during it: {during}; "
          f"slowest answer {seen['slowest']:.2f} s (limit {ANSWER_WITHIN:.0f} s); "
          f"serving again {recovered:.2f} s after PostgreSQL started, without a restart")


if __name__ == "__main__":
    main()
