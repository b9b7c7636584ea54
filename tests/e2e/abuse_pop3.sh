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
     -o auth_fail_window=60 -o auth_penalty_max=1 -o auth_fail_delay=0ms
     -o auth_require_tls=no)
mdb() { cw "$MAILDB" -f "$CONF" -o "throttle_db=$TH" throttle "$@"; }
# The syslog lines also go to stderr with -d; ssa's log is $T/ssa.PORT.log.


P=$(free_port)
start_ssa "$P" "$POP3D" -d -f "$CONF" "${THR[@]}" || fail "ssa start"
LOG=$T/ssa.$P.log

# ---- brute force from 127.0.0.2 with USER/PASS -----------------------
brute_force pop3 "$P" 127.0.0.2 alice user wrong1 wrong2 wrong3 secret
check_eq "the server's decisions: no delay, 0.5s, 1s (auth_penalty_max), blocked" \
    "none 500 1000 blocked" "$(throttle_decisions "$LOG" 127.0.0.2 4)"
check_match "1st failure: -ERR [AUTH]" '^[0-9.]+ -ERR \[AUTH\]' "${BRUTE[0]}"
check_match "2nd failure: -ERR [AUTH]" '^[0-9.]+ -ERR \[AUTH\]' "${BRUTE[1]}"
check "2nd failure took at least 0.5s" at_least 0.5 "${BRUTE[1]}"
check_match "3rd failure: -ERR [AUTH]" '^[0-9.]+ -ERR \[AUTH\]' "${BRUTE[2]}"
check "3rd failure took at least 1s" at_least 1.0 "${BRUTE[2]}"
check_match "4th attempt refused, even with the right password" '^[0-9.]+ -ERR \[LOGIN-DELAY\]' "${BRUTE[3]}"
ls_out=$(mdb ls)
diag "$ls_out"
check_match "throttle ls: ip:127.0.0.2 blocked" '^ip:127\.0\.0\.2 +[0-9.]+ [0-9T:-]+ +[0-9]{4}-' "$ls_out"
check_match "throttle ls: user:alice counted" '^user:alice +[0-9.]+' "$ls_out"
check_match "throttle ls: net:127.0.0.0/24 counted" '^net:127\.0\.0\.0/24 ' "$ls_out"
check_match "log: event=auth_fail ip= user=" 'event=auth_fail ip=127\.0\.0\.2 user=alice' "$(cat "$LOG")"
check_match "log: event=throttled reason=ip_blocked" 'event=throttled ip=127\.0\.0\.2 .*reason=ip_blocked' "$(cat "$LOG")"

# ---- a clean address still gets in (delayed by the user counter, capped)
r=$(login_once pop3 "$P" 127.0.0.3 alice secret user)
check_match "right password from clean 127.0.0.3 works" '^[0-9.]+ \+OK' "$r"
check_eq "... delayed by the user counter only, within the cap" "500" "$(throttle_decisions "$LOG" 127.0.0.3 1)"

# ---- clear lifts the block -------------------------------------------
out=$(mdb clear 127.0.0.2)
check_match "throttle clear 127.0.0.2" '^cleared [1-9]' "$out"
out=$(mdb ls)
check_eq "ls no longer shows ip:127.0.0.2" 0 "$(grep -c '^ip:127\.0\.0\.2 ' <<<"$out")"
r=$(login_once pop3 "$P" 127.0.0.2 alice secret user)
check_match "after clear: login from 127.0.0.2 works" '^[0-9.]+ \+OK' "$r"
# success cleared nothing but the address: user:alice decays on its own
mdb clear alice >/dev/null

# ---- AUTH PLAIN from 127.0.0.4 ---------------------------------------
brute_force pop3 "$P" 127.0.0.4 bob plain bad1 bad2 bad3 bad4
check_eq "AUTH PLAIN: the server's decisions" "none 500 1000 blocked" \
    "$(throttle_decisions "$LOG" 127.0.0.4 4)"
check "AUTH PLAIN: 3rd failure took at least 1s" at_least 1.0 "${BRUTE[2]}"
check_match "AUTH PLAIN: 3rd failure -ERR [AUTH]" '^[0-9.]+ -ERR \[AUTH\]' "${BRUTE[2]}"
check_match "AUTH PLAIN: 4th refused with [LOGIN-DELAY]" '^[0-9.]+ -ERR \[LOGIN-DELAY\]' "${BRUTE[3]}"
r=$(login_once pop3 "$P" 127.0.0.5 bob secret plain)
check_match "AUTH PLAIN right password from clean 127.0.0.5" '^[0-9.]+ \+OK' "$r"
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
