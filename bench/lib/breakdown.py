#!/usr/bin/python3
"""Where one inetmail message / session spends its time (bench/run workload 6).

  breakdown.py --cgroup inetmailsmtp --label smtp-conn-per-msg --per 100 \
      --comms smtpd,inetd --out breakdown.jsonl -- smtp-source -s 1 -m 100 ... 127.0.0.1:PORT

Two passes of the same client command against the running daemon (neither
pass is timed as a benchmark; both are diagnostics):

1. strace -f -c -w attached to every process of the daemon's cgroup
   (inetd and everything it forks later): calls and WALL time inside each
   system call, per unit (message or session).  Shows what the process
   model costs in fork/exec/wait and what durability costs in fsync
   (Maildir file + new/) and fdatasync (Berkeley DB log + index).  strace
   slows every call down; the blocking calls (fsync, fdatasync, flock, wait4)
   are the ones to read.
2. perf record -a -g (cpu-clock sampling, all CPUs) during the command;
   every sample of the daemon's processes (--comms: inetd's children are
   "inetd" until they exec) is put into exactly ONE category, by the first
   rule that matches its call chain: fsync/fdatasync, exec, fork, exit,
   mmap, page faults (kernel), then by the DSO of the leaf frame (ld.so =
   dynamic linking, libdb = index, libcrypt = password hash, libpam/pam_*,
   NSS, OpenSSL, libc, the daemon's own code), then socket I/O / other
   kernel.  CPU ms per unit = samples / frequency / units.  CPU of kernel
   threads the work causes elsewhere (jbd2 journal, kworker write-back) is
   reported separately, as is the client's.

One JSON line per call goes to --out: {label, per, strace: {...}, perf: {...}}.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter

KERNEL_RULES = [   # (category, any of these symbols in the chain)
    ("fsync/fdatasync (kernel CPU)", ("__x64_sys_fsync", "__x64_sys_fdatasync", "__x64_sys_sync_file_range")),
    ("exec (kernel)", ("__x64_sys_execve", "do_execveat_common.isra.0", "do_execveat_common", "load_elf_binary")),
    ("fork (kernel)", ("kernel_clone", "copy_process", "ret_from_fork")),
    ("exit + unmap (kernel)", ("do_exit", "do_group_exit", "exit_mmap", "__mmput", "__x64_sys_munmap")),
    ("mmap/mprotect (kernel)", ("__x64_sys_mmap", "__x64_sys_mprotect", "vm_mmap_pgoff")),
    ("page faults (kernel)", ("asm_exc_page_fault",)),
    ("flock (kernel)", ("__x64_sys_flock",)),
    ("socket I/O (kernel)", ("tcp_sendmsg", "tcp_recvmsg", "sock_sendmsg", "sock_recvmsg", "unix_stream_sendmsg",
                             "unix_stream_recvmsg", "__sys_sendmsg", "__sys_recvmsg", "tcp_v4_rcv")),
    ("open/stat/path lookup (kernel)", ("__x64_sys_openat", "__x64_sys_newfstatat", "__x64_sys_statx",
                                        "__x64_sys_access", "__x64_sys_faccessat", "__x64_sys_readlink",
                                        "__x64_sys_rename", "__x64_sys_renameat2", "__x64_sys_link",
                                        "__x64_sys_linkat", "__x64_sys_unlink", "__x64_sys_unlinkat",
                                        "__x64_sys_mkdir", "__x64_sys_getdents64")),
]
DSO_RULES = [      # (category, substring of the leaf frame's DSO path)
    ("dynamic linking (ld.so)", ("ld-linux",)),
    ("Berkeley DB (index)", ("libdb",)),
    ("password hash (libcrypt)", ("libcrypt.so",)),
    ("PAM (libpam, pam_*.so)", ("libpam", "/security/pam_")),
    ("NSS (libnss_*)", ("libnss_", "libsystemd")),
    ("OpenSSL (libssl, libcrypto)", ("libssl", "libcrypto")),
    ("libc", ("libc.so",)),
]


def categorize(comm, frames, daemons):
    """frames: [(sym, dso)] leaf first."""
    syms = {s for s, _d in frames}
    leaf_dso = frames[0][1] if frames else ""
    kernel_leaf = leaf_dso == "[kernel.kallsyms]" or leaf_dso.startswith("[")
    for cat, names in KERNEL_RULES:
        if cat == "page faults (kernel)" and not kernel_leaf:
            continue
        if syms.intersection(names):
            return cat
    if not kernel_leaf:
        for cat, subs in DSO_RULES:
            if any(s in leaf_dso for s in subs):
                return cat
        if any(os.path.basename(leaf_dso) == d for d in daemons):
            return "inetmail code"
        return "other user code"
    return "other kernel"


def perf_pass(cmd, freq, daemons, per, tmpdir):
    data = os.path.join(tmpdir, "perf.data")
    t0 = time.perf_counter()
    rc = subprocess.run(["perf", "record", "-q", "-a", "-g", "-F", str(freq), "-o", data, "--"] + cmd,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - t0
    p = subprocess.Popen(["perf", "script", "-i", data, "-F", "comm,ip,sym,dso"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, errors="replace")
    cats, comms = Counter(), Counter()
    comm, frames = None, []

    def flush():
        if comm is None:
            return
        comms[comm] += 1
        if comm in daemons:
            cats[categorize(comm, frames, daemons)] += 1

    for line in p.stdout:
        if not line.strip():
            continue
        if not line[0].isspace():
            flush()
            comm, frames = line.split()[0] if line.split() else "?", []
            continue
        f = line.strip().split(None, 1)
        if len(f) < 2:
            continue
        rest = f[1]
        i = rest.rfind(" (")
        sym, dso = (rest[:i], rest[i + 2:-1]) if i >= 0 else (rest, "")
        frames.append((sym, dso))
    flush()
    p.wait()
    os.unlink(data)
    ms = lambda n: round(1000.0 * n / freq / per, 3)  # noqa: E731
    by_comm = {}
    for c, n in comms.items():
        k = c
        if c.startswith("jbd2"):
            k = "jbd2 (journal)"
        elif c.startswith("kworker"):
            k = "kworker (write-back etc.)"
        elif c.startswith("swapper"):
            k = "idle"
        by_comm[k] = by_comm.get(k, 0) + n
    total = sum(cats.values())
    return {"client_rc": rc, "wall_s": round(wall, 3), "freq": freq,
            "daemon_cpu_ms_per_unit": ms(total),
            "categories_ms_per_unit": {k: ms(v) for k, v in cats.most_common()},
            "comm_ms_per_unit": {k: ms(v) for k, v in sorted(by_comm.items(), key=lambda x: -x[1])[:12]}}


def strace_pass(cmd, pids, per, tmpdir):
    out = os.path.join(tmpdir, "strace.txt")
    st = subprocess.Popen(["strace", "-qq", "-f", "-c", "-w", "-o", out] + sum([["-p", str(p)] for p in pids], []),
                          stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    time.sleep(1.0)
    st.send_signal(signal.SIGINT)
    try:
        st.wait(timeout=30)
    except subprocess.TimeoutExpired:
        st.kill()
        st.wait()
    calls = {}
    for line in open(out):
        f = line.split()
        if len(f) < 5 or not f[0][0].isdigit():
            continue
        try:
            calls[f[-1]] = {"calls": round(int(f[3]) / per, 2), "wall_ms": round(1000 * float(f[1]) / per, 3)}
        except ValueError:
            pass
    os.unlink(out)
    return {"client_rc": rc, "per_unit": calls}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cgroup", required=True, help="cgroup name under PB_CGROUP (the daemon's tree)")
    ap.add_argument("--peers-dir", default="/work/shared/peers")
    ap.add_argument("--label", required=True)
    ap.add_argument("--per", type=int, required=True)
    ap.add_argument("--comms", required=True, help="comma list: process names of the daemon's tree")
    ap.add_argument("--freq", type=int, default=1999)
    ap.add_argument("--no-perf", action="store_true")
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    sys.path.insert(0, a.peers_dir)
    import benchlib as bl  # noqa: E402
    pids = bl.Cgroup(a.cgroup).procs()
    if not pids:
        sys.exit("no processes in cgroup " + a.cgroup)
    daemons = set(a.comms.split(","))
    res = {"label": a.label, "per": a.per, "cgroup": a.cgroup, "cmd": " ".join(cmd),
           "ts": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="inetmail-breakdown-") as td:
        if not a.no_strace:
            res["strace"] = strace_pass(cmd, pids, a.per, td)
        if not a.no_perf and subprocess.run(["sh", "-c", "command -v perf"], stdout=subprocess.DEVNULL).returncode == 0:
            time.sleep(0.5)
            res["perf"] = perf_pass(cmd, a.freq, daemons, a.per, td)
    bl.dump(a.out, res)
    s = res.get("strace", {}).get("per_unit", {})
    show = {k: s[k] for k in ("fsync", "fdatasync", "execve", "clone", "clone3", "wait4", "flock") if k in s}
    print(f"{a.label}: strace per unit {show}")
    if "perf" in res:
        print(f"{a.label}: perf daemon CPU {res['perf']['daemon_cpu_ms_per_unit']} ms/unit: "
              f"{res['perf']['categories_ms_per_unit']}")


if __name__ == "__main__":
    main()
