"""tests/lib/lib.py - shared helpers for the Python tests, the Python half
of tests/lib/lib.sh. A test finds it with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "lib"))
    import lib

The fake users, PAM service, inetmail.conf and cwrap environment come from
tests/lib/lib.sh (one source of truth): Env() runs it with INETMAIL_T set and
reads back its environment (lib_env0). TAP output: ok/not ok lines.
"""

import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def need(*packages):
    """The Debian packages (names from PACKAGES) a test drives: when one is
    missing, or cannot do what the test asks of it, the test fails at once
    with the apt-get line to run."""
    r = subprocess.run([os.path.join(TOP, "tests", "packages"), "need"] + list(packages),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=dict(os.environ, PACKAGES_CALLER=os.path.basename(sys.argv[0])))
    if r.returncode != 0:
        print("not ok 1 - " + r.stdout.decode(errors="replace").strip())
        print("# 1 tests, 1 failed, 0 skipped")
        sys.exit(1)


def build_dir():
    b = os.environ.get("INETMAIL_BUILD") or TOP
    return b if os.path.isabs(b) else os.path.join(TOP, b)


class Env:
    """A private temp dir with users alice/bob/carol, inetmail.conf, cwrap."""

    def __init__(self, prefix="inetmail-py."):
        self.t = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        env = dict(os.environ, INETMAIL_T=self.t, INETMAIL_BUILD=build_dir())
        env.pop("INETMAIL_LIB_SOURCED", None)
        out = subprocess.run(
            ["bash", "-c", '. "$1/tests/lib/lib.sh" && lib_env0', "lib", TOP],
            env=env, stdout=subprocess.PIPE, check=True, timeout=60).stdout
        self.vars = {}
        self.cwrap = []
        for item in out.split(b"\0"):
            if not item:
                continue
            k, _, v = item.decode().partition("=")
            self.vars[k] = v
            if k not in ("T", "CONF", "B", "TOP", "SMTPD", "POP3D", "MAILDB",
                         "CHROOT", "LIB_ASAN", "REAL_UID", "ALIASES_OK"):
                self.cwrap.append((k, v))
        self.conf = self.vars["CONF"]
        self.smtpd = self.vars["SMTPD"]
        self.pop3d = self.vars["POP3D"]
        self.maildb = self.vars["MAILDB"]
        self.aliases_ok = self.vars.get("ALIASES_OK") == "1"
        self.procs = []

    def env(self):
        """os.environ plus the cwrap variables (for a daemon run on pipes)."""
        e = dict(os.environ)
        e.update(self.cwrap)
        return e

    def maildir(self, user):
        return os.path.join(self.t, "home", user, "Maildir")

    def new_files(self, user):
        d = os.path.join(self.maildir(user), "new")
        try:
            return sorted(os.listdir(d))
        except FileNotFoundError:
            return []

    def all_files(self, user):
        """Files in new/ and cur/ and tmp/ (tmp must be empty after a session)."""
        res = {}
        for sub in ("new", "cur", "tmp"):
            d = os.path.join(self.maildir(user), sub)
            try:
                res[sub] = sorted(os.listdir(d))
            except FileNotFoundError:
                res[sub] = []
        return res

    def start_ssa(self, port, argv):
        cmd = ["systemd-socket-activate", "--inetd", "-a", "-l",
               "127.0.0.1:%d" % port]
        for k, v in self.cwrap:
            cmd += ["-E", "%s=%s" % (k, v)]
        log = open(os.path.join(self.t, "ssa.%d.log" % port), "ab")
        p = subprocess.Popen(cmd + list(argv), stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log)
        self.procs.append(p)
        if not wait_port(port):
            raise RuntimeError("systemd-socket-activate did not listen on %d" % port)
        return p

    def logs(self, limit=30):
        out = []
        for name in sorted(os.listdir(self.t)):
            if name.endswith(".log"):
                with open(os.path.join(self.t, name), "rb") as f:
                    lines = [l for l in f.read().decode("latin-1").splitlines()
                             if not ROUTINE.search(l)][-limit:]
                out.append("--- " + name)
                out += lines
        return out

    def sanitizer_reports(self):
        d = os.path.join(self.t, "san")
        res = []
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                res.append((name, f.read().decode("latin-1")))
        return res

    def close(self):
        for p in self.procs:
            try:
                p.kill()
                p.wait(timeout=10)
            except Exception:
                pass
        self.procs = []
        if os.environ.get("KEEP") == "1":
            print("# KEEP=1: kept %s" % self.t)
        else:
            shutil.rmtree(self.t, ignore_errors=True)


# Routine launcher lines (accept, spawn, exit 0) are left out of logs().
ROUTINE = re.compile(r"Communication attempt|^Connection from|^Spawned |^Execing |"
                     r"died with code 0$|someone wants|^accept, ctrl|execv |"
                     r"reaping asked for|reaped, status 0$")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, seconds=10):
    """Waits until something listens on port (checked with ss: no connection)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = subprocess.run(["ss", "-Hltn", "sport = :%d" % port],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if r.stdout.strip():
            return True
        time.sleep(0.02)
    return False


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.skipped = 0

    def ok(self, cond, what, *diag):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, what))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, what))
            for d in diag:
                for line in str(d).splitlines():
                    print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, what, *diag):
        return self.ok(got == want, what,
                       "expected: %r" % (want,), "     got: %r" % (got,), *diag)

    def skip(self, what, why):
        self.n += 1
        self.skipped += 1
        print("ok %d - %s # SKIP %s" % (self.n, what, why))
        sys.stdout.flush()

    def diag(self, *lines):
        for d in lines:
            for line in str(d).splitlines():
                print("# " + line)
        sys.stdout.flush()

    def done(self):
        print("# %d tests, %d failed, %d skipped" % (self.n, self.failed, self.skipped))
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


class Closed(Exception):
    pass


class Conn:
    """A raw SMTP client over a socket: bytes in, replies out, with timeouts."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.transcript = []

    def send(self, data):
        self.transcript.append("C: %r" % data)
        try:
            self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Closed(str(e))

    def _fill(self, deadline):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply")
            r, _, _ = select.select([self.s], [], [], left)
            if r:
                try:
                    data = self.s.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    self.eof = True
                    raise Closed("connection closed")
                self.buf += data
                return

    def line(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            self._fill(deadline)
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def reply(self, timeout=None):
        """One complete reply: (code int, [text lines]); raises Closed/TimeoutError."""
        lines = []
        while True:
            raw = self.line(timeout)
            self.transcript.append("S: %r" % raw)
            text = raw.decode("latin-1").rstrip("\r\n")
            lines.append(text)
            if not re.match(r"^\d{3}[ -]", text) and not re.match(r"^\d{3}$", text):
                return (0, lines)
            if len(text) == 3 or text[3] == " ":
                return (int(text[:3]), lines)

    def cmd(self, line, timeout=None):
        self.send(line if isinstance(line, bytes) else line.encode() + b"\r\n")
        return self.reply(timeout)

    def closed(self, timeout=5):
        """True when the server closes the connection (after any more output)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except Closed:
            return True
        except TimeoutError:
            return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
