#!/bin/bash
# tests/valgrind.sh - the golden protocol tests (tests/proto/run.py) with
# every daemon under valgrind memcheck: run.py honours INETMAIL_WRAP (a
# command prefix) and fails a case whose daemon exits with INETMAIL_WRAP_RC.
# valgrind follows the daemon's forks (session child, delivery children)
# and writes to the daemon's stderr (--log-fd=2, so the chrooted children
# still can), which run.py keeps in tests/out/proto/NAME.log; any "ERROR
# SUMMARY" with errors there is a failure too. Uses the normal build
# (INETMAIL_BUILD, default the top of the tree), not the ASan one.
#
#   tests/valgrind.sh [CASE...]       e.g. tests/valgrind.sh smtp_bdat
#
# Prints TAP lines (run.py's, then one per log check) and a summary;
# exit status 0 only when clean. Needs valgrind (apt-get install valgrind).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
export INETMAIL_BUILD=${INETMAIL_BUILD:-$TOP}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! command -v valgrind >/dev/null 2>&1; then
	echo "tests/valgrind.sh: valgrind not installed (apt-get install valgrind)" >&2
	exit 1
fi
case $INETMAIL_BUILD in */asan | */asan/) echo "tests/valgrind.sh: not with an ASan build" >&2; exit 1 ;; esac

export INETMAIL_WRAP_RC=99
export INETMAIL_WRAP="valgrind -q --tool=memcheck --error-exitcode=99 --log-fd=2 \
--track-fds=no --leak-check=no --num-callers=30 --child-silent-after-fork=no \
--suppressions=$TOP/tests/valgrind.supp"
OUT=$TOP/tests/out/proto
rm -f "$OUT"/*.log
rc=0
"$PY" "$TOP/tests/proto/run.py" "$@" || rc=1
# A report from any process (valgrind prints "==PID== " lines; with -q only
# for errors) in any case's daemon log.
n=0 bad=0
for f in "$OUT"/*.log; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	if grep -Eq '^==[0-9]+== ' "$f"; then
		bad=$((bad + 1))
		echo "not ok - valgrind report in ${f#"$TOP"/}"
		grep -E '^==[0-9]+== ' "$f" | head -n 40 | sed 's/^/#   /'
	fi
done
[ "$bad" = 0 ] && echo "ok - valgrind: no memcheck report in $n daemon logs"
[ "$bad" = 0 ] || rc=1
exit $rc
