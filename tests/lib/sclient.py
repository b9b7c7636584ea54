#!/usr/bin/python3
"""tests/lib/sclient.py - drive `openssl s_client` one command at a time.

    sclient.py pop3|smtp [--greeting] -- openssl s_client ... -quiet -crlf

Reads commands from stdin (one per line), sends each after the reply to the
previous one is complete, and prints everything received. This replaces
sleeps between commands, which fail on a loaded machine. POP3 replies are
one +OK/-ERR line, or a dot-terminated list after CAPA, LIST, UIDL (without
an argument), RETR and TOP; SMTP replies end at the "NNN " line, and DATA
content is sent up to the "." line before one reply is read.
"""

import os
import select
import subprocess
import sys
import time

TIMEOUT = 20


def main():
    args = sys.argv[1:]
    proto = args.pop(0)
    greeting = False
    if args and args[0] == "--greeting":
        greeting = True
        args.pop(0)
    if args and args[0] == "--":
        args.pop(0)
    cmds = [line.rstrip("\n") for line in sys.stdin]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    buf = b""

    def line():
        nonlocal buf
        end = time.time() + TIMEOUT
        while b"\n" not in buf:
            left = end - time.time()
            if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
                return None
            d = os.read(p.stdout.fileno(), 4096)
            if not d:
                return None
            buf += d
        ln, buf = buf.split(b"\n", 1)
        sys.stdout.write(ln.decode("latin-1").rstrip("\r") + "\n")
        sys.stdout.flush()
        return ln.rstrip(b"\r")

    def reply(multi):
        first = line()
        if first is None:
            return False
        if proto == "smtp":
            while len(first) >= 4 and first[3:4] == b"-":
                first = line()
                if first is None:
                    return False
            return True
        if multi and first.startswith(b"+OK"):
            while True:
                ln = line()
                if ln is None or ln == b".":
                    return ln is not None
        return True

    if greeting and not reply(False):
        sys.exit(1)
    data = False
    for c in cmds:
        p.stdin.write(c.encode() + b"\n")
        p.stdin.flush()
        if data:
            if c == ".":
                data = False
                if not reply(False):
                    break
            continue
        words = c.upper().split()
        multi = proto == "pop3" and words and (
            words[0] in ("CAPA", "RETR", "TOP") or
            (words[0] in ("LIST", "UIDL") and len(words) == 1))
        if not reply(multi):
            break
        if proto == "smtp" and words and words[0] == "DATA":
            data = True
    p.stdin.close()
    # Whatever else comes (the close after QUIT), up to a short wait.
    while line() is not None:
        pass
    p.kill()
    p.wait()


if __name__ == "__main__":
    main()
