"""tests/lib/login.py - one connection, one login, timed: the client of the
brute-force tests (tests/e2e/abuse_pop3.sh, abuse_smtp_auth.sh; through
login_once and brute_force in tests/lib/lib.sh).

  login.py pop3|smtp PORT SRC USER PASSWORD HOW

connects from loopback address SRC to 127.0.0.1:PORT, logs in once (HOW:
user = USER/PASS, POP3 only; plain = AUTH PLAIN with an initial response;
login = AUTH LOGIN, SMTP only; SMTP says EHLO first), then sends QUIT and
prints one line

  SECONDS VERDICT | AFTER

SECONDS from the login command to its verdict, VERDICT the verdict line (the
last line of a multi-line SMTP reply), AFTER the reply to QUIT, or "closed"
when the server hung up. A greeting that refuses prints "0.00 GREETING | ".
"""

import base64
import socket
import sys
import time


def login(proto, port, src, user, pw, how):
    s = socket.socket()
    s.settimeout(30)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline().decode().rstrip("\r\n")
            if proto == "pop3" or len(line) < 4 or line[3] != "-":
                return line

    greet = reply()
    if not greet.startswith("+OK" if proto == "pop3" else "220"):
        return 0.0, greet, ""
    if proto == "smtp":
        s.sendall(b"EHLO brute.test\r\n")
        reply()
    t = time.time()
    if how == "user":
        s.sendall(b"USER %s\r\n" % user.encode())
        reply()
        s.sendall(b"PASS %s\r\n" % pw.encode())
    elif how == "plain":
        ir = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
        s.sendall(b"AUTH PLAIN " + ir + b"\r\n")
    else:
        s.sendall(b"AUTH LOGIN\r\n")
        reply()
        s.sendall(base64.b64encode(user.encode()) + b"\r\n")
        reply()
        s.sendall(base64.b64encode(pw.encode()) + b"\r\n")
    r = reply()
    dt = time.time() - t
    try:
        s.sendall(b"QUIT\r\n")
        after = reply() or "closed"
    except OSError:
        after = "closed"
    s.close()
    return dt, r, after


if __name__ == "__main__":
    proto, port, src, user, pw, how = sys.argv[1:7]
    dt, r, after = login(proto, int(port), src, user, pw, how)
    print("%.2f %s | %s" % (dt, r, after))
