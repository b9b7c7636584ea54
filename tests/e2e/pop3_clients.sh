#!/bin/bash
# pop3_clients.sh - pop3d end to end: mail delivered by smtpd, collected by
# real clients (curl, fetchmail, mpop, Python poplib, a person's telnet
# session) under systemd-socket-activate and openbsd-inetd; [IN-USE] for a
# second session, -ERR [AUTH] for a wrong password, and kill -9 during
# QUIT's UPDATE in a bounded loop.
. "$(dirname "$0")/../lib/lib.sh"
need systemd openbsd-inetd socat curl fetchmail mpop swaks

[ -x "$POP3D" ] || { skip "pop3d" "not built"; done_testing; }
echo "auth_fail_delay = 200ms" >>"$CONF"

# deliver USER N: N messages through smtpd (swaks over a pipe)
deliver() {
	local i
	for ((i = 1; i <= $2; i++)); do
		cw swaks --pipe "$SMTPD -f $CONF" --from sender@x.test \
		    --to "$1@localhost" --header "Subject: msg $i" \
		    --body "line one of $i
.a line with a leading dot
last line of $i" >/dev/null 2>&1 || return 1
	done
}
# nfiles USER: messages in new/ and cur/
nfiles() { find "$(maildir "$1")/new" "$(maildir "$1")/cur" -type f | wc -l; }
# the messages' bytes as POP3 would send them, CRLF, unstuffed
expected_bytes() {
	local f
	for f in "$(maildir "$1")"/new/* "$(maildir "$1")"/cur/*; do
		[ -f "$f" ] && sed 's/$/\r/' "$f"
	done
}

check "deliver 3 to alice" deliver alice 3
expected_bytes alice >"$T/alice.expected"

P=$(free_port)
start_ssa "$P" "$POP3D" -f "$CONF" || fail "ssa start"

# ---- curl ----
out=$(curl -s pop3://127.0.0.1:$P/ -u alice:secret)
check_match "curl LIST shows 3 messages" '^3 [0-9]+' "$out"
curl -s pop3://127.0.0.1:$P/1 -u alice:secret >"$T/c1"
curl -s pop3://127.0.0.1:$P/2 -u alice:secret >"$T/c2"
curl -s pop3://127.0.0.1:$P/3 -u alice:secret >"$T/c3"
cat "$T/c1" "$T/c2" "$T/c3" | sed 's/\r$//' >"$T/curl.all"
sed 's/\r$//' "$T/alice.expected" >"$T/alice.expected.lf"
check "curl RETR bytes equal the stored messages" cmp "$T/curl.all" "$T/alice.expected.lf"
size1=$(curl -s pop3://127.0.0.1:$P/ -u alice:secret | awk '$1==1{print $2}' | tr -d '\r')
check_eq "LIST size equals RETR octets (CRLF)" "$size1" "$(wc -c <"$T/c1" | tr -d ' ')"
out=$(curl -s pop3://127.0.0.1:$P/ -u alice:secret -X UIDL)
check_match "curl UIDL" '^1 [!-~]+' "$out"
out=$(curl -s pop3://127.0.0.1:$P/ -u alice:secret -X 'TOP 1 0')
check_match "curl TOP 1 0 has the Subject" '^Subject: msg' "$out"
check_eq "curl TOP 1 0 has no body" "" "$(printf '%s\n' "$out" | grep 'line one')"
curl -s pop3://127.0.0.1:$P/ -u alice:wrong >/dev/null; rc=$?
check_eq "curl wrong password exits 67" 67 "$rc"

# ---- the classic telnet session, LF line ends, mixed case ----
out=$(printf 'user alice\npass secret\nlist\nretr 1\ndele 1\nlist\nquit\n' |
    socat -t 5 - TCP:127.0.0.1:$P)
check_match "telnet session: login" '^\+OK alice has 3 messages' "$out"
check_match "telnet session: dele" '^\+OK message 1 deleted' "$out"
check_match "telnet session: quit" 'signing off \(2 messages left\)' "$out"

# ---- wrong password and [IN-USE] (Python poplib) ----
cat >"$T/pl.py" <<'PYEOF'
import poplib, sys, time
port = int(sys.argv[1]); mode = sys.argv[2]
p = poplib.POP3("127.0.0.1", port, timeout=20)
if mode == "wrongpass":
    p.user("alice")
    try:
        p.pass_("nope"); print("LOGGED-IN")
    except poplib.error_proto as e:
        print(e.args[0].decode())
elif mode == "hold":
    p.user("alice"); p.pass_("secret"); print("HOLDING", flush=True)
    time.sleep(float(sys.argv[3])); p.quit()
elif mode == "second":
    p.user("alice")
    try:
        p.pass_("secret"); print("LOGGED-IN")
    except poplib.error_proto as e:
        print(e.args[0].decode())
elif mode == "thunderbird":
    caps = p.capa()
    assert "UIDL" in caps and "TOP" in caps, caps
    p.user("alice"); p.pass_("secret")
    assert p.capa() == caps, "CAPA differs after login"
    n, size = p.stat()
    resp, lst, _ = p.list()
    assert sum(int(x.split()[1]) for x in lst) == size
    resp, uidls, _ = p.uidl()
    for i in range(1, n + 1):
        resp, hdr, _ = p.top(i, 0)
        assert hdr[-1] == b"", "TOP n 0 ends with the blank line"
        resp, lines, octets = p.retr(i)
        want = int(lst[i - 1].split()[1])
        got = sum(len(l) + 2 for l in lines)  # poplib unstuffs, drops CRLF
        assert got == want, (got, want)
        sys.stdout.buffer.write(b"".join(l + b"\n" for l in lines))
        p.dele(i)
    p.quit()
PYEOF
out=$("$PY" "$T/pl.py" "$P" wrongpass)
check_match "wrong password gets -ERR [AUTH]" '^-ERR \[AUTH\]' "$out"
"$PY" "$T/pl.py" "$P" hold 3 >"$T/hold.out" &
hp=$!
for i in $(seq 50); do grep -q HOLDING "$T/hold.out" && break; sleep 0.1; done
out=$("$PY" "$T/pl.py" "$P" second)
check_match "second concurrent session gets -ERR [IN-USE]" '^-ERR \[IN-USE\]' "$out"
wait $hp
check "the first session ended normally" grep -q HOLDING "$T/hold.out"

# ---- fetchmail keep + uidl, twice ----
mkdir -p "$T/fm"
printf 'machine 127.0.0.1 login alice password secret\n' >"$T/fm/.netrc"
chmod 600 "$T/fm/.netrc"
fm() {
	HOME=$T/fm fetchmail --nosyslog -f /dev/null -p POP3 -P "$P" --sslproto '' -u alice -k --uidl \
	    -i "$T/fm/ids" --mda "/bin/sh -c 'cat >> $T/fm/out.mbox'" 127.0.0.1 \
	    >>"$T/fm/log" 2>&1
}
fm; rc1=$?
n1=$(grep -c '^Subject: msg' "$T/fm/out.mbox" 2>/dev/null)
fm; rc2=$?
n2=$(grep -c '^Subject: msg' "$T/fm/out.mbox" 2>/dev/null)
check_eq "fetchmail first run fetched 2 (rc $rc1)" 2 "$n1"
check_eq "fetchmail second run fetched nothing (rc $rc2 = 1)" "2 1" "$n2 $rc2"

# ---- mpop keep + uidls ----
mkdir -p "$T/mp"
: >"$T/mp/mbox"
mpop --host=127.0.0.1 --port="$P" --tls=off --auth=user --user=alice \
    --passwordeval='echo secret' --keep=on --uidls-file="$T/mp/uidls" \
    --delivery=mbox,"$T/mp/mbox" >"$T/mp/log" 2>&1; rc=$?
check_eq "mpop exit status" 0 "$rc"
check_eq "mpop got 2 messages" 2 "$(grep -c '^Subject: msg' "$T/mp/mbox")"
mpop --host=127.0.0.1 --port="$P" --tls=off --auth=user --user=alice \
    --passwordeval='echo secret' --keep=on --uidls-file="$T/mp/uidls" \
    --delivery=mbox,"$T/mp/mbox" >>"$T/mp/log" 2>&1
check_eq "mpop second run got nothing new" 2 "$(grep -c '^Subject: msg' "$T/mp/mbox")"

# ---- Thunderbird-like sequence with poplib, deleting everything ----
out=$("$PY" "$T/pl.py" "$P" thunderbird 2>&1)
check "poplib CAPA/USER/PASS/STAT/LIST/UIDL/TOP/RETR/DELE/QUIT" test $? = 0
check_match "poplib got the messages" 'Subject: msg 3' "$out"
check_eq "mailbox empty after poplib DELE+QUIT" 0 "$(nfiles alice)"

# ---- openbsd-inetd ----
check "deliver 1 to bob" deliver bob 1
P2=$(free_port)
start_inetd "$P2" "$POP3D" -f "$CONF"
out=$(curl -s pop3://127.0.0.1:$P2/1 -u bob:secret)
check_match "inetd: curl RETR" 'line one of 1' "$out"

# ---- kill -9 during QUIT's UPDATE, bounded loop ----
# Each round: deliver 3 to carol, a session deletes 2 and QUITs while we
# SIGKILL the session process at a random moment; then a fresh session
# must log in promptly, list only messages whose files exist, and have lost
# no undeleted message.
lost=0 ghost=0 hang=0
for round in $(seq 1 15); do
	deliver carol 3 || { fail "deliver carol"; break; }
	md=$(maildir carol)
	before=$(nfiles carol)
	cw "$PY" - "$POP3D" "$CONF" "$round" <<'PYEOF' >/dev/null 2>&1
import subprocess, sys, time, random, os, signal
pop3d, conf, r = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = subprocess.Popen([pop3d, "-f", conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     start_new_session=True)
p.stdin.write(b"USER carol\r\nPASS secret\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n"); p.stdin.flush()
time.sleep(0.01 + random.random() * 0.25)
os.killpg(p.pid, signal.SIGKILL)
p.wait()
PYEOF
	# fresh session: must not hang; every listed message must have a file
	t0=$(date +%s)
	out=$(printf 'USER carol\r\nPASS secret\r\nUIDL\r\nQUIT\r\n' |
	    timeout 20 env "${CWRAP_ENV[@]}" "$POP3D" -f "$CONF" 2>/dev/null | tr -d '\r')
	[ $? = 124 ] && hang=$((hang + 1))
	files=$(nfiles carol)
	listed=$(printf '%s\n' "$out" | grep -cE '^[0-9]+ ')
	[ "$listed" != "$files" ] && ghost=$((ghost + 1))
	# at most the 2 DELE'd messages may be gone
	[ "$files" -lt $((before - 2)) ] && lost=$((lost + 1))
	printf 'USER carol\r\nPASS secret\r\nDELE 1\r\nDELE 2\r\nDELE 3\r\nDELE 4\r\nDELE 5\r\nQUIT\r\n' |
	    cw "$POP3D" -f "$CONF" >/dev/null 2>&1
done
check_eq "kill -9 in UPDATE: next login never hung" 0 "$hang"
# The state a kill between UPDATE's unlinks and its index commit leaves:
# a file gone behind the index's back. The next session must not list it.
deliver carol 2
printf 'USER carol\r\nPASS secret\r\nQUIT\r\n' | cw "$POP3D" -f "$CONF" >/dev/null 2>&1
rm -f "$(find "$(maildir carol)/cur" -type f | head -n 1)"
out=$(printf 'USER carol\r\nPASS secret\r\nLIST\r\nQUIT\r\n' | cw "$POP3D" -f "$CONF" 2>/dev/null | tr -d '\r')
check_match "a file unlinked behind the index is not listed" '^\+OK carol has 1 messages' "$out"
check_eq "kill -9 in UPDATE: never a listed message without its file" 0 "$ghost"
check_eq "kill -9 in UPDATE: never a lost undeleted message" 0 "$lost"

done_testing
