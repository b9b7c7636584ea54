#!/bin/bash
# privsep_monitor.sh - smtpd's root monitor holds its rules by itself, for a
# session that skips its own checks (a compromised session child): the
# requests go straight to the monitor through tests/tools/monitor_probe
# (smtpd's monitor with a scripted session child, as unpriv_user in the
# chroot, over the real frames; see its header):
#   - REQ_TLS when TLS is not configured, or a second one: refused (the
#     session is killed)
#   - REQ_AUTH before REQ_TLS with auth_require_tls = yes: refused, the
#     session killed (421), no PAM conversation; after REQ_TLS, or with
#     tls = implicit, or auth_require_tls = no, the same AUTH logs in
#   - AUTH on role mx, AUTH after a login, a session-only request
#     (REQ_BOUNCE): refused, the session killed
#   - a remote RCPT (REQ_TX_RCPT) from an untrusted client without AUTH:
#     ANS_RELAY on both roles (from a trusted address, or after AUTH: OK);
#     REQ_TLS forgets a login (RFC 3207 4.2)
#   - submission: a sender that is not the login's (REQ_SENDER, and again
#     at REQ_DELIVER) and a DELIVER without AUTH are refused; the login's
#     own sender is delivered
. "$(dirname "$0")/../lib/lib.sh"
need openssl

PROBE=$B/tests/tools/monitor_probe
[ -x "$PROBE" ] || { fail "tests/tools/monitor_probe is built"; done_testing; }

mkdir -p "$T/pki"
check "a self-signed localhost certificate" openssl req -x509 -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/pki/key.pem" \
    -out "$T/pki/cert.pem" -days 30 -subj /CN=localhost
chmod 600 "$T/pki/key.pem"
TLSOPT=(-o "tls_cert=$T/pki/cert.pem" -o "tls_key=$T/pki/key.pem")

# probe NAME [-a ADDR] OPTIONS... <<SCRIPT: the monitor's transcript (the
# requests "> ...", its answers "< ...", smtpd's 421 when it killed the
# session) in $OUT; the log in $T/NAME.log.
probe() {
	local -a addr=()
	NAME=$1; shift
	if [ "$1" = -a ]; then addr=(-a "$2"); shift 2; fi
	OUT=$(timeout 60 env "${CWRAP_ENV[@]}" "$PROBE" "${addr[@]}" -d \
	    -f "$CONF" "${TLSOPT[@]}" -o auth_fail_delay=0 "$@" \
	    2>"$T/$NAME.log" | tr -d '\r')
}
# expect WHAT LINES: the transcript is exactly LINES.
expect() {
	if [ "$OUT" = "$2" ]; then
		pass "$1"
	else
		fail "$1"
		printf '%s\n' "$2" | sed 's/^/#   expected: /'
		printf '%s\n' "$OUT" | sed 's/^/#        got: /'
		tail -n 15 "$T/$NAME.log" | sed 's/^/#   log: /'
	fi
}
# The monitor's refusal: it logs the bad request, kills the session, and in
# plaintext (no REQ_TLS yet, not implicit TLS) writes smtpd's 421.
KILLED="421 4.3.0 Internal error, closing connection"
# killed WHAT TYPE: the log says the monitor refused request TYPE and
# killed the session.
killed() {
	check "$1" grep -q "monitor: bad request type $2 from session" "$T/$NAME.log"
	check "  and the session was killed" grep -q 'session failed: signal 9' \
	    "$T/$NAME.log"
}

# ---- AUTH and TLS (auth_require_tls = yes, the default) -----------------
probe auth_plain -o role=submission -o tls=starttls <<'EOF'
AUTH alice secret PLAIN
EOF
expect "submission, STARTTLS: REQ_AUTH before REQ_TLS kills the session" \
"> AUTH alice secret PLAIN
$KILLED"
killed "  the monitor refused REQ_AUTH" 8
check "  and no login was tried (no PAM conversation)" \
    bash -c "! grep -q 'login user=' '$T/auth_plain.log'"

probe auth_login -o role=submission -o tls=starttls <<'EOF'
AUTH alice wrong LOGIN
EOF
expect "REQ_AUTH (LOGIN, a wrong password) before REQ_TLS: killed, not 535" \
"> AUTH alice wrong LOGIN
$KILLED"

probe auth_tls -o role=submission -o tls=starttls <<'EOF'
TLS
AUTH alice secret PLAIN
EOF
expect "after REQ_TLS the same REQ_AUTH logs in" \
"> TLS
> AUTH alice secret PLAIN
< OK alice"
check "  (the monitor logged the login)" grep -q 'login user=alice .*status=ok' \
    "$T/auth_tls.log"

# (the probe then waits for an answer to RCPT, so the kill is what ends it;
# whether it wrote RCPT before the kill is a race, so only the log counts)
probe tls_none -o role=submission -o tls=none <<'EOF'
TLS
RCPT alice@example.test
EOF
killed "tls = none: a session that claims REQ_TLS is refused" 5

probe tls_twice -o role=submission -o tls=starttls <<'EOF'
TLS
TLS
RCPT alice@example.test
EOF
killed "REQ_TLS twice: refused at the second" 5

probe auth_implicit -o role=submission -o tls=implicit <<'EOF'
AUTH alice secret PLAIN
EOF
expect "tls = implicit: REQ_AUTH without REQ_TLS logs in" \
"> AUTH alice secret PLAIN
< OK alice"

probe auth_no_tls_needed -o role=submission -o tls=starttls -o auth_require_tls=no <<'EOF'
AUTH alice secret PLAIN
EOF
expect "auth_require_tls = no: REQ_AUTH in plaintext logs in" \
"> AUTH alice secret PLAIN
< OK alice"

probe auth_mx -o role=mx -o tls=starttls <<'EOF'
TLS
AUTH alice secret PLAIN
EOF
expect "role mx: REQ_AUTH (even in TLS) gets no answer" \
"> TLS
> AUTH alice secret PLAIN"
killed "  the monitor refused it" 8

probe auth_twice -o role=submission -o tls=starttls <<'EOF'
TLS
AUTH alice secret PLAIN
AUTH bob secret PLAIN
EOF
expect "a second REQ_AUTH after a login gets no answer" \
"> TLS
> AUTH alice secret PLAIN
< OK alice
> AUTH bob secret PLAIN"
killed "  the monitor refused it" 8

probe bounce -o role=mx <<'EOF'
RAW 10
EOF
expect "REQ_BOUNCE (the queue runner's, never a session's) kills the session" \
"> RAW 10
$KILLED"
killed "  the monitor refused it" 10

# ---- relaying -----------------------------------------------------------
probe relay_mx -a 127.0.0.2 -o role=mx -o trusted_networks=127.0.0.1/32 <<'EOF'
TX_RCPT carol@remote.test ''
RCPT alice@example.test
TX_RCPT alice@example.test ''
EOF
expect "role mx, untrusted 127.0.0.2: a remote REQ_TX_RCPT is ANS_RELAY" \
"> TX_RCPT carol@remote.test ''
< RELAY
> RCPT alice@example.test
< OK
> TX_RCPT alice@example.test ''
< OK"

probe relay_mx_trusted -a 127.0.0.1 -o role=mx -o trusted_networks=127.0.0.1/32 <<'EOF'
TX_RCPT carol@remote.test ''
EOF
expect "role mx, trusted 127.0.0.1: the same REQ_TX_RCPT is OK" \
"> TX_RCPT carol@remote.test ''
< OK"

probe relay_sub -a 127.0.0.2 -o role=submission -o tls=starttls \
    -o trusted_networks=127.0.0.1/32 <<'EOF'
TX_RCPT carol@remote.test alice@example.test
TLS
TX_RCPT carol@remote.test alice@example.test
AUTH alice secret PLAIN
TX_RCPT carol@remote.test alice@example.test
TLS
TX_RCPT carol@remote.test alice@example.test
EOF
expect "role submission, untrusted: ANS_RELAY until AUTH; a second REQ_TLS kills" \
"> TX_RCPT carol@remote.test alice@example.test
< RELAY
> TLS
> TX_RCPT carol@remote.test alice@example.test
< RELAY
> AUTH alice secret PLAIN
< OK alice
> TX_RCPT carol@remote.test alice@example.test
< OK
> TLS
> TX_RCPT carol@remote.test alice@example.test"
killed "  the monitor refused the second REQ_TLS" 5

# ---- submission senders and DELIVER -------------------------------------
probe sender_noauth -o role=submission -o tls=starttls <<'EOF'
SENDER alice@example.test
DELIVER_RCPT bob@example.test
DELIVER alice@example.test probe1
EOF
expect "submission without AUTH: REQ_SENDER NOT_OWNER, REQ_DELIVER TEMP" \
"> SENDER alice@example.test
< NOT_OWNER
> DELIVER_RCPT bob@example.test
> DELIVER alice@example.test probe1
< TEMP"

probe sender_other -o role=submission -o tls=starttls <<'EOF'
TLS
AUTH alice secret PLAIN
SENDER bob@example.test
SENDER carol@remote.test
SENDER alice+tag@example.test
DELIVER_RCPT bob@example.test
DELIVER bob@example.test probe2
DELIVER_RCPT bob@example.test
DELIVER alice@example.test probe3
EOF
expect "submission as alice: bob's and a remote sender NOT_OWNER, a DELIVER from bob TEMP, from alice OK" \
"> TLS
> AUTH alice secret PLAIN
< OK alice
> SENDER bob@example.test
< NOT_OWNER alice
> SENDER carol@remote.test
< NOT_OWNER alice
> SENDER alice+tag@example.test
< OK alice
> DELIVER_RCPT bob@example.test
> DELIVER bob@example.test probe2
< TEMP
> DELIVER_RCPT bob@example.test
> DELIVER alice@example.test probe3
< OK"
check_eq "bob got exactly the one message from alice" 1 "$(count_new bob)"
check "  and it is probe3's" grep -lq 'Return-Path: <alice@example.test>' \
    "$(maildir bob)"/new/*

done_testing
