#!/bin/bash
# smtpc_remote.sh - the outbound SMTP client (libmail/relay/smtpc.c, driven by
# tests/tools/smtpc_send) against real receiving MTAs in a private
# "internet": a network and mount namespace with only lo, its own
# resolv.conf and dnsmasq serving the zone below, aiosmtpd
# (tests/lib/smtpc_sink.py) and Postfix's smtp-sink on 127.0.0.x:25.
#
#   remote.test    MX 10 mx.remote.test     127.0.0.2  aiosmtpd; bad@ 550, later@ 450
#   backup.test    MX 10 mx1.backup.test    127.0.0.3  smtp-sink: 4xx greeting
#                  MX 20 mx2.backup.test    127.0.0.2
#   rejdata.test   MX 10 mx.rejdata.test    127.0.0.4  smtp-sink: 5xx to DATA
#   rejdot.test    MX 10 mx.rejdot.test     127.0.0.5  smtp-sink: 5xx after the dot
#   nomx.test      A 127.0.0.2 (implicit MX)
#   nullmx.test    MX 0 "." (RFC 7505)
#   tls.test       MX 10 tls.remote.test    127.0.0.6  aiosmtpd + STARTTLS (self-signed)
#   alias.test     MX 10 other.remote.test  127.0.0.6  (the certificate does not name it)
#   relay.test     A 127.0.0.7, aiosmtpd on 587: STARTTLS + AUTH PLAIN
#   relaymx.test   MX 10 relay.test
#   small.test     MX 10 mx.small.test      127.0.0.8  aiosmtpd, SIZE 2000
#   helo.test      MX 10 mx.helo.test       127.0.0.11 smtp-sink: 5xx to EHLO
#   gone.test      MX 10 mx.gone.test       127.0.0.12 smtp-sink: hangs up at RCPT
#   refuse.test    MX 10 mx.refuse.test     127.0.0.13 smtp-sink: 5xx greeting
#   garbage.test   MX 10 mx1.garbage.test   127.0.0.14 socat: a greeting with two codes
#                  MX 20 mx2.garbage.test   127.0.0.15 socat: a 600-octet greeting line
#   anything else under .test: NXDOMAIN
#
# Root only (namespaces, port 25); otherwise the test is skipped.
set -u
if [ -z "${SMTPC_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root for a network namespace"
		echo "ok 1 - smtpc against remote MTAs # SKIP needs root for a network namespace"
		exit 0
	fi
	why=$(PACKAGES_CALLER="${0##*/}" "$(dirname "$0")/../packages" need \
	    util-linux iproute2 dnsmasq-base postfix socat openssl python3 python3-aiosmtpd 2>&1) || {
		echo "not ok 1 - $why"
		exit 1
	}
	SMTPC_NS=1 exec unshare --net --mount --propagation private bash "$0" "$@"
	echo "not ok 1 - unshare failed"
	exit 1
fi

. "$(dirname "$0")/../lib/lib.sh"
PATH=$PATH:/usr/sbin
SEND=$B/tests/tools/smtpc_send
PYSINK=$TOP/tests/lib/smtpc_sink.py
[ -x "$SEND" ] || { fail "no $SEND (make)"; done_testing; }

# ---- the private internet -------------------------------------------
ip link set lo up
ip addr show lo | grep -q '127.0.0.1' || { fail "lo is not up"; done_testing; }
echo "nameserver 127.0.0.1" >"$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
# --local=/test/: names under .test not listed here are NXDOMAIN
dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces \
	--local=/test/ --pid-file= --log-facility="$T/dnsmasq.log" \
	--mx-host=remote.test,mx.remote.test,10 --host-record=mx.remote.test,127.0.0.2 \
	--mx-host=backup.test,mx1.backup.test,10 --host-record=mx1.backup.test,127.0.0.3 \
	--mx-host=backup.test,mx2.backup.test,20 --host-record=mx2.backup.test,127.0.0.2 \
	--mx-host=rejdata.test,mx.rejdata.test,10 --host-record=mx.rejdata.test,127.0.0.4 \
	--mx-host=rejdot.test,mx.rejdot.test,10 --host-record=mx.rejdot.test,127.0.0.5 \
	--host-record=nomx.test,127.0.0.2 \
	--mx-host=nullmx.test,.,0 --host-record=nullmx.test,127.0.0.2 \
	--mx-host=tls.test,tls.remote.test,10 --host-record=tls.remote.test,127.0.0.6 \
	--mx-host=alias.test,other.remote.test,10 --host-record=other.remote.test,127.0.0.6 \
	--host-record=relay.test,127.0.0.7 \
	--mx-host=relaymx.test,relay.test,10 \
	--mx-host=small.test,mx.small.test,10 --host-record=mx.small.test,127.0.0.8 \
	--mx-host=helo.test,mx.helo.test,10 --host-record=mx.helo.test,127.0.0.11 \
	--mx-host=gone.test,mx.gone.test,10 --host-record=mx.gone.test,127.0.0.12 \
	--mx-host=refuse.test,mx.refuse.test,10 --host-record=mx.refuse.test,127.0.0.13 \
	--mx-host=garbage.test,mx1.garbage.test,10 --host-record=mx1.garbage.test,127.0.0.14 \
	--mx-host=garbage.test,mx2.garbage.test,20 --host-record=mx2.garbage.test,127.0.0.15 \
	>"$T/dnsmasq.out" 2>&1 &
LAUNCHER_PIDS+=($!)

# port_on ADDR PORT: wait (bounded) until something listens there
port_on() {
	local i
	for ((i = 0; i < 250; i++)); do
		ss -Hltn "src $1:$2" 2>/dev/null | grep -q . && return 0
		sleep 0.02
	done
	diag "nothing listens on $1:$2"
	return 1
}
port_on 127.0.0.1 53 || true

# A self-signed certificate for the TLS sinks (names tls.remote.test and
# relay.test, not other.remote.test).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/tls.key" -out "$T/tls.crt" -days 2 -subj "/CN=tls.remote.test" \
	-addext "subjectAltName=DNS:tls.remote.test,DNS:relay.test" >"$T/openssl.log" 2>&1 ||
	{ fail "openssl req"; cat "$T/openssl.log"; done_testing; }

sink() {	# sink NAME ARGS...: an aiosmtpd instance, its files in $T/NAME
	local name=$1; shift
	/usr/bin/python3 "$PYSINK" --dir "$T/$name" "$@" >"$T/$name.log" 2>&1 &
	LAUNCHER_PIDS+=($!)
}
sink good --addr 127.0.0.2 \
	--reject "bad@remote.test=550 5.1.1 <bad@remote.test>: no such user" \
	--reject "later@remote.test=450 4.2.1 mailbox busy, try later"
sink tls --addr 127.0.0.6 --tls-cert "$T/tls.crt" --tls-key "$T/tls.key"
sink relay --addr 127.0.0.7 --port 587 --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" \
	--auth relayuser:relay-secret
sink small --addr 127.0.0.8 --size 2000
mkdir -p "$T/sink3" "$T/sink4" "$T/sink5"
smtp-sink -u nobody -r connect 127.0.0.3:25 16 >"$T/sink3.log" 2>&1 &
LAUNCHER_PIDS+=($!)
smtp-sink -u nobody -f data 127.0.0.4:25 16 >"$T/sink4.log" 2>&1 &
LAUNCHER_PIDS+=($!)
smtp-sink -u nobody -f . 127.0.0.5:25 16 >"$T/sink5.log" 2>&1 &
LAUNCHER_PIDS+=($!)
smtp-sink -u nobody -f ehlo 127.0.0.11:25 16 >"$T/sink11.log" 2>&1 &
LAUNCHER_PIDS+=($!)
smtp-sink -u nobody -q rcpt 127.0.0.12:25 16 >"$T/sink12.log" 2>&1 &
LAUNCHER_PIDS+=($!)
smtp-sink -u nobody -f connect 127.0.0.13:25 16 >"$T/sink13.log" 2>&1 &
LAUNCHER_PIDS+=($!)
printf '220-mx1.garbage.test\r\n250 mixed codes\r\n' >"$T/garbage14"
{ printf '220 '; head -c 600 /dev/zero | tr '\0' x; printf '\r\n'; } >"$T/garbage15"
for g in 14 15; do
	socat "TCP-LISTEN:25,bind=127.0.0.$g,reuseaddr,fork" "SYSTEM:cat $T/garbage$g; sleep 2" \
	    >"$T/socat$g.log" 2>&1 &
	LAUNCHER_PIDS+=($!)
done
ok=1
for a in 127.0.0.2:25 127.0.0.3:25 127.0.0.4:25 127.0.0.5:25 127.0.0.6:25 127.0.0.7:587 127.0.0.8:25 \
    127.0.0.11:25 127.0.0.12:25 127.0.0.13:25 127.0.0.14:25 127.0.0.15:25; do
	port_on "${a%:*}" "${a#*:}" || ok=0
done
if [ "$ok" = 1 ]; then
	pass "private internet up: dnsmasq and 12 receiving MTAs"
else
	fail "private internet up"
	for f in "$T"/*.log "$T/dnsmasq.out"; do diag "--- $f"; tail -n 5 "$f" | sed 's/^/#   /'; done
	done_testing
fi

# ---- the message --------------------------------------------------------
# LF line ends as inetmail stores them; a line "." and lines starting with
# dots (dot-stuffing), a 998-octet line, 8-bit text, a bare CR inside a line.
MSG=$T/msg.eml
/usr/bin/python3 - "$MSG" <<'EOF'
import sys
lines = [b"Received: from client.test by mx.test; Thu, 26 Nov 2026 10:00:00 +0000",
         b"From: alice@example.test", b"To: someone", b"Subject: smtpc test",
         b"Message-ID: <smtpc-e2e@example.test>", b"",
         b"first line", b".", b".leading dot", b"..two dots", b" . not at start",
         b"x" * 998, b"." + b"y" * 997, b"caf\xc3\xa9 8-bit", b"bare\rCR inside",
         b"", b"last line"]
open(sys.argv[1], "wb").write(b"\n".join(lines) + b"\n")
EOF

# send [OPTIONS...] DOMAIN RCPT...: runs smtpc_send; output in $OUT
send() {
	OUT=$(timeout 120 "$SEND" -o hostname=client.test -o smtp_timeout=20 \
	    -o smtp_connect_timeout=5 -s alice@example.test -m "$MSG" "$@" 2>"$T/send.err")
	SEND_RC=$?
	# under make asan: a sanitizer report is a failure of its own
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/send.err"; then
		fail "sanitizer report from smtpc_send $*"
		grep -Em1 -A 20 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/send.err" | sed 's/^/#   /'
	fi
}
# line_of ADDR: the verdict line of ADDR in $OUT
line_of() { printf '%s\n' "$OUT" | grep -F "rcpt=$1 "; }
# expect WHAT ADDR REGEX: the verdict line of ADDR matches REGEX
expect() {
	local l
	l=$(line_of "$2")
	if printf '%s\n' "$l" | grep -Eq -- "$3"; then
		pass "$1"
	else
		fail "$1"
		diag "expected: $3" "     got: ${l:-(no line for $2)}"
		tail -n 8 "$T/send.err" | sed 's/^/#   log: /'
	fi
}
# delivered WHAT SINKDIR RCPT [PYCOND]: exactly one message for RCPT in
# SINKDIR, byte-exact (LF -> CR LF of $MSG); PYCOND is a Python expression
# over the metadata m (e.g. 'm["tls"]').
delivered() {
	local out
	if out=$(/usr/bin/python3 - "$2" "$3" "$MSG" "${4:-True}" 2>&1 <<'EOF'
import glob, json, os, sys
d, rcpt, msgf, cond = sys.argv[1:5]
want = open(msgf, "rb").read().replace(b"\n", b"\r\n")
hits = []
for j in sorted(glob.glob(os.path.join(d, "*.json"))):
    m = json.load(open(j))
    if rcpt in m["rcpt_tos"]:
        hits.append((j, m))
if len(hits) != 1:
    sys.exit("%d messages for %s in %s" % (len(hits), rcpt, d))
j, m = hits[0]
got = open(j[:-5] + ".eml", "rb").read()
if got != want:
    import difflib
    diff = difflib.unified_diff(want.decode("latin-1").splitlines(True),
                                got.decode("latin-1").splitlines(True), "sent", "received")
    sys.exit("differs:\n" + "".join(list(diff)[:30]))
if m["mail_from"] != "alice@example.test":
    sys.exit("MAIL FROM %r" % m["mail_from"])
if not eval(cond, {"os": os, "sys": sys}, {"m": m}):
    sys.exit("metadata %r fails %s" % (m, cond))
print(j)
EOF
	); then
		pass "$1"
	else
		fail "$1"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

# ---- MX delivery, per-recipient verdicts, byte-exact data ------------------
send remote.test ok@remote.test bad@remote.test later@remote.test other@remote.test
check_eq "smtpc_send exit status" 0 "$SEND_RC"
expect "250 after the dot: sent" ok@remote.test \
	'state=sent status=2\.0\.0 remote="mx\.remote\.test \[127\.0\.0\.2\]" diag="250 2\.0\.0 OK queued as [0-9]+ \(in reply to end of DATA\)"'
expect "550 to RCPT: failed with the remote's reply" bad@remote.test \
	'state=failed status=5\.1\.1 remote="mx\.remote\.test \[127\.0\.0\.2\]" diag="550 5\.1\.1 <bad@remote\.test>: no such user \(in reply to RCPT TO\)"'
expect "450 to RCPT: pending" later@remote.test \
	'state=pending status=4\.2\.1 .*diag="450 4\.2\.1 mailbox busy, try later \(in reply to RCPT TO\)"'
expect "second accepted recipient sent" other@remote.test 'state=sent status=2\.0\.0'
delivered "byte-exact delivery (CR LF, dot-stuffing, 998-octet line, 8-bit)" "$T/good" ok@remote.test \
	'sorted(m["rcpt_tos"]) == ["ok@remote.test", "other@remote.test"] and "SIZE=%d" % os.path.getsize(sys.argv[3]) in m["mail_options"]'

# ---- the implicit MX and an address literal ------------------------------
send nomx.test implicit@nomx.test
expect "no MX: the domain's own address (RFC 5321 5.1)" implicit@nomx.test \
	'state=sent status=2\.0\.0 remote="nomx\.test \[127\.0\.0\.2\]"'
send '[127.0.0.2]' 'lit@[127.0.0.2]'
expect "address literal [127.0.0.2]" 'lit@[127.0.0.2]' 'state=sent status=2\.0\.0 remote="\[127\.0\.0\.2\]"'
delivered "address literal delivered" "$T/good" 'lit@[127.0.0.2]'

# ---- a 4xx greeting, then the next MX ----------------------------------
send backup.test b@backup.test
expect "4xx greeting at MX 10: delivered by MX 20" b@backup.test \
	'state=sent status=2\.0\.0 remote="mx2\.backup\.test \[127\.0\.0\.2\]"'
check_match "the 4xx greeting host was tried first" 'mx1\.backup\.test \[127\.0\.0\.3\].*failed.*initial greeting' \
	"$(cat "$T/send.err")"

# ---- 5xx to DATA, 5xx after the dot ------------------------------------
send rejdata.test d1@rejdata.test d2@rejdata.test
expect "5xx to DATA: failed" d1@rejdata.test 'state=failed status=5\.[0-9.]+ remote="mx\.rejdata\.test \[127\.0\.0\.4\]" diag="5[0-9][0-9] .*\(in reply to DATA\)"'
expect "5xx to DATA: every accepted recipient failed" d2@rejdata.test 'state=failed .*in reply to DATA'
send rejdot.test e@rejdot.test
expect "5xx after the dot: failed" e@rejdot.test 'state=failed status=5\.[0-9.]+ .*\(in reply to end of DATA\)"'

# ---- EHLO refused, a hang-up, a 5xx greeting ------------------------------
send helo.test h@helo.test
expect "5xx to EHLO: HELO instead, sent" h@helo.test 'state=sent status=2\.0\.0 remote="mx\.helo\.test \[127\.0\.0\.11\]"'
send gone.test g@gone.test
expect "connection lost at RCPT: pending 4.4.2" g@gone.test \
	'state=pending status=4\.4\.2 remote="mx\.gone\.test \[127\.0\.0\.12\]" diag="lost connection with mx\.gone\.test \[127\.0\.0\.12\] while waiting for the reply to RCPT TO"'
send refuse.test f@refuse.test
expect "5xx greeting from the only MX: pending (class 4), the reply kept" f@refuse.test \
	'state=pending status=4\.[0-9.]+ remote="mx\.refuse\.test \[127\.0\.0\.13\]" diag="5[0-9][0-9] .*\(in reply to the initial greeting\)"'

send garbage.test q@garbage.test
expect "malformed replies: protocol error, next MX, then pending 4.5.0" q@garbage.test \
	'state=pending status=4\.5\.0 remote="mx2\.garbage\.test \[127\.0\.0\.15\]" diag="protocol error in the reply of mx2\.garbage\.test \[127\.0\.0\.15\] to the initial greeting: reply line too long"'
check_match "the reply with two codes was refused" 'mx1\.garbage\.test \[127\.0\.0\.14\].*different codes in one reply' \
	"$(cat "$T/send.err")"

# ---- DNS verdicts --------------------------------------------------------
send nullmx.test n@nullmx.test
expect "null MX: permanent 5.1.10" n@nullmx.test 'state=failed status=5\.1\.10 remote="" diag=".*null MX'
send nosuch.test x@nosuch.test
expect "unknown domain (NXDOMAIN): permanent 5.1.2" x@nosuch.test 'state=failed status=5\.1\.2 remote="" diag="Host or domain name not found'

# ---- SIZE and SMTPUTF8, decided before MAIL ------------------------------
send small.test s@small.test
expect "message bigger than SIZE: permanent 5.3.4" s@small.test 'state=failed status=5\.3\.4 .*exceeds the limit 2000'
send remote.test 'jörg@remote.test' ascii@remote.test
expect "non-ASCII recipient without SMTPUTF8: 5.6.7" 'jörg@remote.test' 'state=failed status=5\.6\.7'
expect "the ASCII recipient still delivered" ascii@remote.test 'state=sent'

# ---- STARTTLS ------------------------------------------------------------
send tls.test t1@tls.test
expect "relay_tls=may: delivered to the STARTTLS host" t1@tls.test 'state=sent status=2\.0\.0 remote="tls\.remote\.test \[127\.0\.0\.6\]"'
delivered "relay_tls=may: the message went over TLS" "$T/tls" t1@tls.test 'm["tls"]'
check_match "relay_tls=may: TLS logged" 'tls client server=tls\.remote\.test version=TLSv1\.[23].*verified=no' "$(cat "$T/send.err")"
send -o relay_tls=encrypt remote.test enc@remote.test
expect "relay_tls=encrypt, no STARTTLS offered: pending 4.7.4" enc@remote.test \
	'state=pending status=4\.7\.4 .*TLS is required, but was not offered'
send -o relay_tls=encrypt tls.test t2@tls.test
expect "relay_tls=encrypt with a self-signed certificate: sent" t2@tls.test 'state=sent'
send -o relay_tls=verify tls.test t3@tls.test
expect "relay_tls=verify, self-signed, system CAs: pending 4.7.5" t3@tls.test \
	'state=pending status=4\.7\.5 .*certificate verification failed'
send -o relay_tls=verify -o "relay_tls_ca_file=$T/tls.crt" tls.test t4@tls.test
expect "relay_tls=verify with relay_tls_ca_file: sent" t4@tls.test 'state=sent'
delivered "relay_tls=verify: delivered over TLS" "$T/tls" t4@tls.test 'm["tls"]'
send -o relay_tls=verify -o "relay_tls_ca_file=$T/tls.crt" alias.test t5@alias.test
expect "relay_tls=verify, certificate does not name the MX: pending" t5@alias.test \
	'state=pending status=4\.7\.5 .*(hostname mismatch|verification failed)'

# ---- relay_host with AUTH PLAIN ------------------------------------------
send -o 'relay_host=[relay.test]:587' -o relay_tls=verify -o "relay_tls_ca_file=$T/tls.crt" \
	-u relayuser -p relay-secret anywhere.test r1@anywhere.test r2@elsewhere.test
expect "relay_host [relay.test]:587 with AUTH PLAIN: sent" r1@anywhere.test \
	'state=sent status=2\.0\.0 remote="relay\.test \[127\.0\.0\.7\]"'
delivered "relay_host: delivered, authenticated, over TLS" "$T/relay" r1@anywhere.test \
	'm["auth_user"] == "relayuser" and m["tls"] and "r2@elsewhere.test" in m["rcpt_tos"]'
if grep -q 'relay-secret' "$T/send.err"; then fail "password in the log"; else pass "password not in the log"; fi
send -o 'relay_host=[relay.test]:587' -o relay_tls=encrypt -u relayuser -p wrong anywhere.test r3@anywhere.test
expect "relay_host: wrong password: pending (535 becomes 4.7.8)" r3@anywhere.test \
	'state=pending status=4\.7\.8 .*535 5\.7\.8.*in reply to AUTH'
send -o 'relay_host=relaymx.test:587' -o relay_tls=encrypt -u relayuser -p relay-secret anywhere.test r4@anywhere.test
expect "relay_host host:port through its MX: sent" r4@anywhere.test 'state=sent status=2\.0\.0 remote="relay\.test \[127\.0\.0\.7\]"'
send -o 'relay_host=[relay.test]:587' -o relay_tls=encrypt anywhere.test r5@anywhere.test
expect "relay_host without credentials: sent" r5@anywhere.test 'state=sent'
delivered "relay_host without credentials: no AUTH used" "$T/relay" r5@anywhere.test 'm["auth_user"] is None and m["tls"]'
send -o 'relay_host=[127.0.0.9]:2525' anywhere.test r6@anywhere.test
expect "relay_host refusing connections: pending 4.4.1" r6@anywhere.test \
	'state=pending status=4\.4\.1 .*connect to \[127\.0\.0\.9\] port 2525: Connection refused'
send -o 'relay_host=nosuch.test' anywhere.test r7@anywhere.test
expect "relay_host that does not resolve: pending, never bounced" r7@anywhere.test 'state=pending status=4\.4\.3'

# ---- a server that trickles an endless greeting line ----------------------
# one byte every 50 ms, never a LF, for at most 30 s: the whole reply must
# fit in smtp_timeout (a per-read timeout alone would wait forever)
/usr/bin/python3 - <<'EOF' &
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.41", 25)); s.listen(4); s.settimeout(30)
end = time.time() + 30
try:
    c, _ = s.accept(); c.sendall(b"220-")
    while time.time() < end:
        c.sendall(b"A"); time.sleep(0.05)
except Exception:
    pass
EOF
trickle=$!
sleep 0.5
t0=$SECONDS
send -o smtp_timeout=2 '[127.0.0.41]' 'slow@[127.0.0.41]'
expect "an endless trickled reply line: pending 4.4.2" 'slow@[127.0.0.41]' 'state=pending status=4\.4\.2 '
check "the trickled reply was given up within smtp_timeout (2 s; took $((SECONDS - t0)) s)" \
    test $((SECONDS - t0)) -le 6
kill "$trickle" 2>/dev/null; wait "$trickle" 2>/dev/null

# ---- nothing listens -----------------------------------------------------
send '[127.0.0.10]' 'z@[127.0.0.10]'
expect "connection refused: pending 4.4.1" 'z@[127.0.0.10]' 'state=pending status=4\.4\.1 remote="\[127\.0\.0\.10\]" diag="connect to \[127\.0\.0\.10\] port 25: Connection refused"'
send '[IPv6:::1]' 'v6@[IPv6:::1]'
expect "IPv6 address literal, refused: pending 4.4.1" 'v6@[IPv6:::1]' 'state=pending status=4\.4\.1 remote="\[::1\]" diag="connect to \[::1\] port 25: Connection refused"'
send '[bogus]' 'b@[bogus]'
expect "bad address literal: permanent" 'b@[bogus]' 'state=failed status=5\.1\.2 .*Bad address literal'
send remote.test 'bad
injected@remote.test'
check_match "a recipient with a line break is never sent: 5.1.3" \
	'to=<bad\\x0ainjected@remote\.test> relay="" status=bounced dsn=5\.1\.3' "$(cat "$T/send.err")"

done_testing
