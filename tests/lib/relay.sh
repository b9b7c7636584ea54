# tests/lib/relay.sh - a private "internet" for the relay tests
# (tests/e2e/relay_*.sh source it instead of lib.sh; not a test itself: it
# exits at once when run alone).
#
# Sourced first thing by a test, it re-executes that test inside
#   unshare --net --mount --pid --fork --kill-child --mount-proc
# (as root only; otherwise the test is skipped with the reason): a network
# namespace with only lo (127.0.0.0/8, nothing else: from the host such an
# address never leaves the machine), a private mount namespace for
# resolv.conf, and a pid namespace so that every process the test started,
# detached queue runners included, ends with it. Then tests/lib/lib.sh (users,
# PAM, inetmail.conf in $T) and:
#
#   relay_start          everything below
#   - dnsmasq on 127.0.0.1:53 (resolv.conf bound over /etc/resolv.conf),
#     authoritative for .test (unknown names: NXDOMAIN):
#       remote.test    MX 10 mx.remote.test   127.0.0.2  sink "remote" (ok)
#       other.test     MX 10 mx.remote.test   (a second domain, same host)
#       temp.test      MX 10 mx.temp.test     127.0.0.3  sink "temp" (450)
#       reject.test    MX 10 mx.reject.test   127.0.0.4  sink "reject" (550)
#       slow.test      MX 10 mx.slow.test     127.0.0.5  sink "slow"
#       backup.test    MX 10 mx.dead.test     127.0.0.7  (nothing listens)
#                      MX 20 mx.remote.test   (the fallback)
#       implicit.test  A 127.0.0.2, no MX     (RFC 5321 5.1 implicit MX)
#       relay.test     A 127.0.0.6            sink "relay": port 587,
#                      TLS required, AUTH relayuser:relaypass
#       wrongname.test A 127.0.0.6            (for certificate name checks)
#       nullmx.test    MX 0 .                 (RFC 7505 null MX)
#       dead.test      MX 10 mx.dead.test     127.0.0.7 (connection refused)
#       nosuch.test    -                      NXDOMAIN
#   - the sinks (tests/lib/relay_sink.py, aiosmtpd): every message
#     stored byte for byte in $T/sink/NAME/NNNN.eml + .json; they offer
#     STARTTLS with a certificate for mx.remote.test/relay.test from the
#     test CA ($T/pki/ca.pem); sink_mode NAME MODE changes a sink's
#     behaviour on the fly
#   - smtpd under systemd-socket-activate (with pam_wrapper, users
#     alice/bob/carol password "secret"): 127.0.0.1:587 role=submission
#     STARTTLS, 127.0.0.1:465 role=submission implicit TLS, 127.0.0.1:25
#     role=mx; queue_dir=$T/queue, queue_retry_min=1s; all with -d so the
#     log (and the log of every queue runner they kick) is in
#     $T/ssa.PORT.log
#
# Helpers: mkmsg, submit_swaks, sink_count, wait_sink, queue_count,
# wait_queue_empty, run_queue, sink_check, dsn_check, relay_logs.
# Every wait is bounded.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "relay.sh is sourced by the relay tests; it is no test" >&2
	exit 0
fi

if [ -z "${RELAY_IN_NS:-}" ]; then
	relay_skip() {
		echo "SKIP: $1"
		echo "ok 1 - ${0##*/} # SKIP $1"
		echo "# 1 tests, 0 failed, 1 skipped"
		exit 0
	}
	[ "$(id -u)" = 0 ] || relay_skip "needs root for a network namespace"
	# every relay test drives these: missing is a failure, in the first second
	why=$(PACKAGES_CALLER="${0##*/}" "$(dirname "${BASH_SOURCE[0]}")/../packages" need \
	    util-linux iproute2 dnsmasq-base systemd openssl python3 python3-aiosmtpd \
	    swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl 2>&1) || {
		echo "not ok 1 - $why"
		echo "# 1 tests, 1 failed, 0 skipped"
		exit 1
	}
	unshare --net --mount --pid --fork --kill-child --mount-proc \
	    --propagation private true 2>/dev/null ||
	    relay_skip "unshare --net --mount --pid is not permitted here"
	exec unshare --net --mount --pid --fork --kill-child --mount-proc \
	    --propagation private env RELAY_IN_NS=1 bash "$0" "$@"
fi

# ---- inside the namespaces -------------------------------------------------
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SINKLIB=$TOP/tests/lib/relay_sink.py
RELAY_AUTH_USER=relayuser
RELAY_AUTH_PASS='relay pass with spaces'

# A refusal to run outside a fresh network namespace: the sinks bind
# 127.0.0.x:25 and dnsmasq 127.0.0.1:53, which must never be the host's.
if [ "$(readlink /proc/1/ns/net)" != "$(readlink /proc/self/ns/net)" ] ||
    [ "$(ip -o link show | wc -l)" != 1 ]; then
	echo "relay.sh: not alone in a private network namespace; refusing" >&2
	exit 1
fi

# relay_mkcert: a CA; a certificate for localhost/127.0.0.1 (our smtpd);
# one for the remote hosts (mx.remote.test, relay.test, ...), both signed
# by the CA.
relay_mkcert() {
	mkdir -p "$T/pki"
	(cd "$T/pki" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout ca.key -out ca.pem -days 30 -subj /CN=inetmail-relay-test-CA \
	    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign &&
	for c in local:localhost:DNS:localhost,IP:127.0.0.1 \
	    remote:mx.remote.test:DNS:mx.remote.test,DNS:mx.temp.test,DNS:mx.reject.test,DNS:mx.slow.test,DNS:relay.test; do
		IFS=: read -r name cn san <<<"$c"
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout "$name.key" -out "$name.req" -subj "/CN=$cn" &&
		printf 'subjectAltName=%s\n' "$san" >"$name.ext" &&
		openssl x509 -req -in "$name.req" -CA ca.pem -CAkey ca.key \
		    -CAcreateserial -days 30 -extfile "$name.ext" -out "$name.pem" &&
		chmod 600 "$name.key" || return 1
	done) >"$T/mkcert.log" 2>&1
}

relay_dns() {
	printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' >"$T/resolv.conf"
	mount --bind "$T/resolv.conf" /etc/resolv.conf || return 1
	dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.1 \
	    --bind-interfaces --user=nobody --group=nogroup --pid-file= \
	    --local=/test/ --log-facility=- --log-queries \
	    --mx-host=remote.test,mx.remote.test,10 \
	    --mx-host=other.test,mx.remote.test,10 \
	    --mx-host=temp.test,mx.temp.test,10 \
	    --mx-host=reject.test,mx.reject.test,10 \
	    --mx-host=slow.test,mx.slow.test,10 \
	    --mx-host=backup.test,mx.dead.test,10 \
	    --mx-host=backup.test,mx.remote.test,20 \
	    --mx-host=nullmx.test,.,0 \
	    --mx-host=dead.test,mx.dead.test,10 \
	    --host-record=mx.remote.test,127.0.0.2 \
	    --host-record=mx.temp.test,127.0.0.3 \
	    --host-record=mx.reject.test,127.0.0.4 \
	    --host-record=mx.slow.test,127.0.0.5 \
	    --host-record=relay.test,127.0.0.6 \
	    --host-record=wrongname.test,127.0.0.6 \
	    --host-record=mx.dead.test,127.0.0.7 \
	    --host-record=implicit.test,127.0.0.2 \
	    >"$T/dnsmasq.log" 2>&1 </dev/null &
	LAUNCHER_PIDS+=($!)
	local i
	for ((i = 0; i < 100; i++)); do
		"$PY" "$SINKLIB" dns MX remote.test >"$T/dns.check" 2>/dev/null &&
		    grep -q '^MX 10 mx.remote.test' "$T/dns.check" && return 0
		sleep 0.1
	done
	diag "dnsmasq does not answer"; sed 's/^/#   /' "$T/dnsmasq.log"
	return 1
}

# start_sink NAME ADDR:PORT [sink options...]: waits (10 s at most) until
# it listens.
start_sink() {
	local name=$1 listen=$2 i; shift 2
	mkdir -p "$T/sink/$name"
	"$PY" "$SINKLIB" sink --listen "$listen" --dir "$T/sink/$name" \
	    --name "${name}.sink.test" "$@" >"$T/sink.$name.log" 2>&1 </dev/null &
	LAUNCHER_PIDS+=($!)
	for ((i = 0; i < 200; i++)); do
		[ -f "$T/sink/$name/ready" ] && return 0
		sleep 0.05
	done
	diag "sink $name did not start"; sed 's/^/#   /' "$T/sink.$name.log"
	return 1
}
# sink_mode NAME MODE: takes effect at the sink's next command.
sink_mode() { echo "$2" >"$T/sink/$1/mode"; }

# relay_ssa ADDR:PORT ARGS...: smtpd under systemd-socket-activate with the
# whole cwrap environment (pam_wrapper too: submission needs AUTH).
relay_ssa() {
	local listen=$1 kv; shift
	local -a e=()
	for kv in "${CWRAP_ENV[@]}"; do e+=(-E "$kv"); done
	systemd-socket-activate --inetd -a -l "$listen" "${e[@]}" "$SMTPD" "$@" \
	    >>"$T/ssa.${listen##*:}.log" 2>&1 </dev/null &
	LAUNCHER_PIDS+=($!)
	wait_port "${listen##*:}"
}

relay_start() {
	ip link set lo up || { fail "lo up"; return 1; }
	check "test CA and certificates" relay_mkcert
	relay_dns || { fail "dnsmasq serves the test zone"; return 1; }
	local tls=(--tls "$T/pki/remote.pem" "$T/pki/remote.key")
	start_sink remote 127.0.0.2:25 "${tls[@]}" || fail "sink remote"
	start_sink temp 127.0.0.3:25 "${tls[@]}" --mode temp || fail "sink temp"
	start_sink reject 127.0.0.4:25 "${tls[@]}" --mode reject || fail "sink reject"
	start_sink slow 127.0.0.5:25 "${tls[@]}" || fail "sink slow"
	start_sink relay 127.0.0.6:587 "${tls[@]}" --require-tls \
	    --auth "$RELAY_AUTH_USER:$RELAY_AUTH_PASS" || fail "sink relay"
	cat >>"$CONF" <<EOF
tls_cert = $T/pki/local.pem
tls_key = $T/pki/local.key
queue_dir = $T/queue
queue_retry_min = 1s
queue_retry_max = 2s
smtp_connect_timeout = 5s
# "127.0.0.1" alone is refused by netaddr_in (a prefix length is needed)
trusted_networks = 127.0.0.1/32 ::1/128
EOF
	relay_ssa 127.0.0.1:587 -d -f "$CONF" -o role=submission || fail "smtpd on 587"
	relay_ssa 127.0.0.1:465 -d -f "$CONF" -o role=submission -o tls=implicit ||
	    fail "smtpd on 465"
	relay_ssa 127.0.0.1:25 -d -f "$CONF" || fail "smtpd on 25"
	[ "$TESTS_FAILED" = 0 ]
}

# mkmsg MARKER [TO]: $T/msg/MARKER (LF), .crlf and .nonl (without the
# final LF: swaks adds it), from alice@example.test.
mkmsg() {
	mkdir -p "$T/msg"
	"$PY" - "$T/msg/$1" "$1" "${2:-bob@remote.test}" <<'EOF'
import sys
path, marker, to = sys.argv[1:4]
lines = ["From: Alice <alice@example.test>", "To: <%s>" % to,
         "Date: Thu, 01 Jan 2026 00:00:00 +0000",
         "Message-ID: <%s@example.test>" % marker, "Subject: relay %s" % marker,
         "", "Body of %s." % marker, ".a line with a leading dot", "..two dots",
         ".", "trailing spaces   ", "\tindented", "", "8-bit: caf\u00e9",
         "x" * 998, "last line"]
data = ("\n".join(lines) + "\n").encode("utf-8")
open(path, "wb").write(data)
open(path + ".crlf", "wb").write(data.replace(b"\n", b"\r\n"))
open(path + ".nonl", "wb").write(data[:-1])
EOF
}

# submit_swaks PORT MARKER FROM TO[,TO...] [swaks options]: authenticated
# as alice over STARTTLS (587) or implicit TLS (465); the message of mkmsg.
submit_swaks() {
	local port=$1 m=$2 from=$3 to=$4; shift 4
	local tlsopt=--tls
	[ "$port" = 465 ] && tlsopt=--tls-on-connect
	swaks --server 127.0.0.1 --port "$port" $tlsopt --tls-ca-path "$T/pki/ca.pem" \
	    --tls-verify --helo client.test \
	    --auth PLAIN --auth-user alice --auth-password secret \
	    --from "$from" --to "$to" --data "@$T/msg/$m.nonl" "$@" \
	    >"$T/swaks.$m.log" 2>&1
}

sink_count() { find "$T/sink/$1" -maxdepth 1 -name '*.eml' 2>/dev/null | wc -l; }
# wait_sink NAME N [SECONDS]: until the sink has at least N messages.
wait_sink() {
	local i n=$(( ${3:-20} * 10 ))
	for ((i = 0; i < n; i++)); do
		[ "$(sink_count "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
queue_count() { find "$T/queue/msg" -maxdepth 1 -type f 2>/dev/null | wc -l; }
# wait_queue_empty [SECONDS]: no message file left, no runner holding the lock.
wait_queue_empty() {
	local i n=$(( ${1:-20} * 10 ))
	for ((i = 0; i < n; i++)); do
		if [ "$(queue_count)" = 0 ] && ! runner_busy; then return 0; fi
		sleep 0.1
	done
	return 1
}
# runner_busy: a queue runner holds queue_dir/runner.lock.
runner_busy() {
	[ -f "$T/queue/runner.lock" ] || return 1
	! flock -n "$T/queue/runner.lock" true
}
# wait_runner_idle [SECONDS]
wait_runner_idle() {
	local i n=$(( ${1:-20} * 10 ))
	for ((i = 0; i < n; i++)); do
		runner_busy || return 0
		sleep 0.1
	done
	return 1
}
# run_queue [ARGS]: one `smtpd -q` in the foreground (bounded), as the
# timer would start it; its log in $T/runner.log.
run_queue() {
	echo "---- smtpd -q $*" >>"$T/runner.log"
	cw timeout 120 "$SMTPD" -q -d -f "$CONF" "$@" >>"$T/runner.log" 2>&1
}

# sink_check WHAT SINK MARKER SENDER RCPTS PROTO [COPIES]: exactly one
# (or COPIES identical) message holding MARKER reached SINK with envelope
# RCPTS (comma separated, any order), and it came from SENDER, over TLS,
# CRLF line ends only, and it is
#   one Received: header of ours ("by mx.test", "with PROTO") + the exact
#   bytes of $T/msg/MARKER (with CR LF for LF).
sink_check() {
	local out
	if out=$("$PY" - "$T/sink/$2" "$3" "$T/msg/$3" "$4" "$5" "$6" "${7:-1}" 2>&1 <<'PYEOF'
import json, os, re, sys
d, marker, expf, sender, rcpts, proto, copies = sys.argv[1:8]
want = open(expf, "rb").read()
hits, others = [], []
for n in sorted(os.listdir(d)):
    if n.endswith(".eml"):
        data = open(os.path.join(d, n), "rb").read()
        if marker.encode() in data:
            meta = json.load(open(os.path.join(d, n[:-4] + ".json")))
            if sorted(meta["rcpt_tos"]) == sorted(rcpts.split(",")):
                hits.append((n, data, meta))
            else:
                others.append(meta["rcpt_tos"])
if len(hits) != int(copies):
    sys.exit("%d messages with %s to %s in %s (and %d to other recipients: %r)" % (
        len(hits), marker, rcpts, d, len(others), others))
if any(h[1] != hits[0][1] for h in hits):
    sys.exit("the copies differ")
name, data, meta = hits[0]
if meta["mail_from"] != sender:
    sys.exit("MAIL FROM %r, expected %r" % (meta["mail_from"], sender))
if not meta["tls"]:
    sys.exit("not sent over TLS (STARTTLS was offered)")
if b"\n" in data.replace(b"\r\n", b""):
    sys.exit("a bare LF on the wire")
lf = data.replace(b"\r\n", b"\n")
m = re.match(rb"Received: [^\n]*\n(?:[ \t][^\n]*\n)*", lf)
if not m:
    sys.exit("does not start with our Received: %r" % lf[:120])
rcv = re.sub(rb"\n[ \t]+", b" ", m.group(0)).decode("latin-1").strip()
for rx, what in ((r"^Received: from client\.test \(", "FROM the EHLO name"),
                 (r"\[127\.0\.0\.1\]\)", "the client's address"),
                 (r" by mx\.test\b", "BY mx.test"),
                 (r" with %s\b" % proto, "WITH " + proto)):
    if not re.search(rx, rcv):
        sys.exit("Received: lacks %s: %r" % (what, rcv))
rest = lf[m.end():]
if rest.startswith(b"Received:"):
    sys.exit("more than one Received: header")
if rest != want:
    import difflib
    sys.exit("differs from what was sent:\n" + "".join(list(difflib.unified_diff(
        want.decode("latin-1").splitlines(True), rest.decode("latin-1").splitlines(True),
        "sent", "received"))[:40]))
print(name)
PYEOF
	); then
		pass "$1"
	else
		fail "$1"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

# dsn_check WHAT USER MARKER ADDR=STATUS[=DIAGREGEX]...: USER's Maildir
# holds exactly one bounce (RFC 3464) for the message with MARKER: from
# MAILER-DAEMON@mx.test with Return-Path <>, multipart/report with
# report-type=delivery-status, text/plain + message/delivery-status +
# text/rfc822-headers (which quotes MARKER's header, not its body), and
# one block per ADDR, Action: failed, with that Status (and a
# Diagnostic-Code matching DIAGREGEX), no other recipient.
dsn_check() {
	local what=$1 user=$2 marker=$3 out; shift 3
	if out=$("$PY" - "$(maildir "$user")" "$marker" "$@" 2>&1 <<'PYEOF'
import email, os, re, sys
from email import policy
md, marker = sys.argv[1:3]
want = {}
for spec in sys.argv[3:]:
    parts = spec.split("=", 2)
    want[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else None)
d = os.path.join(md, "new")
hits = []
for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
    raw = open(os.path.join(d, n), "rb").read()
    if b"Undelivered Mail Returned to Sender" in raw and ("<%s@example.test>" % marker).encode() in raw:
        hits.append((n, raw))
if len(hits) != 1:
    sys.exit("%d bounces for %s in %s" % (len(hits), marker, d))
name, raw = hits[0]
if not raw.startswith(b"Return-Path: <>\n"):
    sys.exit("not from the null sender: %r" % raw[:60])
msg = email.message_from_bytes(raw, policy=policy.compat32)
if "MAILER-DAEMON@mx.test" not in msg["From"]:
    sys.exit("From: %s" % msg["From"])
if msg["Auto-Submitted"] != "auto-replied":
    sys.exit("Auto-Submitted: %s" % msg["Auto-Submitted"])
if msg.get_content_type() != "multipart/report" or msg.get_param("report-type") != "delivery-status":
    sys.exit("Content-Type %s report-type %s" % (msg.get_content_type(), msg.get_param("report-type")))
parts = msg.get_payload()
types = [p.get_content_type() for p in parts]
if types != ["text/plain", "message/delivery-status", "text/rfc822-headers"]:
    sys.exit("parts %r" % types)
if msg.defects or any(p.defects for p in msg.walk()):
    sys.exit("MIME defects: %r" % [p.defects for p in msg.walk()])
hdrs = parts[2].get_payload(decode=True) or b""
if ("Message-ID: <%s@example.test>" % marker).encode() not in hdrs:
    sys.exit("the original header is not quoted: %r" % hdrs[:300])
if ("Body of %s" % marker).encode() in raw:
    sys.exit("the original body is in the bounce")
blocks = parts[1].get_payload()
if "Reporting-MTA" not in blocks[0] or blocks[0]["Reporting-MTA"] != "dns; mx.test":
    sys.exit("Reporting-MTA: %r" % blocks[0]["Reporting-MTA"])
got = {}
for b in blocks[1:]:
    addr = b["Final-Recipient"].split(";", 1)[1].strip()
    got[addr] = b
if sorted(got) != sorted(want):
    sys.exit("recipients %r, expected %r" % (sorted(got), sorted(want)))
for addr, (status, rx) in want.items():
    b = got[addr]
    if b["Action"] != "failed":
        sys.exit("%s: Action %s" % (addr, b["Action"]))
    if b["Status"] != status:
        sys.exit("%s: Status %s, expected %s (Diagnostic-Code: %s)" % (
            addr, b["Status"], status, b["Diagnostic-Code"]))
    if rx and not re.search(rx, b["Diagnostic-Code"] or ""):
        sys.exit("%s: Diagnostic-Code %r does not match %r" % (addr, b["Diagnostic-Code"], rx))
print(name)
PYEOF
	); then
		pass "$what"
	else
		fail "$what"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

# relay_logs [LINES]: the smtpd and runner logs as comments (on failure).
relay_logs() {
	local f
	for f in "$T"/ssa.*.log "$T/runner.log"; do
		[ -s "$f" ] || continue
		diag "--- $f"
		grep -Ev 'Communication attempt|^Connection from|^Spawned |^Execing |died with code 0$' "$f" |
		    tail -n "${1:-40}" | sed 's/^/#   /'
	done
}

# wait_bounce USER MARKER [SECONDS]: until a bounce for MARKER (its
# Message-ID <MARKER@example.test> quoted) is in USER's Maildir/new.
wait_bounce() {
	local i n=$(( ${3:-20} * 10 ))
	for ((i = 0; i < n; i++)); do
		[ "$(count_bounces "$1" "$2")" -gt 0 ] && return 0
		sleep 0.1
	done
	return 1
}
# count_bounces USER MARKER: bounces for MARKER in USER's Maildir/new.
count_bounces() {
	local f n=0
	for f in "$(maildir "$1")"/new/*; do
		[ -f "$f" ] || continue
		grep -qF "<$2@example.test>" "$f" && grep -q "Undelivered Mail Returned" "$f" && n=$((n + 1))
	done
	echo "$n"
}
# smtp_plain PORT FROM TO[,TO...] MARKER: an unauthenticated plaintext
# transaction (swaks) from 127.0.0.1, e.g. to the mx role on 25.
smtp_plain() {
	swaks --server 127.0.0.1 --port "$1" --helo client.test --from "$2" \
	    --to "$3" --data "@$T/msg/$4.nonl" >"$T/swaks.$4.log" 2>&1
}
