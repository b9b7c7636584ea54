#!/usr/bin/python3
"""tls_misuse.py - TLS for smtpd and pop3d from Python clients and from a
raw socket, under systemd-socket-activate.

Good clients: smtplib starttls() and SMTP_SSL, poplib stls() and POP3_SSL
deliver and retrieve a message byte for byte.

Misuse, each ending cleanly (a log line, no stuck process):
- plaintext injection (CVE-2011-0411): "STARTTLS\\r\\nRSET\\r\\n" and
  "STLS\\r\\nCAPA\\r\\n" in one packet; the injected command is never
  answered inside TLS, and injected EHLO/MAIL leave no state behind;
- STARTTLS twice (503 5.5.1), STARTTLS with arguments (501 5.5.4), STLS
  inside TLS, STARTTLS not advertised again after TLS;
- garbage instead of a ClientHello, a client that disconnects in the middle
  of the handshake, and one that never sends anything (timeout).

Each scenario is one check() on its own connection: a connection closed or
a timeout ends that scenario with one "not ok" saying so, and every other
scenario still runs and reports.
"""

import os
import poplib
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import lib  # noqa: E402

lib.need("systemd", "openssl")

ASAN = lib.build_dir().rstrip("/").endswith("/asan")
TMO = 30 if ASAN else 10

tap = lib.Tap()
env = lib.Env(prefix="inetmail-tlsmisuse.")
pki = os.path.join(env.t, "pki")
os.makedirs(pki)
CERT = os.path.join(pki, "cert.pem")
KEY = os.path.join(pki, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", KEY, "-out", CERT,
                "-days", "30", "-subj", "/CN=localhost", "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1"],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
with open(env.conf, "a") as f:
    f.write("tls_cert = %s\ntls_key = %s\nauth_fail_delay = 100ms\n" % (CERT, KEY))

CTX = ssl.create_default_context(cafile=CERT)


def start(prog, *args):
    port = lib.free_port()
    env.start_ssa(port, [prog, "-d", "-f", env.conf] + list(args))
    return port


def log_of(port):
    with open(os.path.join(env.t, "ssa.%d.log" % port), "rb") as f:
        return f.read().decode("latin-1")


def wait_log(port, needle, seconds=TMO):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if needle in log_of(port):
            return True
        time.sleep(0.05)
    return False


def no_process_left(prog, seconds=TMO):
    """No process of prog with this test's configuration is still running."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ps = subprocess.run(["ps", "-eo", "args"], stdout=subprocess.PIPE).stdout.decode()
        if not any(l.startswith("%s -d -f %s" % (prog, env.conf)) for l in ps.splitlines()):
            return True
        time.sleep(0.1)
    return False


class TlsConn(lib.Conn):
    """lib.Conn that can switch its socket to TLS."""

    def starttls(self):
        self.s = CTX.wrap_socket(self.s, server_hostname="localhost")

    def nothing_more(self, wait=0.7):
        """True when no byte arrives within wait seconds."""
        if self.buf:
            return False
        self.s.settimeout(wait)
        try:
            data = self.s.recv(4096)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        finally:
            self.s.settimeout(self.timeout)
        self.buf += data
        return False

    def pop_reply(self):
        raw = self.line()
        self.transcript.append("S: %r" % raw)
        return raw.decode("latin-1").rstrip("\r\n")

    def pop_multi(self):
        lines = []
        while True:
            l = self.pop_reply()
            if l == ".":
                return lines
            lines.append(l)


MSG = (b"From: a@x.test\r\nTo: alice@localhost\r\nSubject: over tls %s\r\n\r\n"
       b"Body line.\r\n..leading dot\r\n8-bit: caf\xc3\xa9\r\nlast\r\n")

STORED = {}     # tag -> the message file smtplib's check found in new/


def check(name, fn):
    """Runs one check; a connection closed, a timeout or any other exception
    in it is one failure with its reason, and the checks after it still run."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 -- reported, never hidden
        tap.ok(False, "%s: ended early: %s: %s" % (name, type(e).__name__, e),
               traceback.format_exc())


def smtplib_clients():
    with smtplib.SMTP("127.0.0.1", SP, timeout=TMO) as s:
        s.ehlo("py.test")
        tap.ok(s.has_extn("starttls"), "smtplib: STARTTLS advertised")
        code, _ = s.starttls(context=CTX)
        tap.eq(code, 220, "smtplib: starttls() 220")
        s.ehlo("py.test")
        tap.ok(not s.has_extn("starttls"), "smtplib: STARTTLS not advertised again")
        s.sendmail("a@x.test", ["alice@localhost"], MSG % b"starttls")
        code, text = s.docmd("STARTTLS")
        tap.eq((code, text[:5]), (503, b"5.5.1"), "second STARTTLS: 503 5.5.1")


def smtplib_ssl():
    with smtplib.SMTP_SSL("127.0.0.1", SI, timeout=TMO, context=CTX) as s:
        s.ehlo("py.test")
        tap.ok(not s.has_extn("starttls"), "SMTP_SSL: no STARTTLS on implicit TLS")
        s.sendmail("a@x.test", ["alice@localhost"], MSG % b"smtp_ssl")


def smtplib_stored():
    for name in env.new_files("alice"):
        with open(os.path.join(env.maildir("alice"), "new", name), "rb") as f:
            data = f.read()
        for tag in (b"starttls", b"smtp_ssl"):
            if b"over tls " + tag + b"\n" in data:
                STORED[tag] = data
    for tag in (b"starttls", b"smtp_ssl"):
        data = STORED.get(tag, b"")
        body = data.split(b"\n\n", 1)[-1]
        want = (MSG % tag).split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")
        tap.eq(body, want, "smtplib %s: body stored byte for byte" % tag.decode())
        tap.ok(b"with ESMTPS id" in data and b"(using TLSv1.3 with cipher" in data,
               "smtplib %s: Received: with ESMTPS (using TLSv1.3 ...)" % tag.decode(),
               data[:400])


def starttls_args():
    c = TlsConn(SP, TMO)
    try:
        c.reply()
        c.cmd("EHLO a.test")
        tap.eq(c.cmd("STARTTLS now")[0], 501, "STARTTLS with an argument: 501")
        tap.ok(c.cmd("STARTTLS now")[1][0].startswith("501 5.5.4"), "... 5.5.4")
        c.cmd("MAIL FROM:<a@x.test>")
        tap.eq(c.cmd("STARTTLS")[0], 503, "STARTTLS in a transaction: 503")
    finally:
        c.close()


def starttls_injection():
    c = TlsConn(SP, TMO)
    try:
        c.reply()
        c.cmd("EHLO a.test")
        c.send(b"STARTTLS\r\nRSET\r\n")
        code, _ = c.reply()
        tap.eq(code, 220, "injection: STARTTLS answered 220")
        tap.ok(c.buf == b"", "injection: RSET not answered in plaintext", repr(c.buf))
        c.starttls()
        tap.ok(c.nothing_more(), "injection: RSET never answered inside TLS", repr(c.buf))
        code, lines = c.cmd("EHLO a.test")
        tap.ok(code == 250 and lines[0] == "250-mx.test",
               "injection: the first reply inside TLS answers EHLO", lines)
        c.cmd("QUIT")
    finally:
        c.close()
    tap.ok(wait_log(SP, "discarded=6 reason=plaintext_after_starttls"),
           "injection: the discarded plaintext is logged")


def starttls_injection_state():
    """Injected EHLO + MAIL leave no state behind."""
    c = TlsConn(SP, TMO)
    try:
        c.reply()
        c.cmd("EHLO a.test")
        c.send(b"STARTTLS\r\nEHLO evil.test\r\nMAIL FROM:<evil@x.test>\r\n")
        c.reply()
        c.starttls()
        tap.ok(c.nothing_more(), "injected EHLO/MAIL: never answered inside TLS", repr(c.buf))
        code, lines = c.cmd("RCPT TO:<alice@localhost>")
        tap.eq(code, 503, "injected EHLO/MAIL: no session state after TLS (RCPT 503)", lines)
        code, lines = c.cmd("MAIL FROM:<a@x.test>")
        tap.eq(code, 503, "HELO state forgotten after STARTTLS (MAIL needs EHLO)", lines)
    finally:
        c.close()


def garbage_hello(port, proto, cmd, ok):
    before = log_of(port).count("tls handshake failed")
    c = TlsConn(port, TMO)
    try:
        c.line()
        if proto == "smtp":
            c.cmd("EHLO a.test")
        c.send(cmd)
        tap.ok(c.line().decode().startswith(ok), "%s: garbage: STARTTLS/STLS accepted" % proto)
        c.send(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n" + b"\x00" * 100)
        tap.ok(c.closed(TMO), "%s: garbage instead of a ClientHello: closed" % proto)
    finally:
        c.close()
    tap.ok(wait_log(port, "tls handshake failed") and
           log_of(port).count("tls handshake failed") > before,
           "%s: garbage handshake logged" % proto)


def mid_handshake(port, proto):
    before = log_of(port).count("tls handshake failed")
    c = TlsConn(port, TMO)
    try:
        c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40))
        c.s.shutdown(socket.SHUT_WR)
        tap.ok(c.closed(TMO), "%s implicit: client gone mid-handshake: closed" % proto)
    finally:
        c.close()
    deadline = time.monotonic() + TMO
    while time.monotonic() < deadline and log_of(port).count("tls handshake failed") <= before:
        time.sleep(0.05)
    tap.ok(log_of(port).count("tls handshake failed") > before,
           "%s implicit: mid-handshake disconnect logged" % proto)


def silent_client():
    """A client that never sends a ClientHello: smtp_timeout bounds it."""
    st = start(env.smtpd, "-o", "tls=implicit", "-o", "smtp_timeout=2")
    c = TlsConn(st, TMO)
    try:
        t0 = time.monotonic()
        tap.ok(c.closed(TMO), "silent client on implicit TLS: closed")
        tap.ok(time.monotonic() - t0 < 8, "... after about smtp_timeout (2s)")
    finally:
        c.close()
    tap.ok(wait_log(st, 'reason="timeout"'), "silent client: handshake timeout logged")


def poplib_stls():
    p = poplib.POP3("127.0.0.1", PP, timeout=TMO)
    try:
        caps = p.capa()
        tap.ok("STLS" in caps and "USER" not in caps and "SASL" not in caps,
               "poplib: CAPA before TLS: STLS, no USER/SASL", caps)
        try:
            p.user("alice")
            tap.ok(False, "poplib: USER refused before STLS")
        except poplib.error_proto as e:
            tap.ok(b"TLS" in e.args[0], "poplib: USER refused before STLS", e)
        p.stls(context=CTX)
        caps = p.capa()
        tap.ok("USER" in caps and "STLS" not in caps, "poplib: CAPA after STLS: USER, no STLS", caps)
        try:
            p._shortcmd("STLS")
            tap.ok(False, "poplib: STLS inside TLS refused")
        except poplib.error_proto:
            tap.ok(True, "poplib: STLS inside TLS refused")
        p.user("alice")
        p.pass_("secret")
        n, _ = p.stat()
        got = {}
        for i in range(1, n + 1):
            _, lines, octets = p.retr(i)
            data = b"\r\n".join(lines) + b"\r\n"
            for tag in (b"starttls", b"smtp_ssl"):
                if b"over tls " + tag + b"\r\n" in data:
                    got[tag] = data
            tap.eq(len(data), octets, "poplib: RETR %d octets equal the bytes received" % i)
        for tag in (b"starttls", b"smtp_ssl"):
            data = STORED.get(tag)
            tap.ok(data is not None and got.get(tag) == data.replace(b"\n", b"\r\n"),
                   "poplib stls RETR %s: byte for byte what is stored" % tag.decode(),
                   "stored: %r" % (data,), "   got: %r" % (got.get(tag),))
        p.quit()
    finally:
        p.close()


def pop3_ssl():
    p = poplib.POP3_SSL("127.0.0.1", PI, timeout=TMO, context=CTX)
    try:
        tap.ok("STLS" not in p.capa(), "POP3_SSL: no STLS on implicit TLS")
        p.user("alice")
        p.pass_("secret")
        n, size = p.stat()
        total = sum(len(b"\r\n".join(p.retr(i)[1]) + b"\r\n") for i in range(1, n + 1))
        tap.eq(total, size, "POP3_SSL: STAT size equals the RETR octets through the proxy")
        p.quit()
    finally:
        p.close()


def stls_injection():
    c = TlsConn(PP, TMO)
    try:
        c.pop_reply()
        c.send(b"STLS\r\nCAPA\r\n")
        tap.ok(c.pop_reply().startswith("+OK"), "STLS injection: STLS answered +OK")
        tap.ok(c.buf == b"", "STLS injection: CAPA not answered in plaintext", repr(c.buf))
        c.starttls()
        tap.ok(c.nothing_more(), "STLS injection: CAPA never answered inside TLS", repr(c.buf))
        c.send(b"NOOP\r\n")
        tap.ok(c.pop_reply().startswith("-ERR"), "STLS injection: first reply inside TLS is ours (NOOP)")
        # pipelined input right after the login goes through the proxy
        c.send(b"USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nQUIT\r\n")
        r = [c.pop_reply() for _ in range(4)]
        lst = c.pop_multi()
        q = c.pop_reply()
        stat = r[2].split()
        tap.ok(r[2].startswith("+OK") and r[3].startswith("+OK") and q.startswith("+OK")
               and len(stat) > 1 and str(len(lst)) == stat[1],
               "pipelined login + STAT + LIST + QUIT through the proxy", r, lst, q)
        tap.ok(c.closed(TMO), "proxy closes after QUIT")
    finally:
        c.close()
    tap.ok(wait_log(PP, "discarded=6 reason=plaintext_after_stls"),
           "STLS injection: the discarded plaintext is logged")


def gone_after_login():
    """The client disappears in the middle of a TLS session after login."""
    p = poplib.POP3_SSL("127.0.0.1", PI, timeout=TMO, context=CTX)
    try:
        p.user("alice")
        p.pass_("secret")
        p.sock.shutdown(socket.SHUT_RDWR)   # poplib's file keeps the fd open
    finally:
        p.sock.close()
    tap.ok(no_process_left(env.pop3d), "client gone after login over TLS: no pop3d left")
    tap.ok(no_process_left(env.smtpd), "no smtpd left")


try:
    SP = start(env.smtpd)
    SI = start(env.smtpd, "-o", "tls=implicit")
    PP = start(env.pop3d)
    PI = start(env.pop3d, "-o", "tls=implicit")
    check("smtplib", smtplib_clients)
    check("SMTP_SSL", smtplib_ssl)
    check("smtplib stored", smtplib_stored)
    check("STARTTLS with arguments", starttls_args)
    check("STARTTLS injection", starttls_injection)
    check("injected EHLO/MAIL", starttls_injection_state)
    check("smtp garbage ClientHello", lambda: garbage_hello(SP, "smtp", b"STARTTLS\r\n", "220"))
    check("pop3 garbage ClientHello", lambda: garbage_hello(PP, "pop3", b"STLS\r\n", "+OK"))
    check("smtp mid-handshake", lambda: mid_handshake(SI, "smtp"))
    check("pop3 mid-handshake", lambda: mid_handshake(PI, "pop3"))
    check("silent client", silent_client)
    check("poplib STLS", poplib_stls)
    check("POP3_SSL", pop3_ssl)
    check("STLS injection", stls_injection)
    check("gone after login", gone_after_login)
    for name, text in env.sanitizer_reports():
        tap.ok(False, "sanitizer report " + name, text[:2000])
except Exception as e:  # noqa: BLE001 -- the daemons did not start
    tap.ok(False, "start the daemons: %s: %s" % (type(e).__name__, e), traceback.format_exc())
finally:
    if tap.failed:
        tap.diag(*env.logs(60))
    env.close()
tap.done()
