#!/bin/bash
# smtp_demo.sh - `make run` (tests/run-demo) works: it starts on the given
# loopback ports, swaks delivers to the demo user, pop3d (when built)
# answers, and SIGTERM leaves nothing running and nothing listening.
. "$(dirname "$0")/../lib/lib.sh"
need curl swaks libnet-ssleay-perl libio-socket-ssl-perl

[ -x "$SMTPD" ] || { fail "smtpd is built ($SMTPD)"; done_testing; }
sp=$(free_port) pp=$(free_port)
RD=$T/demo-run
SMTP_PORT=$sp POP3_PORT=$pp INETMAIL_RUN_DIR=$RD INETMAIL_BUILD=$B \
    setsid "$TOP/tests/run-demo" >"$T/demo.out" 2>&1 </dev/null &
demo=$!
if wait_port "$sp" 20; then
	pass "run-demo listens on $sp"
else
	fail "run-demo listens on $sp"
	sed 's/^/#   /' "$T/demo.out"
fi
[ -x "$POP3D" ] && { wait_port "$pp" 10 && pass "run-demo pop3d listens on $pp" || fail "run-demo pop3d listens on $pp"; }
sleep 0.5	# the banner is printed after the listeners are up
check_match "run-demo prints the user and password" 'user +demo +password +[A-Za-z0-9]+' "$(cat "$T/demo.out")"
check_match "run-demo prints a swaks command" "swaks --server 127.0.0.1:$sp " "$(cat "$T/demo.out")"
pw=$(cat "$RD/password" 2>/dev/null)
check "swaks delivers to demo@localhost" swaks --server "127.0.0.1:$sp" \
    --from you@example.net --to demo@localhost --header "Subject: demo test"
n=$(find "$RD/home/demo/Maildir/new" -type f 2>/dev/null | wc -l)
check_eq "the message is in run/home/demo/Maildir/new" 1 "$n"
if [ -x "$POP3D" ]; then
	out=$(curl -sS --max-time 20 -u "demo:$pw" "pop3://127.0.0.1:$pp/" 2>&1)
	check_match "curl pop3 lists the message with the printed password" '^1 [0-9]+' "$out"
fi
kill -TERM "$demo"
for ((i = 0; i < 100; i++)); do kill -0 "$demo" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$demo" 2>/dev/null; then
	fail "run-demo exits on SIGTERM"
	kill -KILL -- "-$demo" 2>/dev/null
else
	pass "run-demo exits on SIGTERM"
fi
wait "$demo" 2>/dev/null
left=$(ss -Hltn "( sport = :$sp or sport = :$pp )" | wc -l)
check_eq "nothing listens on the demo ports afterwards" 0 "$left"
procs=$(pgrep -f -- "$RD/" | wc -l)
check_eq "no process of the demo is left" 0 "$procs"
done_testing
