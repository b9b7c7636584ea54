#!/usr/bin/python3
"""pop3_maildrop.py - pop3d on a real maildrop, its sizes and UIDLs checked
against each other over the wire (pop3d(8) PROTOCOL, RFC 1939 5, 7, 11).

alice's Maildir gets messages of known content: three delivered through
smtpd (one with lines starting with a dot, one with an empty body line,
one long) and one written straight into new/ with its ,S= and ,W= sizes
in the name. Then, over a raw POP3 connection (pop3d under
systemd-socket-activate):
  - STAT, the multi-line LIST, every LIST n and the octets RETR n sends
    (up to the terminating dot, CR LF line ends, dot-unstuffed) agree, and
    equal the file's CRLF size (the ,W= of its name);
  - every UIDL n equals its line in the multi-line UIDL; the UIDLs are
    unique, 1 to 70 characters 0x21..0x7E, each the unique part of its
    file's name, and RETR sends that file with CR LF line ends;
  - after QUIT the messages are in cur/ (":2,"); their flags are changed as
    a mail reader does (rename to ":2,S", ":2,FS"); a second session has
    the same UIDLs (multi-line and UIDL n), sizes and bodies.
"""

import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import lib  # noqa: E402

lib.need("systemd")

ASAN = lib.build_dir().rstrip("/").endswith("/asan")
TMO = 30 if ASAN else 10

tap = lib.Tap()
env = lib.Env(prefix="inetmail-pop3maildrop.")


class Pop(lib.Conn):
    """A raw POP3 client: one-line and multi-line replies as bytes."""

    def status(self, line):
        self.send(line.encode() + b"\r\n")
        return self.line().rstrip(b"\r\n").decode("latin-1")

    def multi(self, line):
        """(status line, [raw data lines, CRLF stripped, still stuffed])."""
        st = self.status(line)
        lines = []
        if st.startswith("+OK"):
            while True:
                raw = self.line()
                if not raw.endswith(b"\r\n"):
                    raise ValueError("a line without CR LF: %r" % raw)
                raw = raw[:-2]
                if raw == b".":
                    break
                lines.append(raw)
        return st, lines


def retr_octets(lines):
    """The message as sent before stuffing: its octets, its bytes (CRLF)."""
    body = b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n" for l in lines)
    return len(body), body


def session(port, tag):
    """One POP3 session: what it says about every message."""
    c = Pop(port, timeout=TMO)
    res = {"msgs": {}}
    try:
        c.line()
        tap.ok(c.status("USER alice").startswith("+OK") and
               c.status("PASS secret").startswith("+OK"), "%s: login" % tag)
        st = c.status("STAT")
        m = re.match(r"^\+OK (\d+) (\d+)$", st)
        res["stat"] = (int(m.group(1)), int(m.group(2))) if m else None
        st, lines = c.multi("LIST")
        res["list"] = dict((int(a), int(b)) for a, b in (l.split() for l in lines))
        res["list_status"] = st
        st, lines = c.multi("UIDL")
        res["uidl"] = dict((int(a), b.decode("latin-1")) for a, b in (l.split(b" ", 1) for l in lines))
        for n in sorted(res["list"]):
            one = {}
            m = re.match(r"^\+OK (\d+) (\d+)$", c.status("LIST %d" % n))
            one["list"] = (int(m.group(1)), int(m.group(2))) if m else None
            m = re.match(r"^\+OK (\d+) ([!-~]+)$", c.status("UIDL %d" % n))
            one["uidl"] = (int(m.group(1)), m.group(2)) if m else None
            st, lines = c.multi("RETR %d" % n)
            one["retr_status"] = st
            one["octets"], one["body"] = retr_octets(lines)
            res["msgs"][n] = one
        res["quit"] = c.status("QUIT")
    except (lib.Closed, TimeoutError, ValueError, AttributeError) as e:
        tap.ok(False, "%s: the session ran to its end" % tag, repr(e), *c.transcript[-10:])
    finally:
        c.close()
    return res


def check_agree(res, files, tag):
    """Sizes and UIDLs of one session against each other and the files."""
    want = sorted(files.values())
    tap.eq(res.get("stat"), (len(want), sum(want)),
           "%s: STAT counts the messages and their CRLF octets" % tag)
    tap.eq(sorted(res.get("list", {}).values()), want,
           "%s: the multi-line LIST has every message's CRLF size" % tag)
    m = re.match(r"^\+OK (\d+) messages \((\d+) octets\)", res.get("list_status", ""))
    tap.ok(m and (int(m.group(1)), int(m.group(2))) == res.get("stat"),
           "%s: LIST's status line agrees with STAT" % tag, res.get("list_status"))
    bad_list, bad_uidl, bad_retr = [], [], []
    for n, one in sorted(res["msgs"].items()):
        if one["list"] != (n, res["list"][n]):
            bad_list.append("LIST %d: %r, multi-line LIST: %d" % (n, one["list"], res["list"][n]))
        if one["uidl"] != (n, res["uidl"].get(n)):
            bad_uidl.append("UIDL %d: %r, multi-line UIDL: %r" % (n, one["uidl"], res["uidl"].get(n)))
        if not one["retr_status"].startswith("+OK") or one["octets"] != res["list"][n]:
            bad_retr.append("RETR %d: %s, %d octets; LIST: %d" % (
                n, one["retr_status"], one["octets"], res["list"][n]))
    tap.ok(res["msgs"] and not bad_list, "%s: every LIST n equals its multi-line LIST line" % tag, *bad_list)
    tap.ok(res["msgs"] and not bad_uidl, "%s: every UIDL n equals its multi-line UIDL line" % tag, *bad_uidl)
    tap.ok(res["msgs"] and not bad_retr,
           "%s: RETR n sends exactly LIST n octets (CRLF, unstuffed)" % tag, *bad_retr)
    uidls = list(res.get("uidl", {}).values())
    tap.ok(len(uidls) == len(want) and len(set(uidls)) == len(uidls) and
           all(re.match(r"^[!-~]{1,70}$", u) for u in uidls),
           "%s: the UIDLs are unique, 1-70 characters 0x21..0x7E" % tag, uidls)
    tap.ok(res.get("quit", "").startswith("+OK"), "%s: QUIT" % tag, res.get("quit"))


try:
    sp, pp = lib.free_port(), lib.free_port()
    env.start_ssa(sp, [env.smtpd, "-d", "-f", env.conf])
    env.start_ssa(pp, [env.pop3d, "-d", "-f", env.conf])

    bodies = [
        b"Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\nend\r\n",
        b"Subject: empty line\r\n\r\nfirst\r\n\r\nthird\r\n",
        b"Subject: long\r\n\r\n" + b"".join(b"line %05d %s\r\n" % (i, b"x" * (i % 77))
                                            for i in range(400)),
    ]
    with smtplib.SMTP("127.0.0.1", sp, timeout=TMO) as s:
        s.ehlo("client.test")
        for b in bodies:
            s.sendmail("sender@example.test", ["alice@localhost"], b)
    tap.eq(len(env.new_files("alice")), 3, "three messages delivered through smtpd")

    # One written as another MDA would: its sizes in the name (,S= LF,
    # ,W= CRLF), a line starting with a dot.
    raw = b"Subject: by hand\n\n.hidden dot\n..two\nlast line\n"
    name = "1700000000.M1P1.mx.test,S=%d,W=%d" % (len(raw), len(raw) + raw.count(b"\n"))
    path = os.path.join(env.maildir("alice"), "new", name)
    with open(path, "wb") as f:
        f.write(raw)
    if env.vars.get("REAL_UID") == "0":
        st = os.stat(os.path.join(env.maildir("alice"), "new"))
        os.chown(path, st.st_uid, st.st_gid)
    os.chmod(path, 0o600)

    # The expected CRLF size of each message: its file with CR LF line
    # ends, the ,W= of its name.
    def crlf_size(p):
        data = open(p, "rb").read()
        return len(data) + data.count(b"\n")

    files, crlf = {}, {}
    for n in env.new_files("alice"):
        p = os.path.join(env.maildir("alice"), "new", n)
        files[n.split(",")[0]] = crlf_size(p)
        crlf[n.split(",")[0]] = open(p, "rb").read().replace(b"\n", b"\r\n")
        w = re.search(r",W=(\d+)", n)
        tap.ok(w and int(w.group(1)) == files[n.split(",")[0]],
               "the name's ,W= is the file's CRLF size: %s" % n, files[n.split(",")[0]])

    one = session(pp, "session 1")
    check_agree(one, files, "session 1")
    by_uidl = dict((one["uidl"][n], m["body"]) for n, m in one["msgs"].items())
    tap.eq(sorted(by_uidl), sorted(crlf), "session 1: each UIDL is its file's unique part")
    tap.ok(all(by_uidl.get(u) == b for u, b in crlf.items()),
           "session 1: RETR sends each file byte for byte, with CR LF line ends")

    # A mail reader marks messages: rename in cur/ (":2," -> ":2,S" ...).
    cur = os.path.join(env.maildir("alice"), "cur")
    names = sorted(os.listdir(cur))
    tap.eq(len(names), 4, "after the first session all four are in cur/", names)
    tap.ok(all(n.endswith(":2,") for n in names), "with the info \":2,\"", names)
    for n, flags in zip(names, ("S", "FS")):
        os.rename(os.path.join(cur, n), os.path.join(cur, n + flags))
    tap.diag("renamed: " + " ".join(sorted(os.listdir(cur))))

    two = session(pp, "session 2")
    check_agree(two, files, "session 2")
    tap.eq(sorted(two.get("uidl", {}).values()), sorted(one.get("uidl", {}).values()),
           "session 2 has the same UIDLs after the flag changes")
    tap.eq(dict((u, two["list"][n]) for n, u in two.get("uidl", {}).items()),
           dict((u, one["list"][n]) for n, u in one.get("uidl", {}).items()),
           "each UIDL keeps its size")
    tap.ok(all(by_uidl.get(two["uidl"][n]) == m["body"] for n, m in two["msgs"].items()),
           "each UIDL keeps its message (RETR byte for byte)")
except Exception as e:  # noqa: BLE001
    tap.ok(False, "the test ran to its end", repr(e), *env.logs())
finally:
    reports = env.sanitizer_reports()
    tap.ok(not reports, "no sanitizer reports", *[r[0] + ":\n" + r[1][:2000] for r in reports])
    if tap.failed:
        tap.diag(*env.logs())
    env.close()
tap.done()
