"""Prepares bench/oidc.sh's load: a user signed in, the app consented to once, and N
refresh-token families (each from a whole code flow), an access token, and the session
cookie — printed as JSON. Usage: prepare.py ORIGIN CLIENT_ID SECRET REDIRECT N"""
import base64
import hashlib
import http.client
import json
import re
import sys
import urllib.parse

origin, client_id, secret, redirect, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
host = urllib.parse.urlsplit(origin).netloc
PASSWORD = "gravel orbit violet canteen"
VERIFIER = "bench-verifier-" + "x" * 40
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
BASIC = base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def call(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read().decode()
    conn.close()
    return res.status, dict(res.getheaders()), data


def api(path, payload):
    return call("POST", path, json.dumps(payload), {"content-type": "application/json", "origin": origin})


api("/api/v1/register", {"username": "oidcbench", "email": "oidcbench@example.com", "password": PASSWORD})
status, _, body = api("/api/v1/login", {"identifier": "oidcbench", "password": PASSWORD})
assert status == 200, body
cookie = "__Host-palisade-session=" + json.loads(body)["token"]
query = urllib.parse.urlencode({
    "response_type": "code", "client_id": client_id, "redirect_uri": redirect,
    "scope": "openid profile email offline_access", "state": "s", "nonce": "n",
    "code_challenge": CHALLENGE, "code_challenge_method": "S256",
})
authorize = "/oauth2/authorize?" + query


def unescape(text):
    for a, b in [("&#38;", "&"), ("&amp;", "&"), ("&#34;", '"'), ("&quot;", '"'), ("&#39;", "'"), ("&#x27;", "'")]:
        text = text.replace(a, b)
    return text


def code():
    status, headers, body = call("GET", authorize, headers={"cookie": cookie})
    if status == 200:  # the consent page, the first time
        field = lambda name: unescape(re.search(f'name="{name}" value="([^"]*)"', body).group(1))
        form = urllib.parse.urlencode({"csrf": field("csrf"), "request": field("request"), "decision": "allow"})
        status, headers, body = call("POST", "/oauth2/consent", form, {
            "cookie": cookie, "origin": origin, "content-type": "application/x-www-form-urlencoded"})
    assert status == 303, (status, body)
    location = {k.lower(): v for k, v in headers.items()}["location"]
    return urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]


def tokens():
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code(),
                                   "redirect_uri": redirect, "code_verifier": VERIFIER})
    status, _, body = call("POST", "/oauth2/token", form, {
        "authorization": "Basic " + BASIC, "content-type": "application/x-www-form-urlencoded"})
    assert status == 200, body
    return json.loads(body)


families = [tokens() for _ in range(n)]
print(json.dumps({
    "cookie": cookie, "basic": BASIC, "authorize": authorize, "verifier": VERIFIER,
    "redirect": urllib.parse.quote(redirect, safe=""),
    "access_token": families[0]["access_token"],
    "refresh_tokens": [f["refresh_token"] for f in families],
}))
