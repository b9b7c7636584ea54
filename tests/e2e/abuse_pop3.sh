#!/bin/bash
# abuse_pop3.sh - login throttling and connection limits across
# connections (issue 10), pop3d and smtpd under systemd-socket-activate on
# loopback, several loopback source addresses (127.0.0.2..5):
#   - a bounded brute force from one address (USER/PASS, then AUTH PLAIN):
#     growing delay, then -ERR [LOGIN-DELAY]; the right password from a
#     clean address still works; `maildb throttle ls` shows the block and
#     `clear` lifts it; event=auth_fail / event=throttled in the log
#   - max_conn_per_ip + 1 concurrent connections: the extra one is refused
#     (pop3d and smtpd); greet_delay early talker gets 554
# (kill -9 and 20 concurrent attackers: abuse_kill.sh)
. "$(dirname "$0")/../lib/lib.sh"
need systemd python3

[ -x "$POP3D" ] || { skip "pop3d" "not built"; done_testing; }
TH=$T/throttle
THR=(-o "throttle_db=$TH" -o throttle_exempt= -o auth_fail_limit=3
     -o auth_fail_window=60 -o auth_penalty_max=1 -o auth_fail_delay=0
     -o auth_require_tls=no)
mdb() { cw "$MAILDB" -f "$CONF" -o "throttle_db=$TH" throttle "$@"; }
# The syslog lines also go to stderr with -d; ssa's log is $T/ssa.PORT.log.

cat >"$T/cli.py" <<'PYEOF'
import base64, socket, sys, time
def login(port, src, user, pw, how="user"):
    """One connection, one login: (seconds to the verdict, verdict line)."""
    s = socket.socket()
    s.settimeout(30)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    f = s.makefile("rb")
    greet = f.readline().decode().strip()
    if not greet.startswith("+OK"):
        return 0.0, greet
    t = time.time()
    if how == "user":
        s.sendall(b"USER %s\r\n" % user.encode())
        f.readline()
        s.sendall(b"PASS %s\r\n" % pw.encode())
    else:
        ir = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
        s.sendall(b"AUTH PLAIN " + ir + b"\r\n")
    r = f.readline().decode().strip()
    dt = time.time() - t
    try:
        s.sendall(b"QUIT\r\n")
        f.readline()
    except OSError:
        pass
    s.close()
    return dt, r
if __name__ == "__main__":
    port, src, user, pw, how = sys.argv[1:6]
    dt, r = login(int(port), src, user, pw, how)
    print("%.2f %s" % (dt, r))
PYEOF
cli() { "$PY" "$T/cli.py" "$@"; }

P=$(free_port)
start_ssa "$P" "$POP3D" -d -f "$CONF" "${THR[@]}" || fail "ssa start"
LOG=$T/ssa.$P.log

# ---- brute force from 127.0.0.2 with USER/PASS -----------------------
r1=$(cli "$P" 127.0.0.2 alice wrong1 user)
r2=$(cli "$P" 127.0.0.2 alice wrong2 user)
r3=$(cli "$P" 127.0.0.2 alice wrong3 user)
r4=$(cli "$P" 127.0.0.2 alice secret user)
diag "attempts: $r1 | $r2 | $r3 | $r4"
check_match "1st failure: -ERR [AUTH], no delay" '^0\.[0-3][0-9] -ERR \[AUTH\]' "$r1"
check_match "2nd failure delayed ~0.5s" '^0\.[5-9][0-9] -ERR \[AUTH\]' "$r2"
check_match "3rd failure delayed ~1s (auth_penalty_max)" '^1\.[0-4][0-9] -ERR \[AUTH\]' "$r3"
check_match "4th attempt refused, even with the right password" '^0\.[0-3][0-9] -ERR \[LOGIN-DELAY\]' "$r4"
ls_out=$(mdb ls)
diag "$ls_out"
check_match "throttle ls: ip:127.0.0.2 blocked" '^ip:127\.0\.0\.2 +[0-9.]+ [0-9T:-]+ +[0-9]{4}-' "$ls_out"
check_match "throttle ls: user:alice counted" '^user:alice +[0-9.]+' "$ls_out"
check_match "throttle ls: net:127.0.0.0/24 counted" '^net:127\.0\.0\.0/24 ' "$ls_out"
check_match "log: event=auth_fail ip= user=" 'event=auth_fail ip=127\.0\.0\.2 user=alice' "$(cat "$LOG")"
check_match "log: event=throttled reason=ip_blocked" 'event=throttled ip=127\.0\.0\.2 .*reason=ip_blocked' "$(cat "$LOG")"

# ---- a clean address still gets in (delayed by the user counter, capped)
r=$(cli "$P" 127.0.0.3 alice secret user)
check_match "right password from clean 127.0.0.3 works (delay <= cap)" '^(0|1)\.[0-9]+ \+OK' "$r"

# ---- clear lifts the block -------------------------------------------
out=$(mdb clear 127.0.0.2)
check_match "throttle clear 127.0.0.2" '^cleared [1-9]' "$out"
out=$(mdb ls)
check_eq "ls no longer shows ip:127.0.0.2" 0 "$(grep -c '^ip:127\.0\.0\.2 ' <<<"$out")"
r=$(cli "$P" 127.0.0.2 alice secret user)
check_match "after clear: login from 127.0.0.2 works" '\+OK' "$r"
# success cleared nothing but the address: user:alice decays on its own
mdb clear alice >/dev/null

# ---- AUTH PLAIN from 127.0.0.4 ---------------------------------------
res=()
for i in 1 2 3 4; do res+=("$(cli "$P" 127.0.0.4 bob "bad$i" plain)"); done
diag "plain: ${res[*]}"
check_match "AUTH PLAIN: 3rd failure delayed" '^1\.[0-4][0-9] -ERR \[AUTH\]' "${res[2]}"
check_match "AUTH PLAIN: 4th refused with [LOGIN-DELAY]" '^0\.[0-3][0-9] -ERR \[LOGIN-DELAY\]' "${res[3]}"
r=$(cli "$P" 127.0.0.5 bob secret plain)
check_match "AUTH PLAIN right password from clean 127.0.0.5" '\+OK' "$r"
mdb clear 127.0.0.4 >/dev/null; mdb clear bob >/dev/null

# ---- connection limits -----------------------------------------------
conn_test() {	# PORT N: opens N+1 connections from 127.0.0.5, prints greetings
	"$PY" - "$1" "$2" <<'PYEOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
socks, out = [], []
for i in range(n + 1):
    s = socket.socket(); s.settimeout(20); s.bind(("127.0.0.5", 0))
    s.connect(("127.0.0.1", port))
    out.append(s.makefile("rb").readline().decode().strip())
    socks.append(s)
print("\n".join(out))
PYEOF
}
L=$(free_port)
start_ssa "$L" "$POP3D" -f "$CONF" "${THR[@]}" -o max_conn_per_ip=3 || fail "ssa start (limit)"
out=$(conn_test "$L" 3)
check_eq "pop3d: 3 greeted, 4th refused" "3 1" \
    "$(grep -c '^+OK' <<<"$out") $(grep -c '^-ERR \[SYS/TEMP\] too many connections' <<<"$out")"
sleep 0.5	# the three monitors leave (unregister) once their clients are gone
out=$(conn_test "$L" 0)
check_match "pop3d: after they closed, a new connection is greeted" '^\+OK' "$out"
S=$(free_port)
start_ssa "$S" "$SMTPD" -f "$CONF" "${THR[@]}" -o max_conn_per_ip=2 || fail "ssa start (smtpd)"
out=$(conn_test "$S" 2)
check_eq "smtpd: 2 greeted, 3rd gets 421 4.7.0" "2 1" \
    "$(grep -c '^220 ' <<<"$out") $(grep -c '^421 4.7.0 .*Too many connections' <<<"$out")"
R=$(free_port)
start_ssa "$R" "$POP3D" -f "$CONF" "${THR[@]}" -o max_conn_rate_per_ip=3 \
    -o "throttle_db=$T/throttle-rate" || fail "ssa start (rate)"
out=$(for i in 1 2 3 4; do conn_test "$R" 0; done)
check_eq "pop3d: max_conn_rate_per_ip=3: the 4th in a minute is refused" "3 1" \
    "$(grep -c '^+OK' <<<"$out") $(grep -c 'too many connections' <<<"$out")"

# ---- greet_delay: an early talker gets 554 -----------------------------
G=$(free_port)
start_ssa "$G" "$SMTPD" -f "$CONF" -o greet_delay=1 || fail "ssa start (greet)"
out=$("$PY" - "$G" <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"EHLO bot\r\n")
a = s.makefile("rb").readline().decode().strip()
t = time.time()
s2 = socket.create_connection(("127.0.0.1", port), timeout=10)
b = s2.makefile("rb").readline().decode().strip()
print(a); print("%.1f %s" % (time.time() - t, b))
PYEOF
)
check_match "greet_delay: talker before the greeting gets 554" '^554 5\.5\.0 .*talked before the greeting' "$out"
check_match "greet_delay: a patient client is greeted after ~1s" '^(0\.9|1\.[0-9]) 220 ' "$(sed -n 2p <<<"$out")"

stop_launchers
done_testing
