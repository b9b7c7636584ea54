#!/usr/bin/python3
"""fault_client.py - the client vanishing at every SMTP stage, and the
session child killed mid-transaction, against smtpd under
systemd-socket-activate on loopback.

Vanishing: for each stage (before the greeting, after it, after EHLO, MAIL,
RCPT, DATA's 354, in the middle of the body, after the body but before the
final dot, after a BDAT chunk without LAST, and right after the final dot
without reading the reply) the client closes (or resets, SO_LINGER 0) the
connection. Afterwards: no message from an unfinished transaction is ever
delivered, the one sent in full is delivered at most once, nothing is left
in Maildir/tmp, and every smtpd process of those sessions has exited.

Session child killed: the unprivileged session process (the monitor's
child) gets SIGKILL while a message is half sent; the client must get a
421 from the monitor and the connection must close; nothing is delivered,
nothing left in tmp/, and a message acknowledged earlier in the same
session is still there exactly once.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import lib  # noqa: E402

lib.need("systemd")

# smtpd needs no PAM: leave pam_wrapper out (its per-process config dir
# collides when many daemons start at once; see tests/lib/lib.sh CWRAP_PAM).
os.environ["CWRAP_PAM"] = "0"


def smtpd_pids(env):
    """Pids of smtpd processes started for this Env (by their -f CONF)."""
    out = subprocess.run(["pgrep", "-f", "smtpd -f " + env.conf],
                         stdout=subprocess.PIPE).stdout.split()
    res = set()
    for p in out:
        try:
            with open("/proc/%d/comm" % int(p)) as f:
                if f.read().strip() == "smtpd":   # not the launcher
                    res.add(int(p))
        except OSError:
            pass
    return res


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_gone(env, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not smtpd_pids(env):
            return True
        time.sleep(0.05)
    return False


STAGES = ["connect", "greeting", "ehlo", "mail", "rcpt", "data", "mid-body",
          "before-dot", "bdat-chunk", "after-dot"]


def run_stage(port, stage, marker, reset):
    c = lib.Conn(port)
    try:
        if stage == "connect":
            return
        c.reply()
        if stage == "greeting":
            return
        c.cmd("EHLO client.test")
        if stage == "ehlo":
            return
        c.cmd("MAIL FROM:<s@example.test>")
        if stage == "mail":
            return
        c.cmd("RCPT TO:<alice@localhost>")
        if stage == "rcpt":
            return
        if stage == "bdat-chunk":
            chunk = b"Subject: %s\r\n\r\nbody\r\n" % marker.encode()
            c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
            c.reply()
            return
        code, _ = c.cmd("DATA")
        if stage == "data":
            return
        c.send(b"Subject: %s\r\n\r\nfirst line\r\n" % marker.encode())
        if stage == "mid-body":
            c.send(b"half a li")
            return
        c.send(b"last line\r\n")
        if stage == "before-dot":
            return
        c.send(b".\r\n")        # after-dot: gone without reading the reply
    finally:
        if reset:
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()


def count_marker(env, user, marker):
    n = 0
    for sub in ("new", "cur"):
        d = os.path.join(env.maildir(user), sub)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                if marker.encode() in f.read():
                    n += 1
    return n


def main():
    tap = lib.Tap()
    env = lib.Env(prefix="inetmail-fault.")
    try:
        port = lib.free_port()
        env.start_ssa(port, [env.smtpd, "-f", env.conf])
        for reset in (False, True):
            how = "reset" if reset else "close"
            for stage in STAGES:
                marker = "vanish-%s-%s" % (stage, how)
                try:
                    run_stage(port, stage, marker, reset)
                except (lib.Closed, TimeoutError, OSError) as e:
                    tap.ok(False, "%s at %s: client side" % (how, stage), repr(e))
                    continue
                gone = wait_gone(env)
                n = count_marker(env, "alice", marker)
                if stage == "after-dot":
                    ok = n <= 1
                    want = "at most once"
                else:
                    ok = n == 0
                    want = "never"
                tap.ok(ok and gone, "client %s at %s: delivered %s, session ended" % (how, stage, want),
                       "delivered %d times; smtpd processes left: %s" % (n, sorted(smtpd_pids(env))))
        tap.eq(env.all_files("alice")["tmp"], [], "nothing left in Maildir/tmp after vanishing clients")

        # The session child killed mid-message.
        c = lib.Conn(port, timeout=15)
        c.reply()
        c.cmd("EHLO client.test")
        c.cmd("MAIL FROM:<s@example.test>")
        c.cmd("RCPT TO:<alice@localhost>")
        c.cmd("DATA")
        c.send(b"Subject: acked-before-kill\r\n\r\nbody\r\n.\r\n")
        code, _ = c.reply()
        tap.eq(code, 250, "first message of the session acknowledged")
        c.cmd("MAIL FROM:<s@example.test>")
        c.cmd("RCPT TO:<alice@localhost>")
        c.cmd("DATA")
        c.send(b"Subject: killed-mid-body\r\n\r\nhalf\r\n")
        time.sleep(0.2)
        mons = [p for p in smtpd_pids(env) if children(p)]
        sess = [k for p in mons for k in children(p)]
        tap.ok(len(sess) == 1, "found the session child", "monitors %s, children %s" % (mons, sess))
        for k in sess:
            os.kill(k, signal.SIGKILL)
        lines = []
        try:
            while True:
                lines.append(c.line(timeout=10).decode("latin-1"))
        except (lib.Closed, TimeoutError, ConnectionResetError):
            pass
        tap.ok(any(l.startswith("421") for l in lines), "client gets 421 after the session child dies",
               "got %r" % lines)
        tap.ok(c.eof, "the connection is closed")
        c.close()
        tap.ok(wait_gone(env), "monitor exits too")
        tap.eq(count_marker(env, "alice", "killed-mid-body"), 0, "half-sent message not delivered")
        tap.eq(count_marker(env, "alice", "acked-before-kill"), 1, "acknowledged message still there, once")
        tap.eq(env.all_files("alice")["tmp"], [], "nothing left in Maildir/tmp")
        for name, text in env.sanitizer_reports():
            tap.ok(False, "sanitizer report " + name, text[:3000])
    except Exception as e:
        tap.ok(False, "harness error", repr(e), *env.logs())
    finally:
        env.close()
    tap.done()


if __name__ == "__main__":
    main()
