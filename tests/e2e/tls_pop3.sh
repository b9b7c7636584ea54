#!/bin/bash
# tls_pop3.sh - pop3d over TLS with real clients under real launchers: STLS
# on one port and implicit TLS (tls=implicit, as on 995) on another, each
# under systemd-socket-activate and openbsd-inetd. openssl s_client
# (-starttls pop3 and implicit), curl (pop3:// --ssl-reqd, pop3s://),
# fetchmail (--ssl and STLS), mpop (STLS and implicit). Messages delivered
# by smtpd over TLS come out of RETR byte for byte (the post-auth process
# talks to the client through the TLS proxy). With auth_require_tls (the
# default), USER/PASS and AUTH PLAIN are refused and hidden before TLS;
# with auth_require_tls = no they work in plaintext.
. "$(dirname "$0")/../lib/lib.sh"
need systemd openbsd-inetd socat openssl curl fetchmail mpop swaks libnet-ssleay-perl libio-socket-ssl-perl

[ -x "$POP3D" ] || { fail "pop3d is built"; done_testing; }
echo "auth_fail_delay = 200ms" >>"$CONF"

mkcert() {
	mkdir -p "$1"
	(cd "$1" &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem \
	    -days 30 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 &&
	chmod 600 key.pem) >"$T/mkcert.log" 2>&1
}
check "make a self-signed certificate for localhost" mkcert "$T/pki"
CA=$T/pki/cert.pem
cat >>"$CONF" <<EOF
tls_cert = $T/pki/cert.pem
tls_key = $T/pki/key.pem
EOF

# three messages for alice, sent over STARTTLS
S=$(free_port); start_ssa "$S" "$SMTPD" -f "$CONF" || fail "ssa smtpd"
for i in 1 2 3; do
	swaks --server 127.0.0.1 --port "$S" --tls --from sender@x.test \
	    --to alice@localhost --header "Subject: msg $i" \
	    --body "line one of $i
.a line with a leading dot
8-bit: caf$(printf '\303\251')
last line of $i" >/dev/null 2>&1 || fail "deliver message $i over TLS"
done
check_eq "3 messages delivered" 3 "$(count_new alice)"
# what RETR must send: the stored messages, CRLF (curl output, LF form)
expected() {
	local f
	for f in "$(maildir alice)"/new/* "$(maildir alice)"/cur/*; do
		[ -f "$f" ] && cat "$f"
	done
}
expected >"$T/expected.lf"

P1=$(free_port); start_ssa "$P1" "$POP3D" -d -f "$CONF" || fail "ssa stls"
P2=$(free_port); start_ssa "$P2" "$POP3D" -d -f "$CONF" -o tls=implicit || fail "ssa implicit"
P3=$(free_port); start_inetd "$P3" "$POP3D" -f "$CONF" || fail "inetd stls"
P4=$(free_port); start_inetd "$P4" "$POP3D" -f "$CONF" -o tls=implicit || fail "inetd implicit"

# ---- plaintext before STLS ----------------------------------------------------
out=$(printf 'CAPA\r\nUSER alice\r\nPASS secret\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH\r\nQUIT\r\n' |
    timeout 10 socat -t 5 - TCP:127.0.0.1:$P1 | tr -d '\r')
check_match "CAPA before TLS lists STLS" '^STLS$' "$out"
check_eq "CAPA before TLS hides USER and SASL" "" "$(printf '%s\n' "$out" | grep -E '^(USER|SASL)')"
check_eq "USER, PASS, AUTH PLAIN refused before TLS" 3 \
    "$(printf '%s\n' "$out" | grep -c 'disallowed without TLS')"
check_eq "no login happened" "" "$(grep 'login user=alice' "$T/ssa.$P1.log")"

for L in ssa:$P1:$P2 inetd:$P3:$P4; do
	IFS=: read -r name ps pi <<<"$L"

	# curl: STLS (--ssl-reqd) and pop3s://, RETR byte for byte
	: >"$T/curl.all"
	for i in 1 2 3; do
		curl -sS --ssl-reqd --cacert "$CA" "pop3://127.0.0.1:$ps/$i" \
		    -u alice:secret >>"$T/curl.all" 2>"$T/curl.err" || fail "$name: curl STLS RETR $i"
	done
	tr -d '\r' <"$T/curl.all" >"$T/curl.lf"
	check "$name: curl --ssl-reqd RETR bytes equal the stored messages" \
	    cmp "$T/curl.lf" "$T/expected.lf"
	: >"$T/curls.all"
	for i in 1 2 3; do
		curl -sS --cacert "$CA" "pop3s://127.0.0.1:$pi/$i" -u alice:secret \
		    >>"$T/curls.all" 2>"$T/curl.err" || fail "$name: curl pop3s RETR $i"
	done
	check "$name: curl pop3s:// RETR bytes equal what curl got over STLS" \
	    cmp "$T/curls.all" "$T/curl.all"
	out=$(curl -sS --cacert "$CA" "pop3s://127.0.0.1:$pi/" -u alice:secret -X UIDL)
	check_match "$name: curl pop3s UIDL" '^3 [!-~]+' "$out"

	# openssl s_client -starttls pop3 and implicit: CAPA inside TLS
	out=$(printf '%s\n' CAPA 'USER alice' 'PASS secret' STAT 'RETR 1' QUIT |
	    timeout 60 "$PY" "$TOP/tests/lib/sclient.py" pop3 -- \
	    openssl s_client -starttls pop3 -connect "127.0.0.1:$ps" \
	    -CAfile "$CA" -verify_return_error -crlf -quiet -ign_eof)
	check_match "$name: s_client -starttls pop3: CAPA offers USER inside TLS" '^USER$' "$out"
	check_eq "$name: s_client -starttls pop3: no STLS inside TLS" "" "$(printf '%s\n' "$out" | grep '^STLS')"
	check_match "$name: s_client -starttls pop3: STAT after USER/PASS" '^\+OK 3 [0-9]+' "$out"
	check_match "$name: s_client -starttls pop3: QUIT" 'signing off' "$out"
	out=$(printf '%s\n' 'USER alice' 'PASS secret' LIST QUIT |
	    timeout 60 "$PY" "$TOP/tests/lib/sclient.py" pop3 --greeting -- \
	    openssl s_client -connect "127.0.0.1:$pi" -CAfile "$CA" \
	    -verify_return_error -crlf -quiet -ign_eof)
	check_match "$name: implicit TLS: greeting inside TLS" '^\+OK inetmail POP3' "$out"
	check_match "$name: implicit TLS: LIST" '^3 [0-9]+$' "$out"

	# fetchmail --ssl (implicit) and STLS (--sslproto TLS1.2+), keep + uidl
	mkdir -p "$T/fm.$name"
	printf 'machine 127.0.0.1 login alice password secret\n' >"$T/fm.$name/.netrc"
	chmod 600 "$T/fm.$name/.netrc"
	for mode in ssl stls; do
		if [ $mode = ssl ]; then port=$pi; opt=(--ssl); else port=$ps; opt=(); fi
		: >"$T/fm.$name/$mode.mbox"
		HOME=$T/fm.$name timeout 60 fetchmail --nosyslog -f /dev/null -p POP3 \
		    -P "$port" "${opt[@]}" --sslproto 'TLS1.2+' --sslcertck \
		    --sslcertfile "$CA" --sslcommonname localhost -u alice -k \
		    --mda "/bin/sh -c 'cat >> $T/fm.$name/$mode.mbox'" 127.0.0.1 \
		    >"$T/fm.$name/$mode.log" 2>&1; rc=$?
		check_eq "$name: fetchmail $mode fetched 3 (rc $rc)" 3 \
		    "$(grep -c '^Subject: msg' "$T/fm.$name/$mode.mbox")"
	done

	# mpop STLS and implicit
	for mode in stls tls; do
		if [ $mode = tls ]; then port=$pi; st=off; else port=$ps; st=on; fi
		: >"$T/mp.mbox"
		timeout 60 mpop --host=127.0.0.1 --port="$port" --tls=on --tls-starttls=$st \
		    --tls-trust-file="$CA" --auth=user --user=alice \
		    --passwordeval='echo secret' --keep=on --uidls-file="$T/mp.uidls.$name.$mode" \
		    --delivery=mbox,"$T/mp.mbox" >"$T/mp.log" 2>&1; rc=$?
		check_eq "$name: mpop $mode exit status" 0 "$rc"
		check_eq "$name: mpop $mode got 3 messages" 3 "$(grep -c '^Subject: msg' "$T/mp.mbox")"
	done
done

# ---- auth_require_tls = no: plaintext logins allowed again --------------------
P5=$(free_port); start_ssa "$P5" "$POP3D" -d -f "$CONF" -o auth_require_tls=no || fail "ssa"
out=$(curl -sS "pop3://127.0.0.1:$P5/" -u alice:secret)
check_match "auth_require_tls=no: plaintext USER/PASS works" '^3 [0-9]+' "$out"
out=$(printf 'CAPA\r\nQUIT\r\n' | timeout 10 socat -t 5 - TCP:127.0.0.1:$P5 | tr -d '\r')
check_match "auth_require_tls=no: CAPA lists USER and STLS" '^USER$' "$out"
check_match "auth_require_tls=no: CAPA lists STLS" '^STLS$' "$out"

# ---- bad key: -ERR [SYS/TEMP], logged ------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.pem" \
    -days 1 -subj /CN=other >/dev/null 2>&1
out=$(printf 'QUIT\r\n' | cw timeout 10 "$POP3D" -d -f "$CONF" -o "tls_key=$T/other.key" 2>"$T/bad.err")
check_match "key not matching the certificate: -ERR [SYS/TEMP]" '^-ERR \[SYS/TEMP\] ' "$out"
check_match "key not matching the certificate: logged" 'does not match' "$(cat "$T/bad.err")"
chmod 000 "$T/pki/key.pem"
if [ "$REAL_UID" = 0 ]; then
	skip "unreadable key (mode 000)" "root reads any file"
else
	out=$(printf 'QUIT\r\n' | cw timeout 10 "$POP3D" -d -f "$CONF" 2>"$T/bad.err")
	check_match "unreadable key: -ERR [SYS/TEMP]" '^-ERR \[SYS/TEMP\] ' "$out"
fi
chmod 600 "$T/pki/key.pem"
out=$(printf 'QUIT\r\n' | cw timeout 10 "$POP3D" -d -f "$CONF" -o "tls_key=$T/missing.key" 2>"$T/bad.err")
check_match "missing key: -ERR [SYS/TEMP]" '^-ERR \[SYS/TEMP\] ' "$out"
check_match "missing key: logged" 'missing.key: No such file' "$(cat "$T/bad.err")"

# no pop3d is left behind (the proxies ended with their sessions)
sleep 0.5
left=$(ps -eo args | grep -c "^$POP3D -d -f $CONF" )
check_eq "no pop3d process left behind" 0 "$left"

if [ "$TESTS_FAILED" != 0 ]; then launcher_logs 40; fi
done_testing
