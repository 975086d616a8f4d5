"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1:PORT, STARTTLS required
before anything else (certificate and key given), AUTH required (PLAIN/LOGIN with the
given user and password). Each message received is written to DIR as <n>.eml. Prints
"ready" once it accepts connections; stops when its stdin closes.

Usage: smtp_server.py PORT CERT KEY DIR USER PASSWORD
"""

import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, out, user, password = sys.argv[1:7]


class Keep:
    async def handle_DATA(self, server, session, envelope):
        with open(f"{out}/{time.time_ns()}.eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == user.encode()
        and auth_data.password == password.encode()
    )
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Keep(),
    hostname="127.0.0.1",
    port=int(port),
    server_hostname="localhost",
    tls_context=context,
    require_starttls=True,
    auth_required=True,
    auth_require_tls=True,
    authenticator=authenticate,
    # The controller's own readiness probe speaks plain SMTP.
    ready_timeout=10,
)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
