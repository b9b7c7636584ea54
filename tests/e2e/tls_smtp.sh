#!/bin/bash
# tls_smtp.sh - smtpd over TLS with real clients under real launchers:
# STARTTLS on one port and implicit TLS (tls=implicit, as on 465) on
# another, each under systemd-socket-activate and openbsd-inetd. openssl
# s_client, swaks (--tls, --tls-on-connect), msmtp, curl (smtp:// with
# --ssl-reqd, smtps://) deliver; each copy must be stored byte for byte,
# with "with ESMTPS" and "(using TLSv1.x with cipher ...)" in Received:.
# Also: TLS 1.0/1.1 refused by default, a certificate with a chain file,
# and a bad key (unreadable, not matching) answered with 421 and logged.
. "$(dirname "$0")/../lib/lib.sh"
need systemd openbsd-inetd openssl curl msmtp swaks libnet-ssleay-perl libio-socket-ssl-perl

[ -x "$SMTPD" ] || { fail "smtpd is built"; done_testing; }

# mkcert DIR: a CA, a server certificate for localhost/127.0.0.1 signed by
# it (DIR/cert.pem: leaf then CA, a chain file), DIR/key.pem, DIR/ca.pem.
mkcert() {
	mkdir -p "$1"
	(cd "$1" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout ca.key -out ca.pem -days 30 -subj /CN=inetmail-test-CA \
	    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign &&
	openssl req -newkey rsa:2048 -nodes -keyout key.pem -out req.pem \
	    -subj /CN=localhost &&
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext &&
	openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial \
	    -days 30 -extfile ext -out leaf.pem &&
	cat leaf.pem ca.pem >cert.pem && chmod 600 key.pem) >"$T/mkcert.log" 2>&1
}
check "make a CA and a localhost certificate with a chain" mkcert "$T/pki"
CA=$T/pki/ca.pem
cat >>"$CONF" <<EOF
tls_cert = $T/pki/cert.pem
tls_key = $T/pki/key.pem
EOF

P1=$(free_port); start_ssa "$P1" "$SMTPD" -d -f "$CONF" || fail "ssa starttls"
P2=$(free_port); start_ssa "$P2" "$SMTPD" -d -f "$CONF" -o tls=implicit || fail "ssa implicit"
P3=$(free_port); start_inetd "$P3" "$SMTPD" -f "$CONF" || fail "inetd starttls"
P4=$(free_port); start_inetd "$P4" "$SMTPD" -f "$CONF" -o tls=implicit || fail "inetd implicit"

mkdir -p "$T/msg"
# mkmsg MARKER: $T/msg/MARKER (LF) and MARKER.crlf
mkmsg() {
	"$PY" - "$T/msg/$1" "$1" <<'EOF'
import sys
path, marker = sys.argv[1:3]
lines = ["From: Sender <sender@example.org>", "To: alice@localhost",
         "Date: Thu, 01 Jan 2026 00:00:00 +0000",
         "Message-ID: <%s@example.org>" % marker, "Subject: tls %s" % marker,
         "", "Body of %s." % marker, ".a line with a leading dot", "..two dots",
         ".", "trailing spaces   ", "\tindented", "", "8-bit: caf\u00e9",
         "x" * 998, "last line"]
data = ("\n".join(lines) + "\n").encode("utf-8")
open(path, "wb").write(data)
open(path + ".crlf", "wb").write(data.replace(b"\n", b"\r\n"))
open(path + ".nonl", "wb").write(data[:-1])   # swaks adds the last newline
EOF
}

# delivered WHAT MARKER HELO: stored byte-exact, Received: says TLS.
delivered() {
	check_delivered "$1: stored byte for byte" alice "$2" "$T/msg/$2" sender@example.org "$3"
	local f
	f=$(grep -l "$2" "$(maildir alice)"/new/* 2>/dev/null | head -n 1)
	local rcv
	rcv=$([ -n "$f" ] && sed -n '/^Received:/,/^[^ \t]/p' "$f" | head -n 5)
	check_match "$1: Received: with ESMTPS and the TLS version/cipher" \
	    'using TLSv1\.[23] with cipher [A-Z0-9_-]+' "$rcv"
	check_match "$1: Received: protocol ESMTPS" 'with ESMTPS id' "$rcv"
}

for L in ssa:$P1:$P2 inetd:$P3:$P4; do
	IFS=: read -r name ps pi <<<"$L"

	# openssl s_client -starttls smtp, one command at a time
	m=sclient-$name; mkmsg "$m"
	{ printf 'EHLO sclient.test\nMAIL FROM:<sender@example.org>\n'
	  printf 'RCPT TO:<alice@localhost>\nDATA\n'
	  sed 's/^\./../' "$T/msg/$m"; printf '.\nQUIT\n'
	} | timeout 60 "$PY" "$TOP/tests/lib/sclient.py" smtp -- \
	    openssl s_client -starttls smtp -connect "127.0.0.1:$ps" \
	    -CAfile "$CA" -verify_return_error -verify_hostname localhost -crlf \
	    -quiet -ign_eof >"$T/sclient.out" 2>&1
	check_match "$name: s_client -starttls smtp: 250 queued" '^250 2\.0\.0 Ok: queued' \
	    "$(tr -d '\r' <"$T/sclient.out")"
	delivered "$name s_client starttls" "$m" sclient.test

	# implicit TLS with s_client
	m=sclient-implicit-$name; mkmsg "$m"
	{ sleep 0.5; printf 'EHLO implicit.test\n'; sleep 0.3
	  printf 'MAIL FROM:<sender@example.org>\n'; sleep 0.2
	  printf 'RCPT TO:<alice@localhost>\n'; sleep 0.2; printf 'DATA\n'; sleep 0.3
	  sed 's/^\./../' "$T/msg/$m"; printf '.\n'; sleep 0.5; printf 'QUIT\n'; sleep 0.5
	} | timeout 20 openssl s_client -connect "127.0.0.1:$pi" -CAfile "$CA" \
	    -verify_return_error -crlf -quiet -ign_eof >"$T/sclient.out" 2>&1
	out=$(tr -d '\r' <"$T/sclient.out")
	check_match "$name: implicit TLS: greeting inside TLS" '^220 mx\.test ESMTP' "$out"
	check_eq "$name: implicit TLS: no STARTTLS offered" "" "$(printf '%s\n' "$out" | grep STARTTLS)"
	delivered "$name s_client implicit" "$m" implicit.test

	# swaks --tls / --tls-on-connect
	m=swaks-$name; mkmsg "$m"
	check "$name: swaks --tls" swaks --server 127.0.0.1 --port "$ps" --tls \
	    --helo swaks.test --from sender@example.org --to alice@localhost \
	    --data "@$T/msg/$m.nonl"
	delivered "$name swaks --tls" "$m" swaks.test
	m=swaks-onconnect-$name; mkmsg "$m"
	check "$name: swaks --tls-on-connect" swaks --server 127.0.0.1 --port "$pi" \
	    --tls-on-connect --helo swaks.test --from sender@example.org \
	    --to alice@localhost --data "@$T/msg/$m.nonl"
	delivered "$name swaks --tls-on-connect" "$m" swaks.test

	# msmtp, STARTTLS and implicit, with certificate checks
	m=msmtp-$name; mkmsg "$m"
	check "$name: msmtp starttls" msmtp --host=127.0.0.1 --port="$ps" --tls=on \
	    --tls-starttls=on --tls-trust-file="$CA" --domain=msmtp.test \
	    --from=sender@example.org alice@localhost <"$T/msg/$m"
	delivered "$name msmtp starttls" "$m" msmtp.test
	m=msmtp-implicit-$name; mkmsg "$m"
	check "$name: msmtp implicit TLS" msmtp --host=127.0.0.1 --port="$pi" --tls=on \
	    --tls-starttls=off --tls-trust-file="$CA" --domain=msmtp.test \
	    --from=sender@example.org alice@localhost <"$T/msg/$m"
	delivered "$name msmtp implicit" "$m" msmtp.test

	# curl smtp:// --ssl-reqd and smtps://
	m=curl-$name; mkmsg "$m"
	check "$name: curl smtp --ssl-reqd" curl -sS --ssl-reqd --cacert "$CA" \
	    "smtp://127.0.0.1:$ps/curl.test" --mail-from sender@example.org \
	    --mail-rcpt alice@localhost -T "$T/msg/$m.crlf"
	delivered "$name curl --ssl-reqd" "$m" curl.test
	m=curl-smtps-$name; mkmsg "$m"
	check "$name: curl smtps://" curl -sS --cacert "$CA" \
	    "smtps://127.0.0.1:$pi/curl.test" --mail-from sender@example.org \
	    --mail-rcpt alice@localhost -T "$T/msg/$m.crlf"
	delivered "$name curl smtps" "$m" curl.test
done

# ---- protocol versions ---------------------------------------------------
for v in tls1 tls1_1; do
	out=$( (sleep 1; echo QUIT) | timeout 10 openssl s_client -connect "127.0.0.1:$P2" -$v \
	    -cipher 'DEFAULT:@SECLEVEL=0' 2>&1)
	check_eq "-$v refused by default (no greeting)" "" \
	    "$(printf '%s\n' "$out" | grep -E '^(220|554) ')"
	check_match "-$v refused by default (no cipher)" 'Cipher is \(NONE\)|alert' "$out"
done
out=$( (sleep 1; echo QUIT) | timeout 10 openssl s_client -connect "127.0.0.1:$P2" -tls1_2 -CAfile "$CA" 2>&1)
check_match "TLS 1.2 accepted" '^220 mx\.test' "$out"
out=$( (sleep 1; echo QUIT) | timeout 10 openssl s_client -connect "127.0.0.1:$P2" -tls1_3 -CAfile "$CA" 2>&1)
check_match "TLS 1.3 accepted, chain verified" 'Verify return code: 0 \(ok\)' "$out"
check_match "handshake failure for an old version is logged" \
    'tls handshake failed reason=.*(unsupported protocol|no protocols available|version)' \
    "$(cat "$T/ssa.$P2.log")"

# ---- bad key material: 421, a clear log line, no hang ----------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.pem" \
    -days 1 -subj /CN=other >/dev/null 2>&1
out=$(printf 'QUIT\r\n' | cw timeout 10 "$SMTPD" -d -f "$CONF" -o "tls_key=$T/other.key" 2>"$T/bad.err")
check_match "key not matching the certificate: 421" '^421 4\.3\.0 ' "$out"
check_match "key not matching the certificate: logged" 'does not match' "$(cat "$T/bad.err")"
out=$(printf 'QUIT\r\n' | cw timeout 10 "$SMTPD" -d -f "$CONF" -o "tls_key=$T/nonexistent.key" 2>"$T/bad.err")
check_match "unreadable key: 421" '^421 4\.3\.0 ' "$out"
check_match "unreadable key: logged with the reason" 'tls_key .*nonexistent.key: No such file' "$(cat "$T/bad.err")"
out=$(printf 'QUIT\r\n' | cw timeout 10 "$SMTPD" -d -f "$CONF" -o tls=implicit -o tls_cert= 2>"$T/bad.err")
check_match "tls=implicit without a certificate: 421" '^421 4\.3\.0 ' "$out"
out=$(printf 'QUIT\r\n' | cw timeout 10 "$SMTPD" -d -f "$CONF" -o tls=sometimes 2>"$T/bad.err")
check_match "a bad tls value: 421" '^421 4\.3\.0 ' "$out"
# without tls_cert nothing changes: no STARTTLS, STARTTLS -> 502
out=$(printf 'EHLO a\r\n' | cw timeout 10 "$SMTPD" -d -f "$CONF" -o tls_cert= 2>/dev/null)
check_eq "no certificate: STARTTLS not offered" "" "$(printf '%s\n' "$out" | grep STARTTLS)"

if [ "$TESTS_FAILED" != 0 ]; then launcher_logs 40; fi
done_testing
