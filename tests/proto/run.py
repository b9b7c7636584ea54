#!/usr/bin/python3
"""tests/proto/run.py - golden protocol tests.

For each tests/proto/NAME.in with NAME.ref, runs the daemon chosen by the
name prefix (smtp_ -> smtpd, pop3_ -> pop3d) as
    DAEMON -d -f $T/inetmail.conf [args from NAME.args]
on pipes, under the cwrap environment of tests/lib/lib.sh (a fresh $T per case),
and drives it like a real client: read the greeting, then send one command
line at a time and wait for its complete reply ("NNN-" lines continue, "NNN "
ends; for POP3 "+OK"/"-ERR" lines, multi-line after LIST/RETR/... until "."),
except inside DATA (after a 354: everything up to and including the real end
of data, CRLF.CRLF, is sent in one write, then one reply is read) and BDAT
(the command and its chunk go in one write, then one reply).

NAME.in syntax, one line per line sent, CRLF appended:
    escapes     \\r \\n \\0 \\t \\\\ \\xNN
    ...\\c       the line is sent without CRLF and no reply is awaited
    BDAT n ...  the next lines (with their CRLF) form the n-octet chunk
    #! wait-close   the server must close the connection (after any output)
    #! pipeline     the following lines up to "#! end" are sent in one write,
                    then replies are read until there is one per line
    #! end          ends a pipeline block
    #! sleep SECS   pause (e.g. before sending more)
    #! # text       a comment
Lines starting "#!" are directives; everything else is sent.

NAME.args: extra daemon arguments (shell syntax; $T is the temp dir).
NAME.expect: lines "USER N": USER has N messages in Maildir/new after the
session; lines "USER body TEXT": one of them has exactly the body TEXT
(everything after the header's empty line, as stored: LF line ends; TEXT
with the escapes above, \n for each line end). Always checked: no file is
left in any Maildir/tmp.

The transcript ("C: " sent, "S: " received; queue ids normalised to <ID>) is
compared with NAME.ref. `run.py --update NAME...` rewrites those .ref files
(review them!); `run.py NAME...` runs only those cases. Transcripts and the
daemon's stderr go to tests/out/proto/.
"""

import difflib
import os
import re
import select
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import lib  # noqa: E402

OUT = os.path.join(lib.TOP, "tests", "out", "proto")
ASAN = lib.build_dir().rstrip("/").endswith("/asan")
# INETMAIL_WRAP: a command prefix for the daemon (shell syntax), e.g.
# "valgrind --error-exitcode=99 ..." (tests/valgrind.sh); slower, so more
# time per reply. A daemon exit status of INETMAIL_WRAP_RC (if set) fails.
WRAP = shlex.split(os.environ.get("INETMAIL_WRAP", ""))
WRAP_RC = os.environ.get("INETMAIL_WRAP_RC")
REPLY_TIMEOUT = 60 if WRAP else 30 if ASAN else 10

NORMALISE = [
    (re.compile(r"(queued as )[^\s>]+"), r"\1<ID>"),
]

ESC = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)")


def unescape(s):
    def rep(m):
        e = m.group(1)
        if e[0] == "x" and len(e) == 3:
            return chr(int(e[1:], 16))
        return {"r": "\r", "n": "\n", "0": "\0", "t": "\t", "\\": "\\"}.get(e, "\\" + e)
    return ESC.sub(rep, s).encode("latin-1")


def show(raw):
    """A received line for the transcript: CRLF stripped, anything else escaped."""
    end = ""
    if raw.endswith(b"\r\n"):
        raw = raw[:-2]
    elif raw.endswith(b"\n"):
        raw, end = raw[:-1], "\\n"
    else:
        end = "\\c"
    out = []
    for b in raw:
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append("\\x%02x" % b)
    text = "".join(out) + end
    for rx, rep in NORMALISE:
        text = rx.sub(rep, text)
    return text


class Session:
    def __init__(self, proc, transcript, proto):
        self.p = proc
        self.t = transcript
        self.proto = proto
        self.buf = b""
        self.eof = False
        self.dead = False       # timed out or closed: stop sending
        self.multiline_next = False

    def send(self, data):
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            self.t.append("S: <closed before send>")
            self.dead = True

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.p.stdout], [], [], left)
        if not r:
            return False
        data = os.read(self.p.stdout.fileno(), 65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def line(self, deadline):
        while b"\n" not in self.buf:
            if not self._fill(deadline):
                if self.buf and self.eof:
                    line, self.buf = self.buf, b""
                    return line
                return None
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def reply(self, multiline=False):
        """Reads one complete reply into the transcript. Returns its first
        line (bytes) or None on close/timeout."""
        deadline = time.monotonic() + REPLY_TIMEOUT
        first = None
        while True:
            raw = self.line(deadline)
            if raw is None:
                self.t.append("S: <closed>" if self.eof else "S: <timeout>")
                self.dead = True
                return first
            self.t.append("S: " + show(raw))
            if first is None:
                first = raw
            if self.proto == "smtp":
                if re.match(rb"^\d{3}-", raw):
                    continue
                return first
            # POP3: +OK/-ERR; a multi-line response ends with "."
            if first is raw and not (multiline and raw.startswith(b"+OK")):
                return first
            if raw in (b".\r\n", b".\n") and raw is not first:
                return first

    def wait_close(self):
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            raw = self.line(deadline)
            if raw is None:
                self.t.append("S: <closed>" if self.eof else "S: <timeout: still open>")
                self.dead = True
                return
            self.t.append("S: " + show(raw))

    def drain(self):
        """After the script: close our side, read what is left."""
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        deadline = time.monotonic() + REPLY_TIMEOUT
        while not self.eof:
            raw = self.line(deadline)
            if raw is None:
                if not self.eof:
                    self.t.append("S: <timeout after client EOF>")
                break
            self.t.append("S: " + show(raw))


POP3_MULTI = re.compile(rb"^(CAPA|LIST|UIDL|RETR|TOP)(\s*$|\s+\S)", re.I)
POP3_SINGLE_ARG = re.compile(rb"^(LIST|UIDL)\s+\S", re.I)


def pop3_multiline(cmd):
    c = cmd.rstrip(b"\r\n")
    if POP3_SINGLE_ARG.match(c):
        return False
    return bool(POP3_MULTI.match(c)) or c.upper() in (b"AUTH",)


def parse(lines):
    """Yields steps: ('line', raw_text, bytes) | ('dir', name, arg) | ('pipeline', [(raw, bytes)])."""
    steps = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        if raw.startswith("#!"):
            d = raw[2:].strip()
            name, _, arg = d.partition(" ")
            if name.startswith("#") or not name:
                continue
            if name == "pipeline":
                block = []
                while i < len(lines) and not lines[i].startswith("#!"):
                    block.append((lines[i], encode_line(lines[i])))
                    i += 1
                if i < len(lines) and lines[i].strip() == "#! end":
                    i += 1
                steps.append(("pipeline", block))
                continue
            steps.append(("dir", name, arg.strip()))
            continue
        steps.append(("line", raw, encode_line(raw)))
    return steps


def encode_line(raw):
    if raw.endswith("\\c") and not raw.endswith("\\\\c"):
        return unescape(raw[:-2])
    return unescape(raw) + b"\r\n"


def expect_body(fname, ln):
    """The body a "USER body TEXT" line of fname asks for, as bytes."""
    if len(ln) < 3:
        raise ValueError("%s: \"%s body\" without TEXT" % (fname, ln[0]))
    return unescape(ln[2])


def check_body(env, user, want):
    """Problems unless one message in user's new/ has exactly the body want."""
    d = os.path.join(env.maildir(user), "new")
    bodies = []
    for fn in env.new_files(user):
        with open(os.path.join(d, fn), "rb") as f:
            msg = f.read()
        bodies.append(msg.partition(b"\n\n")[2])
        if bodies[-1] == want:
            return []
    return ["%s: no message in new/ has the body %r; bodies: %r" % (user, want, bodies)]


def run_case(name, update=False):
    """Returns (ok, transcript lines, problems)."""
    proto = "pop3" if name.startswith("pop3_") else "smtp"
    env = lib.Env(prefix="inetmail-proto.")
    problems = []
    transcript = []
    try:
        daemon = env.pop3d if proto == "pop3" else env.smtpd
        args = []
        argsf = os.path.join(HERE, name + ".args")
        if os.path.exists(argsf):
            with open(argsf) as f:
                args = shlex.split(f.read().replace("$T", env.t).replace("${T}", env.t),
                                   comments=True)
        with open(os.path.join(HERE, name + ".in"), encoding="latin-1") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        steps = parse(lines)
        os.makedirs(OUT, exist_ok=True)
        errlog = open(os.path.join(OUT, name + ".log"), "wb")
        p = subprocess.Popen(WRAP + [daemon, "-d", "-f", env.conf] + args,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=errlog, env=env.env(), cwd=env.t)
        s = Session(p, transcript, proto)
        s.reply()  # the greeting, before anything is sent
        in_data = False
        data = b""
        k = 0
        while k < len(steps) and not s.dead:
            st = steps[k]
            k += 1
            if st[0] == "dir":
                if st[1] == "wait-close":
                    transcript.append("#! wait-close")
                    s.wait_close()
                elif st[1] == "sleep":
                    time.sleep(float(st[2] or "1"))
                else:
                    problems.append("unknown directive #! %s" % st[1])
                continue
            if st[0] == "pipeline":
                transcript.append("#! pipeline")
                blob = b""
                n = 0
                for raw, b in st[1]:
                    transcript.append("C: " + raw)
                    blob += b
                    if b.endswith(b"\r\n"):
                        n += 1
                s.send(blob)
                got = []
                for _ in range(n):
                    if s.dead:
                        break
                    got.append(s.reply())
                transcript.append("#! end")
                if got and got[-1] and got[-1].startswith(b"354"):
                    in_data, data = True, b""
                continue
            raw, b = st[1], st[2]
            transcript.append("C: " + raw)
            if in_data:
                data += b
                if data == b".\r\n" or data.endswith(b"\r\n.\r\n"):
                    s.send(data)
                    in_data, data = False, b""
                    s.reply()
                continue
            m = re.match(rb"^BDAT\s+(\d+)", b, re.I) if proto == "smtp" else None
            if m and b.endswith(b"\r\n"):
                want = int(m.group(1))
                chunk = b""
                while len(chunk) < want and k < len(steps) and steps[k][0] == "line":
                    transcript.append("C: " + steps[k][1])
                    chunk += steps[k][2]
                    k += 1
                s.send(b + chunk)
                s.reply()
                continue
            s.send(b)
            if not b.endswith(b"\r\n"):
                continue  # \c: more of this line follows
            first = s.reply(multiline=(proto == "pop3" and pop3_multiline(b)))
            if proto == "smtp" and first and first.startswith(b"354"):
                in_data, data = True, b""
        if in_data and data and not s.dead:
            s.send(data)  # data without a real end: let the server see it
        if not s.dead:
            s.drain()
        try:
            rc = p.wait(timeout=REPLY_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
            problems.append("daemon did not exit within %ds after the session" % REPLY_TIMEOUT)
        if rc < 0:
            problems.append("daemon killed by signal %d" % -rc)
        if WRAP_RC and rc == int(WRAP_RC):
            problems.append("daemon exited %d: the wrapper (%s) found errors" % (rc, WRAP[0]))
        errlog.close()

        # Maildir checks.
        for u in ("alice", "bob", "carol"):
            tmp = env.all_files(u)["tmp"]
            if tmp:
                problems.append("%s has files left in Maildir/tmp: %s" % (u, tmp))
        expf = os.path.join(HERE, name + ".expect")
        if os.path.exists(expf):
            with open(expf) as f:
                for ln in f:
                    if re.match(r"^\S+\s+body\s", ln):
                        ln = ln.rstrip("\n").split(None, 2)
                    else:
                        ln = ln.split("#", 1)[0].split()
                    if not ln:
                        continue
                    user = ln[0]
                    if len(ln) > 1 and ln[1] == "body":
                        problems += check_body(env, user, expect_body(f.name, ln))
                        continue
                    want = int(ln[1])
                    got = len(env.new_files(user))
                    if got != want:
                        problems.append("%s has %d messages in new/, expected %d" % (user, got, want))
        for fname, text in env.sanitizer_reports():
            problems.append("sanitizer report %s:\n%s" % (fname, text[:4000]))
    finally:
        env.close()

    with open(os.path.join(OUT, name + ".out"), "w") as f:
        f.write("\n".join(transcript) + "\n")
    reff = os.path.join(HERE, name + ".ref")
    if update:
        with open(reff, "w") as f:
            f.write("\n".join(transcript) + "\n")
        return (not problems, transcript, problems, [])
    if not os.path.exists(reff):
        return (False, transcript, problems + ["no %s.ref (write one, or run.py --update %s and review it)" % (name, name)], [])
    with open(reff, encoding="latin-1") as f:
        ref = f.read().split("\n")
    if ref and ref[-1] == "":
        ref.pop()
    diff = list(difflib.unified_diff(ref, transcript, name + ".ref", name + ".out", lineterm=""))
    return (not diff and not problems, transcript, problems, diff)


def main(argv):
    update = False
    if argv and argv[0] == "--update":
        update = True
        argv = argv[1:]
        if not argv:
            print("usage: run.py --update NAME...", file=sys.stderr)
            return 2
    names = [os.path.basename(a)[:-3] if a.endswith(".in") else os.path.basename(a)
             for a in argv]
    if not names:
        names = sorted(f[:-3] for f in os.listdir(HERE) if f.endswith(".in"))
    tap = lib.Tap()
    if not names:
        tap.skip("golden protocol tests", "no tests/proto/*.in cases yet")
    pop3 = os.path.join(lib.build_dir(), "pop3d", "pop3d")
    smtpd = os.path.join(lib.build_dir(), "smtpd", "smtpd")
    for name in names:
        if not os.path.exists(os.path.join(HERE, name + ".in")):
            tap.ok(False, "proto %s" % name, "no such case %s.in" % name)
            continue
        if name.startswith("pop3_") and not os.access(pop3, os.X_OK):
            tap.skip("proto %s" % name, "pop3d not built yet (%s)" % pop3)
            continue
        if not name.startswith("pop3_") and not os.access(smtpd, os.X_OK):
            tap.ok(False, "proto %s" % name, "smtpd not built (%s)" % smtpd)
            continue
        try:
            ok, transcript, problems, diff = run_case(name, update)
        except Exception as e:  # a harness error is a failure, with its reason
            tap.ok(False, "proto %s" % name, "harness error: %r" % e)
            continue
        if update:
            print("# wrote %s.ref:" % name)
            for line in transcript:
                print("#   " + line)
        tap.ok(ok, "proto %s" % name, *(problems + diff[:80] +
               (["daemon stderr (tests/out/proto/%s.log):" % name] +
                tail(os.path.join(OUT, name + ".log")) if not ok else [])))
    tap.done()


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            return ["  " + l for l in f.read().decode("latin-1").splitlines()[-n:]]
    except OSError:
        return []


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
