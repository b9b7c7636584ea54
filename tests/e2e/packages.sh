#!/bin/bash
# packages.sh - PACKAGES is the one list of Debian packages and
# tests/packages its one reader: a missing or incapable package is named
# at once with the exact apt-get line, a non-root install stops with that
# line instead of trying, unknown names and groups are errors, and no other
# file of the tree carries a list of its own.
. "$(dirname "$0")/../lib/lib.sh"
PK=$TOP/tests/packages

# A list where one package "works" and one does not.
cat >"$T/list" <<'EOL'
# test list
build  present-pkg     true
build  absent-pkg      false
test   other-pkg       command -v no-such-command-here
EOL
out=$(PACKAGES_FILE=$T/list "$PK" check build 2>&1); rc=$?
check_eq "check: exit 1 when one is missing" 1 "$rc"
check_eq "check: one line" 1 "$(printf '%s\n' "$out" | wc -l)"
check_match "check: names the package and the apt-get line" \
    'missing Debian packages: absent-pkg; .*apt-get install --no-install-recommends absent-pkg$' "$out"
out=$(PACKAGES_FILE=$T/list "$PK" check build test 2>&1)
check_match "check: every missing one, in list order" 'missing Debian packages: absent-pkg other-pkg;' "$out"
check_eq "list: the names of a group" "present-pkg absent-pkg" "$(PACKAGES_FILE=$T/list "$PK" list build)"
PACKAGES_FILE=$T/list "$PK" need present-pkg
check_eq "need: a present package passes" 0 $?
out=$(PACKAGES_FILE=$T/list "$PK" need present-pkg other-pkg 2>&1); rc=$?
check_eq "need: a missing one fails" 1 "$rc"
check_match "need: names only what is missing" 'missing Debian packages: other-pkg;' "$out"
PACKAGES_FILE=$T/list "$PK" need no-such-pkg >/dev/null 2>&1
check_eq "need: a name not in the list is an error (2)" 2 $?
PACKAGES_FILE=$T/list "$PK" check bogus >/dev/null 2>&1
check_eq "check: an unknown group is an error (2)" 2 $?

# Not root: install names the command and installs nothing.
if [ "$REAL_UID" = 0 ] && have setpriv; then
	out=$(PACKAGES_FILE=$T/list setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$PK" install build 2>&1); rc=$?
	check_eq "install as another user: exit 1" 1 "$rc"
	check_match "install as another user: as root run: apt-get update && apt-get install ..." \
	    'as root run: apt-get update && apt-get install --no-install-recommends absent-pkg$' "$out"
	check_eq "install as another user: nothing attempted" "" "$(grep -i installing <<<"$out")"
fi

# A test file's `need` fails in its first second, with the reason.
cat >"$T/needy.sh" <<EOS
. "$TOP/tests/lib/lib.sh"
need present-pkg absent-pkg
pass "never reached"
done_testing
EOS
t0=$(date +%s%N)
out=$(PACKAGES_FILE=$T/list INETMAIL_LIB_SOURCED= INETMAIL_T=$T/needy bash "$T/needy.sh" 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check_eq "a test's need: exit 1" 1 "$rc"
check_match "a test's need: not ok with the apt-get line" '^not ok 1 - .*apt-get install --no-install-recommends absent-pkg$' "$out"
check_eq "a test's need: stops there" "" "$(grep 'never reached' <<<"$out")"
diag "need failed after ${ms} ms"

# The real list: well formed, every group known, no package twice, and
# every package of it exists for this machine's apt (when apt has lists).
bad=$(awk '!/^[ \t]*(#|$)/ && (NF < 3 || $1 !~ /^(build|run|demo|test|ci)$/)' "$TOP/PACKAGES")
check_eq "PACKAGES: every line is GROUP PACKAGE CHECK" "" "$bad"
check_eq "PACKAGES: no package twice" "" "$(awk '!/^[ \t]*(#|$)/ {print $2}' "$TOP/PACKAGES" | sort | uniq -d)"
check "the real list is complete on this machine (make check installed it)" "$PK" check build run demo test

# One list: no other file installs packages by name.
others=$(cd "$TOP" && git ls-files 2>/dev/null | grep -v -e '^PACKAGES$' -e '^tests/packages$' -e '^bench/' -e '^INSTALL$' -e '^tests/e2e/packages\.sh$' |
    xargs grep -ln 'apt-get install -y' 2>/dev/null)
check_eq "no second install list (apt-get install -y only in tests/packages)" "" "$others"

done_testing
