#!/bin/bash
# delivery_fsync.sh - the order of a Maildir delivery, seen by strace: the
# message file in tmp/ is fsynced before it is linked into new/, and new/
# is fsynced after the link and before the 250 (smtpd(8) DELIVERY; a crash
# never loses an accepted message). Then an fsync that fails with EIO
# (strace's fault injection on the first fsync) gives a 4xx and leaves
# nothing in new/ or tmp/. smtpd runs on stdin/stdout (swaks --pipe) under
# strace -f, so the delivery child is traced too.
. "$(dirname "$0")/../lib/lib.sh"
need swaks strace

MD=$(maildir alice)
# TRACE=(strace ... -E VAR=...): the daemon gets the cwrap environment,
# strace itself does not.
TRACE=(strace -f -qq -y -e trace=fsync,fdatasync,link,linkat,rename,renameat,renameat2,openat)
for kv in "${CWRAP_ENV_NOPAM[@]}"; do TRACE+=(-E "$kv"); done

# deliver TRACEFILE MARKER [STRACE OPTIONS...]: one message to alice through
# smtpd under strace; prints swaks' transcript.
deliver() {
	local out=$1 marker=$2
	shift 2
	printf 'Subject: %s\n\n%s\n' "$marker" "$marker" >"$T/body.$marker"
	timeout 60 swaks --pipe "$(printf '%q ' "${TRACE[@]}" "$@" -o "$out" \
	    "$SMTPD" -d -f "$CONF")" --from sender@example.test --to alice@localhost \
	    --helo client.test --data "@$T/body.$marker" --suppress-data 2>&1
}
files() { find "$MD/$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# ---- 1. the order: fsync(file), link into new/, fsync(new/) ---------------
out=$(deliver "$T/trace.ok" ordered)
check_match "a delivery under strace is accepted (250)" '^<- +250 2\.0\.0' "$out"
check_eq "one message in new/" 1 "$(files new)"
# The syscalls of the delivery, one per line with the paths (-y), in order
# (strace -f writes them as they complete; one process does the delivery).
order=$(awk -v md="$MD" '
	/(^|[ ])(fsync|fdatasync)\(/ && index($0, md "/tmp/") { print "fsync-file"; next }
	/(^|[ ])(fsync|fdatasync)\(/ && index($0, md "/new>") { print "fsync-new"; next }
	/(^|[ ])(link|linkat|rename|renameat|renameat2)\(/ && index($0, md "/new>") && !/= -1/ { print "publish" }
' "$T/trace.ok" | tr '\n' ' ' | sed 's/ $//')
diag "the delivery's order: $order"
check_match "the file is fsynced before it is linked into new/" \
    '(^| )fsync-file( [^ ]*)* publish( |$)' "$order"
check_match "new/ is fsynced after the link" '(^| )publish( [^ ]*)* fsync-new( |$)' "$order"
[ "$(echo "$order" | wc -w)" -ge 3 ] ||
    grep -E 'fsync|link|rename' "$T/trace.ok" | head -n 20 | sed 's/^/# /'

# ---- 2. fsync fails with EIO: 4xx, nothing stored -------------------------
before=$(files new)
out=$(deliver "$T/trace.eio" eio -e inject=fsync:error=EIO:when=1)
check_match "an fsync failing with EIO: a temporary failure (4xx)" '^<(-|\*\*) +4[0-9][0-9] ' "$out"
check_match "... the failed fsync was the message file's" \
    "fsync\([0-9]+<$MD/tmp/[^>]*>\) += -1 EIO .*INJECTED" "$(cat "$T/trace.eio")"
check_eq "... nothing new in new/" "$before" "$(files new)"
check_eq "... nothing left in tmp/" 0 "$(files tmp)"
check "... no message carries the marker" sh -c "! grep -rqs '^eio$' '$MD/new' '$MD/cur'"

done_testing
