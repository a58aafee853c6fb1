#!/usr/bin/env python3
"""A real SMTP server for hearsay's email tests (aiosmtpd): STARTTLS required, AUTH PLAIN/LOGIN with one
user, every accepted message written to OUT_DIR as <n>.eml. Prints "READY <port>" once listening.

usage: smtp_server.py CERT KEY OUT_DIR USER PASSWORD PORT
"""
import asyncio
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    cert, key, out_dir, user, password, port = sys.argv[1:7]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    counter = {"n": 0}

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            counter["n"] += 1
            path = os.path.join(out_dir, f"{counter['n']}.eml")
            with open(path + ".tmp", "wb") as f:
                f.write(envelope.original_content or envelope.content)
            os.rename(path + ".tmp", path)
            return "250 Message accepted"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok)

    controller = Controller(
        Handler(), hostname="127.0.0.1", port=int(port), tls_context=ctx, require_starttls=True,
        authenticator=authenticator, auth_required=True, auth_require_tls=True,
    )
    controller.start()
    print(f"READY {controller.port}", flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
