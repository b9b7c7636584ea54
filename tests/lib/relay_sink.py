"""tests/lib/relay_sink.py - the receiving side of the relay tests (not a
test itself). Run by tests/lib/relay.sh inside the
tests' private network namespace.

  relay_sink.py sink --listen 127.0.0.2:25 --dir DIR [--name NAME]
        [--mode MODE] [--tls CERT KEY] [--require-tls] [--auth USER:PASS]
      An SMTP server (Python aiosmtpd) that stores every accepted message
      byte for byte as it came off the wire after dot-unstuffing (CRLF line
      ends) in DIR/NNNN.eml, with its envelope in DIR/NNNN.json (mail_from,
      rcpt_tos, mail_options, helo, tls, auth, peer), each written to a
      temporary name first and renamed, so a reader never sees half a file.
      DIR/ready appears once it listens. MODE (re-read from DIR/mode, when
      that file exists, at every command, so a test can change it):
        ok            accept everything (default)
        temp          450 4.2.0 for every RCPT
        reject        550 5.1.1 for every RCPT
        mail-temp     451 4.3.0 for MAIL
        data-temp     451 4.3.0 after the data
        data-reject   554 5.6.0 after the data
        slow=SECONDS  wait that long after the data, then store and 250
                      (DIR/data-started.N marks that the data is in)
        slowack=SECONDS  store the message, then wait that long before the
                      250 (DIR/data-started.N marks that it is stored)
        slowrcpt=SECONDS  wait that long before answering each RCPT
                      (DIR/rcpt-started marks that it waits)
      Whatever the mode, a recipient whose local part starts with "reject"
      gets 550 5.1.1 and one starting with "temp" gets 450 4.2.0.
      With --auth, AUTH PLAIN/LOGIN is required before MAIL (after TLS).

  relay_sink.py dns TYPE NAME [SERVER]
      One DNS query (A or MX) over UDP; prints "rcode=N" and one line per
      answer ("MX 10 mx.remote.test", "A 127.0.0.2"): a check that the
      private zone is served, without dig.
"""

import argparse
import asyncio
import json
import os
import random
import socket
import ssl
import struct
import sys


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def run_sink(args):
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    host, _, port = args.listen.rpartition(":")
    d = args.dir
    os.makedirs(d, exist_ok=True)
    counter = [0]

    def mode():
        try:
            with open(os.path.join(d, "mode")) as f:
                m = f.read().strip()
                if m:
                    return m
        except FileNotFoundError:
            pass
        return args.mode

    class Handler:
        async def handle_MAIL(self, server, session, envelope, address, options):
            if mode() == "mail-temp":
                return "451 4.3.0 MAIL temporarily refused"
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return "250 2.1.0 Ok"

        async def handle_RCPT(self, server, session, envelope, address, options):
            m = mode()
            if m.startswith("slowrcpt="):
                write_atomic(os.path.join(d, "rcpt-started"), b"1\n")
                await asyncio.sleep(float(m.split("=", 1)[1]))
            local = address.rpartition("@")[0].lower()
            if m == "temp" or local.startswith("temp"):
                return "450 4.2.0 <%s>: Recipient address rejected: mailbox busy" % address
            if m == "reject" or local.startswith("reject"):
                return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            return "250 2.1.5 Ok"

        async def handle_DATA(self, server, session, envelope):
            m = mode()
            if m.startswith("slow="):
                write_atomic(os.path.join(d, "data-started.%d" % (counter[0] + 1)), b"1\n")
                await asyncio.sleep(float(m.split("=", 1)[1]))
            if m == "data-temp":
                return "451 4.3.0 Error: queue file write error"
            if m == "data-reject":
                return "554 5.6.0 Error: message content rejected"
            counter[0] += 1
            n = counter[0]
            base = os.path.join(d, "%04d" % n)
            write_atomic(base + ".eml", envelope.original_content)
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "mail_options": envelope.mail_options,
                "helo": session.host_name,
                "tls": session.ssl is not None,
                "auth": (session.auth_data.login.decode("utf-8", "replace")
                         if isinstance(session.auth_data, LoginPassword) else None),
                "peer": session.peer[0] if session.peer else None,
            }
            write_atomic(base + ".json", json.dumps(meta).encode())
            if m.startswith("slowack="):
                # a host that has the message but is slow to say so: a
                # client that gives up now will send it again
                write_atomic(os.path.join(d, "data-started.%d" % n), b"1\n")
                await asyncio.sleep(float(m.split("=", 1)[1]))
            return "250 2.0.0 Ok: queued as %04d" % n

    users = {}
    if args.auth:
        u, _, p = args.auth.partition(":")
        users[u.encode()] = p.encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and
              users.get(auth_data.login) == auth_data.password)
        # handled=False: aiosmtpd then answers 535 itself
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data if ok else None)

    ctx = None
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls[0], args.tls[1])

    handler = Handler()

    def factory():
        kw = dict(hostname=args.name, decode_data=False, enable_SMTPUTF8=True,
                  data_size_limit=50 * 1024 * 1024, ident="relay-sink")
        if ctx is not None:
            kw.update(tls_context=ctx, require_starttls=args.require_tls)
        if args.auth:
            kw.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=ctx is not None)
        else:
            kw.update(auth_require_tls=False,
                      auth_exclude_mechanism=["LOGIN", "PLAIN"])
        return SMTP(handler, **kw)

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, host=host, port=int(port),
                                          reuse_address=True)
        write_atomic(os.path.join(d, "ready"), b"%d\n" % os.getpid())
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def dns_query(args):
    qid = random.randrange(65536)
    qtype = {"A": 1, "MX": 15}[args.type]
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in args.name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, (args.server, 53))
    r, _ = s.recvfrom(4096)

    def name_at(off):
        labels = []
        jumped = False
        end = off
        for _ in range(64):
            n = r[off]
            if n == 0:
                off += 1
                break
            if n & 0xC0 == 0xC0:
                if not jumped:
                    end = off + 2
                off = ((n & 0x3F) << 8) | r[off + 1]
                jumped = True
                continue
            labels.append(r[off + 1:off + 1 + n].decode())
            off += 1 + n
        if not jumped:
            end = off
        return ".".join(labels) or ".", end

    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", r[:12])
    print("rcode=%d" % (flags & 0xF))
    off = 12
    for _ in range(qd):
        _, off = name_at(off)
        off += 4
    for _ in range(an):
        _, off = name_at(off)
        t, _, _, rdlen = struct.unpack(">HHIH", r[off:off + 10])
        off += 10
        if t == 15:
            pref = struct.unpack(">H", r[off:off + 2])[0]
            print("MX %d %s" % (pref, name_at(off + 2)[0]))
        elif t == 1:
            print("A " + socket.inet_ntoa(r[off:off + 4]))
        off += rdlen


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sink")
    s.add_argument("--listen", required=True)
    s.add_argument("--dir", required=True)
    s.add_argument("--name", default="sink.test")
    s.add_argument("--mode", default="ok")
    s.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    s.add_argument("--require-tls", action="store_true")
    s.add_argument("--auth")
    q = sub.add_parser("dns")
    q.add_argument("type", choices=("A", "MX"))
    q.add_argument("name")
    q.add_argument("server", nargs="?", default="127.0.0.1")
    args = p.parse_args()
    if args.cmd == "sink":
        run_sink(args)
    else:
        dns_query(args)


if __name__ == "__main__":
    sys.exit(main())
