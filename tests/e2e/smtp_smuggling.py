#!/usr/bin/python3
"""smtp_smuggling.py - hostile input against smtpd under
systemd-socket-activate, from a raw socket client.

SMTP smuggling (PROTOCOL-NOTES.md): every fake end-of-data sequence public
scanners send is embedded in a message, followed by a smuggled
MAIL/RCPT/DATA transaction for bob and the real end. None may end the
message early: the server answers exactly once, after the real end, with a
rejection (5xx), the smuggled commands are never executed and nothing is
delivered. The same through BDAT.

Limits and errors, each with its exact reply and nothing delivered: bare
LF/CR and NUL in commands, over-long command lines (512) and text lines
(1000), too many recipients (452 4.5.3), SIZE too big (552 5.3.4), actual
size too big (552 5.3.4), bad addresses (501), non-ASCII without SMTPUTF8
(553 5.6.7), commands out of order (503), pipelining sync (554 5.5.0),
early talker (554), too many errors (421), idle timeout (421 4.4.2), mail
loop (554 5.4.6).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import lib  # noqa: E402
from lib import Closed  # noqa: E402

lib.need("systemd")

ASAN = lib.build_dir().rstrip("/").endswith("/asan")
TMO = 30 if ASAN else 10

tap = lib.Tap()
env = lib.Env(prefix="inetmail-smuggle.")
USERS = ("alice", "bob", "carol")

SEQUENCES = [
    ("LF.LF", b"\n.\n"), ("LF.CR", b"\n.\r"), ("CR.LF", b"\r.\n"),
    ("CR.CR", b"\r.\r"), ("LF.CRLF", b"\n.\r\n"), ("CR.CRLF", b"\r.\r\n"),
    ("CRLF.LF", b"\r\n.\n"), ("CRLF.CR", b"\r\n.\r"),
    ("CRLF.CRCRLF", b"\r\n.\r\r\n"), ("CRCRLF.CRCRLF", b"\r\r\n.\r\r\n"),
    ("CRLF NUL.CRLF", b"\r\n\0.\r\n"),
]
SMUGGLED = (b"MAIL FROM:<evil@attacker.example>\r\n"
            b"RCPT TO:<bob@localhost>\r\n"
            b"DATA\r\n"
            b"From: evil@attacker.example\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"SMUGGLED MESSAGE\r\n")


def counts():
    return {u: len(env.new_files(u)) for u in USERS}


def tmp_files():
    return {u: env.all_files(u)["tmp"] for u in USERS}


def describe(c):
    return "\n".join(c.transcript[-12:])


class Case:
    """One connection; check() asserts a reply code and the text prefix."""

    def __init__(self, port, what, helo=True):
        self.what = what
        self.before = counts()
        self.c = lib.Conn(port, timeout=TMO)
        self.ok = True
        code, lines = self.c.reply()
        self.expect_code(code, lines, 220, "greeting")
        if helo:
            self.cmd("EHLO client.test", 250)

    def expect_code(self, code, lines, want, step, enh=None):
        good = code == want if isinstance(want, int) else code in want
        if good and enh:
            good = lines[-1][4:].startswith(enh)
        if not good:
            self.ok = False
            tap.ok(False, "%s: %s gets %s%s" % (self.what, step, want,
                                                " " + enh if enh else ""),
                   "got: %r" % (lines,), describe(self.c))
        return good

    def cmd(self, line, want, enh=None, step=None):
        try:
            code, lines = self.c.cmd(line)
        except (Closed, TimeoutError) as e:
            self.ok = False
            tap.ok(False, "%s: %s" % (self.what, step or line), "%s" % e, describe(self.c))
            return None, []
        self.expect_code(code, lines, want, step or (line if isinstance(line, str) else repr(line)), enh)
        return code, lines

    def reply(self, want, enh=None, step="reply"):
        try:
            code, lines = self.c.reply()
        except (Closed, TimeoutError) as e:
            self.ok = False
            tap.ok(False, "%s: %s" % (self.what, step), "%s" % e, describe(self.c))
            return None, []
        self.expect_code(code, lines, want, step, enh)
        return code, lines

    def no_more_replies(self, wait=0.5):
        """Nothing else arrives (e.g. no reply to a smuggled command)."""
        try:
            raw = self.c.line(timeout=wait)
        except TimeoutError:
            return True
        except Closed:
            return True
        self.ok = False
        tap.ok(False, "%s: no extra reply" % self.what, "got: %r" % raw, describe(self.c))
        return False

    def finish(self, quit=True, nothing_delivered=True, closed=False):
        if quit and not closed:
            try:
                self.cmd("QUIT", 221)
            except Exception:
                pass
        if closed and not self.c.closed(timeout=TMO):
            self.ok = False
            tap.ok(False, "%s: server closes the connection" % self.what, describe(self.c))
        self.c.close()
        if nothing_delivered:
            time.sleep(0.05)
            after = counts()
            if after != self.before:
                self.ok = False
                tap.ok(False, "%s: nothing delivered" % self.what,
                       "before %r, after %r" % (self.before, after))
        if self.ok:
            tap.ok(True, self.what)


def start(*opts):
    port = lib.free_port()
    argv = [env.smtpd, "-f", env.conf]
    for o in opts:
        argv += ["-o", o]
    env.start_ssa(port, argv)
    return port


def main():
    if not os.access(env.smtpd, os.X_OK):
        tap.ok(False, "smtpd is built (%s)" % env.smtpd)
        return
    # Default limits except those this test needs small.
    p = start("max_message_size=10K", "max_recipients=3")
    p_err = start("max_errors=3", "smtp_timeout=2")

    # ---- smuggling through DATA -----------------------------------------
    for name, seq in SEQUENCES:
        for prefix_name, prefix in (("after text", b"body"), ("after a line", b"body\r\n")):
            c = Case(p, "smuggling %s (%s) ends no message and is rejected" % (name, prefix_name))
            c.cmd("MAIL FROM:<sender@example.org>", 250)
            c.cmd("RCPT TO:<alice@localhost>", 250)
            c.cmd("DATA", 354)
            c.c.send(b"From: sender@example.org\r\nSubject: smuggling test\r\n\r\n" +
                     prefix + seq + SMUGGLED + b".\r\n")
            code, lines = c.reply((550, 554), step="the one reply after the real end")
            c.no_more_replies()
            # The session goes on: the smuggled MAIL was never executed.
            c.cmd("RCPT TO:<bob@localhost>", 503, step="RCPT after the rejected message (no MAIL)")
            c.finish()

    # ---- smuggling through BDAT: no dot handling, exact counts ----------
    c = Case(p, "BDAT with a bare LF and a smuggled transaction is rejected")
    chunk = b"Subject: bdat\r\n\r\nbody\n.\n" + SMUGGLED + b".\r\n"
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("RCPT TO:<alice@localhost>", 250)
    c.cmd(b"BDAT %d LAST\r\n" % len(chunk) + chunk, (550, 554), step="BDAT LAST")
    c.no_more_replies()
    c.finish()

    c = Case(p, "BDAT chunk with CRLF.CRLF and commands inside is delivered as content only")
    chunk = b"Subject: bdat\r\n\r\nbody\r\n.\r\n" + SMUGGLED + b".\r\n"
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("RCPT TO:<alice@localhost>", 250)
    c.cmd(b"BDAT %d\r\n" % len(chunk) + chunk, 250, step="BDAT chunk")
    c.cmd(b"BDAT 0 LAST\r\n", 250, step="BDAT 0 LAST")
    c.no_more_replies()
    c.cmd(b"BDAT 1 LAST\r\nx", 503, step="BDAT after LAST (no transaction)")
    c.finish(nothing_delivered=False)
    after = counts()
    if tap.eq((after["alice"] - c.before["alice"], after["bob"] - c.before["bob"]), (1, 0),
              "BDAT content: one message for alice, none for bob"):
        names = env.new_files("alice")
        newest = max(names, key=lambda n: os.stat(os.path.join(env.maildir("alice"), "new", n)).st_mtime_ns)
        with open(os.path.join(env.maildir("alice"), "new", newest), "rb") as f:
            data = f.read()
        tap.ok(data.endswith(b"body\n.\n" + SMUGGLED.replace(b"\r\n", b"\n") + b".\n"),
               "BDAT content stored verbatim (no dot handling, CRLF -> LF)", repr(data[-300:]))
    c = Case(p, "DATA after BDAT in one transaction is refused")
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("RCPT TO:<alice@localhost>", 250)
    c.cmd(b"BDAT 5\r\nhello", 250, step="BDAT 5")
    c.cmd("DATA", 503)
    c.finish()

    # ---- bare CR / LF / NUL in commands ---------------------------------
    c = Case(p, "bare LF does not end a command")
    c.c.send(b"NOOP\n")
    try:
        raw = c.c.line(timeout=1)
        c.ok = False
        tap.ok(False, "bare LF does not end a command: no reply to NOOP<LF> alone",
               "got: %r" % raw, describe(c.c))
    except TimeoutError:
        pass
    c.cmd(b"MAIL FROM:<sender@example.org>\r\n", 500, "5.5.", step="NOOP<LF>MAIL ... line")
    c.cmd("RCPT TO:<alice@localhost>", 503, step="RCPT (the MAIL was not executed)")
    c.finish()
    c = Case(p, "bare CR in a command is rejected")
    c.cmd(b"MAIL FROM:<sender@example.org>\rRCPT TO:<alice@localhost>\r\n", 500, "5.5.",
          step="MAIL<CR>RCPT line")
    c.cmd("RCPT TO:<alice@localhost>", 503, step="RCPT (no transaction)")
    c.finish()
    c = Case(p, "bare LF inside a command line is rejected")
    c.cmd(b"MAIL FROM:<sender@example.org>\nRCPT TO:<alice@localhost>\r\n", 500, "5.5.",
          step="MAIL<LF>RCPT line")
    c.cmd("DATA", 503, step="DATA (no transaction)")
    c.finish()
    c = Case(p, "NUL in a command is rejected")
    c.cmd(b"MAIL FROM:<sender\0@example.org>\r\n", 500, "5.5.", step="MAIL with NUL")
    c.cmd(b"NOOP\0\r\n", 500, "5.5.", step="NOOP<NUL>")
    c.cmd("NOOP", 250)
    c.finish()

    # ---- line lengths -----------------------------------------------------
    c = Case(p, "command line of 512 octets is accepted, 513 is 500")
    c.cmd(b"NOOP " + b"x" * (512 - 7) + b"\r\n", 250, step="NOOP of 512 octets")
    c.cmd(b"NOOP " + b"x" * (513 - 7) + b"\r\n", 500, "5.5.", step="NOOP of 513 octets")
    c.cmd(b"MAIL FROM:<" + b"a" * 5000 + b"@example.org>\r\n", 500, "5.5.", step="MAIL of 5 KB")
    c.no_more_replies()
    c.cmd("NOOP", 250, step="NOOP after (the long line was consumed whole)")
    c.finish()
    c = Case(p, "text line over 1000 octets rejects the message")
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("RCPT TO:<alice@localhost>", 250)
    c.cmd("DATA", 354)
    c.c.send(b"Subject: long\r\n\r\n" + b"y" * 999 + b"\r\n.\r\n")
    c.reply((500, 550, 552, 554), step="reply after a 1001-octet line")
    c.no_more_replies()
    c.finish()
    c = Case(p, "text line of exactly 1000 octets is accepted")
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("RCPT TO:<carol@localhost>", 250)
    c.cmd("DATA", 354)
    c.c.send(b"Subject: long\r\n\r\n" + b"y" * 998 + b"\r\n.\r\n")
    c.reply(250, "2.0.0", step="reply after a 1000-octet line")
    c.finish(nothing_delivered=False)

    # ---- NUL and bare CR/LF in data --------------------------------------
    for name, body in (("NUL", b"a\0b\r\n"), ("bare CR", b"a\rb\r\n"), ("bare LF", b"a\nb\r\n")):
        c = Case(p, "%s in message text rejects the message" % name)
        c.cmd("MAIL FROM:<sender@example.org>", 250)
        c.cmd("RCPT TO:<alice@localhost>", 250)
        c.cmd("DATA", 354)
        c.c.send(b"Subject: x\r\n\r\n" + body + b".\r\n")
        c.reply((550, 554), step="reply after the end of data")
        c.no_more_replies()
        c.finish()

    # ---- recipients and sizes --------------------------------------------
    c = Case(p, "too many recipients gets 452 4.5.3")
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("RCPT TO:<alice@localhost>", 250)
    c.cmd("RCPT TO:<bob@localhost>", 250)
    c.cmd("RCPT TO:<carol@localhost>", 250)
    c.cmd("RCPT TO:<alice+x@localhost>", 452, "4.5.3")
    c.cmd("RSET", 250)
    c.finish()
    c = Case(p, "MAIL SIZE over max_message_size gets 552 5.3.4")
    code, lines = c.cmd("EHLO client.test", 250)
    tap.ok(any(l[4:] == "SIZE 10240" for l in lines), "EHLO advertises SIZE 10240 (max_message_size=10K)", repr(lines))
    c.cmd("MAIL FROM:<sender@example.org> SIZE=10241", 552, "5.3.4")
    c.cmd("MAIL FROM:<sender@example.org> SIZE=99999999999999999999999", (552, 501), step="MAIL SIZE=huge")
    c.cmd("MAIL FROM:<sender@example.org> SIZE=10240", 250)
    c.finish()
    c = Case(p, "message over max_message_size gets 552 after the end")
    c.cmd("MAIL FROM:<sender@example.org> SIZE=100", 250)
    c.cmd("RCPT TO:<alice@localhost>", 250)
    c.cmd("DATA", 354)
    c.c.send(b"Subject: big\r\n\r\n" + (b"z" * 78 + b"\r\n") * 200 + b".\r\n")
    c.reply(552, "5.3.4", step="reply after 16 KB of data")
    c.no_more_replies()
    c.cmd("NOOP", 250, step="NOOP after (the data was read to its end)")
    c.finish()
    c = Case(p, "BDAT over max_message_size gets 552 and the chunks are read")
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("RCPT TO:<alice@localhost>", 250)
    big = b"z" * 12000
    c.cmd(b"BDAT %d LAST\r\n" % len(big) + big, 552, "5.3.4", step="BDAT 12000 LAST")
    c.no_more_replies()
    c.cmd("NOOP", 250, step="NOOP after (the chunk was consumed)")
    c.finish()

    # ---- addresses ---------------------------------------------------------
    c = Case(p, "bad MAIL addresses get 501")
    for bad in ("MAIL FROM:<sender@example.org", "MAIL FROM:sender@example.org>",
                "MAIL FROM:<sen der@example.org>", "MAIL FROM:<sender@@example.org>",
                "MAIL FROM:<" + "l" * 65 + "@example.org>"):
        c.cmd(bad, 501, "5.")
    c.cmd("MAIL FROM:<sender@example.org>", 250, step="a good MAIL after them")
    c.finish()
    c = Case(p, "bad RCPT addresses get 501")
    c.cmd("MAIL FROM:<>", 250, step="MAIL FROM:<> (null sender)")
    for bad in ("RCPT TO:<>", "RCPT TO:<alice@localhost", "RCPT TO:<@localhost>",
                "RCPT TO:<alice@>", "RCPT TO:<alice@local host>"):
        c.cmd(bad, 501, "5.")
    c.cmd("DATA", (503, 554), step="DATA with no valid recipients")
    c.finish()
    c = Case(p, "non-ASCII address without SMTPUTF8 gets 553 5.6.7")
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("RCPT TO:<al\u00efce@localhost>".encode() + b"\r\n", 553, "5.6.7", step="RCPT UTF-8 local part")
    c.finish()

    # ---- out of order ------------------------------------------------------
    c = Case(p, "commands out of order get 503", helo=False)
    c.cmd("MAIL FROM:<sender@example.org>", 503, step="MAIL before EHLO")
    c.cmd("EHLO client.test", 250)
    c.cmd("RCPT TO:<alice@localhost>", 503, step="RCPT before MAIL")
    c.cmd("DATA", 503, step="DATA before MAIL")
    c.cmd("BDAT 0 LAST", 503, step="BDAT before MAIL")
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("MAIL FROM:<sender@example.org>", 503, step="second MAIL")
    c.finish()

    # ---- pipelining sync, early talker -----------------------------------
    c = lib.Conn(p, timeout=TMO)
    before = counts()
    c.send(b"EHLO early.test\r\nMAIL FROM:<sender@example.org>\r\n")
    text = b""
    try:
        while True:
            text += c.line()
    except (Closed, TimeoutError):
        pass
    tap.ok(text.startswith(b"554 ") and b"\n220" not in text and b"250" not in text and c.eof,
           "early talker gets 554 and the connection is closed", repr(text))
    c.close()
    for what, blob in (
        ("EHLO", b"EHLO client.test\r\nNOOP\r\n"),
        ("NOOP", b"NOOP\r\nNOOP\r\n"),
        ("DATA", None),
    ):
        c = Case(p, "input pipelined after %s gets 554 5.5.0 and a close" % what, helo=(what != "EHLO"))
        if blob is None:
            c.cmd("MAIL FROM:<sender@example.org>", 250)
            c.cmd("RCPT TO:<alice@localhost>", 250)
            blob = b"DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n"
        c.c.send(blob)
        codes = []
        try:
            while True:
                code, lines = c.c.reply()
                codes.append((code, lines[-1][4:9]))
        except (Closed, TimeoutError):
            pass
        if not (codes and codes[-1] == (554, "5.5.0") and c.c.eof):
            c.ok = False
            tap.ok(False, "%s: replies end with 554 5.5.0, then close" % c.what, repr(codes), describe(c.c))
        c.finish(quit=False)

    # ---- error limit, timeout ---------------------------------------------
    c = Case(p_err, "too many errors (max_errors=3) gets 421 and a close")
    codes = []
    for _ in range(5):
        try:
            code, lines = c.c.cmd("XYZZY")
        except (Closed, TimeoutError, OSError):
            break
        codes.append(code)
        if code == 421:
            break
    if not (codes and codes[-1] == 421 and len(codes) <= 4 and all(x >= 500 for x in codes[:-1])):
        c.ok = False
        tap.ok(False, "%s: codes" % c.what, repr(codes), describe(c.c))
    c.finish(quit=False, closed=True)
    c = Case(p_err, "idle client (smtp_timeout=2) gets 421 4.4.2 and a close")
    t0 = time.monotonic()
    c.reply(421, "4.4.2", step="reply to silence")
    waited = time.monotonic() - t0
    if not 1.0 <= waited <= 10:
        c.ok = False
        tap.ok(False, "%s: after about 2 s" % c.what, "waited %.1f s" % waited)
    c.finish(quit=False, closed=True)

    # ---- loop detection ------------------------------------------------------
    c = Case(p, "100 Received: headers get 554 5.4.6")
    c.cmd("MAIL FROM:<sender@example.org>", 250)
    c.cmd("RCPT TO:<alice@localhost>", 250)
    c.cmd("DATA", 354)
    c.c.send(b"".join(b"Received: from hop%d.example by hop%d.example; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
                      % (i, i + 1) for i in range(100)) + b"Subject: loop\r\n\r\nbody\r\n.\r\n")
    c.reply(554, "5.4.6", step="reply after the end")
    c.finish()

    # ---- afterwards ---------------------------------------------------------
    left = {u: f for u, f in tmp_files().items() if f}
    tap.ok(not left, "no file left in any Maildir/tmp", repr(left))
    final = counts()
    tap.eq(final, {"alice": 1, "bob": 0, "carol": 1},
           "only the two legitimate messages were delivered (BDAT to alice, long line to carol)")
    for name, text in env.sanitizer_reports():
        tap.ok(False, "sanitizer report %s" % name, text[:3000])


try:
    main()
except Exception as e:  # a harness error is a failure with its reason
    import traceback
    tap.ok(False, "harness error: %r" % e, traceback.format_exc())
finally:
    if tap.failed:
        tap.diag(*env.logs(20))
    env.close()
tap.done()
