#!/usr/bin/python3
"""fault_smuggling_random.py - a bounded, seeded, randomized property test of
smtpd's DATA reader against SMTP smuggling (PROTOCOL-NOTES.md "SMTP
smuggling"): smtpd.c keeps the reader static, so this drives the real daemon
(`smtpd -d -f CONF` on pipes, as tests/proto/run.py does, one process per
session) with random message bodies built from CR, LF, NUL, dots, the
sequences public scanners send (\\n.\\n, \\r.\\r\\n, \\r\\n\\0.\\r\\n, ...),
ordinary text, and a smuggled second transaction (MAIL/RCPT bob/DATA/
body/.) - never containing the real end CR LF . CR LF. Then the real end and
QUIT. Properties, for every session:
  - the server answers exactly twice after DATA's 354: one final reply to
    the message, then 221 to QUIT (a smuggled command would get replies);
  - bob (only the smuggled transaction names him) never receives anything;
  - alice has one new message iff that reply was 250, none otherwise;
  - a 250 only for a body with no bare CR, bare LF or NUL, and then the
    stored text is exactly the body, dot-unstuffed, with LF line ends;
  - nothing is left in Maildir/tmp.
SMUGGLE_SEED (default 20231218) and SMUGGLE_COUNT (default 400) make it
reproducible and bounded; a failing case prints its seed and body.
"""

import os
import random
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import lib  # noqa: E402

lib.need("python3")

SEED = int(os.environ.get("SMUGGLE_SEED", "20231218"))
COUNT = int(os.environ.get("SMUGGLE_COUNT", "400"))
TIMEOUT = 30 if lib.build_dir().rstrip("/").endswith("/asan") else 10

SCANNER = [b"\n.\n", b"\n.\r", b"\r.\n", b"\r.\r", b"\n.\r\n", b"\r.\r\n",
           b"\r\n.\n", b"\r\n.\r", b"\r\n.\r\r\n", b"\r\r\n.\r\r\n",
           b"\r\n\0.\r\n", b"\r\n.\0\r\n", b"\n.\r\n.\r\n"[:-5]]
SMUGGLED = (b"MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<bob@localhost>\r\n"
            b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n")
ATOMS = [b"\r", b"\n", b".", b"\0", b"\r\n", b"..", b"x", b"Subject: hi",
         b"text line", b" ", b"\t", b"\xc3\xa9"]


def body_for(rng):
    """A random body that never holds the real end of data."""
    while True:
        parts = []
        clean = rng.random() < 0.3     # only CRLF ends and stuffed dots
        for _ in range(rng.randint(1, 14)):
            r = rng.random()
            if clean:
                parts.append(rng.choice([b"line", b"..dot", b"Subject: x", b"", b"a.b"]) + b"\r\n")
                if r < 0.2:
                    parts.append(SMUGGLED.replace(b"\r\nDATA", b"\r\n.DATA"))
            elif r < 0.35:
                parts.append(rng.choice(SCANNER))
            elif r < 0.5:
                parts.append(SMUGGLED + rng.choice(SCANNER))
            else:
                parts.append(rng.choice(ATOMS))
        body = b"".join(parts)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        # The reader starts at a line start: CRLF + body + ".\r\n" must end
        # only at the very end.
        full = b"\r\n" + body + b".\r\n"
        if full.find(b"\r\n.\r\n") == len(full) - 5:
            return body


def expected_store(body):
    """The stored text of an accepted body: unstuffed, LF line ends."""
    lines = body[:-2].split(b"\r\n")
    out = [l[1:] if l.startswith(b".") else l for l in lines]
    return b"\n".join(out) + b"\n"


def read_replies(p, deadline):
    """Everything the server writes until it closes (or the deadline)."""
    buf = b""
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not r:
            break
        data = os.read(fd, 65536)
        if not data:
            return buf, True
        buf += data
    return buf, False


def reply_codes(text):
    """Complete SMTP replies (last line of each) as a list of codes."""
    return [int(l[:3]) for l in text.decode("latin-1").split("\r\n")
            if re.match(r"^\d{3}( |$)", l)]


def session(env, body):
    p = subprocess.Popen([env.smtpd, "-d", "-f", env.conf],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=open(os.path.join(env.t, "smtpd.log"), "ab"),
                         env=env.env(), cwd=env.t)
    problems = []
    try:
        out = b""

        def step(data, want):
            nonlocal out
            p.stdin.write(data)
            p.stdin.flush()
            deadline = time.monotonic() + TIMEOUT
            got = b""
            while time.monotonic() < deadline:
                more, eof = read_replies_once(p, deadline)
                got += more
                if eof or re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", got):
                    break
            out += got
            codes = reply_codes(got)
            if not codes or codes[-1] != want:
                problems.append("after %r: expected %d, got %r" % (data[:40], want, got[-200:]))
                return False
            return True
        first, _ = read_replies_once(p, time.monotonic() + TIMEOUT)
        if not first.startswith(b"220"):
            return None, ["no greeting: %r" % first]
        if not (step(b"EHLO client.test\r\n", 250) and
                step(b"MAIL FROM:<sender@client.test>\r\n", 250) and
                step(b"RCPT TO:<alice@localhost>\r\n", 250) and
                step(b"DATA\r\n", 354)):
            return None, problems
        # The body and the real end in one write; QUIT only after the final
        # reply (a QUIT pipelined behind the data is legal but would make
        # the sync check see whatever follows). Replies come in order, so a
        # smuggled command's reply would come before QUIT's 221.
        p.stdin.write(body + b".\r\n")
        p.stdin.flush()
        rest = b""
        deadline = time.monotonic() + TIMEOUT
        while not re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", rest):
            more, eof = read_replies_once(p, deadline)
            rest += more
            if eof or not more:
                break
        p.stdin.write(b"QUIT\r\n")
        p.stdin.flush()
        while not re.search(rb"(^|\r\n)221 [^\r\n]*\r\n$", rest):
            more, eof = read_replies_once(p, deadline)
            rest += more
            if eof or not more:
                break
        p.stdin.close()
        tail, eof = read_replies(p, time.monotonic() + TIMEOUT)
        codes = reply_codes(rest)
        if not eof:
            problems.append("server did not close after QUIT")
        if tail:
            problems.append("output after 221: %r" % tail[:200])
        if len(codes) != 2 or codes[1] != 221:
            problems.append("expected exactly [final, 221] after the data, got %r: %r"
                            % (codes, rest[:400]))
        return (codes[0] if codes else None), problems
    finally:
        try:
            p.stdin.close()
        except Exception:
            pass
        try:
            p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            problems.append("smtpd did not exit")
        if p.returncode and p.returncode < 0:
            problems.append("smtpd killed by signal %d" % -p.returncode)


def read_replies_once(p, deadline):
    fd = p.stdout.fileno()
    left = max(0, deadline - time.monotonic())
    r, _, _ = select.select([fd], [], [], left)
    if not r:
        return b"", False
    data = os.read(fd, 65536)
    return data, not data


def stored_body(path):
    data = open(path, "rb").read()
    # Our Received: ends with its date (the body may start with a blank).
    m = re.match(rb"Return-Path: <[^\n]*>\nReceived: .*?; [A-Z][a-z]{2}, \d{1,2} "
                 rb"[A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n", data, re.S)
    return data[m.end():] if m else None


def main():
    tap = lib.Tap()
    if not os.access(os.path.join(lib.build_dir(), "smtpd", "smtpd"), os.X_OK):
        tap.ok(False, "smtpd built")
        tap.done()
    env = lib.Env(prefix="inetmail-smuggle.")
    rng = random.Random(SEED)
    tap.diag("SMUGGLE_SEED=%d SMUGGLE_COUNT=%d" % (SEED, COUNT))
    bad = accepted = rejected = 0
    try:
        for i in range(COUNT):
            body = body_for(rng)
            before_a = set(env.new_files("alice"))
            before_b = len(env.new_files("bob"))
            code, problems = session(env, body)
            new_a = sorted(set(env.new_files("alice")) - before_a)
            if len(env.new_files("bob")) != before_b:
                problems.append("bob received the smuggled message")
            clean = not (re.search(rb"\r(?!\n)|(?<!\r)\n|\0", body))
            if code == 250:
                accepted += 1
                if len(new_a) != 1:
                    problems.append("250 but %d new messages for alice" % len(new_a))
                elif not clean:
                    problems.append("250 for a body with a bare CR/LF or NUL")
                else:
                    got = stored_body(os.path.join(env.maildir("alice"), "new", new_a[0]))
                    if got != expected_store(body):
                        problems.append("stored %r, expected %r" % (got, expected_store(body)))
            else:
                rejected += 1
                if new_a:
                    problems.append("reply %r but alice got %d message(s)" % (code, len(new_a)))
                if clean and code is not None:
                    problems.append("clean body rejected with %r" % code)
            if env.all_files("alice")["tmp"] or env.all_files("bob")["tmp"]:
                problems.append("files left in Maildir/tmp")
            for name, text in env.sanitizer_reports():
                problems.append("sanitizer report %s: %s" % (name, text[:2000]))
            if problems:
                bad += 1
                tap.ok(False, "case %d (seed %d)" % (i, SEED), "body=%r" % body, *problems)
                if bad >= 5:
                    tap.diag("stopping after 5 failing cases")
                    break
        tap.ok(bad == 0, "%d randomized sessions: no smuggled message, only the real "
               "CRLF.CRLF ends data (%d accepted, %d rejected)" % (COUNT, accepted, rejected))
        tap.ok(accepted > 0 and rejected > 0, "both accepted and rejected bodies were exercised")
    finally:
        env.close()
    tap.done()


if __name__ == "__main__":
    main()
