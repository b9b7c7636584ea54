#!/bin/bash
# smtp_concurrency.sh - 20 concurrent senders, 1000 messages to one mailbox
# through systemd-socket-activate (smtp-source -s 20 -m 1000). Afterwards:
# exactly 1000 files in alice's Maildir/new, every message distinct (each
# smtp-source message has its own Message-Id), nothing left in tmp/, and the
# index agrees with the files (db5.3_dump under the index lock; maildb verify
# and stat when maildb has them).
# No PAM here, and pam_wrapper breaks when many processes start at once
# (see CWRAP_PAM in tests/lib/lib.sh).
export CWRAP_PAM=0
. "$(dirname "$0")/../lib/lib.sh"
need systemd db5.3-util postfix

N=${CONCURRENCY_MESSAGES:-1000}
S=${CONCURRENCY_SESSIONS:-20}
if [ ! -x "$SMTPD" ]; then
	fail "smtpd is built ($SMTPD)"
	done_testing
fi

port=$(free_port)
start_ssa "$port" "$SMTPD" -f "$CONF" || fail "ssa listening on $port"
t0=$(date +%s%N)
# -C: retry a refused connect (listen queue full) instead of giving up.
if timeout 600 smtp-source -C 5 -s "$S" -m "$N" -l 2048 -M client.test \
    -f sender@example.org -t alice@localhost "127.0.0.1:$port" >"$T/source.out" 2>&1; then
	pass "smtp-source -s $S -m $N finished without errors"
else
	fail "smtp-source -s $S -m $N (exit $?)"
	tail -n 20 "$T/source.out" | sed 's/^/#   /'
fi
t1=$(date +%s%N)
diag "$N messages in $(( (t1 - t0) / 1000000 )) ms"
# smtp-source ends when the last 250 arrived; the sessions may still be
# finishing their QUIT. Wait for the count to settle (bounded).
wait_count alice "$N" 30
sleep 0.5
stop_launchers

check_eq "exactly $N messages in alice's Maildir/new" "$N" "$(count_new alice)"
check_eq "nothing left in alice's Maildir/tmp" 0 \
    "$(find "$(maildir alice)/tmp" -type f 2>/dev/null | wc -l)"
dups=$(cat "$(maildir alice)"/new/* 2>/dev/null | grep -i '^Message-Id:' | sort | uniq -d | wc -l)
ids=$(cat "$(maildir alice)"/new/* 2>/dev/null | grep -ic '^Message-Id:')
check_eq "every message has a Message-Id" "$N" "$ids"
check_eq "no Message-Id occurs twice (no duplicates)" 0 "$dups"
check "a reader builds the index (maildb ls)" index_read alice
check "the index agrees with the Maildir (db5.3_dump under the lock)" index_check alice

# maildb's own view, when it has the subcommands.
out=$(cw "$MAILDB" -f "$CONF" stat alice 2>&1); rc=$?
if [ "$rc" = 0 ]; then
	check_match "maildb stat alice reports $N messages" "(^|[^0-9])$N([^0-9]|$)" "$out"
	check "maildb verify alice" cw "$MAILDB" -f "$CONF" verify alice
elif [ ! -x "$MAILDB" ] || printf '%s' "$out" | grep -Eqi 'usage:|unknown command|not implemented'; then
	skip "maildb stat/verify alice" "maildb has no 'stat' subcommand yet (exit $rc)"
else
	fail "maildb stat alice (exit $rc)"
	printf '%s\n' "$out" | head -n 5 | sed 's/^/#   /'
fi

[ "$TESTS_FAILED" = 0 ] || launcher_logs 10
done_testing
