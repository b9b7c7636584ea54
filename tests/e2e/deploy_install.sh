#!/bin/bash
# deploy_install.sh - the administrator's path, with the real pieces:
# `make install DESTDIR=stage`, then, in a private mount namespace (the host
# is never touched): a private copy of /etc (passwd, group, shadow, pam.d,
# ...) and of /var's top level, the staged /usr/local/sbin and
# /usr/local/share bound into place, a real account with a real password
# hash, `make install-config` from the installed files (it creates the
# inetmail user, /etc/inetmail, /etc/pam.d/inetmail, /var/empty), and a
# self-signed certificate as INSTALL describes. Then the INSTALLED programs
# run from the SHIPPED inetd.conf lines (only the listening address
# rewritten) under openbsd-inetd, from the shipped units' ExecStart= under
# systemd-socket-activate (with the units' NoNewPrivileges= and
# CapabilityBoundingSet= applied by setpriv), and from the shipped xinetd
# files under xinetd when it is installed: swaks delivers to the account,
# real setuid puts the file in its ~/Maildir owned by its uid, the session
# runs as inetmail chrooted in /var/empty (seen in /proc), real pam_unix
# checks the password over POP3 (curl, fetchmail), a wrong one fails, and
# the installed maildb lists the message. systemd-analyze verify passes on
# the units. Afterwards the host's /etc, /var/empty and /usr/local are as
# before. Root only; skipped (with the reason) elsewhere.
. "$(dirname "$0")/../lib/lib.sh"
need systemd openbsd-inetd adduser passwd util-linux openssl curl fetchmail swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl

DUSER=deploytest			# the account made in the private /etc
HOSTFILES=(/etc/passwd /etc/group /etc/shadow /etc/gshadow)

# ---- outside: checks, staged install, host fingerprint --------------------
if [ "${DEPLOY_INSIDE:-0}" != 1 ]; then
	if [ "$REAL_UID" != 0 ]; then
		skip "install and run as an administrator would" "needs root (real pam_unix, setuid, mount namespace)"
		done_testing
	fi
	if ! unshare -m --propagation private true 2>/dev/null; then
		skip "install and run as an administrator would" "unshare -m is not permitted here"
		done_testing
	fi
	if [ -S /var/run/nscd/socket ] || [ -S /run/nscd/socket ]; then
		skip "install and run as an administrator would" "nscd runs: it would answer account lookups from the host's /etc"
		done_testing
	fi
	for p in make openssl swaks curl systemd-socket-activate setpriv /usr/sbin/inetd; do
		have "$p" || fail "$p is installed (see .ci/run)"
	done
	[ "$TESTS_FAILED" = 0 ] || done_testing

	# The build under test: `make check` (B=.) or `make asan` (B=asan). It
	# is already built: -o all keeps make from rebuilding anything.
	barg=()
	[ "$B" != "$TOP" ] && barg=("B=${B#"$TOP"/}")
	check "make install DESTDIR=stage" env -u MAKEFLAGS -u MFLAGS \
	    make -s -C "$TOP" -o all install DESTDIR="$T/stage" "${barg[@]}"
	S=$T/stage/usr/local
	for f in sbin/smtpd sbin/pop3d sbin/maildb share/man/man8/smtpd.8 share/man/man5/inetmail.conf.5 \
	    share/inetmail/inetmail.conf share/inetmail/inetd.conf share/inetmail/pam.d/inetmail \
	    share/inetmail/systemd/inetmail-smtpd.socket share/inetmail/xinetd.d/inetmail-smtp; do
		[ -e "$S/$f" ] || fail "make install: no PREFIX/$f"
	done
	[ -d "$T/stage/etc" ] && fail "make install wrote into DESTDIR/etc"

	fingerprint() {
		sha256sum "${HOSTFILES[@]}" 2>&1
		ls -la --time-style=full-iso /etc/pam.d /usr/local/sbin /usr/local/share 2>&1
		ls -ld --time-style=full-iso /etc/inetmail /var/empty 2>&1
		getent passwd inetmail "$DUSER"
	}
	fingerprint >"$T/host.before"

	DEPLOY_INSIDE=1 INETMAIL_T=$T DEPLOY_OUTER_MNTNS=$(readlink /proc/self/ns/mnt) \
	    unshare -m --propagation private bash "$0"
	rc=$?
	if [ -f "$T/inner.counts" ]; then
		read -r n f s <"$T/inner.counts"
		TESTS_RUN=$n TESTS_FAILED=$f TESTS_SKIPPED=$s
	else
		fail "the part inside the mount namespace ended early (status $rc)"
	fi
	fingerprint >"$T/host.after"
	if diff -u "$T/host.before" "$T/host.after" >"$T/host.diff"; then
		pass "the host is untouched: /etc/passwd, group, shadow, pam.d, /etc/inetmail, /var/empty, /usr/local"
	else
		fail "the host changed"
		sed 's/^/#   /' "$T/host.diff"
	fi
	done_testing
fi

# ---- inside the private mount namespace -----------------------------------
[ "$(readlink /proc/self/ns/mnt)" != "${DEPLOY_OUTER_MNTNS:-}" ] ||
    { echo "deploy_install.sh: not in a private mount namespace; refusing" >&2; exit 1; }
trap 'stop_all; echo "$TESTS_RUN $TESTS_FAILED $TESTS_SKIPPED" >"$T/inner.counts"' EXIT
PIDS=()
stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL -- "-$p" "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}

# Private copies: all of /etc (adduser and useradd replace files by rename,
# which a bind mount over a single file would refuse), and /var's top level
# on a tmpfs with every real subdirectory bound back, so that /var/empty is
# created by install-config here and never on the host.
setup_ns() {
	cp -a /etc "$T/etc" && mount --bind "$T/etc" /etc || return 1
	mkdir -p "$T/realvar" && mount --bind /var "$T/realvar" &&
	    mount -t tmpfs -o mode=0755 deploy-var /var || return 1
	local e n
	for e in "$T"/realvar/* "$T"/realvar/.[!.]*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		n=${e##*/}
		[ "$n" = empty ] && continue
		if [ -L "$e" ]; then cp -a "$e" /var/
		elif [ -d "$e" ]; then mkdir "/var/$n" && mount --bind "$e" "/var/$n"
		else : >"/var/$n" && mount --bind "$e" "/var/$n"; fi || return 1
	done
	mount --bind "$T/stage/usr/local/sbin" /usr/local/sbin &&
	    mount --bind "$T/stage/usr/local/share" /usr/local/share
}
check "private /etc, /var and the staged /usr/local in a mount namespace" setup_ns ||
    exit 1

# The account, with a real SHA-512 crypt hash in the private shadow; and no
# inetmail user, config or PAM file yet (whatever the host has), so that
# install-config has to create them as on a fresh machine.
PASS=Dpl-$RANDOM$RANDOM
rm -rf /etc/inetmail /etc/pam.d/inetmail
sed -i '/^inetmail:/d' /etc/passwd /etc/shadow /etc/group /etc/gshadow 2>/dev/null
sed -i "/^$DUSER:/d" /etc/passwd /etc/shadow /etc/group /etc/gshadow 2>/dev/null
check "useradd $DUSER with a real password hash" \
    useradd -m -d "$T/home/$DUSER" -s /bin/sh -p "$(openssl passwd -6 "$PASS")" "$DUSER"
DUID=$(id -u "$DUSER")
# 0700, as Debian 12's adduser makes homes: root without CAP_DAC_OVERRIDE
# (the units' bounding set) cannot enter it; only the user's uid can.
chmod 700 "$T/home/$DUSER"

# ---- make install-config, from the installed files ------------------------
out=$(env -u MAKEFLAGS -u MFLAGS make -s -C "$TOP" install-config 2>&1)
check_eq "make install-config succeeds" 0 "$?"
for what in /etc/inetmail/inetmail.conf /etc/inetmail/aliases /etc/pam.d/inetmail \
    "user inetmail" /var/empty "/etc/inetmail/aliases.db"; do
	check_match "install-config: $what" "^(created|compiled) +$what" "$out"
done
out=$(env -u MAKEFLAGS -u MFLAGS make -s -C "$TOP" install-config 2>&1)
check_match "install-config again changes nothing" '^kept' "$out"
check_eq "install-config again: only 'kept' lines" "" \
    "$(printf '%s\n' "$out" | grep -Ev '^(kept|next:)')"
IM=$(getent passwd inetmail)
check_match "inetmail is a system account, home /nonexistent, no shell" \
    '^inetmail:x:[0-9]{1,3}:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin$' "$IM"
IMUID=$(id -u inetmail)
check_eq "inetmail has its own group" inetmail "$(id -gn inetmail)"
check_eq "/var/empty: root, 0755, empty" "root root 755 0" \
    "$(stat -c '%U %G %a' /var/empty) $(ls -A /var/empty | wc -l)"
check "/etc/pam.d/inetmail is the shipped one" cmp /etc/pam.d/inetmail "$TOP/etc/pam.d/inetmail"
check "/etc/inetmail/inetmail.conf is the shipped one" cmp /etc/inetmail/inetmail.conf "$TOP/etc/inetmail.conf"
check "maildb aliases (installed) reads the compiled aliases" sh -c \
    '/usr/local/sbin/maildb aliases | grep -q postmaster'

# Every key the shipped inetmail.conf shows (commented out) is known to the
# installed programs, with the value shown.
bad=
while IFS= read -r kv; do
	/usr/local/sbin/maildb -o "$kv" help >/dev/null 2>"$T/kv.err" || bad="$bad; $(cat "$T/kv.err")"
done < <(sed -n 's/^#\([a-z_][a-z0-9_]*\) = \?\(.*\)$/\1=\2/p' /etc/inetmail/inetmail.conf)
check_eq "every key shown in the shipped inetmail.conf is accepted" "" "$bad"

# known_opts ARGS...: true when every -o key=value is accepted.
known_opts() {
	local a prev= kv
	for a in "$@"; do
		if [ "$prev" = -o ]; then
			kv=$a
			/usr/local/sbin/maildb -f /dev/null -o "$kv" help >/dev/null 2>&1 || {
				echo "key ${kv%%=*} not implemented yet"; return 1; }
		fi
		prev=$a
	done
}

# Configuration as INSTALL says: names, and TLS with a certificate (here a
# self-signed one for localhost/127.0.0.1, key 0600 root) when the
# programs have TLS.
TLS=0
/usr/local/sbin/maildb -f /dev/null -o tls_cert= help >/dev/null 2>&1 && TLS=1
cat >>/etc/inetmail/inetmail.conf <<EOF

# added by deploy_install.sh, as INSTALL step 4 says
hostname = mx.deploy.test
local_domains = deploy.test
auth_fail_delay = 500ms
EOF
if [ "$TLS" = 1 ]; then
	install -d -m 0755 /etc/inetmail/tls
	check "a self-signed certificate" openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
	    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	    -keyout /etc/inetmail/tls/key.pem -out /etc/inetmail/tls/cert.pem
	chmod 600 /etc/inetmail/tls/key.pem
	printf 'tls_cert = /etc/inetmail/tls/cert.pem\ntls_key = /etc/inetmail/tls/key.pem\n' \
	    >>/etc/inetmail/inetmail.conf
	CURLTLS=(--cacert /etc/inetmail/tls/cert.pem)
else
	diag "the programs have no TLS keys yet: plain POP3 logins, TLS listeners skipped"
fi
check "the configuration parses" /usr/local/sbin/maildb help

ENVV=(PATH=/usr/sbin:/usr/bin:/sbin:/bin)
if [ "$LIB_ASAN" = 1 ]; then
	# pam_unix dlopens libcrypt after ASan has set up its crypt_r
	# interceptor, which then calls a null pointer: load libcrypt first.
	crypt=$(ldconfig -p | awk '/libcrypt\.so\.1 .*x86-64/{print $NF; exit}')
	ENVV+=(ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:verify_asan_link_order=0
	    ${crypt:+"LD_PRELOAD=$crypt"})
fi

# ---- the checks every launcher gets ----------------------------------------
MD=$T/home/$DUSER/Maildir
# smtp_ok WHAT PORT MARKER [SWAKS-ARGS...]: delivered, stored as the user
smtp_ok() {
	local what=$1 port=$2 mk=$3; shift 3
	local n0 f
	n0=$(find "$MD/new" -type f 2>/dev/null | wc -l)
	check "$what: swaks delivers to $DUSER@deploy.test" timeout 30 swaks -n \
	    --server 127.0.0.1 --port "$port" --from sender@example.net \
	    --to "$DUSER@deploy.test" --header "Subject: deploy $mk" --body "body $mk" "$@"
	f=$(grep -l "deploy $mk" "$MD"/new/* 2>/dev/null | head -n 1)
	if [ -n "$f" ] && [ "$(find "$MD/new" -type f | wc -l)" = $((n0 + 1)) ]; then
		check_eq "$what: the file in ~$DUSER/Maildir/new is owned by uid $DUID, mode 0600" \
		    "$DUID $DUID 600" "$(stat -c '%u %g %a' "$f")"
		case " $* " in *" --tls "* | *" --tls-on-connect "*)
			check "$what: Received: says ESMTPS" grep -q 'with ESMTPS' "$f" ;;
		esac
		case " $* " in *" --auth "*)
			check "$what: Received: says ESMTPSA (authenticated)" grep -q 'with ESMTPS\?A ' "$f" ;;
		esac
	else
		fail "$what: one new file with the marker in $MD/new"
	fi
}
# submission_ok WHAT PORT MARKER TLS-ARGS...: role=submission with the real
# password through pam_unix (smtp_ok with AUTH PLAIN), MAIL without AUTH
# refused (530), a wrong password refused (535, swaks exit 28), another
# sender refused (553 5.7.1).
submission_ok() {
	local what=$1 port=$2 mk=$3 out; shift 3
	smtp_ok "$what" "$port" "$mk" "$@" --auth PLAIN --auth-user "$DUSER" \
	    --auth-password "$PASS" --from "$DUSER@deploy.test"
	out=$(timeout 30 swaks -n --server 127.0.0.1 --port "$port" "$@" \
	    --from "$DUSER@deploy.test" --to "$DUSER@deploy.test" 2>&1)
	check_match "$what: MAIL without AUTH refused (530 5.7.0)" '530 5\.7\.0' "$out"
	out=$(timeout 30 swaks -n --server 127.0.0.1 --port "$port" "$@" --auth PLAIN \
	    --auth-user "$DUSER" --auth-password "wrong-$PASS" --from "$DUSER@deploy.test" \
	    --to "$DUSER@deploy.test" 2>&1)
	check_eq "$what: a wrong password is refused (swaks exit 28)" 28 "$?"
	check_match "$what: ... with 535 5.7.8" '535 5\.7\.8' "$out"
	out=$(timeout 30 swaks -n --server 127.0.0.1 --port "$port" "$@" --auth PLAIN \
	    --auth-user "$DUSER" --auth-password "$PASS" --from "someone@deploy.test" \
	    --to "$DUSER@deploy.test" 2>&1)
	check_match "$what: someone else's sender address refused (553 5.7.1)" '553 5\.7\.1' "$out"
}
# pop3_ok WHAT URL MARKER [CURL-ARGS...]: LIST and RETR of every message
# over POP3 with the real password find the marker; a wrong password is
# refused (curl 67).
pop3_ok() {
	local what=$1 url=$2 mk=$3 n i out; shift 3
	n=$(timeout 30 curl -s "$@" -u "$DUSER:$PASS" "$url/" | wc -l)
	out=
	for ((i = 1; i <= n; i++)); do
		out+=$(timeout 30 curl -s "$@" -u "$DUSER:$PASS" "$url/$i" 2>&1)
	done
	check_match "$what: pam_unix accepts the password, RETR finds the message ($n listed)" \
	    "Subject: deploy $mk" "$out"
	timeout 30 curl -s "$@" -u "$DUSER:wrong-$PASS" "$url/" >/dev/null 2>&1
	check_eq "$what: a wrong password is refused (curl exit 67)" 67 "$?"
}
# session_ids WHAT PORT PROG NS: while a client holds a connection open, the
# session process of PROG (in pid namespace NS when given) runs as inetmail
# chrooted in /var/empty, and its monitor as root.
session_ids() {
	local what=$1 port=$2 prog=$3 ns=${4:-} p u r ok=0 mon=0 i banner
	local EMPTY_ID
	EMPTY_ID=$(stat -c %d:%i /var/empty)
	exec 7<>"/dev/tcp/127.0.0.1/$port" || { fail "$what: connect"; return; }
	read -r -t 10 banner <&7
	for ((i = 0; i < 50 && ok == 0; i++)); do
		for p in $(pgrep -x "$prog"); do
			[ -z "$ns" ] || [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
			u=$(awk '/^Uid:/{print $2 ":" $3}' "/proc/$p/status" 2>/dev/null)
			# the root directory by identity, not by name: under
			# inetd's private mount namespace the link reads as a
			# path of that namespace
			r=$(stat -L -c %d:%i "/proc/$p/root/" 2>/dev/null)
			[ "$u" = "$IMUID:$IMUID" ] && [ "$r" = "$EMPTY_ID" ] && ok=1
			[ "$u" = 0:0 ] && mon=1
		done
		[ "$ok" = 1 ] || sleep 0.1
	done
	exec 7>&-
	check_eq "$what: the session runs as inetmail ($IMUID) in /var/empty, the monitor as root" \
	    "1 1 ${banner:0:3}" "$ok $mon ${banner:0:3}"
}

# ---- openbsd-inetd with the shipped inetd.conf lines -----------------------
# Each line (commented-out ones too) with only its first field changed to
# 127.0.0.1:PORT. Lines whose -o keys the programs do not know yet, or that
# need TLS before it exists, are skipped with the reason.
declare -A IPORT
: >"$T/inetd.conf"
while read -r svc rest; do
	read -r -a f <<<"$rest"
	args=("${f[@]:5}")
	if ! why=$(known_opts "${args[@]}"); then
		skip "inetd line $svc" "$why"; continue
	fi
	if [ "$TLS" = 0 ] && [[ " ${args[*]} " == *" tls=implicit "* ]]; then
		skip "inetd line $svc" "no TLS in this build yet"; continue
	fi
	IPORT[$svc]=$(free_port)
	echo "127.0.0.1:${IPORT[$svc]} $rest" >>"$T/inetd.conf"
done < <(sed -n 's/^#\{0,1\}\(smtp\|submission\|submissions\|pop3\|pop3s\)[ \t]\+\(stream.*\)$/\1 \2/p' \
    /usr/local/share/inetmail/inetd.conf)
check_eq "the shipped inetd.conf has the smtp and pop3 lines" "smtp pop3" \
    "$(grep -Eo '^(smtp|pop3)[[:space:]]' /usr/local/share/inetmail/inetd.conf | tr -d ' \t' | tr '\n' ' ' | sed 's/ $//')"
# -E (keep the environment) only for the ASan build's LD_PRELOAD; inetd
# otherwise runs as Debian starts it, laundering the environment. Its own
# /run (PRIVATE_RUN) keeps its pid file off the host's /run/inetd.pid.
iopt=(-d -R 100000)
[ "$LIB_ASAN" = 1 ] && iopt+=(-E)
env -i "${ENVV[@]}" unshare --pid --fork --kill-child --mount --propagation private \
    "${PRIVATE_RUN[@]}" /usr/sbin/inetd "${iopt[@]}" "$T/inetd.conf" \
    >"$T/inetd.log" 2>&1 </dev/null &
PIDS+=($!)
for s in "${!IPORT[@]}"; do
	check "inetd parses and listens for the $s line" wait_port "${IPORT[$s]}"
done
INS=
for ((i = 0; i < 50; i++)); do
	c=$(pgrep -P "${PIDS[0]}" -x inetd) && INS=$(readlink "/proc/$c/ns/pid") && break
	sleep 0.1
done

P=${IPORT[smtp]}
smtp_ok "inetd smtp" "$P" inetd-25
session_ids "inetd smtp" "$P" smtpd "$INS"
if [ "$TLS" = 1 ]; then
	smtp_ok "inetd smtp STARTTLS" "$P" inetd-25tls --tls --tls-verify --tls-ca-path /etc/inetmail/tls/cert.pem
	pop3_ok "inetd pop3 STLS" "pop3://127.0.0.1:${IPORT[pop3]}" inetd-25tls --ssl-reqd "${CURLTLS[@]}"
	[ -n "${IPORT[pop3s]:-}" ] &&
	    pop3_ok "inetd pop3s" "pop3s://127.0.0.1:${IPORT[pop3s]}" inetd-25tls "${CURLTLS[@]}"
else
	pop3_ok "inetd pop3" "pop3://127.0.0.1:${IPORT[pop3]}" inetd-25
fi
session_ids "inetd pop3" "${IPORT[pop3]}" pop3d "$INS"
[ -n "${IPORT[submission]:-}" ] || fail "inetd: the shipped submission line runs"
[ "$TLS" = 0 ] || [ -n "${IPORT[submissions]:-}" ] || fail "inetd: the shipped submissions line runs"
for s in submission submissions; do
	[ -n "${IPORT[$s]:-}" ] || continue
	tl=(); [ "$TLS" = 1 ] && tl=(--tls); [ "$s" = submissions ] && tl=(--tls-on-connect)
	submission_ok "inetd $s" "${IPORT[$s]}" "inetd-$s" "${tl[@]}"
done
# fetchmail with the real password (from ~/.netrc), keeping the mail.
if have fetchmail; then
	mkdir -p "$T/fm" && chmod 700 "$T/fm"
	printf 'machine 127.0.0.1 login %s password %s\n' "$DUSER" "$PASS" >"$T/fm/.netrc"
	chmod 600 "$T/fm/.netrc"
	fmtls=()
	[ "$TLS" = 1 ] && fmtls=(--sslproto 'TLS1.2+' --sslcertck --sslcertfile /etc/inetmail/tls/cert.pem
	    --sslcommonname localhost)
	HOME=$T/fm timeout 60 fetchmail --nosyslog -N -f /dev/null -p POP3 -P "${IPORT[pop3]}" "${fmtls[@]}" \
	    -u "$DUSER" -k --mda "/bin/sh -c 'cat >>$T/fm/mbox'" 127.0.0.1 >"$T/fm/log" 2>&1
	check_match "fetchmail collects with the real password" "deploy inetd-25" "$(cat "$T/fm/mbox" 2>/dev/null; cat "$T/fm/log")"
fi
check_match "maildb ls (installed) lists the messages" "deploy inetd-25" \
    "$(/usr/local/sbin/maildb ls "$DUSER" 2>&1)"
check "maildb verify (installed): the mailbox is clean" /usr/local/sbin/maildb verify "$DUSER"
stop_all

# ---- systemd-socket-activate with the shipped units ------------------------
U=/usr/local/share/inetmail/systemd
if have systemd-analyze; then
	systemd-analyze verify --man=no "$U"/*.socket "$U"/*.service >"$T/verify.out" 2>&1
	check_eq "systemd-analyze verify: the units, without a word" "" "$(cat "$T/verify.out")"
fi
declare -A SPORT
for sock in "$U"/*.socket; do
	name=${sock##*/}; name=${name%.socket}
	svc=$U/$name@.service
	port=$(sed -n 's/^ListenStream=//p' "$sock")
	exe=$(sed -n 's/^ExecStart=[-@:+!]*//p' "$svc")
	grep -qx 'Accept=yes' "$sock" && grep -qx 'StandardInput=socket' "$svc" ||
	    fail "$name: Accept=yes and StandardInput=socket"
	grep -q '^MaxConnections=' "$sock" && grep -q '^MaxConnectionsPerSource=' "$sock" ||
	    fail "$name: MaxConnections= and MaxConnectionsPerSource="
	read -r -a cmd <<<"$exe"
	if ! why=$(known_opts "${cmd[@]}"); then
		skip "unit $name (port $port)" "$why"; continue
	fi
	if [ "$TLS" = 0 ] && [[ " $exe " == *" tls=implicit "* ]]; then
		skip "unit $name" "no TLS in this build yet"; continue
	fi
	# The unit's NoNewPrivileges= and CapabilityBoundingSet=, by setpriv.
	sp=()
	grep -qx 'NoNewPrivileges=yes' "$svc" && sp+=(--no-new-privs)
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$svc")
	if [ -n "$caps" ]; then
		bs=-all
		for c in $caps; do c=${c#CAP_}; bs="$bs,+${c,,}"; done
		sp+=(--bounding-set "$bs")
	fi
	SPORT[$port]=$(free_port)
	setsid env -i "${ENVV[@]}" setpriv "${sp[@]}" systemd-socket-activate --inetd -a \
	    -l "127.0.0.1:${SPORT[$port]}" "${ENVV[@]/#/-E}" "${cmd[@]}" \
	    >>"$T/ssa.$port.log" 2>&1 </dev/null &
	PIDS+=($!)
	check "systemd-socket-activate runs $name's ExecStart= (${sp[*]})" wait_port "${SPORT[$port]}"
done
[ -n "${SPORT[25]:-}" ] && [ -n "${SPORT[110]:-}" ] || fail "units for ports 25 and 110"
smtp_ok "unit smtpd" "${SPORT[25]}" ssa-25
session_ids "unit smtpd" "${SPORT[25]}" smtpd
if [ "$TLS" = 1 ]; then
	pop3_ok "unit pop3d STLS" "pop3://127.0.0.1:${SPORT[110]}" ssa-25 --ssl-reqd "${CURLTLS[@]}"
	[ -n "${SPORT[995]:-}" ] && pop3_ok "unit pop3s" "pop3s://127.0.0.1:${SPORT[995]}" ssa-25 "${CURLTLS[@]}"
else
	pop3_ok "unit pop3d" "pop3://127.0.0.1:${SPORT[110]}" ssa-25
fi
[ -n "${SPORT[587]:-}" ] || fail "the submission unit (port 587) runs"
[ "$TLS" = 0 ] || [ -n "${SPORT[465]:-}" ] || fail "the submissions unit (port 465) runs"
for port in 587 465; do
	[ -n "${SPORT[$port]:-}" ] || continue
	tl=(); [ "$TLS" = 1 ] && tl=(--tls); [ "$port" = 465 ] && tl=(--tls-on-connect)
	submission_ok "unit port $port" "${SPORT[$port]}" "ssa-$port" "${tl[@]}"
done
check_match "maildb ls (installed) lists the message" "deploy ssa-25" \
    "$(/usr/local/sbin/maildb ls "$DUSER" 2>&1)"
stop_all

# ---- APOP and the account's password entry (issue 16) ----------------------
# APOP checks its own secret, and pam_unix's pam_acct_mgmt passes a locked
# password: pop3d must refuse what PASS would (a '!' hash, an expired
# account, a password change due), with the real shadow and pam_unix.
APOPDB=/etc/inetmail/apop.db
printf 'apop-%s\n' "$PASS" | /usr/local/sbin/maildb -o "apop_db=$APOPDB" apop set "$DUSER" >/dev/null 2>&1
check_eq "maildb apop set $DUSER (installed)" "$DUSER" \
    "$(/usr/local/sbin/maildb -o "apop_db=$APOPDB" apop ls 2>&1)"
# apop_login: one APOP login to the installed pop3d on a pipe; its reply
apop_login() {
	env -i "${ENVV[@]}" "$PY" - /usr/local/sbin/pop3d "$APOPDB" "$DUSER" "apop-$PASS" <<'PYEOF' 2>&1
import hashlib, re, subprocess, sys
pop3d, db, user, secret = sys.argv[1:5]
p = subprocess.Popen([pop3d, "-o", "apop=yes", "-o", "apop_db=" + db],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
greet = p.stdout.readline().decode()
ts = re.search(r"<[^>]*>", greet).group(0)
d = hashlib.md5((ts + secret).encode()).hexdigest()
p.stdin.write(("APOP %s %s\r\n" % (user, d)).encode()); p.stdin.flush()
print(p.stdout.readline().decode().rstrip("\r\n"))
p.stdin.write(b"QUIT\r\n"); p.stdin.close()
p.stdout.read(); p.wait(timeout=30)
PYEOF
}
REFUSED="-ERR [AUTH] Authentication failed"
check_match "APOP: the account as it is: accepted" '^\+OK' "$(apop_login)"
passwd -l "$DUSER" >/dev/null 2>&1
check_match "passwd -l: the shadow hash starts with '!'" "^$DUSER:!" "$(grep "^$DUSER:" /etc/shadow)"
check_eq "APOP: a locked account (passwd -l) is refused" "$REFUSED" "$(apop_login)"
passwd -u "$DUSER" >/dev/null 2>&1
check_match "APOP: the same account unlocked (passwd -u): accepted" '^\+OK' "$(apop_login)"
chage -E 0 "$DUSER"
check_eq "APOP: an expired account (chage -E 0) is refused" "$REFUSED" "$(apop_login)"
chage -E -1 "$DUSER"
chage -d 0 "$DUSER"
check_eq "APOP: a password change due (chage -d 0) is refused" "$REFUSED" "$(apop_login)"
chage -d "$(date -u +%F)" -M 30 "$DUSER"
check_match "APOP: changed today, 30 days to go: accepted" '^\+OK' "$(apop_login)"
chage -d "$(date -u -d '40 days ago' +%F)" "$DUSER"
check_eq "APOP: a password older than its maximum age (chage -M 30) is refused" \
    "$REFUSED" "$(apop_login)"
chage -d "$(date -u +%F)" -M -1 "$DUSER"
check_match "APOP: aging off again: accepted" '^\+OK' "$(apop_login)"

# ---- xinetd with the shipped xinetd.d files --------------------------------
# Rewritten for loopback: port, bind, type UNLISTED (the port is not the
# one in /etc/services), no IPv6 flag; disabled TLS services enabled when
# the programs have TLS and know every -o key. Debian's xinetd package
# conflicts with openbsd-inetd, so it is usually absent: XINETD=/path/to/
# a copied binary runs this part anyway.
XINETD=${XINETD:-$(command -v xinetd)}
if [ ! -x "$XINETD" ]; then
	skip "xinetd files" "xinetd is not installed (it conflicts with openbsd-inetd)"
else
	mkdir -p "$T/xinetd.d"
	printf 'defaults\n{\n}\nincludedir %s\n' "$T/xinetd.d" >"$T/xinetd.conf"
	declare -A XPORT
	for f in /usr/local/share/inetmail/xinetd.d/*; do
		n=${f##*/}
		read -r -a a <<<"$(sed -n 's/^[ \t]*server_args[ \t]*= *//p' "$f")"
		if ! why=$(known_opts "${a[@]}"); then skip "xinetd $n" "$why"; continue; fi
		if [ "$TLS" = 0 ] && [[ " ${a[*]} " == *" tls=implicit "* ]]; then
			skip "xinetd $n" "no TLS in this build yet"; continue
		fi
		XPORT[$n]=$(free_port)
		sed -e '/^[ \t]*flags[ \t]*=/d' -e 's/^\([ \t]*disable[ \t]*=\).*/\1 no/' \
		    -e "s/^{/{\n\ttype = UNLISTED\n\tport = ${XPORT[$n]}\n\tbind = 127.0.0.1/" "$f" >"$T/xinetd.d/$n"
	done
	setsid env -i "${ENVV[@]}" "$XINETD" -dontfork -f "$T/xinetd.conf" -pidfile "$T/xinetd.pid" \
	    >"$T/xinetd.log" 2>&1 </dev/null &
	PIDS+=($!)
	for n in "${!XPORT[@]}"; do
		check "xinetd parses and listens for $n" wait_port "${XPORT[$n]}"
	done
	smtp_ok "xinetd smtp" "${XPORT[inetmail-smtp]}" xinetd-25
	tl=(); [ "$TLS" = 1 ] && tl=(--tls)
	[ -n "${XPORT[inetmail-submission]:-}" ] &&
	    submission_ok "xinetd submission" "${XPORT[inetmail-submission]}" xinetd-587 "${tl[@]}"
	[ -n "${XPORT[inetmail-submissions]:-}" ] &&
	    submission_ok "xinetd submissions" "${XPORT[inetmail-submissions]}" xinetd-465 --tls-on-connect
	if [ "$TLS" = 1 ]; then
		pop3_ok "xinetd pop3 STLS" "pop3://127.0.0.1:${XPORT[inetmail-pop3]}" xinetd-25 --ssl-reqd "${CURLTLS[@]}"
		[ -n "${XPORT[inetmail-pop3s]:-}" ] &&
		    pop3_ok "xinetd pop3s" "pop3s://127.0.0.1:${XPORT[inetmail-pop3s]}" xinetd-25 "${CURLTLS[@]}"
	else
		pop3_ok "xinetd pop3" "pop3://127.0.0.1:${XPORT[inetmail-pop3]}" xinetd-25
	fi
	stop_all
fi
if [ "$TESTS_FAILED" != 0 ]; then
	for l in "$T"/inetd.log "$T"/ssa.*.log "$T"/xinetd.log; do
		[ -s "$l" ] || continue
		diag "--- $l"
		grep -Ev '^(Spawned|Execing|Connection from|Communication)' "$l" | tail -n 15 | sed 's/^/#   /'
	done
fi
exit 0
