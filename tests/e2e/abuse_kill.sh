#!/bin/bash
# abuse_kill.sh - the throttle store (throttle_db) under kill -9 and under
# concurrency: attackers from 127.0.0.2..5 fail logins against pop3d while
# daemon processes (monitors and their children) are killed with SIGKILL at
# random moments (at least 20 kills, bounded in time); then the store opens without hanging,
# db5.3_verify is clean and a login still works. Then 20 concurrent
# attackers with their own user names: every failure is counted exactly
# once (counts plausible: per user = its attempts, per address = the sum).
. "$(dirname "$0")/../lib/lib.sh"
need systemd db5.3-util util-linux procps python3

[ -x "$POP3D" ] || { skip "pop3d" "not built"; done_testing; }
KILL_SECONDS=${KILL_SECONDS:-8}
TH=$T/throttle
# no delays, no blocks: every attempt reaches the store; 7d window: no decay
THR=(-o "throttle_db=$TH" -o throttle_exempt= -o auth_fail_limit=1000
     -o auth_fail_window=7d -o auth_penalty_max=0 -o auth_fail_delay=0ms
     -o auth_require_tls=no -o max_conn_per_ip=1000 -o max_conn_rate_per_ip=0)
mdb() { cw "$MAILDB" -f "$CONF" -o "throttle_db=$TH" -o auth_fail_limit=1000 \
    -o auth_fail_window=7d throttle "$@"; }

cat >"$T/atk.py" <<'PYEOF'
import os, socket, sys, time
port, src, user, n, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
ok = tries = 0
bound = time.time() + 300
# until the stop file exists (kill phase; 300 s at most), or n answered
# attempts within 3n tries (a connection may die before its login: a
# killed daemon, or pam_wrapper's start-up collision when many daemons
# start at once)
while (not os.path.exists(stop) and time.time() < bound) if stop != "-" else (ok < n and tries < 3 * n):
    i = tries
    tries += 1
    try:
        s = socket.socket(); s.settimeout(20); s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        f = s.makefile("rb")
        if not f.readline().startswith(b"+OK"):
            continue
        s.sendall(b"USER %s\r\nPASS wrong%d\r\n" % (user.encode(), i))
        f.readline()
        r = f.readline()
        s.close()
        if r.startswith(b"-ERR [AUTH]"):
            ok += 1
    except OSError:
        pass
print(ok)
PYEOF

P=$(free_port)
start_ssa "$P" "$POP3D" -f "$CONF" "${THR[@]}" || fail "ssa start"
SSA=${LAUNCHER_PIDS[-1]}

# ---- kill -9 during updates -------------------------------------------
# At least KILL_SECONDS and at least KILLS_MIN kills: the count is the goal,
# the time only a bound (KILL_BOUND), so a slow machine takes longer
# instead of failing.
KILLS_MIN=${KILLS_MIN:-20} KILL_BOUND=${KILL_BOUND:-120}
t0=$(date +%s)
apids=()
for i in 1 2 3 4 5 6; do
	"$PY" "$T/atk.py" "$P" "127.0.0.$((2 + i % 4))" "k$i" 100000 "$T/atk.stop" >/dev/null 2>&1 &
	apids+=($!)
done
kills=0
while now=$(( $(date +%s) - t0 )); [ "$now" -lt "$KILL_BOUND" ] &&
    { [ "$now" -lt "$KILL_SECONDS" ] || [ "$kills" -lt "$KILLS_MIN" ]; }; do
	# the launcher's children are our monitors; their children the sessions
	kids=$(pgrep -P "$SSA" | shuf -n 1)
	for k in $kids; do
		gk=$(pgrep -P "$k" | head -n 1)
		if [ -n "$gk" ] && [ $((RANDOM % 3)) = 0 ]; then kill -KILL "$gk" 2>/dev/null; fi
		kill -KILL "$k" 2>/dev/null && kills=$((kills + 1))
	done
	sleep "0.0$((RANDOM % 5 + 1))"
done
touch "$T/atk.stop"
for p in "${apids[@]}"; do wait "$p"; done
diag "kill -9 of $kills monitor(s) in $(( $(date +%s) - t0 ))s"
check "killed at least $KILLS_MIN daemon processes (within ${KILL_BOUND}s)" test "$kills" -ge "$KILLS_MIN"
out=$(timeout 30 env "${CWRAP_ENV[@]}" "$MAILDB" -f "$CONF" -o "throttle_db=$TH" throttle ls 2>&1)
check_eq "throttle ls after the kills: no hang, exit 0" 0 $?
check_match "the kill phase left counters" '^user:k[0-9]' "$out"
check "db5.3_verify clean after the kills" flock "$TH/lock" db5.3_verify -h "$TH" throttle.db
out=$(timeout 30 "$PY" "$T/atk.py" "$P" 127.0.0.2 carol 1 -)
check_eq "a login attempt after the kills is answered" 1 "$out"

# ---- 20 concurrent attackers ------------------------------------------
mdb clear 127.0.0.2 >/dev/null; mdb clear 127.0.0.3 >/dev/null
mdb clear 127.0.0.4 >/dev/null; mdb clear 127.0.0.5 >/dev/null
N=8
apids=()
for i in $(seq 1 20); do
	"$PY" "$T/atk.py" "$P" "127.0.0.$((2 + i % 4))" "c$i" "$N" - >"$T/atk.$i" 2>&1 &
	apids+=($!)
done
for p in "${apids[@]}"; do wait "$p"; done
answered=$(cat "$T"/atk.* | awk '{s += $1} END {print s}')
check_eq "20 attackers x $N failures all answered -ERR [AUTH]" $((20 * N)) "$answered"
out=$(mdb ls)
users=$(awk '/^user:c[0-9]+ / {printf "%d\n", $2 + 0.5}' <<<"$out" | sort | uniq -c | awk '{print $1 "x" $2}')
check_eq "each of the 20 user counters is exactly $N" "20x$N" "$users"
ips=$(awk '/^ip:127\.0\.0\.[2-5] / {s += $2} END {printf "%d", s + 0.5}' <<<"$out")
check_eq "the address counters add up to $((20 * N))" $((20 * N)) "$ips"
check "db5.3_verify clean after the concurrent run" flock "$TH/lock" db5.3_verify -h "$TH" throttle.db
check_eq "no damaged store was set aside" "" "$(ls "$TH" | grep damaged)"

stop_launchers
done_testing
