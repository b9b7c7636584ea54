# Start/stop one inetmail daemon under openbsd-inetd, in a cgroup of the shared
# peer harness (source ../shared/peers/lib.sh first: in_cg, cg_*, wait_port,
# port_free, pid_alive, log, die, $PIDS).  The launcher line is the one
# ../shared/TESTING.md "Launchers" gives: inetd -d -E -R 100000 under
# unshare --pid --fork --kill-child; inetd's children setsid, so the whole
# tree is stopped with KILL of the unshare pid.
#
#   im_inetd_start NAME PORT INETD_CONF LOGFILE
#   im_inetd_stop  NAME
#
# NAME is the cgroup and pid-file name (e.g. inetmailpop3).

im_inetd_start() {
    local name=$1 port=$2 conf=$3 logf=$4
    port_free "$port" || die "port $port busy"
    mkdir -p "$PIDS"
    cg_create "$name"
    # its own mount namespace and /run: inetd's pid file must not land in
    # the host's /run/inetd.pid (Debian's init script would signal pid 1)
    in_cg "$name" "$PIDS/$name.pid" unshare --pid --fork --kill-child --mount \
        --propagation private sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$0" "$@"' \
        /usr/sbin/inetd -d -E -R 100000 "$conf" >"$logf" 2>&1 &
    wait_port "$port" || die "inetd not listening on $port (see $logf)"
    log "$name up (inetd under unshare pid $(cat "$PIDS/$name.pid"), port $port)"
}

im_inetd_stop() {
    local name=$1 p
    p=$(cat "$PIDS/$name.pid" 2>/dev/null)
    if pid_alive "$p"; then
        kill -KILL "$p"; for _ in $(seq 50); do pid_alive "$p" || break; sleep 0.1; done
        log "$name (inetd) stopped"
    fi
    rm -f "$PIDS/$name.pid"
    cg_wait_empty "$name"
}
