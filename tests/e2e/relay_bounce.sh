#!/bin/bash
# relay_bounce.sh - permanent failures come back to the sender as RFC 3464
# delivery status notifications, in a private network namespace
# (tests/lib/relay.sh). alice submits (587, AUTH) to: a host that answers 550
# 5.1.1 at RCPT, a domain that does not exist (NXDOMAIN: 5.1.2), a null-MX
# domain (RFC 7505: 5.1.10), a host that refuses the data (554 5.6.0), and
# one message to several of them plus a good recipient: alice gets one
# bounce per message in her Maildir, from MAILER-DAEMON with the null
# Return-Path, multipart/report with the right Status and Diagnostic-Code
# per failed recipient and only for them, quoting the original header but
# not the body; the good recipient gets the message. A bounce for a remote
# sender (relayed from a trusted client on port 25) is queued and sent with
# MAIL FROM:<>; a message from the null sender that fails is only logged
# (never a bounce of a bounce); a sender without a mailbox here: dropped
# and logged. Nothing stays in the queue.
. "$(dirname "$0")/../lib/relay.sh"

relay_start || { relay_logs; done_testing; }

# send MARKER TO[,TO...]: alice submits on 587
send() {
	mkmsg "$1" "${2%%,*}"
	submit_swaks 587 "$1" alice@example.test "$2" ||
	    { fail "$1: submitted"; sed 's/^/#   /' "$T/swaks.$1.log" | tail -n 8; }
}

send rcpt550 bob@reject.test
wait_bounce alice rcpt550 20 || fail "rcpt550: a bounce within 20 s"
dsn_check "550 at RCPT: bounce with Status 5.1.1, the server's reply, Remote-MTA" alice rcpt550 \
    'bob@reject.test=5.1.1=^smtp; 550 5\.1\.1 <bob@reject\.test>: Recipient address rejected'
check_match "550 at RCPT: Remote-MTA names the host" 'Remote-MTA: dns; mx\.reject\.test' \
    "$(cat "$(maildir alice)"/new/* | grep -a Remote-MTA)"

send nxdomain carol@nosuch.test
wait_bounce alice nxdomain 20 || fail "nxdomain: a bounce within 20 s"
dsn_check "unknown domain (NXDOMAIN): bounce with Status 5.1.2" alice nxdomain \
    'carol@nosuch.test=5.1.2'

send nullmx dave@nullmx.test
wait_bounce alice nullmx 20 || fail "nullmx: a bounce within 20 s"
dsn_check "null MX (RFC 7505): bounce with Status 5.1.10" alice nullmx \
    'dave@nullmx.test=5.1.10'

sink_mode reject data-reject
send data554 erin@reject.test
wait_bounce alice data554 20 || fail "data554: a bounce within 20 s"
dsn_check "554 after the data: bounce with Status 5.6.0" alice data554 \
    'erin@reject.test=5.6.0=^smtp; 554 5\.6\.0 '
sink_mode reject reject

# one message, three failures and one success: one bounce, three blocks
n0=$(sink_count remote)
send several ok@remote.test,reject-me@remote.test,frank@nosuch.test,gina@nullmx.test
wait_bounce alice several 20 || fail "several: a bounce within 20 s"
dsn_check "several: one bounce naming exactly the three failed recipients" alice several \
    'reject-me@remote.test=5.1.1' 'frank@nosuch.test=5.1.2' 'gina@nullmx.test=5.1.10'
wait_sink remote $((n0 + 1)) 10
sink_check "several: the good recipient got it" remote several alice@example.test \
    ok@remote.test ESMTPSA
check "nothing left in the queue" wait_queue_empty 20
check_eq "one bounce per failed message, no more" "1 1 1 1 1" \
    "$(for m in rcpt550 nxdomain nullmx data554 several; do count_bounces alice "$m"; done | xargs)"

# A remote sender, relayed for a trusted client (127.0.0.1, port 25, mx):
# the bounce is queued for zed@remote.test and sent with MAIL FROM:<>.
mkmsg remote-sender bob@reject.test
n0=$(sink_count remote)
check "trusted client relays from a remote sender" smtp_plain 25 zed@remote.test \
    bob@reject.test remote-sender
wait_sink remote $((n0 + 1)) 20 || fail "remote sender: the bounce reached remote.test within 20 s"
check "remote sender: bounce sent with the null sender to zed@remote.test" \
    "$PY" - "$T/sink/remote" remote-sender <<'PYEOF'
import email, json, os, sys
d, marker = sys.argv[1:3]
hits = []
for n in sorted(os.listdir(d)):
    if n.endswith(".eml"):
        raw = open(os.path.join(d, n), "rb").read()
        if marker.encode() in raw and b"Undelivered Mail" in raw:
            hits.append((raw, json.load(open(os.path.join(d, n[:-4] + ".json")))))
if len(hits) != 1:
    sys.exit("%d bounces in the sink" % len(hits))
raw, meta = hits[0]
if meta["mail_from"] not in ("", "<>") or meta["rcpt_tos"] != ["zed@remote.test"]:
    sys.exit("envelope %r -> %r" % (meta["mail_from"], meta["rcpt_tos"]))
msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"))
st = [p["Status"] for p in msg.get_payload()[1].get_payload()[1:]]
if st != ["5.1.1"]:
    sys.exit("Status %r" % st)
print("ok")
PYEOF

# The null sender: a failure is logged, never bounced.
mkmsg null-sender bob@reject.test
n0=$(sink_count remote)
check "trusted client relays from the null sender" smtp_plain 25 '<>' bob@reject.test null-sender
check "null sender: nothing left in the queue" wait_queue_empty 20
check_match "null sender: the failure is logged, no bounce" \
    'from=<> failed=1 status=dropped' "$(cat "$T"/ssa.*.log)"
check_eq "null sender: no bounce anywhere" "$n0 0" \
    "$(sink_count remote) $(grep -l null-sender "$(maildir alice)"/new/* 2>/dev/null | wc -l)"

# A local sender without a mailbox: nowhere to bounce to.
mkmsg ghost bob@reject.test
check "trusted client relays from a local sender without a mailbox" \
    smtp_plain 25 ghost@example.test bob@reject.test ghost
check "ghost: nothing left in the queue" wait_queue_empty 20
check_match "ghost: the undeliverable bounce is logged" \
    'bounce to <ghost@example\.test>: no such local recipient, dropped' "$(cat "$T"/ssa.*.log)"

[ "$TESTS_FAILED" = 0 ] || relay_logs 60
done_testing
