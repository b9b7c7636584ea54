#!/bin/bash
# smtp_auth.sh - SMTP AUTH (RFC 4954) and the roles (issue 6) with real
# clients under systemd-socket-activate on loopback, PAM through
# pam_wrapper: smtpd -o role=submission on a STARTTLS port (587-style) and
# an implicit TLS port (465-style), and the default role mx.
#   - swaks, msmtp and Python smtplib log in (PLAIN and LOGIN) on both
#     submission ports and send to local recipients: stored byte for byte,
#     Received: says "with ESMTPSA"
#   - AUTH before TLS is refused (538 5.7.11) and not offered in EHLO; MAIL
#     before AUTH gets 530; a wrong password 535; a sender that is not the
#     user's 553 5.7.1 (a +tag of the user's own address passes)
#   - relaying: submission refuses an unauthenticated client at MAIL; mx
#     offers no AUTH and refuses a remote recipient from 127.0.0.2 (not in
#     trusted_networks) but queues it from 127.0.0.1 (trusted), and an
#     alias forwarding to another domain is queued for anyone
. "$(dirname "$0")/../lib/lib.sh"
need systemd iproute2 openssl msmtp swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl procps util-linux

[ -x "$SMTPD" ] || { fail "smtpd is built"; done_testing; }
SMTPD_PAM=1	# AUTH needs PAM in the monitor (pam_wrapper)

mkcert() {
	mkdir -p "$1"
	(cd "$1" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout ca.key -out ca.pem -days 30 -subj /CN=inetmail-test-CA \
	    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout key.pem -out req.pem -subj /CN=localhost &&
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext &&
	openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial \
	    -days 30 -extfile ext -out leaf.pem &&
	cat leaf.pem ca.pem >cert.pem && chmod 600 key.pem) >"$T/mkcert.log" 2>&1
}
check "make a CA and a localhost certificate" mkcert "$T/pki"
CA=$T/pki/ca.pem
# The queue runner (kicked after a message is queued) must never look
# anything up in DNS here: every remote recipient goes to a dead port.
DEAD=$(free_port)
{
	echo "tls_cert = $T/pki/cert.pem"
	echo "tls_key = $T/pki/key.pem"
	echo "auth_fail_delay = 100ms"
	echo "relay_host = [127.0.0.1]:$DEAD"
} >>"$CONF"
# an alias that forwards to another domain (through the queue)
printf 'fwd: carol, friend@elsewhere.test\n' >>"$T/aliases"
check "newaliases with a forwarding alias" cw "$MAILDB" -f "$CONF" newaliases

P587=$(free_port); start_ssa "$P587" "$SMTPD" -d -f "$CONF" -o role=submission || fail "ssa 587"
P465=$(free_port); start_ssa "$P465" "$SMTPD" -d -f "$CONF" -o role=submission -o tls=implicit || fail "ssa 465"
# role mx trusting loopback's 127.0.0.1 (the default trusted_networks;
# lib.sh's configuration trusts nobody)
PMX=$(free_port); start_ssa "$PMX" "$SMTPD" -d -f "$CONF" -o "trusted_networks=127.0.0.1 ::1" || fail "ssa mx"

# A raw client: cli PORT SRC MODE < lines; MODE plain|implicit; a line
# "STARTTLS" upgrades after its 220; after a 354 the lines up to "." are
# the message. Prints every reply line.
cat >"$T/cli.py" <<'PYEOF'
import socket, ssl, sys
port, src, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = socket.socket()
s.settimeout(20)
s.bind((src, 0))
s.connect(("127.0.0.1", port))
if mode == "implicit":
    s = ctx.wrap_socket(s)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if not l:
            print("<closed>"); return None
        l = l.decode("latin-1").rstrip("\r\n")
        print(l)
        if len(l) < 4 or l[3] != "-":
            return l
reply()
in_data = False
for line in sys.stdin.read().splitlines():
    s.sendall(line.encode("latin-1") + b"\r\n")
    if in_data:
        if line != ".":
            continue
        in_data = False
    r = reply()
    if r is None:
        break
    if r.startswith("354"):
        in_data = True
    if line.upper() == "STARTTLS" and r.startswith("220"):
        s = ctx.wrap_socket(s)
        f = s.makefile("rb")
PYEOF
cli() { timeout 60 "$PY" "$T/cli.py" "$@" 2>&1; }

mkdir -p "$T/msg"
# mkmsg MARKER: $T/msg/MARKER (LF), .nonl for swaks
mkmsg() {
	"$PY" - "$T/msg/$1" "$1" <<'PYEOF'
import sys
path, marker = sys.argv[1:3]
lines = ["From: Alice <alice@example.test>", "To: bob@example.test",
         "Date: Thu, 01 Jan 2026 00:00:00 +0000",
         "Message-ID: <%s@example.test>" % marker, "Subject: auth %s" % marker,
         "", "Body of %s." % marker, ".a line with a leading dot", "last line"]
data = ("\n".join(lines) + "\n").encode()
open(path, "wb").write(data)
open(path + ".nonl", "wb").write(data[:-1])
PYEOF
}
# delivered WHAT MARKER SENDER HELO: bob has it byte for byte, with ESMTPSA
delivered() {
	check_delivered "$1: stored byte for byte" bob "$2" "$T/msg/$2" "$3" "$4"
	local f rcv
	f=$(grep -l "$2" "$(maildir bob)"/new/* 2>/dev/null | head -n 1)
	rcv=$([ -n "$f" ] && sed -n '/^Received:/,/^[^ \t]/p' "$f" | head -n 5)
	check_match "$1: Received: says ESMTPSA (RFC 3848)" 'with ESMTPSA id' "$rcv"
}

# ---- swaks: PLAIN and LOGIN, STARTTLS and implicit TLS ------------------
m=swaks-plain; mkmsg "$m"
check "swaks --tls --auth PLAIN on the STARTTLS port" swaks --server 127.0.0.1 \
    --port "$P587" --tls --auth PLAIN --auth-user alice --auth-password secret \
    --helo swaks.test --from alice@example.test --to bob@example.test \
    --data "@$T/msg/$m.nonl"
delivered "swaks PLAIN 587" "$m" alice@example.test swaks.test
m=swaks-login; mkmsg "$m"
check "swaks --tls-on-connect --auth LOGIN on the implicit TLS port" swaks \
    --server 127.0.0.1 --port "$P465" --tls-on-connect --auth LOGIN \
    --auth-user alice --auth-password secret --helo swaks.test \
    --from alice+lists@example.test --to bob@example.test --data "@$T/msg/$m.nonl"
delivered "swaks LOGIN 465" "$m" alice+lists@example.test swaks.test

# ---- msmtp ----------------------------------------------------------------
m=msmtp-587; mkmsg "$m"
check "msmtp STARTTLS + AUTH PLAIN" msmtp --host=127.0.0.1 --port="$P587" \
    --tls=on --tls-starttls=on --tls-trust-file="$CA" --auth=plain --user=alice \
    --passwordeval='echo secret' --domain=msmtp.test --from=alice@example.test \
    bob@example.test <"$T/msg/$m"
delivered "msmtp 587" "$m" alice@example.test msmtp.test
m=msmtp-465; mkmsg "$m"
check "msmtp implicit TLS + AUTH LOGIN" msmtp --host=127.0.0.1 --port="$P465" \
    --tls=on --tls-starttls=off --tls-trust-file="$CA" --auth=login --user=alice \
    --passwordeval='echo secret' --domain=msmtp.test --from=alice@example.test \
    bob@example.test <"$T/msg/$m"
delivered "msmtp 465" "$m" alice@example.test msmtp.test
out=$(msmtp --host=127.0.0.1 --port="$P587" --tls=on --tls-starttls=on \
    --tls-trust-file="$CA" --auth=plain --user=alice --passwordeval='echo wrong' \
    --from=alice@example.test bob@example.test <"$T/msg/$m" 2>&1)
check_match "msmtp with a wrong password: 535 5.7.8" '535 5\.7\.8' "$out"

# ---- Python smtplib -------------------------------------------------------
for how in starttls:$P587 implicit:$P465; do
	m=smtplib-${how%%:*}; mkmsg "$m"
	out=$("$PY" - "${how%%:*}" "${how#*:}" "$T/msg/$m" "$CA" 2>&1 <<'PYEOF'
import smtplib, ssl, sys
how, port, path, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
data = open(path, "rb").read().replace(b"\n", b"\r\n")
if how == "implicit":
    c = smtplib.SMTP_SSL("localhost", port, local_hostname="smtplib.test",
                         context=ctx, timeout=30)
else:
    c = smtplib.SMTP("localhost", port, local_hostname="smtplib.test", timeout=30)
    c.starttls(context=ctx)
c.ehlo("smtplib.test")
print("auth:", c.esmtp_features.get("auth"))
print(c.login("alice", "secret"))
print(c.sendmail("alice@example.test", ["bob@example.test"], data))
c.quit()
PYEOF
)
	check_match "smtplib ${how%%:*}: AUTH PLAIN LOGIN offered after TLS" 'auth: +PLAIN LOGIN' "$out"
	check_match "smtplib ${how%%:*}: login accepted (235)" '\(235, ' "$out"
	delivered "smtplib ${how%%:*}" "$m" alice@example.test smtplib.test
done

# ---- refusals on submission ---------------------------------------------
out=$(printf 'EHLO raw.test\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\nMAIL FROM:<alice@example.test>\nQUIT\n' |
    cli "$P587" 127.0.0.1 plain)
check_eq "587 before STARTTLS: AUTH not offered" "" "$(grep AUTH <<<"$out" | grep '^250')"
check_match "587: AUTH before TLS refused with 538 5.7.11" \
    '^538 5\.7\.11 Encryption required for requested authentication mechanism' "$out"
check_match "587: MAIL without AUTH: 530 5.7.0" '^530 5\.7\.0 Authentication required' "$out"
out=$(printf 'EHLO raw.test\nSTARTTLS\nEHLO raw.test\nMAIL FROM:<alice@example.test>\nRCPT TO:<someone@elsewhere.test>\nQUIT\n' |
    cli "$P587" 127.0.0.1 plain)
check_match "587 after STARTTLS: AUTH offered" '^250-AUTH PLAIN LOGIN' "$out"
check_match "587: unauthenticated relay attempt refused at MAIL (530)" '^530 5\.7\.0 ' "$out"
check_eq "587: ... and the RCPT is not accepted" "" "$(grep '^250 2\.1\.5' <<<"$out")"
out=$(printf 'EHLO raw.test\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\nMAIL FROM:<bob@example.test>\nMAIL FROM:<fwd@example.test>\nMAIL FROM:<alice@elsewhere.test>\nMAIL FROM:<alice@example.test>\nRCPT TO:<carol@localhost>\nQUIT\n' |
    cli "$P465" 127.0.0.1 implicit)
check_match "465: login" '^235 2\.7\.0 ' "$out"
check_match "465: another user's address: 553 5.7.1" \
    '^553 5\.7\.1 <bob@example\.test>: Sender address rejected: not owned by user alice' "$out"
check_match "465: an alias that is not alice's alone: 553 5.7.1" '^553 5\.7\.1 <fwd@example\.test>' "$out"
check_match "465: a remote address: 553 5.7.1" '^553 5\.7\.1 <alice@elsewhere\.test>' "$out"
check_match "465: her own address: 250" '^250 2\.1\.0 Ok' "$out"
m=swaks-wrongsender; mkmsg "$m"
out=$(swaks --server 127.0.0.1 --port "$P587" --tls --auth PLAIN --auth-user alice \
    --auth-password secret --from bob@example.test --to carol@localhost \
    --data "@$T/msg/$m.nonl" 2>&1)
check_match "swaks: wrong sender refused with 553 5.7.1" '^<~?\*+ +553 5\.7\.1 ' "$out"
check_eq "... and nothing was delivered" 0 "$(grep -l "$m" "$(maildir carol)"/new/* 2>/dev/null | wc -l)"
out=$(printf 'EHLO raw.test\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\nMAIL FROM:<alice@example.test>\nRCPT TO:<friend@elsewhere.test>\nRSET\nQUIT\n' |
    cli "$P465" 127.0.0.1 implicit)
check_match "465 authenticated: a remote recipient is accepted (relay)" '^250 2\.1\.5 Ok' "$out"
out=$(printf 'EHLO raw.test\nAUTH LOGIN\nYWxpY2U=\nd3Jvbmc=\nQUIT\n' | cli "$P465" 127.0.0.1 implicit)
check_match "465: wrong password: 535 5.7.8" '^535 5\.7\.8 Authentication credentials invalid' "$out"

# ---- role mx ----------------------------------------------------------------
qcount() { find "$T/queue/msg" -type f 2>/dev/null | wc -l; }
out=$(printf 'EHLO raw.test\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\nMAIL FROM:<x@elsewhere.test>\nRCPT TO:<someone@elsewhere.test>\nRCPT TO:<bob@example.test>\nQUIT\n' |
    cli "$PMX" 127.0.0.2 plain)
check_eq "mx: no AUTH offered" "" "$(grep '^250.AUTH' <<<"$out")"
check_match "mx: AUTH refused (503)" '^503 5\.5\.1 Error: authentication not enabled' "$out"
check_match "mx from 127.0.0.2 (not trusted): relay refused 554 5.7.1" \
    '^554 5\.7\.1 <someone@elsewhere\.test>: Relay access denied' "$out"
check_match "mx from 127.0.0.2: a local recipient is accepted" '^250 2\.1\.5 Ok' "$out"
check_eq "nothing queued yet" 0 "$(qcount)"

m=mx-trusted; mkmsg "$m"
out=$({ printf 'EHLO trusted.test\nMAIL FROM:<x@elsewhere.test>\nRCPT TO:<someone@elsewhere.test>\nRCPT TO:<bob@example.test>\nDATA\n'
	sed 's/^\./../' "$T/msg/$m"; printf '.\nQUIT\n'; } | cli "$PMX" 127.0.0.1 plain)
check_match "mx from 127.0.0.1 (trusted_networks): remote recipient accepted" \
    '^250 2\.0\.0 Ok: queued as' "$out"
check_eq "mx trusted: one message in the queue" 1 "$(qcount)"
q=$(find "$T/queue/msg" -type f | head -n 1)
check_match "queued copy: our Received: first, no Return-Path" '^Received: from trusted\.test ' \
    "$(head -n 1 "$q" 2>/dev/null)"
check_eq "queued copy: the message as sent after the Received: header" "$(cat "$T/msg/$m")" \
    "$(awk 'h && !/^[ \t]/ {h = 0} NR == 1 {h = 1} !h' "$q" 2>/dev/null)"
check_eq "mx trusted: the local copy too" 1 "$(grep -l "$m" "$(maildir bob)"/new/* | wc -l)"
check_eq "queue_dir belongs to unpriv_user (uid 990), 0700" "990 700" \
    "$(stat -c '%u %a' "$T/queue" 2>/dev/null || true)"

m=mx-alias; mkmsg "$m"
out=$({ printf 'EHLO someone.test\nMAIL FROM:<x@elsewhere.test>\nRCPT TO:<fwd@example.test>\nDATA\n'
	sed 's/^\./../' "$T/msg/$m"; printf '.\nQUIT\n'; } | cli "$PMX" 127.0.0.2 plain)
check_match "mx from 127.0.0.2: forwarding alias accepted" '^250 2\.0\.0 Ok: queued as' "$out"
check_eq "forwarding alias: a second message in the queue" 2 "$(qcount)"
check_eq "forwarding alias: carol has her copy" 1 "$(grep -l "$m" "$(maildir carol)"/new/* | wc -l)"
if cw "$MAILDB" -f "$CONF" queue list >"$T/qlist" 2>&1; then
	check_match "maildb queue list: the forwarded recipient" 'friend@elsewhere\.test' "$(cat "$T/qlist")"
fi

# Every queued message kicked a queue runner (smtpd -q, detached: its own
# session, so stopping the launchers does not stop it) that defers its
# remote recipients and writes into $T/queue and, with -d, into the ssa
# logs. One still at work when lib.sh removes $T recreates files there and
# the directory is left behind: wait until no smtpd of this test runs (the
# runner and its worker, a kick between fork and exec, a monitor) and
# nobody holds runner.lock.
runners_done() {
	local i
	for ((i = 0; i < 300; i++)); do
		if ! pgrep -f -- "^([^ ]*/)?smtpd .*-f $CONF( |\$)" >/dev/null &&
		    { [ ! -f "$T/queue/runner.lock" ] || flock -n "$T/queue/runner.lock" true; }; then
			[ "$i" = 0 ] || echo "waited $((i / 10)).$((i % 10))s for them"
			return 0
		fi
		sleep 0.1
	done
	pgrep -af -- "^([^ ]*/)?smtpd .*-f $CONF( |\$)" | sed 's/^/# still running: /'
	return 1
}
check "the queue runners kicked by this test have finished" runners_done

log=$(cat "$T"/ssa.*.log)
check_match "log: login user=alice ... status=ok" \
    'login user=alice ip=127\.0\.0\.1 method=(PLAIN|LOGIN) status=ok' "$log"
check_match "log: a failed login" \
    'login user=alice ip=127\.0\.0\.1 method=(PLAIN|LOGIN) status=failed reason=bad_password' "$log"
check_match "log: relay denied" 'event=relay_denied ip=127\.0\.0\.2' "$log"
check_eq "no password in the log" "" "$(grep -a 'secret' <<<"$log" | grep -v 'passdb')"

if [ "$TESTS_FAILED" != 0 ]; then launcher_logs 40; fi
done_testing
