#!/usr/bin/python3
"""tests/lib/smtpc_sink.py - a receiving MTA (aiosmtpd) for
tests/e2e/smtpc_remote.sh.

Not a test itself. One instance per address:

  smtpc_sink.py --addr 127.0.0.2 --port 25 --dir DIR [--reject ADDR=REPLY]...
               [--tls-cert PEM --tls-key PEM] [--auth USER:PASS] [--smtputf8]
               [--size N]

Every accepted message is saved byte-exact as DIR/N.eml (the DATA octets
after dot-unstuffing, CR LF as received) with DIR/N.json beside it:
{"mail_from", "rcpt_tos", "tls", "auth_user", "peer"}. --reject gives
one recipient address a fixed RCPT reply (e.g. "bad@x=550 5.1.1 no such
user"). The process runs until it is killed; it prints "ready" once it
listens.
"""
import argparse
import json
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, outdir, rejects):
        self.outdir = outdir
        self.rejects = rejects
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.rejects:
            return self.rejects[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.outdir, "%d.%d" % (int(time.time() * 1000), self.n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        auth = session.auth_data
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "tls": session.ssl is not None,
            "auth_user": auth.login.decode() if isinstance(auth, LoginPassword) else None,
            "peer": session.peer[0] if session.peer else None,
        }
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK queued as %d" % self.n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--auth")
    ap.add_argument("--smtputf8", action="store_true")
    ap.add_argument("--size", type=int, default=33554432)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    rejects = {}
    for r in a.reject:
        k, v = r.split("=", 1)
        rejects[k.lower()] = v
    kw = {"data_size_limit": a.size, "enable_SMTPUTF8": a.smtputf8,
          "server_hostname": "sink-%s" % a.addr}
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kw["tls_context"] = ctx
    if a.auth:
        user, pw = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword) and data.login == user.encode()
                  and data.password == pw.encode())
            return AuthResult(success=ok, handled=False, auth_data=data if ok else None)
        kw["authenticator"] = authenticator
        kw["auth_require_tls"] = True
    else:
        # no AUTH offered at all
        kw["auth_exclude_mechanism"] = ["LOGIN", "PLAIN"]

    c = Controller(Handler(a.dir, rejects), hostname=a.addr, port=a.port, **kw)
    c.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
