#!/bin/bash
# index_kill.sh - durability of Maildir delivery and of the Berkeley DB index
# under kill -9 (DESIGN.md: "kill -9 at any instant never loses an
# acknowledged message, never leaves the index unusable, and never makes the
# next process hang"), then 20 concurrent writers into one mailbox.
#
# Uses tests/tools/idxtool from $INETMAIL_BUILD (default: the repo root).
# Bounded: killing goes on until KILLS_MIN kills (default 400), for at most
# KILL_SECONDS (default 300: the count is the goal, the time only a bound,
# so a slow machine takes longer instead of failing); every later step
# under timeout(1). Needs no root. Exit 0 on pass; each failure is printed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${INETMAIL_BUILD:-$ROOT}
T=$B/tests/tools/idxtool
KILLS_MIN=${KILLS_MIN:-400}
KILL_SECONDS=${KILL_SECONDS:-300}
SLOTS=5			# 4 delivering writers + 1 slot running full syncs
fail=0

bad() { echo "FAIL: $*"; fail=1; }
say() { echo "index_kill: $*"; }

PACKAGES_CALLER=index_kill.sh "$ROOT/tests/packages" need db5.3-util util-linux || exit 1
[ -x "$T" ] || { echo "FAIL: no $T (make)"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/index_kill.XXXXXX") || exit 1
declare -a pids=()
cleanup() {
	for p in "${pids[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
	{ wait; } 2>/dev/null
	if [ $fail = 0 ]; then rm -rf "$W"; else echo "index_kill: left $W"; fi
}
trap cleanup EXIT

# check MAILDIR ACKLOG LABEL: acknowledged messages, files and index agree.
check() {
	local md=$1 ack=$2 label=$3 out n
	# each new/ file complete: its size is its S=
	n=$(find "$md/new" -type f -printf '%f %s\n' | awk '
		{ split($1, f, ",S="); split(f[2], g, /[,:]/)
		  if (g[1] != $2) { print "size " $2 " != S= in " $1 > "/dev/stderr"; bad++ } }
		END { print bad + 0 }')
	[ "$n" = 0 ] || bad "$label: $n file(s) in new/ whose size is not S="
	# unique parts are unique
	n=$(find "$md/new" "$md/cur" -type f -printf '%f\n' | sed 's/[,:].*//' | sort | uniq -d | wc -l)
	[ "$n" = 0 ] || bad "$label: $n unique part(s) present twice"
	# acknowledged: each once in the log, each present in new/
	n=$(sort "$ack" | uniq -d | wc -l)
	[ "$n" = 0 ] || bad "$label: $n name(s) acknowledged twice"
	find "$md/new" -type f -printf '%f\n' | sort > "$W/files"
	sort -u "$ack" > "$W/acked"
	n=$(comm -23 "$W/acked" "$W/files" | wc -l)
	[ "$n" = 0 ] || bad "$label: $n acknowledged message(s) missing from new/"
	# the next open does not hang; index before any sync
	if ! out=$(timeout 30 "$T" open "$md"); then
		bad "$label: idx_open after the kills failed or hung"
	else
		say "$label: first open after the kills: $out"
	fi
	if ! timeout 30 "$T" list "$md" > "$W/list"; then
		bad "$label: idx_iter failed or hung"
	fi
	awk '{ print $3 }' "$W/list" | sort > "$W/indexed"
	n=$(comm -23 "$W/acked" "$W/indexed" | wc -l)
	[ "$n" = 0 ] || bad "$label: $n acknowledged message(s) missing from the index (lost commits)"
	n=$(comm -13 "$W/files" "$W/indexed" | wc -l)
	[ "$n" = 0 ] || bad "$label: $n index record(s) without a file"
	n=$(sort "$W/indexed" | uniq -d | wc -l)
	[ "$n" = 0 ] || bad "$label: $n duplicate record(s) in the index"
	# full sync: index count equals the file count
	if ! out=$(timeout 60 "$T" sync "$md" full); then
		bad "$label: idx_sync failed or hung"
	else
		files=$(find "$md/new" "$md/cur" -type f ! -name '.*' | wc -l)
		count=$(echo "$out" | sed -n 's/.*count=\([0-9]*\).*/\1/p')
		say "$label: sync: $out; files=$files"
		[ "$count" = "$files" ] || bad "$label: index count $count != $files files"
	fi
	if ! timeout 60 flock "$md/inetmail/lock" db5.3_verify -h "$md/inetmail" index.db >"$W/verify" 2>&1; then
		bad "$label: db5.3_verify failed: $(tr '\n' ' ' < "$W/verify")"
	fi
}

# ---- 1. writers killed with -9 at random moments ----
MD=$W/Maildir
ACK=$W/ack
: > "$ACK"
mkdir -p "$MD/tmp" "$MD/new" "$MD/cur"
start() {
	if [ "$1" = 0 ]; then
		"$T" sync "$MD" full >/dev/null 2>>"$W/err" &
	else
		"$T" deliver "$MD" 1000000 "$ACK" 2>>"$W/err" &
	fi
	pids[$1]=$!
}
for ((i = 0; i < SLOTS; i++)); do start $i; done
kills=0 errors=0
t_end=$((SECONDS + KILL_SECONDS))
while [ $kills -lt $KILLS_MIN ] && [ $SECONDS -lt $t_end ]; do
	sleep "0.0$((RANDOM % 30))"
	i=$((RANDOM % SLOTS))
	kill -9 "${pids[$i]}" 2>/dev/null
	{ wait "${pids[$i]}"; } 2>/dev/null
	st=$?
	if [ $st = 137 ]; then
		kills=$((kills + 1))
	elif [ $st != 0 ]; then
		errors=$((errors + 1))
	fi
	start $i
done
for ((i = 0; i < SLOTS; i++)); do
	kill -9 "${pids[$i]}" 2>/dev/null
	{ wait "${pids[$i]}"; } 2>/dev/null
	[ $? = 137 ] && kills=$((kills + 1))
	pids[$i]=
done
say "kill loop: $kills kills in $((SECONDS - t_end + KILL_SECONDS)) s," \
    "$(wc -l < "$ACK") acknowledged, $(find "$MD/new" -type f | wc -l) in new/," \
    "$(find "$MD/tmp" -type f | wc -l) tmp leftover(s) from killed writers"
[ $kills -ge $KILLS_MIN ] || bad "only $kills kills (want $KILLS_MIN)"
[ $errors = 0 ] || bad "$errors process(es) failed on their own: $(sort -u "$W/err" | head -5)"
check "$MD" "$ACK" "kill"

# recovery cost: kill a writer mid-stream, time the next open
ms=""
for ((i = 0; i < 10; i++)); do
	"$T" deliver "$MD" 1000000 "$W/ack2" 2>/dev/null &
	pids[0]=$!
	sleep "0.$((RANDOM % 3 + 1))"
	kill -9 "${pids[0]}"; { wait "${pids[0]}"; } 2>/dev/null; pids[0]=
	ms="$ms $(timeout 30 "$T" open "$MD" | sed 's/open_ms=//')"
done
say "open after a kill (recovery + verify), ms:$ms"

# ---- 2. 20 concurrent writers x 50 messages ----
MD=$W/Concurrent
ACK=$W/ack.concurrent
: > "$ACK"
for ((i = 0; i < 20; i++)); do
	timeout 120 "$T" deliver "$MD" 50 "$ACK" 2>>"$W/err2" &
	pids[$i]=$!
done
cfail=0
for ((i = 0; i < 20; i++)); do
	wait "${pids[$i]}" || cfail=$((cfail + 1))
	pids[$i]=
done
[ $cfail = 0 ] || bad "concurrent: $cfail writer(s) failed: $(sort -u "$W/err2" | head -5)"
n=$(wc -l < "$ACK")
[ "$n" = 1000 ] || bad "concurrent: $n acknowledged, want 1000"
n=$(timeout 30 "$T" count "$MD" | awk '{ print $1 }')
[ "$n" = 1000 ] || bad "concurrent: index count $n before any sync, want 1000"
check "$MD" "$ACK" "concurrent"
n=$(find "$MD/new" -type f | wc -l)
[ "$n" = 1000 ] || bad "concurrent: $n files in new/, want 1000"

[ $fail = 0 ] && say "PASS"
exit $fail
