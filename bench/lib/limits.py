#!/usr/bin/python3
"""Physical limits of this machine for the bench/run workloads (issue 9).

  limits.py fsync    --dir DIR --seconds S --max N --out F   durable writes/s of the disk
  limits.py forkexec --bin FORKEXEC --seconds S --max N --prog NAME PATH [ARGS] --out F
  limits.py hash     --user U --password P --label sha512 --reps N --out F

fsync: in a fresh temporary directory under DIR (same file system as the
mailboxes) it times, each for at most S seconds and N iterations:
  rewrite  - pwrite 4 KiB at offset 0 of one file + fsync (the disk's flush rate)
  maildir  - what a Maildir delivery must do at least: create tmp/N (O_EXCL),
             write 4 KiB, fsync, link to new/N, unlink tmp/N, fsync new/
             (2 fsyncs per message, no index, no process);
  maildir4 - the same from 4 threads at once (journal commits are shared:
             the ceiling for concurrent sessions).
forkexec: runs the compiled bench/lib/forkexec.c loop for PATH ARGS.
hash:     the cost of one crypt(3) of the user's password with the hash that
          is in /etc/shadow now (bench/run sets sha512 / yescrypt first).
Each prints and appends one JSON line {kind, label, ...} to --out.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)


def dump(out, obj):
    obj["ts"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(out, "a") as f:
        f.write(json.dumps(obj, sort_keys=True) + "\n")
    print(json.dumps(obj, sort_keys=True), flush=True)


def fsync_rewrite(d, secs, mx):
    fd = os.open(os.path.join(d, "rewrite"), os.O_RDWR | os.O_CREAT, 0o600)
    buf = b"x" * 4096
    os.pwrite(fd, buf, 0)
    os.fsync(fd)
    n, lat = 0, []
    t0 = time.perf_counter()
    t = t0
    while t - t0 < secs and n < mx:
        os.pwrite(fd, buf, 0)
        a = time.perf_counter()
        os.fsync(fd)
        t = time.perf_counter()
        lat.append(t - a)
        n += 1
    os.close(fd)
    return n, t - t0, lat


def maildir_loop(d, tag, secs, mx, res):
    tmp, new = os.path.join(d, "tmp"), os.path.join(d, "new")
    dfd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
    buf = b"y" * 4096
    n, lat = 0, []
    t0 = time.perf_counter()
    t = t0
    while t - t0 < secs and n < mx:
        a = time.perf_counter()
        name = f"{tag}.{n}"
        fd = os.open(os.path.join(tmp, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, buf)
        os.fsync(fd)
        os.close(fd)
        os.link(os.path.join(tmp, name), os.path.join(new, name))
        os.unlink(os.path.join(tmp, name))
        os.fsync(dfd)
        t = time.perf_counter()
        lat.append(t - a)
        n += 1
    os.close(dfd)
    res.append((n, t - t0, lat))


def maildir(d, threads, secs, mx):
    for sub in ("tmp", "new"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    res = []
    ths = [threading.Thread(target=maildir_loop, args=(d, i, secs, mx // threads, res)) for i in range(threads)]
    t0 = time.perf_counter()
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    wall = time.perf_counter() - t0
    n = sum(r[0] for r in res)
    lat = [x for r in res for x in r[2]]
    shutil.rmtree(os.path.join(d, "new"))
    shutil.rmtree(os.path.join(d, "tmp"))
    return n, wall, lat


def cmd_fsync(a):
    d = tempfile.mkdtemp(prefix=".inetmail-bench-fsync-", dir=a.dir)
    try:
        fs = subprocess.run(["findmnt", "-no", "FSTYPE,SOURCE,OPTIONS", "-T", d],
                            capture_output=True, text=True).stdout.strip()
        for label, fn in (("rewrite", lambda: fsync_rewrite(d, a.seconds, a.max)),
                          ("maildir", lambda: maildir(d, 1, a.seconds, a.max)),
                          ("maildir4", lambda: maildir(d, 4, a.seconds, a.max))):
            n, wall, lat = fn()
            dump(a.out, {"kind": "fsync", "label": label, "ops": n, "seconds": round(wall, 4),
                         "per_s": round(n / wall, 1), "median_ms": round(1000 * statistics.median(lat), 3),
                         "fs": fs})
    finally:
        shutil.rmtree(d, ignore_errors=True)


def cmd_forkexec(a):
    r = subprocess.run([a.bin, str(a.seconds), str(a.max)] + a.prog[1:], capture_output=True, text=True)
    o = json.loads(r.stdout)
    o.update(kind="forkexec", label=a.prog[0], argv=" ".join(a.prog[1:]))
    dump(a.out, o)


def cmd_hash(a):
    import crypt
    import spwd
    h = spwd.getspnam(a.user).sp_pwdp
    assert crypt.crypt(a.password, h) == h, "password does not match /etc/shadow"
    lat = []
    t_end = time.perf_counter() + a.seconds
    for _ in range(a.reps):
        t = time.perf_counter()
        crypt.crypt(a.password, h)
        lat.append(time.perf_counter() - t)
        if time.perf_counter() > t_end:
            break
    med = statistics.median(lat)
    dump(a.out, {"kind": "hash", "label": a.label, "prefix": "$".join(h.split("$")[:2]) + "$",
                 "n": len(lat), "median_ms": round(1000 * med, 3), "per_s": round(1 / med, 1)})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["fsync", "forkexec", "hash"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--max", type=int, default=20000)
    ap.add_argument("--bin")
    ap.add_argument("--prog", nargs=argparse.REMAINDER)
    ap.add_argument("--user", default="benchu")
    ap.add_argument("--password", default="benchpw")
    ap.add_argument("--label", default="")
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    {"fsync": cmd_fsync, "forkexec": cmd_forkexec, "hash": cmd_hash}[a.what](a)


if __name__ == "__main__":
    main()
