#!/usr/bin/env python3
"""Writes seed inputs for each fuzz target from the shared third-party test data.

Usage: fuzz/seeds.py TESTDATA OUT   (OUT/<target>/ gets one file per seed; nothing from the
test data is kept in the repository)."""
import hashlib
import json
import os
import sys
from pathlib import Path

testdata, out = Path(sys.argv[1]), Path(sys.argv[2])


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def lines(path, limit=400):
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines()[:limit]:
            if line.strip():
                yield line


for case in json.loads((testdata / "csp/csp_cases.json").read_text())["cases"]:
    put("csp", case["csp"])
payloads = testdata / "payloads"
naughty = list(lines(payloads / "naughty-strings/blns.txt", 1000))
for line in naughty:
    put("validate", line)
    put("forwarded", line)
for sub in ["crlf", "open-redirect", "xss", "sqli", "path-traversal"]:
    for f in sorted((payloads / "payloadsallthethings" / sub).glob("*.txt"))[:3]:
        for line in lines(f, 100):
            put("validate", line)
            put("forwarded", line)
            put("csp", "script-src " + line)
# forward-auth's original request (a first byte of options, then path?query) and the way
# back after login, from the traversal and open-redirect corpora.
for f in sorted((payloads / "payloadsallthethings" / "path-traversal").glob("*.txt")):
    for line in lines(f, 300):
        for options in (0, 1, 2, 0x80):
            put("authz_target", bytes([options]) + ("/public/" + line.lstrip("/")).encode())
for f in sorted((payloads / "payloadsallthethings" / "open-redirect").glob("*.txt")):
    for line in lines(f, 400):
        put("return_to", line)
        put("return_to", "https://app.example.com/" + line)
for v in ["/admin;x=1", "/public/%c0%ae%c0%ae/admin", "/ADMIN.%20", "/a/..;/b?x=%2f", "//a/./b/../c"]:
    for options in (0, 1, 2, 0x81):
        put("authz_target", bytes([options]) + v.encode())
for v in ["https://app.example.com/x?y#z", "https://example.com.evil.net/", "//evil", "/\\evil",
          "https://accounts.example.com@evil.net/", "https://APP.example.com:443/%2e%2e/"]:
    put("return_to", v)
for v in ["for=192.0.2.60;proto=https;by=203.0.113.43", "for=\"[2001:db8:cafe::17]:4711\"",
          "192.0.2.1, 10.0.0.3\nhttps", "for=unknown, for=_hidden\n198.51.100.7\nhttp"]:
    put("forwarded", v)
# JWS-shaped inputs for the provider's token check: forged headers over plausible claims.
import base64 as _b64
def _seg(obj):
    return _b64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
for header in [{"alg": "none"}, {"alg": "HS256"}, {"alg": "ES256", "kid": "x"}, {"alg": "EdDSA"},
               {"alg": "RS256", "crit": ["b64"]}, {"alg": "ES256", "kid": 7}, {"alg": "ES256", "jku": "https://evil/"}]:
    for sig in ["", "AAAA", "A" * 86, "_-" * 43]:
        put("jwt", f"{_seg(header)}.{_seg({'iss': 'https://accounts.example.com', 'sub': 's'})}.{sig}")
pw = testdata / "passwords"
argon = json.loads((pw / "argon2_vectors.json").read_text())
for group in ["hash_vectors", "invalid_encoded"]:
    for v in argon.get(group, []):
        if "encoded" in v:
            put("stored_hash", v["encoded"])
bcrypt = json.loads((pw / "bcrypt_vectors.json").read_text())
for group in ["valid", "wrong_password", "invalid_hash"]:
    for v in bcrypt.get(group, []):
        if isinstance(v, dict) and "hash" in v:
            put("stored_hash", v["hash"])
            put("stored_hash", "$pepper$1$" + v["hash"])
for name in ["generate.json", "invalid.json", "verify.json"]:
    f = testdata / "fernet" / name
    if f.is_file():
        for v in json.loads(f.read_text()):
            if isinstance(v, dict) and "token" in v:
                put("fernet", v["token"])
lock = testdata / "lockfiles/python"
kinds = {"requirements": 0, "Pipfile.lock": 1, "poetry.lock": 2}
for f in sorted(lock.rglob("*")):
    if not f.is_file():
        continue
    kind = 0 if f.name.endswith(".txt") else kinds.get(f.name)
    if kind is not None:
        put("lockfiles", bytes([kind]) + f.read_bytes()[:20000])
for f in sorted((testdata / "advisories/pypa").rglob("*.yaml"))[:200]:
    put("lockfiles", bytes([4]) + f.read_bytes())
# The configuration file: the documented keys, good and bad values, and naughty strings.
configs = [
    'listen = "127.0.0.1:8080"\nsite_name = "Example"\nsession_idle_minutes = 30\n',
    'metrics_token = "abcdefghijklmnop0123"\nreauth_minutes = 0\n',
    'database_url = "postgres://app:Sup3rSecretPassw0rd@db.example.com/app"\n',
    'database_url = "postgres://app:Sup3rSecretPassw0rd@127.0.0.1/app?sslmode=verify-full"\n'
    'database_tls_cert = "/nonexistent"\n',
    'legacy_bcrypt_pepper = "pepperpepperpepper12"\nhash_concurrency = 18446744073709551615\n',
    'trusted_proxies = ["10.0.0.0/8", "::1", "bogus"]\nlisten = "0.0.0.0:443"\n',
    'tls_cert = "c.pem"\npublic_origin = "ftp://x"\nsession_idle_minutes = 500\n',
    'header_read_timeout_secs = 0\nmax_connections = -1\nargon2_memory_kib = 4294967296\n',
    '[table]\nkey = 1\n',
]
for text in configs:
    put("config", text)
for line in naughty[:200]:
    put("config", f'site_name = "{line}"\n')
    put("config", line)
print(f"seeds written to {out}: " + ", ".join(
    f"{d.name} {len(list(d.iterdir()))}" for d in sorted(out.iterdir())))
