#!/bin/bash
# deploy_demo.sh - `make run` (tests/run-demo) as README's two-minute tour
# describes it: every command of the tour, with the demo's ports, run
# directory and password put in, is printed by run-demo exactly so and
# works; every listener README shows is printed; Ctrl-C (SIGINT) stops it
# and nothing is left listening or running.
. "$(dirname "$0")/../lib/lib.sh"
need systemd iproute2 curl util-linux swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl

[ -x "$SMTPD" ] && [ -x "$POP3D" ] || { fail "smtpd and pop3d are built"; done_testing; }
RD=$T/demo-run
declare -A PORT=([2525]=$(free_port) [1110]=$(free_port) [2465]=$(free_port) [1995]=$(free_port) [2587]=$(free_port))
# SIGINT as from a terminal: a background job of a script has SIGINT
# ignored, which bash could not trap; python resets it before exec.
SMTP_PORT=${PORT[2525]} POP3_PORT=${PORT[1110]} SMTPS_PORT=${PORT[2465]} POP3S_PORT=${PORT[1995]} \
    SUBMISSION_PORT=${PORT[2587]} \
    INETMAIL_RUN_DIR=$RD INETMAIL_BUILD=$B setsid "$PY" -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$TOP/tests/run-demo" >"$T/demo.out" 2>&1 </dev/null &
demo=$!
for i in $(seq 100); do grep -q '^Launcher logs' "$T/demo.out" && break; sleep 0.1; done
check_match "run-demo is up" '^Launcher logs' "$(cat "$T/demo.out")"
pw=$(cat "$RD/password" 2>/dev/null)

# README's tour with the demo's values; README shows the default ports.
subst() {
	sed -e "s|PASSWORD|$pw|g" -e "s|\([ :]\)run/|\1$RD/|g" -e "s|^run/|$RD/|" \
	    -e "s|127\.0\.0\.1:2525|127.0.0.1:${PORT[2525]}|g" -e "s|127\.0\.0\.1:1110|127.0.0.1:${PORT[1110]}|g" \
	    -e "s|127\.0\.0\.1:2465|127.0.0.1:${PORT[2465]}|g" -e "s|127\.0\.0\.1:1995|127.0.0.1:${PORT[1995]}|g" \
	    -e "s|127\.0\.0\.1:2587|127.0.0.1:${PORT[2587]}|g"
}
tour=$(sed -n '/^A two-minute tour/,/^Layout/p' "$TOP/README")
TLS=0
grep -q '^  SMTPS ' "$T/demo.out" && TLS=1
# The listener lines README shows (four spaces in README, two printed;
# the column widths follow the port numbers, so blanks are squeezed).
tr -s ' ' <"$T/demo.out" >"$T/demo.squeezed"
while IFS= read -r l; do
	case $l in *tls=implicit*) [ "$TLS" = 1 ] || continue ;; esac
	want=$(printf '%s\n' "${l#  }" | subst | tr -s ' ')
	check "run-demo prints README's line: ${l#    }" grep -qxF -- "$want" "$T/demo.squeezed"
done < <(printf '%s\n' "$tour" | grep -E '^    (SMTP|POP3|SMTPS|POP3S|SUBMISSION) ')
n=0
while IFS= read -r l; do
	cmd=$(printf '%s\n' "$l" | subst)
	case $cmd in *tls-on-connect* | *pop3s:* | *--tls\ *) [ "$TLS" = 1 ] || continue ;; esac
	n=$((n + 1))
	check "run-demo prints the tour's command: ${l#  }" grep -qxF -- "$cmd" "$T/demo.out"
	check "the command works: ${l#  }" timeout 30 bash -c "$cmd"
done < <(printf '%s\n' "$tour" | grep -E '^  (swaks|curl|ls|run/maildb) ')
check "README's tour has commands ($n)" test "$n" -ge 6
check_match "the message is in the mailbox" 'hello' "$("$RD/maildb" ls demo 2>&1)"

kill -INT "$demo"
for ((i = 0; i < 100; i++)); do kill -0 "$demo" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$demo" 2>/dev/null; then
	fail "run-demo stops on SIGINT (Ctrl-C)"
	kill -KILL -- "-$demo" 2>/dev/null
else
	pass "run-demo stops on SIGINT (Ctrl-C)"
fi
wait "$demo" 2>/dev/null
left=$(ss -Hltn "( sport = :${PORT[2525]} or sport = :${PORT[1110]} or sport = :${PORT[2465]} or sport = :${PORT[1995]} or sport = :${PORT[2587]} )" | wc -l)
check_eq "nothing listens on the demo ports afterwards" 0 "$left"
check_eq "no process of the demo is left" 0 "$(pgrep -f -- "$RD/" | wc -l)"
done_testing
