#!/bin/bash
# privs_real.sh - the privilege separation seen from /proc, with REAL
# setuid: tests/lib/lib.sh runs daemons under uid_wrapper (fake root), and
# /proc shows real ids, so here the daemons run with nss_wrapper (the fake
# users) and pam_wrapper only - real root, real setuid/setgid/chroot.
# The launchers run with extra supplementary groups (4 adm and 24 cdrom,
# setpriv --groups, as an inetd or a shell of root's may have them), which
# the monitors inherit. Checks, while a session is open:
#   smtpd: the monitor is root; the session child runs as unpriv_user
#          (real/effective/saved/fs uid and gid), with exactly its account's
#          groups (Groups: in /proc/PID/status; none of the launcher's),
#          chrooted (readlink /proc/PID/root = chroot_dir); the delivery
#          child (slowed down by strace's delay injection on fsync while
#          we look) as the recipient, with only its primary group;
#   pop3d: the same for the pre-auth child, and for the TLS proxy it
#          becomes after a login over STLS; after USER/PASS the post-auth
#          process runs as the user (all four uids and gids), with exactly
#          the user's groups; no process but the monitor keeps any root id.
# Also a fault that needs real permissions: a mailbox owned by the wrong
# user is refused (4xx), nothing stored, nothing written into it.
# Skips (with the reason) when not real root or chroot is not configured.
set -u
# Real root: run the whole test, and so the launchers and the monitors,
# with supplementary groups that no dropped process may keep.
if [ "$(id -u)" = 0 ] && [ -z "${PRIVS_REAL_GROUPS:-}" ] && command -v setpriv >/dev/null; then
	PRIVS_REAL_GROUPS=4,24 exec setpriv --groups 4,24 -- /bin/bash "$0" "$@"
fi
CWRAP_PAM=1
. "$(dirname "$0")/../lib/lib.sh"
need passwd swaks util-linux openssl strace
if [ "$REAL_UID" != 0 ] || [ -z "$CHROOT" ]; then
	skip "privilege checks from /proc" "needs real root and a chroot (not root, or an ASan build: lib.sh sets no chroot_dir)"
	done_testing
fi
cwrap_real_ids	# the environment without uid_wrapper
check_eq "the test runs with the launchers' extra groups 4 and 24" "4 24" \
    "$(id -G | tr ' ' '\n' | grep -Ex '4|24' | sort -n | tr '\n' ' ' | sed 's/ $//')"
mkdir -p "$T/pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/pki/key.pem" -out "$T/pki/cert.pem" -days 30 \
    -subj /CN=localhost >"$T/mkcert.log" 2>&1 || fail "a self-signed certificate"
chmod 600 "$T/pki/key.pem"
SP=$(free_port); PP=$(free_port); PT=$(free_port); SD=$(free_port)
start_ssa "$SP" "$SMTPD" -f "$CONF" || fail "smtpd listens"
start_ssa "$PP" "$POP3D" -f "$CONF" || fail "pop3d listens"
start_ssa "$PT" "$POP3D" -f "$CONF" -o "tls_cert=$T/pki/cert.pem" \
    -o "tls_key=$T/pki/key.pem" || fail "pop3d (STLS) listens"
# smtpd under strace -f, every fsync delayed by 1.5 s: the delivery child
# (a fsync of the file and one of new/) lives long enough to be looked at.
start_ssa "$SD" strace -f -qq -o /dev/null -e trace=fsync \
    -e inject=fsync:delay_enter=1500000 "$SMTPD" -f "$CONF" ||
    fail "smtpd (under strace) listens"
UNPRIV=$(awk -F: '$1 == "inetmail" {print $3}' "$T/passwd")

out=$("$PY" - "$SP" "$PP" "$CONF" "$CHROOT" "$UNPRIV" "$PT" "$SD" <<'PYEOF' 2>&1
import os, poplib, socket, ssl, sys, time
sp, pp, conf, chroot, unpriv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
pt, sd = int(sys.argv[6]), int(sys.argv[7])

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
    groups = sorted(int(g) for g in s["Groups"])
    print("%s pid=%d uid=%s gid=%s groups=%s root=%s" % (tag, pid, ",".join(s["Uid"]),
          ",".join(s["Gid"]), ",".join(map(str, groups)) or "-", s["root"]))

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

# pop3d over STLS: after the login the pre-auth child is the TLS proxy
p = poplib.POP3("127.0.0.1", pt, timeout=10)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
p.stls(context=ctx)
p.user("alice")
print("POP3 tls login " + p.pass_("secret").decode("latin-1"))
p.stat()
time.sleep(0.3)
ps = [q for q in procs("pop3d") if "tls_cert=" in open("/proc/%d/cmdline" % q, "rb").read().decode("latin-1")]
for q in ps:
    st = status(q)
    if st["ppid"] not in ps:
        report("pop3d-tls-monitor", q)
    elif int(st["Uid"][0]) == unpriv:
        report("pop3d-tlsproxy", q)
    else:
        report("pop3d-tls-postauth", q)
p.quit()

# smtpd's delivery child: slowed down by strace while we look
c = socket.create_connection(("127.0.0.1", sd), timeout=30)
f = c.makefile("rb")
line(f)
c.sendall(b"HELO client.test\r\n"); line(f)
c.sendall(b"MAIL FROM:<s@example.test>\r\n"); line(f)
c.sendall(b"RCPT TO:<alice@localhost>\r\n"); line(f)
c.sendall(b"DATA\r\n"); line(f)
c.sendall(b"Subject: held\r\n\r\nheld on the lock\r\n.\r\n")
seen = []
for _ in range(200):
    seen = [q for q in procs("smtpd") if int(status(q)["Uid"][0]) == 1001]
    if seen:
        break
    time.sleep(0.05)
time.sleep(0.1)
for q in seen:
    report("smtpd-delivery", q)
print("SMTP slow delivery " + line(f))
c.sendall(b"QUIT\r\n"); line(f); c.close()
PYEOF
)
diag "$out"
check_match "smtpd: greeting" '^SMTP greeting 220 ' "$out"
check_match "smtpd monitor runs as root, with the launcher's groups 4 and 24" \
    '^smtpd-monitor pid=[0-9]+ uid=0,0,0,0 gid=0,0,0,0 groups=(.*,)?4,(.*,)?24(,.*)? ' "$out"
# The groups are exact: the account's own (the group file: inetmail is in
# its group 990 only, alice in 1001 and users 100), none of the launcher's.
U4=$UNPRIV,$UNPRIV,$UNPRIV,$UNPRIV
check_match "smtpd session: unpriv_user ($UNPRIV) in every uid and gid, groups exactly $UNPRIV, chrooted to $CHROOT" \
    "^smtpd-session pid=[0-9]+ uid=$U4 gid=$U4 groups=$UNPRIV root=$CHROOT\$" "$out"
check_eq "smtpd: exactly one session process" 1 "$(grep -c '^smtpd-session' <<<"$out")"
check_match "pop3d pre-auth: unpriv_user, groups exactly $UNPRIV, chrooted" \
    "^pop3d-preauth pid=[0-9]+ uid=$U4 gid=$U4 groups=$UNPRIV root=$CHROOT\$" "$out"
check_match "pop3d: login with real setuid" '^POP3 login \+OK' "$out"
check_match "pop3d post-auth: alice (1001) in every uid and gid, groups exactly 100,1001" \
    '^pop3d-postauth pid=[0-9]+ uid=1001,1001,1001,1001 gid=1001,1001,1001,1001 groups=100,1001 root=/$' "$out"
check_match "pop3d: login over STLS" '^POP3 tls login \+OK' "$out"
check_match "pop3d TLS proxy: unpriv_user, groups exactly $UNPRIV, chrooted" \
    "^pop3d-tlsproxy pid=[0-9]+ uid=$U4 gid=$U4 groups=$UNPRIV root=$CHROOT\$" "$out"
check_match "pop3d post-auth under the TLS proxy: alice, groups exactly 100,1001" \
    '^pop3d-tls-postauth pid=[0-9]+ uid=1001,1001,1001,1001 gid=1001,1001,1001,1001 groups=100,1001 root=/$' "$out"
check_match "smtpd delivery child: alice in every uid and gid, only her primary group 1001" \
    '^smtpd-delivery pid=[0-9]+ uid=1001,1001,1001,1001 gid=1001,1001,1001,1001 groups=1001 root=/$' "$out"
check_match "  and the slow delivery is accepted" '^SMTP slow delivery 250 ' "$out"
n=$(grep -E '^(smtpd-session|smtpd-delivery|pop3d-preauth|pop3d-postauth|pop3d-tlsproxy|pop3d-tls-postauth) ' <<<"$out" |
    grep -Ec 'uid=([0-9]+,)*0(,|\s)|gid=([0-9]+,)*0(,|\s)|groups=([0-9]+,)*(0|4|24)(,|\s)')
check_eq "no process but the monitors keeps a root id or a launcher's group" 0 "$n"

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
