#!/bin/bash
# maildb_queue.sh - `maildb queue list|show|flush|delete|bounce` on a relay
# queue filled through queue_add (tests/tools/qtool): the listing (text and
# --json parsed by Python), show (record and header, not the body), delete,
# flush and bounce (the record changes, then `smtpd -q` is started with
# maildb's -f/-o options: checked with a stand-in smtpd beside a copy of
# maildb; without one maildb says so and exits 1; with the real build only
# the announcement is checked: the runner is not under test here), usage
# errors, every file staying owned by unpriv_user, and a damaged store
# refused and left alone.
#
# The queue must really belong to unpriv_user (queue_open checks the owner),
# so this needs real root: nss_wrapper for the accounts, no uid_wrapper.
. "$(dirname "$0")/../lib/lib.sh"
need db5.3-util passwd

real_owners "maildb queue" \
    "needs real root: the queue's files must really be owned by unpriv_user (uid_wrapper does not change file owners)"
QTOOL=$B/tests/tools/qtool
QD=$T/spool/queue
U=990	# inetmail in tests/lib/lib.sh's passwd
# Nothing may leave this machine: a runner, if it runs, meets a closed port.
OPTS=(-f "$CONF" -o "queue_dir=$QD" -o "relay_host=[127.0.0.1]:9")
md() { cw "$MAILDB" "${OPTS[@]}" "$@"; }
q() { "$QTOOL" -u "$U:$U" "$@" 2>>"$T/qtool.log"; }
msg() { printf 'Received: from client by mx.test\nFrom: <%s>\nSubject: %s\nMessage-ID: <%s@x.test>\n\nbody of %s\n' "$1" "$2" "$2" "$2"; }

# an empty queue: made by maildb itself, owned by unpriv_user
out=$(md queue list 2>&1); rc=$?
check_eq "list on a new queue exits 0" 0 "$rc"
check_match "list on a new queue: empty" '^queue is empty$' "$out"
for d in "$QD" "$QD/msg" "$QD/tmp" "$QD/db"; do
	check_eq "${d#"$T"/} owned by unpriv_user, 0700" "$U 700" "$(stat -c '%u %a' "$d" 2>&1)"
done
md queue list --json >"$T/empty.json"
check "list --json on an empty queue: []" "$PY" -c '
import json, sys; assert json.load(open(sys.argv[1])) == []' "$T/empty.json"

# three messages through queue_add, as unpriv_user
IA=$(msg s@x.test "queued A" | q add "$QD" s@x.test a1@remote.test a2@other.test)
IB=$(msg "" "queued B" | q add "$QD" "" b@remote.test)
IC=$(msg c@x.test "queued C" | q add "$QD" c@x.test c@remote.test)
check "three messages queued" test -n "$IA" -a -n "$IB" -a -n "$IC"
q defer "$QD" "$IA" 3600 "421 4.4.1 mx.remote.test busy, try later"
check_eq "A deferred (attempts 1)" "attempts 1" "$(q get "$QD" "$IA" | grep '^attempts')"

# list
out=$(md queue list 2>&1); rc=$?
check_eq "list exits 0" 0 "$rc"
for id in "$IA" "$IB" "$IC"; do check_match "list shows $id" "^$id " "$out"; done
check_match "list: A's sender and size" "^$IA +[0-9]+s +[0-9]+ <s@x.test>$" "$out"
check_match "list: B's null sender" "^$IB .* <>$" "$out"
check_match "list: A's attempts and next try in about an hour" 'attempts 1, last try 20[0-9-]+T[0-9:]+Z, next try 20[0-9-]+T[0-9:]+Z \(in (59m|1h00m)\)' "$out"
check_match "list: A's recipients with state, status and last error" '^    pending a1@remote.test  4.4.1  mx.remote.test \[127.0.0.2\]: 421 4.4.1 mx.remote.test busy, try later$' "$out"
check_match "list: B due now, never tried" 'attempts 0, last try never, next try now' "$out"
check_match "list: the summary" '^-- 3 messages, [0-9]+ octets, 4 recipients pending$' "$out"
md queue list --json >"$T/list.json"
check "list --json: every field" "$PY" -c '
import json, sys
a, b, c = sys.argv[2:5]
l = {m["id"]: m for m in json.load(open(sys.argv[1]))}
assert set(l) == {a, b, c}, l
ma = l[a]
assert ma["sender"] == "s@x.test" and ma["attempts"] == 1 and ma["due"] is False, ma
assert ma["size"] > 50 and ma["age"] >= 0 and ma["arrival"].endswith("Z"), ma
assert ma["next_try"] > ma["last_try"], ma
r = ma["recipients"]
assert [x["address"] for x in r] == ["a1@remote.test", "a2@other.test"], r
assert all(x["state"] == "pending" and x["status"] == "4.4.1" for x in r), r
assert r[0]["diag"] == "421 4.4.1 mx.remote.test busy, try later", r
assert r[0]["remote"] == "mx.remote.test [127.0.0.2]", r
mb = l[b]
assert mb["sender"] == "" and mb["due"] is True and mb["next_try"] is None and mb["last_try"] is None, mb
' "$T/list.json" "$IA" "$IB" "$IC"
check "the ids are in order" "$PY" -c '
import json, sys
ids = [m["id"] for m in json.load(open(sys.argv[1]))]
assert ids == sorted(ids), ids' "$T/list.json"

# show
out=$(md queue show "$IA" 2>&1); rc=$?
check_eq "show exits 0" 0 "$rc"
check_match "show: the id" "^id: $IA$" "$out"
check_match "show: the sender" '^sender: <s@x.test>$' "$out"
check_match "show: attempts" '^attempts: 1$' "$out"
check_match "show: the recipients" '^    pending a2@other.test  4.4.1' "$out"
check_match "show: the header" '^Subject: queued A$' "$out"
check_match "show: our Received:" '^Received: from client by mx.test$' "$out"
if printf '%s\n' "$out" | grep -q 'body of'; then fail "show: not the body"; else pass "show: not the body"; fi
out=$(md queue show NOSUCHIDNOSUCHIDNOSU 2>&1); rc=$?
check_eq "show of an absent id exits 1" 1 "$rc"
check_match "show of an absent id says so" 'no such message' "$out"
out=$(md queue show ../../etc/passwd 2>&1); rc=$?
check_eq "show of a path exits 1" 1 "$rc"

# delete
out=$(md queue delete "$IC" 2>&1); rc=$?
check_eq "delete exits 0" 0 "$rc"
check_match "delete says so" "^$IC: deleted$" "$out"
check_eq "delete: the record is gone" absent "$(q get "$QD" "$IC")"
check "delete: the file is gone" test ! -e "$QD/msg/$IC"
out=$(md queue delete "$IC" 2>&1); rc=$?
check_eq "delete again exits 1" 1 "$rc"
check_match "delete again: no such message" 'no such message' "$out"

# flush and bounce with a stand-in smtpd beside a copy of maildb
mkdir -p "$T/bin" "$T/nosmtpd"
cp "$MAILDB" "$T/bin/maildb"
cp "$MAILDB" "$T/nosmtpd/maildb"
cat >"$T/bin/smtpd" <<EOF
#!/bin/sh
echo "\$@" > "$T/runner.args"
id -u > "$T/runner.uid"
echo "stand-in runner ran"
EOF
chmod 755 "$T/bin/smtpd"
out=$(cw "$T/bin/maildb" "${OPTS[@]}" queue flush "$IA" 2>&1); rc=$?
check_eq "flush ID exits with the runner's status (0)" 0 "$rc"
check_match "flush ID: A due now" "^$IA: due now$" "$out"
check_match "flush ID: announces the runner" "^starting the queue runner: $T/bin/smtpd -q$" "$out"
check_match "flush ID: the runner ran" '^stand-in runner ran$' "$out"
check_eq "flush ID: the runner got -q and maildb's -f/-o" "-q ${OPTS[*]}" "$(cat "$T/runner.args" 2>&1)"
check_eq "flush ID: the runner started as root" 0 "$(cat "$T/runner.uid" 2>&1)"
check_eq "flush ID: A's next_try is 0" "next_try 0" "$(q get "$QD" "$IA" | grep '^next_try')"
check_eq "flush ID: A's attempts kept" "attempts 1" "$(q get "$QD" "$IA" | grep '^attempts')"

q defer "$QD" "$IA" 3600 "421 4.4.1 again"
q defer "$QD" "$IB" 600 "421 4.4.1 later"
rm -f "$T/runner.args"
out=$(cw "$T/bin/maildb" "${OPTS[@]}" queue flush 2>&1); rc=$?
check_eq "flush (all) exits 0" 0 "$rc"
check_match "flush (all): two made due" '^2 messages made due now$' "$out"
check "flush (all): the runner started" test -s "$T/runner.args"
check_eq "flush (all): A due" "next_try 0" "$(q get "$QD" "$IA" | grep '^next_try')"
check_eq "flush (all): B due" "next_try 0" "$(q get "$QD" "$IB" | grep '^next_try')"

q defer "$QD" "$IB" 600 "421 4.4.1 later"
out=$(cw "$T/nosmtpd/maildb" "${OPTS[@]}" queue flush "$IB" 2>&1); rc=$?
check_eq "flush without an smtpd beside maildb exits 1" 1 "$rc"
check_match "flush without smtpd: says so" 'cannot start the queue runner: no smtpd beside' "$out"
check_eq "flush without smtpd: B made due all the same" "next_try 0" "$(q get "$QD" "$IB" | grep '^next_try')"

# bounce: one recipient already failed stays as it was
q defer "$QD" "$IA" 3600 "421 4.4.1 again"
rm -f "$T/runner.args"
out=$(cw "$T/bin/maildb" "${OPTS[@]}" queue bounce "$IA" 2>&1); rc=$?
check_eq "bounce exits 0" 0 "$rc"
check_match "bounce: two recipients failed" "^$IA: 2 recipients marked failed \(5.0.0\)$" "$out"
check "bounce: the runner started" test -s "$T/runner.args"
got=$(q get "$QD" "$IA")
check_match "bounce: a1 failed 5.0.0 by the administrator" '^rcpt a1@remote.test 2 5.0.0 bounced by the administrator$' "$got"
check_match "bounce: a2 failed 5.0.0 by the administrator" '^rcpt a2@other.test 2 5.0.0 bounced by the administrator$' "$got"
check_match "bounce: due now" '^next_try 0$' "$got"
out=$(md queue list 2>&1)
check_match "list after bounce: failed, diag shown" "^    failed  a1@remote.test  5.0.0 bounced by the administrator$" "$out"
out=$(cw "$T/nosmtpd/maildb" "${OPTS[@]}" queue bounce NOSUCHIDNOSUCHIDNOSU 2>&1); rc=$?
check_eq "bounce of an absent id exits 1" 1 "$rc"

# the real build: only that maildb announces the runner it starts (the
# runner itself is tested elsewhere); bounded, with no client on stdin
out=$(timeout 60 env "${CWRAP_ENV[@]}" "$MAILDB" "${OPTS[@]}" queue flush "$IB" </dev/null 2>&1); rc=$?
check_match "flush with the build's smtpd: announces it" "^starting the queue runner: $(realpath "$SMTPD") -q$" "$out"
check "flush with the build's smtpd: returned in bounded time" test "$rc" != 124

# usage
for args in "queue" "queue show" "queue list extra" "queue frob" "queue delete" "queue show --json $IA" "queue flush a b"; do
	# shellcheck disable=SC2086
	md $args >/dev/null 2>&1; rc=$?
	check_eq "maildb $args: usage, exit 2" 2 "$rc"
done
out=$(md help)
check_match "help lists queue" '^  queue list' "$out"

# every file still belongs to unpriv_user
n=$(find "$QD" ! -uid "$U" | wc -l)
check_eq "every file in queue_dir owned by unpriv_user" 0 "$n"
[ "$n" = 0 ] || find "$QD" ! -uid "$U" -printf '#   %u %p\n'

# a damaged store: refused, left as it was, messages kept
D2=$T/spool/damaged
cp -a "$QD" "$D2"
head -c 8192 /dev/urandom >"$D2/db/queue.db"
printf 'dirty\n' >"$D2/db/lock"
sum=$(md5sum <"$D2/db/queue.db")
files=$(ls "$D2/msg" | sort)
check "damaged store: holds messages" test -n "$files"
out=$(cw "$MAILDB" -f "$CONF" -o "queue_dir=$D2" queue list 2>&1); rc=$?
check_eq "damaged store: list exits 1" 1 "$rc"
check_match "damaged store: says it cannot open" 'cannot open' "$out"
check_eq "damaged store: queue.db left alone" "$sum" "$(md5sum <"$D2/db/queue.db")"
check_eq "damaged store: message files kept" "$files" "$(ls "$D2/msg" | sort)"

# files in db/ left to root (an admin's db5.3_recover): given back
chown -R 0:0 "$QD/db"
out=$(md queue list 2>&1); rc=$?
check_eq "db/ files owned by root: list still works" 0 "$rc"
check_eq "db/ files owned by root: given back to unpriv_user" 0 "$(find "$QD" ! -uid "$U" | wc -l)"

# ... but only through a descriptor checked first: a hard link (or a
# symbolic link) unpriv_user plants in db/ to a file of root's is left alone
printf 'root only\n' >"$T/rootfile"; chown 0:0 "$T/rootfile"
printf 'root only\n' >"$T/rootfile2"; chown 0:0 "$T/rootfile2"
ln "$T/rootfile" "$QD/db/__db.planted"
ln -s "$T/rootfile2" "$QD/db/__db.symlink"
out=$(md queue list 2>&1); rc=$?
check_eq "planted links in db/: list still works" 0 "$rc"
check_eq "a hard link in db/ to root's file: not chowned" "0:0" "$(stat -c %u:%g "$T/rootfile")"
check_eq "a symbolic link in db/ to root's file: not chowned" "0:0 0:0" \
    "$(stat -c %u:%g "$T/rootfile2") $(stat -c %u:%g "$QD/db/__db.symlink")"
rm -f "$QD/db/__db.planted" "$QD/db/__db.symlink"

done_testing
