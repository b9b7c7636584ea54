#!/bin/bash
# smtp_clients.sh - real SMTP clients against smtpd under real launchers.
# Under systemd-socket-activate and under openbsd-inetd, on loopback: swaks,
# Python smtplib, curl, msmtp and smtp-source deliver to alice and bob, to
# the alias team (alice, bob) and to postmaster (alias -> alice). Each copy
# must be in the recipient's Maildir/new exactly once, byte for byte what was
# sent (CRLF -> LF, dot-unstuffed) after Return-Path and Received, mode 0600;
# the index must agree with the files. Unknown users get 550 5.1.1, other
# domains 554 5.7.1, and nothing is delivered for them.
. "$(dirname "$0")/../lib/lib.sh"
need systemd openbsd-inetd ucspi-tcp socat curl msmtp postfix swaks

if [ ! -x "$SMTPD" ]; then
	fail "smtpd is built ($SMTPD)"
	done_testing
fi

SENDER=sender@example.org
mkdir -p "$T/msg"
declare -A EXPECT	# "marker user" -> 1
declare -A COUNT	# user -> number of copies expected

# mkmsg MARKER TO: writes $T/msg/MARKER (LF) and MARKER.crlf (CRLF).
mkmsg() {
	"$PY" - "$T/msg/$1" "$1" "$2" <<'EOF'
import sys
path, marker, to = sys.argv[1:4]
long = ("x" * 60 + " ") * 16
long = long[:998]
lines = [
    "From: Sender <sender@example.org>",
    "To: " + to,
    "Date: Thu, 01 Jan 2026 00:00:00 +0000",
    "Message-ID: <%s@example.org>" % marker,
    "Subject: test %s" % marker,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    "Body of %s." % marker,
    ".a line with a leading dot",
    "..two dots",
    ".",
    "trailing spaces   ",
    "\tindented with a tab",
    "",
    "",
    "8-bit text: caf\u00e9 \u00fcber",
    long,
    "From the middle of a line: not an mbox separator",
    "last line",
]
data = ("\n".join(lines) + "\n").encode("utf-8")
open(path, "wb").write(data)
open(path + ".crlf", "wb").write(data.replace(b"\n", b"\r\n"))
open(path + ".nonl", "wb").write(data[:-1])
if "-source-" in marker:
    open(path + ".want", "wb").write(data + b"\n")
EOF
}

# expect MARKER USER...: each USER must end up with one copy of MARKER.
expect() {
	local m=$1 u; shift
	for u in "$@"; do
		EXPECT["$m $u"]=1
		COUNT[$u]=$(( ${COUNT[$u]:-0} + 1 ))
	done
}

# run_client WHAT CMD...: the client must exit 0.
run_client() {
	local what=$1; shift
	if "$@" >"$T/client.out" 2>&1; then
		pass "$what"
	else
		fail "$what (exit $?)"
		tail -n 25 "$T/client.out" | sed 's/^/#   /'
	fi
}

# smtplib sends bytes as they are (it converts line ends only in str
# messages): give it CRLF.
smtplib_send() {	# PORT FILE RCPT...
	local port=$1 file=$2; shift 2
	"$PY" - "$port" "$file" "$SENDER" "$@" <<'EOF'
import smtplib, sys
port, path, sender, *rcpts = sys.argv[1:]
with smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test", timeout=30) as s:
    s.ehlo()
    refused = s.sendmail(sender, rcpts, open(path, "rb").read())
    if refused:
        sys.exit("refused: %r" % refused)
    print("ok")
EOF
}

deliveries() {	# LAUNCHER PORT
	local l=$1 port=$2 m
	m=$l-swaks-1; mkmsg "$m" "alice@localhost, bob@example.test"
	# swaks adds a line end when the data ends with one: give it none.
	run_client "$l: swaks to alice and bob" swaks --server 127.0.0.1 --port "$port" \
	    --helo client.test --from "$SENDER" --to alice@localhost,bob@example.test \
	    --data "$T/msg/$m.nonl"
	expect "$m" alice bob
	m=$l-swaks-2; mkmsg "$m" "postmaster"
	run_client "$l: swaks to bare postmaster" swaks --server 127.0.0.1 --port "$port" \
	    --helo client.test --from "$SENDER" --to postmaster --data "$T/msg/$m.nonl"
	expect "$m" alice

	m=$l-smtplib-1; mkmsg "$m" "alice@localhost, bob@localhost"
	run_client "$l: python smtplib to alice and bob" smtplib_send "$port" "$T/msg/$m.crlf" \
	    alice@localhost bob@localhost
	expect "$m" alice bob
	m=$l-smtplib-2; mkmsg "$m" "team@example.test"
	run_client "$l: python smtplib to alias team" smtplib_send "$port" "$T/msg/$m.crlf" \
	    team@example.test
	expect "$m" alice bob
	m=$l-smtplib-3; mkmsg "$m" "postmaster@localhost"
	run_client "$l: python smtplib to postmaster@localhost" smtplib_send "$port" \
	    "$T/msg/$m.crlf" postmaster@localhost
	expect "$m" alice

	m=$l-curl-1; mkmsg "$m" "alice@localhost, bob@example.test"
	run_client "$l: curl to alice and bob" curl -sS --max-time 30 \
	    "smtp://127.0.0.1:$port/client.test" --mail-from "$SENDER" \
	    --mail-rcpt alice@localhost --mail-rcpt bob@example.test -T "$T/msg/$m.crlf"
	expect "$m" alice bob

	m=$l-msmtp-1; mkmsg "$m" "alice@example.test, bob@localhost"
	run_client "$l: msmtp to alice and bob" msmtp -C /dev/null --host=127.0.0.1 \
	    --port="$port" --domain=client.test --auth=off --tls=off \
	    --from="$SENDER" alice@example.test bob@localhost <"$T/msg/$m"
	expect "$m" alice bob

	# smtp-source -F sends each line with CRLF and then an empty line
	# before the final dot: what arrives is the file plus one line end.
	m=$l-source-1; mkmsg "$m" "alice@localhost"
	run_client "$l: smtp-source to alice" smtp-source -M client.test -f "$SENDER" \
	    -t alice@localhost -F "$T/msg/$m" "127.0.0.1:$port"
	expect "$m" alice
	m=$l-source-2; mkmsg "$m" "team@localhost"
	run_client "$l: smtp-source to team" smtp-source -M client.test -f "$SENDER" \
	    -t team@localhost -F "$T/msg/$m" "127.0.0.1:$port"
	expect "$m" alice bob
	m=$l-source-3; mkmsg "$m" "bob+tag@localhost"
	run_client "$l: smtp-source to bob+tag" smtp-source -M client.test -f "$SENDER" \
	    -t bob+tag@localhost -F "$T/msg/$m" "127.0.0.1:$port"
	expect "$m" bob

	# Rejections at RCPT: nothing is delivered for them.
	local out
	out=$(swaks --server 127.0.0.1 --port "$port" --helo client.test --from "$SENDER" \
	    --to nosuchuser@localhost --quit-after RCPT 2>&1)
	check_match "$l: unknown user gets 550 5.1.1" '^<\*\* +550 5\.1\.1 ' "$out"
	out=$(swaks --server 127.0.0.1 --port "$port" --helo client.test --from "$SENDER" \
	    --to alice@elsewhere.example --quit-after RCPT 2>&1)
	check_match "$l: non-local domain gets 554 5.7.1" '^<\*\* +554 5\.7\.1 ' "$out"
	out=$(swaks --server 127.0.0.1 --port "$port" --helo client.test --from "$SENDER" \
	    --to root@localhost --quit-after RCPT 2>&1)
	check_match "$l: account below min_uid gets 550 5.1.1" '^<\*\* +550 5\.1\.1 ' "$out"
}

for launcher in ssa inetd; do
	port=$(free_port)
	if [ "$launcher" = ssa ]; then
		start_ssa "$port" "$SMTPD" -f "$CONF" || fail "ssa: listening on $port"
	else
		start_inetd "$port" "$SMTPD" -f "$CONF" || fail "inetd: listening on $port"
	fi
	deliveries "$launcher" "$port"
	# smtp-source and curl may close before the session's last reply is
	# read; give sessions a moment to finish before the next launcher.
	sleep 0.2
done

# Wait (bounded) for the last sessions to finish delivering.
for u in alice bob; do
	wait_count "$u" "${COUNT[$u]:-0}" 20
done

for key in "${!EXPECT[@]}"; do
	m=${key% *} u=${key#* }
	want=$T/msg/$m
	[ -f "$want.want" ] && want=$want.want
	check_delivered "$m: one exact copy for $u" "$u" "<$m@" "$want" "$SENDER" client.test
done
for u in alice bob carol; do
	check_eq "$u has exactly the expected number of messages" "${COUNT[$u]:-0}" "$(count_new "$u")"
	tmpn=$(find "$(maildir "$u")/tmp" -type f 2>/dev/null | wc -l)
	check_eq "$u: nothing left in Maildir/tmp" 0 "$tmpn"
done
for u in alice bob; do
	check "$u: a reader builds the index (maildb ls)" index_read "$u"
	check "$u: the index agrees with the Maildir" index_check "$u"
done

# maildb ls USER lists every message (the admin's view of the index).
out=$(cw "$MAILDB" -f "$CONF" ls alice 2>&1)
rc=$?
if [ "$rc" != 0 ]; then
	if [ ! -x "$MAILDB" ] || printf '%s' "$out" | grep -Eqi 'usage:|unknown command|not implemented'; then
		skip "maildb ls alice lists the messages" "maildb has no 'ls' subcommand yet (exit $rc: ${out:0:80})"
	else
		fail "maildb ls alice (exit $rc)"
		printf '%s\n' "$out" | head -n 10 | sed 's/^/#   /'
	fi
else
	missing=0
	for f in "$(maildir alice)"/new/*; do
		n=${f##*/}
		printf '%s' "$out" | grep -qF -- "${n%%,*}" || { missing=$((missing + 1)); diag "not listed: $n"; }
	done
	check_eq "maildb ls alice lists every message" 0 "$missing"
	check "maildb verify alice" cw "$MAILDB" -f "$CONF" verify alice
fi

[ "$TESTS_FAILED" = 0 ] || launcher_logs
done_testing
