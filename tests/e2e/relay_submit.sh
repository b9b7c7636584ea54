#!/bin/bash
# relay_submit.sh - submission to the world, end to end, in a private
# network namespace (tests/lib/relay.sh): alice authenticates on 587 (STARTTLS)
# and 465 (implicit TLS) with swaks, msmtp and Python smtplib and sends to
# bob@remote.test; smtpd queues the message and kicks the queue runner,
# which looks up the MX in the test DNS and delivers to the sink on
# 127.0.0.2 over STARTTLS: the sink must hold it byte for byte, as our
# Received: header ("with ESMTPSA") plus exactly what alice sent, with
# envelope <alice@example.test> -> <bob@remote.test>; nothing stays
# queued. Then one message to a local and several remote recipients in
# different domains (MX, a second domain on the same MX host, an implicit
# MX, a dead first MX with a working backup): one local copy, one
# transaction per domain, each byte for byte. An alias with a remote target
# forwards through the queue with the original sender. Twelve concurrent
# submissions, each kicking a runner: every message goes out exactly once
# without any other run.
. "$(dirname "$0")/../lib/relay.sh"
need msmtp

relay_start || { relay_logs; done_testing; }

n=0
# swaks, STARTTLS on 587 and implicit TLS on 465
for port in 587 465; do
	m=swaks-$port; mkmsg "$m"; n=$((n + 1))
	check "swaks on $port: 250 after AUTH" submit_swaks "$port" "$m" \
	    alice@example.test bob@remote.test
	wait_sink remote "$n" 20 || fail "swaks on $port: the sink got it within 20 s"
	sink_check "swaks on $port: delivered byte for byte with our Received:" \
	    remote "$m" alice@example.test bob@remote.test ESMTPSA
done

# msmtp, both ports
for port in 587 465; do
	m=msmtp-$port; mkmsg "$m"; n=$((n + 1))
	starttls=on; [ "$port" = 465 ] && starttls=off
	check "msmtp on $port" msmtp --host=127.0.0.1 --port="$port" --tls=on \
	    --tls-starttls="$starttls" --tls-trust-file="$T/pki/ca.pem" \
	    --domain=client.test --auth=plain --user=alice \
	    --passwordeval='echo secret' --from=alice@example.test \
	    bob@remote.test <"$T/msg/$m"
	wait_sink remote "$n" 20 || fail "msmtp on $port: the sink got it within 20 s"
	sink_check "msmtp on $port: delivered byte for byte with our Received:" \
	    remote "$m" alice@example.test bob@remote.test ESMTPSA
done

# Python smtplib: STARTTLS + login on 587, SMTP_SSL on 465
for port in 587 465; do
	m=smtplib-$port; mkmsg "$m"; n=$((n + 1))
	check "smtplib on $port" "$PY" - "$port" "$T/pki/ca.pem" "$T/msg/$m.crlf" <<'PYEOF'
import smtplib, ssl, sys
port, ca, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
if port == 465:
    s = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="client.test",
                         context=ctx, timeout=30)
else:
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=30)
    s.starttls(context=ctx)
s.login("alice", "secret")
refused = s.sendmail("alice@example.test", ["bob@remote.test"], open(path, "rb").read())
s.quit()
sys.exit(1 if refused else 0)
PYEOF
	wait_sink remote "$n" 20 || fail "smtplib on $port: the sink got it within 20 s"
	sink_check "smtplib on $port: delivered byte for byte with our Received:" \
	    remote "$m" alice@example.test bob@remote.test ESMTPSA
done
check "nothing left in the queue" wait_queue_empty 20

# A local recipient and four remote ones in four domains.
m=mix; mkmsg "$m"
check "mix: one message to bob@localhost and four remote domains" \
    submit_swaks 587 "$m" alice@example.test \
    bob@localhost,carol@remote.test,dave@other.test,erin@implicit.test,frank@backup.test
check_delivered "mix: the local copy, byte for byte" bob "$m" "$T/msg/$m" \
    alice@example.test client.test
n=$((n + 4))
wait_sink remote "$n" 30 || fail "mix: four transactions reached the sink within 30 s"
sink_check "mix: remote.test (MX)" remote "$m" alice@example.test carol@remote.test ESMTPSA
sink_check "mix: other.test (another domain, same MX host: its own transaction)" \
    remote "$m" alice@example.test dave@other.test ESMTPSA
sink_check "mix: implicit.test (no MX: its A record)" \
    remote "$m" alice@example.test erin@implicit.test ESMTPSA
sink_check "mix: backup.test (first MX dead, the second takes it)" \
    remote "$m" alice@example.test frank@backup.test ESMTPSA
check "mix: nothing left in the queue" wait_queue_empty 20
check_eq "mix: no bounce to alice" "" \
    "$(grep -l 'Undelivered Mail' "$(maildir alice)"/new/* 2>/dev/null)"
check_match "the runner logged status=sent with the relay" \
    'qid=[0-9A-Z]{20} .*to=<carol@remote\.test> relay="mx\.remote\.test \[127\.0\.0\.2\]".*status=sent' \
    "$(cat "$T"/ssa.*.log)"

# An alias with a remote target (and a local one), on the mx port without
# AUTH: the local copy at once, the remote one through the queue with the
# original envelope sender.
printf 'fwd: dave@remote.test, carol\n' >>"$T/aliases"
check "newaliases with a remote target" cw "$MAILDB" -f "$CONF" newaliases
m=alias; mkmsg "$m" fwd@example.test
n0=$(sink_count remote)
check "alias: accepted on port 25 from anyone (a local recipient)" \
    smtp_plain 25 sender@elsewhere.test fwd@example.test "$m"
check_delivered "alias: the local target's copy" carol "$m" "$T/msg/$m" \
    sender@elsewhere.test client.test
wait_sink remote $((n0 + 1)) 20 || fail "alias: the remote target got it within 20 s"
sink_check "alias: the remote target's copy, byte for byte, original sender" remote "$m" \
    sender@elsewhere.test dave@remote.test ESMTP

# Many kicks at once: each submission starts a runner, most find the lock
# busy and leave; the one at work must still pick up every message (it
# looks again before it ends). No `smtpd -q` by hand here.
# A real client retries a 454: under pam_wrapper (tests/lib/lib.sh) daemons
# that start at the same instant can collide on its config directory and
# answer AUTH with 454; real PAM has no such race, and this burst is about
# the runners, so such a submission is tried again (at most 3 times).
burst_submit() {
	local try
	for try in 1 2 3; do
		submit_swaks 587 "$1" alice@example.test "$2" && return 0
		grep -Eq ' 454 4\.7\.0 ' "$T/swaks.$1.log" || return 1
		echo "# $1: 454 at AUTH (try $try), again" >>"$T/burst.retries"
		sleep "0.$((RANDOM % 5 + 1))"
	done
	return 1
}
n0=$(sink_count remote)
pids=()
for i in $(seq 1 12); do
	mkmsg "burst$i"
	burst_submit "burst$i" "b$i@remote.test" &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
[ -s "$T/burst.retries" ] && cat "$T/burst.retries"
check_eq "burst: 12 concurrent submissions accepted" 0 "$bad"
wait_sink remote $((n0 + 12)) 30
check_eq "burst: all 12 delivered by the kicked runners alone" $((n0 + 12)) "$(sink_count remote)"
check "burst: nothing left in the queue" wait_queue_empty 10
missing=
for i in $(seq 1 12); do
	[ "$(grep -l "<burst$i@example.test>" "$T"/sink/remote/*.eml | wc -l)" = 1 ] || missing+=" $i"
done
check_eq "burst: each exactly once" "" "$missing"

# All or nothing: a local copy that fails (bob's Maildir unwritable) means
# 4xx for the message, and nothing queued or sent for its remote recipients.
wait_queue_empty 10
n0=$(sink_count remote)
chmod 000 "$(maildir bob)/tmp"
m=halfway; mkmsg "$m"
submit_swaks 587 "$m" alice@example.test bob@localhost,carol@remote.test
chmod 700 "$(maildir bob)/tmp"
check_match "a failed local copy: the message gets 451" '^<(~\*?|\*\*) +451 ' "$(cat "$T/swaks.$m.log")"
check_eq "a failed local copy: nothing queued" 0 "$(queue_count)"
sleep 1
check_eq "a failed local copy: nothing sent to the remote recipient" "$n0" "$(sink_count remote)"
check_eq "a failed local copy: no copy left for bob" "" \
    "$(grep -l "halfway" "$(maildir bob)"/new/* 2>/dev/null)"

# -q belongs to smtpd only
cw "$POP3D" -q -f "$CONF" >/dev/null 2>&1 </dev/null
check_eq "pop3d -q: a usage error (exit 2)" 2 "$?"

[ "$TESTS_FAILED" = 0 ] || relay_logs 60
done_testing
