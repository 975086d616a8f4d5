"""Schemathesis hooks: every authenticated operation gets a bearer token of a freshly
registered user, renewed often, because the run itself signs out, changes passwords and
ends sessions (and must: those are the operations under test)."""

import os
import sys

import schemathesis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "faults"))
import common  # noqa: E402

ADDR = (os.environ["PALISADE_ST_HOST"], int(os.environ["PALISADE_ST_PORT"]))


@schemathesis.auth(refresh_interval=2)
class FreshUser:
    def get(self, case, ctx):
        username, password = common.new_name("st"), common.new_password()
        if common.register(ADDR, username, password).status != 201:
            raise RuntimeError("schemathesis hooks: registration failed")
        answer = common.login(ADDR, username, password)
        if answer.status != 200:
            raise RuntimeError(f"schemathesis hooks: login answered {answer.status}")
        return answer.json()["token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
