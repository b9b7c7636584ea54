#!/bin/bash
# pop3_apop.sh - APOP (RFC 1939 7) end to end: a secret set with
# `maildb apop set alice` (from stdin and on a terminal), Python poplib's
# apop() computing MD5(timestamp || secret) from the greeting, a pipelined
# APOP, wrong and malformed digests, a user without a secret, `apop ls` and
# `apop rm`, a secrets file others can read, and APOP with apop = no.
. "$(dirname "$0")/../lib/lib.sh"
need swaks

[ -x "$POP3D" ] || { skip "pop3d" "not built"; done_testing; }
echo "auth_fail_delay = 300ms" >>"$CONF"
DB=$T/apop.db
ON=(-o apop=yes -o "apop_db=$DB")
mdb() { cw "$MAILDB" -f "$CONF" -o "apop_db=$DB" apop "$@"; }

out=$(printf 'tanstaaf\n' | mdb set alice 2>&1)
check_eq "maildb apop set alice (stdin) exits 0" 0 $?
check_eq "apop.db mode 0600" 600 "$(stat -c %a "$DB" 2>/dev/null)"
out=$(mdb ls 2>&1)
check_eq "maildb apop ls lists alice, no secret" alice "$out"
out=$(printf 'x\n' | mdb set nosuchuser 2>&1)
check_eq "set for an unknown account fails" 1 $?
out=$(printf '\n' | mdb set bob 2>&1)
check_match "empty secret refused" 'empty secret' "$out"
out=$(mdb ls 2>&1)
check_eq "failed sets changed nothing" alice "$out"
# a terminal: the secret twice without echo, then a mismatch
out=$(cw "$PY" - "$MAILDB" "$CONF" "$DB" <<'PYEOF' 2>&1
import os, pty, sys, time
maildb, conf, db = sys.argv[1:4]
def run(a, b):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(maildb, [maildb, "-f", conf, "-o", "apop_db=" + db, "apop", "set", "carol"])
    seen = b""
    for answer in (a, b):
        while b":" not in seen.split(b"\n")[-1]:
            seen += os.read(fd, 1024)
        os.write(fd, answer + b"\n")
        seen += b"\n"
    try:
        while True:
            d = os.read(fd, 1024)
            if not d: break
            seen += d
    except OSError:
        pass
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st), seen
rc1, s1 = run(b"pw1", b"pw2")
rc2, s2 = run(b"hunter2", b"hunter2")
echo = b"hunter2" in s2 or b"pw1" in s1
print(rc1, rc2, "echo" if echo else "noecho", b"differ" in s1)
PYEOF
)
check_eq "tty: mismatch refused, match accepted, no echo" "1 0 noecho True" "$out"
check_eq "maildb apop ls after tty set" "alice carol" "$(mdb ls | tr '\n' ' ' | sed 's/ $//')"

# mail for alice, through smtpd
cw swaks --pipe "$SMTPD -f $CONF" --from sender@x.test --to alice@localhost \
    --header "Subject: apop test" --body "hello over APOP" >/dev/null 2>&1
check "delivered one message to alice" wait_count alice 1

P=$(free_port)
start_ssa "$P" "$POP3D" -f "$CONF" "${ON[@]}" || fail "ssa start (apop=yes)"
Q=$(free_port)
start_ssa "$Q" "$POP3D" -f "$CONF" -o "apop_db=$DB" || fail "ssa start (apop=no)"

cat >"$T/apop.py" <<'PYEOF'
import hashlib, poplib, re, socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]

def raw(lines, delay=0.0):
    """Greeting + one reply per line (single-line replies), as text."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    greet = f.readline().decode().rstrip("\r\n")
    out = [greet]
    ts = re.search(r"<[^>]*>", greet)
    for l in lines:
        if callable(l):
            l = l(ts.group(0) if ts else "")
        s.sendall(l.encode() + b"\r\n")
        out.append(f.readline().decode().rstrip("\r\n"))
    s.close()
    return out

def digest(ts, secret):
    return hashlib.md5((ts + secret).encode()).hexdigest()

if mode == "greetings":
    a, b = raw([])[0], raw([])[0]
    rx = r"^\+OK .* <\d+\.[0-9a-f]{16}\.\d+@mx\.test>$"
    print("format" if re.match(rx, a) and re.match(rx, b) else "bad: %s / %s" % (a, b))
    print("unique" if a != b else "same")
elif mode == "poplib":
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    print(p.apop("alice", "tanstaaf").decode())
    n, size = p.stat()
    lines = p.retr(1)[1]
    print("stat", n, "body" if b"hello over APOP" in lines else "nobody")
    print(p.quit().decode())
elif mode == "pipelined":
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    ts = re.search(r"<[^>]*>", f.readline().decode()).group(0)
    s.sendall(("APOP alice %s\r\nSTAT\r\nQUIT\r\n" % digest(ts, "tanstaaf")).encode())
    for _ in range(3):
        print(f.readline().decode().rstrip())
elif mode == "wrong":
    t0 = time.monotonic()
    r = raw([lambda ts: "APOP alice " + digest(ts, "wrong")])
    t1 = time.monotonic()
    r += raw([lambda ts: "APOP bob " + digest(ts, "tanstaaf")])[1:]
    t2 = time.monotonic()
    for l in r[1:]:
        print(l)
    # an unknown secret costs the same fixed delay as a wrong one
    print("delay", "ok" if 0.25 < t1 - t0 < 2 and 0.25 < t2 - t1 < 2 else
          "bad %.3f %.3f" % (t1 - t0, t2 - t1))
elif mode == "syntax":
    for l in raw([lambda ts: "APOP alice " + digest(ts, "tanstaaf").upper(),
                  lambda ts: "APOP alice " + digest(ts, "tanstaaf")[:31],
                  lambda ts: "APOP alice  " + digest(ts, "tanstaaf"),
                  lambda ts: "APOP alice",
                  lambda ts: "APOP " + digest(ts, "tanstaaf"),
                  lambda ts: "QUIT"])[1:]:
        print(l)
elif mode == "wrongts":
    # a digest over some other timestamp (a replay) is refused
    for l in raw([lambda ts: "APOP alice " + digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf")])[1:]:
        print(l)
elif mode == "off":
    r = raw([lambda ts: "APOP alice " + digest("<x@y>", "tanstaaf"), lambda ts: "QUIT"])
    print("notimestamp" if "<" not in r[0] else "timestamp: " + r[0])
    for l in r[1:]:
        print(l)
elif mode == "one":
    print(raw([lambda ts: "APOP alice " + digest(ts, "tanstaaf")])[1])
PYEOF
apy() { "$PY" "$T/apop.py" "$@" 2>&1; }

out=$(apy "$P" greetings)
check_eq "greeting carries a <pid.random.time@host> timestamp, unique" "format
unique" "$out"
out=$(apy "$P" poplib)
check_match "poplib apop(): login" '^\+OK alice has 1 message' "$out"
check_match "poplib apop(): STAT and RETR" '^stat 1 body$' "$out"
check_match "poplib apop(): QUIT" '^\+OK' "$out"
out=$(apy "$P" pipelined)
check_match "pipelined APOP, STAT, QUIT: all answered" '^\+OK 1 [0-9]+' "$out"
out=$(apy "$P" wrong)
check_eq "wrong digest and no secret: -ERR [AUTH], same delay" "-ERR [AUTH] Authentication failed
-ERR [AUTH] Authentication failed
delay ok" "$out"
out=$(apy "$P" syntax)
check_eq "malformed APOP: syntax errors, nothing sent to the monitor" "-ERR syntax error
-ERR syntax error
-ERR syntax error
-ERR syntax error
-ERR syntax error
+OK inetmail POP3 server signing off" "$out"
out=$(apy "$P" wrongts)
check_eq "digest over another timestamp refused" "-ERR [AUTH] Authentication failed" "$out"
out=$(apy "$Q" off)
check_eq "apop=no: no timestamp, APOP refused" "notimestamp
-ERR APOP is not enabled on this server
+OK inetmail POP3 server signing off" "$out"

chmod 0640 "$DB"
out=$(apy "$P" one)
check_eq "group-readable apop.db refused: [SYS/TEMP]" \
    "-ERR [SYS/TEMP] Authentication temporarily unavailable" "$out"
chmod 0600 "$DB"

out=$(mdb rm alice 2>&1)
check_eq "maildb apop rm alice exits 0" 0 $?
check_eq "maildb apop ls after rm" carol "$(mdb ls 2>&1)"
out=$(mdb rm alice 2>&1)
check_eq "rm of an absent entry exits 1" 1 $?
out=$(apy "$P" one)
check_eq "APOP after rm: -ERR [AUTH]" "-ERR [AUTH] Authentication failed" "$out"
check "the secret never reached a log" bash -c "! grep -rq tanstaaf $T/*.log"

[ "${TESTS_FAILED}" = 0 ] || launcher_logs
done_testing
