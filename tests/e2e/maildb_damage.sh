#!/bin/bash
# maildb_damage.sh - a mailbox filled through smtpd, then damaged in every
# way an administrator meets: the index deleted, truncated, overwritten with
# garbage; a message file removed behind the index's back; files added by
# hand to new/ and cur/; a file's size changed; wrong owner and mode; a
# symlink planted in new/ pointing outside. Each time `maildb verify`
# reports it precisely (and exits 1), `maildb users` shows the index state,
# `maildb reindex` repairs what can be repaired, UIDLs of the messages that
# stayed are unchanged, and pop3d still serves the mail.
#
# Real root only (see maildb_cmds.sh): maildb checks real file owners.
. "$(dirname "$0")/../lib/lib.sh"
need db5.3-util swaks

real_owners "maildb damage tests"
send() {
	cw swaks --pipe "$SMTPD -f $CONF" --from sender@x.test --to "$1@localhost" \
	    --header "Subject: $2" --body "body $2" >"$T/swaks.log" 2>&1 ||
	    diag "swaks to $1 failed"
}
pop_uidls() {
	printf 'USER alice\r\nPASS secret\r\nUIDL\r\nQUIT\r\n' |
	    timeout 20 env "${CWRAP_ENV[@]}" "$POP3D" -f "$CONF" 2>/dev/null |
	    tr -d '\r' | awk '/^[0-9]+ /{print $2}' | sort | tr '\n' ' '
}
uidls() { md ls alice --json | "$PY" -c 'import json,sys; print(" ".join(sorted(m["uidl"] for m in json.load(sys.stdin))))'; }
state() { md users | awk '$1 == "alice" {print $6}'; }
MD=$(maildir alice)
IX=$MD/inetmail

for i in 1 2 3 4; do send alice "msg $i"; done
check_eq "4 messages delivered" 4 "$(count_new alice)"
check "clean to start with" md verify alice
U0=$(uidls)

# verify_reports WHAT REGEX: verify exits 1 and prints a line matching REGEX
verify_reports() {
	local out rc
	out=$(md verify alice 2>&1); rc=$?
	check_eq "$1: verify exits 1" 1 "$rc"
	check_match "$1: verify reports it" "$2" "$out"
}
# repaired WHAT [UIDLS]: reindex, then verify clean and UIDLs as expected
repaired() {
	local out
	out=$(md reindex alice 2>&1)
	check_match "$1: reindex" '^alice: [0-9]+ messages' "$out"
	check "$1: verify clean after reindex" md verify alice
	check_eq "$1: UIDLs unchanged" "${2:-$U0}" "$(uidls)"
	check "$1: index agrees (db5.3_dump)" index_check alice
}

# 1. index deleted
rm -f "$IX/index.db"
verify_reports "index deleted" "^missing-index $IX/index.db"
check_eq "index deleted: users says missing" missing "$(state)"
check "index deleted: verify did not recreate it" test ! -e "$IX/index.db"
repaired "index deleted"

# 2. index truncated
sz=$(stat -c %s "$IX/index.db")
truncate -s $((sz / 2 + 100)) "$IX/index.db"
verify_reports "index truncated" "^index-damaged $IX/index.db: Berkeley DB verify"
check_eq "index truncated: users says damaged" damaged "$(state)"
repaired "index truncated"
check "index truncated: the damaged copy was set aside" test -f "$IX/index.db.damaged"

# 3. garbage written into the index (over its second page)
dd if=/dev/urandom of="$IX/index.db" bs=4096 seek=1 count=1 conv=notrunc status=none
verify_reports "garbage in the index" "^index-damaged $IX/index.db"
check_eq "garbage: users says damaged" damaged "$(state)"
repaired "garbage in the index"
dd if=/dev/urandom of="$IX/index.db" bs=512 count=1 conv=notrunc status=none
verify_reports "garbage over the index's first page" "^index-damaged $IX/index.db"
repaired "garbage over the first page"

# 4. a message file removed behind the index's back
victim=$(ls "$MD/new" | head -n 1)
rm -f "$MD/new/$victim"
verify_reports "file removed" "^missing-file $MD/new/$victim \\(indexed, no file\\)"
check_eq "file removed: users says stale" stale "$(state)"
U1=$(for u in $U0; do [ "$u" = "${victim%%,*}" ] || echo "$u"; done | sort | tr '\n' ' ' | sed 's/ $//')
check_match "file removed: reindex drops its record" '\(0 added, 1 removed' "$(md reindex alice)"
check "file removed: verify clean" md verify alice
check_eq "file removed: other UIDLs unchanged" "$U1" "$(uidls)"

# 5. files added by hand to new/ and cur/ (a foreign MDA's names)
printf 'Subject: by hand new\n\nx\n' >"$MD/new/1700000000.hand1.host"
printf 'Subject: by hand cur\n\ny\n' >"$MD/cur/1700000001.hand2.host:2,S"
chown 1001:1001 "$MD/new/1700000000.hand1.host" "$MD/cur/1700000001.hand2.host:2,S"
chmod 600 "$MD/new/1700000000.hand1.host" "$MD/cur/1700000001.hand2.host:2,S"
out=$(md verify alice)
if printf '%s\n' "$out" | grep -q "new/1700000000.hand1.host"; then
	fail "hand-added new/ file not a problem (the next reader indexes new/)"
else
	pass "hand-added new/ file not a problem (the next reader indexes new/)"
fi
check_match "hand-added cur/ file reported" "^not-indexed $MD/cur/1700000001.hand2.host:2,S$" "$out"
check_match "hand-added files: reindex adds 2" '\(2 added, 0 removed' "$(md reindex alice)"
check "hand-added: verify clean" md verify alice
U2=$(printf '%s\n' $U1 1700000000.hand1.host 1700000001.hand2.host | sort | tr '\n' ' ' | sed 's/ $//')
check_eq "hand-added: UIDLs are their unique parts, others unchanged" "$U2" "$(uidls)"
check_match "hand-added: ls shows the subject" 'by hand cur' "$(md ls alice)"

# 6. a file's size changed
f=$(ls "$MD/new" | grep ',S=' | head -n 1)
echo "appended line" >>"$MD/new/$f"
out=$(md verify alice)
check_match "size changed: the name's S= disagrees" "^size-mismatch $MD/new/$f name S=" "$out"
check_match "size changed: the index disagrees" "^size-mismatch $MD/new/$f index=" "$out"
out=$(md reindex alice)
check_match "size changed: reindex updates the record" '1 updated\)' "$out"
check_match "size changed: reindex renames to the right S=/W=" "renamed new/$f to ${f%%,*},S=" "$out"
check "size changed: verify clean" md verify alice
check_eq "size changed: UIDLs unchanged" "$U2" "$(uidls)"
f2=$(ls "$MD/new" | grep "^${f%%,*},")
check_eq "size changed: new name carries the real size" "$(stat -c %s "$MD/new/$f2")" "$(echo "$f2" | sed 's/.*,S=\([0-9]*\).*/\1/')"

# 7. wrong owner and wrong mode of message files
g=$(ls "$MD/new" | grep ',S=' | tail -n 1)
chmod 644 "$MD/new/$g"
verify_reports "mode 0644" "^bad-mode $MD/new/$g mode=0644"
chmod 600 "$MD/new/$g"
chown 1002 "$MD/new/$g"
verify_reports "owned by bob" "^bad-owner $MD/new/$g uid=1002 \\(expected 1001\\)"
chown 1001 "$MD/new/$g"
check "owner and mode restored: clean" md verify alice

# 8. a symlink planted in new/ pointing outside: reported, never followed
echo "secret outside" >"$T/outside"
ln -s "$T/outside" "$MD/new/1700000002.link.host,S=15,W=16"
verify_reports "symlink in new/" "^symlink $MD/new/1700000002.link.host,S=15,W=16 -> $T/outside \\(not followed"
md reindex alice >/dev/null
if md ls alice | grep -q 'link.host'; then fail "symlink: never indexed"; else pass "symlink: never indexed"; fi
if md show alice 1700000002.link.host 2>/dev/null | grep -q 'secret outside'; then
	fail "symlink: show does not follow it"
else
	pass "symlink: show does not follow it"
fi
check_match "users: index ok despite the link (it is a Maildir problem)" '^ok$' "$(state)"
rm -f "$MD/new/1700000002.link.host,S=15,W=16"
check "symlink removed: clean" md verify alice

# pop3d serves exactly what the index lists
check_eq "pop3d serves the same UIDLs as maildb ls" "$U2 " "$(pop_uidls)"

[ "$TESTS_FAILED" = 0 ] || launcher_logs
done_testing
