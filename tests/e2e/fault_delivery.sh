#!/bin/bash
# fault_delivery.sh - delivery faults: a full disk (a small tmpfs as the
# Maildir: 452 4.3.1, no partial message anywhere, the index unharmed and
# usable), a read-only Maildir (a read-only bind mount: 4xx, nothing
# stored), a symlink planted at tmp/ or new/ (never followed: 4xx, nothing
# written where it points), and the index replaced by garbage (rebuilt;
# pop3d still serves every message). Runs in a private mount namespace
# (unshare -m), so it needs real root; otherwise every check is skipped with
# the reason. Daemons run under systemd-socket-activate on loopback.
set -u
if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
	echo "ok 1 - delivery faults # SKIP needs real root and unshare -m (mounts a tmpfs)"
	echo "# 1 tests, 0 failed, 1 skipped"
	exit 0
fi
if [ -z "${FAULT_IN_NS:-}" ]; then
	exec unshare -m --propagation private env FAULT_IN_NS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/../lib/lib.sh"
need systemd util-linux curl swaks

SP=$(free_port); PP=$(free_port)
start_ssa "$SP" "$SMTPD" -f "$CONF" || fail "smtpd listens"
start_ssa "$PP" "$POP3D" -f "$CONF" || fail "pop3d listens"
MD=$(maildir alice)
N=0

# send MARKER [SIZE_KB]: one message to alice; prints swaks' transcript.
send() {
	local f=$T/body.$1
	printf 'Subject: %s\n\n%s\n' "$1" "$1" >"$f"
	if [ "${2:-0}" -gt 0 ]; then
		head -c $(( $2 * 1024 )) /dev/zero | tr '\0' 'x' | fold -w 76 >>"$f"
	fi
	timeout 60 swaks --server 127.0.0.1 --port "$SP" --from sender@example.test \
	    --to alice@localhost --helo client.test --data "@$f" --suppress-data 2>&1
}
# files USER SUB: number of files in Maildir/SUB.
files() { find "$(maildir "$1")/$2" -maxdepth 1 -type f 2>/dev/null | wc -l; }
# pop3 USER: "N" messages as STAT reports, via curl (LIST count).
pop3_count() {
	timeout 30 curl -s "pop3://127.0.0.1:$PP/" -u "$1:secret" | grep -c '^[0-9]' || true
}

# ---- 1. disk full --------------------------------------------------------
out=$(send first)
check_match "baseline: first message accepted" '^<- +250 2\.0\.0' "$out"
# Replace the Maildir by a 1 MB tmpfs holding the same content.
cp -a "$MD" "$T/md.save"
mount -t tmpfs -o size=1m,mode=700,uid=1001,gid=1001 tmpfs "$MD"
cp -a "$T/md.save/." "$MD/"
# fill it up to a few KB
dd if=/dev/zero of="$MD/filler" bs=4k 2>/dev/null
rm -f "$MD/filler.small"; dd if=/dev/zero of="$MD/filler.small" bs=1k count=2 2>/dev/null
rm -f "$MD/filler.small"
out=$(send disk-full 200)
check_match "disk full: 452 4.3.1" '^<(-|\*\*) +452 4\.3\.1' "$out"
check_eq "disk full: no file left in tmp/" 0 "$(files alice tmp)"
check "disk full: no partial message in new/" test "$(files alice new)" = 1
# (no index check while the disk is full: delivery does not write the
# index, and a reader cannot build one without space; checked below)
rm -f "$MD/filler"
out=$(send after-full)
check_match "disk full: delivery works again once there is room" '^<- +250 2\.0\.0' "$out"
check "after disk full: a reader syncs the index" index_read alice
check "after disk full: index agrees" index_check alice
check_eq "after disk full: pop3d lists both messages" 2 "$(pop3_count alice)"
umount -l "$MD"

# ---- 2. read-only Maildir ------------------------------------------------
before=$(files alice new)
mount --bind "$MD" "$MD" && mount -o remount,bind,ro "$MD"
out=$(send read-only)
check_match "read-only Maildir: a temporary failure (4xx)" '^<(-|\*\*) +4[0-9][0-9] ' "$out"
check_eq "read-only Maildir: nothing stored" "$before" "$(files alice new)"
umount -l "$MD"
out=$(send after-ro)
check_match "read-only Maildir: works again when writable" '^<- +250 ' "$out"

# ---- 3. symlinks planted at tmp/ and new/ --------------------------------
for sub in tmp new; do
	mkdir -p -m 777 "$T/evil-$sub"
	before=$(files alice new)
	mv "$MD/$sub" "$MD/$sub.real"
	ln -s "$T/evil-$sub" "$MD/$sub"
	out=$(send "symlink-$sub")
	check_match "symlink at $sub/: a temporary failure (4xx)" '^<(-|\*\*) +4[0-9][0-9] ' "$out"
	check_eq "symlink at $sub/: nothing written where it points" 0 \
	    "$(find "$T/evil-$sub" -mindepth 1 | wc -l)"
	check "symlink at $sub/: the link is left alone" test -L "$MD/$sub"
	rm "$MD/$sub"
	mv "$MD/$sub.real" "$MD/$sub"
	check_eq "symlink at $sub/: no message added" "$before" "$(files alice new)"
done

# ---- 4. index replaced by garbage ----------------------------------------
n=$(( $(files alice new) + $(files alice cur) ))
head -c 65536 /dev/urandom >"$MD/inetmail/index.db"
check_eq "garbage index: pop3d still lists all $n messages" "$n" "$(pop3_count alice)"
first=$(timeout 30 curl -s "pop3://127.0.0.1:$PP/1" -u alice:secret | grep -c '^Subject: ')
check_eq "garbage index: RETR 1 returns the message" 1 "$first"
out=$(send after-garbage)
check_match "garbage index: delivery works" '^<- +250 ' "$out"
check "garbage index: the next reader syncs it" index_read alice
check "garbage index: rebuilt, agrees with the files" index_check alice
# every index file garbage
for f in "$MD"/inetmail/*; do
	[ "${f##*/}" = lock ] && continue
	head -c 8192 /dev/urandom >"$f"
done
n=$(( $(files alice new) + $(files alice cur) ))
check_eq "whole index environment garbage: pop3d lists all $n" "$n" "$(pop3_count alice)"
check "whole index environment garbage: rebuilt" index_check alice
[ "$TESTS_FAILED" = 0 ] || launcher_logs
done_testing
