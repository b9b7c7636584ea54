#!/bin/bash
# maildb_concurrent.sh - `maildb reindex` while 10 deliveries run at once
# (smtpd under systemd-socket-activate, real swaks clients) and a POP3
# session is open: nothing lost, the index consistent afterwards, the POP3
# session unharmed, and rm/expire refused while it is open.
#
# Real root only (see maildb_cmds.sh): maildb checks real file owners.
. "$(dirname "$0")/../lib/lib.sh"
need systemd db5.3-util curl swaks

real_owners "maildb reindex under load"
MD=$(maildir alice)

SP=$(free_port); start_ssa "$SP" "$SMTPD" -f "$CONF" || fail "smtpd start"
PP=$(free_port); start_ssa "$PP" "$POP3D" -f "$CONF" || fail "pop3d start"
for i in 1 2 3; do
	swaks --server 127.0.0.1 --port "$SP" --from s@x.test --to alice@localhost \
	    --header "Subject: first $i" >/dev/null 2>&1 || diag "first delivery $i failed"
done
check_eq "3 messages to start" 3 "$(count_new alice)"

# A POP3 session that logs in, lists, then waits for $T/go before QUIT.
"$PY" - "$PP" "$T/go" >"$T/pop.out" 2>&1 <<'PYEOF' &
import os, poplib, sys, time
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=60)
p.user("alice"); p.pass_("secret")
before = p.uidl()[1]
for _ in range(600):
    if os.path.exists(sys.argv[2]): break
    time.sleep(0.05)
after = p.uidl()[1]
print("same" if before == after else "changed", len(before))
print(p.retr(1)[0][0].decode())
p.quit()
PYEOF
popper=$!
for _ in $(seq 100); do [ -s "$MD/inetmail/pop3.lock" ] || [ -e "$MD/inetmail/pop3.lock" ] && break; sleep 0.05; done
sleep 0.5

out=$(md rm alice 1 2>&1); rc=$?
check_eq "rm refused while the POP3 session is open" 1 "$rc"
check_match "rm says a POP3 session is open" 'POP3 session is open' "$out"
out=$(md expire --all --older-than 0s 2>&1); rc=$?
check_eq "expire --all refused while the POP3 session is open" 1 "$rc"

# 10 concurrent deliveries (5 messages each) while reindex runs in a loop.
N=10 PER=5
for c in $(seq $N); do
	(for k in $(seq $PER); do
		swaks --server 127.0.0.1 --port "$SP" --from s@x.test --to alice@localhost \
		    --header "Subject: load $c.$k" >/dev/null 2>&1 || echo "fail $c.$k"
	done) >"$T/client.$c" &
	clients+=($!)
done
reindexes=0 rbad=0
while :; do
	alive=0
	for p in "${clients[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
	md reindex alice >"$T/reindex.out" 2>&1 || { rbad=$((rbad + 1)); cat "$T/reindex.out"; }
	reindexes=$((reindexes + 1))
	[ "$alive" = 0 ] && break
done
wait "${clients[@]}"
diag "$reindexes reindex runs during the deliveries"
check_eq "every reindex succeeded" 0 "$rbad"
check_eq "every delivery acknowledged" 0 "$(cat "$T"/client.* | wc -l)"
touch "$T/go"
wait "$popper"
check_match "the POP3 session saw the same list throughout" '^same 3$' "$(cat "$T/pop.out")"

total=$((3 + N * PER))
files=$(find "$MD/new" "$MD/cur" -type f | wc -l)
check_eq "nothing lost: $total files" "$total" "$files"
check "index consistent (db5.3_dump under the lock)" index_check alice
check "maildb verify alice: clean" md verify alice
check_match "maildb stat agrees" "^alice: $total messages" "$(md stat alice)"
n=$(curl -s "pop3://127.0.0.1:$PP/" -u alice:secret | wc -l)
check_eq "pop3d lists all $total" "$total" "$n"

[ "$TESTS_FAILED" = 0 ] || launcher_logs
done_testing
