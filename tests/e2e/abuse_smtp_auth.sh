#!/bin/bash
# abuse_smtp_auth.sh - login throttling across connections for smtpd AUTH
# (issue 10), the counterpart of abuse_pop3.sh: smtpd -o role=submission
# under systemd-socket-activate on loopback, one AUTH per connection from
# several loopback source addresses (127.0.0.2..9):
#   - a bounded brute force from one address: 535 with a growing delay,
#     then 421 4.7.0 (even for the right password) and the connection
#     closed; `maildb throttle ls` shows the block, `clear` lifts it
#   - the same account guessed from several addresses: the user counter
#     slows the guesses down, capped at auth_penalty_max
#   - the right password from a clean address still works (235)
#   - event=auth_fail / event=throttled in the log, never the password
. "$(dirname "$0")/../lib/lib.sh"
need systemd python3

[ -x "$SMTPD" ] || { fail "smtpd is built"; done_testing; }
SMTPD_PAM=1
TH=$T/throttle
THR=(-o "throttle_db=$TH" -o throttle_exempt= -o auth_fail_limit=3
     -o auth_fail_window=60 -o auth_penalty_max=1 -o auth_fail_delay=0ms
     -o auth_require_tls=no -o role=submission)
mdb() { cw "$MAILDB" -f "$CONF" -o "throttle_db=$TH" throttle "$@"; }


P=$(free_port)
start_ssa "$P" "$SMTPD" -d -f "$CONF" "${THR[@]}" || fail "ssa start"
LOG=$T/ssa.$P.log

# ---- brute force from 127.0.0.2 with AUTH PLAIN -------------------------
brute_force smtp "$P" 127.0.0.2 alice plain wrong1 wrong2 wrong3 secret
check_eq "the server's decisions: no delay, 0.5s, 1s (auth_penalty_max), blocked" \
    "none 500 1000 blocked" "$(throttle_decisions "$LOG" 127.0.0.2 4)"
check_match "1st failure: 535 5.7.8" '^[0-9.]+ 535 5\.7\.8 ' "${BRUTE[0]}"
check_match "2nd failure: 535 5.7.8" '^[0-9.]+ 535 5\.7\.8 ' "${BRUTE[1]}"
check "2nd failure took at least 0.5s" at_least 0.5 "${BRUTE[1]}"
check_match "3rd failure: 535 5.7.8" '^[0-9.]+ 535 5\.7\.8 ' "${BRUTE[2]}"
check "3rd failure took at least 1s" at_least 1.0 "${BRUTE[2]}"
check_match "4th attempt refused with 421 4.7.0, even with the right password" \
    '^[0-9.]+ 421 4\.7\.0 .*too many failed logins' "${BRUTE[3]}"
check_match "... and the connection is closed after the 421" '\| closed$' "${BRUTE[3]}"
ls_out=$(mdb ls)
diag "$ls_out"
check_match "throttle ls: ip:127.0.0.2 blocked" '^ip:127\.0\.0\.2 +[0-9.]+ [0-9T:-]+ +[0-9]{4}-' "$ls_out"
check_match "throttle ls: user:alice counted" '^user:alice +[0-9.]+' "$ls_out"
check_match "log: event=auth_fail ip= user=" 'event=auth_fail ip=127\.0\.0\.2 user=alice' "$(cat "$LOG")"
check_match "log: event=throttled reason=ip_blocked" \
    'event=throttled ip=127\.0\.0\.2 .*reason=ip_blocked' "$(cat "$LOG")"
check_match "log: the refusal" 'disconnect reason=auth_throttled' "$(cat "$LOG")"

# ---- a clean address still gets in (delayed by the user counter, capped)
r=$(login_once smtp "$P" 127.0.0.3 alice secret plain)
check_match "right password from clean 127.0.0.3 works" '^[0-9.]+ 235 2\.7\.0 ' "$r"
check_eq "... delayed by the user counter only, within the cap" "500" "$(throttle_decisions "$LOG" 127.0.0.3 1)"

# ---- clear lifts the block -------------------------------------------
out=$(mdb clear 127.0.0.2)
check_match "throttle clear 127.0.0.2" '^cleared [1-9]' "$out"
r=$(login_once smtp "$P" 127.0.0.2 alice secret login)
check_match "after clear: AUTH LOGIN from 127.0.0.2 works" ' 235 2\.7\.0 ' "$r"
mdb clear alice >/dev/null

# ---- one account guessed from many addresses (bounded: 6 addresses) ---
res=()
for i in 4 5 6 7 8 9; do res+=("$(login_once smtp "$P" "127.0.0.$i" bob "guess$i" login)"); done
diag "distributed: ${res[*]}"
n535=0
for r in "${res[@]}"; do
	case $r in *" 535 5.7.8 "*) n535=$((n535 + 1)) ;; esac
done
check_eq "distributed guesses: each answered 535 (no address is blocked alone)" 6 "$n535"
check "the user counter slows later guesses down (>= 0.5s)" at_least 0.5 "${res[5]}"
d=$(throttle_decisions "$LOG" 127.0.0.9 1)
check_match "... the server's delay for it is within auth_penalty_max (1s): $d ms" '^(500|[5-9][0-9][0-9]|1000)$' "$d"
ls_out=$(mdb ls)
check_match "throttle ls: user:bob counted" '^user:bob +[0-9.]+' "$ls_out"
r=$(login_once smtp "$P" 127.0.0.10 bob secret plain)
check_match "bob's right password from a clean address still works" ' 235 2\.7\.0 ' "$r"
check_eq "no password in the log" "" "$(grep -aE 'secret|guess[0-9]|wrong[0-9]' "$LOG")"

stop_launchers
done_testing
