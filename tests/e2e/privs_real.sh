#!/bin/bash
# privs_real.sh - the privilege separation seen from /proc, with REAL
# setuid: tests/lib/lib.sh runs daemons under uid_wrapper (fake root), and
# /proc shows real ids, so here the daemons run with nss_wrapper (the fake
# users) and pam_wrapper only - real root, real setuid/setgid/chroot.
# Checks, while a session is open:
#   smtpd: the monitor is root; the session child runs as unpriv_user
#          (real/effective/saved/fs uid and gid), with no supplementary
#          group but its own, chrooted (readlink /proc/PID/root = chroot_dir);
#   pop3d: the same for the pre-auth child; after USER/PASS the post-auth
#          process runs as the user (all four uids and gids), groups only
#          the user's own; no process but the monitor keeps any root id.
# Also a fault that needs real permissions: a mailbox owned by the wrong
# user is refused (4xx), nothing stored, nothing written into it.
# Skips (with the reason) when not real root or chroot is not configured.
set -u
CWRAP_PAM=1
. "$(dirname "$0")/../lib/lib.sh"
need passwd swaks
if [ "$REAL_UID" != 0 ] || [ -z "$CHROOT" ]; then
	skip "privilege checks from /proc" "needs real root and a chroot (not root, or an ASan build: lib.sh sets no chroot_dir)"
	done_testing
fi
cwrap_real_ids	# the environment without uid_wrapper
SP=$(free_port); PP=$(free_port)
start_ssa "$SP" "$SMTPD" -f "$CONF" || fail "smtpd listens"
start_ssa "$PP" "$POP3D" -f "$CONF" || fail "pop3d listens"
UNPRIV=$(awk -F: '$1 == "inetmail" {print $3}' "$T/passwd")

out=$("$PY" - "$SP" "$PP" "$CONF" "$CHROOT" "$UNPRIV" <<'PYEOF' 2>&1
import os, socket, sys, time
sp, pp, conf, chroot, unpriv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])

def procs(name):
    res = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if open("/proc/%s/comm" % pid).read().strip() != name:
                continue
            if conf.encode() not in open("/proc/%s/cmdline" % pid, "rb").read():
                continue
            res.append(int(pid))
        except OSError:
            pass
    return res

def status(pid):
    st = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        st[k] = v.split()
    st["root"] = os.readlink("/proc/%d/root" % pid)
    st["ppid"] = int(st["PPid"][0])
    return st

def report(tag, pid):
    s = status(pid)
    print("%s pid=%d uid=%s gid=%s groups=%s root=%s" % (tag, pid, ",".join(s["Uid"]),
          ",".join(s["Gid"]), ",".join(s["Groups"]) or "-", s["root"]))

def line(f):
    return f.readline().decode("latin-1").rstrip("\r\n")

# smtpd: a session is open while we look
c = socket.create_connection(("127.0.0.1", sp), timeout=10)
f = c.makefile("rb")
print("SMTP greeting " + line(f))
time.sleep(0.3)
ps = procs("smtpd")
mon = [p for p in ps if status(p)["ppid"] not in ps]
ses = [p for p in ps if status(p)["ppid"] in ps]
for p in mon:
    report("smtpd-monitor", p)
for p in ses:
    report("smtpd-session", p)
c.sendall(b"QUIT\r\n"); line(f); c.close()

# pop3d: pre-auth, then post-auth
c = socket.create_connection(("127.0.0.1", pp), timeout=10)
f = c.makefile("rb")
print("POP3 greeting " + line(f))
time.sleep(0.3)
ps = procs("pop3d")
for p in ps:
    report("pop3d-monitor" if status(p)["ppid"] not in ps else "pop3d-preauth", p)
c.sendall(b"USER alice\r\n"); line(f)
c.sendall(b"PASS secret\r\n")
print("POP3 login " + line(f))
c.sendall(b"STAT\r\n")
print("POP3 stat " + line(f))
ps = procs("pop3d")
for p in ps:
    report("pop3d-monitor" if status(p)["ppid"] not in ps else "pop3d-postauth", p)
c.sendall(b"QUIT\r\n"); line(f); c.close()
PYEOF
)
diag "$out"
check_match "smtpd: greeting" '^SMTP greeting 220 ' "$out"
check_match "smtpd monitor runs as root" '^smtpd-monitor pid=[0-9]+ uid=0,0,0,0 ' "$out"
check_match "smtpd session: unpriv_user ($UNPRIV) in every uid and gid, only its own group, chrooted to $CHROOT" \
    "^smtpd-session pid=[0-9]+ uid=$UNPRIV,$UNPRIV,$UNPRIV,$UNPRIV gid=$UNPRIV,$UNPRIV,$UNPRIV,$UNPRIV groups=($UNPRIV|-) root=$CHROOT\$" "$out"
check_eq "smtpd: exactly one session process" 1 "$(grep -c '^smtpd-session' <<<"$out")"
check_match "pop3d pre-auth: unpriv_user, only its own group, chrooted" \
    "^pop3d-preauth pid=[0-9]+ uid=$UNPRIV,$UNPRIV,$UNPRIV,$UNPRIV gid=$UNPRIV,$UNPRIV,$UNPRIV,$UNPRIV groups=($UNPRIV|-) root=$CHROOT\$" "$out"
check_match "pop3d: login with real setuid" '^POP3 login \+OK' "$out"
check_match "pop3d post-auth: alice (1001) in every uid and gid, alice's groups only" \
    '^pop3d-postauth pid=[0-9]+ uid=1001,1001,1001,1001 gid=1001,1001,1001,1001 groups=(1001|100|,)+ root=/$' "$out"
n=$(grep -E '^(smtpd-session|pop3d-preauth|pop3d-postauth) ' <<<"$out" | grep -Ec 'uid=([0-9]+,)*0(,|\s)|gid=([0-9]+,)*0(,|\s)|groups=([0-9]+,)*0(,|\s)')
check_eq "no process but the monitors keeps a root id" 0 "$n"

# Fault with real permissions: bob's mailbox owned by carol.
mkdir -p "$(maildir bob)"/{tmp,new,cur}
chown -R 1003:1003 "$(maildir bob)"; chmod -R 700 "$(maildir bob)"
out=$(timeout 60 swaks --server 127.0.0.1 --port "$SP" --from s@example.test \
    --to bob@localhost --helo client.test --body wrong-owner 2>&1)
check_match "mailbox owned by the wrong user: a temporary failure (4xx)" '^<(-|\*\*) +4[0-9][0-9] ' "$out"
check_eq "mailbox owned by the wrong user: nothing stored" 0 \
    "$(find "$(maildir bob)" -type f ! -path '*/inetmail/*' | wc -l)"
check_eq "mailbox owned by the wrong user: still carol's" "1003" "$(stat -c %u "$(maildir bob)/new")"
[ "$TESTS_FAILED" = 0 ] || launcher_logs
done_testing
