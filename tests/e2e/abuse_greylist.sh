#!/bin/bash
# abuse_greylist.sh - greylisting in smtpd (issue 10): raw SMTP sessions
# from several loopback source addresses against smtpd under
# systemd-socket-activate, greylist_delay=2:
#   - first attempt of a triplet 450 4.2.0, an immediate retry still 450,
#     after the delay 250 and the message delivered; event=greylisted logged
#   - the triplet is (client /24, sender lower-cased, recipient): another
#     recipient, another /24 (127.0.1.x), the null sender are each new; the
#     same /24 and sender in any case pass once whitelisted
#   - an unknown recipient gets 550 (not greylisted); greylist_exempt
#     (default 127.0.0.0/8 ::1) is never greylisted
#   - maildb greylist ls / clear; the store survives kill -9 of the
#     monitors (db5.3_verify clean, whitelist kept)
. "$(dirname "$0")/../lib/lib.sh"
need systemd db5.3-util util-linux python3

GL=$T/greylist
GLO=(-o greylist=yes -o greylist_delay=2 -o greylist_exempt= -o "greylist_db=$GL")
mdb() { cw "$MAILDB" -f "$CONF" -o "greylist_db=$GL" greylist "$@"; }

cat >"$T/cli.py" <<'PYEOF'
import socket, sys
def send(port, src, sender, rcpts, marker):
    """One connection: EHLO, MAIL, each RCPT, DATA if one was accepted.
    Prints each RCPT reply, then the DATA result (or "no-data")."""
    s = socket.socket(); s.settimeout(20); s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    f = s.makefile("rb")
    def line():
        r = f.readline().decode().rstrip("\r\n")
        return r
    def cmd(c):
        s.sendall(c.encode() + b"\r\n")
        while True:
            r = line()
            if r[3:4] != "-":
                return r
    out = []
    g = line()
    if not g.startswith("220"):
        print(g); return
    cmd("EHLO client.test")
    out.append("MAIL " + cmd("MAIL FROM:<%s>" % sender))
    ok = False
    for r in rcpts:
        a = cmd("RCPT TO:<%s>" % r)
        out.append(a)
        ok = ok or a.startswith("250")
    if ok:
        r = cmd("DATA")
        if r.startswith("354"):
            s.sendall(("Subject: %s\r\n\r\n%s\r\n.\r\n" % (marker, marker)).encode())
            r = line()
        out.append("DATA " + r)
    else:
        out.append("no-data")
    cmd("QUIT")
    s.close()
    print("\n".join(out))
port, src, sender, marker = sys.argv[1:5]
send(int(port), src, sender, sys.argv[5:], marker)
PYEOF
cli() { "$PY" "$T/cli.py" "$@"; }
has_marker() { grep -rlq -- "$2" "$(maildir "$1")/new" 2>/dev/null; }

P=$(free_port)
start_ssa "$P" "$SMTPD" -d -f "$CONF" "${GLO[@]}" || fail "ssa start"
LOG=$T/ssa.$P.log
GREY='^450 4\.2\.0 <alice@localhost>: Recipient address rejected: Greylisted, try again in [12] seconds$'

# ---- first attempt, immediate retry, retry after the delay ---------------
out=$(cli "$P" 127.0.0.2 a@x.test m1 alice@localhost)
t0=$(date +%s.%N)	# after the first attempt was recorded
check_match "first attempt: 450 4.2.0 Greylisted, try again in N seconds" "$GREY" "$out"
check_match "first attempt: no DATA" '^no-data$' "$out"
check_match "log: event=greylisted ip= from= to=" \
    'event=greylisted ip=127\.0\.0\.2 from=a@x\.test to=alice@localhost' "$(cat "$LOG")"
out=$(cli "$P" 127.0.0.2 a@x.test m1 alice@localhost)
check_match "immediate retry: still 450 4.2.0" "$GREY" "$out"
check "immediate retry: nothing delivered" test "$(count_new alice)" = 0
# wait out the delay (2s from the first attempt)
sleep "$("$PY" -c "import time,sys; print(max(0, 2.2 - (time.time() - float(sys.argv[1]))))" "$t0")"
out=$(cli "$P" 127.0.0.2 a@x.test grey-m1 alice@localhost)
check_match "retry after the delay: 250" '^250 2\.1\.5' "$out"
check_match "retry after the delay: DATA accepted" '^DATA 250 ' "$out"
check "retry after the delay: delivered" has_marker alice grey-m1
check_match "log: event=greylist_pass" \
    'event=greylist_pass ip=127\.0\.0\.2 from=a@x\.test to=alice@localhost' "$(cat "$LOG")"

# ---- what makes a triplet ------------------------------------------------
out=$(cli "$P" 127.0.0.3 A@X.TEST grey-m2 alice@localhost bob@localhost)
check_match "same /24 (127.0.0.3), sender in upper case: whitelisted, 250" \
    '^250 2\.1\.5' "$(sed -n 2p <<<"$out")"
check_match "another recipient (bob), same /24 and sender: greylisted separately" \
    '^450 4\.2\.0 <bob@localhost>: .*Greylisted' "$(sed -n 3p <<<"$out")"
check "the whitelisted recipient got the message" has_marker alice grey-m2
check "the greylisted one did not" test "$(count_new bob)" = 0
out=$(cli "$P" 127.0.1.2 a@x.test m3 alice@localhost)
check_match "another /24 (127.0.1.2): greylisted" "$GREY" "$out"
out=$(cli "$P" 127.0.0.2 "" m4 alice@localhost)
check_match "null sender <>: its own triplet, greylisted" "$GREY" "$out"
out=$(cli "$P" 127.0.0.2 a@x.test m5 nobody@localhost)
check_match "unknown recipient: 550, not greylisted" '^550 5\.1\.1 ' "$(sed -n 2p <<<"$out")"

# ---- maildb greylist ls / clear -----------------------------------------
ls_out=$(mdb ls)
diag "$ls_out"
check_match "ls: passed triplet" '^127\.0\.0\.0/24 +passed +[0-9]+ .* a@x\.test alice@localhost$' "$ls_out"
check_match "ls: waiting triplet for bob" '^127\.0\.0\.0/24 +waiting .* a@x\.test bob@localhost$' "$ls_out"
check_match "ls: null sender as <>" '^127\.0\.0\.0/24 +waiting .* <> alice@localhost$' "$ls_out"
check_match "ls: 127.0.1.0/24" '^127\.0\.1\.0/24 +waiting ' "$ls_out"
check_match "clear 127.0.1.9 (any address of the /24)" '^cleared 1 triplet for' "$(mdb clear 127.0.1.9)"
check_eq "ls no longer shows 127.0.1.0/24" 0 "$(mdb ls | grep -c '^127\.0\.1\.0/24')"

# ---- greylist_exempt ------------------------------------------------------
E=$(free_port)
start_ssa "$E" "$SMTPD" -f "$CONF" -o greylist=yes -o "greylist_db=$GL" || fail "ssa start (exempt)"
out=$(cli "$E" 127.0.0.9 new@x.test grey-m6 carol@localhost)
check_match "default greylist_exempt (127.0.0.0/8): accepted at once" '^250 2\.1\.5' "$(sed -n 2p <<<"$out")"
check "exempt: delivered" has_marker carol grey-m6

# ---- kill -9 of monitors while they update the store ----------------------
SSA=${LAUNCHER_PIDS[0]}
pids=()
for i in $(seq 1 12); do
	cli "$P" "127.0.2.$i" "k$i@x.test" m alice@localhost >/dev/null 2>&1 &
	pids+=($!)
done
kills=0
for i in $(seq 1 30); do
	for k in $(pgrep -P "$SSA"); do kill -KILL "$k" 2>/dev/null && kills=$((kills + 1)); done
	sleep 0.01
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
diag "kill -9 of $kills smtpd process(es)"
check "db5.3_verify clean after the kills" flock "$GL/lock" db5.3_verify -h "$GL" greylist.db
out=$(cli "$P" 127.0.0.2 a@x.test grey-m7 alice@localhost)
check_match "after the kills: the whitelisted triplet still passes" '^250 2\.1\.5' "$(sed -n 2p <<<"$out")"
check_match "after the kills: ls works" '^127\.0\.0\.0/24 +passed .* a@x\.test alice@localhost$' "$(mdb ls)"

# ---- greylist_db that is the throttle's store: never handed over ----------
if [ "$REAL_UID" = 0 ]; then
	SH=$T/shared-store
	mkdir -m 700 "$SH"
	S=$(free_port)
	start_ssa "$S" "$SMTPD" -d -f "$CONF" -o greylist=yes -o greylist_exempt= \
	    -o "greylist_db=$SH" -o "throttle_db=$SH" || fail "ssa start (shared)"
	out=$(cli "$S" 127.0.0.3 shared@x.test grey-m8 alice@localhost)
	check_eq "greylist_db = throttle_db: still root's directory" "root 700" "$(stat -c '%U %a' "$SH")"
	check_match "greylist_db = throttle_db: refused, logged" \
	    'greylist_db .* is also throttle_db: not handed to unpriv_user' "$(cat "$T/ssa.$S.log")"
fi

stop_launchers
done_testing
