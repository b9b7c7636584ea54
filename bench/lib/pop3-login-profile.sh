#!/bin/bash
# Call-graph profile of ONE warm inetmail pop3d login on a big mailbox
# (diagnostic for bench/RESULTS.md "Where inetmail's time goes"; not timed).
# pop3d runs without a launcher: the session comes from a pipe (fd 0/1), so
# no inetd, no TCP; PAM and the index are the real ones.  Needs a finished
# bench/run-pop3-big (its build and inetmail.conf under $BENCH_WORK).
#
#   sudo bench/lib/pop3-login-profile.sh [N]      # N messages, default 100000
#
# Writes $BENCH_WORK/prof/{perf-warm-children.txt,strace-warm.txt}; cleans up
# (PAM file if it created it, the stores, benchu's hash back to yescrypt).
set -u
N=${1:-100000}
PEERS_DIR=${PEERS_DIR:-/work/shared/peers}
BENCH_WORK=${BENCH_WORK:-/tmp/inetmail-bench-pop3}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
export PB_WORK=${PB_WORK:-$BENCH_WORK/peerwork} PB_CGROUP=${PB_CGROUP:-inetmailbench}
source "$PEERS_DIR/lib.sh" || exit 1
IM=$BENCH_WORK/inetmail; O=$BENCH_WORK/prof; mkdir -p "$O"
[ -x "$IM/build/pop3d/pop3d" ] && [ -f "$IM/inetmail.conf" ] || die "run bench/run-pop3-big first"
POP3D=("$IM/build/pop3d/pop3d" -f "$IM/inetmail.conf" -o auth_require_tls=no -o mailbox=~/Maildir-inetmail)
created=0; [ -e /etc/pam.d/inetmail ] || { cp "$REPO/etc/pam.d/inetmail" /etc/pam.d/inetmail; created=1; }
hadmbox=0; [ -e "/var/mail/$PB_USER" ] && hadmbox=1
cleanup() {
    [ $created = 1 ] && rm -f /etc/pam.d/inetmail
    $PY "$PEERS_DIR/mkmail.py" --count 0 --size 100 >/dev/null
    [ $hadmbox = 0 ] && rm -f "/var/mail/$PB_USER"
    rm -rf "$PB_HOME/Maildir-inetmail"; set_hash yescrypt; log "cleaned up"
}
trap cleanup EXIT
set_hash sha512
$PY "$PEERS_DIR/mkmail.py" --count "$N" --size 2048
rm -rf "$PB_HOME/Maildir-inetmail"; cp -a -l "$PB_HOME/Maildir" "$PB_HOME/Maildir-inetmail"
sess() { printf 'USER %s\r\nPASS %s\r\n%s\r\nQUIT\r\n' "$PB_USER" "$PB_PASS" "$1"; }
t=$(date +%s%N); sess STAT | "${POP3D[@]}" | grep '^+OK [0-9]'; log "first login (index build): $(( ($(date +%s%N) - t) / 1000000 )) ms"
sleep 3; sess STAT | "${POP3D[@]}" >/dev/null      # dir mtimes settled (> 2 s)
for i in 1 2 3; do
    t=$(date +%s%N); sess STAT | "${POP3D[@]}" >/dev/null; log "warm login+STAT (pipe): $(( ($(date +%s%N) - t) / 1000000 )) ms"
done
sess STAT | strace -f -tt -T -o "$O/strace-warm.txt" "${POP3D[@]}" >/dev/null
sess UIDL | perf record -q --call-graph dwarf,16384 -F 2000 -o "$O/perf-warm.data" -- "${POP3D[@]}" >/dev/null 2>&1
perf report -i "$O/perf-warm.data" --children --sort sym --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -80 > "$O/perf-warm-children.txt"
rm -f "$O/perf-warm.data"
log "wrote $O/perf-warm-children.txt $O/strace-warm.txt"
