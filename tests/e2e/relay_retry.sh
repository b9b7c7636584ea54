#!/bin/bash
# relay_retry.sh - temporary failures stay queued and are retried, in a
# private network namespace (tests/lib/relay.sh), with queue_retry_min = 1s and
# queue_retry_max = 2s: a host answering 450 at RCPT, 451 at MAIL, 451
# after the data, and a host that refuses connections. The message stays
# in the queue (no bounce), the delay doubles up to the cap, a run before
# the retry time does not touch it, and once the host accepts, a run
# (`smtpd -q`, as the timer starts it) delivers it exactly once, byte for
# byte. After queue_lifetime the last try that fails again bounces it
# with Status 4.4.7 and the last error in the Diagnostic-Code. maildb queue
# flush / bounce drive the runner; a record whose file vanished is dropped
# with a loud log line.
. "$(dirname "$0")/../lib/relay.sh"

relay_start || { relay_logs; done_testing; }
LOG() { cat "$T"/ssa.*.log "$T/runner.log" 2>/dev/null; }

# send MARKER TO[,TO...]: alice submits on 587, then the kicked runner's
# try ends
send() {
	mkmsg "$1" "${2%%,*}"
	submit_swaks 587 "$1" alice@example.test "$2" ||
	    { fail "$1: submitted"; sed 's/^/#   /' "$T/swaks.$1.log" | tail -n 8; }
	# the kick's run: its first attempt is logged, then it lets go
	local i
	for ((i = 0; i < 100; i++)); do
		LOG | grep -q "to=<${2%%,*}> relay=.*attempts=1 " && break
		sleep 0.1
	done
	wait_runner_idle 20 || fail "$1: the kicked runner ended"
}

# ---- 450 at RCPT, then accepted ---------------------------------------------
send t450 tina@temp.test
check_eq "450 at RCPT: still queued, nothing delivered" "1 0" "$(queue_count) $(sink_count temp)"
check_match "450 at RCPT: logged as deferred with its reply" \
    'to=<tina@temp\.test> relay="mx\.temp\.test \[127\.0\.0\.3\]" .*attempts=1 dsn=4\.2\.0 status=deferred diag="450 4\.2\.0 <tina@temp\.test>' "$(LOG)"
check_match "450 at RCPT: next try in queue_retry_min (1 s)" 'pending=1 next_try=1$' "$(LOG)"
sleep 1.2
sink_mode temp ok
run_queue
check "the retry delivers it" wait_sink temp 1 5
sink_check "retried message: byte for byte" temp t450 alice@example.test tina@temp.test ESMTPSA
check_match "the retry was attempt 2" 'to=<tina@temp\.test> .*attempts=2 dsn=2\.0\.0 status=sent' "$(LOG)"
check_eq "queue empty, no bounce" "0 0" "$(queue_count) $(count_bounces alice t450)"

# ---- 450 for some recipients of a domain: one transaction per attempt ------
n0=$(sink_count remote)
send partial temp-a@remote.test,temp-b@remote.test,pat@remote.test
check_eq "partial 450: the accepted recipient got it, once" "$((n0 + 1))" "$(sink_count remote)"
sink_check "partial 450: byte for byte, to the accepted recipient only" remote partial \
    alice@example.test pat@remote.test ESMTPSA
check_eq "partial 450: one attempt (one verdict per recipient), not one per recipient" "1 1" \
    "$(LOG | grep -c 'to=<temp-a@remote\.test> .*attempts=1 .*status=deferred') $(LOG | grep -c 'to=<temp-b@remote\.test> .*attempts=1 .*status=deferred')"
check_eq "partial 450: still queued for the two others" 1 "$(queue_count)"
sleep 1.2; run_queue
check_match "partial 450: the retry is for the two pending only" \
    'to=<temp-b@remote\.test> .*attempts=2 .*status=deferred' "$(tail -n 12 "$T/runner.log")"
check_eq "partial 450: the delivered recipient is not sent again" "$((n0 + 1))" "$(sink_count remote)"
cw "$MAILDB" -f "$CONF" queue delete "$(ls "$T/queue/msg" | head -n 1)" >/dev/null 2>&1
check "partial 450: maildb queue delete empties the queue" wait_queue_empty 5

# ---- backoff: 1 s, then 2 s (doubled), then 2 s (queue_retry_max) --------------
# (times are whole seconds: "not due" is checked only where the margin is
# at least a second)
sink_mode temp temp
send backoff tom@temp.test
check_match "backoff: 1 s after the first try" 'pending=1 next_try=1$' \
    "$(LOG | grep -A1 'to=<tom@temp\.test> .*attempts=1 ' | tail -n 1)"
sleep 2.1; run_queue
check_match "backoff: 2 s after the second (doubled)" 'attempts=2 .*status=deferred' \
    "$(tail -n 8 "$T/runner.log")"
check_match "backoff: next try in 2 s" 'pending=1 next_try=2$' "$(tail -n 5 "$T/runner.log")"
run_queue
check_match "backoff: a run before the retry time leaves it alone" 'run ends messages=0' \
    "$(tail -n 3 "$T/runner.log")"
sleep 3.1; run_queue
check_match "backoff: the third try" 'attempts=3 .*status=deferred' "$(tail -n 8 "$T/runner.log")"
check_match "backoff: capped at queue_retry_max (2 s)" 'pending=1 next_try=2$' \
    "$(tail -n 5 "$T/runner.log")"

# ---- queue_lifetime: the last failed try bounces with 4.4.7 -------------------
sleep 3.1
run_queue -o queue_lifetime=3s
check "expired: a bounce for alice" wait_bounce alice backoff 10
dsn_check "expired: Status 4.4.7 with the last reply" alice backoff \
    'tom@temp.test=4.4.7=^X-inetmail; message expired after [0-9]+ seconds in queue: 450 4\.2\.0 <tom@temp\.test>'
check_eq "expired: gone from the queue, never delivered" "0 0" \
    "$(queue_count) $(grep -l backoff "$T"/sink/temp/*.eml 2>/dev/null | wc -l)"

# ---- 451 at MAIL and after the data -----------------------------------------------
for mode in mail-temp data-temp; do
	sink_mode temp "$mode"
	n0=$(sink_count temp)
	send "$mode" "$mode@temp.test"
	check_eq "$mode: still queued, nothing stored" "1 $n0" "$(queue_count) $(sink_count temp)"
	check_match "$mode: deferred with the 451" \
	    "to=<$mode@temp\\.test> .*dsn=4\\.3\\.0 status=deferred diag=\"451 4\\.3\\.0 " "$(LOG)"
	sink_mode temp ok
	sleep 1.2; run_queue
	wait_sink temp $((n0 + 1)) 5
	sink_check "$mode: then delivered once, byte for byte" temp "$mode" \
	    alice@example.test "$mode@temp.test" ESMTPSA
	check_eq "$mode: queue empty" 0 "$(queue_count)"
done

# ---- connection refused: deferred, then expired with the reason ---------------
send refused dan@dead.test
check_eq "connection refused: still queued" 1 "$(queue_count)"
check_match "connection refused: deferred 4.4.1" \
    'to=<dan@dead\.test> .*dsn=4\.4\.1 status=deferred diag=".*Connection refused' "$(LOG)"
sleep 2.1
run_queue -o queue_lifetime=2s
check "refused then expired: a bounce" wait_bounce alice refused 10
dsn_check "refused then expired: Status 4.4.7, the reason kept" alice refused \
    'dan@dead.test=4.4.7=message expired after .*Connection refused'
check "nothing left in the queue" wait_queue_empty 10

# ---- with maildb queue: flush retries now, bounce returns it (5.0.0) --------
sink_mode temp temp
send admin amy@temp.test
qid=$(ls "$T/queue/msg" 2>/dev/null | head -n 1)
out=$(cw "$MAILDB" -f "$CONF" queue list 2>&1)
check_match "maildb queue list shows it" "^$qid .*<alice@example\.test>" "$out"
check_match "maildb queue list: its recipient and the 450" 'amy@temp\.test.*450 4\.2\.0' "$out"
check_match "maildb queue list: attempt 1" 'attempts 1,' "$out"
# (maildb starts `smtpd -q` without -d: its log goes to syslog only)
cw "$MAILDB" -f "$CONF" queue flush >>"$T/runner.log" 2>&1
check_match "maildb queue flush: tried again at once (attempt 2)" 'attempts 2,' \
    "$(cw "$MAILDB" -f "$CONF" queue list 2>&1)"
cw "$MAILDB" -f "$CONF" queue bounce "$qid" >>"$T/runner.log" 2>&1
check "maildb queue bounce: a bounce for alice" wait_bounce alice admin 10
dsn_check "maildb queue bounce: Status 5.0.0" alice admin 'amy@temp.test=5.0.0'
check "maildb queue bounce: queue empty" wait_queue_empty 10

# ---- a record whose message file is gone: logged loudly and dropped ---------
send lostfile lou@temp.test
rm -f "$T"/queue/msg/*
sleep 1.2; run_queue
check_match "missing message file: logged" 'message file missing: record dropped' \
    "$(tail -n 5 "$T/runner.log")"
check_eq "missing message file: the record is gone" "" \
    "$(cw "$MAILDB" -f "$CONF" queue list 2>&1 | grep -i lou@temp)"

[ "$TESTS_FAILED" = 0 ] || relay_logs 60
done_testing
