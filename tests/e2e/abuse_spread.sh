#!/bin/bash
# abuse_spread.sh - a brute force spread over one /24 (pop3d under
# systemd-socket-activate): with auth_fail_limit=3, 6 addresses of
# 127.0.0.0/24 fail twice each, so no address is blocked alone, but the
# prefix is blocked at 4 x auth_fail_limit = 12 failures (the net: counter,
# inetmail.conf(5) "Abuse resistance"). Then a fresh address of the same
# /24 is refused even with the right password, `maildb throttle ls` shows
# net:127.0.0.0/24 blocked and no ip: block, and an address of another
# prefix (127.0.1.5) still logs in. IPv4 only: the /64 case needs several
# addresses of one IPv6 prefix on lo, and only ::1 is there
# (unit/test_throttle covers the /64).
. "$(dirname "$0")/../lib/lib.sh"
need systemd python3

[ -x "$POP3D" ] || { skip "pop3d" "not built"; done_testing; }
TH=$T/throttle
THR=(-o "throttle_db=$TH" -o throttle_exempt= -o auth_fail_limit=3
     -o auth_fail_window=3600 -o auth_penalty_max=1 -o auth_fail_delay=0
     -o auth_require_tls=no)
mdb() { cw "$MAILDB" -f "$CONF" -o "throttle_db=$TH" throttle "$@"; }

P=$(free_port)
start_ssa "$P" "$POP3D" -d -f "$CONF" "${THR[@]}" || fail "ssa start"
LOG=$T/ssa.$P.log

# ---- 12 failures from 6 addresses of 127.0.0.0/24 -------------------------
# Two failures per address, until 12 are counted (a reply that is not a
# failure, such as a PAM temporary error, is not counted by the server
# either: the next address makes up for it).
refused=0 failed=0 tries=0 i=10 last=
while [ "$failed" -lt 12 ] && [ "$tries" -lt 20 ]; do
	for k in 1 2; do
		r=$(login_once pop3 "$P" "127.0.0.$i" alice "wrong$i.$k" user)
		tries=$((tries + 1))
		case $r in
		*'-ERR [AUTH]'*) failed=$((failed + 1)) last=127.0.0.$i ;;
		*'[LOGIN-DELAY]'*) refused=$((refused + 1)) ;;
		*) diag "127.0.0.$i: not a failure: $r" ;;
		esac
		[ "$failed" -ge 12 ] && break
	done
	i=$((i + 1))
done
diag "$tries attempts from 127.0.0.10 to $last"
check_eq "12 failed logins spread over the /24 (2 per address), none refused" "12 0" "$failed $refused"
check_match "the 12th failure blocked the prefix (log: reason=net_blocked)" \
    "event=throttled ip=${last//./\\.} .*reason=net_blocked until=" "$(grep -F "ip=$last " "$LOG")"
ls_out=$(mdb ls)
diag "$ls_out"
check_match "throttle ls: net:127.0.0.0/24 blocked (has an until)" \
    '^net:127\.0\.0\.0/24 +[0-9.]+ [0-9T:-]+ +[0-9]{4}-' "$ls_out"
check_eq "throttle ls: no address of it is blocked alone" 0 \
    "$(grep -Ec '^ip:127\.0\.0\.[0-9]+ +[0-9.]+ [0-9T:-]+ +[0-9]{4}-' <<<"$ls_out")"

# ---- a fresh address of the same /24: refused, right password or not -----
r=$(login_once pop3 "$P" 127.0.0.20 alice secret user)
check_match "fresh 127.0.0.20 with the right password: -ERR [LOGIN-DELAY]" \
    '^[0-9.]+ -ERR \[LOGIN-DELAY\]' "$r"
check_match "... log: event=throttled ip=127.0.0.20 reason=net_blocked" \
    'event=throttled ip=127\.0\.0\.20 .*reason=net_blocked' "$(cat "$LOG")"
check_eq "... the server's decision: blocked" blocked "$(throttle_decisions "$LOG" 127.0.0.20 1)"

# ---- another prefix: still logs in ----------------------------------------
r=$(login_once pop3 "$P" 127.0.1.5 alice secret user)
check_match "127.0.1.5 (another /24) logs in with the right password" '^[0-9.]+ \+OK' "$r"
d=$(throttle_decisions "$LOG" 127.0.1.5 1)
check_match "... delayed at most by the user counter (auth_penalty_max=1)" '^(none|[0-9]{1,4})$' "$d"
[ "$d" = none ] || [ "$d" -le 1000 ] || fail "... the delay is within the cap (got $d ms)"

# ---- clear lifts the prefix block -----------------------------------------
out=$(mdb clear 127.0.0.20)
check_match "throttle clear 127.0.0.20 clears its prefix too" '^cleared [1-9]' "$out"
check_eq "ls no longer shows net:127.0.0.0/24" 0 "$(mdb ls | grep -c '^net:127\.0\.0\.0/24 ')"
r=$(login_once pop3 "$P" 127.0.0.20 alice secret user)
check_match "after clear: 127.0.0.20 logs in" '^[0-9.]+ \+OK' "$r"

check_sanitizers
done_testing
