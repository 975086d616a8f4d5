"""Slow and idle clients: thousands of connections that send nothing, or send their headers
a line at a time, do not stop a normal client from registering and signing in; the server
cuts them off at its header deadline (and they reconnect, as an attacker would).

usage: slowloris.py PALISADE_BINARY [CONNECTIONS] [SECONDS]
"""

import errno
import socket
import sys
import tempfile
import threading
import time

import common

HEADER_DEADLINE = 4  # the server's header_read_timeout_secs for this run


def open_one(addr, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((f"127.2.{(n // 250) % 250}.{n % 250 + 1}", 0))
    s.connect(addr)
    s.setblocking(False)
    if n % 2:
        s.send(b"POST /api/v1/login HTTP/1.1\r\nhost: x\r\n")
    return s


def main():
    binary = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 15.0
    server = common.Server(binary, tempfile.mkdtemp(prefix="palisade-slow-"),
                           env={"PALISADE_HEADER_READ_TIMEOUT_SECS": str(HEADER_DEADLINE)}).start()
    addr = server.addr
    try:
        run(addr, total, seconds)
    finally:
        server.kill()


def run(addr, total, seconds):
    conns = {}
    for n in range(total):
        conns[n] = open_one(addr, n)
    opened = total
    cut_off = 0
    stop = threading.Event()
    normal = []

    def normal_client():
        while not stop.is_set():
            username, password = common.new_name("u"), common.new_password()
            try:
                reg = common.register(addr, username, password, timeout=10, source="127.0.0.1")
                log = common.login(addr, username, password, timeout=10, source="127.0.0.1")
                normal.append((reg.status, log.status, reg.seconds + log.seconds))
            except OSError as e:
                normal.append((None, None, str(e)))
            stop.wait(2.0)

    client = threading.Thread(target=normal_client)
    client.start()
    started = time.monotonic()
    last_trickle = 0.0
    while time.monotonic() - started < seconds:
        # A closed connection reads as b"" (or an error) without blocking.
        for n, s in list(conns.items()):
            try:
                if s.recv(1) == b"":
                    raise ConnectionResetError
            except BlockingIOError:
                continue
            except OSError:
                pass
            s.close()
            cut_off += 1
            conns[n] = open_one(addr, n)
            opened += 1
        if time.monotonic() - last_trickle >= 1.0:
            last_trickle = time.monotonic()
            for n, s in conns.items():
                if n % 2:
                    try:
                        s.send(b"x-slow: 1\r\n")
                    except OSError as e:
                        if e.errno not in (errno.EAGAIN, errno.EPIPE, errno.ECONNRESET):
                            raise
        time.sleep(0.2)
    stop.set()
    client.join()
    held = len(conns)
    for s in conns.values():
        s.close()
    ok = [r for r in normal if r[0] == 201 and r[1] == 200]
    if not normal or len(ok) != len(normal):
        common.fail(f"a normal client failed among {held} slow connections: {normal}")
    if cut_off == 0:
        common.fail("the server cut off no slow connection")
    worst = max(r[2] for r in ok)
    print(f"slowloris: {held} connections held open (half idle, half sending a header line a second), "
          f"{opened} opened in {seconds:.0f} s, {cut_off} cut off by the {HEADER_DEADLINE} s header deadline; "
          f"normal client: {len(ok)} of {len(normal)} register+login pairs succeeded, slowest pair {worst:.2f} s")


if __name__ == "__main__":
    main()
