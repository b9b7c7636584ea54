#!/bin/bash
# torture_soak.sh - a bounded soak: for TORTURE_SECONDS (default 120)
#   - 3 tracked SMTP senders (Python smtplib; every message carries a unique
#     id; an id counts as acknowledged only after the 250 to its data),
#   - smtp-source loops adding untracked load to the same mailbox,
#   - 2 POP3 collectors (poplib: UIDL, RETR, DELE every message, QUIT),
#   - `maildb reindex alice` now and then,
#   - a killer sending SIGKILL to a random smtpd/pop3d process of this test
#     (found in /proc by name and our config path; nothing else is touched)
#     every 0.2-1.5 s.
# Afterwards, with everything stopped: every acknowledged id was collected
# exactly once (RETR'd in a session whose QUIT got +OK) or is still in the
# Maildir exactly once (an id collected in a session whose QUIT reply was
# lost may be gone); no id is both collected and still there; no id is in
# the Maildir twice; pop3d's STAT agrees with the files; `maildb verify
# alice` is clean. Loopback only; every loop is bounded by the deadline.
set -u
export CWRAP_PAM=${CWRAP_PAM:-1}
. "$(dirname "$0")/../lib/lib.sh"
need postfix
SECS=${TORTURE_SECONDS:-120}
have smtp-source || { skip "torture soak" "smtp-source not installed (postfix)"; done_testing; }

SP=$(free_port); PP=$(free_port)
# smtpd needs no PAM: without pam_wrapper (whose per-process config dir
# collides when many processes start at once, see lib.sh CWRAP_PAM).
saved_env=("${CWRAP_ENV[@]}")
CWRAP_ENV=()
for kv in "${saved_env[@]}"; do
	case $kv in
	LD_PRELOAD=*) CWRAP_ENV+=("${kv/$WRAPLIB\/libpam_wrapper.so:/}") ;;
	PAM_WRAPPER*) ;;
	*) CWRAP_ENV+=("$kv") ;;
	esac
done
start_ssa "$SP" "$SMTPD" -f "$CONF" || fail "smtpd listens"
CWRAP_ENV=("${saved_env[@]}")
start_ssa "$PP" "$POP3D" -f "$CONF" || fail "pop3d listens"

# untracked load, bounded by the deadline
end=$(( $(date +%s) + SECS ))
(
	while [ "$(date +%s)" -lt "$end" ]; do
		timeout 30 smtp-source -c -m 20 -s 2 -l 1024 -f load@example.test \
		    -t alice@localhost "127.0.0.1:$SP" >/dev/null 2>&1
		sleep 0.5
	done
) &
LOADPID=$!
(
	while [ "$(date +%s)" -lt "$end" ]; do
		sleep 7
		cw timeout 60 "$MAILDB" -f "$CONF" reindex alice >>"$T/reindex.log" 2>&1
	done
) &
REINDEXPID=$!

out=$("$PY" - "$SP" "$PP" "$SECS" "$CONF" "$(maildir alice)" <<'PYEOF' 2>&1
import os, poplib, random, re, signal, smtplib, sys, threading, time
sport, pport, secs, conf, md = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
deadline = time.monotonic() + secs
lock = threading.Lock()
acked, collected, maybe_collected = set(), [], set()
errors = {}
stats = dict(sent=0, failed=0, pop_ok=0, pop_fail=0, kills=0)
ID = re.compile(rb"X-Torture-Id: (t\d+-\d+)")

def sender(k):
    n = 0
    while time.monotonic() < deadline:
        n += 1
        tid = "t%d-%d" % (k, n)
        msg = ("From: s@example.test\r\nTo: alice@localhost\r\nSubject: %s\r\n"
               "X-Torture-Id: %s\r\n\r\nbody %s\r\n%s\r\n" % (tid, tid, tid, "\r\n".join(["x" * 70] * random.randint(0, 40))))
        try:
            with smtplib.SMTP("127.0.0.1", sport, timeout=20) as s:
                s.sendmail("s@example.test", ["alice@localhost"], msg)
            with lock:
                acked.add(tid); stats["sent"] += 1
        except Exception as e:
            with lock:
                stats["failed"] += 1
                errors[type(e).__name__ + ": " + str(e)[:60]] = errors.get(type(e).__name__ + ": " + str(e)[:60], 0) + 1
            time.sleep(0.05)

def collector():
    while time.monotonic() < deadline:
        got = []
        quit_sent = False
        try:
            p = poplib.POP3("127.0.0.1", pport, timeout=20)
            p.user("alice"); p.pass_("secret")
            n = len(p.list()[1])
            for i in range(1, min(n, 30) + 1):
                data = b"\n".join(p.retr(i)[1])
                m = ID.search(data)
                if m:
                    got.append(m.group(1).decode())
                p.dele(i)
            quit_sent = True
            p.quit()
            with lock:
                collected.extend(got); stats["pop_ok"] += 1
        except Exception:
            with lock:
                stats["pop_fail"] += 1
                if quit_sent:       # QUIT may have been done: ids may be gone
                    maybe_collected.update(got)
            time.sleep(0.1)
        time.sleep(random.uniform(0, 0.5))

def ours():
    res = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            comm = open("/proc/%s/comm" % pid).read().strip()
            cmd = open("/proc/%s/cmdline" % pid, "rb").read()
        except OSError:
            continue
        if comm in ("smtpd", "pop3d", "maildb") and conf.encode() in cmd:
            res.append(int(pid))
    return res

def killer():
    while time.monotonic() < deadline - 2:
        time.sleep(random.uniform(0.2, 1.5))
        pids = ours()
        if pids:
            try:
                os.kill(random.choice(pids), signal.SIGKILL)
                with lock:
                    stats["kills"] += 1
            except ProcessLookupError:
                pass

threads = [threading.Thread(target=sender, args=(k,)) for k in range(3)]
threads += [threading.Thread(target=collector) for _ in range(2)]
threads.append(threading.Thread(target=killer))
for t in threads:
    t.start()
for t in threads:
    t.join(secs + 120)
time.sleep(1)
# What is left in the Maildir.
left = {}
for sub in ("new", "cur"):
    d = os.path.join(md, sub)
    for name in os.listdir(d) if os.path.isdir(d) else []:
        with open(os.path.join(d, name), "rb") as f:
            m = ID.search(f.read())
        if m:
            left.setdefault(m.group(1).decode(), []).append(name)
bad = []
cc = {}
for tid in collected:
    cc[tid] = cc.get(tid, 0) + 1
for tid in sorted(acked):
    c, l = cc.get(tid, 0), len(left.get(tid, []))
    if c + l == 1:
        continue
    if c == 0 and l == 0 and tid in maybe_collected:
        continue
    bad.append("%s: collected %d, in Maildir %d" % (tid, c, l))
for tid, names in left.items():
    if len(names) > 1:
        bad.append("%s in the Maildir %d times: %s" % (tid, len(names), names))
for tid, c in cc.items():
    if c > 1:
        bad.append("%s collected %d times" % (tid, c))
print("STATS acked=%d collected=%d left=%d maybe=%d %s" % (
    len(acked), len(collected), len(left), len(maybe_collected),
    " ".join("%s=%d" % kv for kv in sorted(stats.items()))))
for e, n in sorted(errors.items(), key=lambda x: -x[1])[:5]:
    print("SENDERR %d x %s" % (n, e))
for b in bad[:30]:
    print("BAD " + b)
print("BADCOUNT %d" % len(bad))
PYEOF
)
wait "$LOADPID" "$REINDEXPID" 2>/dev/null
stop_launchers
diag "$(echo "$out" | grep -E '^(STATS|SENDERR)')"
check_eq "soak: every acknowledged message collected once or still there once" \
    "BADCOUNT 0" "$(echo "$out" | grep '^BADCOUNT')"
echo "$out" | grep -E '^BAD |Traceback|Error' | head -n 30 | sed 's/^/#   /'
stats=$(echo "$out" | grep '^STATS')
check_match "soak: messages were acknowledged, collected, and processes killed" \
    'acked=[1-9][0-9]* collected=[1-9].* kills=[1-9]' "$stats"
# quiet now: the index must agree after one more open (recovery), and verify
SP2=$(free_port)
start_ssa "$SP2" "$POP3D" -f "$CONF"
files=$(find "$(maildir alice)/new" "$(maildir alice)/cur" -type f | wc -l)
stat=$("$PY" -c 'import poplib,sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=30); p.user("alice"); p.pass_("secret")
print(p.stat()[0]); p.quit()' "$SP2" 2>&1)
check_eq "after the soak: pop3d STAT equals the $files files" "$files" "$stat"
check "after the soak: index agrees with the files" index_check alice
check "after the soak: maildb verify alice is clean" cw timeout 120 "$MAILDB" -f "$CONF" verify alice
done_testing
