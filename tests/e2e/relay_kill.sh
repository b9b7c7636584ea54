#!/bin/bash
# relay_kill.sh - kill -9 of the queue runner in the middle of a delivery,
# in a private network namespace (tests/lib/relay.sh). The sink on mx.slow.test
# is made slow at the moment that matters, and the runner is killed there:
#   - after the sink has stored the message but before its 250 (the worst
#     case: the remote host has it, we cannot know): the next run sends it
#     again, so the sink ends with two identical copies: one extra, never
#     more;
#   - while the sink holds the complete data but has not stored it: one
#     copy, or two had it stored after all, never zero;
#   - while a RCPT waits for its answer (no data sent yet): exactly one
#     copy after the next run;
#   - the whole runner (its root half too, the process group) during the
#     data: the same.
# After each kill the queue store opens cleanly, the lock is free, and a
# run (as the timer starts it) delivers; nothing is left queued.
. "$(dirname "$0")/../lib/relay.sh"

relay_start || { relay_logs; done_testing; }

# worker_pid: the process holding runner.lock (it writes its pid there).
worker_pid() { tr -dc 0-9 <"$T/queue/runner.lock" 2>/dev/null; }
# wait_file PATH [SECONDS]
wait_file() {
	local i n=$(( ${2:-10} * 20 ))
	for ((i = 0; i < n; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
copies() { grep -l "<$1@example.test>" "$T"/sink/slow/*.eml 2>/dev/null | wc -l; }

# kill_case NAME MODE FILE HOW MIN MAX: submit with the sink in MODE, wait
# for FILE (the sink is stuck where we want), kill -9 (HOW = worker|group),
# then let the sink answer normally and run the queue once.
kill_case() {
	local name=$1 mode=$2 file=$3 how=$4 min=$5 max=$6 pid pgid
	rm -f "$T/sink/slow/rcpt-started" "$T"/sink/slow/data-started.*
	sink_mode slow "$mode"
	mkmsg "$name" "$name@slow.test"
	submit_swaks 587 "$name" alice@example.test "$name@slow.test" ||
	    fail "$name: submitted"
	if ! wait_file "$T/sink/slow/$file" 20; then
		fail "$name: the runner reached the slow point"
		return
	fi
	pid=$(worker_pid)
	if [ -z "$pid" ] || ! runner_busy; then
		fail "$name: a runner holds the lock"
		return
	fi
	if [ "$how" = group ]; then
		pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
		check "$name: kill -9 the runner's process group ($pgid)" kill -KILL -- "-$pgid"
	else
		check "$name: kill -9 the runner's worker ($pid)" kill -KILL "$pid"
	fi
	wait_runner_idle 10 || fail "$name: the lock is free after the kill"
	check_eq "$name: still queued after the kill" 1 "$(queue_count)"
	# the sink finishes what it was doing (storing, or not), then is fast
	sink_mode slow ok
	sleep 4.5
	run_queue
	check "$name: the run after the kill ends with an empty queue" wait_queue_empty 10
	local c
	c=$(copies "$name")
	if [ "$c" -ge "$min" ] && [ "$c" -le "$max" ]; then
		pass "$name: $c copies at the sink (between $min and $max)"
	else
		fail "$name: $c copies at the sink, expected between $min and $max"
	fi
	[ "$c" -ge 1 ] && sink_check "$name: byte for byte (every copy)" slow \
	    "$name" alice@example.test "$name@slow.test" ESMTPSA "$c"
	check_eq "$name: no bounce" 0 "$(count_bounces alice "$name")"
}

kill_case killack slowack=4 data-started.1 worker 2 2
n=$(( $(sink_count slow) + 1 ))
kill_case killdata slow=4 "data-started.$n" worker 1 2
kill_case killrcpt slowrcpt=4 rcpt-started worker 1 1
n=$(( $(sink_count slow) + 1 ))
kill_case killgroup slow=4 "data-started.$n" group 1 2

# The queue store is intact: one more message goes straight through.
mkmsg after after@slow.test
check "after the kills: a new message is accepted" \
    submit_swaks 587 after alice@example.test after@slow.test
n=$(( $(sink_count slow) + 1 ))
check "after the kills: delivered by the kicked runner" wait_sink slow "$n" 20
sink_check "after the kills: byte for byte" slow after alice@example.test after@slow.test ESMTPSA
check "after the kills: nothing left in the queue" wait_queue_empty 10

[ "$TESTS_FAILED" = 0 ] || relay_logs 60
done_testing
