#!/bin/bash
# relay_host.sh - delivery through a smarthost (relay_host), in a private
# network namespace (tests/lib/relay.sh). The sink "relay" on relay.test
# (127.0.0.6) port 587 requires STARTTLS and AUTH (relayuser, a password
# with spaces). With relay_host = [relay.test]:587, relay_auth_file
# (root, 0600) and relay_tls = verify with the test CA, a message to two
# domains goes to the relay host in ONE transaction, authenticated, over
# verified TLS, byte for byte; the MX hosts see nothing. With a host name
# the certificate does not name, or without the CA, the message is
# deferred, not sent in the clear and not bounced. relay_auth_file with
# relay_tls = may or encrypt is a configuration error: smtpd -q refuses to
# run (exit 1, logged) and sends nothing, also for [127.0.0.6] (loopback,
# but only [127.0.0.1] and [::1] count as a local relay) and [localhost]
# (a name); [127.0.0.1] and [::1] with relay_tls = may, and may without
# credentials, run. A wrong password defers; a relay_auth_file readable by
# others stops the runner before it sends anything; "host:port" without
# brackets looks up the host's MX first (none here: its address).
. "$(dirname "$0")/../lib/relay.sh"

relay_start || { relay_logs; done_testing; }
LOG() { cat "$T"/ssa.*.log "$T/runner.log" 2>/dev/null; }

printf '%s %s\n' "$RELAY_AUTH_USER" "$RELAY_AUTH_PASS" >"$T/relay_auth"
chmod 600 "$T/relay_auth"
# Every smtpd reads the configuration at its start: from here on, the
# listeners and the runners they kick relay through relay.test.
CA=$T/pki/ca.pem
printf '%s\n' "relay_host = [relay.test]:587" "relay_auth_file = $T/relay_auth" \
    "relay_tls = verify" "relay_tls_ca_file = $CA" >>"$CONF"

relay_json() {	# relay_json MARKER FIELD: a field of the relay sink's envelope
	"$PY" - "$T/sink/relay" "$1" "$2" <<'PYEOF'
import json, os, sys
d, marker, field = sys.argv[1:4]
for n in sorted(os.listdir(d)):
    if n.endswith(".eml") and ("<%s@example.test>" % marker).encode() in open(os.path.join(d, n), "rb").read():
        print(json.load(open(os.path.join(d, n[:-4] + ".json")))[field])
PYEOF
}

n0=$(sink_count remote)
mkmsg viarelay bob@remote.test
check "relay_host: submitted to two domains" submit_swaks 587 viarelay \
    alice@example.test bob@remote.test,carol@other.test
check "relay_host: the relay host got it" wait_sink relay 1 20
sink_check "relay_host: one transaction for both domains, byte for byte" relay viarelay \
    alice@example.test bob@remote.test,carol@other.test ESMTPSA
check_eq "relay_host: authenticated as relayuser" "$RELAY_AUTH_USER" "$(relay_json viarelay auth)"
check_match "relay_host: over verified TLS" 'tls client server=relay\.test .*verified=yes' "$(LOG)"
check_eq "relay_host: the MX hosts saw nothing" "$n0" "$(sink_count remote)"
check "relay_host: queue empty" wait_queue_empty 10
check_eq "relay_host: the password is never logged" "" "$(LOG | grep -F "$RELAY_AUTH_PASS")"

# relay_tls = verify with the CA, but a host name the certificate does not
# name: deferred, never sent in the clear, not bounced
mkmsg wrongname bob@remote.test
sed -i 's/^relay_host = .*/relay_host = [wrongname.test]:587/' "$CONF"
check "wrong name: submitted" submit_swaks 587 wrongname alice@example.test bob@remote.test
# the kicked runner is detached: wait (bounded) for its verdict, not for a
# lock it may not have taken yet
for ((i = 0; i < 200; i++)); do
	LOG | grep -Eq 'to=<bob@remote\.test> .*status=deferred' && break
	sleep 0.1
done
wait_runner_idle 20
check_eq "wrong name (verify): deferred, still queued, nothing sent" "1 1" \
    "$(queue_count) $(sink_count relay)"
check_match "wrong name: the reason is logged" \
    'to=<bob@remote\.test> .*status=deferred diag="[^"]*(verif|certificate|name)' "$(LOG)"
check_eq "wrong name: no bounce" 0 "$(count_bounces alice wrongname)"

# the same host by its right name, with the CA: verified, delivered
sleep 1.1
run_queue -o "relay_host=[relay.test]:587"
check "verify with the CA and the right name: delivered" wait_sink relay 2 5
sink_check "verify: byte for byte" relay wrongname alice@example.test bob@remote.test ESMTPSA
check_match "verify: the runner says the certificate was verified" \
    'tls client server=relay\.test .*verified=yes' "$(cat "$T/runner.log")"

# verify without our CA (the system store does not know it): deferred
mkmsg noca bob@remote.test
sed -i 's/^relay_host = .*/relay_host = [relay.test]:587/; /^relay_tls_ca_file/d' "$CONF"
check "no CA: submitted" submit_swaks 587 noca alice@example.test bob@remote.test
wait_runner_idle 20
sleep 0.5; wait_runner_idle 20
check_eq "verify, unknown CA: deferred, still queued" "1 2" "$(queue_count) $(sink_count relay)"

# credentials over TLS nobody verifies (relay_tls = may or encrypt): a
# configuration error, no queue run at all, nothing sent or tried
for tls in may encrypt; do
	run_queue -o "relay_tls=$tls" -o "relay_tls_ca_file=$CA"
	check_eq "relay_auth_file with relay_tls = $tls: smtpd -q refuses (exit 1)" 1 "$?"
	check_match "relay_tls = $tls: logged as a configuration error" \
	    "relay configuration: relay_auth_file needs relay_tls = verify \\(it is $tls\\)" \
	    "$(tail -n 3 "$T/runner.log")"
done
for rh in '[127.0.0.6]:587' '[localhost]:587'; do
	run_queue -o relay_tls=may -o "relay_host=$rh"
	check_eq "relay_host $rh, relay_tls = may: refused too (exit 1)" 1 "$?"
done
check_eq "refused runs: nothing sent, the message still queued" "1 2" \
    "$(queue_count) $(sink_count relay)"
check_eq "refused runs: no attempt made" "" \
    "$(sed -n '/^---- smtpd -q -o relay_tls=may -o relay_tls_ca_file/,$p' "$T/runner.log" | grep -E 'status=|smtpc host=')"

# a wrong password: deferred
sleep 1.1
printf '%s wrong\n' "$RELAY_AUTH_USER" >"$T/relay_auth.bad"; chmod 600 "$T/relay_auth.bad"
run_queue -o "relay_tls_ca_file=$CA" -o "relay_auth_file=$T/relay_auth.bad"
check_eq "wrong password: deferred, still queued" "1 2" "$(queue_count) $(sink_count relay)"
check_match "wrong password: the 535 is logged" 'status=deferred diag=".*535' "$(tail -n 12 "$T/runner.log")"

# relay_auth_file readable by others: the runner refuses to start
sleep 2.1
chmod 644 "$T/relay_auth"
run_queue -o "relay_tls_ca_file=$CA"
check_eq "relay_auth_file mode 0644: the runner stops (exit 1)" 1 "$?"
check_match "relay_auth_file mode 0644: logged" 'relay_auth_file .*mode 0600' "$(tail -n 3 "$T/runner.log")"
check_eq "relay_auth_file mode 0644: nothing sent" "1 2" "$(queue_count) $(sink_count relay)"
chmod 600 "$T/relay_auth"

# "host:port": the MX of relay.test (it has none: its address)
run_queue -o "relay_tls_ca_file=$CA" -o relay_host=relay.test:587
check "relay.test:587 (MX lookup, implicit MX): delivered" wait_sink relay 3 5
sink_check "relay.test:587: byte for byte" relay noca alice@example.test bob@remote.test ESMTPSA
check "nothing left in the queue" wait_queue_empty 10

# what may run with relay_tls = may: credentials to [127.0.0.1] or [::1]
# (a local filter or tunnel), or no credentials at all (the queue is
# empty: each run starts and ends)
for rh in '[127.0.0.1]:9' '[::1]:9'; do
	run_queue -o relay_tls=may -o "relay_host=$rh"
	check_eq "relay_host $rh with credentials, relay_tls = may: runs (exit 0)" 0 "$?"
done
run_queue -o relay_tls=may -o relay_auth_file=
check_eq "relay_tls = may without relay_auth_file: runs (exit 0)" 0 "$?"
check_eq "those runs: no configuration error" "" \
    "$(sed -n '/^---- smtpd -q -o relay_tls=may -o relay_host=\[127\.0\.0\.1\]:9/,$p' "$T/runner.log" | grep 'relay configuration')"

[ "$TESTS_FAILED" = 0 ] || relay_logs 60
done_testing
