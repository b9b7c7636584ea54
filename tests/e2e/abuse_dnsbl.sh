#!/bin/bash
# abuse_dnsbl.sh - DNSBL lookups in smtpd (issue 10), in a private network
# namespace with its own DNS (the relay tests' recipe, TESTING.md): dnsmasq
# on 127.0.0.1 serves the zone bl.test, where 127.0.0.2 and ::1 are listed.
#   - a listed client gets 554 5.7.1 ... blocked using bl.test instead of
#     220, then 503 to anything but QUIT; event=dnsbl_listed logged
#   - an unlisted client (127.0.0.3) is greeted and delivers; the default
#     dnsbl_exempt (loopback) is never looked up; dnsbl_action=log only logs
#   - IPv6: the nibble name of ::1
#   - fail open: with the DNS server stopped (refused) or silent (timeout),
#     the listed client is greeted within a bounded time, event=dnsbl_error
# Needs root, unshare and dnsmasq (package dnsmasq-base); skips otherwise.
if [ -z "${ABUSE_DNSBL_NS:-}" ] && [ "$(id -u)" = 0 ] &&
    command -v unshare >/dev/null && command -v dnsmasq >/dev/null &&
    command -v ip >/dev/null &&
    unshare --net --mount --propagation private true 2>/dev/null; then
	ABUSE_DNSBL_NS=1 exec unshare --net --mount --propagation private \
	    bash "$0" "$@"
fi
. "$(dirname "$0")/../lib/lib.sh"
need systemd dnsmasq-base iproute2 util-linux python3

if [ -z "${ABUSE_DNSBL_NS:-}" ]; then
	why="needs root, unshare --net --mount and dnsmasq (dnsmasq-base)"
	[ "$(id -u)" != 0 ] && why="not root; $why"
	skip "DNSBL tests" "$why"
	done_testing
fi

# ---- the private internet: lo up, our resolv.conf, dnsmasq ---------------
ip link set lo up
echo "nameserver 127.0.0.1" >"$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf || { fail "bind-mount resolv.conf"; done_testing; }
NIB=$(printf '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0')
DNSMASQ_PID=
start_dns() {
	dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.1 \
	    --bind-interfaces --local=/bl.test/ --local=/none.test/ --local=/err.test/ --pid-file= \
	    --host-record=2.0.0.127.bl.test,127.0.0.2 \
	    --host-record=$NIB.bl.test,127.0.0.4 \
	    --host-record=2.0.0.127.err.test,127.255.255.254 \
	    --log-facility="$T/dnsmasq.log" >>"$T/dnsmasq.out" 2>&1 &
	DNSMASQ_PID=$!
	LAUNCHER_PIDS+=($DNSMASQ_PID)
	local i
	for i in $(seq 1 100); do
		ss -Hlun "sport = :53" | grep -q . && return 0
		sleep 0.05
	done
	return 1
}
start_dns || { fail "dnsmasq start"; cat "$T/dnsmasq.out"; done_testing; }
check "the namespace resolves the test zone (getent)" getent hosts 2.0.0.127.bl.test

cat >"$T/cli.py" <<'PYEOF'
import socket, sys, time
# greet PORT SRC [DELIVER-MARKER]: prints seconds-to-greeting and the greeting;
# a 554 greeting: the replies to EHLO and QUIT; a 220: a delivery to alice.
port, src = int(sys.argv[1]), sys.argv[2]
fam = socket.AF_INET6 if ":" in src else socket.AF_INET
s = socket.socket(fam); s.settimeout(30); s.bind((src, 0))
t = time.time()
s.connect(("::1" if fam == socket.AF_INET6 else "127.0.0.1", port))
f = s.makefile("rb")
line = lambda: f.readline().decode().rstrip("\r\n")
g = line()
print("%.2f %s" % (time.time() - t, g))
def cmd(c):
    s.sendall(c.encode() + b"\r\n")
    while True:
        r = line()
        if r[3:4] != "-":
            return r
if g.startswith("554"):
    print(cmd("EHLO client.test"))
    print(cmd("QUIT"))
elif g.startswith("220") and len(sys.argv) > 3:
    cmd("EHLO client.test")
    cmd("MAIL FROM:<a@x.test>")
    print(cmd("RCPT TO:<alice@localhost>"))
    if cmd("DATA").startswith("354"):
        s.sendall(("Subject: %s\r\n\r\n%s\r\n.\r\n" % (sys.argv[3], sys.argv[3])).encode())
        print(line())
    cmd("QUIT")
PYEOF
cli() { "$PY" "$T/cli.py" "$@"; }
has_marker() { grep -rlq -- "$2" "$(maildir "$1")/new" 2>/dev/null; }

P=$(free_port)
start_ssa "$P" "$SMTPD" -d -f "$CONF" -o "dnsbl_zones=none.test bl.test" \
    -o dnsbl_exempt= || fail "ssa start"
LOG=$T/ssa.$P.log

out=$(cli "$P" 127.0.0.2)
check_match "listed 127.0.0.2: 554 greeting naming the zone" \
    '^[0-9.]+ 554 5\.7\.1 Service unavailable; client host \[127\.0\.0\.2\] blocked using bl\.test$' "$out"
check_match "listed: EHLO gets 503" '^503 ' "$(sed -n 2p <<<"$out")"
check_match "listed: QUIT gets 221" '^221 ' "$(sed -n 3p <<<"$out")"
check_match "log: event=dnsbl_listed ip= zone= answer=" \
    'event=dnsbl_listed ip=127\.0\.0\.2 zone=bl\.test answer=127\.0\.0\.2' "$(cat "$LOG")"
out=$(cli "$P" 127.0.0.3 dnsbl-m1)
check_match "unlisted 127.0.0.3: 220" '^[0-9.]+ 220 ' "$out"
check_match "unlisted: delivered" '^250 ' "$(sed -n 3p <<<"$out")"
check "unlisted: the message is in the Maildir" has_marker alice dnsbl-m1
check_eq "unlisted: no dnsbl_error logged (NXDOMAIN is no error)" 0 \
    "$(grep -c 'event=dnsbl_error' "$LOG")"

S6=$(free_port)
systemd-socket-activate --inetd -a -l "[::1]:$S6" $(for kv in "${CWRAP_ENV_NOPAM[@]}"; do printf -- '-E %s ' "$kv"; done) \
    "$SMTPD" -d -f "$CONF" -o dnsbl_zones=bl.test -o dnsbl_exempt= >>"$T/ssa6.log" 2>&1 </dev/null &
LAUNCHER_PIDS+=($!)
if wait_port "$S6" 5; then
	out=$(cli "$S6" ::1)
	check_match "IPv6 ::1 (nibble name): 554 blocked using bl.test" \
	    '554 5\.7\.1 Service unavailable; client host \[::1\] blocked using bl\.test' "$out"
else
	skip "IPv6 DNSBL" "cannot listen on [::1] here"
fi

X=$(free_port)
start_ssa "$X" "$SMTPD" -f "$CONF" -o dnsbl_zones=bl.test || fail "ssa start (exempt)"
check_match "default dnsbl_exempt (loopback): 127.0.0.2 greeted" '^[0-9.]+ 220 ' "$(cli "$X" 127.0.0.2)"
L=$(free_port)
start_ssa "$L" "$SMTPD" -d -f "$CONF" -o dnsbl_zones=bl.test -o dnsbl_exempt= \
    -o dnsbl_action=log || fail "ssa start (log)"
check_match "dnsbl_action=log: greeted" '^[0-9.]+ 220 ' "$(cli "$L" 127.0.0.2)"
check_match "dnsbl_action=log: listing logged" 'event=dnsbl_listed ip=127\.0\.0\.2' "$(cat "$T/ssa.$L.log")"
Z=$(free_port)
start_ssa "$Z" "$SMTPD" -d -f "$CONF" -o dnsbl_zones=err.test -o dnsbl_exempt= || fail "ssa start (err)"
check_match "a 127.255.255.x answer (query refused by the list) is no listing" \
    '^[0-9.]+ 220 ' "$(cli "$Z" 127.0.0.2)"

# ---- fail open -------------------------------------------------------------
kill -KILL "$DNSMASQ_PID"; wait "$DNSMASQ_PID" 2>/dev/null
out=$(cli "$P" 127.0.0.2 dnsbl-m2)
check_match "DNS server stopped: greeted at once (fail open)" '^[0-4]\.[0-9]+ 220 ' "$out"
check "DNS server stopped: delivered" has_marker alice dnsbl-m2
check_match "log: event=dnsbl_error" 'event=dnsbl_error ip=127\.0\.0\.2 zone=bl\.test' "$(cat "$LOG")"
# a server that never answers: one 2 s attempt per zone (two zones here)
"$PY" -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 53))
end = time.time() + 30
while time.time() < end:
    s.settimeout(end - time.time())
    try: s.recvfrom(512)
    except OSError: break' &
SILENT=$!
LAUNCHER_PIDS+=($SILENT)
sleep 0.3
out=$(cli "$P" 127.0.0.2)
check_match "DNS server silent: greeted after the timeouts, within 6s" '^[2-5]\.[0-9]+ 220 ' "$out"
kill -KILL "$SILENT"; wait "$SILENT" 2>/dev/null

stop_launchers
done_testing
