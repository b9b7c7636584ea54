#!/bin/bash
# maildb_cmds.sh - every maildb subcommand on mailboxes filled through smtpd
# (swaks --pipe), checked against the files and against pop3d: users, ls
# (--json parsed by Python), show (--headers), stat (one user, all), dump,
# verify, reindex, rm, expire (--dry-run, refused during a POP3 session),
# help, and the owner/symlink refusals.
#
# maildb refuses a Maildir its account does not really own, so the daemons
# here run with real setuid (real root; nss_wrapper and pam_wrapper only,
# no uid_wrapper: under uid_wrapper every file belongs to the real uid).
. "$(dirname "$0")/../lib/lib.sh"
need db5.3-util util-linux swaks

real_owners "maildb subcommands"
send() {	# send USER SUBJECT BODY-MARKER
	cw swaks --pipe "$SMTPD -f $CONF" --from sender@x.test --to "$1@localhost" \
	    --header "Subject: $2" --body "body $3" >"$T/swaks.log" 2>&1 ||
	    { diag "swaks to $1 failed"; tail -n 5 "$T/swaks.log" | sed 's/^/#   /'; }
}
pop() {		# pop USER COMMANDS...: a POP3 session on stdin/stdout
	local u=$1; shift
	{ printf 'USER %s\r\nPASS secret\r\n' "$u"; printf '%s\r\n' "$@" QUIT; } |
	    timeout 20 env "${CWRAP_ENV[@]}" "$POP3D" -f "$CONF" 2>/dev/null | tr -d '\r'
}
cw "$MAILDB" -f "$CONF" newaliases >/dev/null

for i in 1 2 3; do send alice "hello alice $i" "A$i"; done
for i in 1 2; do send bob "hello bob $i" "B$i"; done
check_eq "alice has 3 messages" 3 "$(count_new alice)"
check_eq "bob has 2 messages" 2 "$(count_new bob)"
check "alice's Maildir belongs to alice" test "$(stat -c %u "$(maildir alice)/new")" = 1001

# help
out=$(md help); rc=$?
check_eq "help exits 0" 0 "$rc"
for c in users ls show stat verify reindex expire rm dump newaliases aliases apop; do
	check_match "help lists $c" "^  $c( |$)" "$out"
done
md frobnicate >/dev/null 2>&1; check_eq "unknown command exits 2" 2 "$?"

# users
out=$(md users)
# delivery does not index: nobody has read the mailbox, so no index yet
check_match "users: alice, 3 messages, index not built yet" '^alice +3 +[0-9]+ +20[0-9-]+T[0-9:]+Z +20[0-9-]+T[0-9:]+Z +none \(not built yet' "$out"
check_match "users: bob, 2 messages" '^bob +2 ' "$out"
if printf '%s\n' "$out" | grep -q '^carol'; then fail "users: carol (no Maildir) not listed"; else pass "users: carol (no Maildir) not listed"; fi
md users --json >"$T/users.json"
check "users --json parses, totals right" "$PY" -c '
import json, sys
u = {x["user"]: x for x in json.load(open(sys.argv[1]))}
assert set(u) == {"alice", "bob"}, u
assert u["alice"]["messages"] == 3 and u["bob"]["messages"] == 2, u
assert u["alice"]["index"] == "none" and u["alice"]["size"] > 0, u
assert u["alice"]["oldest"] <= u["alice"]["newest"], u
' "$T/users.json"

# ls
out=$(md ls alice)
check_eq "ls alice: header + 3 lines" 4 "$(printf '%s\n' "$out" | wc -l)"
check_match "ls alice shows the subject" 'hello alice 2' "$out"
md ls alice --json >"$T/ls.json"
check "ls --json: UIDLs are the unique parts of the files, subjects, sizes" "$PY" -c '
import json, os, re, sys
ls = json.load(open(sys.argv[1])); md = sys.argv[2]
files = {re.split(r"[,:]", f)[0]: f for f in os.listdir(md + "/new")}
assert [m["n"] for m in ls] == [1, 2, 3], ls
assert {m["uidl"] for m in ls} == set(files), (ls, files)
for m in ls:
    f = files[m["uidl"]]
    assert m["file"] == f and m["dir"] == "new"
    w = int(re.search(r",W=(\d+)", f).group(1))
    assert m["size"] == w, (m, f)
    assert m["subject"].startswith("hello alice"), m
' "$T/ls.json" "$(maildir alice)"
uidl2=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[1]["uidl"])' "$T/ls.json")

# show
out=$(md show alice 1)
check_match "show alice 1: the message" 'body A1' "$out"
out=$(md show alice "$uidl2" --headers)
check_match "show UIDL --headers: the header" '^Subject: hello alice 2' "$out"
if printf '%s' "$out" | grep -q 'body A2'; then fail "show --headers: no body"; else pass "show --headers: no body"; fi
md show alice 9 >/dev/null 2>&1; check_eq "show of a missing message exits 1" 1 "$?"

# stat
check_match "stat alice" '^alice: 3 messages, [0-9]+ octets$' "$(md stat alice)"
out=$(md stat)
check_match "stat (all): bob" '^bob: 2 messages' "$out"
check_match "stat (all): total" '^total: 5 messages, [0-9]+ octets in 2 mailboxes$' "$out"
check "stat --json (all) parses" "$PY" -c '
import json, sys
s = json.loads(sys.stdin.read())
assert s["messages"] == 5 and s["mailboxes"] == 2 and len(s["users"]) == 2, s
assert s["size"] == sum(u["size"] for u in s["users"]), s
' <<<"$(md stat --json)"

# dump, verify
check_eq "dump alice: 3 records" 3 "$(md dump alice | grep -c '^name=.* uidl=')"
check "verify alice: clean" md verify alice
check "verify (all): clean" md verify
check "the index agrees with the Maildir (db5.3_dump under the lock)" index_check alice
check "db5.3_verify under the lock, as maildb.8 shows" \
    flock "$(maildir alice)/inetmail/lock" db5.3_verify -h "$(maildir alice)/inetmail" index.db

# reindex keeps UIDLs
before=$(md ls alice --json | "$PY" -c 'import json,sys; print(" ".join(m["uidl"] for m in json.load(sys.stdin)))')
check_match "reindex alice" '^alice: 3 messages \(0 added, 0 removed, 0 updated\)' "$(md reindex alice)"
check_match "reindex --all" '^2 mailboxes, 0 with problems' "$(md reindex --all)"
after=$(md ls alice --json | "$PY" -c 'import json,sys; print(" ".join(m["uidl"] for m in json.load(sys.stdin)))')
check_eq "UIDLs unchanged by reindex" "$before" "$after"

# rm by number and by UIDL; pop3d agrees
out=$(md rm bob 1); rc=$?
check_eq "rm bob 1 exits 0" 0 "$rc"
check_eq "rm bob 1: one file left" 1 "$(count_new bob)"
buidl=$(md ls bob --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["uidl"])')
popu=$(pop bob UIDL | sed -n 's/^1 //p')
check_eq "pop3d serves bob's remaining message with the same UIDL" "$buidl" "$popu"
check "rm bob UIDL" md rm bob "$buidl"
check_eq "bob: no message left" 0 "$(count_new bob)"
check_match "stat bob: 0 messages" '^bob: 0 messages, 0 octets' "$(md stat bob)"
check "verify bob: clean after rm" md verify bob

# expire: an old message put in cur/ by hand (arrival from its name)
mda=$(maildir alice)
old="1000000000.M1P1Q1.old.test"
printf 'From: old@x.test\nSubject: ancient\n\nold body\n' >"$T/old"
sz=$(stat -c %s "$T/old"); w=$((sz + 4))
install -o 1001 -g 1001 -m 600 "$T/old" "$mda/cur/$old,S=$sz,W=$w:2,S"
out=$(md expire alice --older-than 30d --dry-run)
check_match "expire --dry-run names the old message" "would remove $old 2001-09-09" "$out"
check_match "expire --dry-run: 1 message" '^alice: 1 messages, [0-9]+ octets would be removed' "$out"
check_eq "expire --dry-run removes nothing" 1 "$(find "$mda/cur" -type f | wc -l)"
# refused while a POP3 session holds pop3.lock
flock "$mda/inetmail/pop3.lock" sleep 3 &
fpid=$!
sleep 0.3
out=$(md expire alice --older-than 30d 2>&1); rc=$?
check_eq "expire refused while pop3.lock is held" 1 "$rc"
check_match "expire says why" 'POP3 session is open' "$out"
md rm alice 1 >/dev/null 2>&1; check_eq "rm refused while pop3.lock is held" 1 "$?"
wait "$fpid"
out=$(md expire alice --older-than 30d)
check_match "expire removes the old message" '^alice: removed 1 messages' "$out"
check_eq "old file gone" 0 "$(find "$mda/cur" -type f | wc -l)"
check_eq "younger mail kept" 3 "$(count_new alice)"
md expire alice >/dev/null 2>&1; check_eq "expire without --older-than exits 2" 2 "$?"
check "verify alice after expire" md verify alice
popn=$(pop alice STAT | sed -n 's/^+OK \([0-9]*\) .*/\1/p' | tail -n 1)
check_eq "pop3d still serves alice's 3 messages" 3 "$popn"

# refusals: a Maildir not owned by the account; a Maildir that is a symlink
mkdir -p -m 700 "$(maildir carol)"/{new,cur,tmp}
out=$(md ls carol 2>&1); rc=$?
check_eq "ls carol (Maildir owned by root) refused" 1 "$rc"
check_match "the refusal names the owner" 'owned by uid 0, not 1003; refusing' "$out"
check_match "users shows carol refused" '^carol .* refused' "$(md users)"
rm -rf "$(maildir carol)"
ln -s "$(maildir alice)" "$(maildir carol)"
out=$(md verify carol 2>&1); rc=$?
check_eq "verify carol (Maildir is a symlink) refused" 1 "$rc"
check_match "symlinked Maildir: not followed" 'not a directory \(symlinks are not followed\)' "$out"
rm -f "$(maildir carol)"

[ "$TESTS_FAILED" = 0 ] || launcher_logs
done_testing
