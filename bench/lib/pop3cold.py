#!/usr/bin/python3
"""First POP3 session on a freshly written mailbox, repeated (bench/run-pop3-big).

The shared harness's `pop3bench.py fixture` runs mkmail.py and then ONE cold
session per peer.  Here every repetition first puts a fresh copy of the
mailbox in place for the peers that keep an index in it (Dovecot, inetmail),
then times one login+STAT+QUIT per peer (the session that moves new/ -> cur/
and builds the index), and directly after it a second one (index present but
just written).  The peers run interleaved within a repetition.

  pop3cold.py --peers-dir /work/shared/peers --pristine /home/benchu/.pristine \
      --peer dovecot:30110:/home/benchu/Maildir --peer popa3d:30111 \
      --peer inetmailpop3:30113:/home/benchu/Maildir-inetmail \
      --reps 3 --out cold.jsonl --tag "N100000x2k hash=sha512"

NAME:PORT[:DIR]: NAME is the peer's cgroup (CPU of its whole process tree);
DIR, if given, is replaced before each repetition by `cp -al PRISTINE DIR`
(hard links: same files, same page cache, new directories, no index).
Rows are appended to --out with the harness's fields (pop3load.run_latency,
server_cpu_s from the cgroup) plus phase, rep, reset_s.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time
from types import SimpleNamespace


def stat_of(pop3load, port):
    """The STAT reply ("count octets") of one more session (not timed)."""
    c = pop3load.RawPop3("127.0.0.1", port)
    try:
        c.cmd(b"USER benchu")
        c.cmd(b"PASS benchpw")
        st = c.cmd(b"STAT").decode().split()[1:3]
        c.cmd(b"QUIT")
    finally:
        c.close()
    return " ".join(st)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers-dir", default="/work/shared/peers")
    ap.add_argument("--pristine", required=True)
    ap.add_argument("--peer", action="append", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", default="")
    ap.add_argument("--count", type=int)
    args = ap.parse_args()
    sys.path.insert(0, args.peers_dir)
    import benchlib as bl  # noqa: E402  (the harness's own helpers)
    import pop3bench  # noqa: E402
    import pop3load  # noqa: E402

    peers = []
    for s in args.peer:
        f = s.split(":", 2)
        peers.append((f[0], int(f[1]), f[2] if len(f) > 2 else None))
    em = SimpleNamespace(out=args.out, tag=args.tag)
    for rep in range(1, args.reps + 1):
        for name, port, reset in peers:
            reset_s = None
            if reset:
                t = time.perf_counter()
                shutil.rmtree(reset, ignore_errors=True)
                subprocess.run(["cp", "-a", "-l", args.pristine, reset], check=True)
                reset_s = time.perf_counter() - t
            bl.sync()
            time.sleep(args.settle)
            for phase in ("cold-first-session", "second-session"):
                try:
                    r = pop3bench.measured(name, pop3load.run_latency, pop3bench.lopts(port, cmd="STAT"))
                    r["stat"] = stat_of(pop3load, port) if phase == "second-session" else None
                except Exception as e:  # noqa: BLE001 - record and go on
                    r = {"mode": "latency", "cmd": "STAT", "error": repr(e)[:200]}
                pop3bench.emit(em, r, name, phase=phase, rep=rep, count=args.count, reset_s=reset_s)


if __name__ == "__main__":
    main()
